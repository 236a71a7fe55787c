package reexec_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"

	"github.com/memlab/memlab/labs/kernel/cgroup"
	"github.com/memlab/memlab/labs/kernel/proc"
	"github.com/memlab/memlab/labs/kernel/release"
	"github.com/memlab/memlab/labs/report/why"
	"github.com/memlab/memlab/labs/runner"
	"github.com/memlab/memlab/specs/claim"
)

// peakOf is the run's peak usage and where it was read: the kernel's own
// watermark, or, before v2 had memory.peak (5.19), the highest usage
// sampled every claim.SampleEvery, which can only miss a higher moment.
func peakOf(res runner.Result) (int64, string) {
	if res.Peak >= 0 {
		return res.Peak, res.PeakFile
	}
	var top int64
	for _, s := range res.Samples {
		top = max(top, s.Usage)
	}
	return top, fmt.Sprintf("memory.current sampled every %v (no %s on this kernel)", claim.SampleEvery, res.PeakFile)
}

// worker finds stress's worker: a stress process whose parent is stress.
func worker(r *runner.Run) (proc.Process, bool) {
	tree, err := proc.Tree(r.ChildPID)
	if err != nil {
		return proc.Process{}, false
	}
	comm := map[int]string{}
	for _, p := range tree {
		comm[p.PID] = p.Comm
	}
	for _, p := range tree {
		if p.Comm == "stress" && comm[p.PPID] == "stress" {
			return p, true
		}
	}
	return proc.Process{}, false
}

// killCount is how many tasks the OOM killer killed in a run: the group's
// own counter, or, on kernels without one (before 4.13), the kernel log's
// record of them. known is false when neither could be read.
func killCount(res runner.Result) (n int64, known bool) {
	switch {
	case res.OOMKnown:
		return res.OOMKills, true
	case len(res.Victims) > 0:
		return int64(len(res.Victims)), true
	}
	return 0, false
}

// killFigures files a run's OOM kills: the counter, as the kernel has it or
// that it has none, and each victim the kernel log names.
func killFigures(m claim.Mode, res runner.Result, counter, victim string) {
	GinkgoHelper()
	claim.Figure(counter, why.OOMKills(claim.Kernel(), res.OOMKills, res.OOMKnown), m.Files.Events)
	for _, v := range res.Victims {
		claim.Figure(victim, v.String(), "/dev/kmsg")
	}
}

// g5Runs: with 99m under 100m the rest of the group has less than 1 MiB,
// so one run proves little either way.
const g5Runs = 5

// held is what the group was charged for when the worker held all its 99m.
type held struct {
	charged cgroup.Charged
	pte     int64 // the worker's page tables (VmPTE)
}

