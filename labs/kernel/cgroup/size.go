package cgroup

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	units "github.com/docker/go-units"
)

// ErrBadSize: a memory size memlab cannot accept.
var ErrBadSize = errors.New("bad memory size")

// MinLimit is the smallest limit memlab sets: below a few pages the kernel
// cannot even start a process in the group, and a typo like "4" for "4m"
// would only produce a confusing OOM.
const MinLimit = 4 << 20

// MaxLimit is the largest: the kernel keeps a limit in pages and reads
// about 8 EiB (LONG_MAX bytes) as no limit at all, and a size past int64
// would wrap to a negative number; 4 EiB is clear of both.
const MaxLimit = 1 << 62

// ParseSize reads a size the way `docker run -m` does (docker/go-units:
// "100m" is 100 MiB, "1g" is 1 GiB, a bare number is bytes).
func ParseSize(s string) (int64, error) {
	m := sizeSyntax.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("%w %q: want a positive number with an optional unit, like 100m or 1g", ErrBadSize, s)
	}
	// go-units converts a float that overflows int64 to whatever the CPU
	// gives (a negative number on amd64), so the size is weighed first.
	if approx, err := strconv.ParseFloat(m[1], 64); err != nil || approx*float64(unitBytes(m[2])) > MaxLimit {
		return 0, fmt.Errorf("%w %q: too large: memlab's maximum is %s", ErrBadSize, s, units.BytesSize(MaxLimit))
	}
	n, err := units.RAMInBytes(s)
	if err != nil {
		return 0, fmt.Errorf("%w %q: %w", ErrBadSize, s, err)
	}
	if n < MinLimit {
		return 0, fmt.Errorf("%w %q: below memlab's minimum of %s", ErrBadSize, s, units.BytesSize(MinLimit))
	}
	return n, nil
}

// sizeSyntax is stricter than go-units alone, which accepts "1.5.5m" and
// spaces; a lab should reject what a student did not mean.
var sizeSyntax = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)([kKmMgGtT]?)[iI]?[bB]?$`)

// unitBytes is the multiplier of a size's unit letter (docker's are all
// binary: "m" is MiB).
func unitBytes(letter string) int64 {
	switch strings.ToLower(letter) {
	case "k":
		return units.KiB
	case "m":
		return units.MiB
	case "g":
		return units.GiB
	case "t":
		return units.TiB
	}
	return 1
}
