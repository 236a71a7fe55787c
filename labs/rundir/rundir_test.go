package rundir

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/memlab/memlab/labs/kernel/proc"
)

// A run's directory goes once its run is gone: dead, or its PID reused by
// another process (a different start time); a live run's stays.
func TestSweepRemovesOnlyDeadRunsDirs(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	runOf := func(pid int) proc.RunID {
		start, err := proc.StartTime(pid)
		if err != nil {
			t.Fatal(err)
		}
		return proc.RunID{PID: pid, Start: start}
	}
	dead := filepath.Join(tmp, fmt.Sprintf("%s%d.1-123", MatrixPrefix, gone.Process.Pid))
	live := filepath.Join(tmp, fmt.Sprintf("%s%s-456", MatrixPrefix, runOf(os.Getppid())))
	mine := filepath.Join(tmp, fmt.Sprintf("%s%s-789", MatrixPrefix, runOf(os.Getpid())))
	// A live PID with another start time: the PID was reused, the run is gone.
	reused := filepath.Join(tmp, fmt.Sprintf("%s%d.1-321", MatrixPrefix, os.Getppid()))
	for _, d := range []string{dead, live, mine, reused} {
		if err := os.MkdirAll(filepath.Join(d, "suites"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var log []string
	Sweep(os.TempDir(), MatrixPrefix, func(format string, a ...any) { log = append(log, fmt.Sprintf(format, a...)) })
	for _, d := range []string{dead, reused} {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("a dead run's %s is still there", d)
		}
	}
	for _, d := range []string{live, mine} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("a live run's %s was removed", d)
		}
	}
	if len(log) != 2 {
		t.Errorf("log %q", log)
	}
}
