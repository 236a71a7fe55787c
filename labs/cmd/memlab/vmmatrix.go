package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/memlab/memlab/labs/matrix"
	"github.com/memlab/memlab/labs/runner"
)

const vmMatrixUsage = `usage: memlab vm-matrix [--out reports] NAME=path/to/claims.json ...
  Tabulates the claims reports of machines that ran the labs themselves
  (make vm-matrix: the student VMs): claims down, one column per machine and
  cgroup mode across. Prints the table and writes OUT/vm-matrix.md and
  OUT/vm-matrix.json. A missing or unreadable report gets a column of
  "no result" and exit status 74.`

// cmdVMMatrix merges the VMs' claims reports into one table.
func cmdVMMatrix(args []string) error {
	fs := flag.NewFlagSet("vm-matrix", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	out := fs.String("out", "reports", "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Println(vmMatrixUsage)
			return nil
		}
		return fmt.Errorf("%w: vm-matrix: %w", runner.ErrUsage, err)
	}
	reports, err := parseMachineReports(fs.Args())
	if err != nil {
		return err
	}
	_, err = matrix.Merge(matrix.MergeConfig{Reports: reports, Out: *out, Stdout: os.Stdout})
	return err
}

// parseMachineReports reads NAME=PATH arguments; a name becomes the first
// half of its cells' IDs (NAME/v1), so it holds no "/" and no space.
func parseMachineReports(args []string) ([]matrix.MachineReport, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("%w: vm-matrix: no reports given", runner.ErrUsage)
	}
	var out []matrix.MachineReport
	seen := map[string]bool{}
	for _, a := range args {
		name, path, ok := strings.Cut(a, "=")
		if !ok || name == "" || path == "" || strings.ContainsAny(name, "/ ") {
			return nil, fmt.Errorf("%w: vm-matrix: bad argument %q: want NAME=path/to/claims.json", runner.ErrUsage, a)
		}
		if seen[name] {
			return nil, fmt.Errorf("%w: vm-matrix: VM %q named twice", runner.ErrUsage, name)
		}
		seen[name] = true
		out = append(out, matrix.MachineReport{Name: name, Path: path})
	}
	return out, nil
}
