package matrix

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/memlab/memlab/labs/rundir"
)

// ErrReportsDir: the reports directory cannot be written. Found before
// anything boots, so no run's results are lost to it.
var ErrReportsDir = errors.New("cannot write the reports directory")

// stagePrefix names a run's staging directory inside the reports
// directory: matrix.running-RUNID-RANDOM, swept once its run is gone.
const stagePrefix = "matrix.running-"

// PartialDir is where, inside the reports directory, an interrupted run
// keeps what its cells produced, beside the previous complete run's.
const PartialDir = "matrix.partial"

// stage is where a run writes its per-cell directories, beside the
// previous run's out/matrix, which it replaces only once the run is
// complete: a run cut short never destroys the last good results.
type stage struct {
	out     string // the reports directory
	dir     string // out/matrix.running-…; its matrix/ holds the cells
	madeOut bool   // out did not exist before: a run that writes nothing leaves none
}

// newStage makes the run's staging directory; making it is the check that
// the reports directory is writable.
func newStage(out string, say func(string, ...any)) (*stage, error) {
	_, err := os.Stat(out)
	madeOut := errors.Is(err, fs.ErrNotExist)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrReportsDir, err)
	}
	rundir.Sweep(out, stagePrefix, say)
	pattern, err := rundir.Pattern(stagePrefix)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(out, pattern)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrReportsDir, err)
	}
	return &stage{out: out, dir: dir, madeOut: madeOut}, nil
}

// artifacts is where the cells write their console logs and suite reports.
func (s *stage) artifacts() string { return filepath.Join(s.dir, "matrix") }

// commit swaps this run's cells in for the previous run's out/matrix and
// points m's cells at their new place. An earlier partial run's leftovers
// go: this run supersedes them.
func (s *stage) commit(m *Matrix) error {
	final := filepath.Join(s.out, "matrix")
	previous := filepath.Join(s.dir, "previous")
	if err := os.MkdirAll(s.artifacts(), 0o755); err != nil {
		return err
	}
	if err := os.Rename(final, previous); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.Rename(s.artifacts(), final); err != nil {
		_ = os.Rename(previous, final) // put the previous run back
		return err
	}
	relocate(m, s.artifacts(), final)
	_ = os.RemoveAll(filepath.Join(s.out, PartialDir))
	return os.RemoveAll(s.dir)
}

// keepPartial moves what an unfinished run's cells produced to
// out/matrix.partial, with a matrix.json and matrix.md of their own, and
// returns that path; out/matrix is untouched.
func (s *stage) keepPartial(m *Matrix) (string, error) {
	partial := filepath.Join(s.out, PartialDir)
	if err := os.MkdirAll(s.artifacts(), 0o755); err != nil {
		return "", err
	}
	if err := os.RemoveAll(partial); err != nil {
		return "", err
	}
	if err := os.Rename(s.artifacts(), partial); err != nil {
		return "", err
	}
	relocate(m, s.artifacts(), partial)
	if err := m.WriteFiles(partial, nil); err != nil {
		return "", err
	}
	return partial, os.RemoveAll(s.dir)
}

// discard removes the staging directory (a no-op once committed or kept),
// and the reports directory if this run made it and wrote nothing there.
func (s *stage) discard() {
	_ = os.RemoveAll(s.dir)
	if s.madeOut {
		_ = os.Remove(s.out) // fails, as it should, once anything is in it
	}
}

func relocate(m *Matrix, from, to string) {
	for i, c := range m.Cells {
		if rest, ok := strings.CutPrefix(c.Artifacts, from); ok {
			m.Cells[i].Artifacts = to + rest
		}
	}
}
