// Package claim is what every memlab spec uses to speak to the ledger: it
// records the environment, observed figures and the verdict a passing spec
// reached, and gives each spec a lab cgroup (or a reasoned skip) in the
// cgroup mode it is written for. The specs assert; this package only files.
package claim

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/sys/unix"

	"github.com/memlab/memlab/labs/kernel/cgroup"
	"github.com/memlab/memlab/labs/kernel/release"
	"github.com/memlab/memlab/labs/report/ledger"
)

// ledgerOnly is how every entry meant for the ledger is filed: always in
// the JSON report, which the ledger reads, and on the console only beside
// a failure or under -v, so a passing run prints its claim table and not
// some 400 lines of figures before it. The functions that file entries are
// Ginkgo helpers: an entry points at the spec's line, not at this package.
const ledgerOnly = ginkgo.ReportEntryVisibilityFailureOrVerbose

// Figure files one observed value beside the article's figure.
func Figure(name string, value any, file string) {
	ginkgo.GinkgoHelper()
	ginkgo.AddReportEntry(ledger.EntryFigure, ledger.Figure{Name: name, Value: fmt.Sprint(value), File: file}, ledgerOnly)
}

// Holds files the verdict that the article is right here. Call it after
// the assertions that prove it.
func Holds(note string) {
	ginkgo.GinkgoHelper()
	ginkgo.AddReportEntry(ledger.EntryVerdict, ledger.VerdictEntry{Verdict: ledger.Holds, Why: note}, ledgerOnly)
}

// Corrected files the verdict that the article is wrong here, with the
// evidence; the spec has asserted the true behaviour before calling it.
func Corrected(evidence string, a ...any) {
	ginkgo.GinkgoHelper()
	ginkgo.AddReportEntry(ledger.EntryVerdict, ledger.VerdictEntry{Verdict: ledger.Corrected, Why: fmt.Sprintf(evidence, a...)}, ledgerOnly)
}

// Decide files Holds when the article's statement was observed true here,
// and Corrected with the evidence otherwise.
func Decide(articleRight bool, note, evidence string) {
	ginkgo.GinkgoHelper()
	if articleRight {
		Holds(note)
	} else {
		Corrected("%s", evidence)
	}
}

// Env is where this suite runs; RecordEnv files it for every report.
func Env() (ledger.Env, cgroup.Layout, error) {
	env := ledger.Env{Kernel: KernelRelease()}
	env.Hostname, _ = os.Hostname()
	l, err := cgroup.Detect()
	if err != nil {
		env.Layout, env.MemoryMount = "none", err.Error()
		return env, l, err
	}
	env.Layout, env.MemoryMount, env.MemoryMode = string(l.Mode), l.MemoryRoot, l.VersionLabel()
	return env, l, nil
}

// RecordEnv files the environment. Call it from BeforeSuite.
func RecordEnv() {
	env, _, _ := Env()
	ginkgo.AddReportEntry(ledger.EntryEnv, env, ledgerOnly)
}

// Kernel is the running kernel's version: the tolerances and every reason
// that names kernel behaviour are derived from it. A release that cannot be
// read or parsed fails the spec: no verdict is filed about an unknown kernel.
func Kernel() release.Version {
	ginkgo.GinkgoHelper()
	v, err := release.Running()
	Expect(err).NotTo(HaveOccurred(), "the kernel's version (%s)", release.OSRelease)
	return v
}

// KernelRelease is `uname -r`.
func KernelRelease() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

// PrepareSuite files the environment and sweeps the groups that killed runs
// left behind, so every suite starts from a clean lab parent.
func PrepareSuite(ctx context.Context) {
	UsePollTolerances()
	RecordEnv()
	_, l, err := Env()
	if err != nil || os.Geteuid() != 0 {
		return
	}
	swept, err := cgroup.Sweep(ctx, l)
	if len(swept) > 0 {
		ginkgo.GinkgoWriter.Printf("swept groups a killed run left: %v\n", swept)
	}
	if err != nil {
		ginkgo.Fail("sweeping leftovers: " + err.Error())
	}
}

// UsePollTolerances makes every Eventually in the suite wait by the named
// tolerances. Call it from each suite's BeforeSuite.
func UsePollTolerances() {
	SetDefaultEventuallyTimeout(PollTimeout)
	SetDefaultEventuallyPollingInterval(PollInterval)
}

// DieWithParent makes this suite binary interrupt itself once when the
// process that started it (the ginkgo CLI, go test) dies, even by SIGKILL,
// so its cleanup still runs and no workload outlives the run. The kernel
// sends a death signal (PR_SET_PDEATHSIG) each time the thread that
// started us exits, and as a killed Go parent's threads exit one by one we
// are handed from thread to thread: three signals in a row read to Ginkgo
// as "skip the cleanup" and "bail out". So the signal is parentGone, which
// Ginkgo ignores, and only when our parent process is really gone (we have
// a new one) do we send ourselves one SIGTERM, Ginkgo's first interrupt.
// Call it first in each suite's Test function.
func DieWithParent() {
	// The parent read our stderr: once it is gone a write there must fail,
	// not end the binary with SIGPIPE in the middle of its cleanup.
	signal.Ignore(syscall.SIGPIPE)
	parent := os.Getppid()
	gone := make(chan os.Signal, 8)
	signal.Notify(gone, parentGone)
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(parentGone), 0, 0, 0); err != nil {
		signal.Stop(gone)
		return
	}
	interrupt := sync.OnceFunc(func() { _ = syscall.Kill(os.Getpid(), syscall.SIGTERM) })
	go func() {
		for range gone {
			if os.Getppid() != parent {
				interrupt()
			}
		}
	}()
	if os.Getppid() != parent { // the parent died before the prctl took
		interrupt()
	}
}

// parentGone is the suite binary's death signal: one Ginkgo does not take
// as an interrupt.
const parentGone = syscall.SIGUSR2
