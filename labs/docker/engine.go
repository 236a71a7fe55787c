// Package docker is memlab's side of the article's Docker half: it talks to
// the Docker engine through the Go client (API version negotiated down to
// what the engine speaks, 1.41 for Debian's Docker 20.10), builds the lab
// image from the host's programs (labs/rootfs) or a registry's base image,
// starts labelled containers with a memory limit and no
// network, runs the workload in them, finds their memory cgroup by ID for
// either cgroup driver and cgroup version, reads the engine's stats, lists
// their host PIDs and removes them; Sweep removes what a killed run left.
package docker

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	"github.com/memlab/memlab/labs/kernel/proc"
)

// Errors callers tell apart (the CLI maps each to its own exit status).
var (
	// ErrNoEngine: nothing answers on the Docker socket.
	ErrNoEngine = errors.New("no Docker engine answers")
	// ErrNoAccess: the socket is there but this user may not use it.
	ErrNoAccess = errors.New("no permission to use the Docker engine")
	// ErrImageBuild: the lab image is not there and cannot be built (the
	// host lacks a program it holds, the engine's build failed, or stress
	// does not run in it).
	ErrImageBuild = errors.New("the lab image cannot be built")
	// ErrNotOurImage: an image memlab would remove was not built by memlab.
	ErrNotOurImage = errors.New("not an image memlab built")
	// ErrNoContainer: no container has that ID or name, or the ID prefix is ambiguous.
	ErrNoContainer = errors.New("unknown container")
	// ErrNotRunning: the container exists but has no processes, so no cgroup.
	ErrNotRunning = errors.New("container is not running")
	// ErrNoCgroup: the container runs but its memory cgroup is in no layout we know.
	ErrNoCgroup = errors.New("container memory cgroup not found")
)

// Labels every memlab container carries. LabelRun names the creating run
// by proc.RunID (PID and start time), so a sweep never mistakes a recycled
// PID for a live run.
const (
	LabelLab = "org.memlab"
	LabelRun = "org.memlab.run"
)

// DefaultImage is the lab image BuildImage makes; commands and suites take
// another tag as a flag (memlab docker image --image, -memlab.image).
const DefaultImage = "memlab/stress:16.04"

// pingTimeout bounds the first contact: a socket that accepts but never
// answers is as good as no engine.
const pingTimeout = 5 * time.Second

// Engine is a connection to the Docker engine.
type Engine struct {
	API *client.Client

	Version       string // engine version, e.g. 20.10.24+dfsg1
	APIVersion    string // API version negotiated for this client, e.g. 1.41
	CgroupDriver  string // cgroupfs or systemd
	CgroupVersion string // "1" or "2"
	OSType        string
	run           proc.RunID // this process, for LabelRun
}

// Connect reaches the engine named by DOCKER_HOST (default the local
// socket) and negotiates the API version. A socket that does not answer is
// ErrNoEngine, with the client's reason.
func Connect(ctx context.Context) (*Engine, error) {
	api, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoEngine, err)
	}
	// One bound for the whole first contact: ping, version and info.
	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if err := ping(pctx, api); err != nil {
		_ = api.Close()
		return nil, err
	}
	v, err := api.ServerVersion(pctx)
	if err != nil {
		_ = api.Close()
		return nil, fmt.Errorf("%w at %s: version: %s", ErrNoEngine, api.DaemonHost(), oneLine(err))
	}
	info, err := api.Info(pctx)
	if err != nil {
		_ = api.Close()
		return nil, fmt.Errorf("%w at %s: info: %s", ErrNoEngine, api.DaemonHost(), oneLine(err))
	}
	e := &Engine{
		API: api, Version: v.Version, APIVersion: api.ClientVersion(),
		CgroupDriver: info.CgroupDriver, CgroupVersion: info.CgroupVersion, OSType: info.OSType,
	}
	if e.CgroupVersion == "" { // engines before 20.10 knew only v1
		e.CgroupVersion = "1"
	}
	e.run, err = proc.Current()
	if err != nil {
		_ = api.Close()
		return nil, err
	}
	return e, nil
}

