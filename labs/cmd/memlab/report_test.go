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
