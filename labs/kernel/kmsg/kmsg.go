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
		// A record is "prio,seq,usec,flags;message\n" plus continuation lines.
		rec := string(buf[:n])
		if i := strings.IndexByte(rec, ';'); i >= 0 {
			rec = rec[i+1:]
		}
		if i := strings.IndexByte(rec, '\n'); i >= 0 {
			rec = rec[:i]
		}
		out = append(out, rec)
	}
}

// Kill is one OOM kill the kernel logged.
type Kill struct {
	Task string // command name of the killed task
	PID  int    // its host PID
	Line string // the kernel's line, as evidence
}

var oomLine = regexp.MustCompile(`oom-kill:.*oom_memcg=([^,]*),task_memcg=([^,]*),task=([^,]*),pid=([0-9]+)`)

// OOMKills picks the kills charged to one memory cgroup, named as the kernel
// names it: its path under the hierarchy root, such as "/memlab/g6-1-ab".
func OOMKills(lines []string, cgroupPath string) []Kill {
	var kills []Kill
	for _, l := range lines {
		m := oomLine.FindStringSubmatch(l)
		if m == nil || (m[1] != cgroupPath && !strings.HasPrefix(m[2], cgroupPath+"/") && m[2] != cgroupPath) {
			continue
		}
		pid, _ := strconv.Atoi(m[4])
		kills = append(kills, Kill{Task: m[3], PID: pid, Line: l})
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
