package runner

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/memlab/memlab/labs/kernel/cgroup"
	"github.com/memlab/memlab/labs/kernel/proc"
)

// ChildArgv0 is how the re-executed binary knows it is the child: the same
// program runs again through /proc/self/exe, told apart only by argv[0].
// Without that check it would re-execute itself forever.
const ChildArgv0 = "memlab-init"

// The child's extra files: the parent's "go" byte arrives on syncFD, the
// child's reports leave on reportFD, and usageFD is the group's usage file
// (memory.usage_in_bytes or memory.current), opened by the parent.
const (
	syncFD   = 3
	reportFD = 4
	usageFD  = 5
)

// protectedScore is the child's oom_score_adj once the workload runs:
// OOM_SCORE_ADJ_MIN, which the OOM killer never picks. Container runtimes
// protect their shims the same way. Without it the child, the largest
// task in a group whose workload is still small, can be the victim, and
// 4.4's "sacrifice child" rule then kills one of its children instead.
const protectedScore = -1000

// raisedScore is the workload's oom_score_adj where the child cannot lower
// its own: lowering below oom_score_adj_min takes CAP_SYS_RESOURCE, which
// some sandboxes drop even for root, while raising takes nothing. Every
// task of the workload gets the same +1000, so among them the OOM killer
// still picks the largest, and the child, at its own score, is never first.
const raisedScore = 1000

// ChildInfo is what the child reports once it is set up.
type ChildInfo struct {
	PID      int    `json:"pid"`      // its PID as it sees it (1 in a new PID namespace)
	Argv0    string `json:"argv0"`    // how it was told it is the child
	Exe      string `json:"exe"`      // where its /proc/self/exe points
	Hostname string `json:"hostname"` // "memlab" in a new UTS namespace
}

// exitReport is the child's last word: how the workload ended.
type exitReport struct {
	Exit   int    `json:"exit"`   // exit status, or 128+signal
	Signal int    `json:"signal"` // the signal that ended it, 0 if it exited
	Error  string `json:"error,omitempty"`
	HWM    int64  `json:"hwm_kib"` // the child's own peak resident memory
	// Footprint is the group's usage as the child was about to start the
	// workload, -1 if it could not be read.
	Footprint int64 `json:"footprint"`
	// WorkloadScore is the oom_score_adj the workload inherited, the one
	// the child had from memlab; ChildScore is the child's own afterwards.
	WorkloadScore int    `json:"workload_oom_score_adj"`
	ChildScore    int    `json:"child_oom_score_adj"`
	ProtectError  string `json:"protect_error,omitempty"` // why ChildScore is not protectedScore
}

// Init must be the first call in main (and in TestMain of any test binary
// that uses the runner). In the re-executed child it runs the child and
// never returns; everywhere else it returns at once.
func Init() {
	if len(os.Args) == 0 || os.Args[0] != ChildArgv0 {
		return
	}
	os.Exit(childMain(os.Args[1:]))
}

