package harness

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/onsi/gomega"

	"github.com/memlab/memlab/labs/kernel/cgroup"
	"github.com/memlab/memlab/labs/kernel/proc"
)

// Snapshot lists every directory under the memory hierarchy, relative to
// it ("." is the root).
func (h *Harness) Snapshot() map[string]bool {
	dirs := map[string]bool{}
	_ = filepath.WalkDir(h.Layout.MemoryRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil //nolint:nilerr // a group removed while we walk is not in the snapshot, and the walk goes on
		}
		if d.IsDir() {
			rel, _ := filepath.Rel(h.Layout.MemoryRoot, path)
			dirs[rel] = true
		}
		return nil
	})
	return dirs
}

// NewGroups lists the groups that appeared since before and are the
// runner's: groups holding a process that is not ours (other work on this
// machine), or made by a memlab run still alive that is not ours, are left
// out, with everything above them. Deepest first.
func (h *Harness) NewGroups(before map[string]bool) []string {
	mine := map[int]bool{h.self: true}
	for _, p := range h.Descendants() {
		mine[p.PID] = true
	}
	var fresh []string
	foreign := map[string]bool{}
	for dir := range h.Snapshot() {
		if before[dir] || !judged(".", dir, before) {
			continue
		}
		fresh = append(fresh, dir)
		if h.foreignGroup(dir, mine) {
			for d := dir; d != "." && d != "/"; d = filepath.Dir(d) {
				foreign[d] = true
			}
		}
	}
	var out []string
	for _, d := range fresh {
		if !foreign[d] {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if a, b := strings.Count(out[i], "/"), strings.Count(out[j], "/"); a != b {
			return a > b
		}
		return out[i] < out[j]
	})
	return out
}

// judged says whether a new group directory under a hierarchy's root can
// be the runner's: one made at the top, under memlab's lab parent, or under
// a group that is itself new (not in before). One made inside a group the
// machine already had (docker/, a session manager's) belongs to that
// group's owner, and may be empty for a moment before its process moves
// in: it is never counted or removed. dir and before's keys are relative
// to the root (root ".") or all absolute alike.
func judged(root, dir string, before map[string]bool) bool {
	parent := filepath.Dir(dir)
	return parent == root || parent == filepath.Join(root, cgroup.LabParent) || !before[parent]
}

func (h *Harness) foreignGroup(dir string, mine map[int]bool) bool {
	for _, pid := range h.groupProcs(dir) {
		if !mine[pid] {
			return true
		}
	}
	if run, ok := cgroup.Owner(dir); ok && !mine[run.PID] && run.Alive() {
		return true
	}
	return false
}

func (h *Harness) groupProcs(dir string) []int {
	return readProcs(filepath.Join(h.Layout.MemoryRoot, dir))
}

// readProcs lists the processes in a cgroup directory.
func readProcs(dir string) []int {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return nil
	}
	ids, _ := cgroup.ParseIDs(string(b))
	return ids
}

// Leftovers is what a run left behind once the runner had exited.
type Leftovers struct {
	Groups    []string // relative to the memory root, deepest first
	Processes []proc.Process
	root      string
}

func (l Leftovers) String() string {
	var parts []string
	for _, g := range l.Groups {
		parts = append(parts, "cgroup "+filepath.Join(l.root, g))
	}
	for _, p := range l.Processes {
		parts = append(parts, fmt.Sprintf("process %d (%s)", p.PID, strings.Join(p.Cmdline, " ")))
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, "; ")
}

// LeftBehind waits a moment for the runner's processes to end, then says
// what is still there: its processes, and the groups it made since before.
func (h *Harness) LeftBehind(before map[string]bool) Leftovers {
	deadline := time.Now().Add(exitGrace)
	var left []proc.Process
	for {
		h.Reap()
		left = h.Descendants()
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	return Leftovers{Groups: h.NewGroups(before), Processes: left, root: h.Layout.MemoryRoot}
}

// RemoveLeftovers kills every process the runner left and removes the
// groups it made since before, deepest first. The runner suite runs it
// after every spec, passed or failed.
func (h *Harness) RemoveLeftovers(before map[string]bool) error {
	h.StopActiveRuns()
	h.KillDescendants()
	deadline := time.Now().Add(10 * time.Second)
	for len(h.Descendants()) > 0 && time.Now().Before(deadline) {
		h.Reap()
		time.Sleep(5 * time.Millisecond)
	}
	h.Reap()
	left := h.NewGroups(before)
	var errs []error
	for _, g := range left {
		dir := filepath.Join(h.Layout.MemoryRoot, g)
		if err := cgroup.RemoveTree(context.Background(), h.Layout, dir); err != nil {
			errs = append(errs, fmt.Errorf("memlab could not remove %s the runner left: %w", dir, err))
		}
	}
	if len(left) > 0 {
		fmt.Fprintf(h.Log, "memlab removed what the runner left: %v\n", left)
	}
	return errors.Join(errs...)
}

// MemoryCgroupOf is a process's memory cgroup, relative to the memory
// root; it fails the spec when /proc cannot say.
func (h *Harness) MemoryCgroupOf(pid int) string {
	cg, err := proc.ThreadMemoryCgroup(pid, pid)
	h.G.ExpectWithOffset(1, err).NotTo(gomega.HaveOccurred(), "reading /proc/%d/cgroup", pid)
	return cg
}

// LimitInForce is the smallest limit on cg and the groups above it (the
// one the kernel enforces), the file it was read from, and ok=false when
// none is set.
func (h *Harness) LimitInForce(cg string) (limit int64, file string, ok bool) {
	return h.FileInForce(cg, h.limitFile)
}

// FileInForce is the smallest value of a limit file (memory.limit_in_bytes,
// memory.memsw.limit_in_bytes, memory.swap.max...) on cg and the groups
// above it, the file it was read from, and ok=false when none is set.
func (h *Harness) FileInForce(cg, name string) (limit int64, file string, ok bool) {
	var best int64 = -1
	var from string
	for d := cg; ; d = filepath.Dir(d) {
		path := filepath.Join(h.Layout.MemoryRoot, d, name)
		if b, err := os.ReadFile(path); err == nil {
			if v, err := cgroup.ParseValue(strings.TrimSpace(string(b))); err == nil && v != cgroup.Unlimited && (best < 0 || v < best) {
				best, from = v, path
			}
		}
		if d == "/" || d == "." || d == "" {
			break
		}
	}
	// v1 reports "no limit" as a huge page-rounded number, not "max".
	if best < 0 || best >= 1<<62 {
		return 0, from, false
	}
	return best, from, true
}
