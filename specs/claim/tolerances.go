package claim

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Every tolerance the specs use lives here, with the reason for its size.

// SafeHeadroom is how far below the limit a run's peak must stay for
// "keeps running" to mean reliably. The article's arithmetic leaves 1 MiB
// between a 99m worker and a 100m limit for everything else in the group;
// memlab asks that at least half of it still be free at the peak. Kernels
// that charge a group's kernel memory (page tables, kernel stacks, slab)
// spend most of it: on 6.18 (v1), single runs of stress 99m under 100m
// peaked 0 to 304 KiB below the limit and about one in ten was OOM-killed.
// A margin that small is luck, not room.
const SafeHeadroom = 512 << 10

// CounterSlack is how far a memory cgroup's counters may disagree with each
// other at one instant, in bytes. usage_in_bytes (v2 memory.current) is a
// page counter each CPU charges 64 pages at a time (MEMCG_CHARGE_BATCH),
// keeping the unused rest in a per-CPU stock: it can run up to 64 pages
// per CPU ahead of the pages in use. memory.stat is summed from per-CPU
// deltas that are flushed only once they add up to 64 pages per CPU: it can
// lag by as much again. So two readings of one group differ by at most
// 2 x 64 pages per online CPU (1 MiB on 2 CPUs with 4 KiB pages); this is
// the "asynchronous approximation" the article blames, and its whole size.
func CounterSlack() int64 { return 2 * 64 * int64(onlineCPUs()) * int64(os.Getpagesize()) }

// onlineCPUs counts /sys/devices/system/cpu/online ("0-1,4"), the CPUs a
// per-CPU stock can sit on; runtime.NumCPU (this process's affinity) when
// the file cannot be read.
func onlineCPUs() int {
	b, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return runtime.NumCPU()
	}
	n := 0
	for r := range strings.SplitSeq(strings.TrimSpace(string(b)), ",") {
		lo, hi, isRange := strings.Cut(r, "-")
		a, err1 := strconv.Atoi(lo)
		z, err2 := strconv.Atoi(hi)
		switch {
		case err1 != nil:
			return runtime.NumCPU()
		case !isRange:
			n++
		case err2 != nil || z < a:
			return runtime.NumCPU()
		default:
			n += z - a + 1
		}
	}
	return max(n, 1)
}

// PollTimeout bounds every Eventually: how long a spec waits for the kernel
// or a process to reach a state (stress's worker to hold its memory, a
// counter to settle). It bounds waiting, it times nothing: on a 2-core
// machine also running qemu guests under software emulation, a worker
// took more than Gomega's default of 1 s to start.
const PollTimeout = 20 * time.Second

// PollInterval is how often Eventually looks again: a cgroup file read is
// cheap, and stress touches 100m in about 50 ms.
const PollInterval = 5 * time.Millisecond

// ChargeBatch is how close to the limit a group's peak is when the OOM
// killer strikes. A group is charged up to 64 pages at a time
// (MEMCG_CHARGE_BATCH); the charge that fails can leave the page counter up
// to a batch short of the limit, and v2 lets some kernel allocations
// overshoot memory.max a little (bookworm's 6.1 peaked one page over it).
func ChargeBatch() int64 { return 64 * int64(os.Getpagesize()) }
