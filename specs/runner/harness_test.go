package runner_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"golang.org/x/sys/unix"

	"github.com/memlab/memlab/labs/kernel/cgroup"
	"github.com/memlab/memlab/labs/kernel/proc"
	"github.com/memlab/memlab/specs/claim"
)

// Report entries the grader (labs/cmd/grade) reads back from Ginkgo's JSON.
const (
	entryRunner  = "memlab.runner"  // the runner command line, once per suite
	entryOutcome = "memlab.outcome" // one line per run: status, time, leftovers
)

// DefaultTimeout bounds one run of the runner. The slowest spec's workload
// takes 5 s when the limit is missing (stress --timeout 5s); a correct
// runner finishes every run in well under 2 s.
const DefaultTimeout = 30 * time.Second

// exitGrace is how long a run may take after its runner exited to close
// the output it handed on, and how long processes it leaves get to end by
// themselves before they count as left behind.
const exitGrace = 2 * time.Second

var (
	repoRoot   string
	runnerArgv []string
	runTimeout = DefaultTimeout
	layout     cgroup.Layout
	limitFile  string
	ownCgroup  string            // this process's memory cgroup, relative to the memory root
	hostNS     map[string]string // this process's namespaces: "pid" -> "pid:[4026531836]"
)

func prepare() {
	claim.RecordEnv()
	if os.Geteuid() != 0 {
		Skip("needs root: a runner writes the cgroup filesystem")
	}
	var err error
	repoRoot, err = findRepoRoot()
	Expect(err).NotTo(HaveOccurred())
	if runnerArgv, err = resolveRunner(os.Getenv("MEMLAB_RUNNER")); err != nil {
		Fail(err.Error())
	}
	if s := os.Getenv("MEMLAB_RUNNER_TIMEOUT"); s != "" {
		if runTimeout, err = time.ParseDuration(s); err != nil || runTimeout <= 0 {
			Fail(fmt.Sprintf("MEMLAB_RUNNER_TIMEOUT=%q: want a duration like 30s", s))
		}
	}
	AddReportEntry(entryRunner, strings.Join(runnerArgv, " "))
	layout, err = cgroup.Detect()
	Expect(err).NotTo(HaveOccurred())
	limitFile = cgroup.FilesFor(layout.Version).Limit
	ownCgroup, err = proc.ThreadMemoryCgroup(os.Getpid(), os.Getpid())
	Expect(err).NotTo(HaveOccurred())
	hostNS = map[string]string{}
	for _, ns := range []string{"pid", "uts", "mnt"} {
		hostNS[ns], err = os.Readlink("/proc/self/ns/" + ns)
		Expect(err).NotTo(HaveOccurred())
	}
	// Orphans of the runner become this process's children, not init's:
	// nothing it starts can get away.
	Expect(unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)).To(Succeed())
	GinkgoWriter.Printf("runner: %s (timeout %s per run); memory cgroups at %s (v%d)\n",
		strings.Join(runnerArgv, " "), runTimeout, layout.MemoryRoot, layout.Version)
}

func findRepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/memlab/memlab\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the memlab repository")
		}
		dir = parent
	}
}

// resolveRunner splits MEMLAB_RUNNER into words; a first word with a "/"
// is taken relative to the repository root.
func resolveRunner(spec string) ([]string, error) {
	words := strings.Fields(spec)
	if len(words) == 0 {
		words = []string{"bin/memlab", "run"}
	}
	if strings.Contains(words[0], "/") && !filepath.IsAbs(words[0]) {
		words[0] = filepath.Join(repoRoot, words[0])
	}
	path, err := exec.LookPath(words[0])
	if err != nil {
		hint := ""
		if len(spec) == 0 {
			hint = " (build the reference first: go build -o bin/memlab ./labs/cmd/memlab)"
		}
		return nil, fmt.Errorf("runner %q: %w%s", words[0], err, hint)
	}
	words[0] = path
	return words, nil
}

