package rawcgroup_test

import (
	"fmt"
	"os"
	"sort"
	"strings"

	. "github.com/onsi/gomega"

	"github.com/memlab/memlab/specs/claim"
)

// articleFiles is the article's `ls memory.*` in a container's group.
var articleFiles = []string{
	"memory.failcnt", "memory.force_empty", "memory.kmem.failcnt", "memory.kmem.limit_in_bytes",
	"memory.kmem.max_usage_in_bytes", "memory.kmem.slabinfo", "memory.kmem.tcp.failcnt",
	"memory.kmem.tcp.limit_in_bytes", "memory.kmem.tcp.max_usage_in_bytes", "memory.kmem.tcp.usage_in_bytes",
	"memory.kmem.usage_in_bytes", "memory.limit_in_bytes", "memory.max_usage_in_bytes",
	"memory.memsw.failcnt", "memory.memsw.limit_in_bytes", "memory.memsw.max_usage_in_bytes",
	"memory.memsw.usage_in_bytes", "memory.move_charge_at_immigrate", "memory.numa_stat",
	"memory.oom_control", "memory.pressure_level", "memory.soft_limit_in_bytes", "memory.stat",
	"memory.swappiness", "memory.usage_in_bytes", "memory.use_hierarchy",
}

// coreFiles are the files the labs themselves cannot do without.
var coreFiles = map[int][]string{
	1: {"memory.limit_in_bytes", "memory.usage_in_bytes", "memory.max_usage_in_bytes", "memory.failcnt", "memory.stat", "memory.oom_control"},
	2: {"memory.max", "memory.current", "memory.stat", "memory.events", "memory.high", "memory.low", "memory.min", "memory.oom.group"},
}

// v2Translation is where each of the article's commonly used files went.
const v2Translation = "limit_in_bytes -> memory.max, usage_in_bytes -> memory.current, max_usage_in_bytes -> memory.peak (5.19+), " +
	"failcnt -> memory.events max, oom_control -> memory.events oom/oom_kill, memsw.* -> memory.swap.* (swap alone), " +
	"soft_limit_in_bytes -> memory.low/memory.high, stat rss/cache -> memory.stat anon/file"

var _ = claim.Describe("F1", func(claim.Mode) string { return "a new group lists the article's files" }, func(m claim.Mode) {
	g := claim.Group(m.Lab(), "f1")
	entries, err := os.ReadDir(g.Path)
	Expect(err).NotTo(HaveOccurred())
	present := map[string]bool{}
	var listed []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "memory.") {
			present[e.Name()] = true
			listed = append(listed, e.Name())
		}
	}
	Expect(listed).To(ContainElements(coreFiles[m.Version]), "the labs read these files")

	var missing, extra []string
	for _, f := range articleFiles {
		if !present[f] {
			missing = append(missing, f)
		}
		delete(present, f)
	}
	for f := range present {
		extra = append(extra, f)
	}
	sort.Strings(extra)
	claim.Figure("article files present", fmt.Sprintf("%d of %d", len(articleFiles)-len(missing), len(articleFiles)), "ls memory.*")
	claim.Figure("memory.* files in all", len(listed), "ls memory.*")
	if len(extra) > 0 {
		claim.Figure("files the article does not list", strings.Join(extra, " "), "ls memory.*")
	}
	if len(missing) > 0 {
		claim.Figure("article files missing", strings.Join(missing, " "), "ls memory.*")
	}
	evidence := fmt.Sprintf("%d of the article's 26 files are missing here (%s)", len(missing), strings.Join(missing, " "))
	if m.Version == 2 {
		evidence = "cgroup v2 has none of the v1 files; " + v2Translation
	}
	claim.Decide(len(missing) == 0, "all 26 present", evidence)
})
