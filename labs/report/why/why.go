// Package why builds the sentences of a verdict's reason that name kernel
// behaviour. Each is computed from the kernel's version (release.Version)
// and, where the kernel's rule alone cannot say, from what was measured,
// so a reason is true on the kernel that produced it: the same claim reads
// differently on 4.4, 5.10 and 6.x where the kernel behaves differently.
// The functions are pure; the specs pass in what they observed.
package why

import (
	"fmt"
	"strings"

	"github.com/memlab/memlab/labs/kernel/release"
)

// KiB renders a byte count for prose.
func KiB(b int64) string { return fmt.Sprintf("%d KiB", b>>10) }

// since names the release (and commit) a feature arrived in.
func since(f release.Feature) string { return release.FloorOf(f).Since() }

// KernelMemoryKinds lists what kernel memory v charges to a group once it
// charges any: page tables only from 4.8.
func KernelMemoryKinds(v release.Version) string {
	if v.Has(release.PageTablesCharged) {
		return "kernel stacks, slab and page tables"
	}
	return "kernel stacks and slab (page tables only from " + since(release.PageTablesCharged) + ")"
}

// KernelMemoryRule says whether v charges a group's kernel memory to its
// usage, in cgroup version cg, whatever the group holds.
func KernelMemoryRule(v release.Version, cg int) string {
	if cg == 2 {
		return fmt.Sprintf("%s charges a v2 group for its tasks' %s", v, KernelMemoryKinds(v))
	}
	if v.Has(release.V1KmemUnlimited) {
		return fmt.Sprintf("%s charges a v1 group's %s to usage_in_bytes with no kmem limit set (from %s)",
			v, KernelMemoryKinds(v), since(release.V1KmemUnlimited))
	}
	return fmt.Sprintf("%s charges a v1 group's %s only once its memory.kmem.limit_in_bytes has been written "+
		"(with no limit only from %s); runc wrote one for every container from 2017 (runc#1350) until 2021 (runc#2840)",
		v, KernelMemoryKinds(v), since(release.V1KmemUnlimited))
}

// KernelMemory is KernelMemoryRule with the kernel memory measured in the
// group: where the rule depends on the runtime, the measurement says which
// way it went.
func KernelMemory(v release.Version, cg int, kmem int64) string {
	rule := KernelMemoryRule(v, cg)
	switch {
	case cg == 1 && !v.Has(release.V1KmemUnlimited) && kmem > 0:
		return rule + fmt.Sprintf(": this group was charged %s, so its accounting was on", KiB(kmem))
	case cg == 1 && !v.Has(release.V1KmemUnlimited):
		return rule + ": this group was charged none, so its accounting was off"
	case kmem == 0:
		return rule + ", yet this group was charged none: kernel memory accounting is off on this boot"
	}
	return rule + fmt.Sprintf(": %s here", KiB(kmem))
}

// ChargeBatch names v's charge batch: "64 pages (from 6.1, 1813e51eece0)".
func ChargeBatch(v release.Version) string {
	if v.Has(release.ChargeBatch64) {
		return "64 pages (from " + since(release.ChargeBatch64) + ")"
	}
	return "32 pages (64 from " + since(release.ChargeBatch64) + ")"
}

// UsageFuzz says how far usage (the file usage names) can run ahead of
// the pages in use on v, with cpus CPUs of page-byte pages: memory.rst 5.5's
// "fuzz value".
func UsageFuzz(v release.Version, usage string, cpus, page int) string {
	return fmt.Sprintf("%s is a fuzz value (memory.rst 5.5): each CPU charges it %s at a time and keeps what is not yet used in a per-CPU stock, "+
		"so it can run up to %s ahead on %d CPUs", usage, ChargeBatch(v), KiB(v.UsageAhead(cpus, page)), cpus)
}

// StatExactness says whether memory.stat is exact when read on v.
func StatExactness(v release.Version, cpus, page int) string {
	if v.Has(release.LazyStat) {
		return fmt.Sprintf("memory.stat is flushed lazily from per-CPU deltas (from %s) and can lag by up to %s",
			since(release.LazyStat), KiB(v.StatLag(cpus, page)))
	}
	return fmt.Sprintf("memory.stat sums the per-CPU counters on every read, so it is exact (it is flushed lazily only from %s)",
		since(release.LazyStat))
}

