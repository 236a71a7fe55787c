package runner_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"

	"github.com/memlab/memlab/labs/grade/harness"
)

// before is the memory hierarchy as it was when the current spec began.
var before map[string]bool

// marker makes a command line no other process on the machine has, so the
// spec can find CMD among the runner's processes.
func marker(id string) string { return fmt.Sprintf("memlab-%s-%d", id, time.Now().UnixNano()) }

// stress is the article's workload, bounded: with --timeout it ends by
// itself even under a runner that never limits it.
func stress(size, timeout string) []string {
	return []string{"stress", "--vm-bytes", size, "--vm-keep", "-m", "1", "--timeout", timeout}
}

// One top-level container: Ginkgo keeps the specs in this order.
var _ = Describe("the runner contract", Label("runner", "root"), func() {
	BeforeEach(func() {
		before = h.Snapshot()
		DeferCleanup(h.RemoveLeftovers, before) // fails the spec when it cannot
	})

	It("R1 (G6): over the limit, the workload's worker gets signal 9 and the runner exits 1", func(ctx SpecContext) {
		stopOnInterrupt(ctx)
		r := h.RunToEnd("100m", stress("101m", "5s")...)
		status := r.ExitStatus()
		Expect(r.Out).To(gbytes.Say(`<-- worker [0-9]+ got signal 9`),
			"stress's worker (101m under 100m) must be killed by the kernel, which stress reports as 'worker N got signal 9'")
		Expect(status).To(Equal(1), "stress exits 1 when its worker was killed, and the runner must exit with CMD's status")
	})

	It("R2 (G5): under the limit (50m of 100m) the workload runs to its end and the runner exits 0", func(ctx SpecContext) {
		stopOnInterrupt(ctx)
		r := h.RunToEnd("100m", stress("50m", "1s")...)
		status := r.ExitStatus()
		Expect(string(r.Out.Contents())).NotTo(ContainSubstring("got signal 9"), "nothing may be killed under the limit")
		Expect(r.Out).To(gbytes.Say(`successful run completed`))
		Expect(status).To(Equal(0))
	})

	It("R3 (G3): CMD runs in a new PID namespace", func(ctx SpecContext) {
		stopOnInterrupt(ctx)
		r := h.RunToEnd("100m", "sh", "-c", `echo "pidns $(readlink /proc/self/ns/pid)"; echo "pid $$"`)
		Expect(r.ExitStatus()).To(Equal(0))
		ns := outputField(r, "pidns")
		Expect(ns).NotTo(BeEmpty(), "CMD printed no PID namespace")
		Expect(ns).NotTo(Equal(hostNS["pid"]), "CMD is in the host's PID namespace (%s): unshare --pid without --fork, or no CLONE_NEWPID?", ns)
		outcome(fmt.Sprintf("CMD's PID as it sees itself: %s (%s; the host's is %s)", outputField(r, "pid"), ns, hostNS["pid"]))
	})

	It("R4 (G3): CMD runs in new UTS and mount namespaces: a hostname it sets is not the host's", func(ctx SpecContext) {
		stopOnInterrupt(ctx)
		host, err := os.Hostname()
		Expect(err).NotTo(HaveOccurred())
		// The command changes the hostname only if its UTS namespace is not
		// the host's: a broken runner must not rename the machine.
		script := fmt.Sprintf(`u=$(readlink /proc/self/ns/uts); echo "utsns $u"; echo "mntns $(readlink /proc/self/ns/mnt)"
[ "$u" = %q ] && exit 99
hostname memlab-r4 && echo "hostname $(hostname)"`, hostNS["uts"])
		r := h.RunToEnd("100m", "sh", "-c", script)
		status := r.ExitStatus()
		after, err := os.Hostname()
		Expect(err).NotTo(HaveOccurred())
		Expect(after).To(Equal(host), "the host's hostname changed")
		Expect(outputField(r, "utsns")).NotTo(Equal(hostNS["uts"]), "CMD is in the host's UTS namespace")
		Expect(status).To(Equal(0))
		Expect(outputField(r, "hostname")).To(Equal("memlab-r4"), "CMD could not set its own hostname")
		Expect(outputField(r, "mntns")).NotTo(BeEmpty())
		Expect(outputField(r, "mntns")).NotTo(Equal(hostNS["mnt"]), "CMD is in the host's mount namespace")
	})

	It("R5 (G8): CMD is attached before it runs: it and the first process it starts are in a memory cgroup made for the run", func(ctx SpecContext) {
		stopOnInterrupt(ctx)
		argv := []string{"sh", "-c", "sleep 60 & wait", marker("r5")}
		r := h.Start("100m", argv...)
		sh := h.FindCommand(ctx, r, argv)
		var procs []string
		Eventually(ctx, func() int { return len(harness.Tree(sh.PID)) }).WithTimeout(h.Timeout).Should(BeNumerically(">=", 2), "CMD never started its sleep")
		for _, p := range harness.Tree(sh.PID) {
			cg := h.MemoryCgroupOf(p.PID)
			procs = append(procs, fmt.Sprintf("%s %d in %s", p.Comm, p.PID, cg))
			Expect(cg).NotTo(Equal(ownCgroup), "%s %d is still in the group the runner was started in (%s): it was not attached before it ran", p.Comm, p.PID, cg)
			Expect(before).NotTo(HaveKey(relGroup(cg)), "%s %d is in %s, a group that existed before the run", p.Comm, p.PID, cg)
		}
		outcome(strings.Join(procs, ", "))
		killTree(sh.PID)
		r.ExitStatus() // and the runner must end when CMD does
	})

	It("R6 (G1): the memory cgroup CMD runs in is limited to SIZE, read as docker -m reads it, in bytes", func(ctx SpecContext) {
		stopOnInterrupt(ctx)
		for _, c := range []struct {
			size  string
			bytes int64
		}{{"100m", 100 << 20}, {"262144k", 256 << 20}} {
			argv := []string{"sh", "-c", "sleep 60 & wait", marker("r6")}
			r := h.Start(c.size, argv...)
			sh := h.FindCommand(ctx, r, argv)
			Eventually(ctx, func() int { return len(harness.Tree(sh.PID)) }).WithTimeout(h.Timeout).Should(BeNumerically(">=", 2), "CMD never started its sleep")
			for _, p := range harness.Tree(sh.PID) {
				cg := h.MemoryCgroupOf(p.PID)
				limit, file, ok := h.LimitInForce(cg)
				Expect(ok).To(BeTrue(), "--memory %s: %s %d is in %s, where no memory limit is set", c.size, p.Comm, p.PID, cg)
				Expect(limit).To(Equal(c.bytes), "--memory %s: %s reads %d", c.size, file, limit)
				outcome(fmt.Sprintf("--memory %s: %s = %d", c.size, file, limit))
			}
			killTree(sh.PID)
			r.ExitStatus() // and the runner must end when CMD does
		}
	})

	It("R7 (G6): the runner exits with CMD's exit status", func(ctx SpecContext) {
		stopOnInterrupt(ctx)
		for _, n := range []int{3, 42, 0} {
			r := h.RunToEnd("100m", "sh", "-c", fmt.Sprintf("exit %d", n))
			Expect(r.ExitStatus()).To(Equal(n), "CMD exited %d", n)
		}
	})

	It("R8 (G6): when signal 9 ends CMD, the runner exits 128+9 = 137", func(ctx SpecContext) {
		stopOnInterrupt(ctx)
		argv := []string{"sh", "-c", "echo ready; while :; do sleep 1; done", marker("r8")}
		r := h.Start("100m", argv...)
		sh := h.FindCommand(ctx, r, argv)
		Eventually(ctx, r.Out).WithTimeout(h.Timeout).Should(gbytes.Say("ready"))
		// From the host: SIGKILL reaches even a PID namespace's init.
		Expect(syscall.Kill(sh.PID, syscall.SIGKILL)).To(Succeed())
		Expect(r.ExitStatus()).To(Equal(137), "CMD was killed by signal 9")
	})

	It("R9 (G1): a bad size is refused: non-zero exit, CMD never runs, no cgroup made", func(ctx SpecContext) {
		stopOnInterrupt(ctx)
		for _, size := range []string{"100x", "-1", "1.5.5m"} {
			flag := filepath.Join(GinkgoT().TempDir(), "ran")
			r := h.RunToEnd(size, "sh", "-c", "touch "+flag)
			Expect(r.ExitStatus()).NotTo(Equal(0), "--memory %s was accepted", size)
			Expect(flag).NotTo(BeAnExistingFile(), "--memory %s: CMD ran", size)
			Expect(h.NewGroups(before)).To(BeEmpty(), "--memory %s: the runner made a cgroup", size)
		}
	})

	It("R10 (G4): when CMD exits, leaving a background process, the runner leaves no process and no cgroup behind", func(ctx SpecContext) {
		stopOnInterrupt(ctx)
		r := h.RunToEnd("100m", "sh", "-c", "sleep 60 & echo started")
		r.ExitStatus()
		left := h.LeftBehind(before)
		outcome("left behind: " + left.String())
		Expect(left.Processes).To(BeEmpty(), "left behind: %s", left)
		Expect(left.Groups).To(BeEmpty(), "left behind: %s", left)
	})

	It("R11 (G7): after the OOM killer struck, the runner leaves no process and no cgroup behind", func(ctx SpecContext) {
		stopOnInterrupt(ctx)
		// The OOM killer kills stress's worker only; sleep lives on (G7).
		r := h.RunToEnd("100m", "sh", "-c", "sleep 60 & "+strings.Join(stress("101m", "5s"), " ")+`; echo "stress exited $?"`)
		r.ExitStatus()
		left := h.LeftBehind(before)
		outcome("left behind: " + left.String())
		Expect(left.Processes).To(BeEmpty(), "left behind: %s", left)
		Expect(left.Groups).To(BeEmpty(), "left behind: %s", left)
	})
})

// outputField is the rest of the first output line that starts with key.
func outputField(r *harness.Run, key string) string {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(key) + ` (.*)$`).FindStringSubmatch(string(r.Out.Contents()))
	if m == nil {
		return ""
	}
	return strings.TrimSpace(m[1])
}

// relGroup turns a /proc/PID/cgroup path into a snapshot key.
func relGroup(cg string) string {
	if rel := strings.Trim(cg, "/"); rel != "" {
		return rel
	}
	return "."
}

// stopOnInterrupt kills the spec's runs, and all they started, as soon as
// its context ends: an interrupt then ends a spec waiting on a run at once,
// not at the run's timeout.
func stopOnInterrupt(ctx SpecContext) {
	DeferCleanup(context.AfterFunc(ctx, h.StopActiveRuns))
}

// killTree ends CMD from the host once a spec has seen what it needed.
func killTree(pid int) {
	for _, p := range harness.Tree(pid) {
		_ = syscall.Kill(p.PID, syscall.SIGKILL)
	}
}
