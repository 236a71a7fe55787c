package grade

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/memlab/memlab/labs/report/ledger"
)

// The repository root, seen from this package's directory (go test runs
// tests there).
const repoRoot = "../.."

var rubricPath = filepath.Join(repoRoot, "fixtures", "rubric.json")

func loadRubric(t *testing.T) Rubric {
	t.Helper()
	rub, err := LoadRubric(rubricPath)
	if err != nil {
		t.Fatal(err)
	}
	return rub
}

func TestRubricIsConsistent(t *testing.T) {
	rub := loadRubric(t)
	if rub.MaxPoints() != 100 {
		t.Errorf("runner specs add up to %d points, want 100", rub.MaxPoints())
	}
	for _, s := range rub.Runner.Specs {
		if _, err := ledger.Lookup(s.Claim); err != nil {
			t.Errorf("%s: %v", s.ID, err)
		}
	}
	for _, ex := range rub.Exercises {
		total := 0
		for id, pts := range ex.Claims {
			if _, err := ledger.Lookup(id); err != nil {
				t.Errorf("%s: %v", ex.Exercise, err)
			}
			total += pts
		}
		if ex.PassThreshold <= 0 || ex.PassThreshold > total {
			t.Errorf("%s: pass threshold %d outside 1..%d", ex.Exercise, ex.PassThreshold, total)
		}
		if _, err := os.Stat(filepath.Join(repoRoot, ex.Exercise)); err != nil {
			t.Errorf("exercise handout: %v", err)
		}
	}
	if _, err := os.Stat(filepath.Join(repoRoot, rub.Runner.Exercise)); err != nil {
		t.Errorf("exercise handout: %v", err)
	}
	names := map[string]bool{}
	for _, f := range rub.Runner.Fixtures {
		names[filepath.Base(f.Runner)] = true
	}
	for _, want := range []string{"memlab run", "attach-after-start", "never-cleans-up", "ignores-limit", "hangs"} {
		if !names[want] {
			t.Errorf("rubric names no expected loss for %s", want)
		}
	}
}

// The suite's spec names and the rubric must agree: every "Rn (CLAIM): "
// in specs/runner has points, under the same claim, and nothing else does.
func TestRubricMatchesTheSuite(t *testing.T) {
	rub := loadRubric(t)
	files, err := filepath.Glob(filepath.Join(repoRoot, "specs", "runner", "*_test.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no runner suite sources: %v", err)
	}
	inSuite := map[string]string{}
	re := regexp.MustCompile(`It\("(R[0-9]+) \(([A-Z][0-9]+)\): `)
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(src), -1) {
			if _, dup := inSuite[m[1]]; dup {
				t.Errorf("%s appears twice in the suite", m[1])
			}
			inSuite[m[1]] = m[2]
		}
	}
	for _, s := range rub.Runner.Specs {
		claim, ok := inSuite[s.ID]
		switch {
		case !ok:
			t.Errorf("rubric spec %s is not in specs/runner", s.ID)
		case claim != s.Claim:
			t.Errorf("%s exercises %s in the suite, %s in the rubric", s.ID, claim, s.Claim)
		}
		delete(inSuite, s.ID)
	}
	for id := range inSuite {
		t.Errorf("suite spec %s has no points in the rubric", id)
	}
}

// report builds a Ginkgo report: one It per state given, in rubric order.
func report(states map[string]types.SpecState) []types.Report {
	rep := types.Report{SuiteDescription: "runner contract: R1-R11", SuiteSucceeded: false}
	rep.SpecReports = append(rep.SpecReports, types.SpecReport{
		LeafNodeType: types.NodeTypeBeforeSuite, State: types.SpecStatePassed,
		ReportEntries: types.ReportEntries{{Name: EntryRunner, Value: types.WrapEntryValue("./student-runner")}},
	})
	for id, st := range states {
		sr := types.SpecReport{
			LeafNodeType: types.NodeTypeIt, State: st, RunTime: 1500 * time.Millisecond,
			LeafNodeText:     id + " (G6): a spec",
			LeafNodeLocation: types.CodeLocation{FileName: "/x/specs/runner/contract_test.go", LineNumber: 40},
			ReportEntries: types.ReportEntries{{Name: EntryOutcome,
				Value: types.WrapEntryValue("--memory 100m -- sh -c 'exit 3': exit status 3 after 12ms")}},
		}
		if st == types.SpecStateFailed {
			sr.Failure = types.Failure{Message: "exit status 1, want 3", Location: types.CodeLocation{FileName: "/x/specs/runner/contract_test.go", LineNumber: 42}}
			sr.CapturedGinkgoWriterOutput = "runner: hello\n"
		}
		rep.SpecReports = append(rep.SpecReports, sr)
	}
	// Through JSON, as the grader reads it.
	b, _ := json.Marshal([]types.Report{rep})
	var back []types.Report
	_ = json.Unmarshal(b, &back)
	return back
}

