package harness

import (
	"context"
	"fmt"
	"io/fs"
	"net"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/memlab/memlab/labs/kernel/cgroup"
)

// Machine is what a run can leave outside the memory hierarchy (which
// Snapshot covers): mounts in this mount namespace, directories under
// every other cgroup hierarchy, and network interfaces in this network
// namespace.
type Machine struct {
	Mounts     map[int]string  // mount ID -> "TARGET (FSTYPE)"
	mountPoint map[int]string  // mount ID -> TARGET
	CgroupDirs map[string]bool // absolute directories below the roots, memory hierarchy left out
	Interfaces map[string]bool
}

// Machine reads the state now.
func (h *Harness) Machine() Machine {
	m := Machine{Mounts: map[int]string{}, mountPoint: map[int]string{}, CgroupDirs: map[string]bool{}, Interfaces: map[string]bool{}}
	mounts, _ := mountinfo.GetMounts(nil)
	var roots []string
	for _, mi := range mounts {
		m.Mounts[mi.ID] = fmt.Sprintf("%s (%s)", mi.Mountpoint, mi.FSType)
		m.mountPoint[mi.ID] = mi.Mountpoint
		if (mi.FSType == "cgroup" || mi.FSType == "cgroup2") && mi.Mountpoint != h.Layout.MemoryRoot {
			roots = append(roots, mi.Mountpoint)
		}
	}
	for _, root := range roots {
		_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() && path != root {
				m.CgroupDirs[path] = true
			}
			return nil
		})
	}
	ifs, _ := net.Interfaces()
	for _, i := range ifs {
		m.Interfaces[i.Name] = true
	}
	return m
}

// cgroupRoot is the mount point of the hierarchy a directory of
// CgroupDirs is in: the nearest directory above it that is not in
// CgroupDirs, which holds every directory below each root (a walk reaches
// a directory only through its parent) but not the roots.
func (m Machine) cgroupRoot(dir string) string {
	root := filepath.Dir(dir)
	for m.CgroupDirs[root] {
		root = filepath.Dir(root)
	}
	return root
}

// Strays lists, and removes, what appeared since before and is the
// runner's: new mounts (unmounted, deepest first), new cgroup directories
// outside the memory hierarchy that hold none but our processes (emptied
// and removed), new network interfaces (deleted). Each line names one
// thing and says it was removed, or why it could not be.
func (h *Harness) Strays(before Machine) []string {
	now := h.Machine()
	var out []string
	var mounts []int
	for id := range now.Mounts {
		if _, ok := before.Mounts[id]; !ok {
			mounts = append(mounts, id)
		}
	}
	sort.Sort(sort.Reverse(sort.IntSlice(mounts))) // the newest first: mounts on top of mounts
	if !h.Private {
		mounts = nil
	}
	for _, id := range mounts {
		line := "mount " + now.Mounts[id]
		if err := unix.Unmount(now.mountPoint[id], unix.MNT_DETACH); err != nil {
			line += fmt.Sprintf(" (memlab could not unmount it: %v)", err)
		} else {
			line += " (unmounted by memlab)"
		}
		out = append(out, line)
	}
	mine := map[int]bool{h.self: true}
	for _, p := range h.Descendants() {
		mine[p.PID] = true
	}
	var dirs []string
	for d := range now.CgroupDirs {
		// As for memory groups: a new group inside one the machine
		// already had is that group's owner's.
		if !before.CgroupDirs[d] && judged(now.cgroupRoot(d), d, before.CgroupDirs) && !h.foreignDir(d, mine) {
			dirs = append(dirs, d)
		}
	}
	sort.Slice(dirs, func(i, j int) bool { return strings.Count(dirs[i], "/") > strings.Count(dirs[j], "/") })
	for _, d := range dirs {
		line := "cgroup " + d
		version := 1
		if h.Layout.UnifiedRoot != "" && strings.HasPrefix(d, h.Layout.UnifiedRoot+"/") {
			version = 2
		}
		if err := cgroup.RemoveTree(context.Background(), cgroup.Layout{Version: version}, d); err != nil {
			line += fmt.Sprintf(" (memlab could not remove it: %v)", err)
		} else {
			line += " (removed by memlab)"
		}
		out = append(out, line)
	}
	for name := range now.Interfaces {
		if before.Interfaces[name] || !h.Private {
			continue
		}
		line := "network interface " + name
		if b, err := exec.Command("ip", "link", "delete", name).CombinedOutput(); err != nil {
			line += fmt.Sprintf(" (memlab could not delete it: %v %s)", err, strings.TrimSpace(string(b)))
		} else {
			line += " (deleted by memlab)"
		}
		out = append(out, line)
	}
	return out
}

// foreignDir says whether a cgroup directory, or one below it, holds a
// process that is not the suite's or the runner's: other work on this
// machine, left alone.
func (h *Harness) foreignDir(dir string, mine map[int]bool) bool {
	foreign := false
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil //nolint:nilerr // a group removed while we walk holds nothing
		}
		for _, pid := range readProcs(path) {
			if !mine[pid] {
				foreign = true
				return filepath.SkipAll
			}
		}
		return nil
	})
	return foreign
}
