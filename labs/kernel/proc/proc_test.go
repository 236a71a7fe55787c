package proc

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// MemoryCgroup over /proc/PID/cgroup files in the shapes each layout writes.
func TestMemoryCgroup(t *testing.T) {
	root := t.TempDir()
	files := map[int]string{
		1: "4:memory:/docker/x\n1:cpu:/\n0::/\n",   // hybrid: the v1 memory line wins
		2: "0::/system.slice/docker-x.scope\n",     // unified
		3: "1:cpu:/\n1:name=systemd:/init.scope\n", // no memory controller anywhere
	}
	for pid, text := range files {
		dir := filepath.Join(root, itoa(pid))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "cgroup"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for pid, want := range map[int]string{1: "/docker/x", 2: "/system.slice/docker-x.scope"} {
		if got, err := MemoryCgroup(root, pid); err != nil || got != want {
			t.Errorf("pid %d: %q, %v; want %q", pid, got, err, want)
		}
	}
	if got, err := MemoryCgroup(root, 3); err == nil {
		t.Errorf("pid 3: found %q where there is no memory line", got)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestReadStatusOfThisProcess(t *testing.T) {
	s, err := ReadStatus(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Seen from its own PID namespace, a process's innermost PID is its PID.
	if s.PID != os.Getpid() || s.NSPID != os.Getpid() {
		t.Errorf("PID %d, NSPID %d; want both %d", s.PID, s.NSPID, os.Getpid())
	}
	if s.Resident <= 0 || s.Anon <= 0 || s.Anon > s.Resident || s.PageTables <= 0 {
		t.Errorf("memory: %+v", s)
	}
	if len(s.Cmdline) == 0 || s.Cmdline[0] != os.Args[0] || s.Comm == "" {
		t.Errorf("names: comm %q, cmdline %q; want argv[0] %q", s.Comm, s.Cmdline, os.Args[0])
	}
	if _, err := ReadStatus(2147483646); err == nil {
		t.Error("read a PID above any pid_max")
	}
}

func TestOOMScoreAdjOfThisProcess(t *testing.T) {
	b, err := os.ReadFile("/proc/self/oom_score_adj")
	if err != nil {
		t.Skip(err)
	}
	want, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if got, err := OOMScoreAdj(os.Getpid()); err != nil || got != want {
		t.Errorf("OOMScoreAdj(self) = %d, %v; want %d", got, err, want)
	}
	if _, err := OOMScoreAdj(-1); err == nil {
		t.Error("OOMScoreAdj(-1) read something")
	}
}

// statm's split agrees with status's RssAnon/RssFile where both exist (from
// 4.5 statm's shared also counts shmem, which sleep has none of). Read from
// a sleeping child, whose memory does not move between the two reads (this
// test binary's own did, by 68 KiB, as its runtime allocated).
func TestStatmSplit(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Skip(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	pid := cmd.Process.Pid
	// Until the child is sleep, asleep: past exec, its loader done.
	asleep := func() bool {
		st, err := stat(pid)
		return err == nil && st.Comm == "sleep" && st.State == "S"
	}
	for i := 0; i < 200 && !asleep(); i++ {
		time.Sleep(5 * time.Millisecond)
	}
	if !asleep() {
		t.Fatalf("pid %d never slept as sleep", pid)
	}
	s, err := ReadStatus(pid)
	if err != nil {
		t.Fatal(err)
	}
	anon, file, err := statmSplit(pid)
	if err != nil {
		t.Fatal(err)
	}
	if anon != s.Anon || file != s.File {
		t.Errorf("statm anon %d file %d, status RssAnon %d RssFile %d", anon, file, s.Anon, s.File)
	}
}
