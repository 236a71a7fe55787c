package rawcgroup_test

import (
	"fmt"
	"regexp"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"

	"github.com/memlab/memlab/labs/kernel/release"
	"github.com/memlab/memlab/labs/report/why"
	"github.com/memlab/memlab/labs/runner"
	"github.com/memlab/memlab/specs/claim"
)

// workerKilled is stress's master reporting its worker's SIGKILL: the
// master lived, and the one killed was the hog.
var workerKilled = regexp.MustCompile(`<-- worker [0-9]+ got signal 9`)

var _ = claim.Describe("K1", func(claim.Mode) string { return "this kernel's version predicts whether the lab runs" }, func(ctx SpecContext, m claim.Mode) {
	l := m.Lab()
	v := claim.Kernel()

	// The smallest whole lab: a child in new namespaces, confined
	// before it runs, a hog that must be stopped at the limit.
	out := gbytes.NewBuffer()
	r := claim.Start(ctx, runner.Options{
		Layout: l, Name: "k1", Limit: 8 << 20, Namespaces: mustNamespaces(runner.DefaultNamespaces),
		Command: []string{"stress", "--vm", "1", "--vm-bytes", "32m", "--vm-keep"},
		Stdout:  out, Stderr: out,
	})
	res, err := r.Wait()
	Expect(err).NotTo(HaveOccurred())

	// The lab ran if the OOM killer killed the hog and nothing else: the
	// kernel log names stress as every victim (it would name memlab's
	// child, or stress's master sacrificed for it, otherwise), and the
	// master lived to report its worker's signal 9 and exit 1.
	report := workerKilled.Find(out.Contents())
	onlyHog := len(res.Victims) > 0
	for _, k := range res.Victims {
		onlyHog = onlyHog && k.Task == "stress" && k.PID != res.ChildPID
	}
	labRuns := res.ChildInfo.PID == 1 && onlyHog && report != nil && res.ExitCode == 1

	claim.Figure("kernel", v.Release, release.OSRelease)
	for _, k := range res.Victims {
		claim.Figure("OOM-killed (kernel log)", k.String(), "/dev/kmsg")
	}
	if len(res.Victims) == 0 {
		claim.Figure("OOM-killed (kernel log)", "no kill of this group found in the kernel log", "/dev/kmsg")
	}
	said := "none: stress's master did not live to report its worker"
	if report != nil {
		said = string(report)
	}
	claim.Figure("stress's report of its worker", fmt.Sprintf("%s (exit status %d)", said, res.ExitCode), "")
	claim.Figure("oom_kill", why.OOMKills(v, res.OOMKills, res.OOMKnown), m.Files.Events)
	claim.Figure("lab ran (child PID 1, the hog and only it OOM-killed at an 8m limit)", labRuns, "/dev/kmsg")
	for _, f := range release.Floors {
		has := "lacks"
		if v.Has(f.Feature) {
			has = "has"
		}
		claim.Figure(fmt.Sprintf("version floor: %s (%s)", f.What, f.Since()), has, release.OSRelease)
	}

	articleRight, reason := why.LabFloor(v, m.Version, labRuns)
	if v.AtLeast(4, 3) {
		Expect(labRuns).To(BeTrue(), "a kernel >= 4.3 must run the lab, killing the hog alone: victims %v, stress said %q (exit %d), child PID %d",
			res.Victims, out.Contents(), res.ExitCode, res.ChildInfo.PID)
	}
	claim.Decide(articleRight, reason+"; "+why.Floors(v), reason+"; "+why.Floors(v))
})

func mustNamespaces(s string) uintptr {
	f, err := runner.ParseNamespaces(s)
	Expect(err).NotTo(HaveOccurred())
	return f
}
