package docker_test

import (
	"fmt"
	"os"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/memlab/memlab/labs/kernel/cgroup"
	"github.com/memlab/memlab/labs/kernel/release"
	"github.com/memlab/memlab/labs/report/why"
	"github.com/memlab/memlab/specs/claim"
)

// The article's figures for D3-D5 (kernel 4.4, cgroup v1).
const (
	articleUsage = 106049536
	articleRSS   = 105943040
)

var _ = claim.Describe("D3", func(m claim.Mode) string {
	return fmt.Sprintf("%s with stress's worker holding 100m under -m 128m", m.Files.Usage)
}, func(ctx SpecContext, m claim.Mode) {
	labFor(m)
	r := settled(ctx, m)
	// All of the worker's 100m is charged here, and it fits the limit.
	Expect(r.usage).To(BeNumerically(">=", stressed))
	Expect(r.usage).To(BeNumerically("<", limit))

	inMiB := float64(r.usage) / (1 << 20)
	claim.Figure(m.Files.Usage, r.usage, m.Files.Usage)
	claim.SeriesOf("stress 100m in a -m 128m container", m.Files.Usage, limit, the.climb)
	claim.Figure("in MiB (article: 101.14)", fmt.Sprintf("%.2f", inMiB), "")
	others := r.rss - stressed
	claim.Figure("beyond the worker's 100 MiB: the other tasks' anonymous memory, page cache, kernel memory, the counters' slack",
		fmt.Sprintf("%s, %s, %s, %s", kib(others), kib(r.cache), kib(r.kernel), kib(r.residual())), m.Files.Stat+", "+cgroup.KernelFiles(m.Version))
	// The article's 101.14 MiB is the worker's 100 MiB and its other
	// tasks' memory (its rss, 101.03 MiB) with at most 104 KiB more.
	// Whether a reading rounds to 101 or 102 is not something usage can
	// tell here: it runs up to a charge batch per CPU ahead of the pages
	// in use, so the rule is chargedLikeArticle's.
	ahead := claim.Kernel().UsageAhead(claim.OnlineCPUs(), os.Getpagesize())
	claim.Decide(chargedLikeArticle(m, r),
		fmt.Sprintf("%.2f MiB: the worker's 100 MiB plus %s of the other tasks' memory, and no more kernel memory and page cache (%s) than the article's figures leave room for (%s); %s",
			inMiB, kib(others), kib(r.beyondTasks()), kib(articleBeyondRSS), why.KernelMemory(claim.Kernel(), m.Version, r.kernel)),
		fmt.Sprintf("%.2f MiB, not the article's worker plus other tasks: beyond the worker's 100 MiB the group holds the other tasks' anonymous memory %s, as the article's did, but also kernel memory %s and page cache %s, more than the %s the article's figures leave room for; %s. "+
			"Whether such a reading rounds to 101 or 102 MiB usage cannot tell here: it runs up to %s ahead of the pages in use (a charge batch per CPU)",
			inMiB, kib(others), kib(r.kernel), kib(r.cache), kib(articleBeyondRSS), why.KernelMemory(claim.Kernel(), m.Version, r.kernel), kib(ahead)))
}, claim.NeedsDocker)

