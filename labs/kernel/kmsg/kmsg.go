// Package kmsg reads the kernel log through /dev/kmsg to find the OOM
// killer's own record of whom it killed in a given memory cgroup.
package kmsg

import (
	"errors"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
)

// Cursor remembers where the kernel log stood, so a run reads only its own
// records.
// It reads /dev/kmsg with raw syscalls: an *os.File would hand the
// non-blocking descriptor to Go's poller, which waits forever for the next
// kernel message instead of returning EAGAIN.
type Cursor struct{ fd int }

// Open positions a cursor at the end of the kernel log. Without access to
// /dev/kmsg (no root, a container) it returns an error and callers go on
// without victim names: the cgroup's own counters still tell how many.
func Open() (*Cursor, error) {
	fd, err := syscall.Open("/dev/kmsg", syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: "/dev/kmsg", Err: err}
	}
	if _, err := syscall.Seek(fd, 0, io.SeekEnd); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	return &Cursor{fd: fd}, nil
}

// Close releases the cursor.
func (c *Cursor) Close() error {
	if c == nil {
		return nil
	}
	return syscall.Close(c.fd)
}

// Lines returns the log messages written since Open or the last call.
func (c *Cursor) Lines() ([]string, error) {
	var out []string
	buf := make([]byte, 8192)
	for {
		n, err := syscall.Read(c.fd, buf)
		if errors.Is(err, syscall.EAGAIN) || (err == nil && n <= 0) {
			return out, nil
		}
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if errors.Is(err, syscall.EPIPE) { // records overwritten before we read them
			continue
		}
		if err != nil {
			return out, err
		}
		out = append(out, Message(string(buf[:n])))
	}
}

// Message is the text of one /dev/kmsg record,
// "PRIO,SEQ,USEC,FLAGS;TEXT\n" followed by " KEY=VALUE" dictionary lines
// (Documentation/ABI/testing/dev-kmsg); the dictionary is dropped. The
// kernel escapes a newline inside TEXT as \x0a, so TEXT is one line.
func Message(record string) string {
	if i := strings.IndexByte(record, ';'); i >= 0 {
		record = record[i+1:]
	}
	if i := strings.IndexByte(record, '\n'); i >= 0 {
		record = record[:i]
	}
	return record
}

// Kill is one OOM kill the kernel logged.
type Kill struct {
	Task string // command name of the killed task
	PID  int    // its host PID
	Line string // the kernel's line, as evidence
	// Report is what the kernel's report before the kill said of the
	// group whose limit was hit.
	Report Report
}

// The OOM killer's lines differ by kernel. From 4.19 one summary line
// names both groups and the victim:
//
//	oom-kill:constraint=CONSTRAINT_MEMCG,...,oom_memcg=/g,task_memcg=/g,task=stress,pid=97,uid=0
//
// followed by "Memory cgroup out of memory: Killed process 97 (stress) ...",
// which adds nothing. Up to 4.18 the groups come first and the victim last:
//
//	Task in /g killed as a result of limit of /g
//	Memory cgroup out of memory: Kill process 98 (stress) score 979 or sacrifice child
//	Killed process 98 (stress) total-vm:106800kB, anon-rss:102172kB, file-rss:972kB
//
// where "Kill process" names the chosen task and "Killed process" the one
// killed: a child of the chosen may be sacrificed in its place. A global
// OOM (no memory cgroup's limit) prints no "Task in" line, and every
// report starts with "invoked oom-killer", so a "Killed process" line
// belongs to a group only after a "Task in" line of the same report.
// Processes killed because they share the victim's memory ("Kill process
// N (comm) sharing same memory") are not counted: newer kernels do not log
// them at all.
//
// The groups and the command name may hold commas and parentheses, so the
// patterns take the longest match that still leaves the fixed text after.
var (
	summaryLine = regexp.MustCompile(`oom-kill:.*oom_memcg=(.*),task_memcg=(.*),task=(.*),pid=([0-9]+)(?:,|$)`)
	taskInLine  = regexp.MustCompile(`Task in (.*) killed as a result of limit of (.*)$`)
	killedLine  = regexp.MustCompile(`Killed process ([0-9]+) \((.*)\) total-vm:`)
)

const reportStart = "invoked oom-killer"

// OOMKills picks the kills charged to one memory cgroup, named as the kernel
// names it: its path under the hierarchy root, such as "/memlab/g6-1-ab".
// A kill counts when the group is the one whose limit was hit, or holds the
// victim, itself or in a descendant. It reads the log formats of kernels
// 4.4 to 6.x, in the order the kernel wrote the lines.
func OOMKills(lines []string, cgroupPath string) []Kill {
	var kills []Kill
	var oomMemcg, taskMemcg string
	inGroup := false // a "Task in" line of the current report named the groups
	report, columns := newReport(), []string(nil)
	for _, l := range lines {
		var task, pid string
		switch {
		case strings.Contains(l, reportStart):
			inGroup = false
			report, columns = newReport(), nil
			continue
		case strings.Contains(l, "oom-kill:"):
			m := summaryLine.FindStringSubmatch(l)
			if m == nil {
				continue
			}
			oomMemcg, taskMemcg, task, pid = m[1], m[2], m[3], m[4]
			inGroup = false
		case strings.Contains(l, "Task in "):
			if m := taskInLine.FindStringSubmatch(l); m != nil {
				taskMemcg, oomMemcg, inGroup = m[1], m[2], true
			}
			continue
		case inGroup && strings.Contains(l, "Killed process "):
			m := killedLine.FindStringSubmatch(l)
			if m == nil {
				continue
			}
			pid, task = m[1], m[2]
			inGroup = false
		default:
			report.read(l, &columns)
			continue
		}
		if oomMemcg != cgroupPath && taskMemcg != cgroupPath && !strings.HasPrefix(taskMemcg, cgroupPath+"/") {
			continue
		}
		n, err := strconv.Atoi(pid)
		if err != nil { // more digits than an int holds: not a PID
			continue
		}
		kills = append(kills, Kill{Task: task, PID: n, Line: l, Report: report})
	}
	return kills
}

// Tail returns the last n messages in the kernel log, for failure evidence.
func Tail(n int) ([]string, error) {
	fd, err := syscall.Open("/dev/kmsg", syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: "/dev/kmsg", Err: err}
	}
	c := &Cursor{fd: fd} // a fresh descriptor starts at the oldest record
	defer c.Close()
	lines, err := c.Lines()
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines, err
}

func (k Kill) String() string { return k.Task + " pid " + strconv.Itoa(k.PID) }