// G5 is decided on whether 99m fits: a worker that holds all of its 99m
// (--vm-keep) charges nothing more, so once one has and runs on until we
// stop it, stress at 99m keeps running under this kernel's limit. Only a
// kernel where no run gets there, every run killed at the limit on the way,
// corrects the claim. A kill in some runs and not others shows the way up
// can cross the limit, not that 99m does not fit; a verdict that turned on
// it would change with load (1 run of 5 once, in a Docker guest beside a
// second guest; 0 of 120 in four guests at once since). The verdict names
// every kill, with the kernel's own report of what the group was charged
// when it killed.
var _ = claim.Describe("G5", func(m claim.Mode) string {
	return fmt.Sprintf("a 99m worker under %s = 100m, %d runs: one that holds its 99m runs on; any kill is the limit's", m.Files.Limit, g5Runs)
}, func(ctx SpecContext, m claim.Mode) {
	l := m.Lab()
	v := claim.Kernel()
	survived := 0
	var kills []kill    // each kill, with the kernel's report of the group
	var closest *held   // the survivor with the least to spare
	var footprint int64 // the group's own usage just before stress started, the most of any run
	var workerPTE int64
	for i := range g5Runs {
		Expect(ctx.Err()).NotTo(HaveOccurred(), "interrupted: start no more runs")
		By(fmt.Sprintf("run %d of %d: starting stress 99m in a 100m group", i+1, g5Runs))
		o, out := lab(l, "g5", stress("99m")...)
		o.SampleEvery = claim.SampleEvery // the usage as stress started, and the chart
		r := claim.Start(ctx, o)

		By("waiting until the worker holds all of its 99m, or the kernel has killed it")
		h, holding := awaitWorkerHolding(ctx, r, 99<<20)
		workerPTE = max(workerPTE, h.pte)

		By("stopping the run, and reading its OOM kills")
		res, err := r.Stop()
		Expect(err).NotTo(HaveOccurred())
		if i == 0 {
			claim.Series("stress 99m under 100m", m.Files.Usage, res)
		}
		// memlab's child reads the group's usage just before it starts the
		// workload: what memlab itself left charged to the group.
		Expect(res.FootprintBeforeExec).To(BeNumerically(">=", 0), "memlab's child read the group's usage before stress started")
		Expect(res.FootprintBeforeExec).To(BeNumerically("<=", claim.ChargeBatch()),
			"the group holds the workload only: before stress, at most one CPU's charge batch")
		footprint = max(footprint, res.FootprintBeforeExec)
		n, _ := killCount(res)
		if holding && n == 0 {
			By("a survivor: it held its 99m and ended by our SIGTERM")
			Expect(res.Signal).To(Equal(int(syscall.SIGTERM)), "a survivor ends by our SIGTERM")
			Expect(out).NotTo(gbytes.Say("got signal 9"))
			survived++
			if closest == nil || h.charged.Total() > closest.charged.Total() {
				closest = &h
			}
			continue
		}
		By("a kill: it must be the memory controller's, at the limit, of stress")
		peak, file := peakOf(res)
		expectKilledAtLimit(res, out, peak, file)
		kills = append(kills, killOf(i+1, m, res))
	}
	Expect(survived + len(kills)).To(Equal(g5Runs))

	By("filing the runs' figures and the verdict")
	cpus, page := claim.OnlineCPUs(), os.Getpagesize()
	chargedFiles := m.Files.Stat + ", " + cgroup.KernelFiles(m.Version)
	claim.Figure("runs whose worker held its 99m and ran on until stopped", fmt.Sprintf("%d of %d", survived, g5Runs), m.Files.Events)
	for i, k := range kills {
		claim.Figure(fmt.Sprintf("kill %d of %d", i+1, len(kills)), k.report, k.file)
	}
	claim.Figure("the group's usage just before stress started, read by memlab's child (one charge batch here: "+why.KiB(claim.ChargeBatch())+")", footprint, m.Files.Usage)
	var margin string
	if closest != nil {
		c := closest.charged
		claim.Figure("least a survivor left below the limit at its full 99m (limit - anon - file - kernel)",
			fmt.Sprintf("%d (%s)", limit100m-c.Total(), why.KiB(limit100m-c.Total())), chargedFiles)
		claim.Figure("that survivor's group at that moment: anon, file, kernel",
			fmt.Sprintf("%d, %d, %d", c.Anon, c.File, c.Kernel), chargedFiles)
		margin = fmt.Sprintf("at its full 99m the closest run left %s below the limit (anon %s + file %s + kernel memory %s charged)",
			why.KiB(limit100m-c.Total()), why.KiB(c.Anon), why.KiB(c.File), why.KiB(c.Kernel))
		if v.Has(release.LazyStat) {
			margin += fmt.Sprintf(", read from memory.stat, which may lag by up to %s here", why.KiB(v.StatLag(cpus, page)))
		}
	}
	if workerPTE > 0 {
		claim.Figure("page tables of a worker holding 99m (VmPTE)", workerPTE, "/proc/PID/status")
	}
	rest := fmt.Sprintf("99m leaves under 1 MiB of the group for everything else: stress's master, what memlab's child charged to the group, "+
		"and the kernel memory this kernel charges (%s); the group held %s of memlab's before stress started",
		why.KernelMemoryKinds(v), why.KiB(footprint))
	if m.Version == 1 && !v.Has(release.V1KmemUnlimited) {
		rest = fmt.Sprintf("99m leaves under 1 MiB of the group for everything else: stress's master and what memlab's child charged to the group "+
			"(%s charges no kernel memory to a v1 group without a kmem limit, and memlab sets none); the group held %s of memlab's before stress started",
			v, why.KiB(footprint))
	}
	if pt := why.PageTables(v, workerPTE); pt != "" {
		rest += "; " + pt
	}
	if survived == 0 {
		claim.Corrected("stress at 99m never held its 99m: all %d runs were OOM-killed at the limit on the way (the first: %s). %s",
			g5Runs, kills[0].report, rest)
		return
	}
	verdict := fmt.Sprintf("stress held its 99m and kept running in %d of %d runs: %s. %s", survived, g5Runs, margin, rest)
	if len(kills) > 0 {
		verdict += fmt.Sprintf(". In %d of %d runs the kernel killed the worker at the limit before it held all 99m: %s",
			len(kills), g5Runs, strings.Join(reports(kills), "; "))
	}
	claim.Holds(verdict)
})

