package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/memlab/memlab/labs/docker"
	"github.com/memlab/memlab/labs/grade"
	"github.com/memlab/memlab/labs/kernel/cgroup"
	"github.com/memlab/memlab/labs/matrix"
	"github.com/memlab/memlab/labs/matrix/guest"
	"github.com/memlab/memlab/labs/matrix/kernels"
	"github.com/memlab/memlab/labs/report/atomicfile"
	"github.com/memlab/memlab/labs/runner"
)

// memlab's own exit statuses (sysexits.h numbers), distinct from any a
// workload is likely to use; `memlab run` otherwise exits with the
// workload's status, 128+n when signal n ended it.
const (
	exitClaimsFailed = 1   // a claim failed (in the kernel matrix), or a graded runner is below the pass mark; like a test runner's failure
	exitUsage        = 64  // bad flags, missing command
	exitBadSize      = 65  // --memory 100x, -1, below the minimum
	exitBadName      = 66  // a group name with "/" or ".."
	exitNotRoot      = 67  // the cgroup filesystem, or the Docker socket, needs root
	exitNoCgroupFS   = 69  // no cgroup filesystem, or no memory controller
	exitInternal     = 70  // memlab itself failed; the message says where
	exitCantWrite    = 73  // EX_CANTCREAT: an output cannot be made, found before anything runs (run --result, --out, --write-baseline)
	exitNoSuchReport = 74  // a report file to read is missing or unreadable
	exitNoEngine     = 75  // EX_TEMPFAIL: no Docker engine answers; start it and retry
	exitNoContainer  = 76  // no such container, or it is not running (so it has no cgroup)
	exitNotOurs      = 77  // EX_NOPERM: memlab removes only an image it built
	exitNoImage      = 78  // the lab image is missing and cannot be built
	exitRegression   = 79  // the kernel matrix changed from its baseline (the cells are named)
	exitBadRubric    = 80  // the grading rubric is missing or one the grader cannot apply
	exitBadBaseline  = 81  // the matrix baseline is missing, of nothing, holds a word that is no verdict, or knows none of the run's cells
	exitNotKernel    = 82  // a kernel image given by path is not a bootable x86 kernel
	exitUnfinished   = 83  // the Ginkgo report is of a run that did not finish: the previous reports are kept
	exitNoResult     = 84  // a kernel matrix cell gave no result (its guest died or hung) and no claim failed
	exitEngineGone   = 85  // the Docker engine went away during the run: the claims it cut short have no result
	exitBadSuiteBin  = 86  // a --suite-bin file is missing or not a static x86-64 executable (the guest could not run it)
	exitInterrupted  = 130 // Ctrl-C: what was started has been stopped and removed
	exitNotFound     = 127 // the workload's command does not exist
	exitNotExec      = 126 // the workload's command is a file that may not be executed (as a shell says)
)

var errCannotWrite = errors.New("cannot write")

// checkOutDir is the check of every --out before anything is read or run:
// a directory memlab can write into (made if missing), never "" (which
// would put the reports in the current directory and print paths under /).
func checkOutDir(dir string) error {
	if err := checkOutGiven(dir); err != nil {
		return err
	}
	if err := atomicfile.WritableDir(dir); err != nil {
		return fmt.Errorf("--out %s: %w: %w", dir, errCannotWrite, err)
	}
	return nil
}

// checkOutGiven is the part of checkOutDir that matrix, which stages its
// --out its own way, shares: --out is not "".
func checkOutGiven(dir string) error {
	if dir == "" {
		return fmt.Errorf("%w: --out '': want a directory", runner.ErrUsage)
	}
	return nil
}

var errNotRoot = errors.New("memlab needs root: it writes the cgroup filesystem (run it with sudo)")

func exitCode(err error) int {
	switch {
	case errors.Is(err, runner.ErrUsage):
		return exitUsage
	case errors.Is(err, cgroup.ErrBadSize):
		return exitBadSize
	case errors.Is(err, cgroup.ErrBadName):
		return exitBadName
	case errors.Is(err, errNotRoot), errors.Is(err, docker.ErrNoAccess):
		return exitNotRoot
	case errors.Is(err, cgroup.ErrNoCgroupFS), errors.Is(err, cgroup.ErrNoMemoryController):
		return exitNoCgroupFS
	case errors.Is(err, runner.ErrCommandNotFound):
		return exitNotFound
	case errors.Is(err, runner.ErrNotExecutable):
		return exitNotExec
	case errors.Is(err, errCannotWrite):
		return exitCantWrite
	case errors.Is(err, errNoReport), errors.Is(err, grade.ErrNoReport), errors.Is(err, matrix.ErrNoReport):
		return exitNoSuchReport
	case errors.Is(err, docker.ErrNoEngine):
		return exitNoEngine
	case errors.Is(err, docker.ErrNoContainer), errors.Is(err, docker.ErrNotRunning):
		return exitNoContainer
	case errors.Is(err, docker.ErrImageBuild):
		return exitNoImage
	case errors.Is(err, docker.ErrNotOurImage):
		return exitNotOurs
	case errors.Is(err, grade.ErrBadRubric):
		return exitBadRubric
	case errors.Is(err, errUnfinishedRun):
		return exitUnfinished
	case errors.Is(err, errEngineGone):
		return exitEngineGone
	case errors.Is(err, matrix.ErrNoResult):
		return exitNoResult
	case errors.Is(err, matrix.ErrReportsDir), errors.Is(err, matrix.ErrBaselineOut):
		return exitCantWrite
	case errors.Is(err, matrix.ErrBadBaseline):
		return exitBadBaseline
	case errors.Is(err, kernels.ErrNotKernel):
		return exitNotKernel
	case errors.Is(err, guest.ErrBadSuiteBinary):
		return exitBadSuiteBin
	case errors.Is(err, matrix.ErrClaimsFailed), errors.Is(err, grade.ErrBelowPassMark):
		return exitClaimsFailed
	case errors.Is(err, matrix.ErrRegression):
		return exitRegression
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	}
	return exitInternal
}
