// Package supervise runs the runner suite so that nothing the runner under
// test starts can outlive it or reach the grade: the suite runs in a
// cgroup made and owned by the grader (on the cgroup2 hierarchy, which no
// runner needs), in private mount and network namespaces, under a process
// that is a child subreaper. When the suite ends, however it ends,
// everything left in that cgroup and every descendant of the grader is
// killed, and the cgroup is removed, before the caller scores anything.
//
// The runner kills the suite (its parent) if it likes: its orphans come
// back to the grader, not to init, and die with the rest.
package supervise

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/memlab/memlab/labs/kernel/cgroup"
	"github.com/memlab/memlab/labs/kernel/proc"
)

// Result is how the suite ended and what had to be killed after it.
type Result struct {
	Exit      int            // the suite's exit status; -1 when a signal ended it
	Signal    syscall.Signal // the signal that ended it, or 0
	Stopped   os.Signal      // the signal that stopped the grading (Ctrl-C), or nil
	Survivors []string       // processes alive after the suite ended, all killed
	Group     string         // the confinement cgroup, removed; "" when no cgroup2 is mounted
}

// Died says whether the suite did not end by itself: a signal ended it, or
// the grading was stopped.
func (r Result) Died() bool { return r.Signal != 0 || r.Stopped != nil }

// Why says in a few words how the suite ended ("killed by signal 9 ...").
func (r Result) Why() string {
	switch {
	case r.Stopped != nil:
		return fmt.Sprintf("stopped by %s", r.Stopped)
	case r.Signal != 0:
		return fmt.Sprintf("killed by signal %d (%s), most likely by the runner under test", int(r.Signal), unix.SignalName(r.Signal))
	}
	return fmt.Sprintf("exited %d", r.Exit)
}

// Run runs argv in dir, confined, with out receiving its output, and
// returns once it and everything it started are gone.
func Run(argv []string, dir string, out io.Writer) (Result, error) {
	var res Result
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return res, fmt.Errorf("becoming a child subreaper: %w", err)
	}
	group, fd, err := makeGroup()
	if err != nil {
		return res, err
	}
	res.Group = group
	if fd != nil {
		defer fd.Close()
	}
	// unshare execs the suite: the suite is this process's child.
	// Mount propagation private: a mount the runner leaves stays in the
	// suite's namespace and goes with it. An empty /run hides the sockets
	// of the daemons that start processes on request (Docker, containerd,
	// systemd, D-Bus): a process started through one of them is no
	// descendant of the grader, so it would outlive the grading and could
	// rewrite the grade after it; the private network namespace hides
	// their abstract and TCP sockets. The contract needs none of them.
	cmd := exec.Command("unshare", append([]string{"--mount", "--net", "--propagation", "private", "--",
		"sh", "-c", hideDaemons, "memlab-grade-suite"}, argv...)...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if fd != nil {
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, int(fd.Fd())
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(stop)
	if err := cmd.Start(); err != nil {
		return res, errors.Join(fmt.Errorf("starting the runner suite: %w", err), removeGroup(group))
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// The suite's own status is read from ProcessState below.
	select {
	case <-done: //nolint:errcheck // its status is in ProcessState
	case s := <-stop:
		res.Stopped = s
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Process.Kill()
		<-done //nolint:errcheck // its status is in ProcessState
	}
	if st := cmd.ProcessState; st != nil {
		res.Exit = st.ExitCode()
		if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			res.Signal = ws.Signal()
		}
	}
	res.Survivors = killAll(group)
	if err := removeGroup(group); err != nil {
		return res, err
	}
	return res, nil
}

// makeGroup makes the confinement cgroup on the cgroup2 hierarchy and
// opens it for clone(CLONE_INTO_CGROUP): the suite is in it from its first
// instruction. Without cgroup2 the subreaper alone holds the suite.
func makeGroup() (string, *os.File, error) {
	l, err := cgroup.Detect()
	if err != nil && !errors.Is(err, cgroup.ErrNoMemoryController) {
		return "", nil, err
	}
	if l.UnifiedRoot == "" {
		return "", nil, nil
	}
	_, _ = SweepGroups(context.Background(), l.UnifiedRoot) // a group it cannot remove is another grader's, or `memlab sweep`'s to report
	run, err := proc.Current()
	if err != nil {
		return "", nil, err
	}
	dir := filepath.Join(l.UnifiedRoot, GroupPrefix+run.String())
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return "", nil, fmt.Errorf("making the grader's cgroup: %w", err)
	}
	fd, err := os.OpenFile(dir, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		_ = os.Remove(dir)
		return "", nil, fmt.Errorf("opening the grader's cgroup: %w", err)
	}
	return dir, fd, nil
}

