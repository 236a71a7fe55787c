// The raw-cgroup suite: the article's kernel requirement (K1), the memory
// cgroup's interface files (F1) and the limit written by hand (G1).
package rawcgroup_test

import (
	"os"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/memlab/memlab/labs/runner"
	"github.com/memlab/memlab/specs/claim"
)

func TestMain(m *testing.M) {
	runner.Init() // K1 re-executes this binary as the lab child
	os.Exit(m.Run())
}

func TestRawCgroup(t *testing.T) {
	claim.DieWithParent()
	RegisterFailHandler(Fail)
	RunSpecs(t, "raw cgroup: K1, F1, G1")
}

var _ = BeforeSuite(claim.PrepareSuite)
