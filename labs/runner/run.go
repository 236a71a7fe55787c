package runner

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/memlab/memlab/labs/kernel/cgroup"
	"github.com/memlab/memlab/labs/kernel/kmsg"
	"github.com/memlab/memlab/labs/kernel/proc"
	"github.com/memlab/memlab/labs/kernel/release"
)

// Result is what the kernel did to a run.
type Result struct {
	Group         string      `json:"cgroup"`
	ExitCode      int         `json:"exit_code"` // the workload's; 128+n when a signal ended it
	Signal        int         `json:"signal"`    // that signal, 0 if it exited
	Limit         int64       `json:"limit"`
	Peak          int64       `json:"peak"`     // v1 max_usage_in_bytes, v2 memory.peak; -1 if the kernel lacks it
	Headroom      int64       `json:"headroom"` // limit - peak
	Failcnt       int64       `json:"failcnt"`
	OOMKills      int64       `json:"oom_kills"` // from oom_control / memory.events
	OOMKnown      bool        `json:"oom_kills_known"`
	Victims       []kmsg.Kill `json:"victims,omitempty"` // the kernel log's record of each kill
	ChildError    string      `json:"child_error,omitempty"`
	EventsFile    string      `json:"events_file"`
	PeakFile      string      `json:"peak_file"`
	ChildPID      int         `json:"child_pid"`       // host PID of the re-executed child
	ChildPeakKiB  int64       `json:"child_peak_kib"`  // the re-executed child's own peak resident memory (VmHWM)
	MemlabPeakKiB int64       `json:"memlab_peak_kib"` // this process's own peak resident memory (VmHWM)
	ChildInfo     ChildInfo   `json:"child"`
	AttachOrder   Attach      `json:"attach"`
	// FootprintBeforeExec is the group's own usage as the child was about
	// to start the workload, read raw from UsageFile by the child once
	// attached: what memlab itself left charged to the group (0 when
	// nothing; a charge batch per CPU once anything was charged, see
	// release.Version.ChargeBatchPages). -1 when the child did not report it.
	FootprintBeforeExec int64  `json:"footprint_before_exec"`
	UsageFile           string `json:"usage_file"`
	// ChildOOMScoreAdj is the child's oom_score_adj while the workload ran
	// (-1000: never the OOM killer's victim); WorkloadOOMScoreAdj is the
	// workload's, inherited from memlab as if memlab were not there.
	// OOMProtectError says why the child could not lower its score.
	ChildOOMScoreAdj    int             `json:"child_oom_score_adj"`
	WorkloadOOMScoreAdj int             `json:"workload_oom_score_adj"`
	OOMProtectError     string          `json:"oom_protect_error,omitempty"`
	Samples             []cgroup.Sample `json:"samples,omitempty"`
}

// Run is a started run. Its group exists until Wait returns.
type Run struct {
	Group    *cgroup.Group
	ChildPID int       // the re-executed child's PID on the host
	Child    ChildInfo // what the child reported about itself

	opts    Options
	cmd     *exec.Cmd
	reports *bufio.Reader
	reportR *os.File
	kernel  *kmsg.Cursor
	done    chan struct{}   // closed when the run has ended and been cleaned up
	sampler *cgroup.Sampler // reads usage for the charts, when asked to
	result  Result
	err     error
}

