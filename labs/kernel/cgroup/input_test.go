package cgroup

import (
	"errors"
	"strings"
	"testing"
)

func TestParseSizeMeansWhatDockerMeans(t *testing.T) {
	for in, want := range map[string]int64{"100m": 104857600, "128m": 134217728, "1g": 1 << 30, "99M": 99 << 20, "4194304": 4 << 20, "100MiB": 104857600} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"100x", "-1", "", "0", "1k", "1.5.5m", " 100m", "100 m", "m"} {
		if _, err := ParseSize(bad); !errors.Is(err, ErrBadSize) {
			t.Errorf("ParseSize(%q) = %v, want ErrBadSize", bad, err)
		}
	}
}

func TestValidateName(t *testing.T) {
	for _, ok := range []string{"run", "g5", "my.lab_1-x"} {
		if err := ValidateName(ok); err != nil {
			t.Errorf("ValidateName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "..", "a/b", "../x", ".hidden", "a..b", strings.Repeat("a", 49), "a b"} {
		if err := ValidateName(bad); !errors.Is(err, ErrBadName) {
			t.Errorf("ValidateName(%q) accepted", bad)
		}
	}
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"100m", "1g", "-1", "100x", "1.5m"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err == nil && n < MinLimit {
			t.Fatalf("ParseSize(%q) = %d, below the minimum", s, n)
		}
	})
}

func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"run", "..", "a/b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidateName(s) == nil && (strings.Contains(s, "/") || strings.Contains(s, "..") || s == "" || s[0] == '.') {
			t.Fatalf("ValidateName accepted %q", s)
		}
	})
}

func FuzzParseKeyValues(f *testing.F) {
	f.Add("cache 0\nrss 105943040\n")
	f.Add("oom_kill_disable 0\nunder_oom 0\noom_kill 1\n")
	f.Fuzz(func(t *testing.T, s string) {
		kv, err := ParseKeyValues(s)
		if err == nil && len(kv) > strings.Count(s, "\n")+1 {
			t.Fatalf("%d keys from %d lines", len(kv), strings.Count(s, "\n")+1)
		}
	})
}

func FuzzDetectFromMountinfo(f *testing.F) {
	f.Add("30 23 0:26 / /sys/fs/cgroup rw shared:4 - cgroup2 cgroup2 rw\n", "memory")
	f.Fuzz(func(t *testing.T, mounts, controllers string) {
		l, err := DetectFromMountinfo(mounts, controllers)
		if err == nil && (l.Version != 1 && l.Version != 2 || l.MemoryRoot == "") {
			t.Fatalf("no memory root but no error: %+v", l)
		}
	})
}

func TestCreatorReadsOnlyNamesCreateMakes(t *testing.T) {
	for name, want := range map[string]int{"g5-1234-9f3a2b": 1234, "memlab/run-7-abcdef": 7, "my.lab_1-x-42-000000": 42} {
		if pid, ok := Creator(name); !ok || pid != want {
			t.Errorf("Creator(%q) = %d, %v; want %d", name, pid, ok, want)
		}
	}
	for _, name := range []string{"docker", "memlab/a/b-1-ff", "other/g5-1-ff", "x-y", "g5-0-ff", "g5-abc-ff"} {
		if pid, ok := Creator(name); ok {
			t.Errorf("Creator(%q) = %d: not a name Create makes", name, pid)
		}
	}
}
