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
  "no result" and exit status 74. It is memlab merge with only machines'
  reports (memlab merge --help).`

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
	if err := checkOutDir(*out); err != nil {
		return err
	}
	reports, err := parseMachineReports("vm-matrix", fs.Args())
	if err != nil {
		return err
	}
	return merge(matrix.MergeConfig{Reports: reports, Out: *out, Stdout: os.Stdout, Log: say})
}

// parseMachineReports reads NAME=PATH arguments; a name becomes the first
// half of its cells' IDs (NAME/v1), so it holds no "/" and no space.
func parseMachineReports(cmd string, args []string) ([]matrix.MachineReport, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("%w: %s: no reports given", runner.ErrUsage, cmd)
	}
	var out []matrix.MachineReport
	seen := map[string]bool{}
	for _, a := range args {
		name, path, ok := strings.Cut(a, "=")
		if !ok || name == "" || path == "" || strings.ContainsAny(name, "/ ") {
			return nil, fmt.Errorf("%w: %s: bad argument %q: want NAME=path/to/claims.json", runner.ErrUsage, cmd, a)
		}
		if seen[name] {
			return nil, fmt.Errorf("%w: %s: machine %q named twice", runner.ErrUsage, cmd, name)
		}
		seen[name] = true
		out = append(out, matrix.MachineReport{Name: name, Path: path})
	}
	return out, nil
}
