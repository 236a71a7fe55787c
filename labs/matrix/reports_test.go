package matrix

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/memlab/memlab/labs/report/ledger"
)

// report writes a claims.json whose memory controller is on mode, with
// every claim holding there and skipped in the other mode.
func report(t *testing.T, dir, kernel, layout, mode string, override map[string]ledger.Verdict) string {
	t.Helper()
	other := map[string]string{"v1": "v2", "v2": "v1"}[mode]
	r := ledger.Report{Env: ledger.Env{Kernel: kernel, Layout: layout, MemoryMode: mode, MemoryMount: "/sys/fs/cgroup"}}
	for _, c := range ledger.Claims {
		v := ledger.Holds
		why := ""
		if o, ok := override[c.ID]; ok {
			v, why = o, c.ID+" because"
		}
		r.Results = append(r.Results,
			ledger.Result{ID: c.ID, Claim: c.Statement, Mode: mode, Kernel: kernel, Verdict: v, Why: why},
			ledger.Result{ID: c.ID, Claim: c.Statement, Mode: other, Kernel: kernel, Verdict: ledger.Skipped, Why: "memory is on " + mode})
	}
	if err := r.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "claims.json")
}

func TestColumnsAndVerdicts(t *testing.T) {
	tmp := t.TempDir()
	xenial := report(t, filepath.Join(tmp, "xenial"), "4.4.0-210-generic", "legacy", "v1",
		map[string]ledger.Verdict{"G7": ledger.Corrected})
	jammy := report(t, filepath.Join(tmp, "jammy"), "5.15.0-91-generic", "unified", "v2",
		map[string]ledger.Verdict{"D6": ledger.Corrected})
	m := FromReports([]MachineReport{{"xenial", xenial}, {"jammy", jammy}, {"bionic", filepath.Join(tmp, "nope.json")}}, time.Unix(0, 0))

	want := []string{"xenial/v1", "jammy/v2", "bionic/?"}
	if strings.Join(m.Table().Columns, " ") != strings.Join(want, " ") {
		t.Fatalf("columns %v, want %v", m.Table().Columns, want)
	}
	if len(m.Table().Rows) != len(ledger.Claims) {
		t.Fatalf("%d rows, want one per claim (%d)", len(m.Table().Rows), len(ledger.Claims))
	}
	got := map[string][]string{}
	for _, r := range m.Table().Rows {
		got[r.ID] = r.Verdicts
	}
	check := func(id string, want ...string) {
		t.Helper()
		if strings.Join(got[id], ",") != strings.Join(want, ",") {
			t.Errorf("%s: %v, want %v", id, got[id], want)
		}
	}
	check("K1", "holds", "holds", NoResult)
	check("G7", "corrected", "holds", NoResult)
	check("D6", "holds", "corrected", NoResult)

	var text bytes.Buffer
	m.WriteText(&text)
	for _, s := range []string{"xenial/v1", "4.4.0-210-generic", "xenial/v1: G7 corrected: G7 because", "bionic/?: no result: no report at"} {
		if !strings.Contains(text.String(), s) {
			t.Errorf("text lacks %q:\n%s", s, text.String())
		}
	}
}

func TestModeThatDidMoreThanSkipGetsAColumn(t *testing.T) {
	tmp := t.TempDir()
	r := ledger.Report{Env: ledger.Env{Kernel: "5.4.0", Layout: "hybrid", MemoryMode: "v1"}, Results: []ledger.Result{
		{ID: "K1", Mode: "v1", Verdict: ledger.Holds},
		{ID: "K1", Mode: "v2", Verdict: ledger.Failed, Why: "boom"},
		{ID: "G2", Mode: "any", Verdict: ledger.Holds},
	}}
	if err := r.WriteFiles(tmp); err != nil {
		t.Fatal(err)
	}
	m := FromReports([]MachineReport{{"focal", filepath.Join(tmp, "claims.json")}}, time.Now())
	if strings.Join(m.Table().Columns, " ") != "focal/v1 focal/v2" {
		t.Fatalf("columns %v", m.Table().Columns)
	}
	for _, row := range m.Table().Rows {
		switch row.ID {
		case "G2": // filed under "any": shown in every mode
			if row.Verdicts[0] != "holds" || row.Verdicts[1] != "holds" {
				t.Errorf("G2 %v", row.Verdicts)
			}
		case "D1":
			if row.Verdicts[0] != NotRun {
				t.Errorf("D1 %v, want %s", row.Verdicts, NotRun)
			}
		}
	}
}

func TestMergeWritesFilesAndFailsOnMissingReport(t *testing.T) {
	tmp := t.TempDir()
	xenial := report(t, filepath.Join(tmp, "vm", "xenial"), "4.4.0-210-generic", "legacy", "v1", nil)
	out := filepath.Join(tmp, "out")
	var stdout bytes.Buffer
	if _, err := Merge(MergeConfig{Reports: []MachineReport{{"xenial", xenial}}, Out: out, Stdout: &stdout}); err != nil {
		t.Fatalf("Merge: %v", err)
	}
	if !strings.Contains(stdout.String(), "xenial/v1") || !strings.Contains(stdout.String(), filepath.Join(out, "vm-matrix.md")) {
		t.Errorf("stdout lacks the table or the files:\n%s", stdout.String())
	}
	mdText, err := os.ReadFile(filepath.Join(out, "vm-matrix.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mdText), "# memlab VM matrix") || !strings.Contains(string(mdText), "| claim | xenial/v1 |") ||
		!strings.Contains(string(mdText), "| **K1** ") {
		t.Errorf("vm-matrix.md:\n%s", mdText)
	}
	var doc struct {
		Table Table `json:"table"`
	}
	js, err := os.ReadFile(filepath.Join(out, "vm-matrix.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(js, &doc); err != nil || len(doc.Table.Columns) != 1 {
		t.Fatalf("vm-matrix.json: %v %+v", err, doc.Table)
	}

	res, err := Merge(MergeConfig{Reports: []MachineReport{{"xenial", xenial}, {"jammy", filepath.Join(tmp, "none.json")}}, Out: out})
	if !errors.Is(err, ErrNoReport) || !strings.Contains(err.Error(), "from jammy") || strings.Contains(err.Error(), "xenial") {
		t.Errorf("missing report: err %v, want ErrNoReport naming jammy only", err)
	}
	if strings.Join(res.Matrix.Table().Columns, " ") != "xenial/v1 jammy/?" {
		t.Errorf("a missing report still gets its column: %v", res.Matrix.Table().Columns)
	}
	if !res.Written {
		t.Error("the table was written, and Written says not")
	}
	if md, _ := os.ReadFile(filepath.Join(out, "vm-matrix.md")); !strings.Contains(string(md), "jammy/?") {
		t.Errorf("vm-matrix.md is not written when a report is missing:\n%s", md)
	}
}
