package cgroup

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// captured is a directory of interface files read from a real kernel.
const captured = "testdata/v1-hybrid-6.18.44-fc-v657"

func read(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(captured, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCapturedV1Files(t *testing.T) {
	stat, err := ParseKeyValues(read(t, "memory.stat"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"cache", "rss", "swap", "hierarchical_memory_limit", "hierarchical_memsw_limit", "total_rss"} {
		if _, ok := stat[k]; !ok {
			t.Errorf("memory.stat: no %q", k)
		}
	}
	if got := stat["hierarchical_memory_limit"]; got != 104857600 {
		t.Errorf("hierarchical_memory_limit = %d, want the 100m the capture set", got)
	}
	oom, err := ParseKeyValues(read(t, "memory.oom_control"))
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := (Events{KeyValues: oom, Version: 1}).OOMKills(); !ok || n != 0 {
		t.Errorf("oom_kill = %d, %v", n, ok)
	}
	limit, err := ParseValue(read(t, "memory.limit_in_bytes"))
	if err != nil || limit != 104857600 {
		t.Errorf("limit = %d, %v", limit, err)
	}
}

func TestParseValue(t *testing.T) {
	for in, want := range map[string]int64{"max\n": Unlimited, "104857600\n": 104857600, "0": 0} {
		if got, err := ParseValue(in); err != nil || got != want {
			t.Errorf("ParseValue(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "100m", "-", "1 2"} {
		if _, err := ParseValue(bad); err == nil {
			t.Errorf("ParseValue(%q) accepted", bad)
		}
	}
}

func TestParseKeyValuesRejectsOtherShapes(t *testing.T) {
	for _, bad := range []string{"cache", "cache 1 2", "cache x"} {
		if _, err := ParseKeyValues(bad); err == nil {
			t.Errorf("ParseKeyValues(%q) accepted", bad)
		}
	}
}

func TestV2Events(t *testing.T) {
	kv, err := ParseKeyValues("low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n")
	if err != nil {
		t.Fatal(err)
	}
	ev := Events{KeyValues: kv, Version: 2}
	if n, _ := ev.OOMKills(); n != 1 {
		t.Errorf("oom_kill = %d", n)
	}
	if n, _ := ev.LimitHits(); n != 12 {
		t.Errorf("max = %d", n)
	}
	st := Stat{KeyValues: KeyValues{"anon": 5, "file": 7}, Version: 2}
	if a, name := st.Anon(); a != 5 || name != "anon" {
		t.Errorf("Anon = %d %s", a, name)
	}
}

func TestDetectCapturedHybrid(t *testing.T) {
	l, err := DetectFromMountinfo(read(t, "mountinfo"), read(t, "unified.cgroup.controllers"))
	if err != nil {
		t.Fatal(err)
	}
	if l.Mode != Hybrid || l.Version != 1 || l.MemoryRoot != "/sys/fs/cgroup/memory" || l.UnifiedRoot != "/sys/fs/cgroup/unified" {
		t.Errorf("got %+v", l)
	}
}

// Hand-written mount lines in the shapes systemd and older distributions use.
func TestDetectShapes(t *testing.T) {
	const unified = "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n"
	const legacy = "30 23 0:26 / /sys/fs/cgroup/memory rw,nosuid shared:9 - cgroup cgroup rw,memory\n" +
		"31 23 0:27 / /sys/fs/cgroup/systemd rw,nosuid shared:8 - cgroup cgroup rw,xattr,name=systemd\n"
	const noMemory = "31 23 0:27 / /sys/fs/cgroup/cpu rw shared:8 - cgroup cgroup rw,cpu\n"
	cases := []struct {
		name, mounts, controllers string
		mode                      Mode
		version                   int
		err                       error
	}{
		{"unified", unified, "cpuset cpu io memory pids", Unified, 2, nil},
		{"legacy", legacy, "", Legacy, 1, nil},
		{"unified without memory", unified, "cpu io pids", Unified, 0, ErrNoMemoryController},
		{"v1 without memory", noMemory, "", Legacy, 0, ErrNoMemoryController},
		{"nothing mounted", "", "", "", 0, ErrNoCgroupFS},
	}
	for _, c := range cases {
		l, err := DetectFromMountinfo(c.mounts, c.controllers)
		if c.err != nil {
			if err == nil || !strings.Contains(err.Error(), c.err.Error()) {
				t.Errorf("%s: err = %v, want %v", c.name, err, c.err)
			}
			continue
		}
		if err != nil || l.Mode != c.mode || l.Version != c.version {
			t.Errorf("%s: got %+v, %v", c.name, l, err)
		}
	}
}
