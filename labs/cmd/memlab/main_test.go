package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/memlab/memlab/labs/kernel/cgroup"
)

// memlab is the command under test; staticSuite a static x86-64
// executable, as a --suite-bin must be (memlab itself links dynamically).
var memlab, staticSuite string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "memlab-cli-test-")
	if err != nil {
		panic(err)
	}
	_ = os.Chmod(dir, 0o755) // the not-root case runs it as nobody
	memlab = filepath.Join(dir, "memlab")
	if out, err := exec.Command("go", "build", "-o", memlab, ".").CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		panic(string(out))
	}
	staticSuite = filepath.Join(dir, "static.test")
	static := exec.Command("go", "build", "-o", staticSuite, ".")
	static.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := static.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		panic(string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// run executes memlab and returns its exit status and standard error.
func run(t *testing.T, cred *syscall.Credential, wrap []string, args ...string) (int, string) {
	t.Helper()
	argv := append(append(wrap, memlab), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("running %v: %v", argv, err)
	}
	return cmd.ProcessState.ExitCode(), stderr.String()
}

// leftGroups are the lab groups whose run is over: every bad-input memlab
// has exited by the time this is asked, so a group one of them left has a
// gone owner, while a group of another run going on at the same time (a
// second make test, a developer's memlab run) still has a live one.
func leftGroups() []string {
	entries, _ := os.ReadDir("/sys/fs/cgroup/memory/" + cgroup.LabParent)
	var dirs []string
	for _, e := range entries {
		if run, ok := cgroup.Owner(e.Name()); e.IsDir() && (!ok || !run.Alive()) {
			dirs = append(dirs, e.Name())
		}
	}
	return dirs
}

func TestBadInputIsOneLineWithItsOwnStatus(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the cases reach the point where memlab would write the cgroup filesystem")
	}
	nobody := &syscall.Credential{Uid: 65534, Gid: 65534}
	// Inputs that are no files to read, and an output directory every
	// refused command line must leave empty.
	dir := t.TempDir()
	fifo, zeroRun, untouched := filepath.Join(dir, "fifo"), filepath.Join(dir, "zero-run"), filepath.Join(dir, "untouched")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{zeroRun, untouched} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("/dev/zero", filepath.Join(zeroRun, "matrix.json")); err != nil {
		t.Fatal(err)
	}
	aFile, labsReport, otherBaseline, goneList := filepath.Join(dir, "a-file"), filepath.Join(dir, "labs.json"), filepath.Join(dir, "baseline.json"), filepath.Join(dir, "kernels.txt")
	for f, body := range map[string]string{
		aFile: "",
		// A Ginkgo report of the labs' suites, not of the runner suite.
		labsReport:    `[{"SuitePath":"/m/specs/reexec","SuiteDescription":"reexec","SuiteSucceeded":true,"SpecReports":[{"LeafNodeType":"It","LeafNodeText":"G1: a claim","State":"passed"}]}]`,
		otherBaseline: `{"cells":{"elsewhere/v1":{"G1":"holds"}}}`,
		goneList:      "gone /no/such/bzImage\nbookworm debian:bookworm\n",
	} {
		if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A read-only directory, even to root: a read-only mount.
	ro := filepath.Join(dir, "ro")
	if err := os.Mkdir(ro, 0o755); err != nil {
		t.Fatal(err)
	}
	readOnly := []string{"unshare", "--mount", "--propagation", "private", "sh", "-c", `mount -t tmpfs -o ro tmpfs ` + ro + ` && exec "$0" "$@"`}
	// A matrix command line that would boot, but for the mistake added.
	matrixRun := func(extra ...string) []string {
		return append([]string{"matrix", "--kernels", "bookworm=debian:bookworm", "--modes", "v1", "--docker", "none", "--suite-bin", staticSuite, "--out", untouched}, extra...)
	}
	noEngine := []string{"env", "DOCKER_HOST=unix:///nonexistent/docker.sock"}
	noCgroupFS := []string{"unshare", "--mount", "--propagation", "private", "sh", "-c", `umount -R /sys/fs/cgroup && exec "$0" "$@"`}
	type badInput struct {
		name string
		cred *syscall.Credential
		wrap []string
		args []string
		code int
		says string
	}
	cases := []badInput{
		{"size with a bad unit", nil, nil, []string{"run", "--memory", "100x", "--", "true"}, exitBadSize, `bad memory size "100x"`},
		{"negative size", nil, nil, []string{"run", "--memory", "-1", "--", "true"}, exitBadSize, `bad memory size "-1"`},
		{"size past int64", nil, nil, []string{"run", "--memory", "99999999999999999999", "--", "true"}, exitBadSize, "too large"},
		{"size of int64's maximum", nil, nil, []string{"run", "--memory", "9223372036854775807", "--", "true"}, exitBadSize, "too large"},
		{"missing command", nil, nil, []string{"run", "--memory", "100m"}, exitUsage, "no command given"},
		{"name with ..", nil, nil, []string{"run", "--name", "../x", "--", "true"}, exitBadName, `bad cgroup name "../x"`},
		{"name with /", nil, nil, []string{"run", "--name", "a/b", "--", "true"}, exitBadName, `bad cgroup name "a/b"`},
		{"unknown namespace", nil, nil, []string{"run", "--ns", "net", "--", "true"}, exitUsage, `unknown namespace "net"`},
		{"unknown flag", nil, nil, []string{"run", "--memroy", "1g", "--", "true"}, exitUsage, "run: flag provided but not defined: -memroy (memlab run --help)"},
		{"no subcommand", nil, nil, nil, exitUsage, "no subcommand (memlab --help)"},
		{"docker without a subcommand", nil, nil, []string{"docker"}, exitUsage, "docker needs a subcommand (memlab docker --help)"},
		{"docker cgroup without a container", nil, nil, []string{"docker", "cgroup"}, exitUsage, "docker cgroup takes one container ID or name (memlab docker --help)"},
		{"docker image with an unknown flag", nil, nil, []string{"docker", "image", "--x"}, exitUsage, "(memlab docker --help)"},
		{"grade with an unknown flag", nil, nil, []string{"grade", "--bogus"}, exitUsage, "grade: flag provided but not defined: -bogus (memlab grade --help)"},
		{"matrix with an unknown flag", nil, nil, []string{"matrix", "--bogus"}, exitUsage, "(memlab matrix --help)"},
		{"matrix with an argument", nil, nil, []string{"matrix", "extra"}, exitUsage, "matrix takes no arguments"},
		{"matrix with a bad Docker cell", nil, nil, []string{"matrix", "--docker", "bookworm/v3"}, exitUsage, `--docker: "bookworm/v3": want KERNEL[/v1|v2|*[/systemd|cgroupfs|*]]`},
		{"matrix with an unknown cgroup driver", nil, nil, []string{"matrix", "--docker", "bookworm/v2/docker"}, exitUsage, "--docker"},
		{"vm-matrix without reports", nil, nil, []string{"vm-matrix"}, exitUsage, "vm-matrix: no reports given (memlab vm-matrix --help)"},
		{"report with an unknown flag", nil, nil, []string{"report", "--bogus"}, exitUsage, "(memlab report --help)"},
		{"sweep with an argument", nil, nil, []string{"sweep", "x"}, exitUsage, "sweep takes no arguments (memlab sweep --help)"},
		{"env with an argument", nil, nil, []string{"env", "x"}, exitUsage, "env takes no arguments (memlab env --help)"},
		{"unknown attach order", nil, nil, []string{"run", "--attach", "into", "--", "true"}, exitUsage, `--attach "into": want before-exec, after-start, after-workload, thread-before-exec or clone-into`},
		{"unknown subcommand", nil, nil, []string{"frobnicate"}, exitUsage, `unknown subcommand "frobnicate" (memlab --help)`},
		{"command that does not exist", nil, nil, []string{"run", "--", "no-such-command-xyz"}, exitNotFound, "command not found: no-such-command-xyz"},
		{"command that is not executable", nil, nil, []string{"run", "--", "/etc/passwd"}, exitNotExec, "not executable: /etc/passwd"},
		{"result in a missing directory", nil, nil, []string{"run", "--result", "/nonexistent/x.json", "--", "true"}, exitCantWrite, "--result /nonexistent/x.json: cannot write: no such file or directory"},
		{"result onto a directory", nil, nil, []string{"run", "--result", "/", "--", "true"}, exitCantWrite, "--result /: cannot write: is a directory"},
		{"not root", nobody, nil, []string{"run", "--", "true"}, exitNotRoot, "needs root"},
		{"docker cgroup, not root", nobody, nil, []string{"docker", "cgroup", "abc123"}, exitNotRoot, "no permission to use the Docker engine"},
		{"docker sweep, not root", nobody, nil, []string{"docker", "sweep"}, exitNotRoot, "no permission to use the Docker engine"},
		{"docker image, not root", nobody, nil, []string{"docker", "image"}, exitNotRoot, "no permission to use the Docker engine"},
		{"sweep, not root", nobody, nil, []string{"sweep"}, exitNotRoot, "needs root"},
		{"no cgroup filesystem", nil, noCgroupFS, []string{"run", "--", "true"}, exitNoCgroupFS, "no cgroup filesystem"},
		{"no Docker engine", nil, noEngine, []string{"docker", "cgroup", "abc123"}, exitNoEngine, "Docker engine"},
		{"grade without a report", nil, nil, []string{"grade", "--rubric", "../../../fixtures/rubric.json", "--from", "/nonexistent/runner.json"}, exitNoSuchReport, "no report to grade"},
		{"grade without a rubric", nil, nil, []string{"grade", "--rubric", "/nonexistent/rubric.json"}, exitBadRubric, "bad rubric"},
		{"rubric from a device", nil, nil, []string{"grade", "--rubric", "/dev/zero", "--out", untouched}, exitBadRubric, "/dev/zero: not a regular file (a character device)"},
		{"report from a named pipe", nil, nil, []string{"report", "--from", fifo, "--out", untouched}, exitNoSuchReport, "not a regular file (a named pipe)"},
		{"report from a device", nil, nil, []string{"report", "--from", "/dev/zero", "--out", untouched}, exitNoSuchReport, "not a regular file (a character device)"},
		{"merge of a run whose matrix.json is a device", nil, nil, []string{"merge", "--out", untouched, zeroRun}, exitNoSuchReport, "matrix.json: not a regular file (a character device)"},
		{"baseline from a device", nil, nil, matrixRun("--baseline", "/dev/zero"), exitBadBaseline, "/dev/zero: not a regular file"},
		{"report with a stray word", nil, nil, []string{"report", "extra", "--from", labsReport, "--out", untouched}, exitUsage, `report takes no arguments (got ["extra" "--from"`},
		{"run with its command before --", nil, nil, []string{"run", "true"}, exitUsage, `run: "true": the command goes after --`},
		{"run with a word before its flags", nil, nil, []string{"run", "extra", "--memory", "1g", "--", "true"}, exitUsage, `run: "extra": the command goes after --`},
		{"report onto a file", nil, nil, []string{"report", "--from", labsReport, "--out", aFile}, exitCantWrite, "--out " + aFile + ": cannot write: not a directory"},
		{"report onto a device", nil, nil, []string{"report", "--from", labsReport, "--out", "/dev/null"}, exitCantWrite, "--out /dev/null: cannot write: not a directory"},
		{"report into a read-only directory", nil, readOnly, []string{"report", "--from", labsReport, "--out", ro}, exitCantWrite, "--out " + ro + ": cannot write: read-only file system"},
		{"grade into a read-only directory", nil, readOnly, []string{"grade", "--rubric", "../../../fixtures/rubric.json", "--from", labsReport, "--out", ro}, exitCantWrite, "cannot write: read-only file system"},
		{"report to an empty --out", nil, nil, []string{"report", "--from", labsReport, "--out", ""}, exitUsage, "--out '': want a directory"},
		{"matrix to an empty --out", nil, nil, []string{"matrix", "--out", ""}, exitUsage, "--out '': want a directory"},
		{"grade of another suite's report", nil, nil, []string{"grade", "--rubric", "../../../fixtures/rubric.json", "--from", labsReport, "--out", untouched}, exitNoSuchReport, "holds none of the rubric's"},
		{"suite binary that does not exist", nil, nil, append(matrixRun(), "--suite-bin", "/no/such.test"), exitBadSuiteBin, "no such file or directory"},
		{"suite binary that is a directory", nil, nil, append(matrixRun(), "--suite-bin", "/etc"), exitBadSuiteBin, "/etc: not an executable file"},
		{"suite binary that is text", nil, nil, append(matrixRun(), "--suite-bin", "/etc/passwd"), exitBadSuiteBin, "/etc/passwd: not an executable file"},
		{"suite binary that links dynamically", nil, nil, append(matrixRun(), "--suite-bin", memlab), exitBadSuiteBin, "dynamically linked"},
		{"kernel named that does not exist", nil, nil, append(matrixRun(), "--kernels", "x=/no/such/vmlinuz"), exitNotKernel, "kernel x: not a bootable x86 kernel: open /no/such/vmlinuz: no such file or directory"},
		{"kernel with an empty name", nil, nil, append(matrixRun(), "--kernels", "=/bin/ls"), exitUsage, `an empty name before "="`},
		{"label filter Ginkgo cannot parse", nil, nil, matrixRun("--label-filter", "(("), exitUsage, `--label-filter "((": Syntax Error Parsing Label Filter`},
		{"baseline of other cells", nil, nil, matrixRun("--baseline", otherBaseline), exitBadBaseline, "knows none of this run's cells (bookworm/v1)"},
		{"baseline to a missing directory", nil, nil, matrixRun("--write-baseline", "/nonexistent/dir/b.json"), exitCantWrite, "--write-baseline /nonexistent/dir/b.json: no such file or directory"},
		{"baseline of a plan with an absent kernel", nil, nil, append(matrixRun("--write-baseline", filepath.Join(untouched, "b.json")), "--kernels", "", "--kernel-list", goneList), exitNotKernel, "a baseline records every planned cell, and gone/v1 cannot run"},
		{"Docker cell the plan lacks", nil, nil, matrixRun("--docker", "bogus"), exitUsage, "--docker bogus: no such Docker cell in the plan"},
		{"empty namespace list", nil, nil, []string{"run", "--ns", "", "--", "true"}, exitUsage, "--ns '': name the namespaces"},
	}
	if l, err := cgroup.Detect(); err == nil && l.Version == 1 {
		cases = append(cases, badInput{"clone-into on cgroup v1", nil, nil, []string{"run", "--attach", "clone-into", "--", "true"}, exitUsage, "--attach clone-into needs cgroup v2"})
	}
	before := leftGroups()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stderr := run(t, c.cred, c.wrap, c.args...)
			if code != c.code {
				t.Errorf("exit status %d, want %d; stderr %q", code, c.code, stderr)
			}
			lines := ownLines(stderr)
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "memlab: ") || !strings.Contains(lines[0], c.says) {
				t.Errorf("stderr %q: want one memlab line saying %q", stderr, c.says)
			}
			if strings.Contains(stderr, "goroutine ") || strings.Contains(stderr, "panic") {
				t.Errorf("a stack trace: %s", stderr)
			}
		})
	}
	if entries, _ := os.ReadDir(untouched); len(entries) > 0 {
		t.Errorf("a refused command line wrote into its --out: %v", entries)
	}
	if after := leftGroups(); len(after) > len(before) {
		t.Errorf("bad input left groups behind: %v", after)
	}
}

