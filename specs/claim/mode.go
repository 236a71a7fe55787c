package claim

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/memlab/memlab/labs/kernel/cgroup"
	"github.com/memlab/memlab/labs/kernel/kmsg"
	"github.com/memlab/memlab/labs/report/ledger"
	"github.com/memlab/memlab/labs/runner"
)

// Mode is a cgroup version a claim is checked in. Specs are written once and
// run for both; the one this kernel does not drive memory through skips
// with the reason, and the kernel matrix runs it where it can.
type Mode struct {
	Version int
	Files   cgroup.Files
}

// V1 is the article's cgroup version; V2 is its translation.
var (
	V1 = Mode{1, cgroup.V1Files}
	V2 = Mode{2, cgroup.V2Files}
)

// Modes are the modes every claim is checked in, as ledger.Modes names them.
var Modes = []Mode{V1, V2}

// Label is the Ginkgo labels of a spec in this mode: the mode, which files
// its result, and root, which every lab needs.
func (m Mode) Label() ginkgo.Labels { return ginkgo.Label("root", ledger.ModeLabel(m.Name())) }

// Name is "v1" or "v2".
func (m Mode) Name() string { return fmt.Sprintf("v%d", m.Version) }

// Lab returns this machine's layout, or skips the spec with the reason it
// cannot run here: not root, no cgroup filesystem, or the memory controller
// on the other version.
func (m Mode) Lab() cgroup.Layout {
	ginkgo.GinkgoHelper()
	if os.Geteuid() != 0 {
		ginkgo.Skip("needs root: the labs write the cgroup filesystem")
	}
	_, l, err := Env()
	if err != nil {
		ginkgo.Skip("no memory cgroup here: " + err.Error())
	}
	if l.Version != m.Version {
		ginkgo.Skip(fmt.Sprintf("the memory controller is on cgroup v%d here (%s); v%d claims run under the kernel matrix",
			l.Version, l, m.Version))
	}
	return l
}

// Group makes a lab group that is removed when the spec ends, whatever
// happens; if the spec failed, the group's evidence is filed first.
func Group(l cgroup.Layout, name string) *cgroup.Group {
	g, err := Made(func() (*cgroup.Group, error) { return cgroup.Create(l, name) },
		func(ctx ginkgo.SpecContext, g *cgroup.Group) {
			if ginkgo.CurrentSpecReport().Failed() {
				Evidence(g)
			}
			Expect(g.Remove(context.WithoutCancel(ctx))).To(Succeed())
		})
	Expect(err).NotTo(HaveOccurred())
	return g
}

// Start starts the re-exec runner: the child is killed and the group
// removed even if the spec fails or is interrupted in the middle of it.
// The child is killed as soon as ctx, the spec's context, ends: a spec
// waiting for the workload (Wait) then returns at an interrupt, instead of
// when the workload would have ended.
func Start(ctx context.Context, o runner.Options) *runner.Run {
	r, err := Made(func() (*runner.Run, error) {
		r, err := runner.Start(ctx, o)
		if err == nil {
			// Not a DeferCleanup: an interrupt may have begun the cleanup
			// already, and Ginkgo refuses one registered after that.
			_ = context.AfterFunc(ctx, r.Kill)
		}
		return r, err
	},
		func(_ ginkgo.SpecContext, r *runner.Run) {
			if ginkgo.CurrentSpecReport().Failed() {
				Evidence(r.Group)
			}
			r.Kill()
			_, err := r.Wait()
			Expect(err).NotTo(HaveOccurred())
		})
	Expect(err).NotTo(HaveOccurred())
	return r
}

// MadeWait bounds how long a cleanup waits for a resource still being made.
const MadeWait = time.Minute

// Made builds a resource with its cleanup registered first. An interrupt
// can start Ginkgo's cleanup while build is still running, and a
// DeferCleanup registered after that point is refused, leaking what was
// built; here the cleanup is already in place and waits (up to MadeWait)
// for build to end. When build fails it must leave nothing behind, and
// cleanup is skipped.
func Made[T any](build func() (*T, error), cleanup func(ginkgo.SpecContext, *T)) (*T, error) {
	made := make(chan *T, 1)
	ginkgo.DeferCleanup(func(ctx ginkgo.SpecContext) {
		var v *T
		select {
		case v = <-made:
		case <-ctx.Done():
		case <-time.After(MadeWait):
		}
		if v != nil {
			cleanup(ctx, v)
		}
	})
	v, err := build()
	if err != nil {
		v = nil
	}
	made <- v
	return v, err
}

// Evidence files what a teacher or kernel engineer needs to see why a spec
// failed: memory.stat, the OOM state and the tail of the kernel log.
func Evidence(g *cgroup.Group) {
	var b strings.Builder
	for _, f := range []string{g.Files.Limit, g.Files.Usage, g.Files.Peak, g.Files.Events, g.Files.Stat, g.Files.Procs} {
		v, err := g.ReadFile(f)
		if err != nil {
			v = err.Error()
		}
		fmt.Fprintf(&b, "== %s/%s\n%s\n", g.Name, f, v)
	}
	fmt.Fprintf(&b, "== kernel log (tail)\n%s\n", kernelLogTail(20))
	ginkgo.AddReportEntry("evidence", b.String(), ginkgo.ReportEntryVisibilityFailureOrVerbose)
}

func kernelLogTail(n int) string {
	lines, err := kmsg.Tail(n)
	if err != nil {
		return err.Error()
	}
	return strings.Join(lines, "\n")
}
