package matrix

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/memlab/memlab/labs/matrix/guest"
	"github.com/memlab/memlab/labs/matrix/kernels"
	"github.com/memlab/memlab/labs/report/ledger"
)

func result(id, mode string, v ledger.Verdict, why string) ledger.Result {
	return ledger.Result{ID: id, Mode: mode, Verdict: v, Why: why}
}

// sample is a three-kernel matrix: one cell of each status, and a ran cell
// whose claims are filed under its mode, under "any", and under the other mode.
func sample() Matrix {
	k := func(name string) kernels.Kernel {
		return kernels.Kernel{Source: kernels.Source{Name: name, Suite: name, Package: kernels.DefaultPackage}, Release: name + "-rel"}
	}
	ran := newResult(Cell{Kernel: k("bookworm"), Mode: "v2"})
	ran.Status = Ran
	ran.Report = ledger.Report{Results: []ledger.Result{
		result("K1", "any", ledger.Holds, ""),
		result("F1", "v1", ledger.Skipped, "not a v1 machine"),
		result("F1", "v2", ledger.Corrected, "v2 has other files"),
		result("G1", "v2", ledger.Holds, ""),
		result("G5", "v1", ledger.Holds, ""), // filed under the other mode only
	}}
	skipped := newResult(Cell{Kernel: k("trixie"), Mode: "v1"})
	skipped.Status, skipped.Reason = Skipped, "no v1 memory controller"
	skipped.Report = everyClaim(skipped, ledger.Skipped, skipped.Reason)
	hung := noResult(Cell{Kernel: k("bullseye"), Mode: "v1"}, "the guest did not finish within 3m0s (killed)", "[ 1.0] booting\nstuck")
	return Matrix{Generated: time.Unix(0, 0).UTC(), Accel: "tcg", Jobs: 2, Cells: []CellResult{ran, skipped, hung}}
}

func TestPlanOrder(t *testing.T) {
	ks := []kernels.Kernel{{Source: kernels.Source{Name: "a"}}, {Source: kernels.Source{Name: "b"}}}
	var ids []string
	for _, c := range Plan(ks, guest.Modes, DockerPlan{}) {
		ids = append(ids, c.ID())
	}
	if got := strings.Join(ids, " "); got != "a/v1 a/v2 b/v1 b/v2" {
		t.Fatalf("plan %q", got)
	}
}

func TestTable(t *testing.T) {
	tab := sample().Table()
	if got := strings.Join(tab.Columns, " "); got != "bookworm/v2 trixie/v1 bullseye/v1" {
		t.Fatalf("columns %q", got)
	}
	if len(tab.Rows) != len(ledger.Claims) {
		t.Fatalf("%d rows, want one per ledger claim (%d)", len(tab.Rows), len(ledger.Claims))
	}
	want := map[string][]string{
		"K1": {"holds", "skipped", "no result"},     // "any" counts in a v2 cell
		"F1": {"corrected", "skipped", "no result"}, // the cell's own mode wins
		"G1": {"holds", "skipped", "no result"},
		"G5": {NotRun, "skipped", "no result"}, // a v1 result does not fill a v2 cell
		"D1": {NotRun, "skipped", "no result"},
	}
	for _, row := range tab.Rows {
		if w, ok := want[row.ID]; ok && strings.Join(row.Verdicts, ",") != strings.Join(w, ",") {
			t.Errorf("%s: %v, want %v", row.ID, row.Verdicts, w)
		}
	}
	if tab.Rows[0].ID != "K1" || tab.Rows[len(tab.Rows)-1].ID != "G8" {
		t.Errorf("rows are not in ledger order: %s … %s", tab.Rows[0].ID, tab.Rows[len(tab.Rows)-1].ID)
	}
}

