package matrix

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/memlab/memlab/labs/inputfile"
	"github.com/memlab/memlab/labs/report/atomicfile"
	"github.com/memlab/memlab/labs/report/ledger"
)

// ErrRegression: some cell's verdict differs from the baseline.
var ErrRegression = errors.New("the matrix changed from its baseline")

// ErrBadBaseline: the baseline cannot be compared with: missing,
// unreadable, of nothing, or holding a word that is no verdict; or no cell
// of the run is in it. A check against it would pass on nothing.
var ErrBadBaseline = errors.New("bad baseline")

// ErrBaselineOut: the file --write-baseline names cannot be written.
// Found before anything boots: a run must not end with nowhere to put it.
var ErrBaselineOut = errors.New("cannot write the baseline")

// checkWriteBaseline says whether a baseline can be written to path
// ("": none asked for), without making its directory.
func checkWriteBaseline(path string) error {
	if path == "" {
		return nil
	}
	if err := atomicfile.Writable(path); err != nil {
		return fmt.Errorf("%w: --write-baseline %s: %w", ErrBaselineOut, path, err)
	}
	return nil
}

// baselineVerdicts are the words a baseline may hold: what a recorded run
// can give a claim. "no result" is not among them: such a run is never
// recorded.
var baselineVerdicts = map[string]bool{
	string(ledger.Holds): true, string(ledger.Corrected): true,
	string(ledger.Skipped): true, string(ledger.Failed): true, NotRun: true,
}

// Baseline is the verdict grid a real run recorded: cell ID → claim ID →
// verdict. Only verdicts are kept, so figures that vary from run to run do
// not make a change.
type Baseline struct {
	Note      string                       `json:"note"`
	Generated time.Time                    `json:"generated"`
	Kernels   map[string]string            `json:"kernels"` // name → release it ran
	Cells     map[string]map[string]string `json:"cells"`
}

// Baseline is this run's verdict grid.
func (m Matrix) Baseline() Baseline {
	b := Baseline{
		Note:      "written by `make matrix-baseline` from a real run; `make matrix` fails when a verdict changes",
		Generated: m.Generated, Kernels: map[string]string{}, Cells: map[string]map[string]string{},
	}
	for _, c := range m.Cells {
		if c.KernelAbsent || c.Status == NoResult {
			continue // no verdict about the kernel: Compare counts the cell as not run
		}
		b.Kernels[c.Kernel] = c.Release
		row := map[string]string{}
		for _, claim := range ledger.Claims {
			row[claim.ID] = c.Verdict(claim.ID)
		}
		b.Cells[c.ID] = row
	}
	return b
}

// Change is one verdict that differs from the baseline.
type Change struct {
	Cell  string `json:"cell"`
	Claim string `json:"claim"`
	Was   string `json:"was"`
	Now   string `json:"now"`
}

func (c Change) String() string {
	return fmt.Sprintf("%s %s: %s → %s", c.Cell, c.Claim, c.Was, c.Now)
}

// Compare lists the verdicts of cur that differ from base, cell by cell in
// base's order then claim by claim in ledger order. Cells only one side has
// are not compared: unseen lists base's cells cur did not run, fresh cur's
// cells base does not know.
func Compare(base, cur Baseline) (changes []Change, unseen, fresh []string) {
	for _, id := range sortedCells(base.Cells) {
		now, ok := cur.Cells[id]
		if !ok {
			unseen = append(unseen, id)
			continue
		}
		was := base.Cells[id]
		claims := map[string]bool{}
		for k := range was {
			claims[k] = true
		}
		for k := range now {
			claims[k] = true
		}
		var ids []string
		for k := range claims {
			ids = append(ids, k)
		}
		sort.Slice(ids, func(i, j int) bool {
			if ledger.Order(ids[i]) != ledger.Order(ids[j]) {
				return ledger.Order(ids[i]) < ledger.Order(ids[j])
			}
			return ids[i] < ids[j]
		})
		for _, claim := range ids {
			w, n := orNotRun(was[claim]), orNotRun(now[claim])
			if w != n {
				changes = append(changes, Change{Cell: id, Claim: claim, Was: w, Now: n})
			}
		}
	}
	for _, id := range sortedCells(cur.Cells) {
		if _, ok := base.Cells[id]; !ok {
			fresh = append(fresh, id)
		}
	}
	return changes, unseen, fresh
}