// ---------------------------------------------------------------- runs

// Run is one run of the runner under test.
type Run struct {
	Argv     []string
	Out      *gbytes.Buffer // stdout and stderr together, as they came
	cmd      *exec.Cmd
	start    time.Time
	done     chan struct{}
	timedOut bool
	exit     int
	elapsed  time.Duration
	waitErr  error
	mu       sync.Mutex
	filed    sync.Once
}

// Start runs RUNNER --memory SIZE -- CMD... with the suite's deadline.
func Start(size string, command ...string) *Run {
	argv := append(slices.Clone(runnerArgv), "--memory", size, "--")
	argv = append(argv, command...)
	r := &Run{Argv: argv, Out: gbytes.NewBuffer(), done: make(chan struct{})}
	r.cmd = exec.Command(argv[0], argv[1:]...)
	r.cmd.Dir = repoRoot
	w := &tee{r.Out}
	r.cmd.Stdout, r.cmd.Stderr = w, w
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	r.cmd.WaitDelay = exitGrace // a process the runner left may hold its output open
	GinkgoWriter.Printf("$ %s\n", shellQuote(argv))
	r.start = time.Now()
	Expect(r.cmd.Start()).To(Succeed(), "starting the runner")
	activeRuns.Store(r.cmd.Process.Pid, r)
	timer := time.AfterFunc(runTimeout, func() {
		r.mu.Lock()
		r.timedOut = true
		r.mu.Unlock()
		GinkgoWriter.Printf("memlab: the runner is still running after %s: killing it and everything it started\n", runTimeout)
		_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
		killDescendants()
	})
	go func() {
		defer close(r.done)
		defer activeRuns.Delete(r.cmd.Process.Pid)
		r.waitErr = r.cmd.Wait()
		timer.Stop()
		r.elapsed = time.Since(r.start)
		r.exit = -1 // no status: the wait itself failed
		if r.waitErr != nil && r.cmd.ProcessState == nil {
			GinkgoWriter.Printf("memlab: waiting for the runner: %v\n", r.waitErr)
		}
		if st := r.cmd.ProcessState; st != nil {
			r.exit = st.ExitCode()
			if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				r.exit = 128 + int(ws.Signal()) // as a shell would report it
			}
		}
	}()
	return r
}

// RunToEnd starts the runner and waits for it.
func RunToEnd(size string, command ...string) *Run {
	r := Start(size, command...)
	r.Wait()
	return r
}

// Wait waits for the runner (never longer than its deadline) and files the
// outcome.
func (r *Run) Wait() *Run {
	<-r.done
	r.filed.Do(func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		line := fmt.Sprintf("%s: exit status %d after %s", shellQuote(r.Argv[len(runnerArgv):]), r.exit, r.elapsed.Round(time.Millisecond))
		if r.timedOut {
			line = fmt.Sprintf("%s: killed at the %s timeout", shellQuote(r.Argv[len(runnerArgv):]), runTimeout)
		}
		outcome(line)
		GinkgoWriter.Println("memlab: " + line)
	})
	return r
}

// ExitStatus is the runner's exit status; it fails the spec if the runner
// had to be killed at the timeout.
func (r *Run) ExitStatus() int {
	r.Wait()
	Expect(r.timedOut).To(BeFalse(), "the runner did not finish within %s: it was killed (a runner must exit when CMD does)", runTimeout)
	return r.exit
}

// activeRuns are the runs not yet waited for, by the runner's PID: their
// exec.Cmd reaps them, nobody else may.
var activeRuns sync.Map

// stopActiveRuns kills the runs a spec left running (it failed before
// waiting) with everything they started, and waits for them.
func stopActiveRuns() {
	activeRuns.Range(func(_, v any) bool {
		r := v.(*Run)
		_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
		_ = r.cmd.Process.Kill()
		return true
	})
	killDescendants()
	activeRuns.Range(func(_, v any) bool {
		select {
		case <-v.(*Run).done:
		case <-time.After(exitGrace + 5*time.Second):
		}
		return true
	})
}

