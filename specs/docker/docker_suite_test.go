// The Docker suite: the article's first half, claim by claim (D1-D9),
// against a real Docker engine. One container serves every spec, as one
// served the article, running what it ran: `docker run -itd -m 128m` of
// the lab image with bash, then `docker exec -it ... bash` and, typed at
// that bash, `stress --vm-bytes 100m --vm-keep -m 1`. The specs only read
// it, except D7, which adds a file and removes it again.
package docker_test

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/memlab/memlab/labs/docker"
	"github.com/memlab/memlab/labs/kernel/cgroup"
	"github.com/memlab/memlab/labs/kernel/proc"
	"github.com/memlab/memlab/specs/claim"
)

func TestDocker(t *testing.T) {
	claim.DieWithParent()
	RegisterFailHandler(Fail)
	RunSpecs(t, "docker: D1-D9")
}

// The article's sizes: docker run -m 128m, stress --vm-bytes 100m.
const (
	limitArg  = "128m"
	stressArg = "100m"
	limit     = 128 << 20
	stressed  = 100 << 20
)

// lab is the suite's one container and what the specs read of it.
type lab struct {
	engine         *docker.Engine
	c              *docker.Container
	layout         cgroup.Layout
	loc            docker.Location
	g              *cgroup.Group   // read-only view of the container's memory cgroup
	shell          proc.Process    // the bash docker exec started, host PID
	master, worker proc.Process    // stress and its worker, host PIDs
	climb          []cgroup.Sample // usage while the worker took its 100m
	clis           []docker.CLI
	noEngine       string // why there is no engine, if there is none
}

var the lab

// image is the lab image the suite runs (and builds when it is missing):
// go tool ginkgo ./specs/docker -- -memlab.image=REF
var image = flag.String("memlab.image", docker.DefaultImage, "the lab image to run (built offline when missing)")

var _ = BeforeSuite(func(ctx SpecContext) {
	claim.UsePollTolerances()
	the.clis = docker.FindCLIs(ctx)
	var clis []string
	for _, c := range the.clis {
		clis = append(clis, c.String())
	}
	if len(clis) == 0 {
		clis = append(clis, "no docker CLI")
	}
	e, err := docker.Connect(ctx)
	if err != nil {
		the.noEngine = err.Error()
		claim.RecordDockerEnv(err.Error(), strings.Join(clis, ", "))
		return // each spec skips (or, in CI, fails) with the reason
	}
	DeferCleanup(e.Close)
	the.engine = e
	claim.RecordDockerEnv(e.String(), strings.Join(clis, ", "))

	// Containers of runs that were killed (their run's PID is gone) go first.
	swept, err := e.Sweep(ctx)
	for _, s := range swept {
		GinkgoWriter.Printf("sweep: %s (run %s): %s\n", s.Name, s.Run, s.Why)
	}
	Expect(err).NotTo(HaveOccurred(), "sweeping containers killed runs left")

	built, err := e.EnsureImage(ctx, *image)
	Expect(err).NotTo(HaveOccurred())
	if built {
		GinkgoWriter.Printf("built %s\n", *image)
	}

	l, err := cgroup.Detect()
	if err != nil {
		return // every spec skips through Mode.Lab with the reason
	}
	the.layout = l
	size, err := cgroup.ParseSize(limitArg) // as `docker run -m` reads it (go-units)
	Expect(err).NotTo(HaveOccurred())

	// Cleanup first, then the container (claim.Made): an interrupt while it
	// is being made still removes it.
	c, err := claim.Made(func() (*docker.Container, error) {
		return e.Start(ctx, docker.Options{Image: *image, Memory: size, Name: "memlab-d", WarmImage: true, Cmd: []string{"bash"}, Interactive: true})
	}, func(_ SpecContext, c *docker.Container) { Expect(c.Remove()).To(Succeed()) })
	Expect(err).NotTo(HaveOccurred())
	the.c = c

	the.loc, err = c.Cgroup(l)
	Expect(err).NotTo(HaveOccurred())
	the.g = the.loc.Group(l)
	// D3's chart: the container's usage while stress's worker climbs to 100m.
	sampler := the.g.StartSampling(claim.SampleEvery)
	the.shell, the.master, the.worker, err = c.StressFromShell(ctx, "bash", stressArg, stressed)
	the.climb = sampler.Stop()
	Expect(err).NotTo(HaveOccurred())
}, NodeTimeout(3*time.Minute))

// labFor gives a spec the suite's container in mode m, or skips it with the
// reason: not root, the memory controller on the other cgroup version, or
// no Docker engine (a failure instead under -memlab.require-docker). If
// the spec fails, the container's evidence is filed, or, when the engine
// no longer answers, the engine's status.
func labFor(m claim.Mode) *lab {
	GinkgoHelper()
	m.Lab()
	if the.noEngine != "" {
		claim.NoDocker(the.noEngine)
	}
	Expect(the.c).NotTo(BeNil(), "the suite's container was not made")
	DeferCleanup(func(ctx SpecContext) {
		if !CurrentSpecReport().Failed() {
			return
		}
		claim.Evidence(the.g)
		// A spec the engine's loss cut short has no result; it did not fail.
		if err := the.engine.Answers(context.WithoutCancel(ctx)); err != nil {
			claim.EngineWentAway(err.Error())
			return
		}
		dockerEvidence()
	})
	return &the
}

