package grade

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/memlab/memlab/labs/docker"
	"github.com/memlab/memlab/labs/kernel/cgroup"
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
			if f.Forges {
				// A forge that could not work outside the grading
				// either would leave the grade files alone anyway,
				// and the check of them would pass on nothing.
				if err := forgeCouldWork(); err != nil {
					t.Skipf("the forge could not work even outside the grading: %v", err)
				}
				t.Setenv("MEMLAB_FORGE_DELAY", strconv.Itoa(int(forgeDelay/time.Second)))
				t.Setenv("MEMLAB_FORGE_IMAGE", docker.DefaultImage)
			}
			want := slices.Clone(f.Loses)
			slices.SortFunc(want, func(a, b string) int { return specOrder(rub, a) - specOrder(rub, b) })
			var points []int
			for i := range runs {
				before := groupsUnder(layout.MemoryRoot)
				out := t.TempDir()
				t.Setenv("MEMLAB_FORGE_DIR", out) // where kills-parent-forges forges
				var log bytes.Buffer
				s := Session{Suite: suite, SuiteDir: filepath.Join(root, "specs", "runner"), Runner: f.Runner, Rubric: rub, Out: out, Log: &log}
				if f.Timeout != "" {
					if s.RunnerTimeout, err = time.ParseDuration(f.Timeout); err != nil {
						t.Fatal(err)
					}
				}
				g, res, err := s.Run()
				switch {
				case f.Dies:
					if !errors.Is(err, ErrSuiteDied) || g.Points != 0 {
						t.Errorf("run %d: %d points, error %v; want 0 and the suite's death (%s)", i+1, g.Points, err, res.Why())
					}
					// The forger would have written by now: the files must
					// still be memlab's.
					time.Sleep(4 * time.Second)
					if b, rerr := os.ReadFile(filepath.Join(out, ClassroomFile)); rerr != nil || !bytes.Contains(b, []byte(`"status": "error"`)) {
						t.Errorf("run %d: %s after the forger's time: %v\n%s", i+1, ClassroomFile, rerr, b)
					}
					t.Logf("run %d: %s; memlab killed after it: %v", i+1, res.Why(), res.Survivors)
				case err != nil:
					t.Fatalf("run %d: %v\n%s", i+1, err, log.String())
				case f.Forges:
					wrote, rerr := os.ReadFile(filepath.Join(out, ClassroomFile))
					if rerr != nil {
						t.Fatal(rerr)
					}
					time.Sleep(forgeDelay + 2*time.Second) // its forger's time, and some
					if b, rerr := os.ReadFile(filepath.Join(out, ClassroomFile)); rerr != nil || !bytes.Equal(b, wrote) {
						t.Errorf("run %d: %s was rewritten after the grading: %v\n%s", i+1, ClassroomFile, rerr, b)
					}
					fallthrough
				default:
					if len(g.Problems) > 0 {
						t.Errorf("run %d: %v", i+1, g.Problems)
					}
					if len(res.Survivors) > 0 {
						t.Errorf("run %d: processes outlived the suite's own cleanup: %v", i+1, res.Survivors)
					}
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

// forgeDelay is how long after its runner's call a forger rewrites the
// grade files: forges-through-docker is given it as MEMLAB_FORGE_DELAY, in
// whole seconds.
const forgeDelay = 3 * time.Second

// forgeCouldWork says why forges-through-docker's forge could not work
// outside the grading, nil if it could: its docker command, an engine that
// answers, and the lab image it runs.
func forgeCouldWork() error {
	if _, err := exec.LookPath("docker"); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e, err := docker.Connect(ctx)
	if err != nil {
		return err
	}
	defer e.Close()
	if _, err := e.API.ImageInspect(ctx, docker.DefaultImage); err != nil {
		return fmt.Errorf("the lab image %s: %w", docker.DefaultImage, err)
	}
	return nil
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
		args := strings.Split(string(bytes.TrimRight(b, "\x00")), "\x00")
		cl := strings.Join(args, " ")
		// A runner is the program (argv[0]: go-runner execs bin/gorunner)
		// or the script its interpreter runs (argv[1]); a concurrent `make
		// lint` names every runner as shellcheck's argument and is no
		// runner's process.
		runner := strings.HasSuffix(args[0], "/bin/gorunner") || slices.ContainsFunc(args[:min(2, len(args))], func(a string) bool {
			return strings.Contains(a, "labs/grade/testdata/runners/")
		})
		if runner || strings.Contains(cl, " memlab-r") || cl == "sleep 1000" || strings.Contains(cl, "MEMLAB_FORGE_DIR") {
			left = append(left, e.Name()+": "+cl)
		}
	}
	return left
}
