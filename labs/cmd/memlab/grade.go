package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/memlab/memlab/labs/grade"
	"github.com/memlab/memlab/labs/runner"
)

const gradeUsage = `usage: memlab grade [flags]
  --rubric FILE   points per runner spec and the pass mark (default fixtures/rubric.json)
  --from FILE     the runner suite's Ginkgo JSON report (default reports/runner.json)
  --out DIR       where grades.json (GitHub Classroom) and results.json (Gradescope) go
                  (default reports)
Prints the grade and "Points x/y"; exits 1 below the rubric's pass mark.
make grade runs the runner suite (specs/runner) and then this.`

// cmdGrade scores the runner suite's report with the rubric.
func cmdGrade(args []string) error {
	fs := flag.NewFlagSet("grade", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	rubric := fs.String("rubric", "fixtures/rubric.json", "")
	from := fs.String("from", "reports/runner.json", "")
	out := fs.String("out", "reports", "")
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
	_, err := grade.FromFiles(*rubric, *from, *out, os.Stdout)
	return err
}