// kill is one run's kill as the kernel reported it, and where that was read.
type kill struct{ report, file string }

// killOf is a run's kill: what the group was charged, and its tasks, the
// moment the OOM killer gave up on the limit, from the kernel log; only
// the group's own counter where the log could not be read.
func killOf(run int, m claim.Mode, res runner.Result) kill {
	if len(res.Victims) == 0 {
		return kill{fmt.Sprintf("run %d: killed (oom_kill %s; the kernel log could not be read)", run, why.OOMKills(claim.Kernel(), res.OOMKills, res.OOMKnown)), m.Files.Events}
	}
	k := res.Victims[0]
	return kill{fmt.Sprintf("run %d: the kernel killed %s with %s", run, k, k.Report), "/dev/kmsg"}
}

func reports(kills []kill) []string {
	out := make([]string, len(kills))
	for i, k := range kills {
		out[i] = k.report
	}
	return out
}

// awaitWorkerHolding waits until stress's worker has touched every page of
// its size-byte buffer, its largest mapping (smaps counts that exactly; RES
// also counts stress's own file pages, so it passes size some hundred KiB
// early), or until the kernel has killed it on the way and the run has
// ended. Once the worker holds them it reads what the group is charged for
// and the worker's page tables, and reports holding.
func awaitWorkerHolding(ctx context.Context, r *runner.Run, size int64) (h held, holding bool) {
	Eventually(ctx, func() bool {
		select {
		case <-r.Done():
			return true
		default:
		}
		w, ok := worker(r)
		if !ok {
			return false
		}
		buf, err := proc.LargestMapping(w.PID)
		if err != nil || buf.Resident < size {
			return false
		}
		if h.charged, _, err = r.Group.Charged(); err != nil {
			return false // the run ended between the two reads
		}
		h.pte, _ = proc.PageTableBytes(w.PID)
		holding = true
		return true
	}).Should(BeTrue())
	return h, holding
}

// expectKilledAtLimit asserts that a run's OOM kill was the memory
// controller's, at the limit, of stress's worker. Only the kernel's own
// watermark can show "at the limit": samples taken every few ms can miss
// the moment (5.10 has no memory.peak).
func expectKilledAtLimit(res runner.Result, out *gbytes.Buffer, peak int64, file string) {
	GinkgoHelper()
	if res.Peak >= 0 {
		Expect(peak).To(BeNumerically("~", res.Limit, claim.ChargeBatch()), "killed at the limit (%s)", file)
	} else {
		Expect(peak).To(BeNumerically("<=", res.Limit+claim.ChargeBatch()), "usage never passes the limit (%s)", file)
	}
	expectWorkerKilled(res, out)
}

// expectWorkerKilled asserts that the OOM killer's victim was stress's
// worker: the kernel log names stress (where it can be read), and stress's
// master lived to report its worker's SIGKILL.
func expectWorkerKilled(res runner.Result, out *gbytes.Buffer) {
	GinkgoHelper()
	for _, v := range res.Victims {
		Expect(v.Task).To(Equal("stress"), "the kernel log's victim: %s", v.Line)
	}
	Expect(out).To(gbytes.Say(`<-- worker [0-9]+ got signal 9`), "stress's master saw its worker killed")
}

