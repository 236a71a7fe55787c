package claim

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
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

// ChargedSlack is how far the group's kernel memory plus page cache, as
// the specs read them, may be from the pages charged for them. Neither
// goes through the per-CPU charge stock that makes usage_in_bytes run
// ahead: v1's memory.kmem.usage_in_bytes is charged whole pages as each
// CPU's object stock (under a page of bytes) runs out, so it is off by at
// most a page per CPU; page cache (and v2's kernel memory) come from
// memory.stat, which from 4.16 may lag by StatLag per counter read. On
// 2 CPUs with 4 KiB pages: 8 KiB on 4.4, 520 KiB on v1 from 6.1, 1 MiB on
// v2 from 6.1.
func ChargedSlack(version int) int64 {
	ginkgo.GinkgoHelper()
	v, cpus, page := Kernel(), OnlineCPUs(), os.Getpagesize()
	if version == 1 {
		return int64(cpus*page) + v.StatLag(cpus, page)
	}
	return 2 * v.StatLag(cpus, page)
}

// Margin files how far a verdict's deciding figure is from the threshold
// its rule compares it with, and fails the spec when that margin is within
// the slack of the counters the figure was read from: such a verdict would
// be decided by the counters' noise (a concurrent run, a busy CPU), not by
// the kernel's behaviour. Every rule that compares a measured figure with a
// threshold goes through here; a rule on what happened (survived, killed,
// escaped), a count or an exact file content needs no margin.
func Margin(name string, value, threshold, slack int64) {
	ginkgo.GinkgoHelper()
	margin := value - threshold
	if margin < 0 {
		margin = -margin
	}
	Figure(fmt.Sprintf("margin of %s, %d, from the rule's threshold %d", name, value, threshold),
		fmt.Sprintf("%d (the counters' slack: %d)", margin, slack), "")
	Expect(margin).To(BeNumerically(">=", slack),
		"%s is %d, within the counters' slack (%d) of the rule's threshold %d: the kernel's counters cannot decide this claim here", name, value, slack, threshold)
}
