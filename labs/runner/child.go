package runner

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/memlab/memlab/labs/kernel/proc"
)

// ChildArgv0 is how the re-executed binary knows it is the child: the same
// program runs again through /proc/self/exe, told apart only by argv[0].
// Without that check it would re-execute itself forever.
const ChildArgv0 = "memlab-init"

// The child's extra files: the parent's "go" byte arrives on syncFD, the
// child's reports leave on reportFD.
const (
	syncFD   = 3
	reportFD = 4
)

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
	// so the group is charged for the workload, not for memlab: a 99m
	// stress under 100m leaves the rest of the group less than 1 MiB.
	if err := setupNamespaces(flags); err != nil {
		return fail("%v", err)
	}
	// Orphans (a workload's grandchildren) come to us, in a PID namespace or not.
	_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	info := ChildInfo{PID: os.Getpid(), Argv0: os.Args[0]}
	info.Exe, _ = os.Readlink("/proc/self/exe")
	info.Hostname, _ = os.Hostname()
	cmd := exec.Command(cmdArgs[0], cmdArgs[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	_ = json.NewEncoder(report).Encode(info)

	if attach == BeforeExec || attach == ThreadBeforeExec {
		// Block until the parent has moved us into the group: nothing the
		// workload does happens outside it.
		var b [1]byte
		if n, _ := os.NewFile(syncFD, "sync").Read(b[:]); n != 1 {
			return fail("parent went away before attaching the cgroup")
		}
	}
	if err := cmd.Start(); err != nil {
		return fail("starting %s: %v", cmdArgs[0], err)
	}
	go func() {
		for s := range signals {
			_ = cmd.Process.Signal(s)
		}
	}()
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
		var rep exitReport
		rep.Exit, rep.Signal = exitStatus(ws)
		rep.HWM = proc.SelfPeakKiB()
		_ = json.NewEncoder(report).Encode(rep)
		return rep.Exit
	}
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
