// Package htmlreport writes memlab's report as one self-contained HTML
// page (reports/index.html): the claim table with the article's figures
// beside the observed ones, inline SVG charts of memory usage over time,
// and the kernel matrix when there is one. The page loads nothing: no
// scripts, no stylesheets, no fonts, no images from anywhere.
package htmlreport

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"strings"

	"github.com/memlab/memlab/labs/matrix"
	"github.com/memlab/memlab/labs/report/atomicfile"
	"github.com/memlab/memlab/labs/report/ledger"
)

// Write renders rep, and the kernel matrix when matrix (the contents of
// reports/matrix.json) is not nil, to path.
func Write(path string, rep ledger.Report, matrix []byte) error {
	var buf bytes.Buffer
	if err := Render(&buf, rep, matrix); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, buf.Bytes(), 0o644)
}

// Render writes the page to buf.
func Render(buf *bytes.Buffer, rep ledger.Report, matrix []byte) error {
	p := page{Env: rep.Env}
	if !rep.Generated.IsZero() {
		p.Generated = rep.Generated.UTC().Format("2006-01-02 15:04 MST")
	}
	counts := rep.Count()
	for _, v := range []ledger.Verdict{ledger.Holds, ledger.Corrected, ledger.Skipped, ledger.Failed, ledger.Interrupted, ledger.NoResult} {
		if counts[v] > 0 {
			p.Counts = append(p.Counts, count{Verdict: string(v), Class: verdictClass(string(v)), N: counts[v]})
		}
	}
	p.Total = len(rep.Results)
	p.CommonSkip, p.CommonSkipN = commonSkip(rep)
	prev := ""
	for _, res := range rep.Results {
		anchor := "claim-" + res.ID + "-" + res.Mode
		r := row{
			ID: res.ID, Mode: res.Mode, Claim: res.Claim, Article: res.Article, Observed: res.Observed,
			Verdict: string(res.Verdict), Class: verdictClass(string(res.Verdict)), Why: res.Why,
			Files: res.Files, Anchor: anchor, Repeat: res.ID == prev,
		}
		prev = res.ID
		if res.Verdict == ledger.Skipped && res.Why == p.CommonSkip && p.CommonSkip != "" {
			r.Why, r.Title = "", res.Why
		}
		for i, s := range res.Series {
			id := fmt.Sprintf("chart-%s-%s-%d", res.ID, res.Mode, i)
			title := fmt.Sprintf("%s (%s): %s", res.ID, res.Mode, s.Name)
			p.Charts = append(p.Charts, chart{
				ID: id, Title: title, Claim: res.Claim, Verdict: r.Verdict, Class: r.Class, Row: anchor,
				Caption: describe(s), SVG: template.HTML(chartSVG(id+"-svg", s, title)),
			})
			r.Charts = append(r.Charts, chartLink{ID: id, Name: s.Name})
		}
		p.Rows = append(p.Rows, r)
	}
	if len(p.Charts) > 0 {
		p.Interval = p.intervals(rep)
	}
	if matrix != nil {
		p.Matrix = parseMatrix(matrix)
	}
	return pageTemplate.Execute(buf, p)
}

type page struct {
	Env       ledger.Env
	Generated string
	Counts    []count
	Total     int
	Rows      []row
	Charts    []chart
	Interval  string
	Matrix    *matrixView
	// CommonSkip is a skip reason shared by many results (v2 claims on a
	// v1 machine): said once above the table instead of in every row.
	CommonSkip  string
	CommonSkipN int
}

type count struct {
	Verdict, Class string
	N              int
}

type row struct {
	ID, Mode, Claim, Article string
	Observed                 []ledger.Figure
	Verdict, Class, Why      string
	Files                    []string
	Anchor                   string
	Charts                   []chartLink
	Repeat                   bool   // same claim as the row above (another cgroup mode)
	Title                    string // the verdict's reason, when it is CommonSkip
}

type chartLink struct{ ID, Name string }

type chart struct {
	ID, Title, Claim, Verdict, Class, Row, Caption string
	SVG                                            template.HTML
}

// commonSkip is the skip reason at least three results share, if any.
func commonSkip(rep ledger.Report) (string, int) {
	n := map[string]int{}
	best := ""
	for _, res := range rep.Results {
		if res.Verdict == ledger.Skipped && res.Why != "" {
			n[res.Why]++
			if n[res.Why] > n[best] {
				best = res.Why
			}
		}
	}
	if n[best] < 3 {
		return "", 0
	}
	return best, n[best]
}

// intervals states the sampling interval(s) the charts were drawn from.
func (p page) intervals(rep ledger.Report) string {
	seen := map[int64]bool{}
	var parts []string
	for _, res := range rep.Results {
		for _, s := range res.Series {
			if !seen[s.IntervalMS] {
				seen[s.IntervalMS] = true
				parts = append(parts, fmt.Sprintf("%d ms", s.IntervalMS))
			}
		}
	}
	return strings.Join(parts, ", ")
}

func verdictClass(v string) string {
	switch v {
	case "holds", "corrected", "skipped", "failed":
		return "v-" + v
	case "-", "":
		return "v-notrun"
	}
	return "v-noresult"
}

// ---------------------------------------------------------------- matrix

// matrixView is reports/matrix.json (labs/matrix) as the page shows it:
// claims down, cells (kernel × cgroup mode) across.
type matrixView struct {
	Generated string
	Accel     string
	Columns   []matrixColumn
	Rows      []matrixRow
	Changes   []string
	Raw       string // a matrix.json this page cannot read as a table, pretty-printed
	Problem   string
}

type matrixColumn struct{ ID, Release, Mode, Status, Reason string }

type matrixRow struct {
	ID, Claim string
	Cells     []matrixCell
}

type matrixCell struct{ Verdict, Class string }

func parseMatrix(data []byte) *matrixView {
	var doc matrix.Document
	m := &matrixView{}
	if err := json.Unmarshal(data, &doc); err != nil || len(doc.Table.Columns) == 0 {
		var any any
		if json.Unmarshal(data, &any) != nil {
			m.Problem = "reports/matrix.json is not JSON"
			return m
		}
		pretty, _ := json.MarshalIndent(any, "", "  ")
		m.Problem = "reports/matrix.json has no claims × cells table this page knows; here it is as written"
		m.Raw = string(pretty)
		return m
	}
	if !doc.Generated.IsZero() {
		m.Generated = doc.Generated.UTC().Format("2006-01-02 15:04 MST")
	}
	m.Accel = doc.Accel
	cells := map[string]int{}
	for i, c := range doc.Cells {
		cells[c.ID] = i
	}
	for _, id := range doc.Table.Columns {
		col := matrixColumn{ID: id}
		if i, ok := cells[id]; ok {
			c := doc.Cells[i]
			col.Release, col.Mode, col.Status, col.Reason = c.Release, c.Mode, c.Status, c.Reason
		}
		m.Columns = append(m.Columns, col)
	}
	for _, r := range doc.Table.Rows {
		mr := matrixRow{ID: r.ID, Claim: r.Claim}
		for i := range doc.Table.Columns {
			v := "-"
			if i < len(r.Verdicts) {
				v = r.Verdicts[i]
			}
			mr.Cells = append(mr.Cells, matrixCell{Verdict: v, Class: verdictClass(v)})
		}
		m.Rows = append(m.Rows, mr)
	}
	for _, c := range doc.Changes {
		m.Changes = append(m.Changes, c.String())
	}
	return m
}