var _ = claim.Describe("D4", func(m claim.Mode) string {
	return fmt.Sprintf("%s against %s, and what makes up the difference", map[int]string{1: "memory.stat rss", 2: "memory.stat anon"}[m.Version], m.Files.Usage)
}, func(ctx SpecContext, m claim.Mode) {
	labFor(m)
	v, cpus, page := claim.Kernel(), claim.OnlineCPUs(), os.Getpagesize()
	// settled asserts usage = rss + cache + kernel memory, up to the
	// counters' own slack (claim.CounterSlack).
	r := settled(ctx, m)
	_, rssKey := r.stat.Anon()
	gap := r.usage - r.rss
	Expect(r.rss).To(BeNumerically("<=", r.usage+claim.CounterSlack()))

	claim.Figure(rssKey, r.rss, m.Files.Stat)
	claim.Figure(m.Files.Usage, r.usage, m.Files.Usage)
	claim.Figure(fmt.Sprintf("%s - %s (article: %d)", m.Files.Usage, rssKey, articleUsage-articleRSS), gap, "")
	claim.Figure("of which kernel memory", r.kernel, cgroup.KernelFiles(m.Version))
	claim.Figure("of which page cache", r.cache, m.Files.Stat)
	claim.Figure("of which the counters' slack (the asynchronous part)", r.residual(), "")
	claim.Figure("largest slack the counters allow on this kernel", claim.CounterSlack(), "")
	// The article is right if the gap is the asynchronous slack, not
	// memory usage counts and rss does not. Weighing the counted part
	// against the slack would weigh two figures of the same size as the
	// slack itself (on 2 CPUs from 6.1); chargedLikeArticle asks instead
	// whether the group is charged for more than the article's whole gap.
	counters := why.CountersDiffer(v, m.Files.Usage, cpus, page)
	claim.Decide(chargedLikeArticle(m, r),
		fmt.Sprintf("rss is %s below usage; kernel memory and page cache (%s) are no more than the article's whole gap (%s), so the rest (%s) is the counters' slack: %s", kib(gap), kib(r.beyondTasks()), kib(articleBeyondRSS), kib(r.residual()), counters),
		fmt.Sprintf("%s is %s below %s, and not only because usage is approximate: usage also charges the group's kernel memory (%s) and page cache (%s), which %s leaves out, more than the article's whole gap (%s); "+
			"the counters' slack is the remaining %s. %s. %s%s",
			rssKey, kib(gap), m.Files.Usage, kib(r.kernel), kib(r.cache), rssKey, kib(articleBeyondRSS), kib(r.residual()), counters,
			why.KernelMemory(v, m.Version, r.kernel), articleKernel(v, m)))
}, claim.NeedsDocker)

// articleKernel is what the article's own kernel did with kernel memory,
// where its rule differs from this kernel's.
func articleKernel(v release.Version, m claim.Mode) string {
	a := release.Article
	if m.Version != 1 || v.Has(release.V1KmemUnlimited) == a.Has(release.V1KmemUnlimited) && v.Has(release.PageTablesCharged) == a.Has(release.PageTablesCharged) {
		return ""
	}
	return ". The article's kernel differs: " + why.KernelMemoryRule(a, 1)
}

var _ = claim.Describe("D5", func(m claim.Mode) string {
	return fmt.Sprintf("rss + cache + swap against %s and the memory the group is charged for", m.Files.Usage)
}, func(ctx SpecContext, m claim.Mode) {
	labFor(m)
	v := claim.Kernel()
	r := settled(ctx, m)
	_, rssKey := r.stat.Anon()
	_, cacheKey := r.stat.File()
	formula := r.rss + r.cache + r.swap
	Expect(r.swap).To(BeNumerically(">=", 0))

	claim.Figure(rssKey, r.rss, m.Files.Stat)
	claim.Figure(cacheKey+" (article: 0)", r.cache, m.Files.Stat)
	claim.Figure("swap (article: 0)", r.swap, map[int]string{1: m.Files.Stat, 2: "memory.swap.current"}[m.Version])
	claim.Figure(fmt.Sprintf("%s + %s + swap", rssKey, cacheKey), formula, m.Files.Stat)
	claim.Figure(m.Files.Usage, r.usage, m.Files.Usage)
	claim.Figure("kernel memory charged to the group", r.kernel, cgroup.KernelFiles(m.Version))
	advice := "rss + cache (+ swap) is memory.rst 5.5's own advice for a figure more exact than usage_in_bytes"
	if m.Version == 2 {
		advice = "anon + file (+ swap) is v2's translation of memory.rst 5.5's advice (rss + cache + swap) for a figure more exact than usage"
	}
	claim.Decide(r.kernel == 0,
		fmt.Sprintf("%s; no kernel memory is charged to the group here, so it is all the group uses (%s): %s", advice, mib(formula), why.KernelMemory(v, m.Version, r.kernel)),
		fmt.Sprintf("%s, but it leaves out the kernel memory the group is charged for and limited by: %s. "+
			"The group's memory is %s + %s + kernel memory = %s (+ swap %s, outside %s), where %s + %s + swap = %s",
			advice, why.KernelMemory(v, m.Version, r.kernel), rssKey, cacheKey, mib(r.rss+r.cache+r.kernel), kib(r.swap), m.Files.Usage, rssKey, cacheKey, mib(formula)))
}, claim.NeedsDocker)
