package why

import (
	"strings"
	"testing"

	"github.com/memlab/memlab/labs/kernel/release"
)

// The kernels memlab meets: the article's series, bullseye's 5.10 and two
// 6.x kernels, on a 2-CPU machine with 4 KiB pages.
var (
	k44  = release.MustParse("4.4.178")
	k510 = release.MustParse("5.10.0-32-cloud-amd64")
	k61  = release.MustParse("6.1.0-50-cloud-amd64")
	k618 = release.MustParse("6.18.44-fc-v1045")
)

const cpus, page = 2, 4096

// differ fails unless every sentence is distinct: the kernels differ there.
func differ(t *testing.T, what string, sentences map[string]string) {
	t.Helper()
	seen := map[string]string{}
	for k, s := range sentences {
		if s == "" {
			t.Errorf("%s on %s: empty", what, k)
		}
		if other, ok := seen[s]; ok {
			t.Errorf("%s: %s and %s read the same, though the kernels differ: %q", what, k, other, s)
		}
		seen[s] = k
	}
}

func has(t *testing.T, what, s string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(s, w) {
			t.Errorf("%s: %q lacks %q", what, s, w)
		}
	}
}

func lacks(t *testing.T, what, s string, bad ...string) {
	t.Helper()
	for _, b := range bad {
		if strings.Contains(s, b) {
			t.Errorf("%s: %q says %q", what, s, b)
		}
	}
}

func TestKernelMemory(t *testing.T) {
	// v1: 4.4 needs a kmem limit (runc's), 5.10 and 6.x do not; page
	// tables are charged from 4.8.
	differ(t, "v1 kernel memory", map[string]string{
		"4.4 with runc's kmem limit": KernelMemory(k44, 1, 64<<10),
		"4.4 without":                KernelMemory(k44, 1, 0),
		"5.10":                       KernelMemory(k510, 1, 868<<10),
	})
	on44 := KernelMemory(k44, 1, 0)
	has(t, "4.4 v1", on44, "only once", "memory.kmem.limit_in_bytes", "runc#1350", "runc#2840", "page tables only from 4.8, 3e79ec7ddc33", "accounting was off")
	has(t, "4.4 v1, charged", KernelMemory(k44, 1, 64<<10), "charged 64 KiB", "accounting was on")
	on510 := KernelMemory(k510, 1, 868<<10)
	has(t, "5.10 v1", on510, "with no kmem limit", "page tables", "4.6, b313aeee2509", "868 KiB here")
	lacks(t, "5.10 v1", on510, "runc", "only once", "Docker does not set")
	has(t, "6.18 v2", KernelMemory(k618, 2, 1<<20), "v2 group", "page tables", "1024 KiB")
	has(t, "nokmem", KernelMemory(k618, 1, 0), "charged none")
	lacks(t, "any", on44+on510, "Docker does not set")
}

func TestCounters(t *testing.T) {
	differ(t, "counters", map[string]string{
		"4.4":  CountersDiffer(k44, "memory.usage_in_bytes", cpus, page),
		"5.10": CountersDiffer(k510, "memory.usage_in_bytes", cpus, page),
		"6.1":  CountersDiffer(k61, "memory.usage_in_bytes", cpus, page),
	})
	has(t, "4.4", CountersDiffer(k44, "memory.usage_in_bytes", cpus, page), "fuzz value", "32 pages", "256 KiB", "exact")
	has(t, "5.10", CountersDiffer(k510, "memory.usage_in_bytes", cpus, page), "32 pages", "256 KiB", "lazily", "4.16, a983b5ebee57")
	has(t, "6.1", CountersDiffer(k61, "memory.current", cpus, page), "memory.current", "64 pages", "512 KiB", "lazily")
	for _, v := range []release.Version{k44, k510, k61} {
		// The old sentence was false on every kernel: usage is the fuzzy one.
		lacks(t, v.String(), CountersDiffer(v, "memory.usage_in_bytes", cpus, page), "exact page counter")
	}
}

func TestOOMKills(t *testing.T) {
	// A counter 4.4 lacks is not 0.
	has(t, "4.4", OOMKills(k44, 0, false), "not counted by this kernel", "4.13")
	if got := OOMKills(k510, 1, true); got != "1" {
		t.Errorf("5.10: %q", got)
	}
	if got := OOMKills(k510, 0, false); got != "not read" {
		t.Errorf("5.10, file unreadable: %q", got)
	}
}

func TestWholeGroupSwitch(t *testing.T) {
	differ(t, "whole group", map[string]string{
		"v1":       WholeGroupSwitch(k618, 1),
		"v2 4.19+": WholeGroupSwitch(k510, 2),
		"v2 4.18":  WholeGroupSwitch(release.MustParse("4.18.0"), 2),
	})
}

func TestPageTables(t *testing.T) {
	differ(t, "page tables", map[string]string{
		"4.4":  PageTables(k44, 240<<10),
		"5.10": PageTables(k510, 240<<10),
	})
	if PageTables(k510, 0) != "" {
		t.Error("no page tables measured, yet a clause")
	}
}

func TestFloors(t *testing.T) {
	differ(t, "floors", map[string]string{"4.4": Floors(k44), "5.10": Floors(k510), "6.1": Floors(k61), "6.18": Floors(k618)})
	has(t, "4.4", Floors(k44), "below every version floor", "memory.peak (5.19)")
	has(t, "5.10", Floors(k510), "has 7 of the 10", "lacks memory.peak (5.19), a 64-page charge batch")
	lacks(t, "5.10", Floors(k510), "CLONE_INTO_CGROUP")
	has(t, "6.18", Floors(k618), "every version floor")
}

func TestLabFloor(t *testing.T) {
	for _, c := range []struct {
		v     release.Version
		cg    int
		runs  bool
		right bool
		says  string
	}{
		{k44, 1, true, true, ">= 4.3"},
		{k618, 1, true, true, ">= 4.3"},
		{k618, 1, false, false, "yet does not run"},
		{release.MustParse("3.10.0-1160.el7.x86_64"), 1, true, false, "2.6.25"},
		{release.MustParse("3.10.0"), 1, false, true, "does not run"},
		{k510, 2, true, false, "floor is 4.5, not 4.3"},
	} {
		right, why := LabFloor(c.v, c.cg, c.runs)
		if right != c.right || !strings.Contains(why, c.says) {
			t.Errorf("LabFloor(%s, v%d, runs %v) = %v, %q; want %v, %q", c.v, c.cg, c.runs, right, why, c.right, c.says)
		}
	}
}
