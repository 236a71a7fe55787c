package runner

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/memlab/memlab/labs/kernel/cgroup"
	"github.com/memlab/memlab/labs/kernel/release"
)

// readInt reads what the kernel's files hold, and nothing else.
func TestReadInt(t *testing.T) {
	for text, want := range map[string]int{
		"0\n":        0,
		"262144\n":   262144,
		"-1000\n":    -1000,
		"104857600":  104857600,
		"":           -1,
		"\n":         -1,
		"-\n":        -1,
		"max\n":      -1,
		"12 34\n":    -1,
		"1-2\n":      -1,
		"7\nrest\n":  7,
		"0x10\n":     -1,
		"99999999\n": 99999999,
	} {
		f, err := os.Create(filepath.Join(t.TempDir(), "value"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString(text); err != nil {
			t.Fatal(err)
		}
		var buf [32]byte
		// Twice from the same descriptor: it reads from the start each time.
		for range 2 {
			if got := readInt(int(f.Fd()), buf[:]); got != want {
				t.Errorf("readInt(%q) = %d; want %d", text, got, want)
			}
		}
		f.Close()
	}
	if got := readInt(-1, make([]byte, 8)); got != -1 {
		t.Errorf("readInt on a bad descriptor = %d; want -1", got)
	}
}

// The child reads the group's usage through a descriptor it read once
// before it was attached: a cgroup file read again from the start shows
// the usage of now, not of the first read.
func TestReadIntRereadsACgroupFile(t *testing.T) {
	l := lab(t)
	g, err := cgroup.Create(l, "rt-reread")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Remove(t.Context()) })
	f, err := os.Open(filepath.Join(g.Path, g.Files.Usage))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var buf [32]byte
	if got := readInt(int(f.Fd()), buf[:]); got != 0 {
		t.Fatalf("a new group's %s reads %d; want 0", g.Files.Usage, got)
	}
	// A shell waits in the group; the sleep it execs there is charged to it.
	sh := exec.Command("sh", "-c", "read x; exec sleep 5")
	in, err := sh.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sh.Process.Kill(); _ = sh.Wait() }()
	if err := g.Attach(sh.Process.Pid); err != nil {
		t.Fatal(err)
	}
	in.Close()
	eventually(t, "the group's usage shows the exec'd sleep", func() bool {
		return readInt(int(f.Fd()), buf[:]) > 0
	})
	fresh, err := g.Usage()
	if err != nil {
		t.Fatal(err)
	}
	if got := int64(readInt(int(f.Fd()), buf[:])); got <= 0 || got > fresh+chargeBatch(t)*int64(runtime.NumCPU()) {
		t.Errorf("re-read %d; a fresh open reads %d", got, fresh)
	}
}

// chargeBatch is one CPU's charge batch on this kernel.
func chargeBatch(t *testing.T) int64 {
	t.Helper()
	v, err := release.Running()
	if err != nil {
		t.Fatal(err)
	}
	return int64(v.ChargeBatchPages()) * int64(os.Getpagesize())
}

// The group is charged for the workload, not for memlab: as the workload
// starts, the child has left at most one charge batch in it (the stock
// one CPU keeps once anything was charged), on v1 and v2 alike, however
// large the child's Go runtime is.
func TestFootprintBeforeExec(t *testing.T) {
	batch := chargeBatch(t)
	for _, mode := range []Attach{BeforeExec, ThreadBeforeExec} {
		t.Run(string(mode), func(t *testing.T) {
			l := lab(t)
			if mode == ThreadBeforeExec && l.Version != 1 {
				t.Skip("thread-before-exec writes v1's tasks file")
			}
			for range 3 {
				res := finish(t, start(t, options(t, "rt-footprint", mode, "true")))
				if res.UsageFile != cgroup.FilesFor(l.Version).Usage {
					t.Errorf("footprint read from %q", res.UsageFile)
				}
				if res.FootprintBeforeExec < 0 || res.FootprintBeforeExec > batch {
					t.Fatalf("the group held %d bytes as the workload started; want 0 to one charge batch (%d); the child's own peak RSS was %d KiB",
						res.FootprintBeforeExec, batch, res.ChildPeakKiB)
				}
				t.Logf("footprint %d bytes (charge batch %d), child's peak RSS %d KiB", res.FootprintBeforeExec, batch, res.ChildPeakKiB)
			}
		})
	}
}

// Born in the group (clone-into), the child's Go runtime is charged to it:
// more than the charge stock of every CPU could explain. It is the
// difference before-exec makes.
func TestFootprintCloneInto(t *testing.T) {
	l := lab(t)
	v, err := release.Running()
	if err != nil {
		t.Fatal(err)
	}
	if l.Version != 2 || !v.Has(release.CloneIntoCgroup) {
		t.Skipf("clone-into needs cgroup v2 and kernel 5.7 (this is v%d, %s)", l.Version, v)
	}
	stock := chargeBatch(t) * int64(runtime.NumCPU())
	res := finish(t, start(t, options(t, "rt-clone", CloneInto, "true")))
	if res.FootprintBeforeExec <= stock {
		t.Errorf("born in the group, the child left only %d bytes in it (charge stock of all CPUs %d)", res.FootprintBeforeExec, stock)
	}
	t.Logf("clone-into footprint %d bytes; child's peak RSS %d KiB", res.FootprintBeforeExec, res.ChildPeakKiB)
}