var _ = claim.Describe("G6", func(m claim.Mode) string {
	return fmt.Sprintf("a 101m worker under %s = 100m is killed with signal 9 and stress exits 1", m.Files.Limit)
}, func(ctx SpecContext, m claim.Mode) {
	l := m.Lab()
	o, out := lab(l, "g6", stress("101m")...)
	o.SampleEvery = claim.SampleEvery
	r := claim.Start(ctx, o)
	res, err := r.Wait()
	Expect(err).NotTo(HaveOccurred())
	claim.Series("stress 101m under 100m", m.Files.Usage, res)
	expectWorkerKilled(res, out)
	Expect(res.ExitCode).To(Equal(1))
	Expect(res.Signal).To(BeZero(), "stress itself exits; only its worker was killed")
	if n, known := killCount(res); known {
		Expect(n).To(BeNumerically(">=", 1))
	}

	claim.Figure("stress exit status", res.ExitCode, "")
	killFigures(m, res, "oom_kill", "killed (kernel log)")
	claim.Holds("worker got signal 9, stress: failed run, exit status 1")
})

var _ = claim.Describe("G7", func(claim.Mode) string {
	return "over the limit, the OOM killer picks its victims; who dies is observed"
}, func(ctx SpecContext, m claim.Mode) {
	l := m.Lab()
	v := claim.Kernel()
	// Four processes share the group: the child, sh, stress and its worker.
	o, out := lab(l, "g7", "sh", "-c", "stress --vm-bytes 101m --vm-keep -m 1; exit $?")
	r := claim.Start(ctx, o)
	res, err := r.Wait()
	Expect(err).NotTo(HaveOccurred())
	Expect(res.ChildError).To(BeEmpty(), "the child lived to report how sh ended")
	Expect(res.Signal).To(BeZero(), "sh was not killed: it exited with stress's status")
	Expect(res.ExitCode).To(Equal(1))
	expectWorkerKilled(res, out)
	kills, known := killCount(res)
	if known {
		Expect(kills).To(Equal(int64(1)), "one victim: the task with the most memory")
	}
	if len(res.Victims) > 0 {
		Expect(res.Victims).To(HaveLen(1))
	}

	killFigures(m, res, "processes killed (oom_kill)", "the one killed (kernel log)")
	claim.Figure("how the rest of the group ended", fmt.Sprintf("the child lived to report that sh exited with status %d, by no signal", res.ExitCode), "")

	// Who was killed, from what this kernel keeps: its counter, else its log.
	var counted string
	switch {
	case res.OOMKnown:
		counted = fmt.Sprintf("oom_kill %d", res.OOMKills)
	case len(res.Victims) > 0:
		counted = fmt.Sprintf("the kernel log names %s; oom_kill: %s", res.Victims[0], why.OOMKills(v, res.OOMKills, res.OOMKnown))
	default:
		counted = "oom_kill: " + why.OOMKills(v, res.OOMKills, res.OOMKnown) + ", and the kernel log could not be read"
	}
	allKilled := res.Signal == int(syscall.SIGKILL) || kills > 1
	claim.Decide(allKilled, "every process in the group was killed",
		fmt.Sprintf("the OOM killer killed one task, stress's worker, the group's largest (stress reported its signal 9; %s); "+
			"the child, sh and stress's master lived on, and sh exited by itself with stress's status 1; %s",
			counted, why.WholeGroupSwitch(v, m.Version)))
})

// Only v2 has a switch to kill the whole group, from 4.19.
var _ = claim.DescribeIn([]claim.Mode{claim.V2}, "G7", func(claim.Mode) string {
	return "with memory.oom.group=1, the whole group is killed"
}, func(ctx SpecContext, m claim.Mode) {
	l := m.Lab()
	if v := claim.Kernel(); !v.Has(release.OOMGroup) {
		Skip(why.WholeGroupSwitch(v, m.Version))
	}
	o, _ := lab(l, "g7group", "sh", "-c", "stress --vm-bytes 101m --vm-keep -m 1; exit $?")
	o.OOMGroup = true
	r := claim.Start(ctx, o)
	res, err := r.Wait()
	Expect(err).NotTo(HaveOccurred())
	Expect(res.Signal).To(Equal(int(syscall.SIGKILL)), "the workload's sh was killed with the rest of the group")
	Expect(res.OOMKills).To(BeNumerically(">=", 2))

	claim.Figure("processes killed (oom_kill)", res.OOMKills, m.Files.Events)
	spared := ""
	if res.ChildOOMScoreAdj == -1000 {
		// The kernel spares OOM_SCORE_ADJ_MIN tasks even in a group kill.
		spared = "; memlab's child, at oom_score_adj -1000, is spared as the kernel spares every such task"
	}
	claim.Holds("with memory.oom.group=1 every task of the workload goes, as the article describes" + spared)
})
