package reexec_test

import (
	"context"
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/memlab/memlab/labs/kernel/cgroup"
	"github.com/memlab/memlab/labs/kernel/proc"
	"github.com/memlab/memlab/labs/report/why"
	"github.com/memlab/memlab/labs/runner"
	"github.com/memlab/memlab/specs/claim"
)

// g8Runs is how often each attach order is tried: the article's order is a
// race, so one run proves little either way.
const g8Runs = 8

// placement is where one run's threads and workload ended up.
type placement struct {
	childThreadsIn, childThreadsOut int
	workloadIn                      bool
	usage, workerRSS                int64
}

func (p placement) confined() bool { return p.workloadIn && p.childThreadsOut == 0 }

// observe starts the child in the given order with a small stress and looks,
// once the worker holds its memory, at which memory cgroup each thread of the
// child and the worker itself are in. It waits on the spec's context, so an
// interrupt ends it at once rather than after the poll's whole timeout.
func observe(ctx context.Context, l cgroup.Layout, order runner.Attach) placement {
	o, _ := lab(l, "g8", stress("16m")...)
	o.Attach = order
	r := claim.Start(ctx, o)
	var worker proc.Process
	Eventually(ctx, func() (int64, error) {
		tree, err := proc.Tree(r.ChildPID)
		if err != nil || len(tree) < 3 {
			return 0, err
		}
		worker = tree[len(tree)-1]
		return proc.ResidentBytes(worker.PID)
	}).Should(BeNumerically(">=", 16<<20), "stress's worker holds its 16m")

	var p placement
	want := "/" + r.Group.Name
	cg, err := proc.ThreadMemoryCgroup(worker.PID, worker.PID)
	Expect(err).NotTo(HaveOccurred())
	p.workloadIn = cg == want
	threads, err := proc.Threads(r.ChildPID)
	Expect(err).NotTo(HaveOccurred())
	for _, tid := range threads {
		cg, err := proc.ThreadMemoryCgroup(r.ChildPID, tid)
		Expect(err).NotTo(HaveOccurred())
		if tid == r.ChildPID {
			Expect(cg).To(Equal(want), "the ID written to the group's file is in the group")
		}
		if cg == want {
			p.childThreadsIn++
		} else {
			p.childThreadsOut++
		}
	}
	p.usage, _ = r.Group.Usage()
	p.workerRSS, _ = proc.ResidentBytes(worker.PID)
	_, err = r.Stop()
	Expect(err).NotTo(HaveOccurred())
	return p
}

