package matrix

import (
	"errors"
	"os"
	"sort"
	"time"

	"github.com/memlab/memlab/labs/report/ledger"
)

// ErrNoReport: a machine's claims report is missing or unreadable.
var ErrNoReport = errors.New("no claims report")

// MachineReport is one machine's claims.json, under the name its columns take.
type MachineReport struct {
	Name string // a VM: xenial, jammy...; no "/" or space
	Path string
}

// FromReports reads every machine's report into the cells of one matrix.
func FromReports(reports []MachineReport, now time.Time) Matrix {
	m := Matrix{Title: "VM matrix", Generated: now.UTC()}
	for _, r := range reports {
		m.Cells = append(m.Cells, CellsFromReport(r.Name, r.Path)...)
	}
	return m
}

// CellsFromReport makes the cells of a machine that ran the labs itself
// (a Vagrant VM) from its claims.json: one cell for the cgroup mode its
// memory controller is on, and one for any other mode in which a claim did
// more than skip. A report that cannot be read is one "no result" cell.
func CellsFromReport(name, path string) []CellResult {
	r, err := ledger.LoadReport(path)
	if err != nil {
		why := err.Error()
		if errors.Is(err, os.ErrNotExist) {
			why = "no report at " + path + " (did the labs run there?)"
		}
		c := CellResult{ID: name + "/?", Kernel: name, Source: path, Mode: "?", Status: NoResult, Reason: why}
		c.Report = everyClaim(c, ledger.NoResult, why)
		return []CellResult{c}
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
	var cells []CellResult
	for _, mode := range order {
		cells = append(cells, CellResult{ID: name + "/" + mode, Kernel: name, Release: r.Env.Kernel,
			Source: path, Mode: mode, Status: Ran, Report: r})
	}
	return cells
}

// booted says whether the cells came from qemu guests, with an
// accelerator, boot and wall times to show.
func (m Matrix) booted() bool { return m.Accel != "" }

func (m Matrix) title() string {
	if m.Title == "" {
		return "kernel matrix"
	}
	return m.Title
}
