package release

// How far a memory cgroup's counters can disagree, on kernel v with cpus
// online CPUs and pages of page bytes.

// UsageAhead is how far usage (v1 usage_in_bytes, v2 memory.current) can
// run ahead of the pages in use: each CPU charges the page counter a batch
// at a time and keeps what it has not used yet in its stock.
func (v Version) UsageAhead(cpus, page int) int64 {
	return int64(v.ChargeBatchPages()) * int64(cpus) * int64(page)
}

// StatLag is how far memory.stat can lag behind the pages in use: from
// 4.16 each CPU folds its deltas in only once they reach a batch; before,
// memory.stat summed the per-CPU counters on every read, exactly.
func (v Version) StatLag(cpus, page int) int64 {
	if !v.Has(LazyStat) {
		return 0
	}
	return int64(v.ChargeBatchPages()) * int64(cpus) * int64(page)
}
