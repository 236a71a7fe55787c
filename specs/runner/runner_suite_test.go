// The runner suite: black-box specs of THE RUNNER CONTRACT
// (docs/exercises/02-your-own-runner.md), run against any program that
// honours it:
//
//	RUNNER --memory SIZE -- CMD [ARGS...]
//
// The runner is taken from MEMLAB_RUNNER (words split on blanks; a first
// word with a "/" is relative to the repository root), by default the
// repository's own `bin/memlab run`. Every spec is named "Rn (CLAIM): ...";
// fixtures/rubric.json gives each its points and `make grade` adds them up.
//
// Each run of the runner has a deadline (MEMLAB_RUNNER_TIMEOUT, default
// 30s): a runner still going then is killed with everything it started and
// the spec fails. After every spec memlab removes whatever the runner left:
// this process is a child subreaper, so any process the runner leaves ends
// up as its child and is killed; any memory cgroup that appeared during the
// spec and holds nothing but the runner's processes is emptied and removed,
// deepest first.
package runner_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestRunner(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "runner contract: R1-R11")
}

var _ = BeforeSuite(prepare)
