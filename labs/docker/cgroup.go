package docker

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"

	"github.com/memlab/memlab/labs/kernel/cgroup"
	"github.com/memlab/memlab/labs/kernel/proc"
)

// Driver is the engine's cgroup driver, as the directory it made tells it.
type Driver string

const (
	// Cgroupfs: dockerd writes the cgroupfs itself, one directory named by
	// the container ID under its cgroup parent: docker/<id>.
	Cgroupfs Driver = "cgroupfs"
	// Systemd: dockerd asks systemd for a transient scope unit, which
	// systemd names docker-<id>.scope in a slice: system.slice/docker-<id>.scope.
	Systemd Driver = "systemd"
)

// Location is where a container's memory cgroup is, and how it was found.
type Location struct {
	Dir    string // absolute directory
	Rel    string // relative to the memory hierarchy's root, e.g. docker/<id>
	Driver Driver // which driver's naming the directory follows
	// FromProc is the path /proc/PID/cgroup gave for the container's init
	// (relative, without the leading "/"); empty when no PID was given.
	FromProc string
	// Matches is every directory the search by ID found, relative to the
	// root, as the article's `find . -name "*ID*"` lists them: with the
	// systemd driver a -shm.mount unit matches too.
	Matches []string
}

// Host is the filesystem a search looks at: the memory hierarchy of a
// layout and a /proc. Tests point both at captured trees.
type Host struct {
	Layout cgroup.Layout
	Proc   string // default /proc
}

// searchDepth bounds the walk: systemd puts scopes two levels down,
// Kubernetes' kubelet four (kubepods/burstable/pod<uid>/<id>).
const searchDepth = 6

// Find locates the memory cgroup of container id, whose init has host PID
// pid (0: search by ID only). Both ways must agree; ErrNoCgroup if neither
// finds a directory named the way Docker names one.
func (h Host) Find(id string, pid int) (Location, error) {
	if len(id) < 12 {
		return Location{}, fmt.Errorf("container ID %q: want the full ID, not a prefix", id)
	}
	var loc Location
	if pid > 0 {
		rel, err := h.FromPID(pid)
		if err != nil {
			return loc, err
		}
		loc.FromProc = rel
	}
	matches, err := h.Search(id)
	if err != nil {
		return loc, err
	}
	loc.Matches = matches
	var found []string
	for _, m := range matches {
		if _, ok := DriverOf(m, id); ok {
			found = append(found, m)
		}
	}
	switch {
	case len(found) > 1:
		return loc, fmt.Errorf("%w: %d directories are named for container %s: %s", ErrNoCgroup, len(found), short(id), strings.Join(found, ", "))
	case len(found) == 1 && loc.FromProc != "" && found[0] != loc.FromProc:
		return loc, fmt.Errorf("%w: the search by ID found %s but /proc/%d/cgroup says %s", ErrNoCgroup, found[0], pid, loc.FromProc)
	case len(found) == 1:
		loc.Rel = found[0]
	case loc.FromProc != "":
		return loc, fmt.Errorf("%w: /proc/%d/cgroup says %s, which is not named for container %s, and the search by ID found %v",
			ErrNoCgroup, pid, loc.FromProc, short(id), matches)
	default:
		return loc, fmt.Errorf("%w: nothing under %s is named for container %s", ErrNoCgroup, h.Layout.MemoryRoot, short(id))
	}
	loc.Driver, _ = DriverOf(loc.Rel, id)
	loc.Dir = filepath.Join(h.Layout.MemoryRoot, loc.Rel)
	return loc, nil
}

// DriverOf says which driver names a directory like rel for container id:
// cgroupfs makes <parent>/<id>, systemd makes <slice>/docker-<id>.scope.
func DriverOf(rel, id string) (Driver, bool) {
	switch filepath.Base(rel) {
	case id:
		return Cgroupfs, true
	case "docker-" + id + ".scope":
		return Systemd, true
	}
	return "", false
}

// FromPID reads which memory cgroup a process is in from /proc/PID/cgroup
// (labs/kernel/proc), relative to the hierarchy's root.
func (h Host) FromPID(pid int) (string, error) {
	procRoot := h.Proc
	if procRoot == "" {
		procRoot = "/proc"
	}
	rel, err := proc.MemoryCgroup(procRoot, pid)
	if err != nil {
		return "", err
	}
	return strings.TrimPrefix(rel, "/"), nil
}

// Search is the article's `find . -name "*ID*"` run at the memory
// hierarchy's root: every directory whose name contains the ID, relative
// to the root, sorted. It does not descend into what it found.
func (h Host) Search(id string) ([]string, error) {
	root := h.Layout.MemoryRoot
	var found []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path != root && errors.Is(err, fs.ErrNotExist) {
				return nil // a cgroup removed while we walked
			}
			return err
		}
		if !d.IsDir() || path == root {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		if strings.Contains(d.Name(), id) {
			found = append(found, rel)
			return fs.SkipDir
		}
		if strings.Count(rel, string(filepath.Separator)) >= searchDepth-1 {
			return fs.SkipDir
		}
		return nil
	})
	sort.Strings(found)
	return found, err
}

// Group is a read-only view of the container's memory cgroup through
// memlab's cgroup package (ReadFile, Usage, Stat, Procs, ...). Never Remove
// it: the engine owns the directory.
func (l Location) Group(layout cgroup.Layout) *cgroup.Group {
	return &cgroup.Group{Layout: layout, Files: cgroup.FilesFor(layout.Version), Name: l.Rel, Path: l.Dir}
}
