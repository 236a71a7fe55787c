package cgroup

import (
	"errors"
	"fmt"
	"regexp"

	units "github.com/docker/go-units"
)

// ErrBadSize: a memory size memlab cannot accept.
var ErrBadSize = errors.New("bad memory size")

// MinLimit is the smallest limit memlab sets: below a few pages the kernel
// cannot even start a process in the group, and a typo like "4" for "4m"
// would only produce a confusing OOM.
const MinLimit = 4 << 20

// ParseSize reads a size the way `docker run -m` does (docker/go-units:
// "100m" is 100 MiB, "1g" is 1 GiB, a bare number is bytes).
func ParseSize(s string) (int64, error) {
	if !sizeSyntax.MatchString(s) {
		return 0, fmt.Errorf("%w %q: want a positive number with an optional unit, like 100m or 1g", ErrBadSize, s)
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
var sizeSyntax = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?[kKmMgGtT]?[iI]?[bB]?$`)
