// The runner suite: black-box specs of THE RUNNER CONTRACT
// (docs/exercises/02-your-own-runner.md), run against any program that
// honours it:
//
//	RUNNER --memory SIZE -- CMD [ARGS...]
//
// The runner is taken from -memlab.runner (words split on blanks; a first
// word with a "/" is relative to the repository root), by default the
// repository's own `bin/memlab run`. Every spec is named "Rn (CLAIM): ...";
// fixtures/rubric.json gives each its points and `make grade` adds them up.
//
//	go tool ginkgo --label-filter=runner ./specs/runner -- -memlab.runner=./student-runner
//
// Each run of the runner has a deadline (-memlab.runner-timeout, default
// 30s): a runner still going then is killed with everything it started and
// the spec fails. After every spec the harness (labs/grade/harness) removes
// whatever the runner left: this process is a child subreaper, so any
// process the runner leaves ends up as its child and is killed; any memory
// cgroup that appeared during the spec and holds nothing but the runner's
// processes is emptied and removed, deepest first.
package runner_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/memlab/memlab/labs/grade"
	"github.com/memlab/memlab/labs/grade/harness"
	"github.com/memlab/memlab/labs/kernel/cgroup"
	"github.com/memlab/memlab/labs/kernel/proc"
	"github.com/memlab/memlab/specs/claim"
)

var (
	runnerFlag  = flag.String("memlab.runner", "", "the runner to grade: words split on blanks, a first word with a / taken from the repository root (default bin/memlab run)")
	timeoutFlag = flag.Duration("memlab.runner-timeout", harness.DefaultTimeout, "bounds each run of the runner")
)

var (
	h         *harness.Harness
	ownCgroup string            // this process's memory cgroup, relative to the memory root
	hostNS    map[string]string // this process's namespaces: "pid" -> "pid:[4026531836]"
)

func TestRunner(t *testing.T) {
	claim.DieWithParent()
	RegisterFailHandler(Fail)
	RunSpecs(t, "runner contract: R1-R15")
}

var _ = BeforeSuite(prepare)

func prepare() {
	claim.RecordEnv()
	if os.Geteuid() != 0 {
		Skip("needs root: a runner writes the cgroup filesystem")
	}
	// go test and ginkgo run a suite in its package's directory.
	root, err := filepath.Abs(filepath.Join("..", ".."))
	Expect(err).NotTo(HaveOccurred())
	argv, err := harness.ResolveRunner(*runnerFlag, root)
	if err != nil {
		Fail(err.Error())
	}
	if *timeoutFlag <= 0 {
		Fail(fmt.Sprintf("-memlab.runner-timeout=%s: want a duration like 30s", *timeoutFlag))
	}
	AddReportEntry(grade.EntryRunner, strings.Join(argv, " "))
	layout, err := cgroup.Detect()
	Expect(err).NotTo(HaveOccurred())
	private := ownNamespace("mnt") && ownNamespace("net")
	h, err = harness.New(harness.Config{
		Runner: argv, Timeout: *timeoutFlag, Dir: root, Layout: layout,
		Log: GinkgoWriter, Outcome: outcome, Command: command, Private: private,
		Fail: func(msg string, skip int) { Fail(msg, skip+1) },
	})
	Expect(err).NotTo(HaveOccurred())
	ownCgroup, err = proc.ThreadMemoryCgroup(os.Getpid(), os.Getpid())
	Expect(err).NotTo(HaveOccurred())
	hostNS = map[string]string{}
	for _, ns := range []string{"pid", "uts", "mnt"} {
		hostNS[ns], err = os.Readlink("/proc/self/ns/" + ns)
		Expect(err).NotTo(HaveOccurred())
	}
	GinkgoWriter.Printf("runner: %s (timeout %s per run); memory cgroups at %s (v%d); own mount and network namespaces: %v\n",
		strings.Join(argv, " "), h.Timeout, layout.MemoryRoot, layout.Version, private)
}

// ownNamespace says whether this process's namespace of that kind is not
// its parent's: memlab grade gives the suite mount and network namespaces
// of its own, so what appears in them is the runner's. (Init's may not be
// readable: in a sandbox, PID 1 may be beyond even root's reach.)
func ownNamespace(kind string) bool {
	mine, err1 := os.Readlink("/proc/self/ns/" + kind)
	parents, err2 := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", os.Getppid(), kind))
	return err1 == nil && err2 == nil && mine != parents
}

// command files a run's arguments to the runner as it starts: the
// grade's test_code, even when the spec fails before the run ends.
func command(line string) {
	AddReportEntry(grade.EntryCommand, line, ReportEntryVisibilityNever)
}

// outcome files one line of what a run did, for the grade's feedback.
func outcome(line string) {
	AddReportEntry(grade.EntryOutcome, line, ReportEntryVisibilityFailureOrVerbose)
}
