package matrix

import (
	"os"

	"github.com/memlab/memlab/labs/rundir"
)

// workDirPrefix names a run's work directory in the temp dir:
// memlab-matrix-RUNID-RANDOM (labs/rundir), so a later run can tell whose
// it was even after the PID has been reused.
const workDirPrefix = rundir.MatrixPrefix

// workDirPattern is os.MkdirTemp's pattern for this run's work directory.
func workDirPattern() (string, error) { return runDirPattern(workDirPrefix) }

// runDirPattern is os.MkdirTemp's pattern for a directory of this run's:
// PREFIX-RUNID-RANDOM.
func runDirPattern(prefix string) (string, error) { return rundir.Pattern(prefix) }

// sweepWorkDirs removes work directories that killed runs (SIGKILL, a
// power cut) left in the temp dir: memlab-matrix-RUNID-* whose run is gone.
func sweepWorkDirs(say func(string, ...any)) {
	sweepRunDirs(os.TempDir(), workDirPrefix, say)
}

// sweepRunDirs removes parent's PREFIX-RUNID-* directories whose run is gone.
func sweepRunDirs(parent, prefix string, say func(string, ...any)) {
	rundir.Sweep(parent, prefix, say)
}
