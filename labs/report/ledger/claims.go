// Package ledger holds memlab's claims ledger (the article's claims, keyed by
// fixed IDs), the verdict model, and the results a run produces for them.
package ledger

import "fmt"

// Claim is one statement of the article that memlab checks.
type Claim struct {
	ID        string // fixed: K1, F1, D1-D9, G1-G8
	Section   string // the article section it comes from
	Statement string // our paraphrase
	Article   string // the figures the article printed (kernel 4.4, Docker, systemd driver)
}

// Claims is the ledger, in the article's order. IDs never change: reports,
// rubrics and the kernel matrix are keyed by them.
var Claims = []Claim{
	{"K1", "kernel", "the memory controller needs kernel >= 4.3 for the labs to run; 3.10 is known not to", "4.4.0-117"},
	{"F1", "files", "a memory cgroup directory exposes the article's 26 interface files", "26 files"},
	{"D1", "docker", "docker run -m 128m sets the container cgroup's limit, reported in bytes", "134217728"},
	{"D2", "docker", "the container's memory cgroup is found by its ID under the memory hierarchy", "system.slice/docker-ID.scope"},
	{"D3", "docker", "with stress holding 100m, usage_in_bytes is about 101 MiB", "106049536"},
	{"D4", "docker", "memory.stat rss is close to usage_in_bytes; usage is an asynchronous approximation", "rss 105943040"},
	{"D5", "docker", "the real memory in use is rss + cache + swap", "cache 0, swap 0"},
	{"D6", "docker", "hierarchical_memory_limit equals the limit; hierarchical_memsw_limit is twice it", "134217728, 268435456"},
	{"D7", "docker", "docker stats MEM USAGE equals usage_in_bytes and LIMIT equals the limit", "101.1MiB / 128MiB, 79.01%"},
	{"D8", "docker", "top's RES of stress is below the cgroup usage because other tasks are in the cgroup", "RES 102336 KiB"},
	{"D9", "docker", "cgroup.procs lists the host PIDs of all the container's processes", "5 PIDs"},
	{"G1", "go", `writing "100m" to memory.limit_in_bytes reads back in bytes`, "104857600"},
	{"G2", "go", "/proc/self/exe links to the running program; exec'ing it runs the same program again, told apart by argv[0]", "/proc/self/exe -> /usr/bin/ls"},
	{"G3", "go", "in a new PID namespace the re-executed child sees itself as PID 1", "Current pid: 1"},
	{"G4", "go", "the tasks file lists the host PIDs of the child and every descendant (sh, stress, its worker)", "7 PIDs"},
	{"G5", "go", "stress at 99m under a 100m limit keeps running", "runs (RES 101680 KiB)"},
	{"G6", "go", "stress at 101m under a 100m limit: its worker gets signal 9 and stress fails with exit status 1", `"worker 7 got signal 9", exit status 1`},
	{"G7", "go", "when the limit is exceeded, every process in the group is killed", "whole group killed"},
	{"G8", "go", "starting the child, then writing its PID to tasks, confines everything the child goes on to run", "usage 2617344 while stress held 99M RES"},
}

// Modes are the cgroup modes every claim is checked in: v1 (the article's)
// and v2 (its translation). Each claim needs a spec in each.
var Modes = []string{"v1", "v2"}

// Lookup returns the claim with the given ID.
func Lookup(id string) (Claim, error) {
	for _, c := range Claims {
		if c.ID == id {
			return c, nil
		}
	}
	return Claim{}, fmt.Errorf("no claim %q in the ledger", id)
}

// Order is a claim's position in the ledger, for sorting reports.
func Order(id string) int {
	for i, c := range Claims {
		if c.ID == id {
			return i
		}
	}
	return len(Claims)
}
