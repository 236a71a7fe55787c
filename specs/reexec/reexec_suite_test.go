// The re-exec suite: the article's Go program, claim by claim (G2-G8),
// through memlab's runner.
package reexec_test

import (
	"io"
	"os"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"

	"github.com/memlab/memlab/labs/kernel/cgroup"
	"github.com/memlab/memlab/labs/runner"
	"github.com/memlab/memlab/specs/claim"
)

func TestMain(m *testing.M) {
	runner.Init() // this test binary is the program /proc/self/exe re-executes
	os.Exit(m.Run())
}

func TestReexec(t *testing.T) {
	claim.DieWithParent()
	RegisterFailHandler(Fail)
	RunSpecs(t, "re-exec: G2-G8")
}

var _ = BeforeSuite(claim.PrepareSuite)

const limit100m = 100 << 20

// lab describes one run in the article's shape: a 100m group, the UTS,
// mount and PID namespaces, and the workload's output captured for asserting.
func lab(l cgroup.Layout, name string, command ...string) (runner.Options, *gbytes.Buffer) {
	flags, err := runner.ParseNamespaces(runner.DefaultNamespaces)
	Expect(err).NotTo(HaveOccurred())
	out := gbytes.NewBuffer()
	w := io.MultiWriter(GinkgoWriter, out) // the spec asserts on out; the log shows it too
	return runner.Options{
		Layout: l, Name: name, Limit: limit100m, Namespaces: flags, Attach: runner.BeforeExec,
		Command: command, Stdout: w, Stderr: w,
	}, out
}

// stress is the article's workload: one worker holding size bytes.
func stress(size string) []string {
	return []string{"stress", "--vm-bytes", size, "--vm-keep", "-m", "1"}
}
