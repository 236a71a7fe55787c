package rootfs

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
)

// WriteCpio writes the file set as a newc cpio archive, the format the
// kernel unpacks as an initramfs: parents before children, every entry
// owned by root with mtime 0 (the same inputs give the same bytes).
func (f *FS) WriteCpio(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	bw := bufio.NewWriterSize(cw, 1<<20)
	ino := uint32(1)
	for _, p := range f.Paths() {
		if err := f.entries[p].writeCpio(bw, p, ino); err != nil {
			return cw.n, err
		}
		ino++
	}
	if err := writeHeader(bw, "TRAILER!!!", 0, 0, 1, 0); err != nil {
		return cw.n, err
	}
	err := bw.Flush()
	return cw.n, err
}

// WriteCpioFile writes the cpio archive to file, gzip-compressed if
// compress; a failed write leaves no file.
func (f *FS) WriteCpioFile(file string, compress bool) error {
	out, err := os.Create(file)
	if err != nil {
		return err
	}
	var w io.Writer = out
	var zw *gzip.Writer
	if compress {
		zw, _ = gzip.NewWriterLevel(out, gzip.BestSpeed)
		w = zw
	}
	_, err = f.WriteCpio(w)
	if err == nil && zw != nil {
		err = zw.Close()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(file)
	}
	return err
}

func (e *entry) writeCpio(w io.Writer, p string, ino uint32) error {
	var mode uint32
	var body io.Reader
	var size int64
	nlink := uint32(1)
	switch e.kind {
	case kindDir:
		mode, nlink = 0o040000|unixMode(e.mode), 2
	case kindSymlink:
		mode = 0o120000 | unixMode(e.mode)
		body, size = strings.NewReader(e.target), int64(len(e.target))
	case kindFile:
		mode = 0o100000 | unixMode(e.mode)
		rc, n, err := e.open()
		if err != nil {
			return err
		}
		defer rc.Close()
		body, size = rc, n
	}
	if size > math.MaxUint32 {
		return fmt.Errorf("rootfs: %s is too big for newc cpio", p)
	}
	if err := writeHeader(w, strings.TrimPrefix(p, "/"), ino, mode, nlink, size); err != nil {
		return err
	}
	if body == nil {
		return nil
	}
	n, err := io.Copy(w, io.LimitReader(body, size))
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("rootfs: %s changed size while being written", p)
	}
	return pad(w, size)
}

func writeHeader(w io.Writer, name string, ino, mode, nlink uint32, size int64) error {
	namesize := len(name) + 1
	_, err := fmt.Fprintf(w, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%s\x00",
		ino, mode, 0, 0, nlink, 0, uint32(size), 0, 0, 0, 0, namesize, 0, name)
	if err != nil {
		return err
	}
	return pad(w, int64(110+namesize))
}

func pad(w io.Writer, n int64) error {
	if r := n % 4; r != 0 {
		_, err := w.Write(make([]byte, 4-r))
		return err
	}
	return nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
