// Command vmmatrix tabulates the claims reports of several VMs (make
// vm-matrix): claims down, one column per (VM, cgroup mode) across, in the
// shape of the qemu kernel matrix (make matrix).
//
//	vmmatrix [-out DIR] NAME=path/to/claims.json ...
//
// It prints the table, then writes DIR/vm-matrix.md and DIR/vm-matrix.json
// (default DIR: reports). A VM's columns are the cgroup mode its memory
// controller is on, plus any other mode in which a claim did more than skip.
// A report that is missing or unreadable gives its VM one column of
// "no result" and exit status 1; usage errors exit 2.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/memlab/memlab/labs/ledger"
)

// NotRun marks a claim a VM's report has no result for in that mode.
const NotRun = "-"

// Cell statuses.
const (
	Ran      = "ran"
	NoResult = "no result"
)

// Cell is one column: a VM's report read in one cgroup mode.
type Cell struct {
	ID     string        `json:"id"` // "xenial/v1"
	VM     string        `json:"vm"`
	Mode   string        `json:"cgroup_mode"`
	Status string        `json:"status"`
	Reason string        `json:"reason,omitempty"`
	Path   string        `json:"report"`
	Env    ledger.Env    `json:"environment"`
	Report ledger.Report `json:"-"`
}

// Table is the grid: the same JSON shape as the qemu matrix's table.
type Table struct {
	Columns []string `json:"columns"`
	Rows    []Row    `json:"rows"`
}

// Row is one claim's verdict in every column.
type Row struct {
	ID       string   `json:"id"`
	Claim    string   `json:"claim"`
	Verdicts []string `json:"verdicts"`
}

// Matrix is the whole document written to vm-matrix.json.
type Matrix struct {
	Generated time.Time `json:"generated"`
	Cells     []Cell    `json:"cells"`
	Table     Table     `json:"table"`
}

var errUsage = errors.New("usage: vmmatrix [-out DIR] NAME=path/to/claims.json ...")