func testRubric() Rubric {
	return Rubric{Runner: RunnerRubric{PassThreshold: 6, Specs: []SpecPoints{
		{ID: "R1", Claim: "G6", Points: 5}, {ID: "R2", Claim: "G6", Points: 3},
		{ID: "R3", Claim: "G6", Points: 2}, {ID: "R4", Claim: "G6", Points: 1},
	}}}
}

func TestGradeScoresOnlyPassedSpecs(t *testing.T) {
	g := Score(testRubric(), report(map[string]types.SpecState{
		"R1": types.SpecStatePassed, "R2": types.SpecStateFailed, "R3": types.SpecStateSkipped,
	}))
	if g.Points != 5 || g.MaxPoints != 11 || g.Passed() {
		t.Fatalf("points %d/%d passed=%v, want 5/11 failing", g.Points, g.MaxPoints, g.Passed())
	}
	status := map[string]string{}
	for _, tg := range g.Tests {
		status[tg.ID] = tg.Status
	}
	want := map[string]string{"R1": "pass", "R2": "fail", "R3": "error", "R4": "error"}
	for id, s := range want {
		if status[id] != s {
			t.Errorf("%s: status %q, want %q", id, status[id], s)
		}
	}
	if !slices.Equal(g.Lost(), []string{"R2", "R3", "R4"}) {
		t.Errorf("lost %v", g.Lost())
	}
	if g.Runner != "./student-runner" {
		t.Errorf("runner %q", g.Runner)
	}
	if !strings.Contains(g.Tests[1].Message, "exit status 1, want 3") || !strings.Contains(g.Tests[1].Message, "runner: hello") {
		t.Errorf("R2's message lacks the failure or the output: %q", g.Tests[1].Message)
	}
}

func TestGradeFlagsSpecsTheRubricDoesNotKnow(t *testing.T) {
	g := Score(testRubric(), report(map[string]types.SpecState{"R1": types.SpecStatePassed, "R9": types.SpecStatePassed}))
	if len(g.Problems) != 1 || !strings.Contains(g.Problems[0], "R9") {
		t.Errorf("problems %v", g.Problems)
	}
}

func TestClassroomResultFormat(t *testing.T) {
	g := Score(testRubric(), report(map[string]types.SpecState{
		"R1": types.SpecStatePassed, "R2": types.SpecStatePassed, "R3": types.SpecStateFailed, "R4": types.SpecStatePassed,
	}))
	b, err := g.Classroom()
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Version  int    `json:"version"`
		Status   string `json:"status"`
		MaxScore int    `json:"max_score"`
		Tests    []struct {
			Name     string `json:"name"`
			Status   string `json:"status"`
			Score    int    `json:"score"`
			Message  string `json:"message"`
			TestCode string `json:"test_code"`
		} `json:"tests"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if res.Version != 1 || res.Status != "pass" || res.MaxScore != 11 || len(res.Tests) != 4 {
		t.Fatalf("result %+v", res)
	}
	sum := 0
	for _, tc := range res.Tests {
		sum += tc.Score
	}
	if sum != 9 {
		t.Errorf("scores add up to %d, want 9 (the reporter sums tests[].score)", sum)
	}
	for _, key := range []string{`"test_code"`, `"line_no"`, `"filename"`, `"duration"`, `"message"`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("no %s in %s", key, b)
		}
	}
	if res.Tests[0].TestCode != "./student-runner --memory 100m -- sh -c 'exit 3'" {
		t.Errorf("test_code %q", res.Tests[0].TestCode)
	}
}

func TestGradescopeResultFormat(t *testing.T) {
	g := Score(testRubric(), report(map[string]types.SpecState{"R1": types.SpecStatePassed, "R2": types.SpecStateFailed}))
	b, err := g.Gradescope()
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Score float64 `json:"score"`
		Tests []struct {
			Name     string  `json:"name"`
			Score    float64 `json:"score"`
			MaxScore float64 `json:"max_score"`
			Output   string  `json:"output"`
			Status   string  `json:"status"`
		} `json:"tests"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if res.Score != 5 || len(res.Tests) != 4 || res.Tests[0].MaxScore != 5 || res.Tests[1].Status != "failed" {
		t.Fatalf("results %s", b)
	}
}

