package docker_test

import (
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/memlab/memlab/labs/kernel/cgroup"
	"github.com/memlab/memlab/labs/kernel/proc"
	"github.com/memlab/memlab/labs/report/why"
	"github.com/memlab/memlab/specs/claim"
)

var _ = claim.Describe("D8", func(m claim.Mode) string {
	return fmt.Sprintf("the worker's RES from /proc against %s, and what else the group is charged for", m.Files.Usage)
}, func(ctx SpecContext, m claim.Mode) {
	d := labFor(m)
	r := settled(ctx, m)
	w, err := proc.ReadStatus(d.worker.PID)
	Expect(err).NotTo(HaveOccurred())
	Expect(w.Resident).To(BeNumerically(">=", stressed), "the worker holds its 100m")
	Expect(w.Resident).To(BeNumerically("<", r.usage), "the article's observation: RES below the group's usage")
	gap := r.usage - w.Resident

	var othersAnon int64
	var named []string
	ssh := "the container runs no ssh"
	for _, p := range others() {
		othersAnon += p.Anon
		if strings.Contains(p.Comm, "ssh") {
			ssh = "the container does run " + p.Comm
		}
		named = append(named, fmt.Sprintf("%s %d (RES %s, private %s)", p.Comm, p.PID, kib(p.Resident), kib(p.Anon)))
	}
	// usage = every task's private memory + page cache + kernel
	// memory (+ slack); the worker's RES also counts the file (and
	// shared) pages it maps, charged to whoever read them first.
	explained := othersAnon + r.cache + r.kernel - (w.Resident - w.Anon)
	Expect(gap).To(BeNumerically("~", explained, 2*claim.CounterSlack()),
		"usage %d - RES %d = %d; others' private %d + cache %d + kernel %d - worker's file pages %d", r.usage, w.Resident, gap, othersAnon, r.cache, r.kernel, w.File)

	claim.Figure("stress worker's RES (article: 102336 KiB)", kib(w.Resident), fmt.Sprintf("/proc/%d/status VmRSS", w.PID))
	claim.Figure(m.Files.Usage, fmt.Sprintf("%d (%s)", r.usage, kib(r.usage)), m.Files.Usage)
	claim.Figure("usage - RES (article: 1228 KiB)", kib(gap), "")
	claim.Figure("the other tasks", strings.Join(named, ", "), m.Files.Procs)
	claim.Figure("their private memory, together", kib(othersAnon), "/proc/PID/status RssAnon")
	claim.Figure("kernel memory charged to the group", kib(r.kernel), cgroup.KernelFiles(m.Version))
	claim.Figure("of it, the worker's page tables", kib(w.PageTables), fmt.Sprintf("/proc/%d/status VmPTE", w.PID))
	claim.Figure("page cache charged to the group", kib(r.cache), m.Files.Stat)
	claim.Figure("the worker's file pages, in RES but charged elsewhere", kib(w.File), fmt.Sprintf("/proc/%d/status RssFile", w.PID))

	v := claim.Kernel()
	kernel := why.KernelMemory(v, m.Version, r.kernel)
	if pt := why.PageTables(v, w.PageTables); pt != "" {
		kernel += "; " + pt
	}
	// The article's reason holds if the other tasks are there and the gap
	// is theirs: the group charged for no more than their pages and the
	// article's own bound. Which of the other tasks' memory and kernel
	// memory is the larger part would weigh two figures of a few hundred
	// KiB each, as close to each other as the counters' slack.
	claim.Decide(othersAnon > 0 && chargedLikeArticle(m, r),
		fmt.Sprintf("RES is %s below usage because of the other tasks (%s): %s of private memory together; the group is charged no more kernel memory and page cache (%s) than the article's figures leave room for (%s): %s; %s",
			kib(gap), strings.Join(named, ", "), kib(othersAnon), kib(r.beyondTasks()), kib(articleBeyondRSS), kernel, ssh),
		fmt.Sprintf("RES is below usage (by %s), and the other tasks are only part of why: %s hold %s of private memory together, while the group is also charged %s of kernel memory "+
			"and %s of page cache, more than the %s the article's figures leave room for (%s); %s",
			kib(gap), strings.Join(named, ", "), kib(othersAnon), kib(r.kernel), kib(r.cache), kib(articleBeyondRSS), kernel, ssh))
}, claim.NeedsDocker)

var _ = claim.Describe("D9", func(m claim.Mode) string {
	return fmt.Sprintf("%s against the container's processes as docker top reports them", m.Files.Procs)
}, func(ctx SpecContext, m claim.Mode) {
	d := labFor(m)
	procs, err := d.g.Procs()
	Expect(err).NotTo(HaveOccurred())
	top, err := d.c.Top(ctx)
	Expect(err).NotTo(HaveOccurred())
	var topPIDs []int
	for _, p := range top {
		topPIDs = append(topPIDs, p.PID)
	}
	Expect(procs).To(ConsistOf(topPIDs))
	Expect(procs).To(ContainElements(d.c.InitPID, d.shell.PID, d.master.PID, d.worker.PID))

	var named []string
	for _, pid := range procs {
		p, err := proc.ReadStatus(pid)
		Expect(err).NotTo(HaveOccurred())
		// Host PIDs: inside its PID namespace each has another one.
		if pid == d.c.InitPID {
			Expect(p.NSPID).To(Equal(1))
		}
		Expect(p.NSPID).NotTo(Equal(p.PID))
		named = append(named, p.String())
	}
	threads, err := d.g.Threads()
	Expect(err).NotTo(HaveOccurred())

	claim.Figure(m.Files.Procs+" (article: 5 PIDs)", fmt.Sprintf("%d PIDs: %s", len(procs), strings.Join(named, ", ")), m.Files.Procs)
	claim.Figure("docker top PIDs", fmt.Sprint(topPIDs), "GET /containers/ID/top")
	claim.Figure(m.Files.Threads, fmt.Sprintf("%d IDs", len(threads)), m.Files.Threads)
	claim.Holds(fmt.Sprintf("%s holds exactly the host PIDs docker top lists: %d here (%s), running what the article ran "+
		"(the container's bash, the bash docker exec started, stress and its worker); the article listed 5 while its docker stats showed 4: the count is whatever runs at that moment",
		m.Files.Procs, len(procs), strings.Join(named, ", ")))
}, claim.NeedsDocker)
