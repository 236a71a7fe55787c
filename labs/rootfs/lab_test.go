package rootfs

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func needTools(t *testing.T) {
	t.Helper()
	for _, p := range []string{"busybox", "stress", "bash"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("no %s on PATH", p)
		}
	}
}

func TestLab(t *testing.T) {
	needTools(t)
	f, err := Lab(Tools{})
	if err != nil {
		t.Fatal(err)
	}
	var needs []string
	for _, p := range []string{"stress", "bash"} {
		path, _ := exec.LookPath(p)
		n, err := Needs(path)
		if err != nil {
			t.Fatal(err)
		}
		needs = append(needs, n...)
	}
	// What the Docker suite and the guest's /init run, by these paths.
	for _, p := range append([]string{"/bin/busybox", "/bin/sh", "/bin/sleep", "/bin/ps", "/usr/bin/stress", "/bin/bash",
		"/etc/passwd", "/etc/group", "/proc", "/sys", "/dev", "/tmp", "/var/tmp", "/root"}, needs...) {
		if !f.Has(p) {
			t.Errorf("lacks %s", p)
		}
	}
	if e := f.entries["/bin/sh"]; e.kind != kindSymlink || e.target != "/bin/busybox" {
		t.Errorf("/bin/sh: %+v", e)
	}
	if e := f.entries["/bin/bash"]; e.kind == kindSymlink {
		t.Errorf("/bin/bash is busybox's, not bash: %+v", e)
	}
	if e := f.entries["/tmp"]; e.mode != 0o777|os.ModeSticky {
		t.Errorf("/tmp mode %v", e.mode)
	}
	if e := f.entries["/root"]; e.mode != 0o700 {
		t.Errorf("/root mode %v", e.mode)
	}
	for _, p := range f.Paths() {
		if b := filepath.Base(p); b == "linuxrc" || (b == "busybox" && p != "/bin/busybox") {
			t.Errorf("%s: busybox's own names are not applets", p)
		}
	}
}

func TestBusyboxMustBeStatic(t *testing.T) {
	err := New().Busybox(dynamic(t))
	if !errors.Is(err, ErrMissingTool) || !strings.Contains(err.Error(), "busybox-static") {
		t.Fatalf("a dynamic busybox: %v", err)
	}
}

func TestLabMissingTool(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	if _, err := Lab(Tools{}); !errors.Is(err, ErrMissingTool) {
		t.Fatalf("no tools on PATH: %v", err)
	}
}
