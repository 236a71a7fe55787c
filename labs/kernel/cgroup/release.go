package cgroup

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
)

var releaseSyntax = regexp.MustCompile(`^([0-9]+)\.([0-9]+)`)

// KernelVersion reads the major and minor version out of a kernel release
// string such as "5.10.0-35-amd64". Which files and counters a memory
// cgroup has depends on it.
func KernelVersion(release string) (major, minor int, err error) {
	m := releaseSyntax.FindStringSubmatch(release)
	if m == nil {
		return 0, 0, fmt.Errorf("kernel release %q: want MAJOR.MINOR...", release)
	}
	major, _ = strconv.Atoi(m[1])
	minor, _ = strconv.Atoi(m[2])
	return major, minor, nil
}

// AtLeast says whether release is major.minor or newer.
func AtLeast(release string, major, minor int) (bool, error) {
	ma, mi, err := KernelVersion(release)
	return ma > major || ma == major && mi >= minor, err
}

// Release is the running kernel's release string.
func Release() (string, error) {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	return strings.TrimSpace(string(b)), err
}
