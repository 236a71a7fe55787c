package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/onsi/gomega"

	"github.com/memlab/memlab/labs/kernel/cgroup"
	"github.com/memlab/memlab/labs/kernel/proc"
)

// The tests share this process's children (it is the subreaper): none runs
// in parallel.

// failures is a Gomega whose failures are kept, for the cases where a
// runner must fail the spec.
type failures struct {
	mu   sync.Mutex
	msgs []string
}

func (f *failures) gomega() gomega.Gomega {
	return gomega.NewGomega(func(msg string, _ ...int) {
		f.mu.Lock()
		f.msgs = append(f.msgs, msg)
		f.mu.Unlock()
	})
}

func (f *failures) all() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.msgs)
}

// script writes an executable shell script.
func script(t *testing.T, path, body string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// passThrough is a runner that limits nothing: it drops "--memory SIZE --"
// and execs CMD.
const passThrough = `shift 3; exec "$@"`

// newHarness is a harness over a fake memory hierarchy in a temp dir.
func newHarness(t *testing.T, runner []string, c Config) *Harness {
	t.Helper()
	c.Runner = runner
	if c.Layout.MemoryRoot == "" {
		c.Layout = cgroup.Layout{Version: 2, MemoryRoot: t.TempDir()}
	}
	if c.G == nil {
		c.G = gomega.NewWithT(t)
	}
	h, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	// Processes only: the fake groups' cgroup.procs may name processes
	// that are not ours, which RemoveTree would kill.
	t.Cleanup(func() {
		if err := h.RemoveLeftovers(h.Snapshot()); err != nil {
			t.Error(err)
		}
	})
	return h
}

func gone(pid int) bool {
	_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
	return errors.Is(err, os.ErrNotExist)
}

func TestResolveRunner(t *testing.T) {
	base := t.TempDir()
	memlab := script(t, filepath.Join(base, "bin", "memlab"), passThrough)
	student := script(t, filepath.Join(base, "student-runner"), passThrough)
	if err := os.WriteFile(filepath.Join(base, "not-executable"), []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		line string
		want []string
	}{
		{"", []string{memlab, "run"}},                                          // the reference
		{"  ", []string{memlab, "run"}},                                        // blanks are no runner
		{"./student-runner", []string{student}},                                // from base, not from here
		{"student-runner", nil},                                                // no "/": PATH only
		{"sh student-runner --fast", []string{sh, "student-runner", "--fast"}}, // words
		{student + " -v", []string{student, "-v"}},                             // absolute
		{"./not-executable", nil},
		{"./missing", nil},
	} {
		got, err := ResolveRunner(c.line, base)
		if c.want == nil {
			if err == nil {
				t.Errorf("%q: resolved to %v, want an error", c.line, got)
			}
			continue
		}
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%q: %v, %v; want %v", c.line, got, err, c.want)
		}
	}
	_, err = ResolveRunner("", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "build the reference first") {
		t.Errorf("no reference built: error %v, want the hint to build it", err)
	}
	if _, err := ResolveRunner("./missing", base); err == nil || strings.Contains(err.Error(), "build the reference") {
		t.Errorf("a missing student runner: error %v, want no hint about the reference", err)
	}
}

func TestRunsReportStatusAndOutcome(t *testing.T) {
	runner := script(t, filepath.Join(t.TempDir(), "runner"), passThrough)
	var outcomes []string
	var log strings.Builder
	h := newHarness(t, []string{runner}, Config{Log: &log, Outcome: func(l string) { outcomes = append(outcomes, l) }})

	r := h.RunToEnd("100m", "sh", "-c", "echo hello; exit 3")
	if got := r.ExitStatus(); got != 3 {
		t.Errorf("exit status %d, want 3", got)
	}
	if !strings.Contains(string(r.Out.Contents()), "hello") || !strings.Contains(log.String(), "hello") {
		t.Errorf("output %q, log %q: want hello in both", r.Out.Contents(), log.String())
	}
	if got := h.RunToEnd("100m", "sh", "-c", "kill -9 $$").ExitStatus(); got != 137 {
		t.Errorf("CMD killed by signal 9: exit status %d, want 137", got)
	}
	if len(outcomes) != 2 || !strings.HasPrefix(outcomes[0], "--memory 100m -- sh -c 'echo hello; exit 3': exit status 3 after ") {
		t.Errorf("outcomes %q", outcomes)
	}
	if !strings.Contains(log.String(), "$ "+runner+" --memory 100m -- sh -c") {
		t.Errorf("the log lacks the command line: %q", log.String())
	}
}

