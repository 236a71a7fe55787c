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

// NotWritableError is Writable's and WritableDir's error: Path is the path
// the caller gave (not the probe's temporary file, nor the directory on
// the way that stopped it), Err the reason. Its message is the reason
// alone, for the caller names the path in its own words ("--out DIR:
// cannot write: read-only file system").
type NotWritableError struct {
	Path string
	Err  error
}

func (e *NotWritableError) Error() string { return e.Err.Error() }
func (e *NotWritableError) Unwrap() error { return e.Err }

// notWritable is the *NotWritableError for path, the reason taken out of
// the *fs.PathError that names a probed path instead.
func notWritable(path string, err error) error {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		err = pe.Err
	}
	return &NotWritableError{Path: path, Err: err}
}

// Writable says whether WriteFile could put a file at path, by making and
// removing the temporary file it would write: a command checks it before
// work whose result would otherwise have nowhere to go. Its error is a
// *NotWritableError.
func Writable(path string) error {
	if err := probe(path); err != nil {
		return notWritable(path, err)
	}
	return nil
}

func probe(path string) error {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return syscall.EISDIR
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
// exists is probed as Writable probes. It makes nothing. Its error is a
// *NotWritableError naming dir.
func WritableDir(dir string) error {
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		switch {
		case err == nil && !st.IsDir():
			return notWritable(dir, syscall.ENOTDIR)
		case err == nil:
			if err := probe(filepath.Join(d, ".writable")); err != nil {
				return notWritable(dir, err)
			}
			return nil
		case !errors.Is(err, fs.ErrNotExist) || filepath.Dir(d) == d:
			return notWritable(dir, err)
		}
	}
}
