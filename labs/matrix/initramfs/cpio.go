// Package initramfs builds an initramfs: a newc cpio archive (optionally
// gzip-compressed) of files copied from the host, files given as bytes,
// directories and symlinks, with the shared libraries a dynamic ELF binary
// loads found and added for it.
package initramfs

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"sort"
	"strings"
)

type kind int

const (
	kindDir kind = iota
	kindFile
	kindSymlink
)

type entry struct {
	kind   kind
	mode   fs.FileMode // permission bits
	data   []byte      // kindFile with no src
	src    string      // kindFile copied from the host at write time
	target string      // kindSymlink
}

// Archive is an initramfs being assembled; paths are absolute inside it.
type Archive struct {
	entries map[string]*entry
}

// New starts an empty archive.
func New() *Archive { return &Archive{entries: map[string]*entry{}} }

func clean(p string) (string, error) {
	if !strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("initramfs: path %q is not absolute", p)
	}
	c := path.Clean(p)
	if c == "/" {
		return "", fmt.Errorf("initramfs: cannot add the root itself")
	}
	return c, nil
}

func (a *Archive) put(p string, e *entry) error {
	c, err := clean(p)
	if err != nil {
		return err
	}
	if old, ok := a.entries[c]; ok && (old.kind == kindDir) != (e.kind == kindDir) {
		return fmt.Errorf("initramfs: %s added both as a directory and not", c)
	}
	for d := path.Dir(c); d != "/"; d = path.Dir(d) {
		if old, ok := a.entries[d]; ok && old.kind != kindDir {
			return fmt.Errorf("initramfs: %s is not a directory (needed for %s)", d, c)
		}
	}
	a.entries[c] = e
	for d := path.Dir(c); d != "/"; d = path.Dir(d) {
		if _, ok := a.entries[d]; !ok {
			a.entries[d] = &entry{kind: kindDir, mode: 0o755}
		}
	}
	return nil
}

// Dir adds a directory (and its parents).
func (a *Archive) Dir(p string, mode fs.FileMode) error {
	return a.put(p, &entry{kind: kindDir, mode: mode.Perm()})
}

// Bytes adds a file with the given content.
func (a *Archive) Bytes(p string, data []byte, mode fs.FileMode) error {
	return a.put(p, &entry{kind: kindFile, mode: mode.Perm(), data: data})
}

// Copy adds the host file src (symlinks followed) at p, keeping its mode.
// It is read when the archive is written.
func (a *Archive) Copy(p, src string) error {
	st, err := os.Stat(src)
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("initramfs: %s is not a regular file", src)
	}
	return a.put(p, &entry{kind: kindFile, mode: st.Mode().Perm(), src: src})
}

// Symlink adds a symbolic link p → target.
func (a *Archive) Symlink(p, target string) error {
	return a.put(p, &entry{kind: kindSymlink, mode: 0o777, target: target})
}

// Has reports whether the archive holds p.
func (a *Archive) Has(p string) bool {
	c, err := clean(p)
	if err != nil {
		return false
	}
	_, ok := a.entries[c]
	return ok
}

// Paths lists what the archive holds, sorted.
func (a *Archive) Paths() []string {
	out := make([]string, 0, len(a.entries))
	for p := range a.entries {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// WriteTo writes the archive as newc cpio, parents before children, every
// entry owned by root with mtime 0 (the same inputs give the same bytes).
func (a *Archive) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	bw := bufio.NewWriterSize(cw, 1<<20)
	ino := uint32(1)
	for _, p := range a.Paths() {
		if err := a.entries[p].write(bw, p, ino); err != nil {
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

// WriteFile writes the archive to file, gzip-compressed if compress.
func (a *Archive) WriteFile(file string, compress bool) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	var w io.Writer = f
	var zw *gzip.Writer
	if compress {
		zw, _ = gzip.NewWriterLevel(f, gzip.BestSpeed)
		w = zw
	}
	_, err = a.WriteTo(w)
	if err == nil && zw != nil {
		err = zw.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(file)
	}
	return err
}

func (e *entry) write(w io.Writer, p string, ino uint32) error {
	var mode uint32
	var body io.Reader
	var size int64
	nlink := uint32(1)
	switch e.kind {
	case kindDir:
		mode, nlink = 0o040000|uint32(e.mode), 2
	case kindSymlink:
		mode = 0o120000 | uint32(e.mode)
		body, size = strings.NewReader(e.target), int64(len(e.target))
	case kindFile:
		mode = 0o100000 | uint32(e.mode)
		if e.src == "" {
			body, size = bytes.NewReader(e.data), int64(len(e.data))
			break
		}
		f, err := os.Open(e.src)
		if err != nil {
			return err
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return err
		}
		body, size = f, st.Size()
	}
	if size > math.MaxUint32 {
		return fmt.Errorf("initramfs: %s is too big for newc cpio", p)
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
		return fmt.Errorf("initramfs: %s changed size while being written", p)
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
