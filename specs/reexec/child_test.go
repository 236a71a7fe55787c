package reexec_test

import (
	"os"
	"os/exec"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"

	"github.com/memlab/memlab/labs/runner"
	"github.com/memlab/memlab/specs/claim"
)

var _ = claim.Describe("G2", func(claim.Mode) string {
	return "the child re-executed through /proc/self/exe is this binary, marked by argv[0]"
}, func(ctx SpecContext, m claim.Mode) {
	l := m.Lab()
	self, err := os.Readlink("/proc/self/exe")
	Expect(err).NotTo(HaveOccurred())
	exe, err := os.Executable()
	Expect(err).NotTo(HaveOccurred())
	Expect(filepath.EvalSymlinks(exe)).To(Equal(self))

	readlink, err := exec.LookPath("readlink")
	Expect(err).NotTo(HaveOccurred())
	readlink, err = filepath.EvalSymlinks(readlink)
	Expect(err).NotTo(HaveOccurred())

	o, out := lab(l, "g2", "readlink", "/proc/self/exe")
	r := claim.Start(ctx, o)
	Expect(r.Child.Argv0).To(Equal(runner.ChildArgv0))
	Expect(r.Child.Exe).To(Equal(self))
	res, err := r.Wait()
	Expect(err).NotTo(HaveOccurred())
	Expect(res.ExitCode).To(Equal(0))
	// Every process sees its own program there: the workload sees readlink.
	Eventually(ctx, out).Should(gbytes.Say(readlink))

	claim.Figure("/proc/self/exe of the parent", self, "/proc/self/exe")
	claim.Figure("the child's argv[0]", r.Child.Argv0, "")
	claim.Figure("/proc/self/exe of the workload", readlink, "/proc/self/exe")
	claim.Holds("the child is this binary again; argv[0] " + runner.ChildArgv0 + " stops it re-executing itself forever")
})

var _ = claim.Describe("G3", func(claim.Mode) string {
	return "the child is PID 1 inside its namespace and an ordinary PID on the host"
}, func(ctx SpecContext, m claim.Mode) {
	l := m.Lab()
	o, _ := lab(l, "g3", "true")
	r := claim.Start(ctx, o)
	Expect(r.Child.PID).To(Equal(1))
	Expect(r.ChildPID).To(BeNumerically(">", 1))
	Expect(r.Child.Hostname).To(Equal("memlab"), "the UTS namespace has its own hostname")

	o.Namespaces = mustNamespaces("uts,mnt")
	plain := claim.Start(ctx, o)
	Expect(plain.Child.PID).To(Equal(plain.ChildPID), "without a PID namespace the child sees its host PID")

	claim.Figure("child's own PID (new PID namespace)", r.Child.PID, "")
	claim.Figure("child's host PID", r.ChildPID, "")
	claim.Figure("child's own PID without a PID namespace", plain.Child.PID, "")
	claim.Holds("Current pid: 1, as the article printed")
})

func mustNamespaces(s string) uintptr {
	f, err := runner.ParseNamespaces(s)
	Expect(err).NotTo(HaveOccurred())
	return f
}