// CountersDiffer is UsageFuzz and StatExactness together: why two readings
// of one group can disagree on v, and by how much at most.
func CountersDiffer(v release.Version, usage string, cpus, page int) string {
	return UsageFuzz(v, usage, cpus, page) + "; " + StatExactness(v, cpus, page)
}

// OOMKills is an OOM-kill counter for a figure: its value, or, where the
// kernel keeps none, that it does not count, never 0.
func OOMKills(v release.Version, n int64, known bool) string {
	switch {
	case known:
		return fmt.Sprint(n)
	case !v.Has(release.OOMKillCounter):
		return "not counted by this kernel (oom_kill arrived in " + since(release.OOMKillCounter) + ")"
	}
	return "not read"
}

// WholeGroupSwitch says whether cgroup version cg on v can kill a whole
// group when one task must die.
func WholeGroupSwitch(v release.Version, cg int) string {
	switch {
	case cg == 1:
		return "v1 has no switch to kill the whole group"
	case v.Has(release.OOMGroup):
		return "v2 kills the whole group only with memory.oom.group=1 (from " + since(release.OOMGroup) + ")"
	}
	return "this kernel has no memory.oom.group (from " + since(release.OOMGroup) + "), so v2 cannot kill the whole group either"
}

// PageTables is the clause a reason adds about a worker's page tables,
// pte bytes of them: charged to the group only from 4.8.
func PageTables(v release.Version, pte int64) string {
	if pte <= 0 {
		return ""
	}
	if v.Has(release.PageTablesCharged) {
		return fmt.Sprintf("the worker's page tables alone took %s", KiB(pte))
	}
	return fmt.Sprintf("the worker's %s of page tables are not charged to the group on this kernel (from %s)",
		KiB(pte), since(release.PageTablesCharged))
}

// Floors says which of the version floors memlab relies on v lacks; the
// ones it has are named only by their range, since a report lists every
// floor beside it.
func Floors(v release.Version) string {
	has, lacks := v.Split()
	var s []string
	for _, f := range lacks {
		s = append(s, fmt.Sprintf("%s (%s)", f.What, f.Since()))
	}
	first, last := release.Floors[0], release.Floors[len(release.Floors)-1]
	switch {
	case len(lacks) == 0:
		return fmt.Sprintf("%s is at or above every version floor memlab relies on (%d.%d to %d.%d)", v, first.Major, first.Minor, last.Major, last.Minor)
	case len(has) == 0:
		return fmt.Sprintf("%s is below every version floor memlab relies on: it lacks %s", v, strings.Join(s, ", "))
	}
	return fmt.Sprintf("%s has %d of the %d version floors memlab relies on; it lacks %s", v, len(has), len(release.Floors), strings.Join(s, ", "))
}

// ArticleFloor is the article's "at least 4.3".
const ArticleFloor = "4.3"

// LabFloor judges the article's floor for the labs (kernel > 4.3) against
// v in cgroup version cg, where the lab ran (runs) or not. v1's memory
// controller dates from 2.6.25, so on v1 the article's 4.3 can only be
// checked from above; v2's arrived in 4.5, so there the floor is not 4.3.
func LabFloor(v release.Version, cg int, runs bool) (articleRight bool, reason string) {
	newEnough := v.AtLeast(4, 3)
	if cg == 2 {
		fl := release.FloorOf(release.CgroupV2Memory)
		if !runs {
			return false, fmt.Sprintf("%s does not run the lab on cgroup v2", v)
		}
		return false, fmt.Sprintf("%s runs the lab, but on cgroup v2 the floor is %d.%d, not %s: %s arrived in %d.%d, so 4.3 and 4.4 cannot run it",
			v, fl.Major, fl.Minor, ArticleFloor, fl.What, fl.Major, fl.Minor)
	}
	switch {
	case newEnough && runs:
		return true, fmt.Sprintf("%s is >= %s and runs the lab", v, ArticleFloor)
	case newEnough:
		return false, fmt.Sprintf("%s is >= %s yet does not run the lab", v, ArticleFloor)
	case runs:
		return false, fmt.Sprintf("%s is < %s yet runs the lab: the v1 memory controller dates from 2.6.25", v, ArticleFloor)
	}
	return true, fmt.Sprintf("%s is < %s and does not run the lab", v, ArticleFloor)
}
