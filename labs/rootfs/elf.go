package rootfs

import (
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
)

// LibraryDirs is where shared libraries are looked up on the host, in
// order (Debian's multiarch layout first, as its ld.so.conf has it).
var LibraryDirs = []string{
	"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
	"/lib64", "/usr/lib64", "/lib", "/usr/lib",
}

// Needs lists what a dynamic ELF program loads, as host paths: its
// interpreter (PT_INTERP) first, then every shared library its DT_NEEDED
// entries name, transitively, breadth first as the loader loads them. A
// name an object already loaded answers to (its DT_SONAME) is not looked up
// again: libc's need of ld-linux-x86-64.so.2 is met by the interpreter, as
// in the loader, so the list is ldd's. A static program needs nothing.
func Needs(program string) ([]string, error) {
	top, err := elf.Open(program)
	if err != nil {
		return nil, fmt.Errorf("rootfs: %s: %w", program, err)
	}
	defer top.Close()
	var out []string
	loaded := map[string]bool{} // sonames of what is loaded
	seen := map[string]bool{}   // host paths
	interp, err := interpreter(top)
	if err != nil {
		return nil, fmt.Errorf("rootfs: %s: %w", program, err)
	}
	if interp != "" {
		so, err := soname(interp)
		if err != nil {
			return nil, fmt.Errorf("rootfs: %s's interpreter: %w", program, err)
		}
		out, seen[interp], loaded[so] = append(out, interp), true, true
	}
	queue := []string{program}
	for len(queue) > 0 {
		file := queue[0]
		queue = queue[1:]
		f, err := elf.Open(file)
		if err != nil {
			return nil, fmt.Errorf("rootfs: %s: %w", file, err)
		}
		libs, err := f.ImportedLibraries()
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("rootfs: %s: %w", file, err)
		}
		for _, name := range libs {
			if loaded[name] {
				continue
			}
			host, err := findLibrary(name, top.Class, top.Machine)
			if err != nil {
				return nil, fmt.Errorf("rootfs: %s needs %s: %w", file, name, err)
			}
			loaded[name] = true
			if seen[host] {
				continue
			}
			so, err := soname(host)
			if err != nil {
				return nil, fmt.Errorf("rootfs: %s needs %s: %w", file, name, err)
			}
			out, seen[host], loaded[so] = append(out, host), true, true
			queue = append(queue, host)
		}
	}
	return out, nil
}

// interpreter is the program's PT_INTERP, "" for a static program.
func interpreter(f *elf.File) (string, error) {
	for _, p := range f.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		b := make([]byte, p.Filesz)
		if _, err := p.ReadAt(b, 0); err != nil {
			return "", fmt.Errorf("reading PT_INTERP: %w", err)
		}
		if n := len(b); n > 0 && b[n-1] == 0 {
			b = b[:n-1]
		}
		return string(b), nil
	}
	return "", nil
}

// soname is the name a shared object answers to: its DT_SONAME, else its
// file name.
func soname(file string) (string, error) {
	f, err := elf.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if names, err := f.DynString(elf.DT_SONAME); err == nil && len(names) > 0 {
		return names[0], nil
	}
	return filepath.Base(file), nil
}

// findLibrary looks name up in LibraryDirs, skipping objects of another
// class or machine (an i386 library in /usr/lib), as the loader does.
func findLibrary(name string, class elf.Class, machine elf.Machine) (string, error) {
	if filepath.IsAbs(name) {
		return name, nil
	}
	for _, d := range LibraryDirs {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err != nil || !st.Mode().IsRegular() {
			continue
		}
		f, err := elf.Open(p)
		if err != nil {
			continue
		}
		ok := f.Class == class && f.Machine == machine
		f.Close()
		if ok {
			return p, nil
		}
	}
	return "", fmt.Errorf("not found in %v", LibraryDirs)
}

// Program adds the host program src at dest with everything it loads, each
// library at the path it has on the host, where the interpreter looks.
func (f *FS) Program(dest, src string) error {
	needs, err := Needs(src)
	if err != nil {
		return err
	}
	if err := f.Copy(dest, src); err != nil {
		return err
	}
	for _, lib := range needs {
		if !f.Has(lib) {
			if err := f.Copy(lib, lib); err != nil {
				return err
			}
		}
	}
	return nil
}