// childMain runs in the new namespaces: args are "--attach ORDER --ns FLAGS -- CMD...".
func childMain(args []string) int {
	report := os.NewFile(reportFD, "report")
	fail := func(format string, a ...any) int {
		msg := fmt.Sprintf(format, a...)
		_ = json.NewEncoder(report).Encode(exitReport{Exit: 127, Error: msg})
		fmt.Fprintln(os.Stderr, "memlab-init:", msg)
		return 127
	}
	if len(args) < 5 || args[0] != "--attach" || args[2] != "--ns" || args[4] != "--" {
		return fail("bad arguments %q", args)
	}
	attach, cmdArgs := Attach(args[1]), args[5:]
	var flags uintptr
	if _, err := fmt.Sscan(args[3], &flags); err != nil {
		return fail("bad namespace flags %q: %v", args[3], err)
	}

	// Everything the child needs for itself happens before it is attached,
	// so the group is charged for the workload, not for memlab: memory
	// stays charged to the group it was allocated in, and what the Go
	// runtime took to start up stays outside. After the parent's "go" the
	// child only reads one number, forks the workload and lowers its own
	// OOM score, into buffers and descriptors it already holds.
	if err := setupNamespaces(flags); err != nil {
		return fail("%v", err)
	}
	// None of memlab's descriptors may reach the workload.
	for _, fd := range []int{syncFD, reportFD, usageFD} {
		syscall.CloseOnExec(fd)
	}
	// Orphans (a workload's grandchildren) come to us, in a PID namespace or not.
	_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	if flags&syscall.CLONE_NEWPID == 0 {
		superviseParent()
	}
	info := ChildInfo{PID: os.Getpid(), Argv0: os.Args[0]}
	info.Exe, _ = os.Readlink("/proc/self/exe")
	info.Hostname, _ = os.Hostname()
	cmd := exec.Command(cmdArgs[0], cmdArgs[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	started := make(chan *os.Process, 1)
	go func() {
		p := <-started
		for s := range signals {
			_ = p.Signal(s)
		}
	}()
	score, err := syscall.Open("/proc/self/oom_score_adj", syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		return fail("opening oom_score_adj: %v", err)
	}
	var buf [32]byte
	rep := exitReport{WorkloadScore: readInt(score, buf[:])}
	rep.ChildScore = rep.WorkloadScore
	protect := []byte(strconv.Itoa(protectedScore))
	mayLower := hasCapability(unix.CAP_SYS_RESOURCE)
	own := []byte(strconv.Itoa(rep.ChildScore))
	raise := []byte(strconv.Itoa(raisedScore))
	// The first read of a cgroup file allocates its kernel buffer: done
	// here, that is charged outside the group too.
	_ = readInt(usageFD, buf[:])
	// Waiting through the poller, the goroutine parks and no thread is
	// left blocked in read(2) when the "go" arrives.
	_ = syscall.SetNonblock(syncFD, true)
	syncPipe := os.NewFile(syncFD, "sync")
	prepareRuntime()
	if attach != AfterWorkload {
		_ = json.NewEncoder(report).Encode(info)
	}

	if attach != AfterStart && attach != AfterWorkload {
		// Block until the parent has moved us into the group: nothing the
		// workload does happens outside it.
		var b [1]byte
		if n, _ := syncPipe.Read(b[:]); n != 1 {
			return fail("parent went away before attaching the cgroup")
		}
	}
	rep.Footprint = int64(readInt(usageFD, buf[:]))
	// oom_score_adj is inherited across fork and exec. Where the child may
	// lower its own score, the workload starts at the score it would have
	// had without memlab and the child drops to -1000 after; elsewhere the
	// child raises its score for the workload to inherit, then takes its
	// own back (allowed: it is not below oom_score_adj_min).
	protectErr := syscall.Errno(0)
	if !mayLower {
		if _, err := syscall.Pwrite(score, raise, 0); err == nil {
			rep.WorkloadScore = raisedScore
		}
	}
	if err := cmd.Start(); err != nil {
		return fail("starting %s: %v", cmdArgs[0], err)
	}
	if attach == AfterWorkload {
		// Only now may the parent write our PID: the workload already runs.
		_ = json.NewEncoder(report).Encode(info)
	}
	if mayLower {
		if _, err := syscall.Pwrite(score, protect, 0); err == nil {
			rep.ChildScore = protectedScore
		} else {
			protectErr = errnoOf(err)
		}
	} else {
		protectErr = syscall.EPERM
		if _, err := syscall.Pwrite(score, own, 0); err != nil {
			rep.ChildScore = rep.WorkloadScore // it could not take its own back
		}
	}
	started <- cmd.Process
	// Reap everything that ends, as an init must, until the workload itself does.
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, 0, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return fail("waiting for %s: %v", cmdArgs[0], err)
		}
		if pid != cmd.Process.Pid {
			continue
		}
		rep.Exit, rep.Signal = exitStatus(ws)
		if protectErr != 0 {
			// Lowering a score below oom_score_adj_min takes CAP_SYS_RESOURCE,
			// which some containers and sandboxes drop even for root.
			rep.ProtectError = fmt.Sprintf("memlab's child cannot lower its oom_score_adj to %d (%v: that needs CAP_SYS_RESOURCE, which this machine denies); the workload ran at %d instead",
				protectedScore, protectErr, rep.WorkloadScore)
		}
		rep.HWM = proc.SelfPeakKiB()
		_ = json.NewEncoder(report).Encode(rep)
		return rep.Exit
	}
}

// prepareRuntime does now, before the child is attached, what its Go
// runtime would otherwise do afterwards, inside the group.
func prepareRuntime() {
	// The first process os/exec starts is preceded, once per program, by a
	// check that clone(CLONE_PIDFD) works: a forked process that exits at
	// once. Started after the attach, it would be a second memlab process
	// in the group, charged to it; FindProcess runs the check now.
	if p, err := os.FindProcess(os.Getpid()); err == nil {
		_ = p.Release()
	}
	readyThreads()
}

// spareThreads is how many OS threads the child's runtime holds ready
// before it is attached, at one P (GOMAXPROCS 1): its main thread blocked
// in fork or wait4, one running the other goroutines, one spinning for
// work, and one to spare.
const spareThreads = 4

