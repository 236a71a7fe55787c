// Package runner is the article's program done right: it makes a memory
// cgroup, re-executes its own binary through /proc/self/exe into new
// namespaces, puts that child into the group before it runs anything, runs
// the workload under it, and reports what the kernel did.
package runner

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/memlab/memlab/labs/kernel/cgroup"
)

// Attach is the order in which the child joins its cgroup.
type Attach string

const (
	// BeforeExec: the child sets itself up, reports in and waits on a pipe
	// until the parent has written its PID to cgroup.procs, so everything
	// it goes on to run is confined, while the memory its Go runtime took
	// to start stays charged where it was allocated. memlab's default, on
	// v1 and v2 alike.
	BeforeExec Attach = "before-exec"
	// AfterStart: the article's order. The child starts running at once and
	// the parent then writes its PID to tasks (v1) or cgroup.procs (v2).
	AfterStart Attach = "after-start"
	// AfterWorkload: the article's order with its race lost on purpose.
	// The child starts the workload at once, as in AfterStart, and reports
	// in only then; the parent writes its PID (v1: to tasks) after that
	// report. It shows what the article's order does whenever the child
	// is quicker than the write: the workload it already forked stays
	// outside the group, every time.
	AfterWorkload Attach = "after-workload"
	// ThreadBeforeExec: the child waits as in BeforeExec, but the parent
	// writes its PID to v1's tasks file, the article's file. It shows what
	// that file does: the Go child already runs several threads, and only
	// the one whose ID was written moves.
	ThreadBeforeExec Attach = "thread-before-exec"
	// CloneInto: the child is born inside the group, by clone3 with
	// CLONE_INTO_CGROUP (cgroup v2, kernel 5.7 and later). Its Go runtime
	// then starts up inside too, and the group is charged for it (some
	// MiB) before the workload runs: it shows what BeforeExec keeps out.
	CloneInto Attach = "clone-into"
)

// Attaches are every order, BeforeExec first.
var Attaches = []Attach{BeforeExec, AfterStart, AfterWorkload, ThreadBeforeExec, CloneInto}

// ParseAttach reads --attach.
func ParseAttach(s string) (Attach, error) {
	if slices.Contains(Attaches, Attach(s)) {
		return Attach(s), nil
	}
	return "", fmt.Errorf("%w: --attach %q: want %s, %s, %s, %s or %s", ErrUsage, s, BeforeExec, AfterStart, AfterWorkload, ThreadBeforeExec, CloneInto)
}

// namespaceFlags maps --ns names to clone flags.
var namespaceFlags = map[string]uintptr{
	"uts": syscall.CLONE_NEWUTS,
	"mnt": syscall.CLONE_NEWNS,
	"pid": syscall.CLONE_NEWPID,
	"ipc": syscall.CLONE_NEWIPC,
}

// ParseNamespaces reads --ns: a comma list such as "uts,mnt,pid", or "none".
func ParseNamespaces(s string) (uintptr, error) {
	var flags uintptr
	switch s {
	case "none":
		return 0, nil
	case "": // an unset variable in a script, more likely than a wish for none
		return 0, fmt.Errorf("%w: --ns '': name the namespaces (known: %s), or none", ErrUsage, knownNamespaces())
	}
	for name := range strings.SplitSeq(s, ",") {
		f, ok := namespaceFlags[strings.TrimSpace(name)]
		if !ok {
			return 0, fmt.Errorf("%w: --ns %q: unknown namespace %q (known: %s, or none)", ErrUsage, s, name, knownNamespaces())
		}
		flags |= f
	}
	return flags, nil
}

func knownNamespaces() string {
	known := make([]string, 0, len(namespaceFlags))
	for k := range namespaceFlags {
		known = append(known, k)
	}
	sort.Strings(known)
	return strings.Join(known, ",")
}

// DefaultNamespaces are the article's: UTS, mount and PID.
const DefaultNamespaces = "uts,mnt,pid"

var (
	// ErrUsage: the command line is wrong.
	ErrUsage = errors.New("usage")
	// ErrCommandNotFound: the workload cannot be found; nothing was made.
	ErrCommandNotFound = errors.New("command not found")
	// ErrNotExecutable: the workload is a file that may not be executed (no
	// x bit, or a directory); nothing was made.
	ErrNotExecutable = errors.New("not executable")
)

// Options say what to run and how.
type Options struct {
	Layout     cgroup.Layout
	Name       string  // group name prefix, validated by cgroup.ValidateName
	Limit      int64   // bytes
	Namespaces uintptr // clone flags, see ParseNamespaces
	Attach     Attach
	Command    []string
	// OOMGroup asks v2 to kill the whole group when one task must die
	// (memory.oom.group); v1 has no such switch.
	OOMGroup bool
	// SampleEvery, when set, reads the group's usage at this interval for
	// the whole run, for the report's charts.
	SampleEvery time.Duration
	Stdin       io.Reader
	Stdout      io.Writer
	Stderr      io.Writer
}
