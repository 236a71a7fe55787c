package runner_test

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/memlab/memlab/labs/grade/harness"
	"github.com/memlab/memlab/labs/kernel/cgroup"
	"github.com/memlab/memlab/labs/shquote"
)

var (
	// before is the memory hierarchy as it was when the current spec
	// began; machineBefore the mounts, other cgroups and interfaces.
	before        map[string]bool
	machineBefore harness.Machine
	// strays is what the runner left outside the memory hierarchy in the
	// specs so far, each removed by memlab: R15 gives or takes its points.
	strays []string
)

// marker makes a word no other process on the machine has: a command
// line the spec can find among the runner's processes, or a line only CMD
// can print.
func marker(id string) string { return fmt.Sprintf("memlab-%s-%d", id, time.Now().UnixNano()) }

// stress is the article's workload, bounded: with --timeout it ends by
// itself even under a runner that never limits it.
func stress(size, timeout string) []string {
	return []string{"stress", "--vm-bytes", size, "--vm-keep", "-m", "1", "--timeout", timeout}
}

// must fails the spec with exactly msg: what was run, what was expected,
// what was observed.
func must(ok bool, format string, args ...any) {
	if !ok {
		Fail(fmt.Sprintf(format, args...), 1)
	}
}

// One top-level container: Ginkgo keeps the specs in this order.
var _ = Describe("the runner contract", Label("runner", "root"), func() {
	BeforeEach(func() {
		before = h.Snapshot()
		machineBefore = h.Machine()
		DeferCleanup(func() {
			left := h.Strays(machineBefore)
			for _, l := range left {
				strays = append(strays, CurrentSpecReport().LeafNodeText[:strings.Index(CurrentSpecReport().LeafNodeText, " ")]+": "+l)
			}
			Expect(h.RemoveLeftovers(before)).To(Succeed()) // fails the spec when it cannot
		})
	})

	It("R1 (G6): over the limit, the workload's worker gets signal 9 and the runner exits 1", func(ctx SpecContext) {
		stopOnInterrupt(ctx)
		kills, counted := harness.OOMKills()
		r := h.RunToEnd("100m", stress("101m", "5s")...)
		status := r.ExitStatus()
		must(workerKilled.MatchString(string(r.Out.Contents())), "%s: expected stress to report 'worker N got signal 9' (101m under a 100m limit); observed: no such line (stress ran to its end or never started)", r.Line())
		if counted {
			after, _ := harness.OOMKills()
			must(after > kills, "%s: stress's worker got signal 9 but the kernel counted no OOM kill (/proc/vmstat oom_kill stayed %d): something else killed it", r.Line(), kills)
			outcome(fmt.Sprintf("the kernel's OOM kills (/proc/vmstat oom_kill): %d -> %d", kills, after))
		} else {
			outcome("this kernel does not count OOM kills in /proc/vmstat: not counted")
		}
		must(status == 1, "%s: expected exit status 1 (stress's, when its worker was killed); observed %d", r.Line(), status)
	})

	It("R2 (G5): under the limit (50m of 100m) the workload runs to its end and the runner exits 0", func(ctx SpecContext) {
		stopOnInterrupt(ctx)
		r := h.RunToEnd("100m", stress("50m", "1s")...)
		status := r.ExitStatus()
		out := string(r.Out.Contents())
		must(!strings.Contains(out, "got signal 9"), "%s: expected nothing killed under the limit; observed: %s", r.Line(), lineWith(out, "got signal 9"))
		must(strings.Contains(out, "successful run completed"), "%s: expected stress to report 'successful run completed'; observed: no such line (did CMD run?)", r.Line())
		must(status == 0, "%s: expected exit status 0; observed %d", r.Line(), status)
	})

	It("R3 (G3): CMD runs in a new PID namespace", func(ctx SpecContext) {
		stopOnInterrupt(ctx)
		r := h.RunToEnd("100m", "sh", "-c", `echo "pidns $(readlink /proc/self/ns/pid)"; echo "pid $$"`)
		status := r.ExitStatus()
		ns := outputField(r, "pidns")
		must(ns != "", "%s: expected CMD to print its PID namespace; observed: no 'pidns' line (exit status %d: did CMD run with its arguments intact?)", r.Line(), status)
		must(ns != hostNS["pid"], "%s: expected a PID namespace other than the host's; observed the host's, %s (unshare --pid without --fork, or no CLONE_NEWPID?)", r.Line(), ns)
		must(status == 0, "%s: expected exit status 0; observed %d", r.Line(), status)
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
		must(after == host, "%s: the host's hostname changed from %q to %q", r.Line(), host, after)
		uts, mnt := outputField(r, "utsns"), outputField(r, "mntns")
		must(uts != "" && mnt != "", "%s: expected CMD to print its UTS and mount namespaces; observed none (exit status %d: did CMD run with its arguments intact?)", r.Line(), status)
		must(uts != hostNS["uts"], "%s: expected a UTS namespace other than the host's; observed the host's, %s", r.Line(), uts)
		must(status == 0, "%s: expected exit status 0; observed %d", r.Line(), status)
		must(outputField(r, "hostname") == "memlab-r4", "%s: expected CMD to set its own hostname memlab-r4; observed %q", r.Line(), outputField(r, "hostname"))
		must(mnt != hostNS["mnt"], "%s: expected a mount namespace other than the host's; observed the host's, %s", r.Line(), mnt)
	})

	It("R5 (G8): CMD is attached before it runs: it and the first process it starts are in a memory cgroup made for the run", func(ctx SpecContext) {
		stopOnInterrupt(ctx)
		argv := []string{"sh", "-c", "sleep 60 & wait", marker("r5")}
		r := h.Start("100m", argv...)
		sh := h.FindCommand(ctx, r, argv)
		Eventually(ctx, func() int { return len(harness.Tree(sh.PID)) }).WithTimeout(h.Timeout).Should(BeNumerically(">=", 2), "%s: CMD never started its sleep", r.Line())
		var procs []string
		for _, p := range harness.Tree(sh.PID) {
			cg := h.MemoryCgroupOf(p.PID)
			procs = append(procs, fmt.Sprintf("%s %d in %s", p.Comm, p.PID, cg))
			must(cg != ownCgroup, "%s: expected %s %d in a memory cgroup made for the run; observed it in the runner's own group %s: it was not attached before it ran", r.Line(), p.Comm, p.PID, cg)
			must(!before[relGroup(cg)], "%s: expected %s %d in a memory cgroup made for the run; observed it in %s, which existed before the run", r.Line(), p.Comm, p.PID, cg)
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
			Eventually(ctx, func() int { return len(harness.Tree(sh.PID)) }).WithTimeout(h.Timeout).Should(BeNumerically(">=", 2), "%s: CMD never started its sleep", r.Line())
			for _, p := range harness.Tree(sh.PID) {
				cg := h.MemoryCgroupOf(p.PID)
				limit, file, ok := h.LimitInForce(cg)
				must(ok, "%s: expected a memory limit of %d bytes on %s %d; observed none on its group %s or above", r.Line(), c.bytes, p.Comm, p.PID, cg)
				must(limit == c.bytes, "%s: expected %d bytes; observed %s = %d", r.Line(), c.bytes, file, limit)
				outcome(fmt.Sprintf("--memory %s: %s = %d", c.size, file, limit))
			}
			killTree(sh.PID)
			r.ExitStatus() // and the runner must end when CMD does
		}
	})

	It("R7 (G6): the runner exits with CMD's exit status", func(ctx SpecContext) {
		stopOnInterrupt(ctx)
		for _, n := range []int{3, 42, 0} {
			r := h.RunToEnd("100m", "sh", "-c", fmt.Sprintf("echo ran; exit %d", n))
			status := r.ExitStatus()
			must(outputField(r, "ran") != "" || strings.Contains(string(r.Out.Contents()), "ran\n"), "%s: expected CMD to run and print 'ran'; observed nothing (exit status %d)", r.Line(), status)
			must(status == n, "%s: expected exit status %d (CMD's); observed %d", r.Line(), n, status)
		}
	})

	It("R8 (G6): when signal 9 ends CMD, the runner exits 128+9 = 137", func(ctx SpecContext) {
		stopOnInterrupt(ctx)
		argv := []string{"sh", "-c", "echo ready; while :; do sleep 1; done", marker("r8")}
		r := h.Start("100m", argv...)
		sh := h.FindCommand(ctx, r, argv)
		Eventually(ctx, func() string { return string(r.Out.Contents()) }).WithTimeout(h.Timeout).Should(ContainSubstring("ready"), "%s: CMD never printed 'ready'", r.Line())
		// From the host: SIGKILL reaches even a PID namespace's init.
		Expect(syscall.Kill(sh.PID, syscall.SIGKILL)).To(Succeed())
		status := r.ExitStatus()
		must(status == 137, "%s: memlab killed CMD with signal 9; expected exit status 137; observed %d", r.Line(), status)
	})

	It("R9 (G1): a bad size is refused: non-zero exit, CMD never runs, no cgroup made", func(ctx SpecContext) {
		stopOnInterrupt(ctx)
		for _, size := range []string{"100x", "-1", "1.5.5m"} {
			// CMD says it ran on stdout and stderr, which reach memlab
			// whatever filesystem the runner gives CMD.
			ran := marker("r9-ran")
			r := h.RunToEnd(size, "sh", "-c", `echo "$0"; echo "$0" >&2`, ran)
			status := r.ExitStatus()
			must(!strings.Contains(string(r.Out.Contents()), ran), "%s: expected the bad size refused and CMD never run; observed CMD's output %q (exit status %d)", r.Line(), ran, status)
			must(status != 0, "%s: expected a non-zero exit status for a bad size; observed 0", r.Line())
			groups := h.NewGroups(before)
			must(len(groups) == 0, "%s: expected no cgroup made for a bad size; observed %v", r.Line(), groups)
		}
	})

	It("R10 (G4): when CMD exits, leaving a background process, the runner leaves no process and no cgroup behind", func(ctx SpecContext) {
		stopOnInterrupt(ctx)
		r := h.RunToEnd("100m", "sh", "-c", `sleep 60 & sleep 0.2; kill -0 $! && echo "background alive"`)
		r.ExitStatus()
		must(strings.Contains(string(r.Out.Contents()), "background alive"), "%s: expected CMD to start a background sleep and print 'background alive'; observed no such line (CMD did not run, or its sleep died at once)", r.Line())
		left := h.LeftBehind(before)
		outcome("left behind: " + left.String())
		must(len(left.Processes) == 0 && len(left.Groups) == 0, "%s: expected nothing left once the runner exited; observed %s (memlab removed it)", r.Line(), left)
	})

	It("R11 (G7): after the OOM killer struck, the runner leaves no process and no cgroup behind", func(ctx SpecContext) {
		stopOnInterrupt(ctx)
		kills, counted := harness.OOMKills()
		// The OOM killer kills stress's worker only; sleep lives on (G7).
		r := h.RunToEnd("100m", "sh", "-c", "sleep 60 & "+strings.Join(stress("101m", "5s"), " ")+`; echo "stress exited $?"`)
		r.ExitStatus()
		out := string(r.Out.Contents())
		must(workerKilled.MatchString(out) && strings.Contains(out, "stress exited 1"), "%s: expected stress's worker killed ('got signal 9', 'stress exited 1'); observed: %s", r.Line(), orNothing(lineWith(out, "stress exited")))
		if counted {
			after, _ := harness.OOMKills()
			must(after > kills, "%s: expected an OOM kill; observed the kernel's count (/proc/vmstat oom_kill) stay at %d", r.Line(), kills)
		}
		left := h.LeftBehind(before)
		outcome("left behind: " + left.String())
		must(len(left.Processes) == 0 && len(left.Groups) == 0, "%s: expected nothing left once the runner exited; observed %s (memlab removed it)", r.Line(), left)
	})

	It("R12 (G2): CMD's arguments reach it intact: spaces, quotes, empty strings, a leading dash, no globbing or expansion", func(ctx SpecContext) {
		stopOnInterrupt(ctx)
		args := []string{"two words", "", "-x", `it's "quoted"`, "*", "$HOME", "a\tb"}
		argv := append([]string{"sh", "-c", `for a in "$@"; do printf 'arg <%s>\n' "$a"; done; echo args-done`, "sh"}, args...)
		r := h.RunToEnd("100m", argv...)
		status := r.ExitStatus()
		out := string(r.Out.Contents())
		must(strings.Contains(out, "args-done"), "%s: expected CMD to print each argument; observed no output from CMD (exit status %d): the runner did not pass CMD's arguments through intact", r.Line(), status)
		var got []string
		for _, m := range argLine.FindAllStringSubmatch(out, -1) {
			got = append(got, m[1])
		}
		must(slices.Equal(got, args), "%s: expected CMD to receive %s; observed %s: the runner did not pass the arguments through intact (pass argv as a list: never join and re-split it)", r.Line(), shquote.Join(args), shquote.Join(got))
		must(status == 0, "%s: expected exit status 0; observed %d", r.Line(), status)
	})

	It("R13 (G2): the runner's standard output is CMD's alone", func(ctx SpecContext) {
		stopOnInterrupt(ctx)
		mark := marker("r13")
		r := h.RunToEnd("100m", "sh", "-c", `echo "out $0"; echo "err $0" >&2`, mark)
		status := r.ExitStatus()
		want := "out " + mark + "\n"
		got := string(r.Stdout.Contents())
		must(strings.Contains(string(r.Out.Contents()), "err "+mark), "%s: expected CMD's stderr line 'err %s'; observed none (did CMD run?)", r.Line(), mark)
		must(got == want, "%s: expected exactly CMD's output on standard output, %q; observed %q (log on standard error)", r.Line(), want, clip(got, 200))
		must(status == 0, "%s: expected exit status 0; observed %d", r.Line(), status)
	})

	It("R14 (G1): CMD cannot swap round the limit: memsw capped at SIZE (v1) or swap.max 0 (v2)", func(ctx SpecContext) {
		stopOnInterrupt(ctx)
		files := cgroup.FilesFor(h.Layout.Version)
		argv := []string{"sh", "-c", "sleep 60 & wait", marker("r14")}
		r := h.Start("100m", argv...)
		sh := h.FindCommand(ctx, r, argv)
		cg := h.MemoryCgroupOf(sh.PID)
		if _, err := os.Stat(h.Layout.MemoryRoot + "/" + cg + "/" + files.SwapLimit); err != nil {
			killTree(sh.PID)
			r.ExitStatus()
			Skip(fmt.Sprintf("not counted: this kernel has no swap accounting (%s is missing in CMD's group %s)", files.SwapLimit, cg))
		}
		want := int64(100 << 20)
		if h.Layout.Version == 2 {
			want = 0
		}
		limit, file, ok := h.FileInForce(cg, files.SwapLimit)
		killTree(sh.PID)
		r.ExitStatus()
		must(ok, "%s: expected %s = %d on CMD's group %s or above; observed no swap limit", r.Line(), files.SwapLimit, want, cg)
		must(limit == want, "%s: expected %s = %d; observed %d", r.Line(), file, want, limit)
		outcome(fmt.Sprintf("%s = %d", file, limit))
	})

	It("R15 (G4): every run leaves the mounts, the cgroups of every controller and the network interfaces as it found them", func(ctx SpecContext) {
		stopOnInterrupt(ctx)
		mark := marker("r15")
		r := h.RunToEnd("100m", "sh", "-c", `echo "$0"`, mark)
		status := r.ExitStatus()
		must(strings.Contains(string(r.Out.Contents()), mark), "%s: expected CMD to print %s; observed nothing (exit status %d)", r.Line(), mark, status)
		left := slices.Clone(strays)
		for _, l := range h.Strays(machineBefore) {
			left = append(left, "R15: "+l)
		}
		if !h.Private {
			outcome("this suite shares the host's mount and network namespaces (it was not run by memlab grade): mounts and interfaces not judged")
		}
		must(len(left) == 0, "expected every run to leave the machine as it found it; observed %s, all removed by memlab\n%s", countKinds(left), strings.Join(left, "; "))
	})
})