// Answers says whether the engine still answers (a ping, bounded like the
// first contact): nil, or ErrNoEngine with the client's reason (ErrNoAccess
// when the socket refuses this user), for a suite to tell "the engine went
// away" from a claim that failed.
func (e *Engine) Answers(ctx context.Context) error { return ping(ctx, e.API) }

// ping asks the engine whether it answers, within pingTimeout: nil,
// ErrNoAccess when this user may not use its socket, or ErrNoEngine with
// the client's reason.
func ping(ctx context.Context, api *client.Client) error {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if _, err := api.Ping(ctx); err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return fmt.Errorf("%w at %s: run memlab as root, or join the docker group", ErrNoAccess, api.DaemonHost())
		}
		return fmt.Errorf("%w at %s: %s", ErrNoEngine, api.DaemonHost(), oneLine(err))
	}
	return nil
}

// Close releases the connection.
func (e *Engine) Close() error { return e.API.Close() }

// String reads like "engine 20.10.24 (API 1.41, cgroupfs driver, cgroup v1)".
func (e *Engine) String() string {
	return fmt.Sprintf("engine %s (API %s, %s driver, cgroup v%s)", e.Version, e.APIVersion, e.CgroupDriver, e.CgroupVersion)
}

// RunLabel is this process's org.memlab.run value, "PID.STARTTIME".
func (e *Engine) RunLabel() string { return e.run.String() }

// Swept is one memlab container a sweep looked at: removed because its run
// is gone, or left alone, and why.
type Swept struct {
	ID, Name, Run, Why string
	Removed            bool
}

// Sweep removes every memlab container whose creating run is gone: the
// process named by its run label no longer exists, or a different process
// now has that PID. Containers of runs still alive are left alone (and not
// listed), so two runs, or Ginkgo's parallel processes, can share an
// engine. A container labelled org.memlab=1 whose run label memlab did not
// write is listed as left alone: it was made by hand. err is for what it
// could not do (list, remove).
func (e *Engine) Sweep(ctx context.Context) ([]Swept, error) {
	list, err := e.API.ContainerList(ctx, container.ListOptions{
		All: true, Filters: filters.NewArgs(filters.Arg("label", LabelLab+"=1")),
	})
	if err != nil {
		return nil, fmt.Errorf("listing memlab containers: %w", err)
	}
	var swept []Swept
	var errs []error
	for _, c := range list {
		s := Swept{ID: c.ID, Run: c.Labels[LabelRun]}
		if len(c.Names) > 0 {
			s.Name = strings.TrimPrefix(c.Names[0], "/")
		}
		run, err := labelledRun(c.Labels)
		if err != nil {
			s.Why = err.Error() + ": left alone"
			swept = append(swept, s)
			continue
		}
		why, gone := run.Gone()
		if !gone {
			continue
		}
		if err := e.remove(ctx, c.ID); err != nil {
			errs = append(errs, err)
			continue
		}
		s.Why, s.Removed = "its run is gone: "+why, true
		swept = append(swept, s)
	}
	return swept, errors.Join(errs...)
}

// labelledRun reads the run that made a container from its labels.
func labelledRun(labels map[string]string) (proc.RunID, error) {
	run, err := proc.ParseRunID(labels[LabelRun])
	if err != nil {
		return run, fmt.Errorf("label %s=%q: %w", LabelRun, labels[LabelRun], err)
	}
	return run, nil
}

// remove force-removes a container by ID (SIGKILL to all in it, then its
// volumes); a container that is already gone is not an error.
func (e *Engine) remove(ctx context.Context, id string) error {
	err := e.API.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true})
	if err == nil || cerrdefs.IsNotFound(err) {
		return nil
	}
	// A removal already under way (another sweep) finishes by itself.
	if cerrdefs.IsConflict(err) && strings.Contains(err.Error(), "already in progress") {
		return nil
	}
	return fmt.Errorf("removing container %s: %w", short(id), err)
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func oneLine(err error) string {
	s := strings.TrimSpace(err.Error())
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
