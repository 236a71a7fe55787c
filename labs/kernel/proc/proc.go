// Package proc answers the questions the labs ask of /proc: which processes
// descend from a PID, which threads a process has, which memory cgroup a
// thread is in, how much memory a process holds (top's RES), and whether the
// process that made something is still alive (RunID). Parsing is
// prometheus/procfs's.
package proc

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/prometheus/procfs"
)

// Process is one process as the labs describe it.
type Process struct {
	PID     int
	PPID    int
	Comm    string
	State   string   // "R", "S", "Z" (a zombie: exited, not yet reaped), ...
	Cmdline []string // read for the processes Tree returns
}

func (p Process) String() string { return fmt.Sprintf("%s %d", p.Comm, p.PID) }

// Tree returns pid and every process descending from it, parents first.
func Tree(pid int) ([]Process, error) {
	all, err := procfs.AllProcs()
	if err != nil {
		return nil, err
	}
	children := map[int][]Process{}
	var root *Process
	for _, p := range all {
		st, err := p.Stat()
		if err != nil {
			continue // it exited while we looked
		}
		pr := Process{PID: st.PID, PPID: st.PPID, Comm: st.Comm, State: st.State}
		if pr.PID == pid {
			root = &pr
		}
		children[pr.PPID] = append(children[pr.PPID], pr)
	}
	if root == nil {
		return nil, fmt.Errorf("no process %d", pid)
	}
	out := []Process{*root}
	for i := 0; i < len(out); i++ {
		kids := children[out[i].PID]
		sort.Slice(kids, func(a, b int) bool { return kids[a].PID < kids[b].PID })
		out = append(out, kids...)
	}
	for i := range out {
		if p, err := procfs.NewProc(out[i].PID); err == nil {
			out[i].Cmdline, _ = p.CmdLine()
		}
	}
	return out, nil
}

// Threads lists a process's thread IDs.
func Threads(pid int) ([]int, error) {
	ts, err := procfs.AllThreads(pid)
	if err != nil {
		return nil, err
	}
	ids := make([]int, 0, len(ts))
	for _, t := range ts {
		ids = append(ids, t.PID)
	}
	sort.Ints(ids)
	return ids, nil
}

// ThreadMemoryCgroup says which memory cgroup one thread is in.
func ThreadMemoryCgroup(pid, tid int) (string, error) {
	return MemoryCgroup(fmt.Sprintf("/proc/%d/task", pid), tid)
}

// MemoryCgroup says which memory cgroup a process is in, read from
// procRoot/PID/cgroup (procRoot is /proc, or a captured tree in tests): the
// path of its v1 "memory" line, or else of its v2 line ("0::/..."), relative
// to the hierarchy's root and starting with "/".
func MemoryCgroup(procRoot string, pid int) (string, error) {
	fs, err := procfs.NewFS(procRoot)
	if err != nil {
		return "", err
	}
	p, err := fs.Proc(pid)
	if err != nil {
		return "", err
	}
	cgs, err := p.Cgroups()
	if err != nil {
		return "", err
	}
	v2 := ""
	for _, c := range cgs {
		if slices.Contains(c.Controllers, "memory") {
			return absolute(c.Path, procRoot, pid)
		}
		if c.HierarchyID == 0 {
			v2 = c.Path
		}
	}
	if v2 == "" {
		return "", fmt.Errorf("%s/%d/cgroup has no memory cgroup line", procRoot, pid)
	}
	return absolute(v2, procRoot, pid)
}

// absolute refuses a cgroup path the kernel would not write: it always
// starts with "/" (one seen from inside a cgroup namespace may go on with
// "/.."), and callers join it to a hierarchy's mount point.
func absolute(p, procRoot string, pid int) (string, error) {
	if !strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("%s/%d/cgroup: cgroup path %q does not start with /", procRoot, pid, p)
	}
	return p, nil
}

// StartTime is a process's start time in clock ticks since boot
// (/proc/PID/stat field 22): with the PID it names one process for good,
// where a PID alone may have been reused.
func StartTime(pid int) (uint64, error) {
	st, err := stat(pid)
	return st.Starttime, err
}

// ResidentBytes is a process's resident memory, what top shows as RES.
func ResidentBytes(pid int) (int64, error) {
	st, err := stat(pid)
	return int64(st.ResidentMemory()), err
}

// PageTableBytes is how much memory a process's page tables take (VmPTE),
// kernel memory that a memory cgroup is charged for.
func PageTableBytes(pid int) (int64, error) {
	st, err := ReadStatus(pid)
	return st.PageTables, err
}

// Status is one process's names and memory as /proc/PID/status tells them.
type Status struct {
	PID        int    // as this process sees it (the host's, from the host)
	NSPID      int    // the PID it has inside its own PID namespace
	Comm       string // what top shows as COMMAND
	Resident   int64  // VmRSS: top's RES
	Anon       int64  // RssAnon: its private memory, charged to its cgroup
	File       int64  // RssFile: mapped file pages, charged to whoever read them first
	PageTables int64  // VmPTE: its page tables, kernel memory charged to its cgroup
	Cmdline    []string
}

func (s Status) String() string {
	return fmt.Sprintf("%s %d (PID %d inside)", s.Comm, s.PID, s.NSPID)
}

// ReadStatus reads a process's memory and names.
func ReadStatus(pid int) (Status, error) {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return Status{}, err
	}
	st, err := p.NewStatus()
	if err != nil {
		return Status{}, err
	}
	s := Status{
		PID: pid, NSPID: pid, Comm: st.Name, Resident: int64(st.VmRSS), Anon: int64(st.RssAnon), File: int64(st.RssFile),
		PageTables: int64(st.VmPTE),
	}
	// Before 4.5 status has no RssAnon or RssFile (8cee852ec53f): there,
	// statm's shared is the file pages (shmem among them) and the rest of
	// resident the private ones.
	if raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil && !bytes.Contains(raw, []byte("\nRssAnon:")) {
		if anon, file, err := statmSplit(pid); err == nil {
			s.Anon, s.File = anon, file
		}
	}
	// NSpid lists the PID in each namespace, outermost first.
	if n := len(st.NSpids); n > 0 {
		s.NSPID = int(st.NSpids[n-1])
	}
	s.Cmdline, _ = p.CmdLine()
	return s, nil
}

// statmSplit is a process's private and file-backed resident bytes from
// /proc/PID/statm (size resident shared ..., in pages).
func statmSplit(pid int) (anon, file int64, err error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/statm", pid))
	if err != nil {
		return 0, 0, err
	}
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return 0, 0, fmt.Errorf("/proc/%d/statm: %q", pid, raw)
	}
	resident, err1 := strconv.ParseInt(f[1], 10, 64)
	shared, err2 := strconv.ParseInt(f[2], 10, 64)
	if err1 != nil || err2 != nil || shared > resident {
		return 0, 0, fmt.Errorf("/proc/%d/statm: %q", pid, raw)
	}
	page := int64(os.Getpagesize())
	return (resident - shared) * page, shared * page, nil
}

// stat reads /proc/PID/stat.
func stat(pid int) (procfs.ProcStat, error) {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return procfs.ProcStat{}, err
	}
	return p.Stat()
}

// Names renders processes as "comm pid, comm pid".
func Names(ps []Process) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}

// SelfPeakKiB is this process's own peak resident memory (VmHWM), 0 if
// /proc cannot tell.
func SelfPeakKiB() int64 {
	p, err := procfs.Self()
	if err != nil {
		return 0
	}
	st, err := p.NewStatus()
	if err != nil {
		return 0
	}
	return int64(st.VmHWM / 1024)
}
