package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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

// An interrupted run's report goes beside the last complete one, which is
// kept, and says where.
func TestReportOfAnUnfinishedRunKeepsThePrevious(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "reports")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	previous := []byte(`{"previous": true}`)
	if err := os.WriteFile(filepath.Join(out, "claims.json"), previous, 0o644); err != nil {
		t.Fatal(err)
	}
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
