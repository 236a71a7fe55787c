// gorunner is a runner written apart from memlab's own (it uses none of
// memlab's packages), the way a student would write the article's program
// to the runner contract (docs/exercises/02-your-own-runner.md):
//
//	gorunner --memory SIZE -- CMD [ARGS...]
//
// The article's parent/child shape: the parent makes and limits a memory
// cgroup and re-executes itself through /proc/self/exe in new UTS, mount
// and PID namespaces; the child writes itself into the group ("0": the
// writer) and only then execs CMD, so CMD is limited from its first
// instruction (the article attaches after start, which is the bug G8 is
// about). memlab grades it like any student's runner.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const childName = "gorunner-child"

func main() {
	if os.Args[0] == childName {
		child(os.Args[1], os.Args[2:])
		return
	}
	os.Exit(parent(os.Args[1:]))
}

func fail(status int, format string, args ...any) int {
	fmt.Fprintf(os.Stderr, "gorunner: "+format+"\n", args...)
	return status
}

var sizeSyntax = regexp.MustCompile(`^([0-9]+)([bkmgtp]?)(i?b?)$`)

// parseSize reads SIZE as docker -m does: 1024-based units, case-insensitive.
func parseSize(s string) (int64, error) {
	m := sizeSyntax.FindStringSubmatch(strings.ToLower(s))
	if m == nil || (m[2] == "b" && m[3] != "") {
		return 0, fmt.Errorf("bad size %q", s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	shift := strings.Index("bkmgtp", m[2]) * 10
	if m[2] == "" {
		shift = 0
	}
	if n > (1<<62)>>shift {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return n << shift, nil
}

func parent(args []string) int {
	size := ""
	for len(args) > 0 && args[0] != "--" {
		switch {
		case args[0] == "--memory" && len(args) > 1:
			size, args = args[1], args[2:]
		case strings.HasPrefix(args[0], "--memory="):
			size, args = strings.TrimPrefix(args[0], "--memory="), args[1:]
		default:
			return fail(64, "unknown argument %q; usage: gorunner --memory SIZE -- CMD [ARGS...]", args[0])
		}
	}
	if len(args) < 2 {
		return fail(64, "no command; usage: gorunner --memory SIZE -- CMD [ARGS...]")
	}
	cmdArgs := args[1:]
	limit, err := parseSize(size)
	if err != nil {
		return fail(65, "%v", err)
	}
	if os.Geteuid() != 0 {
		return fail(67, "needs root")
	}
	root, v1 := "/sys/fs/cgroup/memory", true
	if _, err := os.Stat(filepath.Join(root, "memory.limit_in_bytes")); err != nil {
		root, v1 = "/sys/fs/cgroup", false
		_ = os.WriteFile(filepath.Join(root, "cgroup.subtree_control"), []byte("+memory"), 0)
	}
	cg := filepath.Join(root, fmt.Sprintf("gorunner-%d", os.Getpid()))
	if err := os.Mkdir(cg, 0o755); err != nil {
		return fail(70, "%v", err)
	}
	defer removeGroup(cg)
	writes := [][2]string{{"memory.max", strconv.FormatInt(limit, 10)}, {"memory.swap.max", "0"}}
	if v1 {
		writes = [][2]string{{"memory.limit_in_bytes", strconv.FormatInt(limit, 10)}, {"memory.memsw.limit_in_bytes", strconv.FormatInt(limit, 10)}}
	}
	for i, w := range writes {
		path := filepath.Join(cg, w[0])
		if i == 1 {
			if _, err := os.Stat(path); err != nil {
				continue // no swap accounting on this kernel
			}
		}
		if err := os.WriteFile(path, []byte(w[1]), 0); err != nil {
			return fail(70, "%v", err)
		}
	}
	c := exec.Command("/proc/self/exe", append([]string{cg}, cmdArgs...)...)
	c.Args[0] = childName
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr
	c.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWUTS | syscall.CLONE_NEWNS | syscall.CLONE_NEWPID,
		Pdeathsig:  syscall.SIGKILL,
	}
	if err := c.Start(); err != nil {
		return fail(70, "starting the child: %v", err)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		for s := range sigs {
			_ = c.Process.Signal(s)
		}
	}()
	err = c.Wait()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	return fail(70, "waiting for the child: %v", err)
}

// child runs as the new PID namespace's first process: it joins the
// group, then becomes CMD.
func child(cg string, argv []string) {
	die := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "gorunner: "+format+"\n", args...)
		os.Exit(70)
	}
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		die("making mounts private: %v", err)
	}
	if err := os.WriteFile(filepath.Join(cg, "cgroup.procs"), []byte("0"), 0); err != nil {
		die("joining %s: %v", cg, err)
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "gorunner: %v\n", err)
		os.Exit(127)
	}
	die("exec %s: %v", path, syscall.Exec(path, argv, os.Environ()))
}

// removeGroup kills what is left in the group and removes it.
func removeGroup(cg string) {
	for range 200 {
		if err := os.Remove(cg); err == nil || errors.Is(err, os.ErrNotExist) {
			return
		}
		b, _ := os.ReadFile(filepath.Join(cg, "cgroup.procs"))
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Fprintf(os.Stderr, "gorunner: could not remove %s\n", cg)
}
