// Command vmmatrix tabulates the claims reports of several VMs (make
// vm-matrix): claims down, one column per (VM, cgroup mode) across, in the
// same table and files as the qemu kernel matrix (labs/matrix).
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
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/memlab/memlab/labs/matrix"
)

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
	if err := m.WriteFilesAs(*out, "vm-matrix", nil); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nreports: %s %s\n", filepath.Join(*out, "vm-matrix.md"), filepath.Join(*out, "vm-matrix.json"))
	var missing []string
	for _, c := range m.Cells {
		if c.Status == matrix.NoResult {
			missing = append(missing, c.Kernel)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("no report from %s", strings.Join(missing, ", "))
	}
	return nil
}

// Build reads every VM's report into the cells of one matrix.
func Build(inputs [][2]string, now time.Time) matrix.Matrix {
	m := matrix.Matrix{Title: "VM matrix", Generated: now.UTC()}
	for _, in := range inputs {
		m.Cells = append(m.Cells, matrix.CellsFromReport(in[0], in[1])...)
	}
	return m
}
