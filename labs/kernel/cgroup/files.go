package cgroup

// Files names the interface files that hold each reading. The v2 names are
// the translation the ledger uses for every v1 claim.
type Files struct {
	Limit     string // v1 memory.limit_in_bytes, v2 memory.max
	Usage     string // v1 memory.usage_in_bytes, v2 memory.current
	Peak      string // v1 memory.max_usage_in_bytes, v2 memory.peak (5.19+)
	Failcnt   string // v1 memory.failcnt; v2 counts limit hits as "max" in memory.events
	Stat      string // memory.stat (v1 rss/cache/swap, v2 anon/file)
	Events    string // v1 memory.oom_control, v2 memory.events
	SwapLimit string // v1 memory.memsw.limit_in_bytes (memory+swap), v2 memory.swap.max (swap alone)
	Procs     string // cgroup.procs: one PID per process
	Threads   string // v1 tasks, v2 cgroup.threads: one ID per thread
}

// V1Files are the legacy interface files.
var V1Files = Files{
	Limit:     "memory.limit_in_bytes",
	Usage:     "memory.usage_in_bytes",
	Peak:      "memory.max_usage_in_bytes",
	Failcnt:   "memory.failcnt",
	Stat:      "memory.stat",
	Events:    "memory.oom_control",
	SwapLimit: "memory.memsw.limit_in_bytes",
	Procs:     "cgroup.procs",
	Threads:   "tasks",
}

// V2Files are the unified interface files.
var V2Files = Files{
	Limit:     "memory.max",
	Usage:     "memory.current",
	Peak:      "memory.peak",
	Failcnt:   "memory.events",
	Stat:      "memory.stat",
	Events:    "memory.events",
	SwapLimit: "memory.swap.max",
	Procs:     "cgroup.procs",
	Threads:   "cgroup.threads",
}

// FilesFor returns the interface file names of a cgroup version.
func FilesFor(version int) Files {
	if version == 2 {
		return V2Files
	}
	return V1Files
}
