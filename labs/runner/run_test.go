package runner

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/memlab/memlab/labs/kernel/cgroup"
	"github.com/memlab/memlab/labs/kernel/proc"
	"github.com/memlab/memlab/labs/kernel/release"
)

func TestMain(m *testing.M) {
	Init() // the runs below re-execute this test binary as their child
	os.Exit(m.Run())
}

// detect is read once: every run of the package uses the same hierarchy.
var detect = sync.OnceValues(cgroup.Detect)

// lab is the machine's memory hierarchy, for the tests that make groups.
func lab(t *testing.T) cgroup.Layout {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: a run writes the cgroup filesystem")
	}
	l, err := detect()
	if err != nil {
		t.Skipf("no memory cgroup to run in: %v", err)
	}
	return l
}

const testLimit = 32 << 20

// options is a run of command under testLimit in the article's namespaces.
func options(t *testing.T, name string, attach Attach, command ...string) Options {
	flags, err := ParseNamespaces(DefaultNamespaces)
	if err != nil {
		t.Fatal(err)
	}
	return Options{Layout: lab(t), Name: name, Limit: testLimit, Namespaces: flags, Attach: attach, Command: command}
}

// start starts a run that is ended and removed however the test ends.
func start(t *testing.T, o Options) *Run {
	t.Helper()
	r, err := Start(t.Context(), o)
	if err != nil {
		t.Fatalf("Start(%q): %v", o.Command, err)
	}
	t.Cleanup(func() {
		r.Kill()
		_, _ = r.Wait()
	})
	return r
}

// finish waits for the run and checks that its group went with it.
func finish(t *testing.T, r *Run) Result {
	t.Helper()
	res, err := r.Wait()
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if _, err := os.Stat(r.Group.Path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("group %s outlived its run: %v", r.Group.Path, err)
	}
	return res
}

// eventually polls cond for up to five seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
	}
}

// A run end to end: the child is this binary again, in its own namespaces,
// the workload runs confined under the limit, its exit status comes back,
// and the group is gone afterwards.
func TestRunUnderALimit(t *testing.T) {
	o := options(t, "rt-limit", BeforeExec, "sh", "-c", "echo ready; read x; exit 3")
	stdin, release, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	defer release.Close()
	var out bytes.Buffer
	o.Stdin, o.Stdout, o.Stderr = stdin, &out, &out
	r := start(t, o)

	self, _ := os.Executable()
	if r.Child.Argv0 != ChildArgv0 || r.Child.Exe != self || r.Child.PID != 1 || r.Child.Hostname != "memlab" {
		t.Errorf("child reported %+v; want argv[0] %s, exe %s, PID 1, hostname memlab", r.Child, ChildArgv0, self)
	}
	if got, err := r.Group.Limit(); err != nil || got != testLimit {
		t.Errorf("limit %d, %v; want %d", got, err, testLimit)
	}
	// The child and the shell it runs, and nothing else, all in the group.
	var procs []int
	eventually(t, "the workload joins the group", func() bool {
		procs, _ = r.Group.Procs()
		return len(procs) == 2
	})
	if !slices.Contains(procs, r.ChildPID) {
		t.Errorf("group holds %v, not the child %d", procs, r.ChildPID)
	}
	for _, pid := range procs {
		if got, err := proc.MemoryCgroup("/proc", pid); err != nil || got != "/"+r.Group.Name {
			t.Errorf("process %d is in %q (%v); want /%s", pid, got, err, r.Group.Name)
		}
	}

	release.Close() // the shell's read ends, and so does the run
	res := finish(t, r)
	if res.ExitCode != 3 || res.Signal != 0 || res.ChildError != "" {
		t.Errorf("result: exit %d, signal %d, %q; want exit 3", res.ExitCode, res.Signal, res.ChildError)
	}
	if res.Group != r.Group.Name || res.ChildPID != r.ChildPID || res.Limit != testLimit || res.AttachOrder != BeforeExec {
		t.Errorf("result names group %s, child %d, limit %d, attach %s", res.Group, res.ChildPID, res.Limit, res.AttachOrder)
	}
	if out.String() != "ready\n" {
		t.Errorf("the workload's output did not come through: %q", out.String())
	}
}

