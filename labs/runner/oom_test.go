package runner

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/memlab/memlab/labs/kernel/kmsg"
	"github.com/memlab/memlab/labs/kernel/proc"
)

// mayLowerOOMScore: writing an oom_score_adj below the process's
// oom_score_adj_min takes CAP_SYS_RESOURCE, which some sandboxes drop even
// for root.
func mayLowerOOMScore(t *testing.T) bool {
	t.Helper()
	st, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(st), "\n") {
		if hex, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return caps&(1<<unix.CAP_SYS_RESOURCE) != 0
		}
	}
	t.Fatal("no CapEff in /proc/self/status")
	return false
}

// stressPIDs reads stress's own account of itself: its master's PID in
// "stress: info: [PID] dispatching hogs" and the worker the kernel killed
// in "<-- worker PID got signal 9".
var (
	stressMaster = regexp.MustCompile(`stress: info: \[([0-9]+)\] dispatching hogs`)
	stressKilled = regexp.MustCompile(`<-- worker ([0-9]+) got signal 9`)
)

// The OOM killer's victim is the workload's hog, never memlab's child: the
// child runs at oom_score_adj -1000 while the workload keeps the score it
// inherited from memlab, or, where the child may not lower its score (no
// CAP_SYS_RESOURCE), the workload runs at +1000 and the child at its own. Two sizes: a hog far larger than the child (the
// article's 101m under 100m), and one smaller than the child's own resident
// memory (16m under 8m, K1's size), which without protection makes the
// child the largest task and the OOM killer's pick; on 4.4 its "sacrifice
// child" rule then killed stress's master instead.
func TestOOMVictimIsTheWorkload(t *testing.T) {
	lab(t) // root, and a memory hierarchy to run in
	if _, err := exec.LookPath("stress"); err != nil {
		t.Skip("needs stress(1), the labs' workload")
	}
	cursor, err := kmsg.Open()
	if err != nil {
		t.Skipf("the kernel log names the victim: %v", err)
	}
	cursor.Close()
	protected := mayLowerOOMScore(t)
	own, err := proc.OOMScoreAdj(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	workloadScore := own
	if !protected {
		workloadScore = raisedScore
	}
	for _, c := range []struct {
		limit int64
		hog   string
	}{
		{100 << 20, "101m"},
		{8 << 20, "16m"}, // smaller than the child: unguarded, the child is the pick
	} {
		t.Run(c.hog, func(t *testing.T) {
			// No PID namespace: the PIDs in stress's output are the host's,
			// as the kernel log names them.
			o := options(t, "rt-victim", BeforeExec, "sh", "-c",
				fmt.Sprintf("read x; exec stress --vm-bytes %s --vm-keep -m 1", c.hog))
			o.Namespaces, o.Limit = 0, c.limit
			in, release, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			defer release.Close()
			var out bytes.Buffer
			o.Stdin, o.Stdout, o.Stderr = in, &out, &out
			r := start(t, o)

			// While the workload waits: its score is the one it inherited,
			// the child's is -1000 once the workload has started.
			var workload int
			eventually(t, "the workload's shell is running", func() bool {
				tree, _ := proc.Tree(r.ChildPID)
				if len(tree) > 1 {
					workload = tree[1].PID
				}
				return workload != 0
			})
			if got, err := proc.OOMScoreAdj(workload); err != nil || got != workloadScore {
				t.Errorf("the workload's oom_score_adj is %d (%v); want %d", got, err, workloadScore)
			}
			if protected {
				eventually(t, "the child's oom_score_adj is -1000", func() bool {
					got, err := proc.OOMScoreAdj(r.ChildPID)
					return err == nil && got == protectedScore
				})
			}

			release.Close() // sh reads EOF and becomes stress
			res := finish(t, r)
			if res.ChildError != "" || res.ExitCode != 1 || res.Signal != 0 {
				t.Fatalf("the child reported %q, exit %d, signal %d; want stress's exit status 1 from a living child\n%s",
					res.ChildError, res.ExitCode, res.Signal, out.String())
			}
			m, k := stressMaster.FindStringSubmatch(out.String()), stressKilled.FindStringSubmatch(out.String())
			if m == nil || k == nil {
				t.Fatalf("stress did not say who it was and which worker was killed:\n%s", out.String())
			}
			master, _ := strconv.Atoi(m[1])
			worker, _ := strconv.Atoi(k[1])
			if master != workload || worker == master || worker == r.ChildPID {
				t.Errorf("stress master %d (the workload %d), killed worker %d, memlab's child %d", master, workload, worker, r.ChildPID)
			}
			// The kernel's own record: one kill in the group, of the worker.
			if len(res.Victims) != 1 || res.Victims[0].PID != worker || res.Victims[0].Task != "stress" {
				t.Errorf("the kernel log names %v; want only stress pid %d (master %d, memlab's child %d)", res.Victims, worker, master, r.ChildPID)
			}
			if res.OOMKnown && res.OOMKills != 1 {
				t.Errorf("oom_kill %d; want 1", res.OOMKills)
			}
			if res.WorkloadOOMScoreAdj != workloadScore {
				t.Errorf("the child says the workload ran at %d; want %d", res.WorkloadOOMScoreAdj, workloadScore)
			}
			switch {
			case protected && (res.ChildOOMScoreAdj != protectedScore || res.OOMProtectError != ""):
				t.Errorf("the child ran at %d (%q); want %d", res.ChildOOMScoreAdj, res.OOMProtectError, protectedScore)
			case !protected && (res.ChildOOMScoreAdj != own || !strings.Contains(res.OOMProtectError, "CAP_SYS_RESOURCE")):
				t.Errorf("without CAP_SYS_RESOURCE the child ran at %d (%q); want %d and the reason", res.ChildOOMScoreAdj, res.OOMProtectError, own)
			}
		})
	}
}
