package guest

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
)

// ErrBadSuiteBinary: a prebuilt suite binary the guest cannot run: the
// guest is x86-64 with no dynamic loader, so only a static x86-64
// executable runs there. Found before anything is built or booted,
// rather than as a guest that "ran no suite" half a minute later.
var ErrBadSuiteBinary = errors.New("not a static x86-64 executable")

// CheckSuiteBinary says whether path is a suite binary the guest can run:
// a regular, executable, 64-bit x86-64 ELF file with no program
// interpreter (PT_INTERP: a dynamic loader the guest does not have).
func CheckSuiteBinary(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadSuiteBinary, err)
	}
	if !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%w: %s: not an executable file", ErrBadSuiteBinary, path)
	}
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrBadSuiteBinary, path, err)
	}
	defer f.Close()
	if f.Class != elf.ELFCLASS64 || f.Machine != elf.EM_X86_64 {
		return fmt.Errorf("%w: %s: %s %s", ErrBadSuiteBinary, path, f.Class, f.Machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%w: %s: dynamically linked (build it with CGO_ENABLED=0 go test -c)", ErrBadSuiteBinary, path)
		}
	}
	return nil
}
