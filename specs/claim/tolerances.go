package claim

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2"
)

// Every tolerance the specs use lives here, with the reason for its size.

// CounterSlack is how far a memory cgroup's counters may disagree with each
// other at one instant, in bytes, on this kernel. usage_in_bytes (v2
// memory.current) is a page counter each CPU charges a batch at a time
// (MEMCG_CHARGE_BATCH: 32 pages, 64 from 6.1), keeping the unused rest in
// a per-CPU stock: it can run up to a batch per CPU ahead of the pages in
// use. From 4.16 memory.stat is folded from per-CPU deltas only once they
// reach a batch, so it can lag by as much again; before, it was summed
// exactly on every read. On 2 CPUs with 4 KiB pages: 256 KiB on 4.4,
// 512 KiB on 5.10, 1 MiB on 6.1 and later.
func CounterSlack() int64 {
	ginkgo.GinkgoHelper()
	v, cpus, page := Kernel(), OnlineCPUs(), os.Getpagesize()
	return v.UsageAhead(cpus, page) + v.StatLag(cpus, page)
}

// OnlineCPUs counts /sys/devices/system/cpu/online ("0-1,4"), the CPUs a
// per-CPU stock can sit on; runtime.NumCPU (this process's affinity) when
// the file cannot be read.
func OnlineCPUs() int {
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
// killer strikes. A group is charged a batch at a time (MEMCG_CHARGE_BATCH:
// 32 pages, 64 from 6.1); the charge that fails can leave the page counter
// up to a batch short of the limit, and v2 lets some kernel allocations
// overshoot memory.max a little (bookworm's 6.1 peaked one page over it).
func ChargeBatch() int64 {
	ginkgo.GinkgoHelper()
	return int64(Kernel().ChargeBatchPages()) * int64(os.Getpagesize())
}