func TestWriteTextAndMarkdown(t *testing.T) {
	m := sample()
	var text, md strings.Builder
	m.WriteText(&text)
	m.WriteMarkdown(&md)
	for _, want := range []string{"CLAIM", "bookworm/v2", "F1 corrected: v2 has other files",
		"trixie/v1: skipped: no v1 memory controller", "bullseye/v1 console tail:", "| stuck"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text output lacks %q:\n%s", want, text.String())
		}
	}
	for _, want := range []string{"| claim | bookworm/v2 | trixie/v1 | bullseye/v1 |", "| **K1**", "```\n[ 1.0] booting\nstuck\n```"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
}

func TestBaselineComparison(t *testing.T) {
	m := sample()
	m.Cells = m.Cells[:2] // a baseline is not written from a run with a no-result cell
	dir := t.TempDir()
	path := filepath.Join(dir, "matrix-baseline.json")
	if err := m.WriteBaseline(path); err != nil {
		t.Fatal(err)
	}
	base, err := LoadBaseline(path)
	if err != nil {
		t.Fatal(err)
	}
	if changes, unseen, fresh := Compare(base, m.Baseline()); len(changes)+len(unseen)+len(fresh) != 0 {
		t.Fatalf("a run compared with its own baseline: %v %v %v", changes, unseen, fresh)
	}

	// Change one cell in a copy: the check fails and names that cell only.
	cur := m.Baseline()
	cur.Cells["bookworm/v2"]["G1"] = "failed"
	changes, _, _ := Compare(base, cur)
	if len(changes) != 1 || changes[0] != (Change{Cell: "bookworm/v2", Claim: "G1", Was: "holds", Now: "failed"}) {
		t.Fatalf("changes %v", changes)
	}
	err = RegressionError(changes)
	if !errors.Is(err, ErrRegression) || !strings.Contains(err.Error(), "bookworm/v2") || strings.Contains(err.Error(), "trixie/v1") {
		t.Fatalf("regression error %v", err)
	}
	if changes[0].String() != "bookworm/v2 G1: holds → failed" {
		t.Errorf("change reads %q", changes[0])
	}

	// A cell only one side has is reported, not compared.
	cur = m.Baseline()
	delete(cur.Cells, "trixie/v1")
	cur.Cells["xenial/v1"] = map[string]string{"K1": "holds"}
	changes, unseen, fresh := Compare(base, cur)
	if len(changes) != 0 || strings.Join(unseen, ",") != "trixie/v1" || strings.Join(fresh, ",") != "xenial/v1" {
		t.Fatalf("changes %v unseen %v fresh %v", changes, unseen, fresh)
	}

	// A claim missing from the new run is a change to "-".
	cur = m.Baseline()
	delete(cur.Cells["bookworm/v2"], "K1")
	if changes, _, _ := Compare(base, cur); len(changes) != 1 || changes[0].Now != NotRun {
		t.Fatalf("changes %v", changes)
	}
}

