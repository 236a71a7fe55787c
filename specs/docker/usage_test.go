package docker_test

import (
	"fmt"
	"math"

	. "github.com/onsi/gomega"

	"github.com/memlab/memlab/specs/claim"
)

// The article's figures for D3-D5 (kernel 4.4, cgroup v1).
const (
	articleUsage = 106049536
	articleRSS   = 105943040
)

var _ = claim.Describe("D3", func(m claim.Mode) string {
	return fmt.Sprintf("%s with stress's worker holding 100m under -m 128m", m.Files.Usage)
}, func(m claim.Mode) {
	labFor(m)
	r := settled(m)
	// All of the worker's 100m is charged here, and it fits the limit.
	Expect(r.usage).To(BeNumerically(">=", stressed))
	Expect(r.usage).To(BeNumerically("<", limit))

	inMiB := float64(r.usage) / (1 << 20)
	claim.Figure(m.Files.Usage, r.usage, m.Files.Usage)
	claim.SeriesOf("stress 100m in a -m 128m container", m.Files.Usage, limit, the.climb)
	claim.Figure("in MiB (article: 101.14)", fmt.Sprintf("%.2f", inMiB), "")
	// "About 101 MiB" read as the article reads its own figure:
	// 106049536 is 101.14 MiB, which it calls 101.
	claim.Decide(math.Round(inMiB) == 101,
		fmt.Sprintf("%.2f MiB: the worker's 100 MiB plus %s for the rest of the group (article: 101.14 MiB)", inMiB, kib(r.usage-stressed)),
		fmt.Sprintf("%.2f MiB, not about 101: beyond the worker's 100 MiB the group holds page cache %s, kernel memory %s, other anonymous memory %s",
			inMiB, kib(r.cache), kib(r.kernel), kib(r.rss-stressed)))
}, claim.NeedsDocker)

var _ = claim.Describe("D4", func(m claim.Mode) string {
	return fmt.Sprintf("%s against %s, and what makes up the difference", map[int]string{1: "memory.stat rss", 2: "memory.stat anon"}[m.Version], m.Files.Usage)
}, func(m claim.Mode) {
	labFor(m)
	// settled asserts usage = rss + cache + kernel memory, up to the
	// counters' own slack (claim.CounterSlack).
	r := settled(m)
	_, rssKey := r.stat.Anon()
	gap := r.usage - r.rss
	Expect(r.rss).To(BeNumerically("<=", r.usage+claim.CounterSlack()))

	claim.Figure(rssKey, r.rss, m.Files.Stat)
	claim.Figure(m.Files.Usage, r.usage, m.Files.Usage)
	claim.Figure(fmt.Sprintf("%s - %s (article: %d)", m.Files.Usage, rssKey, articleUsage-articleRSS), gap, "")
	claim.Figure("of which kernel memory", r.kernel, map[int]string{1: "memory.kmem.usage_in_bytes", 2: "memory.stat kernel, sock"}[m.Version])
	claim.Figure("of which page cache", r.cache, m.Files.Stat)
	claim.Figure("of which the counters' slack (the asynchronous part)", r.residual(), "")
	claim.Figure("largest slack the counters allow", claim.CounterSlack(), "")
	// The article is right if the gap is the asynchronous slack,
	// not memory usage counts and rss does not.
	counted := r.kernel + r.cache
	claim.Decide(counted <= gap/2,
		fmt.Sprintf("rss is %s below usage, and most of that is the counters' per-CPU slack", kib(gap)),
		fmt.Sprintf("%s is %s below %s, but not because usage is approximate: usage also charges the group's kernel memory (%s: page tables, kernel stacks, slab) and page cache (%s); "+
			"only %s is the asynchronous part (per-CPU charge batches, at most %s here); and it is usage that is the exact page counter, memory.stat that is flushed lazily%s",
			rssKey, kib(gap), m.Files.Usage, kib(r.kernel), kib(r.cache), kib(r.residual()), kib(claim.CounterSlack()),
			map[int]string{1: ". On the article's 4.4 kernel v1 charged kernel memory only to groups given a kmem limit, which Docker does not set"}[m.Version]))
}, claim.NeedsDocker)

var _ = claim.Describe("D5", func(m claim.Mode) string {
	return fmt.Sprintf("rss + cache + swap against %s and the memory the group is charged for", m.Files.Usage)
}, func(m claim.Mode) {
	labFor(m)
	r := settled(m)
	_, rssKey := r.stat.Anon()
	_, cacheKey := r.stat.File()
	formula := r.rss + r.cache + r.swap
	Expect(r.swap).To(BeNumerically(">=", 0))

	claim.Figure(rssKey, r.rss, m.Files.Stat)
	claim.Figure(cacheKey+" (article: 0)", r.cache, m.Files.Stat)
	claim.Figure("swap (article: 0)", r.swap, map[int]string{1: m.Files.Stat, 2: "memory.swap.current"}[m.Version])
	claim.Figure(fmt.Sprintf("%s + %s + swap", rssKey, cacheKey), formula, m.Files.Stat)
	claim.Figure(m.Files.Usage, r.usage, m.Files.Usage)
	claim.Figure("kernel memory charged to the group", r.kernel, map[int]string{1: "memory.kmem.usage_in_bytes", 2: "memory.stat kernel, sock"}[m.Version])
	claim.Decide(r.kernel == 0,
		fmt.Sprintf("no kernel memory is charged to the group here, so rss + cache + swap (%s) is all it uses", mib(formula)),
		fmt.Sprintf("the group also holds %s of kernel memory (page tables, kernel stacks, slab), charged to %s and counted against the limit; "+
			"rss + cache + swap = %s leaves it out. The group's memory is rss + cache + kernel memory = %s (+ swap %s, outside %s)",
			kib(r.kernel), m.Files.Usage, mib(formula), mib(r.rss+r.cache+r.kernel), kib(r.swap), m.Files.Usage))
}, claim.NeedsDocker)
