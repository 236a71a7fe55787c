package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/memlab/memlab/labs/kernel/cgroup"
	"github.com/memlab/memlab/labs/kernel/nonce"
	"github.com/memlab/memlab/labs/kernel/proc"
)

// Options describe a lab container: the article's `docker run -itd -m 128m
// stress:16.04`, with no network and memlab's labels.
type Options struct {
	Image string // default DefaultImage
	// Memory is -m in bytes; MemorySwap is --memory-swap: 0 leaves the
	// engine's default (twice Memory where the kernel accounts swap).
	Memory, MemorySwap int64
	Name               string   // a prefix: the container is named <Name>-<pid>-<nonce>
	Cmd                []string // nil: the image's CMD
	// WarmImage reads the image's files from the host before the container
	// starts (see Container.WarmImage).
	WarmImage bool
	// Interactive is docker run's -it: a terminal, and stdin kept open, so
	// that a shell as the container's command waits for input, as the
	// article's `docker run -itd ... bash` did, instead of exiting at once.
	Interactive bool
}

// Container is one container the engine knows, as memlab last read it.
type Container struct {
	e          *Engine
	ID, Name   string
	InitPID    int    // host PID of the container's PID 1; 0 when it is not running
	Memory     int64  // HostConfig.Memory, as the engine recorded it
	MemorySwap int64  // HostConfig.MemorySwap, after the engine's defaults
	Status     string // running, exited, ...
	graph      map[string]string
	graphName  string
	sessions   []io.Closer // terminals of ExecInteractive, hung up by Remove
}

// removeTimeout bounds a removal, which must finish even when the caller's
// context was cancelled by Ctrl-C.
const removeTimeout = 30 * time.Second

// Start creates and starts a labelled container. Whatever goes wrong after
// the engine may have created it (a cancelled context included), Start
// removes it again before returning the error; on success the caller owns
// it and must Remove it (and register that at once).
func (e *Engine) Start(ctx context.Context, o Options) (*Container, error) {
	if o.Image == "" {
		o.Image = DefaultImage
	}
	prefix := o.Name
	if prefix == "" {
		prefix = "memlab"
	}
	name := fmt.Sprintf("%s-%d-%s", prefix, os.Getpid(), nonce.Hex(3)) // never waits on the entropy pool
	cfg := &container.Config{
		Image: o.Image, Cmd: o.Cmd,
		Labels: map[string]string{LabelLab: "1", LabelRun: e.run.String()},
		Tty:    o.Interactive, OpenStdin: o.Interactive,
	}
	host := &container.HostConfig{
		NetworkMode: "none",
		Resources:   container.Resources{Memory: o.Memory, MemorySwap: o.MemorySwap},
	}
	created, err := e.API.ContainerCreate(ctx, cfg, host, nil, nil, name)
	if err != nil {
		// The engine may have made it before the request was cut off.
		e.removeQuietly(name)
		return nil, fmt.Errorf("creating container %s: %w", name, err)
	}
	c := &Container{e: e, ID: created.ID, Name: name}
	if o.WarmImage {
		err := c.Refresh(ctx)
		if err == nil {
			_, err = c.WarmImage(ctx)
		}
		if err != nil {
			e.removeQuietly(c.ID)
			return nil, err
		}
	}
	if err := e.API.ContainerStart(ctx, c.ID, container.StartOptions{}); err != nil {
		e.removeQuietly(c.ID)
		return nil, fmt.Errorf("starting container %s: %w", name, err)
	}
	if err := c.Refresh(ctx); err != nil {
		e.removeQuietly(c.ID)
		return nil, err
	}
	if c.InitPID == 0 {
		e.removeQuietly(c.ID)
		return nil, fmt.Errorf("container %s stopped at once (status %s)", name, c.Status)
	}
	return c, nil
}

func (e *Engine) removeQuietly(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), removeTimeout)
	defer cancel()
	_ = e.remove(ctx, id)
}

