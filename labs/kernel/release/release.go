// Package release reads a kernel release (uname -r) and says which of the
// memory-cgroup behaviours memlab's verdicts depend on that kernel has.
// Each behaviour arrived in one upstream release; Floors lists them, with
// the commit where one is known, so that a verdict's reason can be derived
// from the running kernel instead of assuming the one it was written on.
package release

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// Version is a kernel release as uname -r prints it, and the upstream
// version it starts with: "6.12.117+deb13-cloud-amd64" is 6.12.117.
type Version struct {
	Release             string
	Major, Minor, Patch int
}

var syntax = regexp.MustCompile(`^([0-9]+)\.([0-9]+)(?:\.([0-9]+))?`)

// Parse reads a release such as "4.4.178", "5.10.0-32-cloud-amd64" or
// "6.18.44-fc-v1045". A string that does not start MAJOR.MINOR is an error:
// a verdict must not guess what kernel it ran on.
func Parse(release string) (Version, error) {
	release = strings.TrimSpace(release)
	m := syntax.FindStringSubmatch(release)
	if m == nil {
		return Version{}, fmt.Errorf("kernel release %q: want MAJOR.MINOR[.PATCH]", release)
	}
	v := Version{Release: release}
	var err error
	for i, p := range []*int{&v.Major, &v.Minor, &v.Patch} {
		if m[i+1] == "" {
			continue
		}
		if *p, err = strconv.Atoi(m[i+1]); err != nil {
			return Version{}, fmt.Errorf("kernel release %q: %w", release, err)
		}
	}
	return v, nil
}

// MustParse is Parse for releases written in code (tests, the article's).
func MustParse(release string) Version {
	v, err := Parse(release)
	if err != nil {
		panic(err)
	}
	return v
}

// OSRelease is where the running kernel's release is read.
const OSRelease = "/proc/sys/kernel/osrelease"

// Running is the release of the kernel this process runs on.
func Running() (Version, error) {
	b, err := os.ReadFile(OSRelease)
	if err != nil {
		return Version{}, err
	}
	return Parse(string(b))
}

// Article is the kernel series the article ran on: Ubuntu 16.04's 4.4.0-117.
var Article = MustParse("4.4.0-117-generic")

func (v Version) String() string { return v.Release }

// AtLeast says whether v is major.minor or newer.
func (v Version) AtLeast(major, minor int) bool {
	return v.Major > major || v.Major == major && v.Minor >= minor
}

// Has says whether v has a feature: whether it is at or above its floor.
func (v Version) Has(f Feature) bool {
	fl := FloorOf(f)
	return v.AtLeast(fl.Major, fl.Minor)
}

// ChargeBatchPages is MEMCG_CHARGE_BATCH: how many pages one CPU charges a
// group's page counter at a time, keeping the unused rest in its per-CPU
// stock. 32 until 6.1, 64 from it.
func (v Version) ChargeBatchPages() int {
	if v.Has(ChargeBatch64) {
		return 64
	}
	return 32
}
