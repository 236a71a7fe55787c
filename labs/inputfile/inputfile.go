// Package inputfile reads a file a user names (a report, a rubric, a
// baseline, a kernel list): a regular file, whole, up to a limit. Without
// the checks a named pipe with no writer blocks the reader for ever, and
// /dev/zero, or a symbolic link to it, fills memory until the kernel
// kills memlab.
package inputfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

var (
	// ErrNotRegular: the path names a directory, a named pipe, a device
	// or a socket, not a file with contents to read.
	ErrNotRegular = errors.New("not a regular file")
	// ErrTooLarge: the file holds more than the reader's limit.
	ErrTooLarge = errors.New("too large")
)

// Read returns the contents of the regular file at path, of at most limit
// bytes. The file is opened without blocking (O_NONBLOCK: a named pipe
// with no writer opens at once) and refused, unread, when it is not
// regular; errors name path.
func Read(path string, limit int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w (%s)", path, ErrNotRegular, kind(st.Mode()))
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: %w: larger than %s", path, ErrTooLarge, size(limit))
	}
	return data, nil
}

// kind names what a path that is not a regular file is.
func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return m.Type().String()
}

// size says limit in the unit its readers' limits are set in.
func size(limit int64) string {
	if limit >= 1<<20 && limit%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", limit>>20)
	}
	return fmt.Sprintf("%d bytes", limit)
}
