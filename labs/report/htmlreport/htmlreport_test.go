package htmlreport

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/memlab/memlab/labs/report/ledger"
)

func fixture(t *testing.T) (ledger.Report, []byte) {
	t.Helper()
	rep, err := ledger.LoadReport("testdata/claims.json")
	if err != nil {
		t.Fatal(err)
	}
	matrix, err := os.ReadFile("testdata/matrix.json")
	if err != nil {
		t.Fatal(err)
	}
	return rep, matrix
}

// seriesIn counts the fixture's series, and those with an OOM kill.
func seriesIn(rep ledger.Report) (all, oom int) {
	for _, r := range rep.Results {
		for _, s := range r.Series {
			all++
			if s.OOMKillAtMS >= 0 {
				oom++
			}
		}
	}
	return all, oom
}

// expectedElements is how often each element must appear on the page made
// from rep and the fixture matrix: a claim row per result, a chart with its
// usage line and limit line per series, an OOM marker per series that saw a
// kill, and a matrix row per row of the fixture matrix's table (the
// fixture's, not the ledger's: a claim added to the ledger is not in it).
func expectedElements(t *testing.T, rep ledger.Report, matrix []byte) map[string]int {
	t.Helper()
	series, oom := seriesIn(rep)
	var doc struct {
		Table struct {
			Rows []json.RawMessage `json:"rows"`
		} `json:"table"`
	}
	if err := json.Unmarshal(matrix, &doc); err != nil || len(doc.Table.Rows) == 0 {
		t.Fatalf("the fixture matrix has no table rows (%v): else counting them proves nothing", err)
	}
	return map[string]int{
		`<tr class="claim`:        len(rep.Results),
		`<svg class="chart"`:      series,
		`<polyline class="usage"`: series,
		`<line class="limit"`:     series,
		`<g class="oom">`:         oom,
		`<tr class="mrow"`:        len(doc.Table.Rows),
	}
}

func render(t *testing.T, rep ledger.Report, matrix []byte) string {
	t.Helper()
	var buf bytes.Buffer
	if err := Render(&buf, rep, matrix); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestEveryResultAndSeriesIsOnThePage(t *testing.T) {
	rep, matrix := fixture(t)
	page := render(t, rep, matrix)
	series, oom := seriesIn(rep)
	if series == 0 || oom == 0 {
		t.Fatalf("the fixture must chart a series and an OOM kill (has %d series, %d kills): else counting them proves nothing", series, oom)
	}
	want := expectedElements(t, rep, matrix)
	want[`>time since the workload`] = series // axis labels, as the page's source spells them
	for what, want := range want {
		if got := strings.Count(page, what); got != want {
			t.Errorf("%d × %s, want %d", got, what, want)
		}
	}
	for _, want := range []string{"read every 5 ms", "(MiB)", "limit 100 MiB", "OOM kill at", rep.Env.Kernel, "trixie-v2 G5: holds → corrected"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page does not say %q", want)
		}
	}
}

// One self-contained file: nothing is fetched, nothing runs.
func TestThePageLoadsNothing(t *testing.T) {
	rep, matrix := fixture(t)
	page := render(t, rep, matrix)
	for _, bad := range []string{"<script", "<link", " src=", "@import", "url(", "http://", "https://", "<iframe", "<img"} {
		if strings.Contains(page, bad) {
			t.Errorf("the page contains %q", bad)
		}
	}
	if !strings.Contains(page, `default-src 'none'`) {
		t.Error("no Content-Security-Policy forbidding loads")
	}
}

func TestTextIsEscaped(t *testing.T) {
	rep := ledger.Report{Results: []ledger.Result{{
		ID: "G1", Mode: "v1", Claim: "a <claim>", Verdict: ledger.Corrected, Why: `<script>alert(1)</script>`,
		Observed: []ledger.Figure{{Name: "x&y", Value: `"v"`}},
		Series:   []ledger.Series{{Name: "<s>", File: "memory.current", IntervalMS: 5, Limit: 1 << 20, OOMKillAtMS: -1, Points: []ledger.Point{{AtMS: 0, Bytes: 1}}}},
	}}}
	page := render(t, rep, nil)
	if strings.Contains(page, "<script>") || strings.Contains(page, "<s>") || strings.Contains(page, "a <claim>") {
		t.Error("text reached the page unescaped")
	}
	if strings.Contains(page, `id="matrix"`) {
		t.Error("a matrix section without a matrix")
	}
	if !strings.Contains(page, "no OOM kill") {
		t.Error("a series without a kill should say so")
	}
}

func TestAMatrixOfAnotherShapeIsShownAsIs(t *testing.T) {
	page := render(t, ledger.Report{}, []byte(`{"cells": [{"id": "x"}], "grid": {"G1": ["holds"]}}`))
	if !strings.Contains(page, "as written") || !strings.Contains(page, "&#34;grid&#34;") {
		t.Error("an unknown matrix.json should be shown pretty-printed")
	}
	page = render(t, ledger.Report{}, []byte(`not json`))
	if !strings.Contains(page, "is not JSON") {
		t.Error("a broken matrix.json should be named")
	}
}

func TestNiceTicks(t *testing.T) {
	for _, c := range []struct {
		hi   float64
		n    int
		end  float64
		step float64
	}{{108, 6, 120, 20}, {95, 8, 100, 20}, {128, 8, 140, 20}, {1, 8, 1, 0.2}, {5000, 8, 5000, 1000}} {
		ticks, end := niceTicks(c.hi, c.n)
		if end != c.end || len(ticks) < 2 || ticks[1]-ticks[0] != c.step || ticks[len(ticks)-1] < c.hi {
			t.Errorf("niceTicks(%v, %d) = %v, %v; want end %v step %v", c.hi, c.n, ticks, end, c.end, c.step)
		}
	}
}

func TestWriteReplacesTheFileWhole(t *testing.T) {
	rep, _ := fixture(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "reports", "index.html")
	for range 2 {
		if err := Write(path, rep, nil); err != nil {
			t.Fatal(err)
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 || entries[0].Name() != "index.html" {
		t.Errorf("left %v beside the report", entries)
	}
}
