// Package rootfs assembles a root filesystem from the host's own programs:
// a static busybox with its applet links, dynamic programs with the shared
// libraries their ELF headers ask for (interpreter and DT_NEEDED, found the
// way the dynamic loader finds them), files given as bytes and directories.
// The same file set is written as a newc cpio archive (the kernel matrix's
// initramfs) or as a Docker build context (the lab image), so the image and
// the guest hold the same programs, found the same way.
package rootfs

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
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
	mode   fs.FileMode // permission, setuid, setgid and sticky bits
	data   []byte      // kindFile with no src
	src    string      // kindFile copied from the host at write time
	target string      // kindSymlink
}

// FS is a root filesystem being assembled; paths are absolute inside it.
// Host files are read only when it is written, so a writer streams them.
type FS struct {
	entries map[string]*entry
}

// New starts an empty root filesystem.
func New() *FS { return &FS{entries: map[string]*entry{}} }

// modeBits keeps what a root filesystem records of a mode: no type bits.
const modeBits = fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky

func clean(p string) (string, error) {
	if !strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("rootfs: path %q is not absolute", p)
	}
	c := path.Clean(p)
	if c == "/" {
		return "", fmt.Errorf("rootfs: cannot add the root itself")
	}
	return c, nil
}

func (f *FS) put(p string, e *entry) error {
	c, err := clean(p)
	if err != nil {
		return err
	}
	if old, ok := f.entries[c]; ok && (old.kind == kindDir) != (e.kind == kindDir) {
		return fmt.Errorf("rootfs: %s added both as a directory and not", c)
	}
	for d := path.Dir(c); d != "/"; d = path.Dir(d) {
		if old, ok := f.entries[d]; ok && old.kind != kindDir {
			return fmt.Errorf("rootfs: %s is not a directory (needed for %s)", d, c)
		}
	}
	f.entries[c] = e
	for d := path.Dir(c); d != "/"; d = path.Dir(d) {
		if _, ok := f.entries[d]; !ok {
			f.entries[d] = &entry{kind: kindDir, mode: 0o755}
		}
	}
	return nil
}

// Dir adds a directory (and its parents, 0755), or sets the mode of one
// already there; mode may carry the sticky bit (/tmp).
func (f *FS) Dir(p string, mode fs.FileMode) error {
	return f.put(p, &entry{kind: kindDir, mode: mode & modeBits})
}

// Bytes adds a file with the given content.
func (f *FS) Bytes(p string, data []byte, mode fs.FileMode) error {
	return f.put(p, &entry{kind: kindFile, mode: mode & modeBits, data: data})
}

// Copy adds the host file src (symlinks followed) at p, keeping its mode.
// It is read when the file set is written.
func (f *FS) Copy(p, src string) error {
	st, err := os.Stat(src)
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("rootfs: %s is not a regular file", src)
	}
	return f.put(p, &entry{kind: kindFile, mode: st.Mode() & modeBits, src: src})
}

// Symlink adds a symbolic link p → target.
func (f *FS) Symlink(p, target string) error {
	return f.put(p, &entry{kind: kindSymlink, mode: 0o777, target: target})
}

// Has reports whether the file set holds p.
func (f *FS) Has(p string) bool {
	c, err := clean(p)
	if err != nil {
		return false
	}
	_, ok := f.entries[c]
	return ok
}

// Paths lists what the file set holds, sorted, so a directory comes before
// what it holds.
func (f *FS) Paths() []string {
	out := make([]string, 0, len(f.entries))
	for p := range f.entries {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// unixMode is m's permission bits with setuid, setgid and sticky where
// cpio and tar headers keep them (04000, 02000, 01000).
func unixMode(m fs.FileMode) uint32 {
	u := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		u |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		u |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		u |= 0o1000
	}
	return u
}

// open gives a file entry's body and size: its bytes, or the host file.
func (e *entry) open() (io.ReadCloser, int64, error) {
	if e.src == "" {
		return io.NopCloser(bytes.NewReader(e.data)), int64(len(e.data)), nil
	}
	f, err := os.Open(e.src)
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, st.Size(), nil
}
