package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/memlab/memlab/labs/kernel/proc"
	"github.com/memlab/memlab/labs/shquote"
)

// Descendants lists this process's live descendants (zombies left out):
// the runs, and whatever their runners left, reparented here.
func (h *Harness) Descendants() []proc.Process {
	t, err := proc.Tree(h.self)
	if err != nil {
		return nil
	}
	var out []proc.Process
	for _, p := range t[1:] {
		if p.State != "Z" {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PID < out[j].PID })
	return out
}

// KillDescendants sends SIGKILL to every live descendant.
func (h *Harness) KillDescendants() {
	for _, p := range h.Descendants() {
		_ = syscall.Kill(p.PID, syscall.SIGKILL)
	}
}

// Reap collects this process's exited children: orphans of the runner
// that were reparented here. A runner still being waited for is its
// exec.Cmd's to reap, not ours.
func (h *Harness) Reap() {
	t, err := proc.Tree(h.self)
	if err != nil {
		return
	}
	for _, p := range t[1:] {
		if p.PPID != h.self || p.State != "Z" {
			continue
		}
		if _, running := h.active.Load(p.PID); running {
			continue
		}
		var ws syscall.WaitStatus
		_, _ = syscall.Wait4(p.PID, &ws, syscall.WNOHANG, nil)
	}
}

// FindCommand waits for the process running CMD's argv (argv[0] may have
// been resolved to a path) among the runner's descendants. It fails the
// spec if the runner exits first, CMD never shows within the timeout, or
// ctx ends (an interrupt).
func (h *Harness) FindCommand(ctx context.Context, r *Run, argv []string) proc.Process {
	deadline := time.Now().Add(h.Timeout)
	for {
		running := r.Running()
		for _, p := range h.Descendants() {
			if len(p.Cmdline) == len(argv) && filepath.Base(p.Cmdline[0]) == argv[0] && slices.Equal(p.Cmdline[1:], argv[1:]) {
				return p
			}
		}
		switch {
		case !running:
			r.Wait()
			h.fail(fmt.Sprintf("%s: expected CMD to run until memlab stops it; observed: the runner exited %d and CMD was never seen running", r.Line(), r.exit))
			return proc.Process{}
		case ctx.Err() != nil:
			h.fail(fmt.Sprintf("%s: interrupted before CMD was seen running (%v)", r.Line(), context.Cause(ctx)))
			return proc.Process{}
		case time.Now().After(deadline):
			h.fail(fmt.Sprintf("%s: expected CMD to be running; observed: after %s no process runs %s", r.Line(), h.Timeout, shquote.Join(argv)))
			return proc.Process{}
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Tree is pid and everything it started, parents first (nothing when pid
// is gone).
func Tree(pid int) []proc.Process {
	t, err := proc.Tree(pid)
	if err != nil {
		return nil
	}
	return t
}

// OOMKills is the kernel's count of OOM kills since boot (/proc/vmstat
// oom_kill, Linux 4.13+); ok=false when this kernel does not count them.
func OOMKills() (n int64, ok bool) {
	b, err := os.ReadFile("/proc/vmstat")
	if err != nil {
		return 0, false
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, found := strings.CutPrefix(line, "oom_kill "); found {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}
