package docker_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	. "github.com/onsi/gomega"

	"github.com/memlab/memlab/labs/docker"
	"github.com/memlab/memlab/specs/claim"
)

var _ = claim.Describe("D1", func(m claim.Mode) string {
	return fmt.Sprintf("-m %s reads back from %s as 134217728", limitArg, m.Files.Limit)
}, func(m claim.Mode) {
	d := labFor(m)
	raw, err := d.g.ReadFile(m.Files.Limit) // raw, as the article cats it
	Expect(err).NotTo(HaveOccurred())
	Expect(raw).To(Equal(strconv.Itoa(limit)))
	Expect(d.c.Memory).To(Equal(int64(limit)), "HostConfig.Memory")

	claim.Figure(m.Files.Limit, raw, m.Files.Limit)
	claim.Figure("HostConfig.Memory (docker inspect)", d.c.Memory, "")
	claim.Holds("the CLI turns 128m into 134217728 bytes (go-units, 1024-based) and the engine writes that number")
}, claim.NeedsDocker)

var _ = claim.Describe("D2", func(claim.Mode) string {
	return "searching the memory hierarchy for the ID finds the directory /proc/PID/cgroup names"
}, func(m claim.Mode) {
	d := labFor(m)
	loc := d.loc
	// Both ways agree (Find checks it), the directory is named for
	// the ID, and its name says the driver the engine reports.
	Expect(loc.Rel).To(Equal(loc.FromProc))
	Expect(loc.Matches).To(ContainElement(loc.Rel))
	Expect(string(loc.Driver)).To(Equal(d.engine.CgroupDriver), "the engine's cgroup driver (docker info)")
	Expect(d.g.HasFile(m.Files.Limit)).To(BeTrue())

	claim.Figure("memory cgroup directory", loc.Rel, loc.Dir)
	claim.Figure(`find . -name "*ID*" (the article's search)`, strings.Join(loc.Matches, " "), d.layout.MemoryRoot)
	claim.Figure("memory line of the init's cgroup file", "/"+loc.FromProc, fmt.Sprintf("/proc/%d/cgroup", d.c.InitPID))
	claim.Figure("cgroup driver (directory name / docker info)", fmt.Sprintf("%s / %s", loc.Driver, d.engine.CgroupDriver), "")
	note := "found by ID, and /proc/<init PID>/cgroup names the same directory"
	if loc.Driver == docker.Cgroupfs {
		note += fmt.Sprintf("; this engine uses the cgroupfs driver, so it is %s, where the article's systemd driver made system.slice/docker-<ID>.scope (and the find also hit a -shm.mount unit)",
			strings.Replace(loc.Rel, d.c.ID, "<ID>", 1))
	}
	claim.Holds(note)
}, claim.NeedsDocker)

// v1 has the article's hierarchical limits; v2 has none, and its own swap
// limit: the two modes check different files.
var _ = claim.Describe("D6", func(m claim.Mode) string {
	return map[int]string{
		1: "memory.stat's hierarchical limits under -m 128m, and where the doubling comes from",
		2: "no hierarchical limits here; -m 128m sets memory.max and memory.swap.max",
	}[m.Version]
}, func(m claim.Mode) {
	if m.Version == 1 {
		d6v1(m)
	} else {
		d6v2(m)
	}
}, claim.NeedsDocker)

