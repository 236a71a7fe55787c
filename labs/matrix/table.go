package matrix

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/memlab/memlab/labs/report/atomicfile"
	"github.com/memlab/memlab/labs/report/ledger"
)

// NotRun marks a claim a cell's suites did not touch in that cell's mode.
const NotRun = "-"

// Table is the matrix as a reader sees it: claims down, cells across.
type Table struct {
	Columns []string `json:"columns"` // cell IDs, plan order
	Rows    []Row    `json:"rows"`    // ledger order
}

// Row is one claim's verdict in every cell.
type Row struct {
	ID       string   `json:"id"`
	Claim    string   `json:"claim"`
	Verdicts []string `json:"verdicts"` // one per column
}

// Verdict is a claim's verdict in a cell: the result filed under the
// cell's mode, else the one filed under "any", else NotRun.
func (r CellResult) Verdict(claimID string) string {
	if res, ok := r.result(claimID); ok {
		return string(res.Verdict)
	}
	return NotRun
}

// result is the ledger result behind Verdict, for the reasons under the table.
func (r CellResult) result(claimID string) (ledger.Result, bool) {
	return r.Report.For(claimID, r.Mode)
}

// Table builds the verdict grid: every ledger claim, every cell.
func (m Matrix) Table() Table {
	var t Table
	for _, c := range m.Cells {
		t.Columns = append(t.Columns, c.ID)
	}
	for _, claim := range ledger.Claims {
		row := Row{ID: claim.ID, Claim: claim.Statement}
		for _, c := range m.Cells {
			row.Verdicts = append(row.Verdicts, c.Verdict(claim.ID))
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// WriteText prints the grid, each cell's status and timing, and the reason
// behind every verdict that is not "holds".
func (m Matrix) WriteText(w io.Writer) {
	t := m.Table()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "CLAIM")
	for _, c := range t.Columns {
		fmt.Fprint(tw, "\t", c)
	}
	fmt.Fprintln(tw)
	for _, row := range t.Rows {
		fmt.Fprint(tw, row.ID)
		for _, v := range row.Verdicts {
			fmt.Fprint(tw, "\t", v)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	if m.booted() {
		fmt.Fprintf(w, "\ncells (%s, %d at a time, %.1fs wall in all):\n", m.Accel, m.Jobs, m.WallSeconds)
	} else {
		fmt.Fprintln(w, "\ncells:")
	}
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range m.Cells {
		fmt.Fprintf(tw, "  %s\t%s\t%s", c.ID, orNotRun(c.Release), c.Status)
		if m.booted() {
			fmt.Fprintf(tw, "\t%.1fs wall\tboot %.1fs\t%s", c.WallSeconds, c.BootSeconds, suiteTimes(c))
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	for _, c := range m.Cells {
		for _, line := range cellNotes(c) {
			fmt.Fprintf(w, "  %s: %s\n", c.ID, line)
		}
		if c.Status == NoResult && c.ConsoleTail != "" {
			fmt.Fprintf(w, "  %s console tail:\n", c.ID)
			for l := range strings.SplitSeq(c.ConsoleTail, "\n") {
				fmt.Fprintf(w, "    | %s\n", l)
			}
		}
	}
}

func suiteTimes(c CellResult) string {
	var parts []string
	for _, s := range c.Suites {
		p := fmt.Sprintf("%s %.1fs", s.Name, s.Seconds)
		if s.Exit != 0 {
			p += fmt.Sprintf(" (exit %d)", s.Exit)
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ", ")
}

// cellNotes are the lines under the table for one cell: its status reason,
// config findings, and each non-holding claim's reason.
func cellNotes(c CellResult) []string {
	var out []string
	if c.Reason != "" {
		out = append(out, c.Status+": "+c.Reason)
	}
	if c.Engine != "" {
		out = append(out, "engine: "+c.Engine)
	}
	for _, f := range c.Config {
		out = append(out, "config: "+f.String())
	}
	if c.Status != Ran {
		return out
	}
	for _, claim := range ledger.Claims {
		res, ok := c.result(claim.ID)
		if !ok || res.Verdict == ledger.Holds || res.Why == "" {
			continue
		}
		out = append(out, fmt.Sprintf("%s %s: %s", claim.ID, res.Verdict, res.Why))
	}
	return out
}

// WriteMarkdown writes the grid and the notes as Markdown.
func (m Matrix) WriteMarkdown(w io.Writer) {
	t := m.Table()
	fmt.Fprintf(w, "# memlab %s\n\n- generated: %s\n", m.title(), m.Generated.Format("2006-01-02 15:04:05 MST"))
	if m.booted() {
		fmt.Fprintf(w, "- accelerator: %s, %d guests at a time, %.1f s wall\n", m.Accel, m.Jobs, m.WallSeconds)
	}
	fmt.Fprintln(w)
	fmt.Fprint(w, "| claim |")
	for _, c := range t.Columns {
		fmt.Fprintf(w, " %s |", c)
	}
	fmt.Fprint(w, "\n|---|")
	for range t.Columns {
		fmt.Fprint(w, "---|")
	}
	fmt.Fprintln(w)
	for _, row := range t.Rows {
		fmt.Fprintf(w, "| **%s** %s |", row.ID, md(row.Claim))
		for _, v := range row.Verdicts {
			fmt.Fprintf(w, " %s |", v)
		}
		fmt.Fprintln(w)
	}
	if m.booted() {
		fmt.Fprintln(w, "\n## Cells\n\n| cell | kernel | status | wall | boot | suites |\n|---|---|---|---|---|---|")
	} else {
		fmt.Fprintln(w, "\n## Cells\n\n| cell | kernel | status | report |\n|---|---|---|---|")
	}
	for _, c := range m.Cells {
		if m.booted() {
			fmt.Fprintf(w, "| %s | `%s` | %s | %.1f s | %.1f s | %s |\n", c.ID, c.Release, c.Status,
				c.WallSeconds, c.BootSeconds, md(suiteTimes(c)))
		} else {
			fmt.Fprintf(w, "| %s | `%s` | %s | %s |\n", c.ID, orNotRun(c.Release), c.Status, md(c.Source))
		}
	}
	fmt.Fprintln(w)
	for _, c := range m.Cells {
		notes := cellNotes(c)
		if len(notes) == 0 && c.ConsoleTail == "" {
			continue
		}
		fmt.Fprintf(w, "### %s\n\n", c.ID)
		for _, n := range notes {
			fmt.Fprintf(w, "- %s\n", md(n))
		}
		if c.Status == NoResult && c.ConsoleTail != "" {
			fmt.Fprintf(w, "\nconsole tail:\n\n```\n%s\n```\n", c.ConsoleTail)
		}
		fmt.Fprintln(w)
	}
}

func md(s string) string { return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s) }

// Document is what matrix.json holds: the run, its verdict grid, and the
// verdicts that changed from the baseline.
type Document struct {
	Matrix
	Table   Table    `json:"table"`
	Changes []Change `json:"changes_from_baseline,omitempty"`
}

// WriteFiles writes matrix.json and matrix.md into dir.
func (m Matrix) WriteFiles(dir string, changes []Change) error {
	return m.WriteFilesAs(dir, "matrix", changes)
}

// WriteFilesAs writes STEM.json and STEM.md into dir, each atomically.
func (m Matrix) WriteFilesAs(dir, stem string, changes []Change) error {
	doc := Document{m, m.Table(), changes}
	js, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, stem+".json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	var b strings.Builder
	m.WriteMarkdown(&b)
	if len(changes) > 0 {
		b.WriteString("## Changes from the baseline\n\n")
		for _, c := range changes {
			fmt.Fprintf(&b, "- %s\n", c)
		}
	}
	return atomicfile.WriteFile(filepath.Join(dir, stem+".md"), []byte(b.String()), 0o644)
}
