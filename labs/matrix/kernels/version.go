package kernels

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is a kernel's major.minor, read from its release (uname -r).
type Version struct{ Major, Minor int }

func (v Version) String() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// Before reports whether v is older than major.minor.
func (v Version) Before(major, minor int) bool {
	return v.Major < major || v.Major == major && v.Minor < minor
}

// ParseVersion reads the major.minor a release starts with
// ("4.4.178-memlab", "6.1.0-50-cloud-amd64", "6.12.117+deb13-cloud-amd64");
// ok is false for "unknown" and anything else without one.
func ParseVersion(release string) (v Version, ok bool) {
	major, rest, found := strings.Cut(release, ".")
	if !found {
		return v, false
	}
	end := 0
	for end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
		end++
	}
	var err1, err2 error
	v.Major, err1 = strconv.Atoi(major)
	v.Minor, err2 = strconv.Atoi(rest[:end])
	return v, err1 == nil && err2 == nil && v.Major > 0
}
