package kmsg

import "testing"

// Lines as 6.18 logged them when a stress worker hit a 100m v1 limit.
var captured = []string{
	"[   6270]     0  6270    26703    25507    25440       67         0   258048        0             0 stress",
	"oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/memlab/g6-1-ab,task_memcg=/memlab/g6-1-ab,task=stress,pid=6270,uid=0",
	"Memory cgroup out of memory: Killed process 6270 (stress) total-vm:106812kB, anon-rss:101760kB",
	"oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/other,task_memcg=/other,task=java,pid=77,uid=0",
}

func TestOOMKillsOfOneGroup(t *testing.T) {
	kills := OOMKills(captured, "/memlab/g6-1-ab")
	if len(kills) != 1 || kills[0].Task != "stress" || kills[0].PID != 6270 {
		t.Fatalf("got %+v", kills)
	}
	if kills[0].String() != "stress pid 6270" {
		t.Errorf("String() = %q", kills[0].String())
	}
	if got := OOMKills(captured, "/memlab/g6-1"); len(got) != 0 {
		t.Errorf("a prefix of the name matched: %+v", got)
	}
}
