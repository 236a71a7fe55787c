package cgroup

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/memlab/memlab/labs/kernel/proc"
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

// A size past int64 must not wrap around into "below the minimum".
func TestParseSizeSaysTooLarge(t *testing.T) {
	for _, big := range []string{"99999999999999999999", "9223372036854775807", "9223372036854775808", "8589934592g", "5000000t", strings.Repeat("9", 400)} {
		_, err := ParseSize(big)
		if !errors.Is(err, ErrBadSize) || !strings.Contains(err.Error(), "too large") {
			t.Errorf("ParseSize(%q) = %v, want ErrBadSize saying too large", big, err)
		}
	}
	if n, err := ParseSize("4194304t"); err != nil || n != MaxLimit {
		t.Errorf("ParseSize(4194304t) = %d, %v; want the maximum %d", n, err, int64(MaxLimit))
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
	for _, s := range []string{"100m", "1g", "-1", "100x", "1.5m", "99999999999999999999", "9223372036854775807", "4194304t"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err == nil && (n < MinLimit || n > MaxLimit) {
			t.Fatalf("ParseSize(%q) = %d, outside %d..%d", s, n, MinLimit, int64(MaxLimit))
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

func TestOwnerReadsOnlyNamesCreateMakes(t *testing.T) {
	for name, want := range map[string]proc.RunID{
		"g5-1234.56789-9f3a2b":        {PID: 1234, Start: 56789},
		"memlab/run-7.0-abcdef":       {PID: 7, Start: 0},
		"my.lab_1-x-42.4242-000000":   {PID: 42, Start: 4242},
		"memlab/g7group-9.123-ffffff": {PID: 9, Start: 123},
	} {
		if run, ok := Owner(name); !ok || run != want {
			t.Errorf("Owner(%q) = %+v, %v; want %+v", name, run, ok, want)
		}
	}
	for _, name := range []string{
		"docker", "memlab/a/b-1.2-ffffff", "other/g5-1.2-ffffff", "x-y", "g5-0.2-ffffff", "g5-abc.2-ffffff",
		"g5-1234-9f3a2b",     // a PID and no start time: an older memlab's name
		"g5-1-2-ffffff",      // a PID and a start time, but not as RunID writes them
		"g5-1.2-xyz123",      // not Create's nonce
		"g5-1.2-FFFFFF",      // nor this
		".hidden-1.2-ffffff", // a name ValidateName refuses
		"-1.2-ffffff",        // no name at all
		"g5-01.2-ffffff",     // not how RunID prints
	} {
		if run, ok := Owner(name); ok {
			t.Errorf("Owner(%q) = %+v: not a name Create makes", name, run)
		}
	}
}

// The sweep must not trust a PID alone: a group whose name carries a PID
// that is alive now, but held by a process with another start time, is a
// dead run's leftover. Here the PID is this test's own, so it is certainly
// alive; only the start time differs.
func TestSweepRemovesTheGroupOfAReusedPID(t *testing.T) {
	me, err := proc.Current()
	if err != nil {
		t.Fatal(err)
	}
	reused := proc.RunID{PID: me.PID, Start: me.Start + 1}
	gone := proc.RunID{PID: 2147483646, Start: 1} // above any pid_max
	l := Layout{Version: 2, MemoryRoot: t.TempDir()}
	names := map[string]bool{ // leaf -> the sweep should take it
		"run-" + me.String() + "-aaaaaa":     false, // this live run's
		"run-" + reused.String() + "-bbbbbb": true,  // a reused PID's
		"g5-" + gone.String() + "-cccccc":    true,  // a PID that is free
		"made-by-hand":                       false, // not Create's
	}
	for leaf := range names {
		if err := os.MkdirAll(filepath.Join(l.MemoryRoot, LabParent, leaf), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A plain directory has no cgroup.procs, which RemoveTree takes for a
	// group already gone: Sweep's list is its decision, made without root.
	removed, err := Sweep(t.Context(), l)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for leaf, take := range names {
		if take {
			want = append(want, filepath.Join(LabParent, leaf))
		}
	}
	slices.Sort(want)
	slices.Sort(removed)
	if !slices.Equal(removed, want) {
		t.Errorf("Sweep removed %q; want %q", removed, want)
	}
}
