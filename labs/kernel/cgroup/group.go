package cgroup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/memlab/memlab/labs/kernel/nonce"
	"github.com/memlab/memlab/labs/kernel/proc"
)

// LabParent is the one directory under the memory hierarchy that holds every
// group memlab makes, so a sweep can find what a killed run left behind.
const LabParent = "memlab"

// ErrBadName: a group name that could escape the lab parent or is not a plain word.
var ErrBadName = errors.New("bad cgroup name")

var nameSyntax = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,47}$`)

// ValidateName accepts a plain name: no "/", no "..", nothing hidden.
func ValidateName(name string) error {
	if strings.Contains(name, "/") || strings.Contains(name, "..") || !nameSyntax.MatchString(name) {
		return fmt.Errorf("%w %q: use letters, digits, '.', '_' and '-' (no '/' or '..'), at most 48", ErrBadName, name)
	}
	return nil
}

// Group is one memory cgroup memlab made.
type Group struct {
	Layout Layout
	Files  Files
	Name   string // relative to the memory root, e.g. memlab/g5-1234.56789-9f3a2b
	Path   string // absolute directory
}

// Create makes a uniquely named group under the lab parent,
// NAME-PID.STARTTIME-NONCE. The middle is the creating run's proc.RunID, so
// Sweep can tell a live run's group from a killed run's leftovers even once
// the PID has been reused, and two runs can go at once; the nonce keeps one
// run's groups of the same name apart.
func Create(l Layout, name string) (*Group, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	run, err := proc.Current()
	if err != nil {
		return nil, err
	}
	parent := filepath.Join(l.MemoryRoot, LabParent)
	// Never crypto/rand: naming a group must not wait on the entropy pool.
	leaf := fmt.Sprintf("%s-%s-%s", name, run, nonce.Hex(3))
	g := &Group{Layout: l, Files: FilesFor(l.Version), Name: filepath.Join(LabParent, leaf), Path: filepath.Join(parent, leaf)}
	// A concurrent run may remove an empty lab parent between our mkdirs; retry.
	for attempt := 0; ; attempt++ {
		err := g.makeDirs(parent)
		if err == nil {
			return g, nil
		}
		if !errors.Is(err, os.ErrNotExist) || attempt == 3 {
			return nil, fmt.Errorf("creating cgroup %s: %w", g.Path, err)
		}
	}
}

func (g *Group) makeDirs(parent string) error {
	if err := os.Mkdir(parent, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	if g.Layout.Version == 2 {
		// v2 hands a controller to children only through subtree_control, level by level.
		if err := enableMemory(g.Layout.MemoryRoot); err != nil {
			return err
		}
		if err := enableMemory(parent); err != nil {
			return err
		}
	}
	return os.Mkdir(g.Path, 0o755)
}

func enableMemory(dir string) error {
	cur, err := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control"))
	if err != nil {
		return err
	}
	if hasWord(string(cur), "memory") {
		return nil
	}
	return os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte("+memory"), 0)
}

// ReadFile reads one interface file raw, trimmed, for the claims that teach it.
func (g *Group) ReadFile(name string) (string, error) {
	b, err := os.ReadFile(filepath.Join(g.Path, name))
	return strings.TrimSpace(string(b)), err
}

// WriteFile writes one interface file raw: exactly what `echo -n value > file` does.
func (g *Group) WriteFile(name, value string) error {
	f, err := os.OpenFile(filepath.Join(g.Path, name), os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, werr := f.Write([]byte(value))
	cerr := f.Close()
	if werr != nil {
		return fmt.Errorf("writing %q to %s: %w", value, name, werr)
	}
	return cerr
}

// HasFile says whether the kernel exposes an interface file in this group.
func (g *Group) HasFile(name string) bool {
	_, err := os.Stat(filepath.Join(g.Path, name))
	return err == nil
}

// SetLimit sets the memory limit in bytes.
func (g *Group) SetLimit(bytes int64) error {
	return g.WriteFile(g.Files.Limit, strconv.FormatInt(bytes, 10))
}

// DisableSwap keeps the group from swapping, so a limit means what the
// article means on a swapless host: v1 caps memory+swap at the memory limit,
// v2 sets swap to zero. Kernels without swap accounting lack the file; then
// there is nothing to disable.
func (g *Group) DisableSwap(limit int64) error {
	if !g.HasFile(g.Files.SwapLimit) {
		return nil
	}
	v := "0"
	if g.Layout.Version == 1 {
		v = strconv.FormatInt(limit, 10)
	}
	return g.WriteFile(g.Files.SwapLimit, v)
}

func (g *Group) value(file string) (int64, error) {
	s, err := g.ReadFile(file)
	if err != nil {
		return 0, err
	}
	return ParseValue(s)
}

// Limit reads the limit in bytes (Unlimited for "max").
func (g *Group) Limit() (int64, error) { return g.value(g.Files.Limit) }

// Usage reads current usage in bytes.
func (g *Group) Usage() (int64, error) { return g.value(g.Files.Usage) }

// Peak reads the highest usage seen. v2 has memory.peak only from 5.19 on.
func (g *Group) Peak() (int64, error) { return g.value(g.Files.Peak) }

// Failcnt counts how often usage hit the limit.
func (g *Group) Failcnt() (int64, error) {
	if g.Layout.Version == 1 {
		return g.value(g.Files.Failcnt)
	}
	ev, err := g.Events()
	if err != nil {
		return 0, err
	}
	n, _ := ev.LimitHits()
	return n, nil
}

// Stat reads memory.stat.
func (g *Group) Stat() (Stat, error) {
	s, err := g.ReadFile(g.Files.Stat)
	if err != nil {
		return Stat{}, err
	}
	kv, err := ParseKeyValues(s)
	return Stat{KeyValues: kv, Version: g.Layout.Version}, err
}

// Events reads memory.oom_control (v1) or memory.events (v2).
func (g *Group) Events() (Events, error) {
	s, err := g.ReadFile(g.Files.Events)
	if err != nil {
		return Events{}, err
	}
	kv, err := ParseKeyValues(s)
	return Events{KeyValues: kv, Version: g.Layout.Version}, err
}

// Procs lists the PIDs in cgroup.procs.
func (g *Group) Procs() ([]int, error) { return g.ids(g.Files.Procs) }

// Threads lists the thread IDs in tasks (v1) or cgroup.threads (v2).
func (g *Group) Threads() ([]int, error) { return g.ids(g.Files.Threads) }

func (g *Group) ids(file string) ([]int, error) {
	s, err := g.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return ParseIDs(s)
}

// Attach moves a whole process, every thread of it, through cgroup.procs.
func (g *Group) Attach(pid int) error {
	return g.WriteFile(g.Files.Procs, strconv.Itoa(pid))
}

// AttachThread moves one thread through v1's tasks file: the other threads
// of its process stay where they were. v2 allows this only in threaded
// subtrees, which memory does not support.
func (g *Group) AttachThread(tid int) error {
	if g.Layout.Version != 1 {
		return fmt.Errorf("cgroup v2 moves single threads only in threaded subtrees, where memory cannot be used; write cgroup.procs")
	}
	return g.WriteFile(g.Files.Threads, strconv.Itoa(tid))
}

// OpenDir opens the group's directory, for clone(CLONE_INTO_CGROUP).
func (g *Group) OpenDir() (*os.File, error) {
	return os.OpenFile(g.Path, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
}

// Remove kills whatever is still in the group, waits until it is empty and
// removes it, then the lab parent if nothing else is in it.
func (g *Group) Remove(ctx context.Context) error {
	if err := RemoveTree(ctx, g.Layout, g.Path); err != nil {
		return err
	}
	_ = os.Remove(filepath.Join(g.Layout.MemoryRoot, LabParent)) // fails while other runs use it
	return nil
}

// RemoveTree empties one group directory and everything below it (SIGKILL
// to what is left inside, cgroup.kill on v2) and removes it, children first.
func RemoveTree(ctx context.Context, l Layout, dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := RemoveTree(ctx, l, filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	procs := filepath.Join(dir, "cgroup.procs")
	for {
		b, err := os.ReadFile(procs)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		pids, _ := ParseIDs(string(b))
		if len(pids) == 0 {
			err := os.Remove(dir)
			if err == nil || errors.Is(err, os.ErrNotExist) {
				return nil
			}
			if !errors.Is(err, syscall.EBUSY) {
				return fmt.Errorf("removing cgroup %s: %w", dir, err)
			}
		}
		if l.Version == 2 {
			_ = os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0) // 5.14+
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cgroup %s still holds %v after SIGKILL: %w", dir, pids, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}
