package matrix

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// workDirPrefix names a run's work directory in the temp dir:
// memlab-matrix-PID-RANDOM, so a later run can tell whose it was.
const workDirPrefix = "memlab-matrix-"

// sweepWorkDirs removes work directories that killed runs (SIGKILL, a
// power cut) left in the temp dir: memlab-matrix-PID-* whose PID is gone.
func sweepWorkDirs(say func(string, ...any)) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), workDirPrefix+"*-*"))
	for _, d := range dirs {
		f := strings.Split(filepath.Base(d), "-")
		if len(f) < 4 {
			continue
		}
		pid, err := strconv.Atoi(f[2])
		if err != nil || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			if os.RemoveAll(d) == nil {
				say("removed %s, left by a killed run", d)
			}
		}
	}
}
