package rootfs

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// dynamic is a dynamically linked program every Debian host has.
func dynamic(t *testing.T) string {
	t.Helper()
	p, err := filepath.EvalSymlinks("/bin/true")
	if err != nil {
		t.Skip("no /bin/true")
	}
	return p
}

func TestNeedsInterpreterAndLibc(t *testing.T) {
	needs, err := Needs(dynamic(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(needs) == 0 || !strings.Contains(filepath.Base(needs[0]), "ld-linux") {
		t.Fatalf("the interpreter does not come first: %v", needs)
	}
	if !slices.ContainsFunc(needs, func(p string) bool { return filepath.Base(p) == "libc.so.6" }) {
		t.Fatalf("no libc.so.6 in %v", needs)
	}
	for _, p := range needs {
		if !filepath.IsAbs(p) {
			t.Errorf("%s is not a host path", p)
		}
		if _, err := os.Stat(p); err != nil {
			t.Error(err)
		}
	}
}

// lddPaths is what ldd lists as loaded from a file, interpreter included.
var lddPaths = regexp.MustCompile(`(?m)(?:=> )?(/\S+) \(0x`)

// The loader's own answer: libc's DT_NEEDED of the interpreter is met by
// the interpreter already loaded, so nothing appears twice.
func TestNeedsIsWhatLddLists(t *testing.T) {
	ldd, err := exec.LookPath("ldd")
	if err != nil {
		t.Skip("no ldd")
	}
	for _, prog := range []string{dynamic(t), "stress"} {
		p, err := exec.LookPath(prog)
		if err != nil {
			t.Logf("%s: not on PATH", prog)
			continue
		}
		out, err := exec.Command(ldd, p).Output()
		if err != nil {
			t.Fatalf("ldd %s: %v", p, err)
		}
		var want []string
		for _, m := range lddPaths.FindAllStringSubmatch(string(out), -1) {
			want = append(want, m[1])
		}
		got, err := Needs(p)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: Needs %v, ldd %v", p, got, want)
		}
	}
}

func TestNeedsStatic(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go to build a static program")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte("package main\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "static")
	cmd := exec.Command("go", "build", "-o", bin, src)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	needs, err := Needs(bin)
	if err != nil || len(needs) != 0 {
		t.Fatalf("a static program needs %v, %v", needs, err)
	}
}

func TestNeedsNotELF(t *testing.T) {
	p := filepath.Join(t.TempDir(), "script")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Needs(p); err == nil {
		t.Error("a shell script was read as ELF")
	}
}

func TestProgram(t *testing.T) {
	prog := dynamic(t)
	needs, err := Needs(prog)
	if err != nil {
		t.Fatal(err)
	}
	f := New()
	if err := f.Program("/usr/bin/x", prog); err != nil {
		t.Fatal(err)
	}
	for _, p := range append([]string{"/usr/bin/x"}, needs...) {
		if !f.Has(p) {
			t.Errorf("%s not added", p)
		}
	}
}
