package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestWriteFileReplacesWholeAndLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "sub", "claims.json")
	for _, body := range []string{"first", "second, longer"} {
		if err := WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if got, err := os.ReadFile(p); err != nil || string(got) != body {
			t.Fatalf("read %q %v, want %q", got, err, body)
		}
	}
	if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v %v", st.Mode(), err)
	}
	entries, err := os.ReadDir(filepath.Dir(p))
	if err != nil || len(entries) != 1 {
		t.Errorf("directory holds %v (%v), want the file alone", entries, err)
	}
}

// A directory the file cannot be written in leaves the old file as it was.
func TestWriteFileFailureKeepsTheOldFile(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root writes a read-only directory")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "claims.json")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o755) //nolint:errcheck // best effort, for TempDir's cleanup
	if err := WriteFile(p, []byte("new"), 0o644); err == nil {
		t.Fatal("wrote into a read-only directory")
	}
	if got, _ := os.ReadFile(p); string(got) != "old" {
		t.Errorf("old file now %q", got)
	}
}

// The target a rename cannot replace (a directory) is an error, and the
// temporary file is gone.
func TestWriteFileOverADirectoryFails(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(filepath.Join(dir, "x"), []byte("data"), 0o644); err == nil {
		t.Fatal("renamed over a directory")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("left %v", entries)
	}
}

func TestWritableDir(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, ok := range []string{dir, filepath.Join(dir, "new", "deeper")} {
		if err := WritableDir(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{file, filepath.Join(file, "sub"), "/dev/null"} {
		err := WritableDir(bad)
		if !errors.Is(err, syscall.ENOTDIR) {
			t.Errorf("%s: %v, want ENOTDIR", bad, err)
		}
		if nw, ok := errors.AsType[*NotWritableError](err); !ok || nw.Path != bad || err.Error() != syscall.ENOTDIR.Error() {
			t.Errorf("%s: %#v, want a *NotWritableError of %s saying only the reason", bad, err, bad)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("the probes left %v", entries)
	}
}

// Writable's error names the path it was given and the reason, never the
// probe's temporary file.
func TestWritableNamesTheCallersPath(t *testing.T) {
	dir := t.TempDir()
	for path, want := range map[string]error{
		dir:                                     syscall.EISDIR,
		filepath.Join(dir, "missing", "x.json"): syscall.ENOENT,
	} {
		err := Writable(path)
		nw, ok := errors.AsType[*NotWritableError](err)
		if !ok || nw.Path != path || !errors.Is(err, want) || err.Error() != want.Error() {
			t.Errorf("%s: %#v, want a *NotWritableError of %s saying %v", path, err, path, want)
		}
	}
	if err := Writable(filepath.Join(dir, "x.json")); err != nil {
		t.Errorf("a writable path: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("the probes left %v", entries)
	}
}
