package matrix

import (
	"os"

	"github.com/memlab/memlab/labs/rundir"
)

// workDirPrefix names a run's work directory in the temp dir:
// memlab-matrix-RUNID-RANDOM (labs/rundir), so a later run can tell whose
// it was even after the PID has been reused.
const workDirPrefix = rundir.MatrixPrefix

// sweepWorkDirs removes work directories that killed runs (SIGKILL, a
// power cut) left in the temp dir: memlab-matrix-RUNID-* whose run is gone.
func sweepWorkDirs(say func(string, ...any)) {
	rundir.Sweep(os.TempDir(), workDirPrefix, say)
}
