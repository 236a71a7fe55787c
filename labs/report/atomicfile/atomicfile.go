// Package atomicfile writes a file so that a reader, or the next run, sees
// either the old contents or the new, never a half-written file: the data
// goes to a temporary file in the same directory (so the rename cannot
// cross filesystems) and is renamed over the target once complete.
package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// WriteFile writes data to path atomically with permissions perm, creating
// the directory if need be. On any error path is untouched and no
// temporary file is left.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	// Synced before the rename: after a crash the name holds the old
	// contents or the new, not an empty file.
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Writable says whether WriteFile could put a file at path, by making and
// removing the temporary file it would write: a command checks it before
// work whose result would otherwise have nowhere to go.
func Writable(path string) error {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return &os.PathError{Op: "write", Path: path, Err: syscall.EISDIR}
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp.Close()
	return os.Remove(tmp.Name())
}

// WritableDir says whether WriteFile could put files into dir, which
// WriteFile makes if it is missing: the nearest directory on the way that
// exists is probed as Writable probes. It makes nothing.
func WritableDir(dir string) error {
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		switch {
		case err == nil && !st.IsDir():
			return &os.PathError{Op: "write", Path: d, Err: syscall.ENOTDIR}
		case err == nil:
			return Writable(filepath.Join(d, ".writable"))
		case !errors.Is(err, fs.ErrNotExist) || filepath.Dir(d) == d:
			return err
		}
	}
}
