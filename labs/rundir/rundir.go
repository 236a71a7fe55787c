// Package rundir names the directories a memlab run makes, in the temp
// dir or beside its reports, after the run that made them
// (PREFIX-RUNID-RANDOM, RUNID a proc.RunID: PID and start time), so a
// later run or `memlab sweep` can remove those whose run was killed, and
// only those: a live run's, even one whose PID was reused, stay.
package rundir

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/memlab/memlab/labs/kernel/proc"
)

// Temp-dir prefixes of memlab's runs, for `memlab sweep`: the kernel
// matrix's work directory, the build directory (TMPDIR and GOTMPDIR of
// Ginkgo and go) that `make labs` makes with the run ID of its recipe's
// shell (Makefile), and the directory where the grader's runner suite
// writes its reports (labs/grade Session).
const (
	MatrixPrefix = "memlab-matrix-"
	BuildPrefix  = "memlab-build-"
	GradePrefix  = "memlab-grade-"
)

// TempPrefixes are every prefix a run uses in the temp dir.
var TempPrefixes = []string{MatrixPrefix, BuildPrefix, GradePrefix}

// Pattern is os.MkdirTemp's pattern for a directory of this run's:
// PREFIX-RUNID-.
func Pattern(prefix string) (string, error) {
	run, err := proc.Current()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s%s-", prefix, run), nil
}

// Sweep removes parent's PREFIX-RUNID-* directories whose run is gone and
// says each one it removed; a name that holds no run ID is left alone.
func Sweep(parent, prefix string, say func(string, ...any)) {
	dirs, _ := filepath.Glob(filepath.Join(parent, prefix+"*-*"))
	for _, d := range dirs {
		id, _, ok := strings.Cut(strings.TrimPrefix(filepath.Base(d), prefix), "-")
		if !ok {
			continue
		}
		run, err := proc.ParseRunID(id)
		if err != nil {
			continue // not a name memlab gives
		}
		if _, gone := run.Gone(); gone && os.RemoveAll(d) == nil {
			say("removed %s, left by a killed run", d)
		}
	}
}