func d6v1(m claim.Mode) {
	d := labFor(m)
	st, err := d.g.Stat()
	Expect(err).NotTo(HaveOccurred())
	memLimit, ok := st.KeyValues["hierarchical_memory_limit"]
	Expect(ok).To(BeTrue(), "memory.stat has hierarchical_memory_limit")
	Expect(memLimit).To(Equal(int64(limit)))
	claim.Figure("hierarchical_memory_limit", memLimit, m.Files.Stat)
	claim.Figure("requested --memory-swap", "none (HostConfig.MemorySwap 0: the engine's default)", "")
	claim.Figure("HostConfig.MemorySwap after the engine's defaults (docker inspect)", d.c.MemorySwap, "")
	claim.Figure("swap on this host", swapTotal(), "/proc/swaps")

	if !d.g.HasFile(m.Files.SwapLimit) {
		// No swap accounting: the engine cannot set a memory+swap limit.
		Expect(st.KeyValues["hierarchical_memsw_limit"]).NotTo(Equal(int64(2 * limit)))
		claim.Corrected("this kernel does not account swap (no %s): the engine warns and sets no memory+swap limit (HostConfig.MemorySwap %d), so there is no doubled hierarchical_memsw_limit; the doubling needs swap accounting",
			m.Files.SwapLimit, d.c.MemorySwap)
		return
	}
	swLimit, ok := st.KeyValues["hierarchical_memsw_limit"]
	Expect(ok).To(BeTrue(), "memory.stat has hierarchical_memsw_limit where swap is accounted")
	raw, err := d.g.ReadFile(m.Files.SwapLimit)
	Expect(err).NotTo(HaveOccurred())
	Expect(d.c.MemorySwap).To(Equal(int64(2 * limit)))
	Expect(raw).To(Equal(strconv.Itoa(2 * limit)))
	Expect(swLimit).To(Equal(int64(2 * limit)))
	claim.Figure("hierarchical_memsw_limit", swLimit, m.Files.Stat)
	claim.Figure(m.Files.SwapLimit, raw, m.Files.SwapLimit)
	claim.Holds("268435456 = 2 x 134217728; the kernel only copies memsw.limit_in_bytes, and the doubling is Docker's: " +
		"with -m and no --memory-swap the engine sets MemorySwap = 2 x Memory (moby daemon/daemon_unix.go, adaptContainerSettings), " +
		"where the kernel accounts swap; so the container may use 128m of RAM plus 128m of swap (on a host with no swap, just 128m)")
}

func d6v2(m claim.Mode) {
	d := labFor(m)
	st, err := d.g.Stat()
	Expect(err).NotTo(HaveOccurred())
	Expect(st.KeyValues).NotTo(HaveKey("hierarchical_memory_limit"))
	max, err := d.g.ReadFile(m.Files.Limit)
	Expect(err).NotTo(HaveOccurred())
	Expect(max).To(Equal(strconv.Itoa(limit)))
	claim.Figure(m.Files.Limit, max, m.Files.Limit)
	claim.Figure("HostConfig.MemorySwap (docker inspect)", d.c.MemorySwap, "")
	if !d.g.HasFile(m.Files.SwapLimit) {
		claim.Corrected("cgroup v2 has no hierarchical_* keys in memory.stat (a limit applies down the tree by itself), and this kernel has no %s", m.Files.SwapLimit)
		return
	}
	swap, err := d.g.ReadFile(m.Files.SwapLimit)
	Expect(err).NotTo(HaveOccurred())
	Expect(d.c.MemorySwap).To(Equal(int64(2 * limit)))
	Expect(swap).To(Equal(strconv.Itoa(limit)), "v2 limits swap alone: MemorySwap - Memory")
	claim.Figure(m.Files.SwapLimit, swap, m.Files.SwapLimit)
	claim.Corrected("cgroup v2 has no hierarchical_* keys in memory.stat; Docker's default MemorySwap = 2 x Memory becomes memory.swap.max = %s (swap alone, 2 x 128m - 128m), not a 268435456 memory+swap limit", swap)
}

// swapTotal sums /proc/swaps' sizes: the doubling only matters with swap.
func swapTotal() string {
	b, err := os.ReadFile("/proc/swaps")
	if err != nil {
		return err.Error()
	}
	var kb int64
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) >= 3 {
			n, _ := strconv.ParseInt(f[2], 10, 64)
			kb += n
		}
	}
	if kb == 0 {
		return "none"
	}
	return fmt.Sprintf("%d KiB", kb)
}
