package ledger

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/types"
)

func entry(name string, v any) types.ReportEntry {
	return types.ReportEntry{Name: name, Value: types.WrapEntryValue(v)}
}

func spec(text string, labels []string, state types.SpecState, msg string, entries ...types.ReportEntry) types.SpecReport {
	return types.SpecReport{
		LeafNodeType: types.NodeTypeIt, LeafNodeText: text, LeafNodeLabels: labels,
		State: state, Failure: types.Failure{Message: msg}, ReportEntries: entries,
	}
}

// suite is a report as Ginkgo writes it, round-tripped through JSON the way
// `memlab report` and the kernel matrix read it.
func suite(t *testing.T) []types.Report {
	env := types.SpecReport{LeafNodeType: types.NodeTypeBeforeSuite,
		ReportEntries: types.ReportEntries{entry(EntryEnv, Env{Kernel: "6.1.0-test", Layout: "unified", MemoryMode: "v2"})}}
	in := []types.Report{{SpecReports: types.SpecReports{
		env,
		spec("100m reads back (cgroup v1)", []string{"claim:G1", "cgroup:v1"}, types.SpecStatePassed, "",
			entry(EntryFigure, Figure{Name: "read back", Value: "104857600", File: "memory.limit_in_bytes"}),
			entry(EntryVerdict, VerdictEntry{Verdict: Holds})),
		spec("100m reads back (cgroup v2)", []string{"claim:G1", "cgroup:v2"}, types.SpecStateSkipped, "memory is on v1 here\nmore"),
		spec("who dies", []string{"claim:G7", "cgroup:v2"}, types.SpecStatePassed, "", entry(EntryVerdict, VerdictEntry{Verdict: Corrected, Why: "one victim"})),
		spec("oom.group", []string{"claim:G7", "cgroup:v2"}, types.SpecStatePassed, "", entry(EntryVerdict, VerdictEntry{Verdict: Holds})),
		spec("keeps running", []string{"claim:G5", "cgroup:v1"}, types.SpecStateFailed, "Expected 1 to be zero"),
		spec("no verdict filed", []string{"claim:G6", "cgroup:v1"}, types.SpecStatePassed, ""),
		// The name is not where a claim is read from: this is no claim spec.
		spec("G2: a helper's own test", nil, types.SpecStatePassed, ""),
	}}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out []types.Report
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestFromGinkgo(t *testing.T) {
	rep, err := FromGinkgo(suite(t))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Result{}
	var order []string
	for _, r := range rep.Results {
		got[r.ID+"/"+r.Mode] = r
		order = append(order, r.ID+"/"+r.Mode)
	}
	want := map[string]Verdict{"G1/v1": Holds, "G1/v2": Skipped, "G7/v2": Corrected, "G5/v1": Failed, "G6/v1": Failed}
	if len(got) != len(want) {
		t.Fatalf("results %v, want %v", order, want)
	}
	for k, v := range want {
		if got[k].Verdict != v {
			t.Errorf("%s: verdict %s, want %s (%s)", k, got[k].Verdict, v, got[k].Why)
		}
	}
	if strings.Join(order, " ") != "G1/v1 G1/v2 G5/v1 G6/v1 G7/v2" {
		t.Errorf("order %v: want ledger order", order)
	}
	if got["G1/v2"].Why != "memory is on v1 here" {
		t.Errorf("skip reason %q", got["G1/v2"].Why)
	}
	if f := got["G1/v1"].Observed; len(f) != 1 || f[0].Value != "104857600" || got["G1/v1"].Files[0] != "memory.limit_in_bytes" {
		t.Errorf("figures %+v", got["G1/v1"])
	}
	if rep.Env.Kernel != "6.1.0-test" || got["G1/v1"].Kernel != "6.1.0-test" || got["G1/v1"].Article != "104857600" {
		t.Errorf("env %+v result %+v", rep.Env, got["G1/v1"])
	}
}

func TestFromGinkgoRefusesAnUnknownClaim(t *testing.T) {
	in := []types.Report{{SpecReports: types.SpecReports{
		spec("a claim nobody filed", []string{"claim:NOSUCH0", "cgroup:v1"}, types.SpecStatePassed, ""),
	}}}
	if _, err := FromGinkgo(in); err == nil || !strings.Contains(err.Error(), `no claim "NOSUCH0"`) {
		t.Errorf("err %v: want the unknown claim named", err)
	}
}

// IDs become labels (claim:G5) and label filters: one word, no blanks or
// the characters Ginkgo's filter language reserves.
func TestEveryClaimIsInTheLedgerOnce(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range Claims {
		if seen[c.ID] || c.ID == "" || strings.ContainsAny(c.ID, " \t&|!,()/{}:") || c.Statement == "" {
			t.Errorf("claim %q duplicated or malformed", c.ID)
		}
		seen[c.ID] = true
	}
}

func TestTableAndMarkdown(t *testing.T) {
	rep, _ := FromGinkgo(suite(t))
	var tb, md strings.Builder
	rep.WriteTable(&tb)
	rep.WriteMarkdown(&md)
	for _, want := range []string{"kernel 6.1.0-test", "G7", "corrected", "one victim", "5 results (claim x cgroup mode): 1 holds, 1 corrected, 1 skipped, 2 failed"} {
		if !strings.Contains(tb.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, tb.String())
		}
	}
	if !strings.Contains(md.String(), "| G1 | v1 |") {
		t.Errorf("markdown:\n%s", md.String())
	}
}
