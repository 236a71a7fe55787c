package main

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/memlab/memlab/labs/kernel/proc"
)

// Without a PID namespace nothing ends the workload with memlab, so the
// child supervises: SIGKILL of memlab still ends every process of the run.
func TestRunWithoutPIDNamespaceEndsWithMemlab(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: memlab run makes a cgroup")
	}
	cmd := exec.Command(memlab, "run", "--ns", "none", "--memory", "64m", "--", "sh", "-c", "sleep 300 & sleep 300 & wait")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = exec.Command(memlab, "sweep").Run() }()
	var sleeps []proc.Process
	for deadline := time.Now().Add(10 * time.Second); len(sleeps) < 2 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		tree, _ := proc.Tree(cmd.Process.Pid)
		sleeps = sleeps[:0]
		for _, p := range tree {
			if p.Comm == "sleep" {
				sleeps = append(sleeps, p)
			}
		}
	}
	if len(sleeps) < 2 {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("the workload's two sleeps never showed up under memlab %d", cmd.Process.Pid)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	killed := time.Now()
	for _, p := range sleeps {
		for running(p.PID) && time.Since(killed) < 3*time.Second {
			time.Sleep(10 * time.Millisecond)
		}
		if running(p.PID) {
			_ = syscall.Kill(p.PID, syscall.SIGKILL)
			t.Errorf("%s still runs 3 s after memlab was killed", p)
		}
	}
	t.Logf("the workload ended %s after memlab's SIGKILL", time.Since(killed).Round(time.Millisecond))
}

// running: pid exists and is not a zombie waiting for its parent.
func running(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	rest := s[strings.LastIndexByte(s, ')')+1:]
	return !strings.HasPrefix(strings.TrimSpace(rest), "Z")
}