// Lookup finds a container by ID, ID prefix or name: ErrNoContainer if the
// engine knows none.
func (e *Engine) Lookup(ctx context.Context, ref string) (*Container, error) {
	c := &Container{e: e, ID: ref}
	if err := c.Refresh(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// Refresh re-reads the container's state from the engine.
func (c *Container) Refresh(ctx context.Context) error {
	in, err := c.e.API.ContainerInspect(ctx, c.ID)
	switch {
	case cerrdefs.IsNotFound(err):
		return fmt.Errorf("%w: %s", ErrNoContainer, c.ID)
	case cerrdefs.IsInvalidArgument(err) || cerrdefs.IsConflict(err):
		return fmt.Errorf("%w: %s: %s", ErrNoContainer, c.ID, oneLine(err))
	case err != nil && strings.Contains(err.Error(), "Multiple IDs found"): // engines before 23 answer 500
		return fmt.Errorf("%w: %q is the prefix of several container IDs; give more of it", ErrNoContainer, c.ID)
	case err != nil:
		return fmt.Errorf("inspecting container %s: %w", c.ID, err)
	}
	c.ID, c.Name = in.ID, strings.TrimPrefix(in.Name, "/")
	if in.State != nil {
		c.Status, c.InitPID = in.State.Status, in.State.Pid
		if !in.State.Running {
			c.InitPID = 0
		}
	}
	if in.HostConfig != nil {
		c.Memory, c.MemorySwap = in.HostConfig.Memory, in.HostConfig.MemorySwap
	}
	c.graphName, c.graph = in.GraphDriver.Name, in.GraphDriver.Data
	return nil
}

// Short is the 12-character ID docker ps shows.
func (c *Container) Short() string { return short(c.ID) }

// Remove force-removes the container (SIGKILL to everything in it). It
// ignores ctx's cancellation, so a cleanup after Ctrl-C still removes it.
func (c *Container) Remove() error {
	ctx, cancel := context.WithTimeout(context.Background(), removeTimeout)
	defer cancel()
	err := c.e.remove(ctx, c.ID)
	for _, s := range c.sessions {
		s.Close()
	}
	c.sessions = nil
	return err
}

// Exec is a process started in the container with docker exec.
type Exec struct {
	ID  string // exec ID
	PID int    // host PID
}

// ExecDetached is `docker exec -d`: it starts cmd in the container and
// returns once it runs, with its host PID.
func (c *Container) ExecDetached(ctx context.Context, cmd ...string) (Exec, error) {
	created, err := c.e.API.ContainerExecCreate(ctx, c.ID, container.ExecOptions{Cmd: cmd})
	if err != nil {
		return Exec{}, fmt.Errorf("exec %q in %s: %w", cmd, c.Short(), err)
	}
	if err := c.e.API.ContainerExecStart(ctx, created.ID, container.ExecStartOptions{Detach: true}); err != nil {
		return Exec{}, fmt.Errorf("exec %q in %s: %w", cmd, c.Short(), err)
	}
	for {
		in, err := c.e.API.ContainerExecInspect(ctx, created.ID)
		if err != nil {
			return Exec{}, fmt.Errorf("exec %q in %s: %w", cmd, c.Short(), err)
		}
		if in.Pid != 0 {
			if !in.Running {
				return Exec{}, fmt.Errorf("exec %q in %s exited at once with status %d", cmd, c.Short(), in.ExitCode)
			}
			return Exec{ID: created.ID, PID: in.Pid}, nil
		}
		select {
		case <-ctx.Done():
			return Exec{}, fmt.Errorf("exec %q in %s: %w", cmd, c.Short(), ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// ExecResult is how a command run to completion in the container ended.
type ExecResult struct {
	ExitCode int
	Output   string // stdout and stderr, interleaved as received
}

// Run is `docker exec` without -d: it runs cmd in the container to the end.
func (c *Container) Run(ctx context.Context, cmd ...string) (ExecResult, error) {
	created, err := c.e.API.ContainerExecCreate(ctx, c.ID, container.ExecOptions{
		Cmd: cmd, AttachStdout: true, AttachStderr: true,
	})
	if err != nil {
		return ExecResult{}, fmt.Errorf("exec %q in %s: %w", cmd, c.Short(), err)
	}
	att, err := c.e.API.ContainerExecAttach(ctx, created.ID, container.ExecAttachOptions{})
	if err != nil {
		return ExecResult{}, fmt.Errorf("exec %q in %s: %w", cmd, c.Short(), err)
	}
	defer att.Close()
	var out bytes.Buffer
	copied := make(chan error, 1)
	go func() { _, err := stdcopy.StdCopy(&out, &out, att.Reader); copied <- err }()
	select {
	case err = <-copied:
	case <-ctx.Done():
		return ExecResult{}, fmt.Errorf("exec %q in %s: %w", cmd, c.Short(), ctx.Err())
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return ExecResult{}, fmt.Errorf("exec %q in %s: reading output: %w", cmd, c.Short(), err)
	}
	// The stream ends a moment before the engine records the exit status.
	for {
		in, err := c.e.API.ContainerExecInspect(ctx, created.ID)
		if err != nil {
			return ExecResult{}, fmt.Errorf("exec %q in %s: %w", cmd, c.Short(), err)
		}
		if !in.Running {
			return ExecResult{ExitCode: in.ExitCode, Output: out.String()}, nil
		}
		select {
		case <-ctx.Done():
			return ExecResult{}, fmt.Errorf("exec %q in %s: %w", cmd, c.Short(), ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// Stress starts the article's workload, `stress --vm-bytes SIZE --vm-keep
// -m 1`, detached, and waits until its worker holds at least want bytes
// resident. It returns stress's master and its worker (host PIDs).
func (c *Container) Stress(ctx context.Context, size string, want int64) (master, worker proc.Process, err error) {
	ex, err := c.ExecDetached(ctx, stressCommand(size)...)
	if err != nil {
		return master, worker, err
	}
	return c.awaitStress(ctx, ex.PID, size, want)
}

// StressFromShell runs the workload as the article did: `docker exec -it
// ID SHELL`, then stress typed at that shell's prompt, so the shell stays
// in the container as stress's parent. It waits until the worker holds
// want bytes and returns the shell, stress's master and its worker.
func (c *Container) StressFromShell(ctx context.Context, shell, size string, want int64) (sh, master, worker proc.Process, err error) {
	ex, err := c.ExecInteractive(ctx, strings.Join(stressCommand(size), " ")+"\n", shell)
	if err != nil {
		return sh, master, worker, err
	}
	tree, err := proc.Tree(ex.PID)
	if err != nil {
		return sh, master, worker, fmt.Errorf("%s in %s: %w", shell, c.Short(), err)
	}
	sh = tree[0]
	master, worker, err = c.awaitStress(ctx, ex.PID, size, want)
	return sh, master, worker, err
}

func stressCommand(size string) []string {
	return []string{"stress", "--vm-bytes", size, "--vm-keep", "-m", "1"}
}

// awaitStress waits under pid for a worker holding want bytes and returns
// it with stress's master, its parent.
func (c *Container) awaitStress(ctx context.Context, pid int, size string, want int64) (master, worker proc.Process, err error) {
	worker, err = WaitResident(ctx, pid, want)
	if err != nil {
		return master, worker, fmt.Errorf("stress %s in %s: %w", size, c.Short(), err)
	}
	tree, err := proc.Tree(pid)
	if err != nil {
		return master, worker, err
	}
	for _, p := range tree {
		if p.PID == worker.PPID {
			return p, worker, nil
		}
	}
	return master, worker, fmt.Errorf("stress %s in %s: the worker's parent %d is gone", size, c.Short(), worker.PPID)
}

// ExecInteractive is `docker exec -it`: it starts cmd in the container on
// a terminal, types input at it and returns once cmd runs, with its host
// PID. The terminal stays open, as the article's did, until Remove.
func (c *Container) ExecInteractive(ctx context.Context, input string, cmd ...string) (Exec, error) {
	created, err := c.e.API.ContainerExecCreate(ctx, c.ID, container.ExecOptions{
		Cmd: cmd, Tty: true, AttachStdin: true, AttachStdout: true, AttachStderr: true,
	})
	if err != nil {
		return Exec{}, fmt.Errorf("exec -it %q in %s: %w", cmd, c.Short(), err)
	}
	att, err := c.e.API.ContainerExecAttach(ctx, created.ID, container.ExecAttachOptions{Tty: true})
	if err != nil {
		return Exec{}, fmt.Errorf("exec -it %q in %s: %w", cmd, c.Short(), err)
	}
	c.sessions = append(c.sessions, att.Conn)
	go func() { _, _ = io.Copy(io.Discard, att.Reader) }() // what the terminal prints; a full one would block cmd
	if _, err := io.WriteString(att.Conn, input); err != nil {
		return Exec{}, fmt.Errorf("exec -it %q in %s: typing: %w", cmd, c.Short(), err)
	}
	for {
		in, err := c.e.API.ContainerExecInspect(ctx, created.ID)
		if err != nil {
			return Exec{}, fmt.Errorf("exec -it %q in %s: %w", cmd, c.Short(), err)
		}
		if in.Pid != 0 {
			if !in.Running {
				return Exec{}, fmt.Errorf("exec -it %q in %s exited at once with status %d", cmd, c.Short(), in.ExitCode)
			}
			return Exec{ID: created.ID, PID: in.Pid}, nil
		}
		select {
		case <-ctx.Done():
			return Exec{}, fmt.Errorf("exec -it %q in %s: %w", cmd, c.Short(), ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// WaitResident polls until pid or one of its descendants holds at least
// want bytes resident (top's RES), and returns that process. It fails at
// once if pid exits: a worker killed on the way is not waited for.
func WaitResident(ctx context.Context, pid int, want int64) (proc.Process, error) {
	var last int64
	for {
		tree, err := proc.Tree(pid)
		if err != nil {
			return proc.Process{}, fmt.Errorf("process %d ended before holding %d bytes: %w", pid, want, err)
		}
		for _, p := range tree {
			res, err := proc.ResidentBytes(p.PID)
			if err == nil && res >= want {
				return p, nil
			}
			last = max(last, res)
		}
		select {
		case <-ctx.Done():
			return proc.Process{}, fmt.Errorf("no process under %d holds %d bytes (largest RES %d): %w", pid, want, last, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TopProcess is one row of `docker top`: a host PID and its parent.
type TopProcess struct {
	PID, PPID int
	Cmd       string
}

// Top is `docker top`: the container's processes as the engine lists them
// (it runs ps on the host over the container's cgroup), with host PIDs.
func (c *Container) Top(ctx context.Context) ([]TopProcess, error) {
	t, err := c.e.API.ContainerTop(ctx, c.ID, nil)
	if err != nil {
		return nil, fmt.Errorf("top of %s: %w", c.Short(), err)
	}
	col := map[string]int{}
	for i, title := range t.Titles {
		col[title] = i
	}
	pidCol, ok1 := col["PID"]
	ppidCol, ok2 := col["PPID"]
	cmdCol, ok3 := col["CMD"]
	if !ok1 || !ok2 || !ok3 {
		return nil, fmt.Errorf("top of %s: no PID, PPID and CMD columns in %q", c.Short(), t.Titles)
	}
	var out []TopProcess
	for _, row := range t.Processes {
		if len(row) < len(t.Titles) {
			return nil, fmt.Errorf("top of %s: short row %q", c.Short(), row)
		}
		pid, err1 := strconv.Atoi(row[pidCol])
		ppid, err2 := strconv.Atoi(row[ppidCol])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("top of %s: bad row %q", c.Short(), row)
		}
		out = append(out, TopProcess{PID: pid, PPID: ppid, Cmd: row[cmdCol]})
	}
	return out, nil
}

// PIDs are the host PIDs `docker top` lists.
func (c *Container) PIDs(ctx context.Context) ([]int, error) {
	top, err := c.Top(ctx)
	if err != nil {
		return nil, err
	}
	pids := make([]int, len(top))
	for i, p := range top {
		pids[i] = p.PID
	}
	return pids, nil
}

// Cgroup finds the container's memory cgroup on this host, from its init
// PID's /proc/PID/cgroup and by searching the memory hierarchy for its ID.
func (c *Container) Cgroup(l cgroup.Layout) (Location, error) {
	if c.InitPID == 0 {
		return Location{}, fmt.Errorf("%w: %s (%s) has no processes, so no cgroup", ErrNotRunning, c.Short(), c.Status)
	}
	return Host{Layout: l, Proc: "/proc"}.Find(c.ID, c.InitPID)
}

// WarmImage reads the files of the container's image layers once from the
// host, so their page cache is charged to the reader's cgroup, not the
// container's: the container then starts as on a host that has run the
// image before (the article's), whatever the page cache held. Only for
// overlay2, the default storage driver; elsewhere it does nothing. It
// returns the bytes read.
func (c *Container) WarmImage(ctx context.Context) (int64, error) {
	if c.graphName != "overlay2" {
		return 0, nil
	}
	var total int64
	for dir := range strings.SplitSeq(c.graph["LowerDir"], ":") {
		if dir == "" {
			continue
		}
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if !d.Type().IsRegular() {
				return nil
			}
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			n, err := io.Copy(io.Discard, f)
			f.Close()
			total += n
			return err
		})
		if err != nil {
			return total, fmt.Errorf("reading the image layers of %s: %w", c.Short(), err)
		}
	}
	return total, nil
}