// --result is written whole when the workload ran, and leaves nothing when
// it could not start.
func TestResultFile(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: memlab run makes a cgroup")
	}
	dir := t.TempDir()
	ran, failed := filepath.Join(dir, "ran.json"), filepath.Join(dir, "failed.json")
	if code, stderr := run(t, nil, nil, "run", "--result", ran, "--", "sh", "-c", "exit 3"); code != 3 {
		t.Fatalf("exit %d, want the workload's 3; stderr %q", code, stderr)
	}
	var res struct {
		ExitCode int `json:"exit_code"`
	}
	if b, err := os.ReadFile(ran); err != nil || json.Unmarshal(b, &res) != nil || res.ExitCode != 3 {
		t.Errorf("result %s: %+v, %v; want exit_code 3", ran, res, err)
	}
	if code, _ := run(t, nil, nil, "run", "--result", failed, "--", "/etc/passwd"); code != exitNotExec {
		t.Errorf("exit %d, want %d", code, exitNotExec)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%s holds %d files, want only ran.json: %v", dir, len(entries), entries)
	}
}

// A workload's 64 is its own: memlab passes it through and says so, where
// its own usage mistake is a lone line.
func TestWorkloadStatusReadsApartFromMemlabs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: memlab run makes a cgroup")
	}
	code, stderr := run(t, nil, nil, "run", "--", "sh", "-c", "exit 64")
	if code != exitUsage || !strings.Contains(stderr, "memlab: workload exited with status 64\n") {
		t.Errorf("exit %d, stderr %q: want 64 and memlab saying the workload exited 64", code, stderr)
	}
	code, stderr = run(t, nil, nil, "run", "--bogus", "--", "sh", "-c", "exit 64")
	if code != exitUsage || strings.Contains(stderr, "workload") || len(ownLines(stderr)) != 1 {
		t.Errorf("exit %d, stderr %q: want 64 and one line that names no workload", code, stderr)
	}
}

