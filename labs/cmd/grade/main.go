// Command grade turns the runner suite's Ginkgo JSON report into a grade:
// points per spec from fixtures/rubric.json, written as GitHub Classroom's
// autograding result (reports/grades.json) and Gradescope's results.json
// (reports/results.json), with "Points x/y" on standard output. It exits 0
// when the points reach the rubric's pass threshold, 1 when they do not,
// and 2 when it cannot grade at all (no report, a bad rubric).
//
//	go run ./labs/cmd/grade --rubric fixtures/rubric.json --from reports/runner.json --out reports
//
// `make grade RUNNER=...` runs the suite and then this.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/memlab/memlab/labs/report/ledger"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout))
}

func run(args []string, stdout io.Writer) int {
	fs := flag.NewFlagSet("grade", flag.ContinueOnError)
	rubricPath := fs.String("rubric", "fixtures/rubric.json", "the rubric: points per runner spec and the pass threshold")
	from := fs.String("from", "reports/runner.json", "Ginkgo JSON report of the runner suite")
	out := fs.String("out", "reports", "directory for grades.json (GitHub Classroom) and results.json (Gradescope)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	rub, err := LoadRubric(*rubricPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "grade: %v\n", err)
		return 2
	}
	suites, err := ledger.LoadGinkgoJSON(*from)
	if err != nil {
		fmt.Fprintf(os.Stderr, "grade: the runner suite left no report to grade: %v\n", err)
		return 2
	}
	g := GradeReports(rub, suites)
	if err := writeFiles(g, *out); err != nil {
		fmt.Fprintf(os.Stderr, "grade: %v\n", err)
		return 2
	}
	g.WriteText(stdout)
	fmt.Fprintf(stdout, "grades: %s %s\n", filepath.Join(*out, "grades.json"), filepath.Join(*out, "results.json"))
	if !g.Passed() {
		return 1
	}
	return 0
}

func writeFiles(g Grade, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	classroom, err := g.Classroom()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "grades.json"), append(classroom, '\n'), 0o644); err != nil {
		return err
	}
	gradescope, err := g.Gradescope()
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "results.json"), append(gradescope, '\n'), 0o644)
}
