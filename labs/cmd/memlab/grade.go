package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/memlab/memlab/labs/grade"
	"github.com/memlab/memlab/labs/report/atomicfile"
	"github.com/memlab/memlab/labs/runner"
)

const gradeUsage = `usage: memlab grade [flags]
  --rubric FILE   points per runner spec and the pass mark (default fixtures/rubric.json)
  --suite FILE    run this compiled runner suite (go test -c ./specs/runner), confined,
                  and grade it: nothing the runner starts survives to the scoring
  --runner LINE   with --suite: the runner to grade (default the reference, bin/memlab run)
  --runner-timeout D   with --suite: bounds each run of the runner (default 30s)
  --log FILE      with --suite: the suite's output (default OUT/runner.log)
  --from FILE     without --suite: grade this runner suite's Ginkgo JSON report
                  (default reports/runner.json)
  --out DIR       where grades.json (GitHub Classroom) and results.json (Gradescope) go
                  (default reports); the previous ones are removed first
Prints the grade and "Points x/y"; exits 1 below the rubric's pass mark.
make grade builds the suite and runs this with --suite.`

// cmdGrade scores the runner suite's report with the rubric.
func cmdGrade(args []string) error {
	fs := flag.NewFlagSet("grade", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	rubric := fs.String("rubric", "fixtures/rubric.json", "")
	from := fs.String("from", "reports/runner.json", "")
	out := fs.String("out", "reports", "")
	suite := fs.String("suite", "", "")
	runnerLine := fs.String("runner", "", "")
	timeout := fs.Duration("runner-timeout", 0, "")
	logPath := fs.String("log", "", "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Println(gradeUsage)
			return nil
		}
		return fmt.Errorf("%w: grade: %w", runner.ErrUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: grade takes no arguments (got %q)", runner.ErrUsage, fs.Args())
	}
	if err := checkOutDir(*out); err != nil {
		return err
	}
	if *suite == "" {
		_, err := grade.FromFiles(*rubric, *from, *out, os.Stdout)
		return err
	}
	return gradeSession(*rubric, *suite, *runnerLine, *timeout, *out, *logPath)
}

// gradeSession runs the compiled runner suite confined and grades it. The
// rubric is read, and the suite's directory found, before the runner runs.
func gradeSession(rubricPath, suite, runnerLine string, timeout time.Duration, out, logPath string) error {
	if timeout < 0 {
		return fmt.Errorf("%w: grade: --runner-timeout %s: want a positive duration", runner.ErrUsage, timeout)
	}
	rub, err := grade.LoadRubric(rubricPath)
	if err != nil {
		return err
	}
	suitePath, err := filepath.Abs(suite)
	if err != nil {
		return err
	}
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	if logPath == "" {
		logPath = filepath.Join(out, "runner.log")
	} else if err := atomicfile.Writable(logPath); err != nil {
		return fmt.Errorf("--log %s: %w: %w", logPath, errCannotWrite, err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	log, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer log.Close()
	s := grade.Session{
		Suite: suitePath, SuiteDir: filepath.Join(wd, "specs", "runner"), Runner: runnerLine,
		RunnerTimeout: timeout, Rubric: rub, Out: out, Log: log,
	}
	g, _, err := s.Run()
	if len(g.Tests) > 0 {
		g.WriteText(os.Stdout)
		fmt.Printf("grades: %s %s\n", filepath.Join(out, grade.ClassroomFile), filepath.Join(out, grade.GradescopeFile))
	}
	if err != nil {
		return err
	}
	if !g.Passed() {
		return fmt.Errorf("%d/%d points: %w (%d)", g.Points, g.MaxPoints, grade.ErrBelowPassMark, g.Threshold)
	}
	return nil
}