// ownLines are stderr's lines but for the sweep's, which report what
// another, killed run left and so are not this run's to count.
func ownLines(stderr string) []string {
	var lines []string
	for l := range strings.SplitSeq(strings.TrimSuffix(stderr, "\n"), "\n") {
		if !strings.Contains(l, "a killed run left behind") && !strings.HasPrefix(l, "memlab: sweeping leftovers") {
			lines = append(lines, l)
		}
	}
	return lines
}

// --help, wherever it is asked, is an answer, not a mistake.
func TestHelpExitsZero(t *testing.T) {
	for _, args := range [][]string{
		{"--help"}, {"-h"}, {"help"},
		{"run", "--help"}, {"run", "-h"}, {"run", "--memory", "1g", "--help"},
		{"report", "--help"}, {"report", "--out", "x", "-h"},
		{"grade", "--help"}, {"matrix", "--help"}, {"vm-matrix", "--help"},
		{"docker", "--help"}, {"docker", "help"}, {"docker", "cgroup", "--help"}, {"docker", "image", "--help"}, {"docker", "sweep", "--help"},
		{"sweep", "--help"}, {"env", "--help"},
	} {
		cmd := exec.Command(memlab, args...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if err != nil || stderr.Len() > 0 || !strings.HasPrefix(stdout.String(), "usage:") {
			t.Errorf("memlab %s: %v, stderr %q, stdout %.40q: want status 0 and the usage on stdout", strings.Join(args, " "), err, stderr.String(), stdout.String())
		}
	}
}

// An unknown container needs a live engine; CI always has one.
func TestUnknownContainer(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to reach the Docker socket")
	}
	code, stderr := run(t, nil, nil, "docker", "cgroup", "0000000000000000000000000000000000000000000000000000000000000000")
	if code == exitNoEngine && os.Getenv("MEMLAB_REQUIRE_DOCKER") == "" {
		t.Skip("no Docker engine here: " + stderr)
	}
	if code != exitNoContainer || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Errorf("exit %d, stderr %q: want %d and one line", code, stderr, exitNoContainer)
	}
}

