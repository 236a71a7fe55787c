package harness

import (
	"fmt"
	"io"
	"os/exec"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/memlab/memlab/labs/shquote"
	"github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
)

// Run is one run of the runner under test.
type Run struct {
	Argv     []string
	Out      *gbytes.Buffer // stdout and stderr together, as they came
	Stdout   *gbytes.Buffer // stdout alone: the contract leaves it to CMD
	h        *Harness
	cmd      *exec.Cmd
	start    time.Time
	done     chan struct{}
	timedOut bool
	exit     int
	elapsed  time.Duration
	waitErr  error
	mu       sync.Mutex
	filed    sync.Once
}

// Start runs RUNNER --memory SIZE -- CMD... with the harness's deadline:
// past it, the runner and everything it started are killed. It fails the
// spec when the runner cannot be started at all.
func (h *Harness) Start(size string, command ...string) *Run {
	return h.start(1, size, command...)
}

// RunToEnd starts the runner and waits for it.
func (h *Harness) RunToEnd(size string, command ...string) *Run {
	r := h.start(1, size, command...)
	r.Wait()
	return r
}

// start is Start; a failure is reported offset frames above its caller,
// at the spec's line.
func (h *Harness) start(offset int, size string, command ...string) *Run {
	argv := append(slices.Clone(h.Runner), "--memory", size, "--")
	argv = append(argv, command...)
	r := &Run{Argv: argv, Out: gbytes.NewBuffer(), Stdout: gbytes.NewBuffer(), h: h, done: make(chan struct{})}
	r.cmd = exec.Command(argv[0], argv[1:]...)
	r.cmd.Dir = h.Dir
	r.cmd.Stdout = io.MultiWriter(h.Log, r.Out, r.Stdout)
	r.cmd.Stderr = io.MultiWriter(h.Log, r.Out)
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	r.cmd.WaitDelay = exitGrace // a process the runner left may hold its output open
	fmt.Fprintf(h.Log, "$ %s\n", shquote.Join(argv))
	h.Command(shquote.Join(argv[len(h.Runner):]))
	r.start = time.Now()
	h.G.ExpectWithOffset(offset+1, r.cmd.Start()).To(gomega.Succeed(), "starting the runner")
	h.active.Store(r.cmd.Process.Pid, r)
	timer := time.AfterFunc(h.Timeout, func() {
		r.mu.Lock()
		r.timedOut = true
		r.mu.Unlock()
		fmt.Fprintf(h.Log, "memlab: the runner is still running after %s: killing it and everything it started\n", h.Timeout)
		_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
		h.KillDescendants()
	})
	go func() {
		defer close(r.done)
		defer h.active.Delete(r.cmd.Process.Pid)
		r.waitErr = r.cmd.Wait()
		timer.Stop()
		r.elapsed = time.Since(r.start)
		r.exit = -1 // no status: the wait itself failed
		if r.waitErr != nil && r.cmd.ProcessState == nil {
			fmt.Fprintf(h.Log, "memlab: waiting for the runner: %v\n", r.waitErr)
		}
		if st := r.cmd.ProcessState; st != nil {
			r.exit = st.ExitCode()
			if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				r.exit = 128 + int(ws.Signal()) // as a shell would report it
			}
		}
	}()
	return r
}

// Wait waits for the runner (never longer than its deadline) and files the
// outcome.
func (r *Run) Wait() *Run {
	<-r.done
	r.filed.Do(func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		cmd := shquote.Join(r.Argv[len(r.h.Runner):])
		line := fmt.Sprintf("%s: exit status %d after %s", cmd, r.exit, r.elapsed.Round(time.Millisecond))
		if r.timedOut {
			line = fmt.Sprintf("%s: killed at the %s timeout", cmd, r.h.Timeout)
		}
		r.h.Outcome(line)
		fmt.Fprintln(r.h.Log, "memlab: "+line)
	})
	return r
}

// ExitStatus is the runner's exit status (128+n when signal n ended it);
// it fails the spec if the runner had to be killed at the timeout.
func (r *Run) ExitStatus() int {
	r.Wait()
	if r.TimedOut() {
		r.h.fail(fmt.Sprintf("%s: the runner did not finish within %s and was killed (expected: it exits when CMD does)", r.Line(), r.h.Timeout))
	}
	return r.exit
}

// Line is the run's arguments to the runner: --memory SIZE -- CMD...
func (r *Run) Line() string { return shquote.Join(r.Argv[len(r.h.Runner):]) }

// TimedOut says whether the runner was killed at the timeout.
func (r *Run) TimedOut() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.timedOut
}

// Running says whether the runner has not exited yet.
func (r *Run) Running() bool {
	select {
	case <-r.done:
		return false
	default:
		return true
	}
}

// StopActiveRuns kills the runs a spec left running (it failed before
// waiting) with everything they started, and waits for them.
func (h *Harness) StopActiveRuns() {
	h.active.Range(func(_, v any) bool {
		r := v.(*Run)
		_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
		_ = r.cmd.Process.Kill()
		return true
	})
	h.KillDescendants()
	h.active.Range(func(_, v any) bool {
		select {
		case <-v.(*Run).done:
		case <-time.After(exitGrace + 5*time.Second):
		}
		return true
	})
}
