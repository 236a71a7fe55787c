package supervise

import (
	"bytes"
	"os"
	"strings"
	"syscall"
	"testing"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: it makes a cgroup and namespaces")
	}
}

// A program that kills itself, leaving a process in its own session and
// one that moved itself out of the grader's cgroup: Run reports the death
// and kills both before it returns.
func TestNothingOutlivesADeadSuite(t *testing.T) {
	needRoot(t)
	script := `setsid sleep 1001 </dev/null >/dev/null 2>&1 &
sh -c 'for g in /sys/fs/cgroup/unified /sys/fs/cgroup; do [ -w "$g/cgroup.procs" ] && echo $$ >"$g/cgroup.procs" && break; done; exec sleep 1002' </dev/null >/dev/null 2>&1 &
sleep 0.3; kill -9 $$`
	var out bytes.Buffer
	res, err := Run([]string{"sh", "-c", script}, t.TempDir(), &out)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Died() || res.Signal != syscall.SIGKILL {
		t.Errorf("result %+v: want death by SIGKILL", res)
	}
	joined := strings.Join(res.Survivors, "; ")
	if !strings.Contains(joined, "sleep 1001") || !strings.Contains(joined, "sleep 1002") {
		t.Errorf("survivors %q: want both sleeps", joined)
	}
	if _, err := os.Stat(res.Group); res.Group != "" && !os.IsNotExist(err) {
		t.Errorf("the cgroup %s is still there: %v", res.Group, err)
	}
	for _, p := range pidsOf("sleep 1001", "sleep 1002") {
		t.Errorf("process %d outlived Run", p)
	}
}

// A program that ends by itself, in namespaces of its own.
func TestASuiteThatEndsByItself(t *testing.T) {
	needRoot(t)
	var out bytes.Buffer
	res, err := Run([]string{"sh", "-c", "readlink /proc/self/ns/mnt /proc/self/ns/net; exit 3"}, t.TempDir(), &out)
	if err != nil {
		t.Fatal(err)
	}
	if res.Died() || res.Exit != 3 || len(res.Survivors) != 0 {
		t.Errorf("result %+v: want exit 3, nothing killed", res)
	}
	for _, ns := range []string{"mnt", "net"} {
		host, _ := os.Readlink("/proc/self/ns/" + ns)
		if strings.Contains(out.String(), host) {
			t.Errorf("the program shares this process's %s namespace: %s", ns, out.String())
		}
	}
}

func pidsOf(cmdlines ...string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		cl := strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
		for _, c := range cmdlines {
			if cl == c {
				var pid int
				for _, ch := range e.Name() {
					pid = pid*10 + int(ch-'0')
				}
				pids = append(pids, pid)
			}
		}
	}
	return pids
}