// dockerEvidence files what the engine says of the container.
func dockerEvidence() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var b strings.Builder
	fmt.Fprintf(&b, "== %s, container %s (%s), cgroup %s\n", the.engine, the.c.Name, the.c.ID, the.loc.Dir)
	if top, err := the.c.Top(ctx); err != nil {
		fmt.Fprintf(&b, "docker top: %v\n", err)
	} else {
		for _, p := range top {
			fmt.Fprintf(&b, "docker top: PID %d PPID %d %s\n", p.PID, p.PPID, p.Cmd)
		}
	}
	if s, err := the.c.Stats(ctx); err != nil {
		fmt.Fprintf(&b, "stats: %v\n", err)
	} else {
		fmt.Fprintf(&b, "stats: usage %d limit %d max_usage %d failcnt %d stats %v\n",
			s.MemoryStats.Usage, s.MemoryStats.Limit, s.MemoryStats.MaxUsage, s.MemoryStats.Failcnt, s.MemoryStats.Stats)
	}
	AddReportEntry("docker evidence", b.String(), ReportEntryVisibilityFailureOrVerbose)
}

// reading is one look at the container's memory cgroup, in the article's
// terms; on v2 the translation (anon for rss, file for cache).
type reading struct {
	usage  int64 // usage_in_bytes / memory.current
	rss    int64 // stat rss / anon
	cache  int64 // stat cache / file
	swap   int64 // stat swap / memory.swap.current
	kernel int64 // memory.kmem.usage_in_bytes / stat kernel (+ sock)
	stat   cgroup.Stat
}

// residual is what the group is charged for beyond its anonymous memory,
// page cache and kernel memory: the counters' asynchronous slack alone.
// Swap is not in usage_in_bytes (v1 counts it in memsw.usage_in_bytes).
func (r reading) residual() int64 { return r.usage - r.rss - r.cache - r.kernel }

func read(m claim.Mode) reading {
	g := the.g
	var r reading
	raw, err := g.ReadFile(m.Files.Usage)
	Expect(err).NotTo(HaveOccurred())
	r.usage, err = cgroup.ParseValue(raw)
	Expect(err).NotTo(HaveOccurred())
	c, st, err := g.Charged()
	Expect(err).NotTo(HaveOccurred())
	r.stat, r.rss, r.cache, r.kernel = st, c.Anon, c.File, c.Kernel
	if m.Version == 1 {
		r.swap = r.stat.KeyValues["swap"]
	} else {
		r.swap = fileValue(g, "memory.swap.current")
	}
	return r
}

// fileValue reads a single-value file the kernel may lack (0 then).
func fileValue(g *cgroup.Group, name string) int64 {
	if !g.HasFile(name) {
		return 0
	}
	s, err := g.ReadFile(name)
	Expect(err).NotTo(HaveOccurred())
	v, err := cgroup.ParseValue(s)
	Expect(err).NotTo(HaveOccurred())
	return v
}

// settled reads until the counters agree within claim.CounterSlack: right
// after a change memory.stat may not yet have been flushed.
func settled(ctx context.Context, m claim.Mode) reading {
	var r reading
	Eventually(ctx, func(g Gomega) {
		r = read(m)
		g.Expect(r.residual()).To(BeNumerically("~", 0, claim.CounterSlack()),
			"usage %d - rss %d - cache %d - kernel %d", r.usage, r.rss, r.cache, r.kernel)
	}).Should(Succeed())
	return r
}

// articleBeyondRSS is the most the article's kernel charged its container
// for beyond its tasks' pages: its usage_in_bytes exceeded its rss by
// 104 KiB, with cache and swap 0. On 4.4 usage_in_bytes never reads below
// the pages charged (the per-CPU stock only adds to it) and memory.stat was
// summed exactly on every read, so kernel memory and page cache together
// were at most that.
const articleBeyondRSS = articleUsage - articleRSS

// beyondTasks is what the group is charged for beyond its tasks' pages:
// kernel memory and page cache, read from counters the charge stock does
// not touch (claim.ChargedSlack).
func (r reading) beyondTasks() int64 { return r.kernel + r.cache }

// chargedLikeArticle is the rule D3, D4 and D8 are decided by. Each reads
// the article's explanation of a figure: usage is the worker's 100 MiB plus
// the other tasks' memory (D3), the rest of usage beyond rss is the counters'
// asynchrony (D4), RES is below usage because of the other tasks (D8). What
// decides between them and this kernel is not usage itself, which runs up to
// a charge batch per CPU ahead (1 MiB on 2 CPUs from 6.1, as wide as the
// whole difference) and moves with what else runs on the CPUs, but whether
// the group is charged for more than its tasks' pages beyond the article's
// own bound, read from the kernel-memory and page-cache counters. The margin
// to that bound must exceed those counters' slack, or the spec fails.
func chargedLikeArticle(m claim.Mode, r reading) bool {
	GinkgoHelper()
	claim.Margin("kernel memory + page cache (threshold: the article's usage - rss)", r.beyondTasks(), articleBeyondRSS, claim.ChargedSlack(m.Version))
	return r.beyondTasks() <= articleBeyondRSS
}

// kib renders bytes for a verdict's prose.
func kib(b int64) string { return fmt.Sprintf("%d KiB", b>>10) }

func mib(b int64) string { return fmt.Sprintf("%.2f MiB", float64(b)/(1<<20)) }

// tasks names the container's processes other than stress's worker.
func others() []proc.Status {
	pids, err := the.g.Procs()
	Expect(err).NotTo(HaveOccurred())
	var out []proc.Status
	for _, pid := range pids {
		if pid == the.worker.PID {
			continue
		}
		p, err := proc.ReadStatus(pid)
		Expect(err).NotTo(HaveOccurred())
		out = append(out, p)
	}
	return out
}
