package release

import (
	"slices"
	"testing"
)

// The releases memlab meets: the article's series, the matrix's Debian
// kernels and this machine's.
var releases = map[string][3]int{
	"4.4.178":                    {4, 4, 178},
	"4.4.0-117-generic":          {4, 4, 0},
	"5.10.0-32-cloud-amd64":      {5, 10, 0},
	"6.1.0-50-cloud-amd64":       {6, 1, 0},
	"6.12.117+deb13-cloud-amd64": {6, 12, 117},
	"6.18.44-fc-v1045":           {6, 18, 44},
	"7.0":                        {7, 0, 0},
	"6.1.0-50-cloud-amd64\n":     {6, 1, 0}, // as read from /proc
}

func TestParse(t *testing.T) {
	for r, want := range releases {
		v, err := Parse(r)
		if err != nil || [3]int{v.Major, v.Minor, v.Patch} != want {
			t.Errorf("Parse(%q) = %+v, %v; want %v", r, v, err, want)
		}
	}
	for _, bad := range []string{"", "6", "v6.1", "linux-6.1", "unknown"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted a release with no version", bad)
		}
	}
	if v, err := Running(); err != nil || v.Major < 2 {
		t.Errorf("Running() = %+v, %v", v, err)
	}
}

func TestFloors(t *testing.T) {
	for _, c := range []struct {
		release string
		has     []Feature
		lacks   []Feature
		batch   int
	}{
		{"4.4.178", nil, []Feature{CgroupV2Memory, V1KmemUnlimited, PageTablesCharged, OOMKillCounter, LazyStat, OOMGroup, CloneIntoCgroup, MemoryPeak, ChargeBatch64, MemcgV1Optional}, 32},
		{"4.6.0", []Feature{CgroupV2Memory, V1KmemUnlimited}, []Feature{PageTablesCharged}, 32},
		{"4.13.0", []Feature{OOMKillCounter}, []Feature{LazyStat}, 32},
		{"5.10.0-32-cloud-amd64", []Feature{LazyStat, OOMGroup, CloneIntoCgroup}, []Feature{MemoryPeak, ChargeBatch64}, 32},
		{"6.0.19", []Feature{MemoryPeak}, []Feature{ChargeBatch64}, 32},
		{"6.1.0-50-cloud-amd64", []Feature{MemoryPeak, ChargeBatch64}, []Feature{MemcgV1Optional}, 64},
		{"6.12.117+deb13-cloud-amd64", []Feature{MemcgV1Optional}, nil, 64},
		{"6.18.44-fc-v1045", []Feature{MemcgV1Optional, ChargeBatch64}, nil, 64},
	} {
		v := MustParse(c.release)
		for _, f := range c.has {
			if !v.Has(f) {
				t.Errorf("%s lacks %s", c.release, f)
			}
		}
		for _, f := range c.lacks {
			if v.Has(f) {
				t.Errorf("%s has %s", c.release, f)
			}
		}
		if got := v.ChargeBatchPages(); got != c.batch {
			t.Errorf("%s: charge batch %d pages, want %d", c.release, got, c.batch)
		}
		has, lacks := v.Split()
		if len(has)+len(lacks) != len(Floors) {
			t.Errorf("%s: Split lost floors", c.release)
		}
	}
	// Oldest first: a table out of order is a typo in a version.
	if !slices.IsSortedFunc(Floors, func(a, b Floor) int { return a.Major*100 + a.Minor - b.Major*100 - b.Minor }) {
		t.Error("Floors are not oldest first")
	}
}

func TestCounterBounds(t *testing.T) {
	const page, cpus = 4096, 2
	for r, want := range map[string][2]int64{
		"4.4.178":               {32 * cpus * page, 0}, // stat exact on read
		"5.10.0-32-cloud-amd64": {32 * cpus * page, 32 * cpus * page},
		"6.1.0-50-cloud-amd64":  {64 * cpus * page, 64 * cpus * page},
	} {
		v := MustParse(r)
		if a, l := v.UsageAhead(cpus, page), v.StatLag(cpus, page); a != want[0] || l != want[1] {
			t.Errorf("%s: usage ahead %d, stat lag %d; want %v", r, a, l, want)
		}
	}
}
