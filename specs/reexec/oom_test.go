package reexec_test

import (
	"fmt"
	"syscall"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"

	"github.com/memlab/memlab/labs/kernel/proc"
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

// g5Runs: with 99m under 100m the rest of the group has less than 1 MiB, so
// whether stress survives can vary from run to run; one run proves little.
const g5Runs = 5

var _ = claim.Describe("G5", func(m claim.Mode) string {
	return fmt.Sprintf("a 99m worker under %s = 100m, %d runs: each survives, or is OOM-killed at the limit", m.Files.Limit, g5Runs)
}, func(ctx SpecContext, m claim.Mode) {
	l := m.Lab()
	survived, minHeadroom := 0, int64(limit100m)
	peakFile := m.Files.Peak
	var heldBefore int64 // the group's usage as stress was released: the child's share
	var workerPTE int64  // the page tables of a worker holding its 99m (VmPTE)
	for i := range g5Runs {
		Expect(ctx.Err()).NotTo(HaveOccurred(), "interrupted: start no more runs")
		By(fmt.Sprintf("run %d of %d: starting stress 99m in a 100m group", i+1, g5Runs))
		o, out := lab(l, "g5", stress("99m")...)
		o.SampleEvery = claim.SampleEvery // the peak, where the kernel keeps none
		r := claim.Start(o)

		By("waiting until the worker holds all of its 99m, or the kernel has killed it")
		workerPTE = max(workerPTE, awaitWorkerHolding(r, 99<<20))

		By("stopping the run, and reading its peak and OOM kills")
		res, err := r.Stop()
		Expect(err).NotTo(HaveOccurred())
		if i == 0 {
			claim.Series("stress 99m under 100m", m.Files.Usage, res)
		}
		peak, file := peakOf(res)
		peakFile = file
		if len(res.Samples) > 0 {
			heldBefore = max(heldBefore, res.Samples[0].Usage)
		}
		if res.OOMKills == 0 {
			By("a survivor: it ended by our SIGTERM, with limit - peak to spare")
			Expect(res.Signal).To(Equal(int(syscall.SIGTERM)), "a survivor ends by our SIGTERM")
			Expect(out).NotTo(gbytes.Say("got signal 9"))
			survived++
			minHeadroom = min(minHeadroom, res.Limit-peak)
			continue
		}
		By("a kill: it must be the memory controller's, at the limit, of stress")
		expectKilledAtLimit(res, out, peak, file)
	}

	By("filing the runs' figures and the verdict")
	claim.Figure("runs that survived", fmt.Sprintf("%d of %d", survived, g5Runs), m.Files.Events)
	claim.Figure("the group's usage as stress started (the child's share)", heldBefore, m.Files.Usage)
	if survived > 0 {
		claim.Figure("smallest headroom of a survivor (limit - peak)", minHeadroom, peakFile)
	}
	why := fmt.Sprintf("99m leaves under 1 MiB for stress's master, the child and the kernel memory charged to the group; "+
		"the group already held %d KiB as stress started", heldBefore>>10)
	if workerPTE > 0 {
		claim.Figure("page tables of a worker holding 99m (VmPTE)", workerPTE, "/proc/PID/status")
		why += fmt.Sprintf(", and the worker's page tables alone took %d KiB", workerPTE>>10)
	}
	evidence := fmt.Sprintf("not reliably: %d of %d runs survived, the closest within %d bytes of the limit (safe: %d); %s",
		survived, g5Runs, minHeadroom, claim.SafeHeadroom, why)
	if survived == 0 {
		evidence = fmt.Sprintf("stress at 99m was OOM-killed at the limit in all %d runs: %s", g5Runs, why)
	}
	claim.Decide(survived == g5Runs && minHeadroom >= claim.SafeHeadroom,
		fmt.Sprintf("survived %d of %d runs, never closer than %d bytes to the limit", survived, g5Runs, minHeadroom),
		evidence)
})

// awaitWorkerHolding waits until stress's worker has touched size bytes
// (only then can no more of its allocations trigger the OOM killer), or
// until the kernel has killed it on the way there and the run has ended.
// It returns the worker's page tables (VmPTE) once it held them, or 0.
func awaitWorkerHolding(r *runner.Run, size int64) int64 {
	var pte int64
	Eventually(func() bool {
		select {
		case <-r.Done():
			return true
		default:
		}
		w, ok := worker(r)
		if !ok {
			return false
		}
		rss, err := proc.ResidentBytes(w.PID)
		if err != nil || rss < size {
			return false
		}
		if p, err := proc.PageTableBytes(w.PID); err == nil {
			pte = max(pte, p)
		}
		return true
	}).Should(BeTrue())
	return pte
}

// expectKilledAtLimit asserts that a run's OOM kill was the memory
// controller's, at the limit, of stress. Only the kernel's own watermark can
// show "at the limit": samples taken every few ms can miss the moment (5.10
// has no memory.peak).
func expectKilledAtLimit(res runner.Result, out *gbytes.Buffer, peak int64, file string) {
	GinkgoHelper()
	if res.Peak >= 0 {
		Expect(peak).To(BeNumerically("~", res.Limit, claim.ChargeBatch()), "killed at the limit (%s)", file)
	} else {
		Expect(peak).To(BeNumerically("<=", res.Limit+claim.ChargeBatch()), "usage never passes the limit (%s)", file)
	}
	if len(res.Victims) > 0 {
		Expect(res.Victims[0].Task).To(Equal("stress"))
	} else {
		Expect(out).To(gbytes.Say(`<-- worker [0-9]+ got signal 9`))
	}
}

var _ = claim.Describe("G6", func(m claim.Mode) string {
	return fmt.Sprintf("a 101m worker under %s = 100m is killed with signal 9 and stress exits 1", m.Files.Limit)
}, func(m claim.Mode) {
	l := m.Lab()
	o, out := lab(l, "g6", stress("101m")...)
	o.SampleEvery = claim.SampleEvery
	r := claim.Start(o)
	res, err := r.Wait()
	Expect(err).NotTo(HaveOccurred())
	claim.Series("stress 101m under 100m", m.Files.Usage, res)
	Expect(out).To(gbytes.Say(`<-- worker [0-9]+ got signal 9`))
	Expect(res.ExitCode).To(Equal(1))
	Expect(res.Signal).To(BeZero(), "stress itself exits; only its worker was killed")
	if res.OOMKnown {
		Expect(res.OOMKills).To(BeNumerically(">=", 1))
	}

	claim.Figure("stress exit status", res.ExitCode, "")
	claim.Figure("oom_kill", res.OOMKills, m.Files.Events)
	for _, v := range res.Victims {
		claim.Figure("killed (kernel log)", v.String(), "/dev/kmsg")
	}
	claim.Holds("worker got signal 9, stress: failed run, exit status 1")
})

var _ = claim.Describe("G7", func(claim.Mode) string {
	return "over the limit, the OOM killer picks its victims; who dies is observed"
}, func(m claim.Mode) {
	l := m.Lab()
	// Four processes share the group: the child, sh, stress and its worker.
	o, _ := lab(l, "g7", "sh", "-c", "stress --vm-bytes 101m --vm-keep -m 1; exit $?")
	r := claim.Start(o)
	res, err := r.Wait()
	Expect(err).NotTo(HaveOccurred())
	Expect(res.ChildError).To(BeEmpty(), "the child lived to report how sh ended")
	Expect(res.Signal).To(BeZero(), "sh was not killed: it exited with stress's status")
	Expect(res.ExitCode).To(Equal(1))
	if res.OOMKnown {
		Expect(res.OOMKills).To(Equal(int64(1)), "one victim: the task with the most memory")
	}
	if len(res.Victims) > 0 {
		Expect(res.Victims).To(HaveLen(1))
		Expect(res.Victims[0].Task).To(Equal("stress"))
	}

	claim.Figure("processes killed (oom_kill)", res.OOMKills, m.Files.Events)
	for _, v := range res.Victims {
		claim.Figure("the one killed (kernel log)", v.String(), "/dev/kmsg")
	}
	claim.Figure("how the rest of the group ended", fmt.Sprintf("the child lived to report that sh exited with status %d, by no signal", res.ExitCode), "")
	allKilled := res.Signal == int(syscall.SIGKILL) || res.OOMKills > 1
	claim.Decide(allKilled, "",
		fmt.Sprintf("the OOM killer kills one task, the largest (stress's worker); the rest of the group lives on and exits by itself (oom_kill %d)", res.OOMKills)+
			map[int]string{1: "; v1 has no switch to kill the whole group", 2: "; v2 kills the whole group only with memory.oom.group=1"}[m.Version])
})

// Only v2 has a switch to kill the whole group.
var _ = claim.DescribeIn([]claim.Mode{claim.V2}, "G7", func(claim.Mode) string {
	return "with memory.oom.group=1, the whole group is killed"
}, func(m claim.Mode) {
	l := m.Lab()
	o, _ := lab(l, "g7group", "sh", "-c", "stress --vm-bytes 101m --vm-keep -m 1; exit $?")
	o.OOMGroup = true
	r := claim.Start(o)
	res, err := r.Wait()
	Expect(err).NotTo(HaveOccurred())
	Expect(res.Signal).To(Equal(int(syscall.SIGKILL)), "the child itself was killed")
	Expect(res.OOMKills).To(BeNumerically(">=", 2))

	claim.Figure("processes killed (oom_kill)", res.OOMKills, m.Files.Events)
	claim.Holds("with memory.oom.group=1 the whole group goes, as the article describes")
})
