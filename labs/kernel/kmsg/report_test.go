package kmsg

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/memlab/memlab/labs/matrix/capture"
)

// Every captured kill carries the kernel's report of the group: at its
// 100m limit, the killed worker in the task table with its 101m and its
// page tables, and kernel memory on v1 only (v2 reports none).
func TestCapturedReports(t *testing.T) {
	for _, dir := range capturedLogs(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			lines := records(t, filepath.Join(dir, "kmsg"))
			victim := stressVictim(t, filepath.Join(dir, "stress.out"))
			kills := OOMKills(lines, capture.Group)
			if len(kills) != 1 {
				t.Fatalf("kills: %+v", kills)
			}
			r := kills[0].Report
			if r.Usage != 100<<20 || r.Limit != 100<<20 {
				t.Errorf("usage %d, limit %d; want both 100 MiB", r.Usage, r.Limit)
			}
			v1 := strings.HasPrefix(filepath.Base(dir), "v1-")
			if (r.Kmem >= 0) != v1 {
				t.Errorf("kmem %d on %s", r.Kmem, filepath.Base(dir))
			}
			var worker *Task
			for i := range r.Tasks {
				if r.Tasks[i].PID == victim {
					worker = &r.Tasks[i]
				}
			}
			if worker == nil || len(r.Tasks) < 2 {
				t.Fatalf("tasks %+v lack the worker %d and stress's master", r.Tasks, victim)
			}
			if worker.Name != "stress" || worker.RSS < 99<<20 || worker.RSS > 101<<20 || worker.PageTables < 200<<10 {
				t.Errorf("the worker's row: %+v", *worker)
			}
			if !strings.Contains(r.String(), "usage 102400 KiB of limit 102400 KiB") {
				t.Errorf("String() = %q", r.String())
			}
		})
	}
}

// Rows are read by their header, a name may hold spaces, and a report's
// figures never leak into the next report.
func TestReportColumns(t *testing.T) {
	lines := []string{
		"a invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0",
		"memory: usage 8kB, limit 8kB, failcnt 1",
		"[  pid  ]   uid  tgid total_vm      rss rss_anon rss_file rss_shmem pgtables_bytes swapents oom_score_adj name",
		"[      7]     0     7       10        2        1        1         0     4096        0             0 my task",
		"[      x]     0     7       10        2        1        1         0     4096        0             0 bad pid",
		"[      9]     0     9       10",
		"oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/g,task_memcg=/g,task=my task,pid=7,uid=0",
		"b invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0",
		"oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/g,task_memcg=/g,task=b,pid=8,uid=0",
	}
	kills := OOMKills(lines, "/g")
	if len(kills) != 2 {
		t.Fatalf("kills %+v", kills)
	}
	r := kills[0].Report
	if r.Usage != 8<<10 || r.Kmem != -1 || len(r.Tasks) != 1 || r.Tasks[0].Name != "my task" || r.Tasks[0].PageTables != 4096 {
		t.Errorf("first report %+v", r)
	}
	if r := kills[1].Report; r.Usage != -1 || r.Limit != -1 || len(r.Tasks) != 0 {
		t.Errorf("the second report kept the first's figures: %+v", r)
	}
	old := []string{
		"stress invoked oom-killer: gfp_mask=0x24000c0, order=0, oom_score_adj=0",
		"Task in /g killed as a result of limit of /g",
		"[ pid ]   uid  tgid total_vm      rss nr_ptes nr_pmds swapents oom_score_adj name",
		"[   97]     0    97    26700    25787      56       4        0             0 stress",
		"Killed process 97 (stress) total-vm:106800kB, anon-rss:102168kB, file-rss:980kB",
	}
	k := OOMKills(old, "/g")
	if len(k) != 1 || len(k[0].Report.Tasks) != 1 || k[0].Report.Tasks[0].PageTables != 60*4096 {
		t.Errorf("4.4's nr_ptes + nr_pmds: %+v", k)
	}
}
