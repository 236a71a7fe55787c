package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/onsi/ginkgo/v2/types"
)

// Rubric is fixtures/rubric.json: the runner specs' points and pass
// threshold, the broken runners' expected losses, and the hand-graded
// exercises' points per claim.
type Rubric struct {
	Title     string         `json:"title"`
	Version   int            `json:"version"`
	Runner    RunnerRubric   `json:"runner"`
	Exercises []ExerciseItem `json:"exercises"`
}

// RunnerRubric grades exercise 02 from the runner suite.
type RunnerRubric struct {
	Exercise      string        `json:"exercise"`
	Suite         string        `json:"suite"`
	Label         string        `json:"label"`
	PassThreshold int           `json:"pass_threshold"`
	Note          string        `json:"note"`
	Specs         []SpecPoints  `json:"specs"`
	Fixtures      []FixtureLoss `json:"fixtures"`
}

// SpecPoints is one runner spec's worth.
type SpecPoints struct {
	ID     string `json:"id"`
	Claim  string `json:"claim"`
	Points int    `json:"points"`
	Checks string `json:"checks"`
}

// FixtureLoss is what one known runner must lose, exactly.
type FixtureLoss struct {
	Runner  string   `json:"runner"`
	Loses   []string `json:"loses"`
	Timeout string   `json:"timeout,omitempty"`
	Why     string   `json:"why,omitempty"`
}

// ExerciseItem is a hand-graded exercise: points per claim.
type ExerciseItem struct {
	Exercise      string         `json:"exercise"`
	GradedBy      string         `json:"graded_by"`
	PassThreshold int            `json:"pass_threshold"`
	Claims        map[string]int `json:"claims"`
}

// LoadRubric reads and checks a rubric.
func LoadRubric(path string) (Rubric, error) {
	var r Rubric
	b, err := os.ReadFile(path)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("%s: %w", path, err)
	}
	return r, r.Check()
}

var specID = regexp.MustCompile(`^(R[0-9]+) \(([A-Z][0-9]+)\): `)

// Check rejects a rubric the grader could not apply faithfully.
func (r Rubric) Check() error {
	seen := map[string]bool{}
	if len(r.Runner.Specs) == 0 {
		return fmt.Errorf("rubric: no runner specs")
	}
	for _, s := range r.Runner.Specs {
		if !regexp.MustCompile(`^R[0-9]+$`).MatchString(s.ID) || seen[s.ID] {
			return fmt.Errorf("rubric: bad or repeated spec id %q", s.ID)
		}
		if s.Points <= 0 {
			return fmt.Errorf("rubric: %s has %d points", s.ID, s.Points)
		}
		seen[s.ID] = true
	}
	if t := r.Runner.PassThreshold; t <= 0 || t > r.MaxPoints() {
		return fmt.Errorf("rubric: pass threshold %d outside 1..%d", t, r.MaxPoints())
	}
	for _, f := range r.Runner.Fixtures {
		for _, id := range f.Loses {
			if !seen[id] {
				return fmt.Errorf("rubric: fixture %s loses unknown spec %s", f.Runner, id)
			}
		}
	}
	return nil
}

// MaxPoints is the runner grade's full marks.
func (r Rubric) MaxPoints() int {
	n := 0
	for _, s := range r.Runner.Specs {
		n += s.Points
	}
	return n
}

// Grade is one runner's result.
type Grade struct {
	Runner    string
	Points    int
	MaxPoints int
	Threshold int
	Tests     []TestGrade
	Problems  []string // things the grader could not match: an unrun suite, unknown specs
}

// Passed says whether the runner reached the threshold.
func (g Grade) Passed() bool { return g.Points >= g.Threshold }

// TestGrade is one runner spec's outcome.
type TestGrade struct {
	ID         string
	Claim      string
	Name       string // the spec's text
	Status     string // pass, fail or error (GitHub Classroom's words)
	Score      int
	MaxScore   int
	Message    string // why it failed, and what each run did
	Runs       []string
	File       string
	Line       int
	DurationMS int64
}