func TestARunnerThatHangsIsKilledAtTheTimeout(t *testing.T) {
	runner := script(t, filepath.Join(t.TempDir(), "runner"), "sleep 60 & sleep 61")
	var f failures
	var outcomes []string
	h := newHarness(t, []string{runner}, Config{Timeout: 300 * time.Millisecond, G: f.gomega(), Outcome: func(l string) { outcomes = append(outcomes, l) }})
	start := time.Now()
	r := h.RunToEnd("100m", "true")
	r.ExitStatus()
	if took := time.Since(start); took > 300*time.Millisecond+exitGrace+2*time.Second {
		t.Errorf("the run took %s past a 300ms timeout", took)
	}
	if !r.TimedOut() || len(f.all()) != 1 || !strings.Contains(f.all()[0], "did not finish within 300ms") {
		t.Errorf("timed out %v, failures %q", r.TimedOut(), f.all())
	}
	if len(outcomes) != 1 || !strings.Contains(outcomes[0], "killed at the 300ms timeout") {
		t.Errorf("outcomes %q", outcomes)
	}
	if left := h.LeftBehind(map[string]bool{}); len(left.Processes) > 0 {
		t.Errorf("the runner's processes outlived the timeout: %s", left)
	}
}

// A child that forks a grandchild and exits: the grandchild comes back to
// this process, is seen as left behind, and is killed and reaped.
func TestOrphansComeBackAndAreReaped(t *testing.T) {
	runner := script(t, filepath.Join(t.TempDir(), "runner"), passThrough)
	h := newHarness(t, []string{runner}, Config{})
	before := h.Snapshot()

	// sleep lets go of the output, or the run would wait exitGrace for it.
	r := h.RunToEnd("100m", "sh", "-c", "sleep 60 >/dev/null 2>&1 & echo $!")
	if got := r.ExitStatus(); got != 0 {
		t.Fatalf("exit status %d", got)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(r.Out.Contents())))
	if err != nil {
		t.Fatalf("CMD printed %q", r.Out.Contents())
	}
	left := h.LeftBehind(before)
	if len(left.Processes) != 1 || left.Processes[0].PID != pid || left.Processes[0].PPID != os.Getpid() {
		t.Fatalf("left behind %+v, want sleep %d reparented to this process", left.Processes, pid)
	}
	if left.String() != fmt.Sprintf("process %d (sleep 60)", pid) {
		t.Errorf("left.String() = %q", left)
	}
	if err := h.RemoveLeftovers(before); err != nil {
		t.Fatal(err)
	}
	if !gone(pid) {
		t.Errorf("sleep %d is still in /proc (alive or an unreaped zombie)", pid)
	}

	// A grandchild that ends by itself is reaped, not left as a zombie.
	r = h.RunToEnd("100m", "sh", "-c", "sleep 0.2 & echo $!")
	pid, _ = strconv.Atoi(strings.TrimSpace(string(r.Out.Contents())))
	if left := h.LeftBehind(before); len(left.Processes) != 0 {
		t.Errorf("left behind %s, want nothing: the grandchild ended by itself", left)
	}
	if pid == 0 || !gone(pid) {
		t.Errorf("grandchild %d was not reaped", pid)
	}
}