// exitStatus is a status exit.go defines: its name and its number as
// written there.
type exitStatus struct {
	name, value string
	code        int
}

// exitStatuses reads every status exit.go defines, so that the tests of
// them cover a new one without being edited. Each must be an integer
// literal, which the README's table can be checked against.
func exitStatuses(t *testing.T) []exitStatus {
	t.Helper()
	src, err := parser.ParseFile(token.NewFileSet(), "exit.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var statuses []exitStatus
	for _, decl := range src.Decls {
		d, ok := decl.(*ast.GenDecl)
		if !ok || d.Tok != token.CONST {
			continue
		}
		for _, spec := range d.Specs {
			v := spec.(*ast.ValueSpec)
			for i, name := range v.Names {
				var lit *ast.BasicLit
				if i < len(v.Values) {
					lit, _ = v.Values[i].(*ast.BasicLit)
				}
				if lit == nil || lit.Kind != token.INT {
					t.Fatalf("exit.go: %s is not an integer literal", name)
				}
				code, err := strconv.Atoi(lit.Value)
				if err != nil {
					t.Fatalf("exit.go: %s = %s: %v", name, lit.Value, err)
				}
				statuses = append(statuses, exitStatus{name.Name, lit.Value, code})
			}
		}
	}
	if len(statuses) == 0 {
		t.Fatal("exit.go defines no status")
	}
	return statuses
}

// The README's table names every status exit.go defines, each with an
// example (status 1, a verdict, is told in the text under it).
func TestREADMETableIsComplete(t *testing.T) {
	readme, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range exitStatuses(t) {
		if s.value == "1" {
			continue
		}
		row := regexp.MustCompile(`(?m)^\| ` + s.value + ` \| [^|]+ \| ([^|]*) \|$`).FindSubmatch(readme)
		if row == nil || strings.TrimSpace(string(row[1])) == "" {
			t.Errorf("%s (%s): no README row with an example", s.name, s.value)
		}
	}
}

// No two statuses share a number, and none is 0 (success) or 1 but
// exitClaimsFailed's (a test runner's failure).
func TestStatusesAreDistinct(t *testing.T) {
	seen := map[int]string{}
	for _, s := range exitStatuses(t) {
		if other, ok := seen[s.code]; ok {
			t.Errorf("exit status %d is both %s and %s", s.code, other, s.name)
		}
		if s.code == 0 || s.code == 1 && s.name != "exitClaimsFailed" {
			t.Errorf("exit status %d (%s) is ambiguous", s.code, s.name)
		}
		seen[s.code] = s.name
	}
}