func TestFromFilesFailsBelowThePassMark(t *testing.T) {
	dir := t.TempDir()
	rubric := filepath.Join(dir, "rubric.json")
	rb, _ := json.Marshal(testRubric())
	if err := os.WriteFile(rubric, rb, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		states map[string]types.SpecState
		points int
		want   error
	}{
		{map[string]types.SpecState{"R1": types.SpecStatePassed, "R4": types.SpecStatePassed}, 6, nil}, // on the mark
		{map[string]types.SpecState{"R1": types.SpecStatePassed}, 5, ErrBelowPassMark},                 // below it
	} {
		from := filepath.Join(dir, "runner.json")
		b, _ := json.Marshal(report(c.states))
		if err := os.WriteFile(from, b, 0o644); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, "out")
		var text strings.Builder
		g, err := FromFiles(rubric, from, out, &text)
		if !errors.Is(err, c.want) || (c.want == nil && err != nil) {
			t.Errorf("%v: error %v, want %v", c.states, err, c.want)
		}
		if g.Points != c.points || !strings.Contains(text.String(), g.Summary()) {
			t.Errorf("%v: %d points, text %q", c.states, g.Points, text.String())
		}
		for _, f := range []string{ClassroomFile, GradescopeFile} {
			if _, err := os.Stat(filepath.Join(out, f)); err != nil {
				t.Error(err)
			}
		}
	}
	if _, err := FromFiles(rubric, filepath.Join(dir, "none.json"), dir, io.Discard); !errors.Is(err, ErrNoReport) {
		t.Errorf("no report: error %v, want ErrNoReport", err)
	}
	// Another suite's report, however it went, holds none of the rubric's
	// specs: refused, and no grade is written.
	other := filepath.Join(dir, "other.json")
	b, _ := json.Marshal(report(map[string]types.SpecState{"R9": types.SpecStatePassed}))
	if err := os.WriteFile(other, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if g := Score(testRubric(), report(map[string]types.SpecState{"R1": types.SpecStateFailed, "R9": types.SpecStatePassed})); g.Found != 1 {
		t.Errorf("a report of R1 and R9 holds %d of the rubric's specs, want 1", g.Found)
	}
	otherOut := filepath.Join(dir, "other-out")
	if _, err := FromFiles(rubric, other, otherOut, io.Discard); !errors.Is(err, ErrNoReport) || !strings.Contains(err.Error(), "holds none of the rubric's 4 runner specs") {
		t.Errorf("another suite's report: error %v, want ErrNoReport: holds none of the rubric's 4 runner specs", err)
	}
	if _, err := os.Stat(otherOut); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a grade was written for another suite's report: %v", err)
	}
}

func TestBadRubricsAreRefused(t *testing.T) {
	dir := t.TempDir()
	noSpecs := testRubric()
	noSpecs.Runner.Specs = nil
	repeated := testRubric()
	repeated.Runner.Specs[1].ID = "R1"
	zero := testRubric()
	zero.Runner.Specs[0].Points = 0
	highMark := testRubric()
	highMark.Runner.PassThreshold = 12
	unknownLoss := testRubric()
	unknownLoss.Runner.Fixtures = []FixtureLoss{{Runner: "x", Loses: []string{"R9"}}}
	cases := map[string][]byte{"not JSON": []byte("{")}
	for name, r := range map[string]Rubric{"no specs": noSpecs, "repeated id": repeated, "no points": zero,
		"pass mark above full marks": highMark, "a fixture loses an unknown spec": unknownLoss} {
		cases[name], _ = json.Marshal(r)
	}
	for name, b := range cases {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".json")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadRubric(path); !errors.Is(err, ErrBadRubric) {
			t.Errorf("%s: error %v, want ErrBadRubric", name, err)
		}
	}
	if _, err := LoadRubric(filepath.Join(dir, "missing.json")); !errors.Is(err, ErrBadRubric) {
		t.Errorf("missing rubric: error %v, want ErrBadRubric", err)
	}
}

