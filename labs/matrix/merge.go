package matrix

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/memlab/memlab/labs/inputfile"
)

// ErrPlanMismatch: the outputs merged are not parts of one plan, or two
// of them ran the same cell.
var ErrPlanMismatch = errors.New("the outputs are not parts of one plan")

// MergeConfig is one merge: `memlab merge`, and `memlab vm-matrix`.
type MergeConfig struct {
	Runs    []string        // reports directories of matrix runs (shards): their matrix.json and matrix/CELL/
	Reports []MachineReport // claims.json of machines that ran the labs themselves (the student VMs)
	Out     string          // where the merged table goes: matrix.json and .md, or vm-matrix.* with no Runs

	Baseline      *BaselineRef // compare the merged table with it; nil: no comparison
	WriteBaseline string       // record the merged table there, when no claim failed

	Stdout io.Writer                     // the table; default io.Discard
	Log    func(format string, a ...any) // one line per call
	Now    time.Time                     // the date of a table of machines' reports only; default now
}

// run is one matrix run's output, read back.
type loadedRun struct {
	dir string
	doc Document
}

// Merge joins the outputs of matrix runs (the shards of one plan, each
// run with --shard into its own directory) and machines' claims reports
// into one table: the one an unsharded run of the same cells writes, byte
// for byte apart from the lines that say when and how fast it ran. The
// cells' console and suite reports are copied into Out/matrix/, and the
// baseline check applies to the merged table as it does to a run.
//
// A shard that is missing (the plan's cells that no run holds) fails the
// merge before anything is written, naming the shard: ErrNoReport. A
// machine's missing or unreadable report gets its column of "no result"
// and makes the error ErrNoReport naming the machine.
//
// Result.Written tells whether the merged table's files were written: they
// are on a regression, a failed claim or a missing report too.
func Merge(cfg MergeConfig) (Result, error) {
	if cfg.Stdout == nil {
		cfg.Stdout = io.Discard
	}
	if cfg.Log == nil {
		cfg.Log = func(string, ...any) {}
	}
	stem := "matrix"
	if len(cfg.Runs) == 0 {
		stem = "vm-matrix" // machines' reports only
	}
	if cfg.Now.IsZero() {
		cfg.Now = time.Now()
	}
	if len(cfg.Runs) == 0 && len(cfg.Reports) == 0 {
		return Result{}, fmt.Errorf("%w: nothing to merge", ErrPlanMismatch)
	}
	if err := checkWriteBaseline(cfg.WriteBaseline); err != nil {
		return Result{}, err
	}
	var base *Baseline
	if cfg.Baseline != nil {
		b, err := cfg.Baseline.load()
		if err != nil {
			return Result{}, err
		}
		base = &b
	}
	var runs []loadedRun
	for _, dir := range cfg.Runs {
		doc, err := loadRun(dir)
		if err != nil {
			return Result{}, err
		}
		runs = append(runs, loadedRun{dir, doc})
	}
	m, err := mergeRuns(runs)
	if err != nil {
		return Result{Matrix: m}, err
	}
	machines := FromReports(cfg.Reports, cfg.Now)
	if len(runs) == 0 {
		m = Matrix{Title: machines.Title, Generated: machines.Generated}
	}
	var missing []string
	for _, c := range machines.Cells {
		if c.Status == NoResult { // a machine's report that could not be read
			missing = append(missing, c.Kernel)
		}
	}
	m.Cells = append(m.Cells, machines.Cells...)

	res := Result{Matrix: m}
	if len(runs) > 0 {
		// The cells' console and suite reports come along, and replace
		// Out/matrix/ only once all of them are copied.
		st, err := newStage(cfg.Out, cfg.Log)
		if err != nil {
			return res, err
		}
		defer st.discard()
		if err := copyArtifacts(runs, &m, st.artifacts()); err != nil {
			return res, err
		}
		if err := st.commit(&m); err != nil {
			return res, fmt.Errorf("%w: %w", ErrReportsDir, err)
		}
		res.Matrix = m
	} else if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return res, fmt.Errorf("%w: %w", ErrReportsDir, err)
	}
	res, err = conclude(res, conclusion{
		Out: cfg.Out, Stem: stem, Baseline: base, BaselineRef: cfg.Baseline,
		WriteBaseline: cfg.WriteBaseline, Stdout: cfg.Stdout, Log: cfg.Log, Artifacts: len(runs) > 0,
	})
	if len(missing) > 0 && (err == nil || errors.Is(err, ErrClaimsFailed) || errors.Is(err, ErrNoResult)) {
		return res, fmt.Errorf("%w from %s", ErrNoReport, strings.Join(missing, ", "))
	}
	return res, err
}

// MaxMatrixJSON bounds what is read of a run's matrix.json: a real one
// is tens of KiB.
const MaxMatrixJSON = 64 << 20

