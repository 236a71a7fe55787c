package proc

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
)

// RunID names the process that made something (a cgroup, a container), so a
// sweep can tell a live run's things from a killed run's leftovers. A PID
// alone cannot: the kernel hands a freed PID to the next process, and a
// sweep that trusted it would keep a dead run's leftovers for as long as
// some unrelated process held that number. The start time cannot be reused
// while the machine runs, so the pair names one process for good.
type RunID struct {
	PID   int
	Start uint64 // clock ticks since boot, /proc/PID/stat field 22
}

// ErrBadRunID: text that is not a RunID's String.
var ErrBadRunID = errors.New("not a run ID (PID.STARTTIME)")

// current is read once: a process's own PID and start time never change.
var current = sync.OnceValues(func() (RunID, error) {
	pid := os.Getpid()
	st, err := StartTime(pid)
	if err != nil {
		return RunID{}, fmt.Errorf("reading this process's start time: %w", err)
	}
	return RunID{PID: pid, Start: st}, nil
})

// Current is this process's RunID.
func Current() (RunID, error) { return current() }

// String is "PID.STARTTIME", e.g. "4242.1234567": digits and a dot, so it
// fits a cgroup name and a Docker label alike. The dot, not a dash, keeps
// an older memlab, which read the number before a name's last dash as the
// creating PID, from taking the start time for a PID and sweeping a live
// run's group.
func (id RunID) String() string { return fmt.Sprintf("%d.%d", id.PID, id.Start) }

// ParseRunID reads what String wrote.
func ParseRunID(s string) (RunID, error) {
	pidText, startText, ok := strings.Cut(s, ".")
	if !ok || !digits(pidText) || !digits(startText) {
		return RunID{}, fmt.Errorf("%w: %q", ErrBadRunID, s)
	}
	pid, perr := strconv.Atoi(pidText)
	start, serr := strconv.ParseUint(startText, 10, 64)
	if perr != nil || serr != nil || pid <= 0 {
		return RunID{}, fmt.Errorf("%w: %q", ErrBadRunID, s)
	}
	return RunID{PID: pid, Start: start}, nil
}

// digits accepts a number as String writes it: no sign, no leading zero,
// so one RunID has one spelling.
func digits(s string) bool {
	if s == "" || len(s) > 1 && s[0] == '0' {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// Alive says whether the process id names still exists: false when its PID
// is free, and false when the PID now belongs to a process that started at
// another time. A zombie still counts: its parent has yet to see it end.
func (id RunID) Alive() bool {
	_, gone := id.Gone()
	return !gone
}

// Gone is Alive's answer with the reason, for a sweep to report.
func (id RunID) Gone() (why string, gone bool) {
	st, err := StartTime(id.PID)
	if err != nil {
		return fmt.Sprintf("PID %d has ended", id.PID), true
	}
	if st != id.Start {
		return fmt.Sprintf("PID %d now names another process (started at tick %d, not %d)", id.PID, st, id.Start), true
	}
	return "", false
}