var (
	workerKilled = regexp.MustCompile(`<-- worker [0-9]+ got signal 9`)
	argLine      = regexp.MustCompile(`(?m)^arg <([^>]*)>$`)
)

// outputField is the rest of the first output line that starts with key.
func outputField(r *harness.Run, key string) string {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(key) + ` (.*)$`).FindStringSubmatch(string(r.Out.Contents()))
	if m == nil {
		return ""
	}
	return strings.TrimSpace(m[1])
}

// lineWith is the first line of out that contains s.
func lineWith(out, s string) string {
	for line := range strings.SplitSeq(out, "\n") {
		if strings.Contains(line, s) {
			return strings.TrimSpace(line)
		}
	}
	return ""
}

// countKinds sums leftovers by kind: "3 mounts, 2 cgroups".
func countKinds(left []string) string {
	n := map[string]int{}
	var kinds []string
	for _, l := range left {
		_, rest, _ := strings.Cut(l, ": ") // "R1: mount /mnt (tmpfs) (...)"
		kind := "thing"
		if f := strings.Fields(rest); len(f) > 0 {
			kind = f[0]
		}
		if kind == "network" {
			kind = "network interface"
		}
		if n[kind] == 0 {
			kinds = append(kinds, kind)
		}
		n[kind]++
	}
	var parts []string
	for _, k := range kinds {
		parts = append(parts, fmt.Sprintf("%d %s(s)", n[k], k))
	}
	return strings.Join(parts, ", ")
}

func orNothing(s string) string {
	if s == "" {
		return "no such line"
	}
	return s
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
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