// readyThreads makes the runtime start its threads now. A thread created
// after the child is attached is charged to the group: its kernel stack,
// task struct and first stack pages, one charge batch in all on the
// memory counter. On a slow guest about one run in ten did so as the
// child woke up, before the workload had even started.
func readyThreads() {
	runtime.GOMAXPROCS(1) // the child only waits; one P keeps its thread needs small and fixed
	var locked, done sync.WaitGroup
	release := make(chan struct{})
	for range spareThreads {
		locked.Add(1)
		done.Go(func() {
			// A goroutine locked to its thread and blocked keeps that thread
			// to itself, so the next goroutine needs a new one.
			runtime.LockOSThread()
			locked.Done()
			<-release
			// Unlocked before it ends, the thread goes idle instead of exiting.
			runtime.UnlockOSThread()
		})
	}
	locked.Wait()
	close(release)
	done.Wait()
}

// readInt reads a file that holds one decimal number from its start, into
// buf and without allocating: after the child is attached, anything it
// allocates is charged to the group. -1 when it cannot be read.
func readInt(fd int, buf []byte) int {
	n, err := syscall.Pread(fd, buf, 0)
	if err != nil || n <= 0 {
		return -1
	}
	v, sign, digits := 0, 1, 0
	for i, c := range buf[:n] {
		switch {
		case c == '-' && i == 0:
			sign = -1
		case c >= '0' && c <= '9':
			v = v*10 + int(c-'0')
			digits++
		case c == '\n' && digits > 0:
			return sign * v
		default:
			return -1
		}
	}
	if digits == 0 {
		return -1
	}
	return sign * v
}

// exitStatus is a wait status as a shell reports it: the exit code, or
// 128+n when signal n ended the process (then signal is n, else 0).
func exitStatus(ws syscall.WaitStatus) (code, signal int) {
	if ws.Signaled() {
		return 128 + int(ws.Signal()), int(ws.Signal())
	}
	return ws.ExitStatus(), 0
}

// setupNamespaces finishes what clone began: a hostname of our own, mounts
// that never propagate back to the host, and a /proc that shows our PIDs.
func setupNamespaces(flags uintptr) error {
	if flags&syscall.CLONE_NEWUTS != 0 {
		if err := unix.Sethostname([]byte("memlab")); err != nil {
			return fmt.Errorf("sethostname: %w", err)
		}
	}
	if flags&syscall.CLONE_NEWNS != 0 {
		// The article leaves mounts shared: a mount made inside would appear
		// on the host. Private propagation keeps them in this namespace,
		// and they vanish with it.
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			return fmt.Errorf("making mounts private: %w", err)
		}
		if flags&syscall.CLONE_NEWPID != 0 {
			if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
				return fmt.Errorf("mounting /proc: %w", err)
			}
		}
	}
	return nil
}

// hasCapability says whether this process holds capability c in its
// effective set.
func hasCapability(c int) bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	return data[c/32].Effective&(1<<(uint(c)%32)) != 0
}

// errnoOf is the errno behind a system call's error.
func errnoOf(err error) syscall.Errno {
	if e, ok := errors.AsType[syscall.Errno](err); ok {
		return e
	}
	return syscall.EINVAL
}

// parentGoneSignal is the child's death signal (PR_SET_PDEATHSIG) when it
// has no PID namespace of its own; with one it is SIGKILL, and the
// namespace takes the workload with it.
const parentGoneSignal = syscall.SIGUSR1

// superviseParent keeps the child watching memlab where no PID namespace
// would end the workload with it (--ns none): when memlab dies, even by
// SIGKILL, the kernel sends parentGoneSignal, and the child kills every
// process of the run before it exits. Set up before the child is
// attached: the goroutine then allocates nothing in the group.
func superviseParent() {
	parent := os.Getppid()
	gone := make(chan os.Signal, 1)
	signal.Notify(gone, parentGoneSignal)
	go func() {
		for range gone {
			if os.Getppid() != parent { // not memlab's death: someone sent the signal
				killRun()
				os.Exit(128 + int(syscall.SIGKILL))
			}
		}
	}()
}

// killRun kills every process of the run but the child itself: those in
// the run's group (the usage file's directory) and the child's
// descendants (an after-start attach leaves some outside the group), and
// reaps them, until none is left or killWait has passed.
func killRun() {
	const killWait = 2 * time.Second
	self := os.Getpid()
	procs := ""
	if usage, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", usageFD)); err == nil {
		procs = filepath.Join(filepath.Dir(usage), "cgroup.procs")
	}
	for deadline := time.Now().Add(killWait); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		var pids []int
		if b, err := os.ReadFile(procs); err == nil {
			pids, _ = cgroup.ParseIDs(string(b))
		}
		if tree, err := proc.Tree(self); err == nil {
			for _, p := range tree[1:] {
				pids = append(pids, p.PID)
			}
		}
		pids = slices.DeleteFunc(pids, func(pid int) bool { return pid == self })
		if len(pids) == 0 {
			return
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		for {
			if pid, _ := syscall.Wait4(-1, nil, syscall.WNOHANG, nil); pid <= 0 {
				break
			}
		}
	}
}
