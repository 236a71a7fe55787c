// Package cgroup owns the cgroup filesystem for memlab: it detects the layout
// (legacy, hybrid, unified) and where the memory controller lives, and makes,
// limits, fills, reads and removes memory cgroups on v1 and v2 alike.
//
// Claims that teach a cgroup file read and write it raw through ReadFile and
// WriteFile; everything else goes through the typed helpers.
package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moby/sys/mountinfo"
)

// Mode is how the host mounts its cgroup hierarchies.
type Mode string

const (
	Legacy  Mode = "legacy"  // v1 hierarchies only
	Hybrid  Mode = "hybrid"  // v1 controllers plus a cgroup2 mount (systemd's "hybrid")
	Unified Mode = "unified" // cgroup2 only
)

var (
	// ErrNoCgroupFS: no cgroup filesystem is mounted at all.
	ErrNoCgroupFS = errors.New("no cgroup filesystem is mounted")
	// ErrNoMemoryController: cgroups are mounted but none carries the memory controller.
	ErrNoMemoryController = errors.New("no cgroup hierarchy carries the memory controller")
)

// Layout says where the memory controller can be driven from.
type Layout struct {
	Mode        Mode
	Version     int    // 1 or 2: the hierarchy that carries the memory controller
	MemoryRoot  string // mount point of that hierarchy
	UnifiedRoot string // the cgroup2 mount point, if any (it may lack memory)
}

// String reads like "hybrid, memory on v1 at /sys/fs/cgroup/memory".
func (l Layout) String() string {
	return fmt.Sprintf("%s, memory on v%d at %s", l.Mode, l.Version, l.MemoryRoot)
}

// VersionLabel is "v1" or "v2", the cgroup mode a claim's result is filed under.
func (l Layout) VersionLabel() string { return fmt.Sprintf("v%d", l.Version) }

// Detect reads this process's mount table.
func Detect() (Layout, error) {
	mounts, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("cgroup", "cgroup2"))
	if err != nil {
		return Layout{}, fmt.Errorf("reading the mount table: %w", err)
	}
	return detectFrom(mounts, readControllers)
}

// DetectFromMountinfo is Detect over a captured /proc/self/mountinfo, with
// the cgroup2 root's cgroup.controllers given as text.
func DetectFromMountinfo(mountinfoText, v2Controllers string) (Layout, error) {
	mounts, err := mountinfo.GetMountsFromReader(strings.NewReader(mountinfoText),
		mountinfo.FSTypeFilter("cgroup", "cgroup2"))
	if err != nil {
		return Layout{}, err
	}
	return detectFrom(mounts, func(string) string { return v2Controllers })
}

func detectFrom(mounts []*mountinfo.Info, controllers func(root string) string) (Layout, error) {
	var l Layout
	var v1Memory string
	v1Controllers := false
	for _, m := range mounts {
		switch m.FSType {
		case "cgroup2":
			if l.UnifiedRoot == "" || m.Root == "/" && m.Mountpoint < l.UnifiedRoot {
				l.UnifiedRoot = m.Mountpoint
			}
		case "cgroup":
			for opt := range strings.SplitSeq(m.VFSOptions, ",") {
				if opt == "memory" && (v1Memory == "" || m.Root == "/") {
					v1Memory = m.Mountpoint
				}
				if v1ControllerNames[opt] {
					v1Controllers = true
				}
			}
		}
	}
	switch {
	case v1Controllers && l.UnifiedRoot != "":
		l.Mode = Hybrid
	case v1Controllers:
		l.Mode = Legacy
	case l.UnifiedRoot != "":
		l.Mode = Unified
	default:
		if len(mounts) == 0 {
			return l, ErrNoCgroupFS
		}
		l.Mode = Legacy // only named v1 hierarchies (name=systemd)
	}
	switch {
	case v1Memory != "":
		l.Version, l.MemoryRoot = 1, v1Memory
	case l.UnifiedRoot != "" && hasWord(controllers(l.UnifiedRoot), "memory"):
		l.Version, l.MemoryRoot = 2, l.UnifiedRoot
	default:
		return l, fmt.Errorf("%w (layout %s)", ErrNoMemoryController, l.Mode)
	}
	return l, nil
}

// v1ControllerNames tells a controller from a mount option such as xattr or
// name=systemd, which a named hierarchy without controllers carries.
var v1ControllerNames = map[string]bool{
	"cpu": true, "cpuacct": true, "cpuset": true, "memory": true, "devices": true,
	"freezer": true, "net_cls": true, "net_prio": true, "blkio": true, "perf_event": true,
	"hugetlb": true, "pids": true, "rdma": true, "misc": true,
}

func readControllers(root string) string {
	b, _ := os.ReadFile(filepath.Join(root, "cgroup.controllers"))
	return string(b)
}

func hasWord(s, w string) bool { return slices.Contains(strings.Fields(s), w) }