// GroupPrefix names the grader's cgroup on the cgroup2 hierarchy:
// memlab-grade-RUNID, RUNID the grader's proc.RunID, so a sweep can tell a
// live grader's group from one a killed grader left, even once its PID has
// been reused.
const GroupPrefix = "memlab-grade-"

// hideDaemons mounts an empty tmpfs over /run (and over /var/run where it
// is a directory of its own), then execs the suite ("$@").
const hideDaemons = `set -e
mount -t tmpfs -o mode=0755,size=16m memlab-grade /run
if [ ! -L /var/run ] && [ -d /var/run ]; then mount -t tmpfs -o mode=0755,size=16m memlab-grade /var/run; fi
exec "$@"`

// SweepGroups removes root's grader groups (memlab-grade-RUNID) whose
// grader is gone, by PID and start time: one SIGKILLed cannot remove its
// own. Whatever is still in such a group (what the runner under test
// started, which outlived its grader) is killed first. A live grader's
// group, and a name that holds no run ID, are left alone. It returns the
// groups it removed.
func SweepGroups(ctx context.Context, root string) ([]string, error) {
	dirs, _ := filepath.Glob(filepath.Join(root, GroupPrefix+"*"))
	var removed []string
	var errs []error
	for _, d := range dirs {
		run, err := proc.ParseRunID(strings.TrimPrefix(filepath.Base(d), GroupPrefix))
		if err != nil {
			continue // not a name the grader gives
		}
		if _, gone := run.Gone(); !gone {
			continue
		}
		if err := cgroup.RemoveTree(ctx, cgroup.Layout{Version: 2}, d); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, d)
	}
	return removed, errors.Join(errs...)
}

// killAll kills, until none is left, what is in the group and every
// descendant of this process (orphans come here: it is the subreaper),
// reaping them, and says what it found alive.
func killAll(group string) []string {
	seen := map[int]string{}
	self := os.Getpid()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var alive []int
		if group != "" {
			if b, err := os.ReadFile(filepath.Join(group, "cgroup.procs")); err == nil {
				ids, _ := cgroup.ParseIDs(string(b))
				alive = append(alive, ids...)
			}
		}
		if t, err := proc.Tree(self); err == nil {
			for _, p := range t[1:] {
				if p.State != "Z" {
					alive = append(alive, p.PID)
				}
			}
		}
		for _, pid := range alive {
			if _, ok := seen[pid]; !ok {
				seen[pid] = describe(pid)
			}
		}
		if group != "" {
			_ = os.WriteFile(filepath.Join(group, "cgroup.kill"), []byte("1"), 0) // 5.14+
		}
		for _, pid := range alive {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		reap()
		if len(alive) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	var out []string
	for pid, d := range seen {
		out = append(out, fmt.Sprintf("%d %s", pid, d))
	}
	return out
}

func describe(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return "(" + strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " ")) + ")"
}

// reap collects every exited child: the orphans reparented here.
func reap() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}

func removeGroup(dir string) error {
	if dir == "" {
		return nil
	}
	var err error
	for range 500 {
		if err = os.Remove(dir); err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		_ = os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0)
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("removing the grader's cgroup %s: %w", dir, err)
}