// Each attach order puts the child where it says, before Start returns.
func TestAttachModes(t *testing.T) {
	l := lab(t)
	v, err := release.Running()
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range Attaches {
		t.Run(string(mode), func(t *testing.T) {
			o := options(t, "rt-attach", mode, "sleep", "5")
			// thread-before-exec needs v1 (memory cannot be used in a
			// threaded v2 subtree), clone-into v2 on 5.7 or later.
			possible := mode != ThreadBeforeExec || l.Version == 1
			if mode == CloneInto {
				possible = l.Version == 2 && v.Has(release.CloneIntoCgroup)
			}
			if !possible {
				r, err := Start(t.Context(), o)
				if !errors.Is(err, ErrUsage) || r != nil {
					t.Fatalf("Start on cgroup v%d, kernel %s = %v; want ErrUsage", l.Version, v, err)
				}
				if left := groupsNamed(t, l, "rt-attach"); len(left) > 0 {
					t.Errorf("groups made for an order that cannot run: %q", left)
				}
				return
			}
			r := start(t, o)
			threads, err := r.Group.Threads()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(threads, r.ChildPID) {
				t.Errorf("the child's main thread %d is not in the group (%v)", r.ChildPID, threads)
			}
			if mode == BeforeExec || mode == CloneInto {
				// The whole process moved: every thread, the runtime's too.
				ids, err := proc.Threads(r.ChildPID)
				if err != nil {
					t.Fatal(err)
				}
				threads, _ = r.Group.Threads()
				for _, id := range ids {
					if !slices.Contains(threads, id) {
						t.Errorf("thread %d of the child is outside the group", id)
					}
				}
			}
			res, err := r.Stop()
			if err != nil {
				t.Fatal(err)
			}
			if res.AttachOrder != mode {
				t.Errorf("result says attach %s", res.AttachOrder)
			}
			if _, err := os.Stat(r.Group.Path); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("group %s outlived its run", r.Group.Path)
			}
		})
	}
}

// How a run ended reaches the result as a shell would say it.
func TestExitStatusOfARun(t *testing.T) {
	for _, c := range []struct {
		name         string
		command      []string
		end          func(*Run)
		code, signal int
		childDied    bool // the child itself was killed, so it could not report
	}{
		{"exit", []string{"sh", "-c", "exit 7"}, nil, 7, 0, false},
		{"signal", []string{"sh", "-c", "kill -KILL $$"}, nil, 137, 9, false},
		{"stopped", []string{"sleep", "5"}, func(r *Run) { _ = r.Signal(syscall.SIGTERM) }, 143, 15, false},
		{"killed", []string{"sleep", "5"}, (*Run).Kill, 137, 9, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := start(t, options(t, "rt-exit", BeforeExec, c.command...))
			if c.end != nil {
				c.end(r)
			}
			res := finish(t, r)
			if res.ExitCode != c.code || res.Signal != c.signal {
				t.Errorf("exit %d, signal %d; want %d, %d", res.ExitCode, res.Signal, c.code, c.signal)
			}
			if (res.ChildError != "") != c.childDied {
				t.Errorf("child error %q", res.ChildError)
			}
		})
	}
}

// Namespaces are optional: without them the child is a plain process.
func TestNoNamespaces(t *testing.T) {
	o := options(t, "rt-nons", BeforeExec, "true")
	o.Namespaces = 0
	r := start(t, o)
	host, _ := os.Hostname()
	if r.Child.PID != r.ChildPID || r.Child.Hostname != host {
		t.Errorf("child sees itself as PID %d on %q; want %d on %q", r.Child.PID, r.Child.Hostname, r.ChildPID, host)
	}
	if res := finish(t, r); res.ExitCode != 0 {
		t.Errorf("true exited %d", res.ExitCode)
	}
}

