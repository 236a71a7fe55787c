package grade

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// The files WriteFiles writes.
const (
	ClassroomFile  = "grades.json"  // GitHub Classroom
	GradescopeFile = "results.json" // Gradescope
)

// WriteFiles writes the grade as GitHub Classroom's and Gradescope's
// results into dir.
func (g Grade) WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	classroom, err := g.Classroom()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, ClassroomFile), append(classroom, '\n'), 0o644); err != nil {
		return err
	}
	gradescope, err := g.Gradescope()
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, GradescopeFile), append(gradescope, '\n'), 0o644)
}

// classroomResult is the `result` of GitHub Classroom's autograding
// command grader (classroom-resources/autograding-command-grader), which
// autograding-grading-reporter reads back: it adds up tests[].score
// against max_score and fails the job on status "fail" or "error".
type classroomResult struct {
	Version  int             `json:"version"`
	Status   string          `json:"status"`
	MaxScore int             `json:"max_score"`
	Tests    []classroomTest `json:"tests"`
}

type classroomTest struct {
	Name     string `json:"name"`
	Status   string `json:"status"`
	Score    int    `json:"score"`
	Message  string `json:"message"`
	TestCode string `json:"test_code"`
	Filename string `json:"filename"`
	LineNo   int    `json:"line_no"`
	Duration int64  `json:"duration"` // milliseconds
}

// Classroom renders the grade as GitHub Classroom's result JSON.
func (g Grade) Classroom() ([]byte, error) {
	res := classroomResult{Version: 1, Status: "pass", MaxScore: g.MaxPoints}
	if !g.Passed() {
		res.Status = "fail"
	}
	if len(g.Problems) > 0 && g.Points == 0 {
		res.Status = "error"
	}
	for _, t := range g.Tests {
		res.Tests = append(res.Tests, classroomTest{
			Name: t.Name, Status: t.Status, Score: t.Score, Message: t.feedback(),
			TestCode: g.testCode(t), Filename: t.File, LineNo: t.Line, Duration: t.DurationMS,
		})
	}
	return json.MarshalIndent(res, "", "  ")
}

// gradescopeResult is Gradescope's results.json.
type gradescopeResult struct {
	Score            int              `json:"score"`
	ExecutionTime    float64          `json:"execution_time"`
	Output           string           `json:"output"`
	Visibility       string           `json:"visibility"`
	StdoutVisibility string           `json:"stdout_visibility"`
	Tests            []gradescopeTest `json:"tests"`
}

type gradescopeTest struct {
	Number   string   `json:"number"`
	Name     string   `json:"name"`
	Score    int      `json:"score"`
	MaxScore int      `json:"max_score"`
	Status   string   `json:"status"` // passed or failed
	Output   string   `json:"output"`
	Tags     []string `json:"tags"`
}

// Gradescope renders the grade as Gradescope's results.json.
func (g Grade) Gradescope() ([]byte, error) {
	res := gradescopeResult{Score: g.Points, Output: g.Summary(), Visibility: "visible", StdoutVisibility: "visible"}
	var ms int64
	for _, t := range g.Tests {
		ms += t.DurationMS
		status := "failed"
		if t.Status == "pass" {
			status = "passed"
		}
		out := t.feedback()
		if code := g.testCode(t); code != "" {
			out = code + "\n\n" + out
		}
		res.Tests = append(res.Tests, gradescopeTest{
			Number: t.ID, Name: t.Name, Score: t.Score, MaxScore: t.MaxScore, Status: status,
			Output: strings.TrimSpace(out), Tags: []string{t.Claim},
		})
	}
	res.ExecutionTime = float64(ms) / 1000
	return json.MarshalIndent(res, "", "  ")
}

// testCode shows what the spec ran: the runner's command lines, filed as
// each run started (older reports: from the runs' outcomes).
func (g Grade) testCode(t TestGrade) string {
	runner := g.Runner
	if runner == "" {
		runner = "RUNNER"
	}
	var lines []string
	for _, c := range t.Commands {
		lines = append(lines, runner+" "+c)
	}
	if len(lines) == 0 {
		for _, r := range t.Runs {
			if cmd, _, ok := strings.Cut(r, ": "); ok && strings.HasPrefix(cmd, "--memory") {
				lines = append(lines, runner+" "+cmd)
			}
		}
	}
	return strings.Join(dedupe(lines), "\n")
}

func (t TestGrade) feedback() string {
	var parts []string
	if t.Message != "" {
		parts = append(parts, t.Message)
	}
	if len(t.Runs) > 0 {
		parts = append(parts, "observed:\n  "+strings.Join(dedupe(t.Runs), "\n  "))
	}
	return strings.Join(parts, "\n")
}

func dedupe(xs []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// Summary is the one-line verdict.
func (g Grade) Summary() string {
	verdict := "PASS"
	if !g.Passed() {
		verdict = "FAIL"
	}
	return fmt.Sprintf("Points %d/%d (%s: the pass mark is %d)", g.Points, g.MaxPoints, verdict, g.Threshold)
}

// WriteText prints the grade a student reads in the terminal.
func (g Grade) WriteText(w io.Writer) {
	if g.Runner != "" {
		fmt.Fprintf(w, "runner: %s\n\n", g.Runner)
	}
	for _, t := range g.Tests {
		mark := "ok  "
		if t.Status != "pass" {
			mark = t.Status
		}
		fmt.Fprintf(w, "%-5s %3d/%-3d %-4s %s\n", mark, t.Score, t.MaxScore, t.ID, clip(strings.TrimPrefix(t.Name, t.ID+" "), 96))
	}
	claims, score, max := g.ClaimPoints()
	var per []string
	for _, c := range claims {
		per = append(per, fmt.Sprintf("%s %d/%d", c, score[c], max[c]))
	}
	fmt.Fprintf(w, "\nby claim: %s\n", strings.Join(per, ", "))
	said := map[string]string{} // a message already printed -> the spec that had it
	for _, t := range g.Tests {
		if t.Status == "pass" || t.Message == "" {
			continue
		}
		if first, ok := said[t.Message]; ok {
			fmt.Fprintf(w, "%s %s: as %s\n", t.ID, t.Status, first)
			continue
		}
		said[t.Message] = t.ID
		fmt.Fprintf(w, "\n%s %s:\n  %s\n", t.ID, t.Status, strings.ReplaceAll(firstLines(t.Message, 6), "\n", "\n  "))
	}
	for _, p := range g.Problems {
		fmt.Fprintf(w, "\ngrader: %s\n", p)
	}
	fmt.Fprintf(w, "\n%s\n", g.Summary())
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