// Start makes the group, starts the child in its namespaces, attaches it in
// the chosen order, and returns once the child has reported in. On any
// error nothing is left behind.
func Start(ctx context.Context, o Options) (r *Run, err error) {
	if len(o.Command) == 0 {
		return nil, fmt.Errorf("%w: no command to run (memlab run --memory 100m -- CMD ARGS...)", ErrUsage)
	}
	if _, err := exec.LookPath(o.Command[0]); errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EISDIR) {
		// A path to a file that exists: "not found" would send the student
		// looking for the wrong mistake.
		return nil, fmt.Errorf("%w: %s", ErrNotExecutable, o.Command[0])
	} else if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrCommandNotFound, o.Command[0])
	}
	if o.Attach == "" {
		o.Attach = BeforeExec
	}
	if err := attachPossible(o.Attach, o.Layout); err != nil {
		return nil, err
	}
	if o.OOMGroup && o.Layout.Version != 2 {
		return nil, fmt.Errorf("%w: memory.oom.group exists only on cgroup v2", ErrUsage)
	}
	g, err := cgroup.Create(o.Layout, o.Name)
	if err != nil {
		return nil, err
	}
	r = &Run{Group: g, opts: o}
	defer func() {
		if err != nil {
			r.abort()
		}
	}()
	if err := g.SetLimit(o.Limit); err != nil {
		return r, err
	}
	if err := g.DisableSwap(o.Limit); err != nil {
		return r, err
	}
	if o.OOMGroup {
		if err := g.WriteFile("memory.oom.group", "1"); err != nil {
			return r, err
		}
	}
	r.kernel, _ = kmsg.Open() // optional: names OOM victims when readable

	// The child reads the group's usage itself, the moment before it
	// starts the workload.
	usage, err := os.Open(filepath.Join(g.Path, g.Files.Usage))
	if err != nil {
		return r, err
	}
	defer usage.Close()
	// The child is this binary again, told apart by argv[0].
	// If memlab dies, so does the child and its PID namespace; without one
	// the child is told, and kills the workload itself (superviseParent).
	attr := &syscall.SysProcAttr{Cloneflags: o.Namespaces, Pdeathsig: syscall.SIGKILL}
	if o.Namespaces&syscall.CLONE_NEWPID == 0 {
		attr.Pdeathsig = parentGoneSignal
	}
	if o.Attach == CloneInto {
		dir, derr := g.OpenDir() // derr: "dir, err :=" would shadow the err the deferred abort reads
		if derr != nil {
			return r, derr
		}
		defer dir.Close()
		attr.UseCgroupFD, attr.CgroupFD = true, int(dir.Fd())
	}

	syncR, syncW, err := os.Pipe()
	if err != nil {
		return r, err
	}
	defer syncW.Close()
	reportR, reportW, err := os.Pipe()
	if err != nil {
		syncR.Close()
		return r, err
	}
	r.reportR, r.reports = reportR, bufio.NewReader(reportR)

	r.cmd = &exec.Cmd{
		Path:        "/proc/self/exe",
		Args:        append([]string{ChildArgv0, "--attach", string(o.Attach), "--ns", strconv.FormatUint(uint64(o.Namespaces), 10), "--"}, o.Command...),
		Stdin:       o.Stdin,
		Stdout:      o.Stdout,
		Stderr:      o.Stderr,
		ExtraFiles:  []*os.File{syncR, reportW, usage}, // syncFD, reportFD, usageFD
		SysProcAttr: attr,
	}
	err = r.cmd.Start()
	syncR.Close()
	reportW.Close()
	if err != nil {
		return r, fmt.Errorf("re-executing /proc/self/exe: %w", err)
	}
	r.ChildPID = r.cmd.Process.Pid

	// A waiting child has reported in by the time it blocks: attaching after
	// its report means attaching a child whose Go runtime is up, threads
	// and all. In the article's order the child does not wait, and the race
	// between its start and the write is the point.
	// After the workload, the child reports in once it has started it.
	if o.Attach != AfterStart {
		if err := r.readChildInfo(); err != nil {
			return r, err
		}
	}
	switch o.Attach {
	case CloneInto:
		// born inside the group
	case BeforeExec:
		if err := g.Attach(r.ChildPID); err != nil {
			return r, err
		}
	case ThreadBeforeExec:
		if err := g.AttachThread(r.ChildPID); err != nil {
			return r, err
		}
	case AfterStart, AfterWorkload:
		if o.Layout.Version == 1 {
			// The article's order and file: one thread ID into tasks, after start.
			if err := g.AttachThread(r.ChildPID); err != nil {
				return r, err
			}
		} else if err := g.Attach(r.ChildPID); err != nil {
			return r, err
		}
	}
	if o.SampleEvery > 0 {
		r.sampler = g.StartSampling(o.SampleEvery)
	}
	if _, err := syncW.Write([]byte{1}); err != nil && o.Attach != AfterStart && o.Attach != AfterWorkload {
		return r, fmt.Errorf("releasing the child: %w", err)
	}
	if o.Attach == AfterStart {
		if err := r.readChildInfo(); err != nil {
			return r, err
		}
	}
	r.done = make(chan struct{})
	go func() {
		r.result, r.err = r.wait()
		close(r.done)
	}()
	return r, nil
}

// attachPossible rejects, before anything is made, an order this machine
// cannot carry out.
func attachPossible(a Attach, l cgroup.Layout) error {
	switch a {
	case BeforeExec, AfterStart, AfterWorkload:
		return nil
	case ThreadBeforeExec:
		if l.Version != 1 {
			// Memory cannot be used in a threaded v2 subtree.
			return fmt.Errorf("%w: --attach %s writes v1's tasks file; memory is on cgroup v2 here, which moves single threads only in threaded subtrees, where memory cannot be used", ErrUsage, a)
		}
		return nil
	case CloneInto:
		if l.Version != 2 {
			return fmt.Errorf("%w: --attach %s needs cgroup v2 (CLONE_INTO_CGROUP); memory is on cgroup v1 here", ErrUsage, a)
		}
		v, err := release.Running()
		if err != nil {
			return err
		}
		if !v.Has(release.CloneIntoCgroup) {
			return fmt.Errorf("%w: --attach %s needs kernel 5.7 or later (clone3 with CLONE_INTO_CGROUP); this is %s", ErrUsage, a, v)
		}
		return nil
	}
	return fmt.Errorf("%w: --attach %q: unknown order", ErrUsage, a)
}

