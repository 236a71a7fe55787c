package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/memlab/memlab/fixtures"
	"github.com/memlab/memlab/labs/matrix"
	"github.com/memlab/memlab/labs/report/ledger"
	"github.com/memlab/memlab/labs/runner"
)

const mergeUsage = `usage: memlab merge [flags] INPUT...
  Merges into one table the outputs of kernel matrix runs and the claims
  reports of machines that ran the labs themselves. An INPUT is
    DIR                    the --out of a memlab matrix run, typically one
                           --shard of a plan (its matrix.json and matrix/CELL/)
    NAME=path/claims.json  a machine's claims report (a student VM): its
                           columns are NAME/v1, NAME/v2
  The merged matrix.json and matrix.md (vm-matrix.json and vm-matrix.md when
  every INPUT is a machine's report) are those an unsharded run of the same
  cells writes, but for the lines on when and how fast it ran; the cells'
  console and suite reports are copied into OUT/matrix/, and OUT/index.html's
  matrix section is redrawn when OUT holds a claims report.
  A shard of the plan that no DIR holds fails the merge, named, before
  anything is written (exit 74); so does a DIR without matrix.json. A
  machine's missing report gets a column of "no result" (exit 74).
  --out reports         where the merged table goes
  --baseline FILE       compare the merged table with this baseline ("builtin": the
                        one built into memlab); exit 79 naming changed cells
  --write-baseline FILE record the merged table as the baseline (refused if a cell has no result)`

// cmdMerge merges shards of the kernel matrix and machines' reports.
func cmdMerge(args []string) error {
	fs := flag.NewFlagSet("merge", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	out := fs.String("out", "reports", "")
	baseline := fs.String("baseline", "", "")
	writeBaseline := fs.String("write-baseline", "", "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: merge: %w", runner.ErrUsage, err)
	}
	if err := checkOutDir(*out); err != nil {
		return err
	}
	cfg := matrix.MergeConfig{Out: *out, Baseline: baselineRef(*baseline), WriteBaseline: *writeBaseline,
		Stdout: os.Stdout, Log: say}
	var named []string
	for _, a := range fs.Args() {
		if strings.Contains(a, "=") {
			named = append(named, a)
		} else {
			cfg.Runs = append(cfg.Runs, a)
		}
	}
	if len(fs.Args()) == 0 {
		return fmt.Errorf("%w: merge: nothing to merge: give the --out directories of matrix runs, or NAME=claims.json", runner.ErrUsage)
	}
	if len(named) > 0 {
		var err error
		if cfg.Reports, err = parseMachineReports("merge", named); err != nil {
			return err
		}
	}
	return merge(cfg)
}

// merge is the one merge both merge and vm-matrix run. A merge of matrix
// runs redraws the page's matrix section whenever it wrote the table, as
// it does on a regression, a failed claim or a cell with no result too.
func merge(cfg matrix.MergeConfig) error {
	res, err := matrix.Merge(cfg)
	if errors.Is(err, matrix.ErrPlanMismatch) {
		return fmt.Errorf("%w: %w", runner.ErrUsage, err)
	}
	if res.Written && len(cfg.Runs) > 0 {
		if herr := redrawHTML(cfg.Out); herr != nil {
			return errors.Join(err, herr)
		}
	}
	return err
}

// redrawHTML redraws OUT/index.html, whose matrix section is drawn from
// OUT/matrix.json, when OUT holds the claims report it is drawn with.
func redrawHTML(out string) error {
	claims := filepath.Join(out, "claims.json")
	if _, err := os.Stat(claims); errors.Is(err, fs.ErrNotExist) {
		return nil // no labs report here: no page to redraw
	}
	rep, err := ledger.LoadReport(claims)
	if err != nil {
		return err
	}
	return writeIndex(out, rep)
}

// baselineRef is what --baseline names: nothing, the built-in baseline,
// or a file.
func baselineRef(flagValue string) *matrix.BaselineRef {
	switch flagValue {
	case "":
		return nil
	case builtinBaseline:
		return &matrix.BaselineRef{Name: fixtures.MatrixBaselineName + " (built in)", Data: fixtures.MatrixBaseline}
	}
	return &matrix.BaselineRef{Name: flagValue}
}
