package docker

import (
	"math"
	"strings"
	"testing"
)

func FuzzParseStatsLine(f *testing.F) {
	for _, s := range []string{"101.1MiB / 128MiB|79.01%", "568KiB / 15.37GiB|0.00%", "0B / 0B|0.00%", "-- / --|--", "1B / 1B|NaN%", "1e3B / 1B|1%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseStatsLine(s)
		if err != nil {
			return
		}
		for name, v := range map[string]float64{"usage": l.Usage, "limit": l.Limit, "percent": l.Percent, "half unit": l.UsageHalfUnit} {
			if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
				t.Fatalf("ParseStatsLine(%q): %s = %v", s, name, v)
			}
		}
		if l.UsageHalfUnit == 0 {
			t.Fatalf("ParseStatsLine(%q): a printed figure known exactly: %+v", s, l)
		}
		if again, err := ParseStatsLine(l.UsageText + " / " + l.LimitText + "|" + l.PercentPrinted); err != nil || again != l {
			t.Fatalf("ParseStatsLine(%q) = %+v; its own texts read back as %+v, %v", s, l, again, err)
		}
	})
}

// Whatever the docker CLI prints for a byte count reads back within the
// half unit parseHuman reports.
func FuzzParseHumanBracketsTheTruth(f *testing.F) {
	for _, b := range []uint64{0, 1, 1023, 1024, 106049536, 134217728, 1<<50 + 1} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b uint64) {
		b %= 1 << 60 // the CLI prints up to PiB; 1 EiB and beyond are not docker stats figures
		s := HumanSize(float64(b))
		v, half, err := parseHuman(s)
		if err != nil {
			t.Fatalf("parseHuman(%q) for %d bytes: %v", s, b, err)
		}
		if d := math.Abs(v - float64(b)); d > half*(1+1e-9) {
			t.Fatalf("%d bytes print as %s, read back as %v ± %v: off by %v", b, s, v, half, d)
		}
		if strings.TrimSpace(s) != s {
			t.Fatalf("HumanSize(%d) = %q", b, s)
		}
	})
}

// Lines the fuzz target's checks refuse: numbers ParseFloat takes that the
// CLI never prints, and sizes past float64.
func TestParseStatsLineRefusesWhatTheCLINeverPrints(t *testing.T) {
	huge := strings.Repeat("9", 310) + "PiB"
	for _, bad := range []string{"1B / 1B|NaN%", "1B / 1B|Inf%", "1B / 1B|-1%", "1B / 1B|1e5%", "1B / 1B|1_0%",
		"1B / 1B|+1%", "1B / 1B|1", huge + " / 1B|1.00%", "1B / " + huge + "|1.00%"} {
		if l, err := ParseStatsLine(bad); err == nil {
			t.Errorf("ParseStatsLine(%q) = %+v", bad, l)
		}
	}
}
