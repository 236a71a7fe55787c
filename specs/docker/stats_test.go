package docker_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/docker/docker/api/types/container"

	"github.com/memlab/memlab/labs/docker"
	"github.com/memlab/memlab/specs/claim"
)

// d7File is written in the container to give it page cache that is
// inactive: 8 MiB, well inside the 28 MiB the limit leaves.
const (
	d7File = "/memlab-d7"
	d7Size = 8 << 20
)

// cliRun is what one docker CLI printed, beside the API sample taken just
// before it ran (the workload holds its memory still, so one sample does).
type cliRun struct {
	cli    docker.CLI
	line   docker.StatsLine
	text   string
	sample container.MemoryStats
	err    error
}

// runCLIs runs `docker stats --no-stream` of every CLI at once (each takes
// a second or two: the engine samples twice for CPU %).
func runCLIs(ctx context.Context, d *lab) []cliRun {
	s, err := d.c.Stats(ctx)
	Expect(err).NotTo(HaveOccurred())
	runs := make([]cliRun, len(d.clis))
	var wg sync.WaitGroup
	for i, c := range d.clis {
		wg.Go(func() {
			runs[i] = cliRun{cli: c, sample: s.MemoryStats}
			runs[i].line, runs[i].text, runs[i].err = c.Stats(ctx, d.c.ID)
		})
	}
	wg.Wait()
	for _, r := range runs {
		Expect(r.err).NotTo(HaveOccurred())
	}
	return runs
}

// near says whether a printed size is b, up to the CLI's rounding (four
// significant digits) and the counters' slack between the two samples.
func near(l docker.StatsLine, b uint64) bool {
	return math.Abs(l.Usage-float64(b)) <= l.UsageHalfUnit+float64(claim.CounterSlack())
}

