package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/memlab/memlab/labs/report/ledger"
)

// memlab report reads bounded input and refuses a document of the wrong
// shape with one line, writing nothing.
func TestReportRefusesWhatIsNoReport(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "reports")
	froms := []string{"/dev/zero"}
	for i, doc := range []string{"[]", "null", "[{}]"} {
		p := filepath.Join(dir, "doc"+string(rune('0'+i))+".json")
		if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		froms = append(froms, p)
	}
	for _, from := range froms {
		code, _, stderr := runIn(t, dir, "report", "--from", from, "--out", out)
		if code != exitNoSuchReport || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "not a Ginkgo JSON report") {
			t.Errorf("--from %s: exit %d, stderr %q", from, code, stderr)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Error("a refused report wrote the reports directory")
	}
}

// reportsOfAPreviousRun makes dir/reports holding a previous run's
// claims.json, which a run that did not finish must leave as it is.
func reportsOfAPreviousRun(t *testing.T) (dir, out string, previous []byte) {
	t.Helper()
	dir = t.TempDir()
	out = filepath.Join(dir, "reports")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	previous = []byte(`{"previous": true}`)
	if err := os.WriteFile(filepath.Join(out, "claims.json"), previous, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, out, previous
}

// An interrupted run's report goes beside the last complete one, which is
// kept, and says where.
func TestReportOfAnUnfinishedRunKeepsThePrevious(t *testing.T) {
	dir, out, previous := reportsOfAPreviousRun(t)
	from := filepath.Join(dir, "ginkgo.json")
	doc := `[{"SuitePath":"/m/specs/reexec","SuiteDescription":"reexec","SpecialSuiteFailureReasons":["Interrupted by User"]}]`
	if err := os.WriteFile(from, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runIn(t, dir, "report", "--from", from, "--out", out)
	partial := filepath.Join(out, "claims.partial.json")
	if code != exitUnfinished || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "reexec: Interrupted by User") ||
		!strings.Contains(stderr, partial) {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	if got, _ := os.ReadFile(filepath.Join(out, "claims.json")); string(got) != string(previous) {
		t.Errorf("the previous claims.json is now %q", got)
	}
	if _, err := os.Stat(partial); err != nil {
		t.Errorf("no partial report: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "index.html")); !os.IsNotExist(err) {
		t.Error("an unfinished run wrote index.html")
	}
}

// A run whose docker suite was SIGKILLed has a complete-looking Ginkgo
// report that lacks the suite: told what was to run (--suites), report
// keeps the previous reports and exits unfinished (make labs wrote over
// them, the D claims gone from the table, when interrupts.sh killed
// docker.test).
func TestReportOfARunMissingASuiteKeepsThePrevious(t *testing.T) {
	dir, out, previous := reportsOfAPreviousRun(t)
	from := filepath.Join(dir, "ginkgo.json")
	doc := `[{"SuitePath":"/m/specs/reexec","SuiteDescription":"reexec","SuiteSucceeded":true}]`
	if err := os.WriteFile(from, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runIn(t, dir, "report", "--from", from, "--suites", "./specs/reexec ./specs/docker", "--out", out)
	if code != exitUnfinished || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "specs/docker: Suite left no report") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	if got, _ := os.ReadFile(filepath.Join(out, "claims.json")); string(got) != string(previous) {
		t.Errorf("the previous claims.json is now %q", got)
	}
}

// A run the Docker engine's loss cut short keeps the previous reports,
// names the claims it cut and the engine's status on one line, and exits
// with its own status (85), not "failed".
func TestReportOfARunTheEngineCutShort(t *testing.T) {
	dir, out, previous := reportsOfAPreviousRun(t)
	status := "no Docker engine answers at unix:///run/x.sock: Cannot connect to the Docker daemon"
	doc, err := json.Marshal([]types.Report{{SuitePath: "/m/specs/docker", SuiteDescription: "docker", SpecReports: []types.SpecReport{{
		LeafNodeType: types.NodeTypeIt, LeafNodeText: "D3", LeafNodeLabels: []string{"claim:D3", "cgroup:v1"},
		State: types.SpecStateFailed, Failure: types.Failure{Message: "Unexpected error:"},
		ReportEntries: []types.ReportEntry{{Name: ledger.EntryEngineGone, Value: types.WrapEntryValue(status)}},
	}}}})
	if err != nil {
		t.Fatal(err)
	}
	from := filepath.Join(dir, "ginkgo.json")
	if err := os.WriteFile(from, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runIn(t, dir, "report", "--from", from, "--out", out)
	if code != exitEngineGone || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "D3/v1") ||
		!strings.Contains(stderr, status) || !strings.Contains(stderr, "claims.partial.json") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	if got, _ := os.ReadFile(filepath.Join(out, "claims.json")); string(got) != string(previous) {
		t.Errorf("the previous claims.json is now %q", got)
	}
	partial, err := ledger.LoadReport(filepath.Join(out, "claims.partial.json"))
	if err != nil {
		t.Fatal(err)
	}
	if res, _ := partial.For("D3", "v1"); res.Verdict != ledger.NoResult || !strings.HasPrefix(res.Why, ledger.EngineGone+": "+status) {
		t.Errorf("D3/v1: %q (%s)", res.Verdict, res.Why)
	}
}

// The last line names the files memlab report wrote, and only those
// (junit.xml is Ginkgo's).
func TestReportNamesWhatItWrote(t *testing.T) {
	dir := t.TempDir()
	from, out := filepath.Join(dir, "ginkgo.json"), filepath.Join(dir, "reports")
	doc := `[{"SuitePath":"/m/specs/reexec","SuiteDescription":"reexec","SuiteSucceeded":true,"SpecReports":[]}]`
	if err := os.WriteFile(from, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runIn(t, dir, "report", "--from", from, "--out", out)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	_, last, _ := strings.Cut(strings.TrimSpace(stdout), "\nreports: ")
	named := strings.Fields(last)
	if len(named) != 3 {
		t.Errorf("reports line %q: want claims.json, claims.md and index.html", last)
	}
	for _, f := range named {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("the reports line names %s: %v", f, err)
		}
	}
}
