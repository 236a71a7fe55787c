package supervise

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/memlab/memlab/labs/kernel/cgroup"
	"github.com/memlab/memlab/labs/kernel/proc"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: it makes a cgroup and namespaces")
	}
}

// A program that kills itself, leaving a process in its own session and
// one that moved itself out of the grader's cgroup: Run reports the death
// and kills both before it returns.
func TestNothingOutlivesADeadSuite(t *testing.T) {
	needRoot(t)
	script := `setsid sleep 1001 </dev/null >/dev/null 2>&1 &
sh -c 'for g in /sys/fs/cgroup/unified /sys/fs/cgroup; do [ -w "$g/cgroup.procs" ] && echo $$ >"$g/cgroup.procs" && break; done; exec sleep 1002' </dev/null >/dev/null 2>&1 &
sleep 0.3; kill -9 $$`
	var out bytes.Buffer
	res, err := Run([]string{"sh", "-c", script}, t.TempDir(), &out)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Died() || res.Signal != syscall.SIGKILL {
		t.Errorf("result %+v: want death by SIGKILL", res)
	}
	joined := strings.Join(res.Survivors, "; ")
	if !strings.Contains(joined, "sleep 1001") || !strings.Contains(joined, "sleep 1002") {
		t.Errorf("survivors %q: want both sleeps", joined)
	}
	if _, err := os.Stat(res.Group); res.Group != "" && !os.IsNotExist(err) {
		t.Errorf("the cgroup %s is still there: %v", res.Group, err)
	}
	for _, p := range pidsOf("sleep 1001", "sleep 1002") {
		t.Errorf("process %d outlived Run", p)
	}
}

// A program that ends by itself, in namespaces of its own.
func TestASuiteThatEndsByItself(t *testing.T) {
	needRoot(t)
	var out bytes.Buffer
	res, err := Run([]string{"sh", "-c", "readlink /proc/self/ns/mnt /proc/self/ns/net; exit 3"}, t.TempDir(), &out)
	if err != nil {
		t.Fatal(err)
	}
	if res.Died() || res.Exit != 3 || len(res.Survivors) != 0 {
		t.Errorf("result %+v: want exit 3, nothing killed", res)
	}
	for _, ns := range []string{"mnt", "net"} {
		host, _ := os.Readlink("/proc/self/ns/" + ns)
		if strings.Contains(out.String(), host) {
			t.Errorf("the program shares this process's %s namespace: %s", ns, out.String())
		}
	}
}

func pidsOf(cmdlines ...string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		cl := strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
		for _, c := range cmdlines {
			if cl == c {
				var pid int
				for _, ch := range e.Name() {
					pid = pid*10 + int(ch-'0')
				}
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// SweepGroups removes a grader's group only once that grader is gone, by
// PID and start time: a live grader's stays, and so does one whose name
// holds no run ID; a gone grader's goes, and what is in it dies with it,
// even when its PID now names another process.
func TestSweepGroupsKeepsLiveGradersOnly(t *testing.T) {
	needRoot(t)
	l, err := cgroup.Detect()
	if err != nil && !errors.Is(err, cgroup.ErrNoMemoryController) {
		t.Fatal(err)
	}
	if l.UnifiedRoot == "" {
		t.Skip("no cgroup2 hierarchy here")
	}
	// The live grader: a process of the test's, whose RunID also names
	// the private subtree the sweep looks in, so that a sweep removes the
	// subtree once it is gone, should the test be killed before its cleanup.
	live := exec.Command("sleep", "60")
	if err := live.Start(); err != nil {
		t.Fatal(err)
	}
	liveStart, err := proc.StartTime(live.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	liveRun := proc.RunID{PID: live.Process.Pid, Start: liveStart}
	root := filepath.Join(l.UnifiedRoot, GroupPrefix+liveRun.String())
	if err := os.Mkdir(root, 0o755); err != nil {
		_ = live.Process.Kill()
		_ = live.Wait()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = live.Process.Kill()
		_ = live.Wait()
		if err := cgroup.RemoveTree(context.Background(), cgroup.Layout{Version: 2}, root); err != nil {
			t.Errorf("%s outlived the test: %v", root, err)
		}
	})

	kept := []string{
		GroupPrefix + liveRun.String(), // its grader is alive
		GroupPrefix + "other",          // not a name the grader gives
	}
	gone := []string{
		GroupPrefix + "4194304.1", // its PID is above pid_max's limit: ended
		// A live PID with another start time: the PID was reused.
		GroupPrefix + proc.RunID{PID: live.Process.Pid, Start: liveStart + 1}.String(),
	}
	for _, g := range append(slices.Clone(kept), gone...) {
		if err := os.Mkdir(filepath.Join(root, g), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// What a killed grader's runner left running in its group.
	left := exec.Command("sleep", "61")
	if err := left.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan struct{})
	go func() { _ = left.Wait(); close(waited) }() // killed, on purpose: its status is an error
	t.Cleanup(func() { _ = left.Process.Kill(); <-waited })
	if err := os.WriteFile(filepath.Join(root, gone[0], "cgroup.procs"), []byte(strconv.Itoa(left.Process.Pid)), 0); err != nil {
		t.Fatal(err)
	}

	removed, err := SweepGroups(t.Context(), root)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, g := range gone {
		want = append(want, filepath.Join(root, g))
	}
	slices.Sort(removed)
	slices.Sort(want)
	if !slices.Equal(removed, want) {
		t.Errorf("SweepGroups removed %q\n                 want %q", removed, want)
	}
	for _, g := range gone {
		if _, err := os.Stat(filepath.Join(root, g)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a gone grader's group %s is still there: %v", g, err)
		}
	}
	for _, g := range kept {
		if _, err := os.Stat(filepath.Join(root, g)); err != nil {
			t.Errorf("%s was removed: %v", g, err)
		}
	}
	select {
	case <-waited:
	case <-time.After(10 * time.Second):
		t.Errorf("sleep %d, in a gone grader's group, outlived the sweep", left.Process.Pid)
	}
}
