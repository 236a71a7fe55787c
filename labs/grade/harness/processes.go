package harness

import (
	"context"
	"path/filepath"
	"slices"
	"sort"
	"syscall"
	"time"

	"github.com/onsi/gomega"

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
	var found proc.Process
	h.G.EventuallyWithOffset(1, ctx, func() bool {
		if !r.Running() {
			gomega.StopTrying("the runner exited before its command could be seen running").Now()
		}
		for _, p := range h.Descendants() {
			if len(p.Cmdline) == len(argv) && filepath.Base(p.Cmdline[0]) == argv[0] && slices.Equal(p.Cmdline[1:], argv[1:]) {
				found = p
				return true
			}
		}
		return false
	}).WithTimeout(h.Timeout).WithPolling(5*time.Millisecond).Should(gomega.BeTrue(), "CMD (%s) never appeared", shquote.Join(argv))
	return found
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