var _ = claim.Describe("G8", func(m claim.Mode) string {
	return fmt.Sprintf("the article's order (start, then write the PID to %s) against memlab's (attach before exec), %d runs each",
		map[int]string{1: "tasks", 2: "cgroup.procs"}[m.Version], g8Runs)
}, func(ctx SpecContext, m claim.Mode) {
	l := m.Lab()
	var article, fixed []placement
	for i := range g8Runs {
		Expect(ctx.Err()).NotTo(HaveOccurred(), "interrupted: start no more runs")
		By(fmt.Sprintf("run %d of %d: the article's order, then memlab's", i+1, g8Runs))
		article = append(article, observe(ctx, l, runner.AfterStart))
		fixed = append(fixed, observe(ctx, l, runner.BeforeExec))
	}
	// The article's order is a race between the parent's write and the
	// child starting its workload: how often the write wins depends on the
	// load (0 of 8 escaped idle, 1 of 8 at a load average of 7, on the same
	// trixie guest), so counting escapes cannot decide the claim. What the
	// kernel does when the child wins can: with the write held until the
	// workload runs, the write moves only the child, never what it forked.
	By("the article's order with the race lost on purpose: the PID written once stress runs")
	lost := observe(ctx, l, runner.AfterWorkload)

	By("memlab's order must have confined every run")
	for i, p := range fixed {
		Expect(p.confined()).To(BeTrue(), "attach before exec must confine every run (run %d: %+v)", i, p)
	}
	// The race aside, v1's tasks file moves one thread (cgroup-v1.rst:
	// "writing a thread ID into tasks moves that thread"). Written while
	// the Go child waits, with its runtime's threads already running,
	// it must leave those threads behind, every time.
	heldThreadsOut := 0
	if m.Version == 1 {
		By("v1: writing the child's ID to tasks while it waits, its Go runtime's threads already running")
		held := observe(ctx, l, runner.ThreadBeforeExec)
		Expect(held.childThreadsOut).To(BeNumerically(">", 0), "tasks moved the whole Go child: %+v", held)
		heldThreadsOut = held.childThreadsOut
		claim.Figure("the child's ID written to tasks while it waited: its threads left outside",
			fmt.Sprintf("%d of %d", held.childThreadsOut, held.childThreadsIn+held.childThreadsOut), "/proc/PID/task/TID/cgroup")
	}

	By("counting the article's runs that left stress or some of the child's threads outside")
	escapedWorkload, threadsLeftOut := 0, 0
	var example string
	for _, p := range article {
		if !p.workloadIn {
			escapedWorkload++
			example = fmt.Sprintf("usage %d while the worker held RES %d", p.usage, p.workerRSS)
		}
		if p.childThreadsOut > 0 {
			threadsLeftOut++
		}
	}
	claim.Figure("article's order: runs whose stress escaped the group", fmt.Sprintf("%d of %d", escapedWorkload, g8Runs), "/proc/PID/cgroup")
	claim.Figure("article's order: runs that left some of the child's threads outside", fmt.Sprintf("%d of %d", threadsLeftOut, g8Runs), "/proc/PID/task/TID/cgroup")
	if example != "" {
		claim.Figure("article's order: an escaped run", example, m.Files.Usage)
	}
	claim.Figure("memlab's order: runs fully confined", fmt.Sprintf("%d of %d", g8Runs, g8Runs), "/proc/PID/cgroup")
	claim.Figure("article's order, the PID written only once stress ran: stress in the group",
		fmt.Sprintf("%t (usage %d while the worker held RES %d)", lost.workloadIn, lost.usage, lost.workerRSS), "/proc/PID/cgroup")

	By("filing the verdict")
	// What the article's order did on this kernel comes first, escapes or
	// none, beside the experiment that shows the flaw every time.
	escaped := fmt.Sprintf("in the article's order stress escaped the group in %d of %d runs here", escapedWorkload, g8Runs)
	if escapedWorkload > 0 {
		escaped += ": forked before the write, or by a thread the write did not move, it ran outside the limit"
	}
	reasons := []string{escaped}
	if !lost.workloadIn {
		reasons = append(reasons, fmt.Sprintf("it is a race the child can win: with the write held until stress ran, the write moved only the child and stress stayed outside (the group's usage %s while the worker held %s); the runs above are confined only where the write came first",
			why.KiB(lost.usage), why.KiB(lost.workerRSS)))
	}
	if threadsLeftOut > 0 {
		reasons = append(reasons, fmt.Sprintf("in %d of %d runs writing one PID to tasks moved only that thread, leaving other threads of the Go child outside", threadsLeftOut, g8Runs))
	}
	if heldThreadsOut > 0 {
		reasons = append(reasons, fmt.Sprintf("tasks moves only the thread written to it: with the child held, %d of its threads stayed outside, free to fork outside the limit", heldThreadsOut))
	}
	// Decided on what the kernel does, not on who won the races: the held
	// write (and on v1 the held child's threads) give the same answer on
	// every run; the escapes counted above are evidence beside it.
	claim.Decide(lost.workloadIn && escapedWorkload == 0 && threadsLeftOut == 0 && heldThreadsOut == 0,
		fmt.Sprintf("all %d runs in the article's order ended fully confined here, and even with the write held until stress ran the kernel moved stress with the child", g8Runs),
		strings.Join(reasons, "; ")+"; attaching before the child runs anything confines every run")
})