// Running says whether the runner has not exited yet.
func (r *Run) Running() bool {
	select {
	case <-r.done:
		return false
	default:
		return true
	}
}

// outcome files one line of what a run did, for the grade's feedback.
func outcome(line string) {
	AddReportEntry(entryOutcome, line, ReportEntryVisibilityFailureOrVerbose)
}

type tee struct{ buf *gbytes.Buffer }

func (t *tee) Write(p []byte) (int, error) {
	_, _ = GinkgoWriter.Write(p)
	return t.buf.Write(p)
}

func shellQuote(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		if a != "" && !strings.ContainsAny(a, " \t\n'\"$&;|<>()*?!\\`#~{}[]") {
			q[i] = a
		} else {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}

// ---------------------------------------------------------------- processes

type process = proc.Process

// descendants lists this process's live descendants (zombies left out).
func descendants() []process {
	t, err := proc.Tree(os.Getpid())
	if err != nil {
		return nil
	}
	var out []process
	for _, p := range t[1:] {
		if p.State != "Z" {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PID < out[j].PID })
	return out
}

func killDescendants() {
	for _, p := range descendants() {
		_ = syscall.Kill(p.PID, syscall.SIGKILL)
	}
}

// reap collects this process's exited children: orphans of the runner
// that were reparented here. A runner still being waited for is its
// exec.Cmd's to reap, not ours.
func reap() {
	self := os.Getpid()
	t, err := proc.Tree(self)
	if err != nil {
		return
	}
	for _, p := range t[1:] {
		if p.PPID != self || p.State != "Z" {
			continue
		}
		if _, running := activeRuns.Load(p.PID); running {
			continue
		}
		var ws syscall.WaitStatus
		_, _ = syscall.Wait4(p.PID, &ws, syscall.WNOHANG, nil)
	}
}

// findCommand waits for the process running CMD's argv (argv[0] may have
// been resolved to a path) among the runner's descendants.
func findCommand(r *Run, argv []string) process {
	var found process
	Eventually(func() bool {
		if !r.Running() {
			StopTrying("the runner exited before its command could be seen running").Now()
		}
		for _, p := range descendants() {
			if len(p.Cmdline) == len(argv) && filepath.Base(p.Cmdline[0]) == argv[0] && slices.Equal(p.Cmdline[1:], argv[1:]) {
				found = p
				return true
			}
		}
		return false
	}).WithTimeout(runTimeout).WithPolling(5*time.Millisecond).Should(BeTrue(), "CMD (%s) never appeared", shellQuote(argv))
	return found
}

// tree is pid and everything it started, parents first.
func tree(pid int) []proc.Process {
	t, err := proc.Tree(pid)
	if err != nil {
		return nil
	}
	return t
}

// ---------------------------------------------------------------- cgroups

// snapshot lists every directory under the memory hierarchy, relative to it.
func snapshot() map[string]bool {
	dirs := map[string]bool{}
	_ = filepath.WalkDir(layout.MemoryRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // a group removed while we walk
		}
		if d.IsDir() {
			rel, _ := filepath.Rel(layout.MemoryRoot, path)
			dirs[rel] = true
		}
		return nil
	})
	return dirs
}

// newGroups lists the groups that appeared since before and are the
// runner's: groups holding a process that is not ours (other work on this
// machine), or made by a memlab run still alive that is not ours, are left
// out, with everything above them. Deepest first.
func newGroups(before map[string]bool) []string {
	mine := map[int]bool{os.Getpid(): true}
	for _, p := range descendants() {
		mine[p.PID] = true
	}
	var fresh []string
	foreign := map[string]bool{}
	for dir := range snapshot() {
		if before[dir] {
			continue
		}
		fresh = append(fresh, dir)
		if foreignGroup(dir, mine) {
			for d := dir; d != "." && d != "/"; d = filepath.Dir(d) {
				foreign[d] = true
			}
		}
	}
	var out []string
	for _, d := range fresh {
		if !foreign[d] {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if a, b := strings.Count(out[i], "/"), strings.Count(out[j], "/"); a != b {
			return a > b
		}
		return out[i] < out[j]
	})
	return out
}