// loadRun reads a matrix run's matrix.json.
func loadRun(dir string) (Document, error) {
	var doc Document
	file := filepath.Join(dir, "matrix.json")
	b, err := inputfile.Read(file, MaxMatrixJSON)
	if errors.Is(err, fs.ErrNotExist) {
		return doc, fmt.Errorf("%w: %s: no matrix.json (not the --out of a memlab matrix run?)", ErrNoReport, dir)
	}
	if err != nil {
		return doc, fmt.Errorf("%w: %w", ErrNoReport, err)
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return doc, fmt.Errorf("%w: %s: %w", ErrNoReport, file, err)
	}
	if doc.Plan == nil || len(doc.Plan.Cells) == 0 {
		return doc, fmt.Errorf("%w: %s records no plan: made by a memlab that could not shard; run it again", ErrNoReport, file)
	}
	return doc, nil
}

// mergeRuns joins the runs' cells in plan order. The runs must share one
// plan and no cell; every cell of the plan must be in one of them.
func mergeRuns(runs []loadedRun) (Matrix, error) {
	var m Matrix
	if len(runs) == 0 {
		return m, nil
	}
	plan := runs[0].doc.Plan.Cells
	byID := map[string]CellResult{}
	from := map[string]string{}
	var accels []string
	for _, r := range runs {
		d := r.doc
		if !slices.Equal(d.Plan.Cells, plan) {
			return m, fmt.Errorf("%w: %s is of the plan %s, %s of %s", ErrPlanMismatch,
				runs[0].dir, strings.Join(plan, " "), r.dir, strings.Join(d.Plan.Cells, " "))
		}
		for _, c := range d.Cells {
			if other, ok := from[c.ID]; ok {
				return m, fmt.Errorf("%w: cell %s is in both %s and %s", ErrPlanMismatch, c.ID, other, r.dir)
			}
			byID[c.ID], from[c.ID] = c, r.dir
		}
		// How the parts ran: each one's guests at once add up, the wall
		// time is the longest part's (they run side by side), the date the
		// latest.
		m.Title = d.Title
		m.Jobs += d.Jobs
		m.WallSeconds = max(m.WallSeconds, d.WallSeconds)
		if d.Generated.After(m.Generated) {
			m.Generated = d.Generated
		}
		if !slices.Contains(accels, d.Accel) {
			accels = append(accels, d.Accel)
		}
	}
	m.Accel = strings.Join(accels, "+")
	if gone := missingParts(runs, plan, byID); len(gone) > 0 {
		return m, fmt.Errorf("%w: the merge lacks %s", ErrNoReport, strings.Join(gone, "; "))
	}
	for _, id := range plan {
		m.Cells = append(m.Cells, byID[id])
	}
	m.Plan = &PlanInfo{Cells: plan}
	return m, nil
}

// missingParts names what the merge lacks: the shards (i/n) no run is of,
// else the kernels whose cells no run holds, each with its cells.
func missingParts(runs []loadedRun, plan []string, have map[string]CellResult) []string {
	var lost []string
	for _, id := range plan {
		if _, ok := have[id]; !ok {
			lost = append(lost, id)
		}
	}
	if len(lost) == 0 {
		return nil
	}
	// Shards i/n of one n: name the i no run is.
	count := 0
	ran := map[int]bool{}
	for _, r := range runs {
		sh, err := ParseShard(r.doc.Plan.Shard)
		if r.doc.Plan.Shard == "" || err != nil || sh.Count == 0 || (count != 0 && sh.Count != count) {
			count = -1
			break
		}
		count = sh.Count
		ran[sh.Index] = true
	}
	var out []string
	if count > 0 {
		for i := 1; i <= count; i++ {
			if ran[i] {
				continue
			}
			sh := Shard{Index: i, Count: count}
			cells, _ := sh.Select(plan)
			out = append(out, fmt.Sprintf("shard %s (cells %s)", sh, strings.Join(cells, " ")))
		}
		if len(out) > 0 {
			return out
		}
	}
	byKernel := map[string][]string{}
	var order []string
	for _, id := range lost {
		k := kernelOf(id)
		if _, ok := byKernel[k]; !ok {
			order = append(order, k)
		}
		byKernel[k] = append(byKernel[k], id)
	}
	for _, k := range order {
		out = append(out, fmt.Sprintf("kernel %s (cells %s)", k, strings.Join(byKernel[k], " ")))
	}
	return out
}

// copyArtifacts copies each run's cell directories (RUN/matrix/CELL/)
// into dir and points the cells at their copies. A run's recorded paths
// may be stale (a CI artifact is unpacked elsewhere): the cell's directory
// is found by its name under the run's own matrix/.
func copyArtifacts(runs []loadedRun, m *Matrix, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	owner := map[string]string{}
	for _, r := range runs {
		for _, c := range r.doc.Cells {
			owner[c.ID] = r.dir
		}
	}
	for i, c := range m.Cells {
		run, ok := owner[c.ID]
		if !ok || c.Artifacts == "" {
			continue
		}
		name := filepath.Base(c.Artifacts)
		src := filepath.Join(run, "matrix", name)
		if _, err := os.Stat(src); err != nil {
			// The table stands without them; say where they are not.
			m.Cells[i].Artifacts = ""
			continue
		}
		dst := filepath.Join(dir, name)
		if err := copyTree(src, dst); err != nil {
			return err
		}
		m.Cells[i].Artifacts = dst
	}
	return nil
}

// copyTree copies the regular files and directories under src to dst.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(to, 0o755)
		case d.Type().IsRegular():
			return copyFile(path, to)
		}
		return nil // a link or device in a cell's reports is not ours to copy
	})
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
