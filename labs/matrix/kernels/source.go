// Package kernels finds the kernel images the matrix boots: Debian's cloud
// kernels and Ubuntu's generic ones, fetched once through a private apt
// configuration and cached outside the repository, or any vmlinuz/bzImage
// the user brings.
package kernels

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/memlab/memlab/labs/inputfile"
)

// ErrBadList is a kernel list or KERNELS entry memlab cannot read.
var ErrBadList = errors.New("bad kernel list")

// The archives a kernel package can come from.
const (
	Debian = "debian"
	Ubuntu = "ubuntu"
)

// DefaultPackage is the metapackage a debian: source fetches when it names
// no package: Debian's cloud flavour, small and built for virtual machines.
const DefaultPackage = "linux-image-cloud-amd64"

// DefaultUbuntuPackage is the metapackage an ubuntu: source fetches when it
// names no package: the generic kernel, what an Ubuntu server runs (Ubuntu
// 16.04, the article's, ran 4.4.0-*-generic).
const DefaultUbuntuPackage = "linux-image-generic"

// Source is one line of the kernel list: a name for the matrix's columns and
// where the image comes from.
type Source struct {
	Name    string `json:"name"`
	Archive string `json:"archive,omitempty"` // Debian or Ubuntu: a package of that archive
	Suite   string `json:"suite,omitempty"`   // bookworm, trixie, xenial, jammy...
	Package string `json:"package,omitempty"`
	Path    string `json:"path,omitempty"` // a kernel image the user brings
}

func (s Source) String() string {
	if s.Path != "" {
		return s.Path
	}
	return s.Archive + ":" + s.Suite + "/" + s.Package
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]*$`)

// ParseEntry reads one entry: "[NAME=]debian:SUITE[/PACKAGE]",
// "[NAME=]ubuntu:SUITE[/PACKAGE]" or "[NAME=]PATH". Without a name, an
// archive's kernel is named after its suite and a path after its file
// (vmlinuz-6.1.0-x → 6.1.0-x).
func ParseEntry(entry string) (Source, error) {
	entry = strings.TrimSpace(entry)
	var s Source
	if strings.HasPrefix(entry, "=") {
		return s, fmt.Errorf("%w: %q: an empty name before \"=\" (want NAME=SOURCE, or SOURCE alone)", ErrBadList, entry)
	}
	if i := strings.IndexByte(entry, '='); i > 0 && !strings.ContainsAny(entry[:i], "/:") {
		s.Name, entry = entry[:i], entry[i+1:]
	}
	if entry == "" {
		return s, fmt.Errorf("%w: empty kernel source", ErrBadList)
	}
	archive, rest, isArchive := strings.Cut(entry, ":")
	if isArchive && (archive == Debian || archive == Ubuntu) {
		s.Archive = archive
		def := DefaultPackage
		if archive == Ubuntu {
			def = DefaultUbuntuPackage
		}
		s.Suite, s.Package, _ = strings.Cut(rest, "/")
		if s.Package == "" {
			s.Package = def
		}
		if !nameRE.MatchString(s.Suite) || !nameRE.MatchString(s.Package) {
			return s, fmt.Errorf("%w: %q: want %s:SUITE[/PACKAGE]", ErrBadList, entry, archive)
		}
		if s.Name == "" {
			s.Name = s.Suite
			if s.Package != def {
				s.Name += "-" + s.Package
			}
		}
	} else {
		s.Path = entry
		if s.Name == "" {
			base := filepath.Base(entry)
			for _, p := range []string{"vmlinuz-", "bzImage-", "vmlinux-"} {
				base = strings.TrimPrefix(base, p)
			}
			s.Name = base
		}
	}
	if !nameRE.MatchString(s.Name) {
		return s, fmt.Errorf("%w: kernel name %q: use letters, digits, '.', '_', '+', '-'", ErrBadList, s.Name)
	}
	return s, nil
}

// ParseList reads a kernel list: one "NAME SOURCE" or "SOURCE" per line,
// '#' starts a comment. Names must be unique.
func ParseList(r io.Reader) ([]Source, error) {
	var out []Source
	seen := map[string]bool{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		var entry string
		switch len(f) {
		case 0:
			continue
		case 1:
			entry = f[0]
		case 2:
			// Checked here: joined as NAME=SOURCE, a name holding '=' would
			// split elsewhere and name the kernel otherwise.
			if !nameRE.MatchString(f[0]) {
				return nil, fmt.Errorf("%w: line %d: kernel name %q: use letters, digits, '.', '_', '+', '-'", ErrBadList, n, f[0])
			}
			entry = f[0] + "=" + f[1]
		default:
			return nil, fmt.Errorf("%w: line %d: want NAME SOURCE", ErrBadList, n)
		}
		s, err := ParseEntry(entry)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if seen[s.Name] {
			return nil, fmt.Errorf("%w: line %d: kernel name %q twice", ErrBadList, n, s.Name)
		}
		seen[s.Name] = true
		out = append(out, s)
	}
	return out, sc.Err()
}

// ParseEntries reads a KERNELS value: entries separated by commas or spaces.
func ParseEntries(list string) ([]Source, error) {
	var out []Source
	seen := map[string]bool{}
	for _, e := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' }) {
		s, err := ParseEntry(e)
		if err != nil {
			return nil, err
		}
		if seen[s.Name] {
			return nil, fmt.Errorf("%w: kernel name %q twice (name them: NAME=SOURCE)", ErrBadList, s.Name)
		}
		seen[s.Name] = true
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no kernels given", ErrBadList)
	}
	return out, nil
}

// ResolvePaths makes the relative image paths of a list relative to dir,
// the list's own directory: a list names images beside it, wherever memlab
// runs from.
func ResolvePaths(srcs []Source, dir string) []Source {
	out := make([]Source, len(srcs))
	for i, s := range srcs {
		if s.Path != "" && !filepath.IsAbs(s.Path) {
			s.Path = filepath.Join(dir, s.Path)
		}
		out[i] = s
	}
	return out
}

// maxList bounds a kernel list file: a real one is a few hundred bytes.
const maxList = 1 << 20

// LoadList reads a kernel list file; relative image paths in it are
// relative to the file.
func LoadList(path string) ([]Source, error) {
	data, err := inputfile.Read(path, maxList)
	if err != nil {
		return nil, err
	}
	out, err := ParseList(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %s lists no kernels", ErrBadList, path)
	}
	return ResolvePaths(out, filepath.Dir(path)), nil
}
