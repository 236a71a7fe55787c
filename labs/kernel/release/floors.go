package release

import "fmt"

// Feature is a kernel behaviour a memlab verdict depends on.
type Feature string

// The features, in the order they arrived.
const (
	// CgroupV2Memory: cgroup2 left development (no __DEVEL__sane_behavior)
	// with the memory controller in it.
	CgroupV2Memory Feature = "cgroup2-memory"
	// V1KmemUnlimited: v1 charges a group's kernel memory (stacks, slab)
	// without a kmem limit. Before, only writing
	// memory.kmem.limit_in_bytes turned it on for that group.
	V1KmemUnlimited Feature = "v1-kmem-without-limit"
	// PageTablesCharged: page tables are charged to the group.
	PageTablesCharged Feature = "page-tables-charged"
	// OOMKillCounter: memory.oom_control and memory.events count oom_kill.
	OOMKillCounter Feature = "oom-kill-counter"
	// LazyStat: memory.stat is folded from per-CPU deltas once they reach a
	// charge batch, not summed on read, so it can lag.
	LazyStat Feature = "lazy-memory-stat"
	// OOMGroup: memory.oom.group kills the whole group.
	OOMGroup Feature = "memory.oom.group"
	// CloneIntoCgroup: clone3 with CLONE_INTO_CGROUP.
	CloneIntoCgroup Feature = "clone-into-cgroup"
	// MemoryPeak: cgroup v2's memory.peak.
	MemoryPeak Feature = "memory.peak"
	// ChargeBatch64: MEMCG_CHARGE_BATCH is 64 pages, not 32.
	ChargeBatch64 Feature = "charge-batch-64"
	// MemcgV1Optional: the v1 memory controller can be built out
	// (CONFIG_MEMCG_V1).
	MemcgV1Optional Feature = "memcg-v1-optional"
)

// Floor is the first release with a feature.
type Floor struct {
	Feature      Feature
	Major, Minor int
	Commit       string // the upstream commit, where memlab cites one
	What         string // what arrived, as a noun phrase
}

// Since is "4.13", or "4.6, b313aeee2509" where the commit is known.
func (f Floor) Since() string {
	if f.Commit != "" {
		return fmt.Sprintf("%d.%d, %s", f.Major, f.Minor, f.Commit)
	}
	return fmt.Sprintf("%d.%d", f.Major, f.Minor)
}

// Floors are the version floors memlab relies on, oldest first.
var Floors = []Floor{
	{CgroupV2Memory, 4, 5, "", "the cgroup v2 memory controller"},
	{V1KmemUnlimited, 4, 6, "b313aeee2509", "v1 kernel memory charged without a kmem limit"},
	{PageTablesCharged, 4, 8, "3e79ec7ddc33", "page tables charged"},
	{OOMKillCounter, 4, 13, "", "the oom_kill counter"},
	{LazyStat, 4, 16, "a983b5ebee57", "memory.stat flushed lazily"},
	{OOMGroup, 4, 19, "", "memory.oom.group"},
	{CloneIntoCgroup, 5, 7, "", "clone3 with CLONE_INTO_CGROUP"},
	{MemoryPeak, 5, 19, "", "memory.peak"},
	{ChargeBatch64, 6, 1, "1813e51eece0", "a 64-page charge batch (32 before)"},
	{MemcgV1Optional, 6, 12, "", "CONFIG_MEMCG_V1: the v1 memory controller optional"},
}

// FloorOf is f's floor. An unknown feature panics: it is a typo in code.
func FloorOf(f Feature) Floor {
	for _, fl := range Floors {
		if fl.Feature == f {
			return fl
		}
	}
	panic("release: no floor for feature " + string(f))
}

// Split sorts the floors into those v has and those it lacks.
func (v Version) Split() (has, lacks []Floor) {
	for _, fl := range Floors {
		if v.AtLeast(fl.Major, fl.Minor) {
			has = append(has, fl)
		} else {
			lacks = append(lacks, fl)
		}
	}
	return has, lacks
}
