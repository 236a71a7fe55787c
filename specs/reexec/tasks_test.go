package reexec_test

import (
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/memlab/memlab/labs/kernel/proc"
	"github.com/memlab/memlab/specs/claim"
)

var _ = claim.Describe("G4", func(m claim.Mode) string {
	return fmt.Sprintf("%s holds the child and all it runs; %s holds every one of their threads", m.Files.Procs, m.Files.Threads)
}, func(ctx SpecContext, m claim.Mode) {
	l := m.Lab()
	// The article's shape: the child runs sh, sh runs stress, stress forks its worker.
	o, _ := lab(l, "g4", "sh", "-c", "stress --vm-bytes 8m --vm-keep -m 1; exit $?")
	r := claim.Start(ctx, o)

	var tree []proc.Process
	Eventually(ctx, func() ([]proc.Process, error) {
		var err error
		tree, err = proc.Tree(r.ChildPID)
		return tree, err
	}).Should(HaveLen(4), "exe (the child), sh, stress, stress's worker")
	var pids, threads []int
	for _, p := range tree {
		pids = append(pids, p.PID)
		ts, err := proc.Threads(p.PID)
		Expect(err).NotTo(HaveOccurred())
		threads = append(threads, ts...)
	}
	Expect(r.Group.Procs()).To(ConsistOf(pids))
	Expect(r.Group.Threads()).To(ConsistOf(threads))
	childThreads, err := proc.Threads(r.ChildPID)
	Expect(err).NotTo(HaveOccurred())

	claim.Figure(m.Files.Procs, fmt.Sprintf("%d PIDs: %s", len(pids), proc.Names(tree)), m.Files.Procs)
	claim.Figure(m.Files.Threads, fmt.Sprintf("%d IDs: %d threads of the Go child + %d single-threaded processes",
		len(threads), len(childThreads), len(tree)-1), m.Files.Threads)
	claim.Holds(fmt.Sprintf("the article's 7 IDs are thread IDs: %s lists threads, and the re-executed Go child has several", m.Files.Threads))
})