func main() {
	err := run(os.Args[1:], os.Stdout)
	switch {
	case err == nil:
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "vmmatrix:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "vmmatrix:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("vmmatrix", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	out := fs.String("out", "reports", "directory for vm-matrix.md and vm-matrix.json")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w (%v)", errUsage, err)
	}
	if fs.NArg() == 0 {
		return errUsage
	}
	var inputs [][2]string
	seen := map[string]bool{}
	for _, a := range fs.Args() {
		name, path, ok := strings.Cut(a, "=")
		if !ok || name == "" || path == "" || strings.ContainsAny(name, "/ ") {
			return fmt.Errorf("%w: bad argument %q", errUsage, a)
		}
		if seen[name] {
			return fmt.Errorf("%w: VM %q named twice", errUsage, name)
		}
		seen[name] = true
		inputs = append(inputs, [2]string{name, path})
	}
	m := Build(inputs, time.Now())
	m.WriteText(stdout)
	if err := m.WriteFiles(*out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nreports: %s %s\n", filepath.Join(*out, "vm-matrix.md"), filepath.Join(*out, "vm-matrix.json"))
	var missing []string
	for _, c := range m.Cells {
		if c.Status == NoResult {
			missing = append(missing, c.VM)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("no report from %s", strings.Join(missing, ", "))
	}
	return nil
}

// Build reads every VM's report and lays out the columns and the grid.
func Build(inputs [][2]string, now time.Time) Matrix {
	m := Matrix{Generated: now.UTC()}
	for _, in := range inputs {
		m.Cells = append(m.Cells, cellsOf(in[0], in[1])...)
	}
	for _, c := range m.Cells {
		m.Table.Columns = append(m.Table.Columns, c.ID)
	}
	for _, claim := range ledger.Claims {
		row := Row{ID: claim.ID, Claim: claim.Statement}
		for _, c := range m.Cells {
			v := NotRun
			if c.Status == NoResult {
				v = NoResult
			} else if res, ok := c.result(claim.ID); ok {
				v = string(res.Verdict)
			}
			row.Verdicts = append(row.Verdicts, v)
		}
		m.Table.Rows = append(m.Table.Rows, row)
	}
	return m
}

// cellsOf is a VM's columns: the mode its memory controller is on, and any
// other mode in which some claim did more than skip.
func cellsOf(vm, path string) []Cell {
	r, err := ledger.LoadReport(path)
	if err != nil {
		why := err.Error()
		if errors.Is(err, os.ErrNotExist) {
			why = "no report at " + path + " (did the labs run in this VM?)"
		}
		return []Cell{{ID: vm + "/?", VM: vm, Mode: "?", Status: NoResult, Reason: why, Path: path}}
	}
	modes := map[string]bool{}
	if r.Env.MemoryMode != "" {
		modes[r.Env.MemoryMode] = true
	}
	for _, res := range r.Results {
		if res.Mode != "any" && res.Verdict != ledger.Skipped {
			modes[res.Mode] = true
		}
	}
	if len(modes) == 0 { // every claim skipped and no controller: show why, once
		modes["v1"] = true
	}
	var order []string
	for mode := range modes {
		order = append(order, mode)
	}
	sort.Strings(order)
	var cells []Cell
	for _, mode := range order {
		cells = append(cells, Cell{ID: vm + "/" + mode, VM: vm, Mode: mode, Status: Ran,
			Path: path, Env: r.Env, Report: r})
	}
	return cells
}

// result is the claim's result in the cell's mode, else the one filed under
// "any" (the rule of the qemu matrix).
func (c Cell) result(id string) (ledger.Result, bool) { return c.Report.For(id, c.Mode) }

// notes are the lines under the table for one cell: why it has no result,
// or each claim's reason when it does not simply hold.
func (c Cell) notes() []string {
	if c.Status == NoResult {
		return []string{NoResult + ": " + c.Reason}
	}
	var out []string
	for _, claim := range ledger.Claims {
		res, ok := c.result(claim.ID)
		if !ok || res.Verdict == ledger.Holds || res.Why == "" {
			continue
		}
		out = append(out, fmt.Sprintf("%s %s: %s", claim.ID, res.Verdict, res.Why))
	}
	return out
}

// WriteText prints the grid, each cell's environment, and the notes.
func (m Matrix) WriteText(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "CLAIM")
	for _, c := range m.Table.Columns {
		fmt.Fprint(tw, "\t", c)
	}
	fmt.Fprintln(tw)
	for _, row := range m.Table.Rows {
		fmt.Fprint(tw, row.ID)
		for _, v := range row.Verdicts {
			fmt.Fprint(tw, "\t", v)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	fmt.Fprintln(w, "\ncells:")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range m.Cells {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", c.ID, orDash(c.Env.Kernel), orDash(c.Env.Layout), orDash(c.Env.MemoryMount))
	}
	tw.Flush()
	for _, c := range m.Cells {
		for _, n := range c.notes() {
			fmt.Fprintf(w, "  %s: %s\n", c.ID, n)
		}
	}
}

// WriteMarkdown writes the grid, a table of cells and the notes.
func (m Matrix) WriteMarkdown(w io.Writer) {
	fmt.Fprintf(w, "# memlab VM matrix\n\n- generated: %s\n- one column per VM and cgroup mode; `%s`: no result in that mode\n\n",
		m.Generated.Format("2006-01-02 15:04:05 MST"), NotRun)
	fmt.Fprint(w, "| claim |")
	for _, c := range m.Table.Columns {
		fmt.Fprintf(w, " %s |", c)
	}
	fmt.Fprint(w, "\n|---|")
	for range m.Table.Columns {
		fmt.Fprint(w, "---|")
	}
	fmt.Fprintln(w)
	for _, row := range m.Table.Rows {
		fmt.Fprintf(w, "| **%s** %s |", row.ID, md(row.Claim))
		for _, v := range row.Verdicts {
			fmt.Fprintf(w, " %s |", v)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "\n## Cells\n\n| cell | kernel | cgroup layout | memory controller | docker | status |\n|---|---|---|---|---|---|")
	for _, c := range m.Cells {
		fmt.Fprintf(w, "| %s | `%s` | %s | `%s` (%s) | %s | %s |\n", c.ID, orDash(c.Env.Kernel), orDash(c.Env.Layout),
			orDash(c.Env.MemoryMount), orDash(c.Env.MemoryMode), md(orDash(c.Env.Docker)), c.Status)
	}
	fmt.Fprintln(w)
	for _, c := range m.Cells {
		notes := c.notes()
		if len(notes) == 0 {
			continue
		}
		fmt.Fprintf(w, "### %s\n\n", c.ID)
		for _, n := range notes {
			fmt.Fprintf(w, "- %s\n", md(n))
		}
		fmt.Fprintln(w)
	}
}

// WriteFiles writes vm-matrix.md and vm-matrix.json into dir.
func (m Matrix) WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "vm-matrix.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	var b strings.Builder
	m.WriteMarkdown(&b)
	return os.WriteFile(filepath.Join(dir, "vm-matrix.md"), []byte(b.String()), 0o644)
}

func orDash(s string) string {
	if s == "" {
		return NotRun
	}
	return s
}

func md(s string) string { return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s) }