// groupsNamed lists the groups of this test binary that carry name.
func groupsNamed(t *testing.T, l cgroup.Layout, name string) []string {
	t.Helper()
	me, err := proc.Current()
	if err != nil {
		t.Fatal(err)
	}
	mine, _ := filepath.Glob(filepath.Join(l.MemoryRoot, cgroup.LabParent, name+"-"+me.String()+"-*"))
	return mine
}

// Bad input fails before anything is made, with the error the CLI maps
// to its exit status.
func TestBadInputMakesNothing(t *testing.T) {
	l := lab(t)
	for _, c := range []struct {
		name    string
		command []string
		want    error
	}{
		{"rt-notfound", []string{"memlab-no-such-command-here"}, ErrCommandNotFound},
		{"rt-notexec", []string{"/etc/passwd"}, ErrNotExecutable},
		{"rt-dir", []string{"/"}, ErrNotExecutable},
		{"rt-nocommand", nil, ErrUsage},
		{"rt/escape", []string{"true"}, cgroup.ErrBadName},
	} {
		o := options(t, c.name, BeforeExec, c.command...)
		r, err := Start(t.Context(), o)
		if !errors.Is(err, c.want) {
			t.Errorf("%s %q: %v; want %v", c.name, c.command, err, c.want)
		}
		if r != nil {
			t.Errorf("%s: a run came back with the error", c.name)
		}
		if left := groupsNamed(t, l, c.name); len(left) > 0 {
			t.Errorf("%s: groups made: %q", c.name, left)
		}
	}
}

// memory.oom.group exists only on v2; asking for it on v1 is a usage
// error, and the group made for the run is removed again.
func TestOOMGroup(t *testing.T) {
	l := lab(t)
	o := options(t, "rt-oomgroup", BeforeExec, "sleep", "5")
	o.OOMGroup = true
	if l.Version == 2 {
		r := start(t, o)
		if v, err := r.Group.ReadFile("memory.oom.group"); err != nil || v != "1" {
			t.Errorf("memory.oom.group = %q, %v", v, err)
		}
		if _, err := r.Stop(); err != nil {
			t.Error(err)
		}
		return
	}
	r, err := Start(t.Context(), o)
	if !errors.Is(err, ErrUsage) {
		t.Errorf("Start with OOMGroup on v1 = %v; want ErrUsage", err)
	}
	if r != nil {
		if _, serr := os.Stat(r.Group.Path); !errors.Is(serr, os.ErrNotExist) {
			t.Errorf("group %s left after the failed start", r.Group.Path)
		}
	}
	if left := groupsNamed(t, l, "rt-oomgroup"); len(left) > 0 {
		t.Errorf("groups left: %q", left)
	}
}

// after-workload writes the child's PID only once the workload runs: the
// write moves the child, never the workload it already forked.
func TestAfterWorkloadLeavesTheWorkloadOutside(t *testing.T) {
	r := start(t, options(t, "rt-late", AfterWorkload, "sleep", "5"))
	want := "/" + r.Group.Name
	if cg, err := proc.ThreadMemoryCgroup(r.ChildPID, r.ChildPID); err != nil || cg != want {
		t.Fatalf("the child is in %q (%v); want %q", cg, err, want)
	}
	tree, err := proc.Tree(r.ChildPID)
	if err != nil || len(tree) < 2 {
		t.Fatalf("the child's tree: %v, %v", tree, err)
	}
	sleeper := tree[len(tree)-1].PID
	cg, err := proc.ThreadMemoryCgroup(sleeper, sleeper)
	if err != nil {
		t.Fatal(err)
	}
	if cg == want {
		t.Errorf("the workload %d, started before the write, is in the group %s", sleeper, cg)
	}
}
