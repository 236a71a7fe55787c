package matrix

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
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

// MergeConfig is a run of `memlab vm-matrix`.
type MergeConfig struct {
	Reports []MachineReport
	Out     string    // vm-matrix.md and vm-matrix.json go here
	Stdout  io.Writer // the table; default io.Discard
	Now     time.Time // the matrix's date; default now
}

// Merge tabulates the claims reports of machines that ran the labs
// themselves (the student VMs): claims down, one column per machine and
// cgroup mode across, in the same table and files as the kernel matrix. It
// prints the table and writes Out/vm-matrix.{md,json}; a missing or
// unreadable report still gets its column of "no result", and makes the
// error ErrNoReport naming the machine.
func Merge(cfg MergeConfig) (Matrix, error) {
	out := cfg.Stdout
	if out == nil {
		out = io.Discard
	}
	if cfg.Now.IsZero() {
		cfg.Now = time.Now()
	}
	m := FromReports(cfg.Reports, cfg.Now)
	m.WriteText(out)
	if err := m.WriteFilesAs(cfg.Out, "vm-matrix", nil); err != nil {
		return m, err
	}
	fmt.Fprintf(out, "\nreports: %s %s\n", filepath.Join(cfg.Out, "vm-matrix.md"), filepath.Join(cfg.Out, "vm-matrix.json"))
	var missing []string
	for _, c := range m.Cells {
		if c.Status == NoResult {
			missing = append(missing, c.Kernel)
		}
	}
	if len(missing) > 0 {
		return m, fmt.Errorf("%w from %s", ErrNoReport, strings.Join(missing, ", "))
	}
	return m, nil
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