func orNotRun(v string) string {
	if v == "" {
		return NotRun
	}
	return v
}

// sortedCells orders cell IDs by kernel name then mode.
func sortedCells(cells map[string]map[string]string) []string {
	var ids []string
	for id := range cells {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// ChangedCells names the cells with at least one change, in order.
func ChangedCells(changes []Change) []string {
	var out []string
	seen := map[string]bool{}
	for _, c := range changes {
		if !seen[c.Cell] {
			seen[c.Cell] = true
			out = append(out, c.Cell)
		}
	}
	return out
}

// RegressionError is ErrRegression naming the changed cells.
func RegressionError(changes []Change) error {
	if len(changes) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %d verdict(s) in cell(s) %s", ErrRegression, len(changes),
		strings.Join(ChangedCells(changes), ", "))
}

// maxBaseline bounds what LoadBaseline reads: a real one is a few KiB.
const maxBaseline = 16 << 20

// LoadBaseline reads a baseline file; every failure is ErrBadBaseline.
func LoadBaseline(path string) (Baseline, error) {
	data, err := inputfile.Read(path, maxBaseline)
	if err != nil {
		return Baseline{}, fmt.Errorf("%w: %w", ErrBadBaseline, err)
	}
	return ParseBaseline(path, data)
}

// ParseBaseline reads a baseline; name says where it came from, in
// errors. It refuses one a check would pass on without checking anything:
// no cells, a cell with no verdict, a claim the ledger does not know, or a
// word that is no verdict.
func ParseBaseline(name string, data []byte) (Baseline, error) {
	var b Baseline
	bad := func(format string, a ...any) (Baseline, error) {
		return Baseline{}, fmt.Errorf("%w: %s: %s", ErrBadBaseline, name, fmt.Sprintf(format, a...))
	}
	if err := json.Unmarshal(data, &b); err != nil {
		return bad("%v", err)
	}
	if len(b.Cells) == 0 {
		return bad("no cells")
	}
	for _, id := range sortedCells(b.Cells) {
		verdicts := 0
		for claim, v := range b.Cells[id] {
			if _, err := ledger.Lookup(claim); err != nil {
				return bad("cell %s: %v", id, err)
			}
			if !baselineVerdicts[v] {
				return bad("cell %s, claim %s: %q is not a verdict (want holds, corrected, skipped, failed or -)", id, claim, v)
			}
			if v != NotRun {
				verdicts++
			}
		}
		if verdicts == 0 {
			return bad("cell %s records no verdict", id)
		}
	}
	return b, nil
}

// WriteBaseline writes the run's grid as a baseline. It refuses a run with
// a cell that produced no result or whose kernel image is absent: a
// baseline records the kernels, not a harness failure or a missing file.
func (m Matrix) WriteBaseline(path string) error {
	var bad, absent []string
	for _, c := range m.Cells {
		switch {
		case c.Status == NoResult:
			bad = append(bad, c.ID)
		case c.KernelAbsent:
			absent = append(absent, c.ID)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("not writing %s: cell(s) %s produced no result", path, strings.Join(bad, ", "))
	}
	if len(absent) > 0 {
		return fmt.Errorf("not writing %s: cell(s) %s have no kernel image here", path, strings.Join(absent, ", "))
	}
	js, err := json.MarshalIndent(m.Baseline(), "", "  ")
	if err != nil {
		return err
	}
	// What is recorded must read back: a run of nothing is no baseline.
	if _, err := ParseBaseline(path, js); err != nil {
		return fmt.Errorf("not writing %s: %w", path, err)
	}
	return atomicfile.WriteFile(path, append(js, '\n'), 0o644)
}