// GradeReports applies the rubric to Ginkgo's JSON report of the runner
// suite. A spec that passed scores its points; any other state scores 0.
func GradeReports(rub Rubric, suites []types.Report) Grade {
	g := Grade{MaxPoints: rub.MaxPoints(), Threshold: rub.Runner.PassThreshold}
	found := map[string]types.SpecReport{}
	startProblem := ""
	for _, suite := range suites {
		if !suite.SuiteSucceeded && len(suite.SpecReports) == 0 {
			g.Problems = append(g.Problems, fmt.Sprintf("suite %q did not run: %s", suite.SuiteDescription, strings.Join(suite.SpecialSuiteFailureReasons, "; ")))
		}
		for _, sr := range suite.SpecReports {
			if sr.LeafNodeType == types.NodeTypeBeforeSuite && sr.State.Is(types.SpecStateFailureStates) {
				startProblem = "the suite could not start: " + firstLines(sr.Failure.Message, 3)
				g.Problems = append(g.Problems, startProblem)
			}
			for _, e := range sr.ReportEntries {
				if e.Name == "memlab.runner" && g.Runner == "" {
					g.Runner = entryString(e)
				}
			}
			if sr.LeafNodeType != types.NodeTypeIt {
				continue
			}
			m := specID.FindStringSubmatch(sr.LeafNodeText)
			if m == nil {
				continue
			}
			if _, dup := found[m[1]]; dup {
				g.Problems = append(g.Problems, "spec "+m[1]+" reported twice")
			}
			found[m[1]] = sr
		}
	}
	known := map[string]bool{}
	for _, s := range rub.Runner.Specs {
		known[s.ID] = true
		t := TestGrade{ID: s.ID, Claim: s.Claim, Name: s.ID + " (" + s.Claim + "): " + s.Checks, MaxScore: s.Points}
		sr, ok := found[s.ID]
		switch {
		case !ok && startProblem != "":
			t.Status, t.Message = "error", "this spec did not run: "+startProblem
		case !ok:
			t.Status, t.Message = "error", "this spec did not run (the suite failed to build, could not start, or was stopped)"
		case sr.State == types.SpecStatePassed:
			t.Status, t.Score = "pass", s.Points
		case sr.State == types.SpecStateFailed:
			t.Status = "fail"
		default: // skipped, pending, panicked, interrupted, aborted, timed out
			t.Status = "error"
		}
		if ok {
			t.Name = sr.LeafNodeText
			t.File, t.Line = relPath(sr.LeafNodeLocation.FileName), sr.LeafNodeLocation.LineNumber
			t.DurationMS = sr.RunTime.Milliseconds()
			for _, e := range sr.ReportEntries {
				if e.Name == "memlab.outcome" {
					t.Runs = append(t.Runs, entryString(e))
				}
			}
			if t.Status != "pass" {
				t.Message = failureMessage(sr)
				if sr.State == types.SpecStateSkipped && strings.TrimSpace(sr.Failure.Message) == "" && startProblem != "" {
					t.Message = startProblem
				}
			}
			if s.Claim != "" && !strings.Contains(sr.LeafNodeText, "("+s.Claim+")") {
				g.Problems = append(g.Problems, fmt.Sprintf("spec %s exercises %q, the rubric says %s", s.ID, sr.LeafNodeText, s.Claim))
			}
		}
		g.Points += t.Score
		g.Tests = append(g.Tests, t)
	}
	var unknown []string
	for id := range found {
		if !known[id] {
			unknown = append(unknown, id)
		}
	}
	sort.Strings(unknown)
	for _, id := range unknown {
		g.Problems = append(g.Problems, "spec "+id+" has no points in the rubric")
	}
	return g
}

func failureMessage(sr types.SpecReport) string {
	var b strings.Builder
	b.WriteString(sr.State.String())
	if msg := strings.TrimSpace(sr.Failure.Message); msg != "" {
		b.WriteString(": " + firstLines(msg, 12))
	}
	if loc := sr.Failure.Location; loc.FileName != "" {
		fmt.Fprintf(&b, "\n  at %s:%d", relPath(loc.FileName), loc.LineNumber)
	}
	if out := strings.TrimSpace(sr.CapturedGinkgoWriterOutput); out != "" {
		b.WriteString("\nwhat the runner printed (last lines):\n" + lastLines(out, 25))
	}
	return b.String()
}

// entryString is a report entry's value as text (loaded back from JSON it
// is a quoted string).
func entryString(e types.ReportEntry) string {
	if raw := e.Value.GetRawValue(); raw != nil {
		if s, ok := raw.(string); ok {
			return s
		}
	}
	var s string
	if json.Unmarshal([]byte(e.Value.AsJSON), &s) == nil {
		return s
	}
	return e.Value.String()
}

func firstLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = append(lines[:n], "...")
	}
	return strings.Join(lines, "\n")
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = append([]string{"..."}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// relPath shows a source file relative to the repository (…/specs/runner/x.go).
func relPath(p string) string {
	if i := strings.Index(p, "/specs/"); i >= 0 {
		return p[i+1:]
	}
	return filepath.Base(p)
}

// ClaimPoints totals the points per claim: scored and possible.
func (g Grade) ClaimPoints() (claims []string, score, max map[string]int) {
	score, max = map[string]int{}, map[string]int{}
	for _, t := range g.Tests {
		if _, seen := max[t.Claim]; !seen {
			claims = append(claims, t.Claim)
		}
		score[t.Claim] += t.Score
		max[t.Claim] += t.MaxScore
	}
	sort.Strings(claims)
	return claims, score, max
}

// Lost lists the IDs of the specs that scored nothing.
func (g Grade) Lost() []string {
	var ids []string
	for _, t := range g.Tests {
		if t.Score == 0 {
			ids = append(ids, t.ID)
		}
	}
	return ids
}

// ---------------------------------------------------------------- writers

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

// testCode shows what the spec ran: the runner's command lines.
func (g Grade) testCode(t TestGrade) string {
	runner := g.Runner
	if runner == "" {
		runner = "RUNNER"
	}
	var lines []string
	for _, r := range t.Runs {
		if cmd, _, ok := strings.Cut(r, ": "); ok && strings.HasPrefix(cmd, "--memory") {
			lines = append(lines, runner+" "+cmd)
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
	for _, t := range g.Tests {
		if t.Status != "pass" && t.Message != "" {
			fmt.Fprintf(w, "\n%s %s:\n  %s\n", t.ID, t.Status, strings.ReplaceAll(firstLines(t.Message, 6), "\n", "\n  "))
		}
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