var _ = claim.Describe("D7", func(m claim.Mode) string {
	return fmt.Sprintf("the stats API and each docker CLI's MEM USAGE against %s, with and without 8 MiB of page cache in the container", m.Files.Usage)
}, func(ctx SpecContext, m claim.Mode) {
	d := labFor(m)
	// The engine's API reports the cgroup's figures as they are.
	s, err := d.c.Stats(ctx)
	Expect(err).NotTo(HaveOccurred())
	r := settled(ctx, m)
	Expect(float64(s.MemoryStats.Usage)).To(BeNumerically("~", r.usage, claim.CounterSlack()))
	Expect(s.MemoryStats.Limit).To(Equal(uint64(limit)))
	claim.Figure("stats API memory_stats.usage", s.MemoryStats.Usage, "GET /containers/ID/stats?one-shot=1")
	claim.Figure("stats API memory_stats.limit", s.MemoryStats.Limit, "GET /containers/ID/stats?one-shot=1")
	claim.Figure(m.Files.Usage, r.usage, m.Files.Usage)

	plain := runCLIs(ctx, d)

	// Page cache the container wrote: usage counts it, the CLI
	// leaves inactive page cache out.
	DeferCleanup(func(ctx SpecContext) {
		res, err := d.c.Run(context.WithoutCancel(ctx), "rm", "-f", d7File)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.ExitCode).To(BeZero(), res.Output)
		Eventually(ctx, func() int64 { return read(m).cache }).Should(
			BeNumerically("<=", r.cache+claim.CounterSlack()), "the file's page cache is freed with it")
	})
	res, err := d.c.Run(ctx, "dd", "if=/dev/zero", "of="+d7File, "bs=1M", fmt.Sprintf("count=%d", d7Size>>20))
	Expect(err).NotTo(HaveOccurred())
	Expect(res.ExitCode).To(BeZero(), res.Output)
	var withFile reading
	Eventually(ctx, func() int64 { withFile = settled(ctx, m); return withFile.cache }).Should(
		BeNumerically(">=", r.cache+d7Size-claim.CounterSlack()), "the file's page cache is charged to the container")
	cached := runCLIs(ctx, d)

	printsUsage := true
	if len(d.clis) == 0 {
		// No CLI to run: what one of the engine's version would print, by its source.
		after, err := d.c.Stats(ctx)
		Expect(err).NotTo(HaveOccurred())
		rule := docker.CLIRule(d.engine.Version)
		would := docker.MemUsage(rule, after.MemoryStats)
		claim.Figure("docker CLI", "none on this host: a CLI "+d.engine.Version+" would print "+docker.HumanSize(float64(would))+" ("+string(rule)+")", "")
		printsUsage = would == after.MemoryStats.Usage
	}
	for i, run := range append(plain, cached...) {
		phase := "as is"
		if i >= len(plain) {
			phase = fmt.Sprintf("with %d MiB written to %s", d7Size>>20, d7File)
		}
		rule := run.cli.Rule()
		want := docker.MemUsage(rule, run.sample)
		Expect(near(run.line, want)).To(BeTrue(), "%s printed %q; its rule %q gives %d from the API sample %d (total_inactive_file %d, inactive_file %d, cache %d)",
			run.cli, run.text, rule, want, run.sample.Usage, run.sample.Stats["total_inactive_file"], run.sample.Stats["inactive_file"], run.sample.Stats["cache"])
		Expect(run.line.Limit).To(Equal(float64(limit)), "LIMIT is the container's limit")
		Expect(run.line.Percent).To(BeNumerically("~", float64(want)/limit*100, 0.005+float64(claim.CounterSlack())/limit*100))
		claim.Figure(fmt.Sprintf("docker stats MEM USAGE / LIMIT, MEM %%, %s, %s (article: 101.1MiB / 128MiB, 79.01%%)", run.cli, phase),
			strings.Replace(run.text, "|", ", ", 1), "docker stats --no-stream")
		claim.Figure(fmt.Sprintf("what %s's rule gives from the API sample (%s)", run.cli.Version, rule), want, "")
		if i >= len(plain) {
			key := map[int]string{1: "total_inactive_file", 2: "inactive_file"}[m.Version]
			claim.Figure(fmt.Sprintf("API usage and %s in that sample (%s)", key, phase),
				fmt.Sprintf("%d, %d", run.sample.Usage, run.sample.Stats[key]), "")
			// near's tolerance is the printed unit's rounding plus the
			// counters' slack; the file's 8 MiB of inactive page cache
			// must put the rule that far on one side or the other.
			claim.Margin(fmt.Sprintf("|MEM USAGE %s printed - API usage|", run.cli.Version), int64(math.Abs(run.line.Usage-float64(run.sample.Usage))),
				int64(run.line.UsageHalfUnit)+claim.CounterSlack(), claim.CounterSlack())
			printsUsage = printsUsage && near(run.line, run.sample.Usage)
		}
	}
	claim.Figure(m.Files.Usage+" with the file", withFile.usage, m.Files.Usage)

	// What the claim's usage_in_bytes is here: on v2 the engine reports memory.current.
	usage := m.Files.Usage
	if m.Version == 2 {
		usage += " (v2's usage_in_bytes)"
	}
	history := "MEM USAGE is what the CLI computes from the API's usage (= " + m.Files.Usage + " here): up to 17.05 usage itself; " +
		"17.06-19.03 usage - cache (docker/cli#80); 20.10 on usage - total_inactive_file on v1, usage - inactive_file on v2 (docker/cli#2415)"
	var ran []string
	for _, c := range d.clis {
		ran = append(ran, fmt.Sprintf("%s applies %q", c, c.Rule()))
	}
	if len(ran) == 0 {
		ran = append(ran, "no CLI here to run")
	}
	claim.Decide(printsUsage,
		"every CLI here printed "+usage+" even with inactive page cache in the container; "+history,
		fmt.Sprintf("LIMIT is the limit, but MEM USAGE is not %s: with %d MiB of page cache written in the container %s was %s while docker stats printed %s. %s; here %s. "+
			"The article's 101.1MiB matched usage_in_bytes only because its container had no page cache (cache 0), and so did ours until the file was written (%s)",
			usage, d7Size>>20, m.Files.Usage, mib(withFile.usage), printed(cached), history, strings.Join(ran, ", "), printed(plain)))
}, claim.NeedsDocker)

func printed(runs []cliRun) string {
	var s []string
	for _, r := range runs {
		s = append(s, fmt.Sprintf("%s from %s", r.line.UsageText, r.cli.Version))
	}
	if len(s) == 0 {
		return "no CLI"
	}
	return strings.Join(s, ", ")
}
