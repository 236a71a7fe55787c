package proc

import (
	"errors"
	"os"
	"os/exec"
	"testing"
)

func TestRunIDNamesThisProcess(t *testing.T) {
	id, err := Current()
	if err != nil {
		t.Fatal(err)
	}
	st, err := StartTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if id.PID != os.Getpid() || id.Start != st {
		t.Fatalf("Current() = %+v; this process is PID %d started at %d", id, os.Getpid(), st)
	}
	back, err := ParseRunID(id.String())
	if err != nil || back != id {
		t.Fatalf("ParseRunID(%q) = %+v, %v; want %+v", id.String(), back, err, id)
	}
	if !id.Alive() {
		t.Fatal("this process counted dead")
	}
}

// A PID now held by a process with another start time is a reused PID: the
// run it named is gone, however alive the PID looks.
func TestRunIDWithReusedPIDIsGone(t *testing.T) {
	id, err := Current()
	if err != nil {
		t.Fatal(err)
	}
	reused := RunID{PID: id.PID, Start: id.Start + 1}
	why, gone := reused.Gone()
	if !gone || reused.Alive() {
		t.Fatalf("%s counted alive: only its PID matches this process", reused)
	}
	if why == "" {
		t.Error("no reason given")
	}
}

func TestRunIDOfAnEndedProcessIsGone(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	st, err := StartTime(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	id := RunID{PID: cmd.Process.Pid, Start: st}
	if !id.Alive() {
		t.Fatalf("%s counted dead while it runs", id)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if id.Alive() {
		t.Fatalf("%s counted alive after it was killed and reaped", id)
	}
}

func TestParseRunIDRejects(t *testing.T) {
	for _, bad := range []string{"", "1234", "1234.", ".5", "0.5", "x.5", "12.y", "+1.5", "1.+5", "1.2.3", " 1.2", "01.2", "1.02", "1-2", "99999999999999999999.1"} {
		if id, err := ParseRunID(bad); !errors.Is(err, ErrBadRunID) {
			t.Errorf("ParseRunID(%q) = %+v, %v; want ErrBadRunID", bad, id, err)
		}
	}
}

func FuzzParseRunID(f *testing.F) {
	for _, s := range []string{"4242.1234567", "1.0", "x.1", "1.2.3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseRunID(s)
		if err != nil {
			return
		}
		if id.PID <= 0 || id.String() != s {
			t.Fatalf("ParseRunID(%q) = %+v, which prints as %q", s, id, id.String())
		}
	})
}