// A spec skipped because the kernel lacks what it checks leaves the total;
// any other skip scores 0 of its points.
func TestASpecNotCountedLeavesTheTotal(t *testing.T) {
	reps := report(map[string]types.SpecState{"R1": types.SpecStatePassed, "R2": types.SpecStatePassed, "R3": types.SpecStatePassed, "R4": types.SpecStateSkipped})
	for i, sr := range reps[0].SpecReports {
		if strings.HasPrefix(sr.LeafNodeText, "R4 ") {
			reps[0].SpecReports[i].Failure.Message = NotCounted + ": this kernel has no swap accounting"
		}
	}
	g := Score(testRubric(), reps)
	if g.Points != 10 || g.MaxPoints != 10 || len(g.Lost()) != 0 {
		t.Errorf("points %d/%d, lost %v: want 10/10, none lost", g.Points, g.MaxPoints, g.Lost())
	}
	if r4 := g.Tests[3]; r4.Status != NotCounted || r4.MaxScore != 0 || !strings.Contains(r4.Message, "no swap accounting") {
		t.Errorf("R4: %+v", r4)
	}
}

// A voided grade (the suite died) scores nothing and says why in every
// spec; the Classroom status is an error.
func TestAVoidedGradeIsAnError(t *testing.T) {
	g := Score(testRubric(), report(map[string]types.SpecState{"R1": types.SpecStatePassed, "R2": types.SpecStatePassed}))
	g.Void("the runner suite died (killed by signal 9)")
	if g.Points != 0 || len(g.Lost()) != 4 {
		t.Errorf("points %d, lost %v", g.Points, g.Lost())
	}
	for _, tg := range g.Tests {
		if tg.Status != "error" || tg.Message != "the runner suite died (killed by signal 9)" {
			t.Errorf("%s: %q %q", tg.ID, tg.Status, tg.Message)
		}
	}
	b, err := g.Classroom()
	if err != nil || !strings.Contains(string(b), `"status": "error"`) {
		t.Errorf("classroom %v:\n%s", err, b)
	}
}

// test_code is the command line of every run a spec started, even one that
// failed before the run ended; the whole failure message is kept.
func TestTestCodeAndWholeMessages(t *testing.T) {
	reps := report(map[string]types.SpecState{"R1": types.SpecStateFailed})
	long := strings.Repeat("observed line\n", 30) + "the cause, at the end"
	for i, sr := range reps[0].SpecReports {
		if strings.HasPrefix(sr.LeafNodeText, "R1 ") {
			reps[0].SpecReports[i].ReportEntries = types.ReportEntries{{Name: EntryCommand, Value: types.WrapEntryValue("--memory 100m -- sh -c 'sleep 60 & wait' m")}}
			reps[0].SpecReports[i].Failure.Message = long
		}
	}
	// Through JSON again: the entries were set after report() round-tripped.
	b, _ := json.Marshal(reps)
	var back []types.Report
	_ = json.Unmarshal(b, &back)
	g := Score(testRubric(), back)
	if code := g.testCode(g.Tests[0]); code != "./student-runner --memory 100m -- sh -c 'sleep 60 & wait' m" {
		t.Errorf("test_code %q", code)
	}
	if !strings.Contains(g.Tests[0].Message, "the cause, at the end") {
		t.Errorf("the message was cut: %q", g.Tests[0].Message)
	}
}

// A report of another suite is not a runner's 0: it is refused, and no
// grade is written.
func TestFromFilesRefusesAnotherSuitesReport(t *testing.T) {
	dir := t.TempDir()
	rubric, from, out := filepath.Join(dir, "rubric.json"), filepath.Join(dir, "labs.json"), filepath.Join(dir, "out")
	rb, _ := json.Marshal(testRubric())
	labs := []types.Report{{SuiteDescription: "raw cgroup", SuiteSucceeded: true, SpecReports: types.SpecReports{
		{LeafNodeType: types.NodeTypeIt, State: types.SpecStatePassed, LeafNodeText: "G1: a claim"},
	}}}
	lb, _ := json.Marshal(labs)
	if err := os.WriteFile(rubric, rb, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(from, lb, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := FromFiles(rubric, from, out, io.Discard); !errors.Is(err, ErrNoReport) {
		t.Errorf("error %v, want ErrNoReport", err)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s: %v, want nothing written", out, err)
	}
}
