package rawcgroup_test

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"

	"github.com/memlab/memlab/labs/runner"
	"github.com/memlab/memlab/specs/claim"
)

// releaseAtLeast compares "6.1.0-28-cloud-amd64" with a major.minor.
func releaseAtLeast(release string, major, minor int) bool {
	var parts [2]int
	for i, f := range strings.SplitN(strings.SplitN(release, "-", 2)[0], ".", 3)[:2] {
		parts[i], _ = strconv.Atoi(f)
	}
	return parts[0] > major || parts[0] == major && parts[1] >= minor
}

var _ = claim.Describe("K1", func(claim.Mode) string { return "this kernel's version predicts whether the lab runs" }, func(_ SpecContext, m claim.Mode) {
	l := m.Lab()
	release := claim.KernelRelease()
	newEnough := releaseAtLeast(release, 4, 3)

	// The smallest whole lab: a child in new namespaces, confined
	// before it runs, a hog that must be stopped at the limit.
	out := gbytes.NewBuffer()
	r := claim.Start(runner.Options{
		Layout: l, Name: "k1", Limit: 8 << 20, Namespaces: mustNamespaces(runner.DefaultNamespaces),
		Command: []string{"stress", "--vm", "1", "--vm-bytes", "32m", "--vm-keep"},
		Stdout:  out, Stderr: out,
	})
	res, err := r.Wait()
	Expect(err).NotTo(HaveOccurred())
	// Kernels before 4.13 (the article's 4.4 among them) do not count
	// OOM kills; stress's own report of its worker's death says it there.
	killed := res.OOMKills >= 1 || !res.OOMKnown && bytes.Contains(out.Contents(), []byte("got signal 9"))
	labRuns := res.ChildInfo.PID == 1 && killed

	claim.Figure("kernel", release, "/proc/sys/kernel/osrelease")
	claim.Figure("lab ran (child PID 1, hog OOM-killed at an 8m limit)", labRuns, m.Files.Events)
	if newEnough {
		Expect(labRuns).To(BeTrue(), "a kernel >= 4.3 must run the lab: %+v", res)
	}
	claim.Decide(newEnough == labRuns,
		fmt.Sprintf("%s is >= 4.3 and runs the lab", release),
		fmt.Sprintf("%s is < 4.3 yet runs the lab: the memory controller dates from 2.6.25", release))
})

func mustNamespaces(s string) uintptr {
	f, err := runner.ParseNamespaces(s)
	Expect(err).NotTo(HaveOccurred())
	return f
}
