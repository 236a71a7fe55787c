package initramfs

import (
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
)

// LibraryDirs is where shared libraries are looked up on the host, in
// order (Debian's multiarch layout first).
var LibraryDirs = []string{
	"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
	"/lib64", "/usr/lib64", "/lib", "/usr/lib",
}

// Needs lists what a dynamic ELF binary loads: its interpreter and every
// shared library it needs, transitively, as host paths. A static binary
// needs nothing.
func Needs(binary string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	var walk func(file string, top bool) error
	walk = func(file string, top bool) error {
		f, err := elf.Open(file)
		if err != nil {
			return fmt.Errorf("initramfs: %s: %w", file, err)
		}
		defer f.Close()
		if top {
			for _, p := range f.Progs {
				if p.Type != elf.PT_INTERP {
					continue
				}
				b := make([]byte, p.Filesz)
				if _, err := p.ReadAt(b, 0); err != nil {
					return fmt.Errorf("initramfs: %s: reading PT_INTERP: %w", file, err)
				}
				interp := string(b)
				if i := len(interp) - 1; i >= 0 && interp[i] == 0 {
					interp = interp[:i]
				}
				if !seen[interp] {
					seen[interp] = true
					out = append(out, interp)
				}
			}
		}
		libs, err := f.ImportedLibraries()
		if err != nil {
			return fmt.Errorf("initramfs: %s: %w", file, err)
		}
		for _, lib := range libs {
			host, err := findLibrary(lib)
			if err != nil {
				return fmt.Errorf("initramfs: %s needs %s: %w", file, lib, err)
			}
			if seen[host] {
				continue
			}
			seen[host] = true
			out = append(out, host)
			if err := walk(host, false); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(binary, true); err != nil {
		return nil, err
	}
	return out, nil
}

func findLibrary(name string) (string, error) {
	if filepath.IsAbs(name) {
		return name, nil
	}
	for _, d := range LibraryDirs {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("not found in %v", LibraryDirs)
}

// Binary adds the host binary src at dest with everything it loads, each
// library at the path it has on the host, so the interpreter finds it.
func (a *Archive) Binary(dest, src string) error {
	needs, err := Needs(src)
	if err != nil {
		return err
	}
	if err := a.Copy(dest, src); err != nil {
		return err
	}
	for _, lib := range needs {
		if !a.Has(lib) {
			if err := a.Copy(lib, lib); err != nil {
				return err
			}
		}
	}
	return nil
}