// readChildInfo reads the line the child sends once it is set up.
func (r *Run) readChildInfo() error {
	line, err := r.reports.ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("the child exited before reporting in")
	}
	if err := json.Unmarshal(line, &r.Child); err != nil || r.Child.Argv0 == "" {
		var ex exitReport
		if json.Unmarshal(line, &ex) == nil && ex.Error != "" {
			return fmt.Errorf("child: %s", ex.Error)
		}
		return fmt.Errorf("the child's report is unreadable: %q", line)
	}
	return nil
}

// Signal passes a signal to the child, which hands it to the workload.
func (r *Run) Signal(sig os.Signal) error { return r.cmd.Process.Signal(sig) }

// Stop asks the workload to end (SIGTERM through the child) and waits.
func (r *Run) Stop() (Result, error) {
	_ = r.Signal(syscall.SIGTERM)
	return r.Wait()
}

// Wait waits until the child has ended, what the kernel recorded has been
// read and the group removed. It is safe to call more than once.
func (r *Run) Wait() (Result, error) {
	<-r.done
	return r.result, r.err
}

// Done is closed once the run has ended and its group is gone.
func (r *Run) Done() <-chan struct{} { return r.done }

func (r *Run) wait() (Result, error) {
	res := Result{Group: r.Group.Name, ChildPID: r.ChildPID, ChildInfo: r.Child, AttachOrder: r.opts.Attach,
		EventsFile: r.Group.Files.Events, PeakFile: r.Group.Files.Peak, Peak: -1,
		UsageFile: r.Group.Files.Usage, FootprintBeforeExec: -1}
	var ex exitReport
	line, rerr := r.reports.ReadBytes('\n')
	werr := r.cmd.Wait()
	if r.sampler != nil {
		res.Samples = r.sampler.Stop()
	}
	switch {
	case rerr == nil && json.Unmarshal(line, &ex) == nil:
		res.ExitCode, res.Signal, res.ChildError, res.ChildPeakKiB = ex.Exit, ex.Signal, ex.Error, ex.HWM
		if ex.Error == "" {
			res.FootprintBeforeExec = ex.Footprint
			res.ChildOOMScoreAdj, res.WorkloadOOMScoreAdj, res.OOMProtectError = ex.ChildScore, ex.WorkloadScore, ex.ProtectError
		}
	default:
		// The child itself died (SIGKILL from the OOM killer, or from us).
		res.ChildError = fmt.Sprintf("the child ended without a report: %v", werr)
		res.ExitCode = -1
		if st, ok := r.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && st.Signaled() {
			res.ExitCode, res.Signal = exitStatus(st)
		}
	}
	// Not rusage: wait4's ru_maxrss is the largest of the whole waited tree,
	// which would be stress's, not memlab's.
	res.MemlabPeakKiB = proc.SelfPeakKiB()
	r.collect(&res)
	return res, r.cleanup()
}

// collect reads the group's counters after the workload has ended.
func (r *Run) collect(res *Result) {
	g := r.Group
	res.Limit, _ = g.Limit()
	if p, err := g.Peak(); err == nil {
		res.Peak = p
		res.Headroom = res.Limit - p
	}
	res.Failcnt, _ = g.Failcnt()
	if ev, err := g.Events(); err == nil {
		res.OOMKills, res.OOMKnown = ev.OOMKills()
	}
	if r.kernel != nil {
		lines, _ := r.kernel.Lines()
		res.Victims = kmsg.OOMKills(lines, "/"+g.Name)
	}
}

func (r *Run) cleanup() error {
	if r.reportR != nil {
		r.reportR.Close()
	}
	r.kernel.Close()
	return r.Group.Remove(context.Background())
}

// abort tears down a run that failed to start.
func (r *Run) abort() {
	if r.sampler != nil {
		r.sampler.Stop()
	}
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
	}
	_ = r.cleanup()
}

// Execute starts a run and waits for it to end.
func Execute(ctx context.Context, o Options) (Result, error) {
	r, err := Start(ctx, o)
	if err != nil {
		return Result{}, err
	}
	stop := context.AfterFunc(ctx, func() { _ = r.Signal(syscall.SIGTERM) })
	defer stop()
	return r.Wait()
}

// Kill ends the child (and with it its PID namespace) at once.
func (r *Run) Kill() { _ = r.cmd.Process.Kill() }
