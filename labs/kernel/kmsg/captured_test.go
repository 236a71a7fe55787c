package kmsg

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/memlab/memlab/labs/matrix/capture"
)

// capturedLogs are the kernel logs labs/matrix/capture saved, one folder per
// kernel and cgroup mode (testdata/README.md).
func capturedLogs(t *testing.T) []string {
	t.Helper()
	dirs, err := filepath.Glob("testdata/v[12]-*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no captured kernel logs in testdata (%v)", err)
	}
	return dirs
}

// records reads a capture of /dev/kmsg, one record per read as Cursor gets
// them: a record's dictionary lines start with a space.
func records(t *testing.T, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for line := range strings.SplitAfterSeq(string(b), "\n") {
		if strings.HasPrefix(line, " ") && len(out) > 0 {
			continue // a dictionary line of the record before
		}
		if line != "" {
			out = append(out, Message(line))
		}
	}
	return out
}

var workerKilled = regexp.MustCompile(`<-- worker ([0-9]+) got signal 9`)

// stressVictim is the worker stress itself saw killed: a witness the kernel
// log did not write.
func stressVictim(t *testing.T, file string) int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	m := workerKilled.FindAllStringSubmatch(string(b), -1)
	if len(m) != 1 {
		t.Fatalf("%s: want one worker killed, got %d", file, len(m))
	}
	pid, _ := strconv.Atoi(m[0][1])
	return pid
}

// Every captured kernel names the worker stress saw killed, in the group
// the capture made, whichever log format it writes.
func TestCapturedOOMKills(t *testing.T) {
	formats := map[string]int{}
	for _, dir := range capturedLogs(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			lines := records(t, filepath.Join(dir, "kmsg"))
			victim := stressVictim(t, filepath.Join(dir, "stress.out"))
			kills := OOMKills(lines, capture.Group)
			if len(kills) != 1 || kills[0].PID != victim || kills[0].Task != "stress" {
				t.Fatalf("kills in %s: %+v; stress saw worker %d killed", capture.Group, kills, victim)
			}
			if strings.Contains(kills[0].Line, "oom-kill:") {
				formats["oom-kill summary (4.19 on)"]++
			} else {
				formats["Task in / Killed process (up to 4.18)"]++
			}
			parent := capture.Group[:strings.LastIndexByte(capture.Group, '/')]
			if got := OOMKills(lines, parent); len(got) != 1 || got[0].PID != victim {
				t.Errorf("kills in the parent %s: %+v; want the victim in its child", parent, got)
			}
			for _, other := range []string{capture.Group[:len(capture.Group)-1], capture.Group + "/x", "/other"} {
				if got := OOMKills(lines, other); len(got) != 0 {
					t.Errorf("kills in %s: %+v; want none", other, got)
				}
			}
		})
	}
	if len(formats) != 2 {
		t.Errorf("the captures cover %v; want both log formats (recapture with the 4.4 kernel)", formats)
	}
}

// The 4.4 format's victim is the "Killed process" line of the report that
// named the group: a sacrificed child counts, a process sharing its memory
// does not, and neither does a later global OOM's victim when the group's
// own report logged no kill (its chosen task was already exiting).
func TestOldFormatKeepsReportsApart(t *testing.T) {
	group := []string{
		"stress invoked oom-killer: gfp_mask=0x24000c0, order=0, oom_score_adj=0",
		"Task in /memlab/g killed as a result of limit of /memlab/g",
		"Memory cgroup out of memory: Kill process 98 (stress) score 979 or sacrifice child",
		"Killed process 99 (stress child) total-vm:106800kB, anon-rss:102172kB, file-rss:972kB",
		"Kill process 100 (clone) sharing same memory",
	}
	if kills := OOMKills(group, "/memlab/g"); len(kills) != 1 || kills[0].PID != 99 || kills[0].Task != "stress child" {
		t.Errorf("got %+v; want the sacrificed child 99 only", kills)
	}
	noKill := []string{
		"stress invoked oom-killer: gfp_mask=0x24000c0, order=0, oom_score_adj=0",
		"Task in /memlab/g killed as a result of limit of /memlab/g",
		"java invoked oom-killer: gfp_mask=0x24201ca, order=0, oom_score_adj=0",
		"Out of memory: Kill process 7 (java) score 900 or sacrifice child",
		"Killed process 7 (java) total-vm:9000kB, anon-rss:8000kB, file-rss:0kB",
	}
	if kills := OOMKills(noKill, "/memlab/g"); len(kills) != 0 {
		t.Errorf("a global OOM's victim was charged to the group: %+v", kills)
	}
}

func TestMessage(t *testing.T) {
	for rec, want := range map[string]string{
		"6,385,2209381,-;Task in /g killed as a result of limit of /g\n": "Task in /g killed as a result of limit of /g",
		"6,363,8514707,-;anon 1\\x0afile 2\n SUBSYSTEM=memory\n":         "anon 1\\x0afile 2",
		"no header": "no header",
	} {
		if got := Message(rec); got != want {
			t.Errorf("Message(%q) = %q, want %q", rec, got, want)
		}
	}
}

func FuzzMessage(f *testing.F) {
	f.Add("6,385,2209381,-;Task in /g killed as a result of limit of /g\n")
	f.Add("4,1,2,c;a;b\n DEVICE=+x\n")
	f.Fuzz(func(t *testing.T, rec string) {
		m := Message(rec)
		if strings.Contains(m, "\n") || !strings.Contains(rec, m) {
			t.Fatalf("Message(%q) = %q: not one line of the record", rec, m)
		}
	})
}

func FuzzOOMKills(f *testing.F) {
	for _, dir := range []string{"v1-4.4.178-memlab", "v2-6.12.117+deb13-cloud-amd64"} {
		if b, err := os.ReadFile(filepath.Join("testdata", dir, "kmsg")); err == nil {
			f.Add(string(b), capture.Group)
		}
	}
	f.Add("oom-kill:constraint=CONSTRAINT_MEMCG,oom_memcg=/a,b,task_memcg=/a,b,task=x,y,pid=5,uid=0", "/a,b")
	f.Add("Task in /g killed as a result of limit of /g\nKilled process 99 (a) b) total-vm:1kB", "/g")
	f.Fuzz(func(t *testing.T, log, group string) {
		var lines []string
		for rec := range strings.SplitSeq(log, "\n") {
			lines = append(lines, Message(rec))
		}
		kills := OOMKills(lines, group)
		if len(kills) > len(lines) {
			t.Fatalf("%d kills from %d lines", len(kills), len(lines))
		}
		for _, k := range kills {
			if k.PID < 0 || !strings.Contains(k.Line, strconv.Itoa(k.PID)) || !strings.Contains(k.Line, k.Task) {
				t.Fatalf("kill %+v is not what its line says", k)
			}
			if len(k.Report.Tasks) > len(lines) {
				t.Fatalf("%d tasks from %d lines", len(k.Report.Tasks), len(lines))
			}
			_ = k.Report.String()
		}
	})
}
