package grade

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/memlab/memlab/labs/grade/supervise"
	"github.com/memlab/memlab/labs/report/ledger"
	"github.com/memlab/memlab/labs/rundir"
)

// ErrSuiteDied: the runner suite did not end by itself (the runner under
// test killed it, or the grading was stopped): the grade is an error.
var ErrSuiteDied = fmt.Errorf("%w: the runner suite died", ErrNoReport)

// Session grades one runner end to end: the runner suite runs confined
// (labs/grade/supervise) and everything it started is dead before the
// report is read and the grade computed and written.
type Session struct {
	Suite         string        // the runner suite, compiled (go test -c ./specs/runner)
	SuiteDir      string        // its working directory: the repository's specs/runner
	Runner        string        // the runner's command line ("" is the reference)
	RunnerTimeout time.Duration // bounds each run of the runner (0: the suite's default)
	Rubric        Rubric        // read before the runner runs
	Out           string        // where the grade files go (reports)
	Log           io.Writer     // the suite's output (reports/runner.log)
}

// Reports the session copies into Out beside the grade files.
const (
	SuiteReport = "runner.json"
	SuiteJUnit  = "runner-junit.xml"
)

// Run grades the runner. The previous grade files are removed first, so a
// session that fails leaves none; the new ones are written into a fresh
// directory and renamed into Out only once every process the runner
// started is dead.
func (s Session) Run() (Grade, supervise.Result, error) {
	if err := os.MkdirAll(s.Out, 0o755); err != nil {
		return Grade{}, supervise.Result{}, err
	}
	for _, f := range []string{ClassroomFile, GradescopeFile, SuiteReport, SuiteJUnit} {
		if err := os.Remove(filepath.Join(s.Out, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return Grade{}, supervise.Result{}, fmt.Errorf("removing the previous %s: %w", f, err)
		}
	}
	// Named after this grader (labs/rundir): `memlab sweep` removes it
	// once the grader is gone, should it be killed before it can.
	pattern, err := rundir.Pattern(rundir.GradePrefix)
	if err != nil {
		return Grade{}, supervise.Result{}, err
	}
	tmp, err := os.MkdirTemp("", pattern)
	if err != nil {
		return Grade{}, supervise.Result{}, err
	}
	defer os.RemoveAll(tmp)
	report := filepath.Join(tmp, SuiteReport)
	args := []string{s.Suite,
		"--ginkgo.label-filter=runner",
		"--ginkgo.json-report=" + report,
		"--ginkgo.junit-report=" + filepath.Join(tmp, SuiteJUnit),
		"-memlab.runner=" + s.Runner,
	}
	if s.RunnerTimeout > 0 {
		args = append(args, "-memlab.runner-timeout="+s.RunnerTimeout.String())
	}
	log := s.Log
	if log == nil {
		log = io.Discard
	}
	res, err := supervise.Run(args, s.SuiteDir, log)
	if err != nil {
		return Grade{}, res, err
	}
	// From here on nothing the runner started is alive.
	suites, lerr := ledger.LoadGinkgoJSON(report)
	g := Score(s.Rubric, suites)
	switch {
	case res.Died():
		g.Void("the runner suite died (" + res.Why() + "): no spec counts")
	case lerr != nil:
		g.Void("the runner suite left no report (it " + res.Why() + ")")
	case len(res.Survivors) > 0:
		g.Problems = append(g.Problems, fmt.Sprintf("memlab killed %d processes still alive after the suite ended: %v", len(res.Survivors), res.Survivors))
	}
	if err := s.write(g, tmp); err != nil {
		return g, res, err
	}
	switch {
	case res.Died():
		return g, res, fmt.Errorf("%w (%s)", ErrSuiteDied, res.Why())
	case lerr != nil:
		return g, res, fmt.Errorf("%w: %w", ErrNoReport, lerr)
	}
	return g, res, nil
}

// write puts the grade files and the suite's reports into Out: written
// into a fresh directory beside them, then renamed in.
func (s Session) write(g Grade, reports string) error {
	fresh, err := os.MkdirTemp(s.Out, ".grade-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(fresh)
	if err := g.WriteFiles(fresh); err != nil {
		return err
	}
	for _, f := range []string{SuiteReport, SuiteJUnit} {
		if b, err := os.ReadFile(filepath.Join(reports, f)); err == nil {
			if err := os.WriteFile(filepath.Join(fresh, f), b, 0o644); err != nil {
				return err
			}
		}
	}
	for _, f := range []string{SuiteReport, SuiteJUnit, ClassroomFile, GradescopeFile} {
		if err := os.Rename(filepath.Join(fresh, f), filepath.Join(s.Out, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// Void makes the grade an error: no spec counts, each says why.
func (g *Grade) Void(why string) {
	g.Points = 0
	for i := range g.Tests {
		t := &g.Tests[i]
		t.Status, t.Score = "error", 0
		t.Message = why
	}
	g.Problems = append(g.Problems, why)
}
