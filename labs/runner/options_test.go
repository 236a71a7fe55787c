package runner

import (
	"errors"
	"strings"
	"syscall"
	"testing"
)

func TestParseAttach(t *testing.T) {
	for _, a := range Attaches {
		if got, err := ParseAttach(string(a)); err != nil || got != a {
			t.Errorf("ParseAttach(%q) = %q, %v", a, got, err)
		}
	}
	for _, bad := range []string{"", "before", "BEFORE-EXEC", " after-start", "after-start,before-exec", "clone_into"} {
		_, err := ParseAttach(bad)
		if !errors.Is(err, ErrUsage) {
			t.Errorf("ParseAttach(%q) = %v; want ErrUsage", bad, err)
			continue
		}
		// The one line a student sees names every order there is.
		for _, a := range Attaches {
			if !strings.Contains(err.Error(), string(a)) {
				t.Errorf("ParseAttach(%q): %q does not offer %s", bad, err, a)
			}
		}
	}
}

func TestParseNamespaces(t *testing.T) {
	for in, want := range map[string]uintptr{
		"none":            0,
		DefaultNamespaces: syscall.CLONE_NEWUTS | syscall.CLONE_NEWNS | syscall.CLONE_NEWPID,
		"pid":             syscall.CLONE_NEWPID,
		"ipc, uts":        syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS,
		"pid,pid":         syscall.CLONE_NEWPID,
	} {
		if got, err := ParseNamespaces(in); err != nil || got != want {
			t.Errorf("ParseNamespaces(%q) = %#x, %v; want %#x", in, got, err, want)
		}
	}
	for _, bad := range []string{"net", "uts,net", "uts,", ",", "none,pid", "PID", "user", ""} {
		_, err := ParseNamespaces(bad)
		if !errors.Is(err, ErrUsage) {
			t.Errorf("ParseNamespaces(%q) = %v; want ErrUsage", bad, err)
			continue
		}
		if !strings.Contains(err.Error(), "ipc,mnt,pid,uts") {
			t.Errorf("ParseNamespaces(%q): %q does not list the known namespaces", bad, err)
		}
	}
}

// The exit status a run reports is a shell's: the code, or 128+n for signal n.
func TestExitStatus(t *testing.T) {
	for _, c := range []struct {
		ws           syscall.WaitStatus // as wait(2) encodes it
		code, signal int
	}{
		{0, 0, 0},
		{3 << 8, 3, 0},
		{255 << 8, 255, 0},
		{syscall.WaitStatus(syscall.SIGKILL), 137, 9},
		{syscall.WaitStatus(syscall.SIGTERM), 143, 15},
		{syscall.WaitStatus(syscall.SIGSEGV) | 0x80, 139, 11}, // with a core dump
	} {
		if code, sig := exitStatus(c.ws); code != c.code || sig != c.signal {
			t.Errorf("exitStatus(%#x) = %d, %d; want %d, %d", int(c.ws), code, sig, c.code, c.signal)
		}
	}
}
