package matrix

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/memlab/memlab/labs/kernel/proc"
)

// workDirPrefix names a run's work directory in the temp dir:
// memlab-matrix-RUNID-RANDOM (RUNID is proc.RunID, PID plus start time), so
// a later run can tell whose it was even after the PID has been reused.
const workDirPrefix = "memlab-matrix-"

// workDirPattern is os.MkdirTemp's pattern for this run's work directory.
func workDirPattern() (string, error) { return runDirPattern(workDirPrefix) }

// runDirPattern is os.MkdirTemp's pattern for a directory of this run's:
// PREFIX-RUNID-RANDOM.
func runDirPattern(prefix string) (string, error) {
	run, err := proc.Current()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s%s-", prefix, run), nil
}

// sweepWorkDirs removes work directories that killed runs (SIGKILL, a
// power cut) left in the temp dir: memlab-matrix-RUNID-* whose run is gone.
func sweepWorkDirs(say func(string, ...any)) {
	sweepRunDirs(os.TempDir(), workDirPrefix, say)
}

// sweepRunDirs removes parent's PREFIX-RUNID-* directories whose run is gone.
func sweepRunDirs(parent, prefix string, say func(string, ...any)) {
	dirs, _ := filepath.Glob(filepath.Join(parent, prefix+"*-*"))
	for _, d := range dirs {
		id, _, ok := strings.Cut(strings.TrimPrefix(filepath.Base(d), prefix), "-")
		if !ok {
			continue
		}
		run, err := proc.ParseRunID(id)
		if err != nil {
			continue // not a name this memlab gives
		}
		if _, gone := run.Gone(); gone && os.RemoveAll(d) == nil {
			say("removed %s, left by a killed run", d)
		}
	}
}
