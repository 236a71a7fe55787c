package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/memlab/memlab/labs/inputfile"
	"github.com/memlab/memlab/labs/kernel/cgroup"
	"github.com/memlab/memlab/labs/matrix"
	"github.com/memlab/memlab/labs/report/htmlreport"
	"github.com/memlab/memlab/labs/report/ledger"
	"github.com/memlab/memlab/labs/runner"
	"github.com/memlab/memlab/labs/sweep"
)

var errNoReport = errors.New("no report")

// errUnfinishedRun: the Ginkgo report is of a run that did not finish.
var errUnfinishedRun = errors.New("not writing the claims report: the run did not finish")

// errEngineGone: the Docker engine stopped answering during the run.
var errEngineGone = errors.New("the Docker engine went away during the run")

// partialStem names an unfinished run's claims report, beside the last
// complete one.
const partialStem = "claims.partial"

func cmdReport(args []string) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	from := fs.String("from", "reports/ginkgo.json", "Ginkgo JSON report to read")
	out := fs.String("out", "reports", "directory for claims.json and claims.md")
	expect := fs.String("suites", "", "the packages the run was to run, as given to ginkgo")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: report: %w", runner.ErrUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: report takes no arguments (got %q)", runner.ErrUsage, fs.Args())
	}
	if err := checkOutDir(*out); err != nil {
		return err
	}
	suites, err := ledger.LoadGinkgoJSON(*from)
	if err != nil {
		return fmt.Errorf("%w: %w", errNoReport, err)
	}
	// A suite whose test binary was killed is missing from Ginkgo's report,
	// not marked unfinished: only the list of what was to run tells.
	suites = ledger.ExpectSuites(suites, strings.Fields(strings.ReplaceAll(*expect, ",", " ")))
	rep, err := ledger.FromGinkgo(suites)
	if err != nil {
		return err
	}
	// claims.json, claims.md and index.html are one set: a Ctrl-C between
	// two of the renames would leave a new claims.json beside an old page.
	// Writing them takes milliseconds, so the signal is ignored; make, which
	// got the same Ctrl-C, stops after this step.
	signal.Ignore(os.Interrupt, syscall.SIGTERM)
	// Only a complete run replaces the reports; an unfinished one's go
	// beside them, as do those of a run the Docker engine's loss cut short.
	if cut, status := rep.CutByEngine(); len(cut) > 0 {
		return writePartial(rep, *out, fmt.Errorf("%w: %s cut short (%s)", errEngineGone, strings.Join(cut, " "), status))
	}
	if unfinished := ledger.Unfinished(suites); len(unfinished) > 0 {
		return writePartial(rep, *out, fmt.Errorf("%w: %s", errUnfinishedRun, strings.Join(unfinished, "; ")))
	}
	if err := rep.WriteFiles(*out); err != nil {
		return err
	}
	if err := writeIndex(*out, rep); err != nil {
		return err
	}
	rep.WriteTable(os.Stdout)
	fmt.Printf("\nreports: %s %s %s\n", filepath.Join(*out, "claims.json"), filepath.Join(*out, "claims.md"), filepath.Join(*out, "index.html"))
	return nil
}

func cmdSweep(args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("%w: sweep takes no arguments", runner.ErrUsage)
	}
	if os.Geteuid() != 0 {
		return errNotRoot
	}
	layout, err := cgroup.Detect()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return sweep.All(ctx, layout, say)
}

func cmdEnv(args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("%w: env takes no arguments", runner.ErrUsage)
	}
	l, err := cgroup.Detect()
	if err != nil {
		return err
	}
	fmt.Println(l)
	return nil
}

// writePartial writes the report of a run that must not replace the
// reports in out (why says which) beside them, prints its table, and
// returns why, saying where each set is.
func writePartial(rep ledger.Report, out string, why error) error {
	if err := rep.WriteFilesAs(out, partialStem); err != nil {
		return err
	}
	rep.WriteTable(os.Stdout)
	fmt.Println()
	return fmt.Errorf("%w; the previous reports in %s are kept, this run's are in %s", why, out, filepath.Join(out, partialStem+".json"))
}

// writeIndex draws OUT/index.html from a claims report, with the kernel
// matrix's section when a matrix run or merge left OUT/matrix.json.
func writeIndex(out string, rep ledger.Report) error {
	matrixJSON, _ := inputfile.Read(filepath.Join(out, "matrix.json"), matrix.MaxMatrixJSON)
	return htmlreport.Write(filepath.Join(out, "index.html"), rep, matrixJSON)
}
