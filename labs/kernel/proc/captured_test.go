package proc

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/memlab/memlab/labs/matrix/capture"
)

// Every /proc/PID/cgroup labs/matrix/capture saved (testdata/README.md),
// one per kernel and cgroup mode, names the group the process was in.
func TestCapturedMemoryCgroup(t *testing.T) {
	files, err := filepath.Glob("testdata/v[12]-*/[0-9]*/cgroup")
	if err != nil || len(files) == 0 {
		t.Fatalf("no captured /proc/PID/cgroup in testdata (%v)", err)
	}
	for _, file := range files {
		procRoot := filepath.Dir(filepath.Dir(file))
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(file)))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := MemoryCgroup(procRoot, pid); err != nil || got != capture.Group {
			t.Errorf("%s: %q, %v; want %q", file, got, err, capture.Group)
		}
	}
}

func FuzzMemoryCgroup(f *testing.F) {
	for _, seed := range []string{"4:memory:/docker/x\n1:cpu:/\n0::/\n", "0::/system.slice/docker-x.scope\n", "1:cpu:/\n"} {
		f.Add(seed)
	}
	if files, err := filepath.Glob("testdata/v[12]-*/[0-9]*/cgroup"); err == nil {
		for _, file := range files {
			if b, err := os.ReadFile(file); err == nil {
				f.Add(string(b))
			}
		}
	}
	// One procRoot per fuzzing process: the inputs it runs come one at a time.
	root := f.TempDir()
	if err := os.Mkdir(filepath.Join(root, "1"), 0o755); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if err := os.WriteFile(filepath.Join(root, "1", "cgroup"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := MemoryCgroup(root, 1)
		if err == nil && (!strings.HasPrefix(got, "/") || !strings.Contains(text, got)) {
			t.Fatalf("MemoryCgroup over %q = %q: not a path the file holds", text, got)
		}
	})
}
