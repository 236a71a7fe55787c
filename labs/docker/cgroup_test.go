package docker

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"

	"github.com/memlab/memlab/labs/kernel/cgroup"
	"github.com/memlab/memlab/labs/kernel/proc"
)

const fixtures = "testdata/cgroups"

// expect is a fixture's expect file: "key value..." lines.
type expect struct {
	id, rel string
	pid     int
	driver  Driver
	limit   int64
	matches []string
}

func loadFixture(t *testing.T, name string) (Host, expect) {
	t.Helper()
	dir := filepath.Join(fixtures, name)
	read := func(f string) string {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	l, err := cgroup.DetectFromMountinfo(read("mountinfo"), read("cgroup.controllers"))
	if err != nil {
		t.Fatalf("%s: layout: %v", name, err)
	}
	l.MemoryRoot = filepath.Join(dir, l.MemoryRoot)
	var e expect
	for line := range strings.SplitSeq(read("expect"), "\n") {
		f := strings.Fields(line)
		if len(f) < 1 {
			continue
		}
		switch f[0] {
		case "id":
			e.id = f[1]
		case "rel":
			e.rel = f[1]
		case "pid":
			e.pid, _ = strconv.Atoi(f[1])
		case "driver":
			e.driver = Driver(f[1])
		case "limit":
			e.limit, _ = strconv.ParseInt(f[1], 10, 64)
		case "matches":
			e.matches = f[1:]
		}
	}
	return Host{Layout: l, Proc: filepath.Join(dir, "proc")}, e
}

var layouts = []struct {
	name    string
	version int
}{
	{"v1-cgroupfs", 1},        // captured on this project's host
	{"v1-systemd", 1},         // captured in the matrix's 4.4 Docker cell (systemd legacy hierarchy)
	{"v1-systemd-article", 1}, // the article's host, from its listings
	{"v2-cgroupfs", 2},        // captured in the matrix's bookworm v2 Docker cells
	{"v2-systemd", 2},
}

func TestFindEachLayout(t *testing.T) {
	for _, tc := range layouts {
		t.Run(tc.name, func(t *testing.T) {
			h, want := loadFixture(t, tc.name)
			if h.Layout.Version != tc.version {
				t.Fatalf("layout %s: memory on v%d, want v%d", h.Layout, h.Layout.Version, tc.version)
			}
			loc, err := h.Find(want.id, want.pid)
			if err != nil {
				t.Fatal(err)
			}
			if loc.Rel != want.rel || loc.FromProc != want.rel || loc.Driver != want.driver {
				t.Errorf("found %s (from /proc %s, driver %s), want %s (driver %s)", loc.Rel, loc.FromProc, loc.Driver, want.rel, want.driver)
			}
			if strings.Join(loc.Matches, " ") != strings.Join(want.matches, " ") {
				t.Errorf("search matched %q, want %q", loc.Matches, want.matches)
			}
			// The directory is usable through the cgroup package.
			g := loc.Group(h.Layout)
			lim, err := g.Limit()
			if err != nil || lim != want.limit {
				t.Errorf("limit %d (%v), want %d", lim, err, want.limit)
			}
			// By ID alone (no PID: a stopped engine's leftovers, or a search).
			byID, err := h.Find(want.id, 0)
			if err != nil || byID.Rel != want.rel {
				t.Errorf("by ID alone: %q, %v", byID.Rel, err)
			}
		})
	}
}

func TestFindUnknownContainer(t *testing.T) {
	h, want := loadFixture(t, "v1-systemd-article")
	_, err := h.Find(strings.Repeat("0", 64), 0)
	if !errors.Is(err, ErrNoCgroup) {
		t.Fatalf("unknown ID: %v, want ErrNoCgroup", err)
	}
	// A PID in another container's cgroup must not pass for this one.
	other := filepath.Join(t.TempDir(), "proc")
	if err := os.MkdirAll(filepath.Join(other, "99"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, "99", "cgroup"), []byte("11:memory:/system.slice/docker.service\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h.Proc = other
	if _, err := h.Find(want.id, 99); !errors.Is(err, ErrNoCgroup) {
		t.Fatalf("disagreeing /proc: %v, want ErrNoCgroup", err)
	}
	if _, err := h.Find(want.id[:8], 0); err == nil {
		t.Fatal("a short ID prefix was accepted")
	}
}

func TestDriverOf(t *testing.T) {
	id := strings.Repeat("ab", 32)
	for rel, want := range map[string]Driver{
		"docker/" + id:                                    Cgroupfs,
		"kubepods/burstable/pod1/" + id:                   Cgroupfs,
		"system.slice/docker-" + id + ".scope":            Systemd,
		"system.slice/var-lib-docker-containers-" + id:    "",
		"system.slice/docker-" + id + ".scope/init.scope": "",
	} {
		got, ok := DriverOf(rel, id)
		if got != want || ok != (want != "") {
			t.Errorf("DriverOf(%s) = %q, %v; want %q", rel, got, ok, want)
		}
	}
}

func TestCLIRule(t *testing.T) {
	for v, want := range map[string]MemUsageRule{
		"1.13.1":          RuleUsage,
		"17.03.2-ce":      RuleUsage,
		"17.06.0-ce":      RuleUsageMinusCache,
		"19.03.15":        RuleUsageMinusCache,
		"20.10.24+dfsg1":  RuleUsageMinusInactiveFile,
		"28.2.2":          RuleUsageMinusInactiveFile,
		"v29.0.0":         RuleUsageMinusInactiveFile,
		"something-weird": RuleUsageMinusInactiveFile,
	} {
		if got := CLIRule(v); got != want {
			t.Errorf("CLIRule(%s) = %s, want %s", v, got, want)
		}
	}
}

func TestMemUsage(t *testing.T) {
	v1 := container.MemoryStats{Usage: 114647040, Stats: map[string]uint64{
		"cache": 8404992, "total_inactive_file": 8388608, "inactive_file": 8388608}}
	v2 := container.MemoryStats{Usage: 114647040, Stats: map[string]uint64{"file": 8404992, "inactive_file": 8388608}}
	for _, tc := range []struct {
		rule MemUsageRule
		m    container.MemoryStats
		want uint64
	}{
		{RuleUsage, v1, 114647040},
		{RuleUsageMinusCache, v1, 114647040 - 8404992},
		{RuleUsageMinusInactiveFile, v1, 114647040 - 8388608},
		{RuleUsageMinusInactiveFile, v2, 114647040 - 8388608},
		// inactive_file larger than usage (a racy sample) leaves usage as is.
		{RuleUsageMinusInactiveFile, container.MemoryStats{Usage: 10, Stats: map[string]uint64{"total_inactive_file": 20, "inactive_file": 20}}, 10},
	} {
		if got := MemUsage(tc.rule, tc.m); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.rule, got, tc.want)
		}
	}
}

func TestParseStatsLine(t *testing.T) {
	l, err := ParseStatsLine("101.1MiB / 128MiB|79.01%\n")
	if err != nil {
		t.Fatal(err)
	}
	if l.Usage != 101.1*(1<<20) || l.Limit != 128<<20 || l.Percent != 79.01 || math.Abs(l.UsageHalfUnit-0.05*(1<<20)) > 1e-6 {
		t.Errorf("parsed %+v", l)
	}
	if l, err := ParseStatsLine("568KiB / 15.37GiB|0.00%"); err != nil || l.Usage != 568<<10 || math.Abs(l.UsageHalfUnit-0.05*(1<<10)) > 1e-9 {
		t.Errorf("parsed %+v, %v", l, err)
	}
	for _, bad := range []string{"", "101MiB|1%", "101.1MiB / 128MiB", "x / 128MiB|1%", "1MiB / 2MiB|x%"} {
		if _, err := ParseStatsLine(bad); err == nil {
			t.Errorf("ParseStatsLine(%q) accepted", bad)
		}
	}
	// Trailing zeros dropped: "101MiB" is 100.95 to 101.05 MiB.
	if l, err := ParseStatsLine("101MiB / 128MiB|78.87%"); err != nil || math.Abs(l.UsageHalfUnit-0.05*(1<<20)) > 1e-6 {
		t.Errorf("parsed %+v, %v", l, err)
	}
	// What the CLI prints for the article's usage_in_bytes: 101.1MiB.
	if got := HumanSize(106049536); got != "101.1MiB" {
		t.Errorf("HumanSize(106049536) = %s", got)
	}
}

// A container's run label is the one run identity, proc.RunID; anything
// else (a container labelled org.memlab=1 by hand) is no run at all.
func TestLabelledRun(t *testing.T) {
	me, err := proc.Current()
	if err != nil {
		t.Fatal(err)
	}
	run, err := labelledRun(map[string]string{LabelRun: me.String()})
	if err != nil || run != me {
		t.Errorf("labelledRun(%s) = %+v, %v", me, run, err)
	}
	for _, bad := range []string{"", "manual", "-1-x", "abc-def", "1234-9f3a2b1c", "1234-5678"} {
		if run, err := labelledRun(map[string]string{LabelRun: bad}); err == nil {
			t.Errorf("run label %q read as %+v", bad, run)
		}
	}
	if _, err := labelledRun(nil); err == nil {
		t.Error("a container without a run label read as a run")
	}
}

// The captured trees are real containers running the article's stress
// (-m 128m, 100m held): their files read through the cgroup package as the
// specs read them, and hold what the kernel said there.
func TestCapturedContainers(t *testing.T) {
	for _, name := range []string{"v1-systemd", "v2-systemd", "v2-cgroupfs"} {
		t.Run(name, func(t *testing.T) {
			h, want := loadFixture(t, name)
			if !strings.Contains(readExpect(t, name), "source captured") {
				t.Fatalf("%s is not a capture: its figures would be ours, not the kernel's", name)
			}
			loc, err := h.Find(want.id, want.pid)
			if err != nil {
				t.Fatal(err)
			}
			g := loc.Group(h.Layout)
			usage, err := g.Usage()
			if err != nil {
				t.Fatal(err)
			}
			c, st, err := g.Charged()
			if err != nil {
				t.Fatal(err)
			}
			// stress's worker holds its 100m, all anonymous; the group is
			// under its 128m limit.
			if c.Anon < 100<<20 || usage < c.Anon || usage > want.limit {
				t.Errorf("usage %d, anon %d, limit %d", usage, c.Anon, want.limit)
			}
			// Docker's swap limit with -m alone: on v1 memory+swap is twice
			// the limit, on v2 memory.swap.max is the swap alone, MemorySwap - Memory.
			swapFile, swapWant := "memory.memsw.limit_in_bytes", 2*want.limit
			if h.Layout.Version == 2 {
				swapFile, swapWant = "memory.swap.max", want.limit
			}
			raw, err := g.ReadFile(swapFile)
			if err != nil || raw != strconv.FormatInt(swapWant, 10) {
				t.Errorf("%s = %q (%v), want %d", swapFile, raw, err, swapWant)
			}
			// docker stats' MEM USAGE there: usage less the inactive file pages.
			stats := container.MemoryStats{Usage: uint64(usage), Stats: map[string]uint64{}}
			for k, v := range st.KeyValues {
				stats.Stats[k] = uint64(v)
			}
			inactive := st.KeyValues["inactive_file"]
			if h.Layout.Version == 1 {
				inactive = st.KeyValues["total_inactive_file"]
			}
			if got := MemUsage(RuleUsageMinusInactiveFile, stats); int64(got) != usage-inactive {
				t.Errorf("MEM USAGE %d, want usage %d - inactive file %d", got, usage, inactive)
			}
		})
	}
}

func readExpect(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, name, "expect"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
