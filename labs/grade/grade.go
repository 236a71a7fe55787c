// Package grade turns the runner suite's Ginkgo report into a grade: the
// points per spec from the rubric (fixtures/rubric.json), written as GitHub
// Classroom's autograding result and Gradescope's results.json, and as the
// text a student reads in the terminal.
package grade

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/memlab/memlab/labs/report/ledger"
)

// Report entries the runner suite files and the grader reads back.
const (
	EntryRunner  = "memlab.runner"  // the runner's command line, once per suite
	EntryOutcome = "memlab.outcome" // one line per run: status, time, leftovers
	EntryCommand = "memlab.command" // one per run as it starts: --memory SIZE -- CMD...
)

var (
	// ErrNoReport: the runner suite left no report to grade.
	ErrNoReport = errors.New("the runner suite left no report to grade")
	// ErrBelowPassMark: the runner scored below the rubric's pass mark.
	ErrBelowPassMark = errors.New("below the pass mark")
)

// FromFiles grades the runner suite's Ginkgo JSON report at reportPath
// with the rubric at rubricPath: it writes grades.json and results.json
// into outDir and the grade's text to w. The error wraps ErrBadRubric,
// ErrNoReport or ErrBelowPassMark when one of them is why.
func FromFiles(rubricPath, reportPath, outDir string, w io.Writer) (Grade, error) {
	rub, err := LoadRubric(rubricPath)
	if err != nil {
		return Grade{}, err
	}
	suites, err := ledger.LoadGinkgoJSON(reportPath)
	if err != nil {
		return Grade{}, fmt.Errorf("%w: %w", ErrNoReport, err)
	}
	g := Score(rub, suites)
	// A report of another suite would score 0 and be recorded as the
	// runner's grade.
	if g.Found == 0 {
		return Grade{}, fmt.Errorf("%w: %s holds none of the rubric's %d runner specs: not the runner suite's report", ErrNoReport, reportPath, len(rub.Runner.Specs))
	}
	if err := g.WriteFiles(outDir); err != nil {
		return g, err
	}
	g.WriteText(w)
	fmt.Fprintf(w, "grades: %s %s\n", filepath.Join(outDir, ClassroomFile), filepath.Join(outDir, GradescopeFile))
	if !g.Passed() {
		return g, fmt.Errorf("%d/%d points: %w (%d)", g.Points, g.MaxPoints, ErrBelowPassMark, g.Threshold)
	}
	return g, nil
}

var specID = regexp.MustCompile(`^(R[0-9]+) \(([A-Z][0-9]+)\): `)

// Grade is one runner's result.
type Grade struct {
	Runner    string
	Points    int
	MaxPoints int
	Threshold int
	Tests     []TestGrade
	Problems  []string // things the grader could not match: an unrun suite, unknown specs
	Found     int      // how many of the rubric's specs the report holds, in whatever state: 0 for another suite's report
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
	Commands   []string // each run's arguments to the runner, as it started
	File       string
	Line       int
	DurationMS int64
}

// Score applies the rubric to Ginkgo's JSON report of the runner
// suite. A spec that passed scores its points; any other state scores 0.
func Score(rub Rubric, suites []types.Report) Grade {
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
				if e.Name == EntryRunner && g.Runner == "" {
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
		if ok {
			g.Found++
		}
		switch {
		case !ok && startProblem != "":
			t.Status, t.Message = "error", "this spec did not run: "+startProblem
		case !ok:
			t.Status, t.Message = "error", "this spec did not run (the suite failed to build, could not start, or was stopped)"
		case sr.State == types.SpecStatePassed:
			t.Status, t.Score = "pass", s.Points
		case sr.State == types.SpecStateFailed:
			t.Status = "fail"
		case sr.State == types.SpecStateSkipped && strings.HasPrefix(strings.TrimSpace(sr.Failure.Message), NotCounted):
			// The kernel lacks what the spec checks (swap accounting): its
			// points leave the total instead of counting as lost.
			t.Status, t.MaxScore = NotCounted, 0
			g.MaxPoints -= s.Points
		default: // skipped, pending, panicked, interrupted, aborted, timed out
			t.Status = "error"
		}
		if ok {
			t.Name = sr.LeafNodeText
			t.File, t.Line = relPath(sr.LeafNodeLocation.FileName), sr.LeafNodeLocation.LineNumber
			t.DurationMS = sr.RunTime.Milliseconds()
			for _, e := range sr.ReportEntries {
				switch e.Name {
				case EntryOutcome:
					t.Runs = append(t.Runs, entryString(e))
				case EntryCommand:
					t.Commands = append(t.Commands, entryString(e))
				}
			}
			if t.Status == NotCounted {
				t.Message = strings.TrimSpace(sr.Failure.Message)
			} else if t.Status != "pass" {
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

// NotCounted starts the reason of a spec skipped because the kernel lacks
// what it checks; such a spec's points leave the total.
const NotCounted = "not counted"

// failureMessage is the spec's whole failure message (the specs say what
// was run, expected and observed), where it failed, and the end of the
// runner's output. Nothing in it is cut: the terminal shows the first
// lines, the grade files all of it.
func failureMessage(sr types.SpecReport) string {
	var b strings.Builder
	msg := strings.TrimSpace(sr.Failure.Message)
	switch {
	case sr.State == types.SpecStateFailed && msg != "":
		b.WriteString(msg)
	case msg != "":
		b.WriteString(sr.State.String() + ": " + msg)
	default:
		b.WriteString(sr.State.String())
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

// Lost lists the IDs of the specs that scored nothing (a spec not
// counted on this kernel is not lost).
func (g Grade) Lost() []string {
	var ids []string
	for _, t := range g.Tests {
		if t.Score == 0 && t.Status != NotCounted {
			ids = append(ids, t.ID)
		}
	}
	return ids
}
