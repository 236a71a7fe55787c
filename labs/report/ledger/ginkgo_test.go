package ledger

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/onsi/ginkgo/v2/types"
)

// A document of the wrong shape is no report, so it cannot pass for a run
// that found nothing.
func TestParseGinkgoJSONRefusesOtherShapes(t *testing.T) {
	for _, doc := range []string{"", "null", "[]", "[{}]", "{}", `[{"SuitePath":""}]`, "[1]", `"x"`} {
		if r, err := ParseGinkgoJSON([]byte(doc)); !errors.Is(err, ErrNotGinkgoReport) {
			t.Errorf("%q: %d suites, err %v", doc, len(r), err)
		}
	}
	js, err := json.Marshal([]types.Report{{SuitePath: "/specs/rawcgroup", SuiteDescription: "raw cgroup"}})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := ParseGinkgoJSON(js); err != nil || len(r) != 1 {
		t.Errorf("a real report: %d suites, %v", len(r), err)
	}
}

// Reading stops at MaxGinkgoJSON: an endless file ends with an error.
func TestLoadGinkgoJSONIsBounded(t *testing.T) {
	p := filepath.Join(t.TempDir(), "huge.json")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(f, zeros{}, MaxGinkgoJSON+10); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadGinkgoJSON(p); !errors.Is(err, ErrNotGinkgoReport) {
		t.Errorf("err %v", err)
	}
	if _, err := os.Stat("/dev/zero"); err == nil {
		if _, err := LoadGinkgoJSON("/dev/zero"); !errors.Is(err, ErrNotGinkgoReport) {
			t.Errorf("/dev/zero: %v", err)
		}
	}
}

type zeros struct{}

func (zeros) Read(b []byte) (int, error) {
	clear(b)
	return len(b), nil
}

// FuzzParseGinkgoJSON: any input is refused as ErrNotGinkgoReport or gives
// named suites the ledger can read without panicking.
func FuzzParseGinkgoJSON(f *testing.F) {
	for _, s := range []string{"", "null", "[]", "[{}]", `[{"SuitePath":"/s","SuiteDescription":"s"}]`,
		`[{"SuiteDescription":"s","SpecReports":[{"LeafNodeLabels":["claim:G1","mode:v2"],"State":"passed"}]}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		suites, err := ParseGinkgoJSON(data)
		if err != nil {
			if !errors.Is(err, ErrNotGinkgoReport) {
				t.Fatalf("error %v is not ErrNotGinkgoReport", err)
			}
			return
		}
		if len(suites) == 0 {
			t.Fatal("accepted a report with no suite")
		}
		for _, s := range suites {
			if s.SuitePath == "" && s.SuiteDescription == "" {
				t.Fatal("accepted an unnamed suite")
			}
		}
		_, _ = FromGinkgo(suites) // its errors are the ledger's; it must not panic
	})
}

func TestUnfinishedNamesSuitesThatDidNotRunToTheirEnd(t *testing.T) {
	suites := []types.Report{
		{SuiteDescription: "raw cgroup", SuiteSucceeded: true},
		{SuiteDescription: "reexec", SpecialSuiteFailureReasons: []string{"Interrupted by User"}},
		{SuitePath: "/m/specs/docker", SpecialSuiteFailureReasons: []string{"Failed to compile docker:\n\nsignal: interrupt"}},
		{SuiteDescription: "pending", SpecialSuiteFailureReasons: []string{"Detected pending specs and --fail-on-pending is set"}},
	}
	got := Unfinished(suites)
	if len(got) != 2 || got[0] != "reexec: Interrupted by User" || got[1] != "/m/specs/docker: Failed to compile docker:" {
		t.Errorf("unfinished %q", got)
	}
	if got := Unfinished(suites[:1]); len(got) != 0 {
		t.Errorf("a finished run: %q", got)
	}
}
