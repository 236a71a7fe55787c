package ledger

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
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

// An interrupted run's claims read "interrupted": the spec the interrupt
// cut, the selected specs it skipped, and the claims of the suites that
// never ran. A spec the label filter left out is still "not selected".
func TestInterruptedClaimsReadInterrupted(t *testing.T) {
	spec := func(id, mode string, state types.SpecState, msg string) types.SpecReport {
		return types.SpecReport{LeafNodeType: types.NodeTypeIt, LeafNodeText: id + " " + mode,
			LeafNodeLabels: []string{ClaimLabel(id), ModeLabel(mode)}, State: state,
			Failure: types.Failure{Message: msg}}
	}
	suites := []types.Report{{
		SuiteDescription: "reexec", SuiteConfig: types.SuiteConfig{LabelFilter: "cgroup:v1"},
		SpecialSuiteFailureReasons: []string{"Interrupted by User"},
		SpecReports: []types.SpecReport{
			spec("G5", "v1", types.SpecStateInterrupted, "Interrupted by User"),
			spec("G6", "v1", types.SpecStateSkipped, ""),
			spec("G6", "v2", types.SpecStateSkipped, ""),
			spec("G7", "v1", types.SpecStateSkipped, "this kernel lacks it"),
		},
	}}
	rep, err := FromGinkgo(suites)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Verdict{"G5/v1": Interrupted, "G6/v1": Interrupted, "G6/v2": Skipped, "G7/v1": Skipped,
		"D1/v1": Interrupted, "D9/v2": Interrupted, "K1/v2": Interrupted}
	for key, v := range want {
		id, mode, _ := strings.Cut(key, "/")
		res, ok := rep.For(id, mode)
		if !ok || res.Verdict != v {
			t.Errorf("%s: %q (%s), want %q", key, res.Verdict, res.Why, v)
		}
	}
	if got := len(rep.Results); got != len(Claims)*len(Modes) {
		t.Errorf("%d results, want every claim in every mode (%d)", got, len(Claims)*len(Modes))
	}
	if res, _ := rep.For("G6", "v2"); res.Why != notSelected {
		t.Errorf("G6/v2, left out by the label filter: %q", res.Why)
	}

	// A finished run lists only what its suites reported.
	suites[0].SpecialSuiteFailureReasons = nil
	suites[0].SpecReports = suites[0].SpecReports[2:]
	rep, err = FromGinkgo(suites)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 2 || rep.Count()[Interrupted] != 0 {
		t.Errorf("a finished run: %+v", rep.Results)
	}
}

// A suite that failed to compile leaves its claims "no result"; one cut by
// a signal while compiling, "interrupted".
func TestUnrunSuitesClaimsSayWhy(t *testing.T) {
	for reason, want := range map[string]Verdict{
		"Failed to compile docker:\n\nundefined: x":      NoResult,
		"Failed to compile docker:\n\nsignal: interrupt": Interrupted,
		"Suite Timeout Elapsed":                          Interrupted,
	} {
		rep, err := FromGinkgo([]types.Report{{SuitePath: "/m/specs/docker", SpecialSuiteFailureReasons: []string{reason}}})
		if err != nil {
			t.Fatal(err)
		}
		if res, _ := rep.For("D3", "v1"); res.Verdict != want || !strings.Contains(res.Why, "gave no verdict") {
			t.Errorf("%q: D3/v1 %q (%s), want %q", reason, res.Verdict, res.Why, want)
		}
	}
}

// A suite the run was to run but the report lacks (its test binary was
// SIGKILLed: Ginkgo then leaves it out) makes the run unfinished, and its
// claims read "interrupted", not absent; a suite present by its package
// path is not added twice.
func TestExpectSuitesAddsTheOneThatLeftNoReport(t *testing.T) {
	ran := []types.Report{{SuitePath: "/m/specs/reexec", SuiteDescription: "re-exec", SuiteSucceeded: true}}
	suites := ExpectSuites(ran, []string{"./specs/reexec", "./specs/docker", "."})
	if len(suites) != 2 || suites[1].SuitePath != "./specs/docker" {
		t.Fatalf("suites %+v", suites)
	}
	if u := Unfinished(suites); len(u) != 1 || !strings.HasPrefix(u[0], "specs/docker: Suite left no report") {
		t.Errorf("unfinished %q", u)
	}
	rep, err := FromGinkgo(suites)
	if err != nil {
		t.Fatal(err)
	}
	if res, _ := rep.For("D3", "v1"); res.Verdict != Interrupted || !strings.Contains(res.Why, "left no report") {
		t.Errorf("D3/v1 %q (%s)", res.Verdict, res.Why)
	}
	if got := ExpectSuites(ran, []string{"specs/reexec"}); len(got) != 1 {
		t.Errorf("the suite that reported was added again: %+v", got)
	}
}

// A suite whose BeforeSuite failed decided none of its claims: they read
// "no result" naming the failure, never "skipped: not selected", and the
// run is unfinished; a BeforeSuite cut by an interrupt reads "interrupted".
func TestASuiteWhoseSetupFailedHasNoResult(t *testing.T) {
	skipped := types.SpecReport{LeafNodeType: types.NodeTypeIt, LeafNodeText: "D3 v1",
		LeafNodeLabels: []string{ClaimLabel("D3"), ModeLabel("v1")}, State: types.SpecStateSkipped}
	setup := func(state types.SpecState, msg string) types.SpecReport {
		return types.SpecReport{LeafNodeType: types.NodeTypeBeforeSuite, State: state, Failure: types.Failure{Message: msg}}
	}
	failed := types.Report{SuiteDescription: "docker", SpecReports: []types.SpecReport{
		setup(types.SpecStateFailed, "the lab image cannot be built: AppArmor enabled on system\nmore"), skipped}}
	if u := Unfinished([]types.Report{failed}); len(u) != 1 || u[0] != "docker: [BeforeSuite] failed: the lab image cannot be built: AppArmor enabled on system" {
		t.Errorf("unfinished %q", u)
	}
	rep, err := FromGinkgo([]types.Report{failed})
	if err != nil {
		t.Fatal(err)
	}
	if res, _ := rep.For("D3", "v1"); res.Verdict != NoResult || !strings.Contains(res.Why, "AppArmor") {
		t.Errorf("D3/v1 %q (%s)", res.Verdict, res.Why)
	}
	cut := types.Report{SuiteDescription: "docker", SpecialSuiteFailureReasons: []string{"Interrupted by User"},
		SpecReports: []types.SpecReport{setup(types.SpecStateInterrupted, "Interrupted by User"), skipped}}
	if rep, err = FromGinkgo([]types.Report{cut}); err != nil {
		t.Fatal(err)
	}
	if res, _ := rep.For("D3", "v1"); res.Verdict != Interrupted {
		t.Errorf("D3/v1 after an interrupt in BeforeSuite: %q (%s)", res.Verdict, res.Why)
	}
}