func TestWriteBaselineRefusesNoResult(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.json")
	err := sample().WriteBaseline(path)
	if err == nil || !strings.Contains(err.Error(), "bullseye/v1") {
		t.Fatalf("err %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("a refused baseline was written")
	}
}

func TestWriteFiles(t *testing.T) {
	dir := t.TempDir()
	changes := []Change{{Cell: "trixie/v1", Claim: "K1", Was: "holds", Now: "skipped"}}
	if err := sample().WriteFiles(dir, changes); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Cells   []CellResult `json:"cells"`
		Table   Table        `json:"table"`
		Changes []Change     `json:"changes_from_baseline"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "matrix.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Cells) != 3 || len(doc.Table.Rows) != len(ledger.Claims) || len(doc.Changes) != 1 {
		t.Fatalf("matrix.json: %d cells, %d rows, %d changes", len(doc.Cells), len(doc.Table.Rows), len(doc.Changes))
	}
	md, _ := os.ReadFile(filepath.Join(dir, "matrix.md"))
	if !strings.Contains(string(md), "trixie/v1 K1: holds → skipped") {
		t.Errorf("matrix.md lacks the change:\n%s", md)
	}
}

// TestReportFrom feeds a guest's Ginkgo JSON report through the ledger.
func TestReportFrom(t *testing.T) {
	verdict := func(v ledger.Verdict) types.ReportEntry {
		b, _ := json.Marshal(ledger.VerdictEntry{Verdict: v})
		return types.ReportEntry{Name: ledger.EntryVerdict, Value: types.WrapEntryValue(json.RawMessage(b))}
	}
	suite := types.Report{SuiteDescription: "placeholder", SpecReports: types.SpecReports{
		{LeafNodeType: types.NodeTypeIt, LeafNodeText: "100m reads back in bytes", LeafNodeLabels: []string{ledger.ClaimLabel("G1"), ledger.ModeLabel("v2")},
			State: types.SpecStatePassed, ReportEntries: types.ReportEntries{verdict(ledger.Holds)}},
		{LeafNodeType: types.NodeTypeIt, LeafNodeText: "101m is killed", LeafNodeLabels: []string{ledger.ClaimLabel("G6"), ledger.ModeLabel("v2")},
			State: types.SpecStateFailed, Failure: types.Failure{Message: "Expected 1\nto equal 0"}},
	}}
	js, err := json.Marshal([]types.Report{suite})
	if err != nil {
		t.Fatal(err)
	}
	o := guest.Outcome{
		Reports: map[string][]byte{"place": js},
		Suites:  []guest.SuiteRun{{Name: "place", Exit: 1}, {Name: "crashed", Exit: 2}},
		Logs:    map[string][]byte{"crashed": []byte("panic: boom\n")},
	}
	rep, notes, err := reportFrom(o, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cell := CellResult{Mode: "v2", Report: rep}
	if cell.Verdict("G1") != "holds" || cell.Verdict("G6") != "failed" || cell.Verdict("K1") != NotRun {
		t.Fatalf("verdicts G1 %s G6 %s K1 %s", cell.Verdict("G1"), cell.Verdict("G6"), cell.Verdict("K1"))
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "crashed exited 2 without a report: panic: boom") {
		t.Fatalf("notes %q", notes)
	}
	// One suite without a report: the cell decided nothing for its claims.
	if st, why := statusOf(o, notes); st != NoResult || !strings.Contains(why, "crashed exited 2") {
		t.Errorf("status %q (%s)", st, why)
	}
	// Both suites exit 1 with no report (a label filter Ginkgo cannot parse).
	none := guest.Outcome{Suites: []guest.SuiteRun{{Name: "rawcgroup", Exit: 1}, {Name: "reexec", Exit: 1}}}
	_, notes, err = reportFrom(none, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := statusOf(none, notes); st != NoResult {
		t.Errorf("suites with no report: status %q", st)
	}
	if st, _ := statusOf(guest.Outcome{}, nil); st != NoResult {
		t.Errorf("no suite at all: status %q", st)
	}
	if st, why := statusOf(guest.Outcome{Suites: o.Suites[:1], Reports: o.Reports}, nil); st != Ran || why != "" {
		t.Errorf("every suite reported: status %q (%s)", st, why)
	}
}

func TestFailuresNameFailedClaimsAndSilentCells(t *testing.T) {
	ran := CellResult{ID: "bookworm/v2", Status: Ran, Report: ledger.Report{Results: []ledger.Result{
		{ID: "G5", Mode: "v2", Verdict: ledger.Failed}, {ID: "G1", Mode: "v2", Verdict: ledger.Holds},
	}}}
	ran.Mode = "v2"
	hung := CellResult{ID: "bullseye/v1", Mode: "v1", Status: NoResult}
	got := Matrix{Cells: []CellResult{ran, hung}}.Failures()
	if strings.Join(got, ";") != "bookworm/v2 G5;bullseye/v1 (no result)" {
		t.Fatalf("failures %q", got)
	}
	if FailuresError(nil) != nil || !errors.Is(FailuresError(got), ErrClaimsFailed) {
		t.Fatal("FailuresError")
	}
	// A dead guest alone is "no result", its own status: not a failed
	// claim, not a regression.
	if err := FailuresError(got[1:]); !errors.Is(err, ErrNoResult) || errors.Is(err, ErrClaimsFailed) {
		t.Fatalf("only a cell with no result: %v", err)
	}
}