func TestFindCommand(t *testing.T) {
	runner := script(t, filepath.Join(t.TempDir(), "runner"), passThrough)
	h := newHarness(t, []string{runner}, Config{Timeout: 5 * time.Second})
	argv := []string{"sh", "-c", "sleep 60 >/dev/null 2>&1; :", fmt.Sprintf("memlab-harness-test-%d", time.Now().UnixNano())}
	r := h.Start("100m", argv...)
	sh := h.FindCommand(context.Background(), r, argv)
	if sh.Comm != "sh" || !slices.Equal(sh.Cmdline[1:], argv[1:]) {
		t.Fatalf("found %+v", sh)
	}
	if tree := Tree(sh.PID); len(tree) == 0 || tree[0].PID != sh.PID {
		t.Errorf("Tree(%d) = %v", sh.PID, tree)
	}
	if err := syscall.Kill(sh.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if got := r.ExitStatus(); got != 137 {
		t.Errorf("exit status %d, want 137", got)
	}

	// A runner that exits without running CMD: FindCommand gives up at once.
	var f failures
	h.G = f.gomega()
	quitter := script(t, filepath.Join(t.TempDir(), "quitter"), "exit 1")
	h.Runner = []string{quitter}
	start := time.Now()
	h.FindCommand(context.Background(), h.Start("100m", argv...), argv)
	if len(f.all()) != 1 || !strings.Contains(f.all()[0], "the runner exited 1 and CMD was never seen running") {
		t.Errorf("failures %q", f.all())
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("gave up after %s", took)
	}
}

// mkgroup makes a fake group directory, with cgroup.procs when pids are
// given.
func mkgroup(t *testing.T, root, dir string, pids ...int) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
		t.Fatal(err)
	}
	if len(pids) > 0 {
		var b strings.Builder
		for _, p := range pids {
			fmt.Fprintln(&b, p)
		}
		if err := os.WriteFile(filepath.Join(root, dir, "cgroup.procs"), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestNewGroupsAreOnlyTheRunners(t *testing.T) {
	runner := script(t, filepath.Join(t.TempDir(), "runner"), passThrough)
	h := newHarness(t, []string{runner}, Config{})
	root := h.Layout.MemoryRoot
	mkgroup(t, root, "system.slice")
	before := h.Snapshot()
	if !before["."] || !before["system.slice"] || len(before) != 2 {
		t.Fatalf("snapshot %v", before)
	}

	mine := exec.Command("sleep", "60")
	if err := mine.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = mine.Process.Kill(); _ = mine.Wait() }()

	mkgroup(t, root, "shell-runner-1/a/b")           // empty: the runner's
	mkgroup(t, root, "holds-mine", mine.Process.Pid) // only our processes: the runner's
	mkgroup(t, root, "other/x", 1)                   // init's: someone else's, and so is other
	initStart, err := proc.StartTime(1)
	if err != nil {
		t.Fatal(err)
	}
	live := proc.RunID{PID: 1, Start: initStart}.String()
	mkgroup(t, root, cgroup.LabParent+"/run-"+live+"-000000")        // made by a live memlab run that is not ours
	mkgroup(t, root, cgroup.LabParent+"/run-4194304.1-000000")       // its run is gone (above pid_max's limit): the runner's
	mkgroup(t, root, "system.slice/old-is-new", 1, mine.Process.Pid) // a foreign process among ours

	got := h.NewGroups(before)
	want := []string{"shell-runner-1/a/b", cgroup.LabParent + "/run-4194304.1-000000", "shell-runner-1/a", "holds-mine", "shell-runner-1"}
	if !slices.Equal(got, want) {
		t.Errorf("NewGroups = %q\n               want %q", got, want)
	}
	left := Leftovers{Groups: got, root: root}
	if !strings.HasPrefix(left.String(), "cgroup "+filepath.Join(root, "shell-runner-1/a/b")+"; ") {
		t.Errorf("Leftovers.String() = %q", left)
	}
}

func TestLimitInForce(t *testing.T) {
	for _, c := range []struct {
		version int
		file    string
		noLimit string
	}{{2, "memory.max", "max"}, {1, "memory.limit_in_bytes", "9223372036854771712"}} {
		h := newHarness(t, []string{"/bin/true"}, Config{Layout: cgroup.Layout{Version: c.version, MemoryRoot: t.TempDir()}})
		root := h.Layout.MemoryRoot
		write := func(dir, value string) {
			mkgroup(t, root, dir)
			if err := os.WriteFile(filepath.Join(root, dir, c.file), []byte(value+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		write(".", c.noLimit)
		write("a", "209715200")
		write("a/b", "104857600")
		write("a/b/c", c.noLimit)
		write("d", c.noLimit)

		limit, from, ok := h.LimitInForce("/a/b/c")
		if !ok || limit != 100<<20 || from != filepath.Join(root, "a/b", c.file) {
			t.Errorf("v%d: /a/b/c: %d from %s (%v), want the 100 MiB of a/b", c.version, limit, from, ok)
		}
		if limit, _, ok := h.LimitInForce("/a"); !ok || limit != 200<<20 {
			t.Errorf("v%d: /a: %d (%v)", c.version, limit, ok)
		}
		if limit, from, ok := h.LimitInForce("/d"); ok {
			t.Errorf("v%d: /d has no limit, got %d from %s", c.version, limit, from)
		}
	}
}

// On the real cgroup filesystem, in a private subtree: a group the runner
// left, with a process in it, is emptied and removed.
func TestRemoveLeftoversOnTheCgroupFS(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: it makes cgroups")
	}
	layout, err := cgroup.Detect()
	if err != nil {
		t.Skip("no memory cgroup here: ", err)
	}
	// A subtree of our own: the harness never looks at the machine's
	// other groups, which other tests may be making right now.
	private := filepath.Join(layout.MemoryRoot, fmt.Sprintf("memlab-harness-test-%d", os.Getpid()))
	if err := os.Mkdir(private, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cgroup.RemoveTree(t.Context(), layout, private)
		if _, err := os.Stat(private); err == nil {
			t.Errorf("%s outlived the test", private)
		}
	})
	sub := layout
	sub.MemoryRoot = private
	h := newHarness(t, []string{"/bin/true"}, Config{Layout: sub})
	before := h.Snapshot()

	if err := os.MkdirAll(filepath.Join(private, "left/inner"), 0o755); err != nil {
		t.Fatal(err)
	}
	sleeper := exec.Command("sleep", "60")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	pid := sleeper.Process.Pid
	if err := os.WriteFile(filepath.Join(private, "left/inner/cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
		_ = sleeper.Process.Kill()
		_ = sleeper.Wait()
		t.Fatal(err)
	}
	if cg, err := proc.ThreadMemoryCgroup(pid, pid); err != nil || !strings.HasSuffix(cg, "/left/inner") {
		t.Errorf("sleep %d is in %q (%v)", pid, cg, err)
	}
	if got := h.NewGroups(before); !slices.Equal(got, []string{"left/inner", "left"}) {
		t.Errorf("NewGroups = %q", got)
	}
	done := make(chan error)
	go func() { done <- sleeper.Wait() }() // exec.Cmd reaps its own child
	if err := h.RemoveLeftovers(before); err != nil {
		t.Fatal(err)
	}
	<-done //nolint:errcheck // killed by RemoveLeftovers: its wait status is an error, on purpose
	if _, err := os.Stat(filepath.Join(private, "left")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("left is still there: %v", err)
	}
}

// Memory groups (relative to their root) and the other hierarchies'
// directories (absolute, their root derived from the listing) answer to
// one rule: a new directory is the runner's at the top, under the lab
// parent, or under one that is itself new; never inside one the machine had.
func TestOneRuleJudgesEveryHierarchy(t *testing.T) {
	before := map[string]bool{"system.slice": true, cgroup.LabParent: true}
	for dir, want := range map[string]bool{
		"new": true, cgroup.LabParent + "/run": true, "new/inner": true, "system.slice/docker-1": false,
	} {
		if got := judged(".", dir, before); got != want {
			t.Errorf("judged(%q) = %v, want %v", dir, got, want)
		}
	}
	m := Machine{CgroupDirs: map[string]bool{}}
	abs := map[string]bool{}
	for d := range before {
		m.CgroupDirs["/cg/pids/"+d] = true
		abs["/cg/pids/"+d] = true
	}
	for dir, want := range map[string]bool{
		"/cg/pids/new": true, "/cg/pids/" + cgroup.LabParent + "/run": true,
		"/cg/pids/new/inner": true, "/cg/pids/system.slice/docker-1": false,
	} {
		for d := dir; d != "/cg/pids"; d = filepath.Dir(d) {
			m.CgroupDirs[d] = true
		}
		if root := m.cgroupRoot(dir); root != "/cg/pids" {
			t.Errorf("cgroupRoot(%q) = %q", dir, root)
		}
		if got := judged(m.cgroupRoot(dir), dir, abs); got != want {
			t.Errorf("judged(%q) = %v, want %v", dir, got, want)
		}
	}
}
