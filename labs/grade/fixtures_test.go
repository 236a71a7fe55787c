package grade

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/memlab/memlab/labs/kernel/cgroup"
	"github.com/memlab/memlab/labs/report/ledger"
)

var (
	fixturesFlag = flag.Bool("grade.fixtures", false, "run the runner suite against every runner the rubric names (root; about two minutes)")
	runsFlag     = flag.Int("grade.runs", 1, "with -grade.fixtures: runs of the suite per runner (determinism)")
	onlyFlag     = flag.String("grade.only", "", "with -grade.fixtures: only the runners whose command contains this text")
)

// The runner suite, run against every runner the rubric names (the
// reference and the broken ones in testdata/runners/): each must lose
// exactly the specs the rubric says, on every run, and leave nothing
// behind. Needs root; about two minutes. `make grade-check` runs it
// (-grade.fixtures; GRADE_RUNS sets -grade.runs).
func TestKnownRunnersLoseExactlyTheirPoints(t *testing.T) {
	if !*fixturesFlag {
		t.Skip("pass -grade.fixtures (make grade-check): needs root and runs the runner suite once per known runner, about two minutes")
	}
	if os.Geteuid() != 0 {
		t.Fatal("-grade.fixtures needs root: the runner suite writes the cgroup filesystem")
	}
	if *runsFlag < 1 {
		t.Fatalf("-grade.runs=%d: want 1 or more", *runsFlag)
	}
	runs := *runsFlag
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	rub := loadRubric(t)
	layout, err := cgroup.Detect()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	suite := filepath.Join(tmp, "runner.test")
	for _, args := range [][]string{
		{"build", "-o", "bin/memlab", "./labs/cmd/memlab"},
		{"test", "-c", "-o", suite, "./specs/runner"},
	} {
		cmd := exec.Command("go", args...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}

	for _, f := range rub.Runner.Fixtures {
		if *onlyFlag != "" && !strings.Contains(f.Runner, *onlyFlag) {
			continue
		}
		t.Run(strings.ReplaceAll(filepath.Base(f.Runner), " ", "-"), func(t *testing.T) {
			want := slices.Clone(f.Loses)
			slices.SortFunc(want, func(a, b string) int { return specOrder(rub, a) - specOrder(rub, b) })
			var points []int
			for i := range runs {
				before := groupsUnder(layout.MemoryRoot)
				report := filepath.Join(t.TempDir(), "runner.json")
				args := []string{"--ginkgo.json-report=" + report, "--ginkgo.label-filter=runner", "-memlab.runner=" + f.Runner}
				if f.Timeout != "" {
					args = append(args, "-memlab.runner-timeout="+f.Timeout)
				}
				cmd := exec.Command(suite, args...)
				cmd.Dir = filepath.Join(root, "specs", "runner")
				var out bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &out
				err := cmd.Run() // fails whenever the runner loses a spec
				suites, lerr := ledger.LoadGinkgoJSON(report)
				if lerr != nil {
					t.Fatalf("run %d: the suite (%v) left no report: %v\n%s", i+1, err, lerr, out.String())
				}
				g := Score(rub, suites)
				if len(g.Problems) > 0 {
					t.Errorf("run %d: %v", i+1, g.Problems)
				}
				if lost := g.Lost(); !slices.Equal(lost, want) {
					t.Errorf("run %d: lost %v, the rubric says %v\n%s", i+1, lost, want, failures(g))
				}
				points = append(points, g.Points)
				for _, dir := range groupsUnder(layout.MemoryRoot) {
					if !slices.Contains(before, dir) && (strings.Contains(dir, "shell-runner-") || strings.HasPrefix(dir, cgroup.LabParent+"/run-")) {
						t.Errorf("run %d: the runner's cgroup %s outlived the suite", i+1, dir)
					}
				}
				if left := strayProcesses(); len(left) > 0 {
					t.Errorf("run %d: processes outlived the suite: %v", i+1, left)
				}
			}
			t.Logf("%s: points %v of %d (pass mark %d)", f.Runner, points, rub.MaxPoints(), rub.Runner.PassThreshold)
		})
	}
}

func specOrder(rub Rubric, id string) int {
	return slices.IndexFunc(rub.Runner.Specs, func(s SpecPoints) bool { return s.ID == id })
}

func failures(g Grade) string {
	var b strings.Builder
	for _, t := range g.Tests {
		if t.Status != "pass" {
			b.WriteString(t.ID + " " + t.Status + ": " + firstLines(t.Message, 4) + "\n")
		}
	}
	return b.String()
}

func groupsUnder(root string) []string {
	var dirs []string
	_ = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			rel, _ := filepath.Rel(root, path)
			dirs = append(dirs, rel)
		}
		return nil
	})
	return dirs
}

// strayProcesses finds what the suite's runs could have left: the fixture
// runners and the specs' marked commands.
func strayProcesses() []string {
	var left []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		cl := strings.ReplaceAll(string(bytes.TrimRight(b, "\x00")), "\x00", " ")
		if strings.Contains(cl, "labs/grade/testdata/runners/") || strings.Contains(cl, " memlab-r") {
			left = append(left, e.Name()+": "+cl)
		}
	}
	return left
}