func foreignGroup(dir string, mine map[int]bool) bool {
	for _, pid := range groupProcs(dir) {
		if !mine[pid] {
			return true
		}
	}
	if pid, ok := cgroup.Creator(dir); ok && !mine[pid] && syscall.Kill(pid, 0) == nil {
		return true
	}
	return false
}

func groupProcs(dir string) []int {
	b, err := os.ReadFile(filepath.Join(layout.MemoryRoot, dir, "cgroup.procs"))
	if err != nil {
		return nil
	}
	ids, _ := cgroup.ParseIDs(string(b))
	return ids
}

// Leftovers is what a run left behind once the runner had exited.
type Leftovers struct {
	Groups    []string
	Processes []process
}

func (l Leftovers) String() string {
	var parts []string
	for _, g := range l.Groups {
		parts = append(parts, "cgroup "+filepath.Join(layout.MemoryRoot, g))
	}
	for _, p := range l.Processes {
		parts = append(parts, fmt.Sprintf("process %d (%s)", p.PID, strings.Join(p.Cmdline, " ")))
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, "; ")
}

// LeftBehind waits a moment for the runner's processes to end, then says
// what is still there: its processes, and the groups it made.
func LeftBehind(before map[string]bool) Leftovers {
	deadline := time.Now().Add(exitGrace)
	var left []process
	for {
		reap()
		left = descendants()
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	return Leftovers{Groups: newGroups(before), Processes: left}
}

// removeLeftovers kills every process the runner left and removes the
// groups it made, deepest first. It is registered for every spec.
func removeLeftovers(before map[string]bool) {
	stopActiveRuns()
	killDescendants()
	deadline := time.Now().Add(10 * time.Second)
	for len(descendants()) > 0 && time.Now().Before(deadline) {
		reap()
		time.Sleep(5 * time.Millisecond)
	}
	reap()
	left := newGroups(before)
	for _, g := range left {
		dir := filepath.Join(layout.MemoryRoot, g)
		if err := cgroup.RemoveTree(context.Background(), layout, dir); err != nil {
			Fail(fmt.Sprintf("memlab could not remove %s the runner left: %v", dir, err))
		}
	}
	if len(left) > 0 {
		GinkgoWriter.Printf("memlab removed what the runner left: %v\n", left)
	}
}

// memoryCgroupOf is a process's memory cgroup, relative to the memory root.
func memoryCgroupOf(pid int) string {
	cg, err := proc.ThreadMemoryCgroup(pid, pid)
	Expect(err).NotTo(HaveOccurred(), "reading /proc/%d/cgroup", pid)
	return cg
}

// limitInForce is the smallest limit on cg and the groups above it (the
// one the kernel enforces), the file it was read from, and ok=false when
// none is set.
func limitInForce(cg string) (int64, string, bool) {
	var best int64 = -1
	var from string
	for d := cg; ; d = filepath.Dir(d) {
		file := filepath.Join(layout.MemoryRoot, d, limitFile)
		if b, err := os.ReadFile(file); err == nil {
			if v, err := cgroup.ParseValue(strings.TrimSpace(string(b))); err == nil && v != cgroup.Unlimited && (best < 0 || v < best) {
				best, from = v, file
			}
		}
		if d == "/" || d == "." || d == "" {
			break
		}
	}
	// v1 reports "no limit" as a huge page-rounded number, not "max".
	if best < 0 || best >= 1<<62 {
		return 0, from, false
	}
	return best, from, true
}
