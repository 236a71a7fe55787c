package cgroup

import (
	"os"
	"testing"
)

func TestChargeBatch(t *testing.T) {
	page := int64(os.Getpagesize())
	for release, pages := range map[string]int{
		"4.4.178":           32, // the article's series
		"4.4.0-117-generic": 32,
		"5.10.0-35-amd64":   32, // bullseye
		"6.0.19":            32,
		"6.1.0-37-amd64":    64, // bookworm: the first with 64
		"6.18.44-fc-v1045":  64,
		"7.0":               64,
	} {
		got, err := ChargeBatchPages(release)
		if err != nil || got != pages {
			t.Errorf("ChargeBatchPages(%q) = %d, %v; want %d", release, got, err, pages)
		}
		if b, err := ChargeBatchBytes(release); err != nil || b != int64(pages)*page {
			t.Errorf("ChargeBatchBytes(%q) = %d, %v; want %d", release, b, err, int64(pages)*page)
		}
	}
	for _, bad := range []string{"", "6", "v6.1", "linux-6.1"} {
		if _, err := ChargeBatchBytes(bad); err == nil {
			t.Errorf("ChargeBatchBytes(%q) accepted a release with no version", bad)
		}
	}
}

func TestAtLeast(t *testing.T) {
	for _, c := range []struct {
		release      string
		major, minor int
		want         bool
	}{
		{"5.7.0", 5, 7, true},
		{"5.6.19", 5, 7, false},
		{"5.10.0-35-amd64", 5, 7, true},
		{"4.4.178", 5, 7, false},
		{"6.0", 5, 7, true},
		{"4.19.0", 4, 13, true},
	} {
		if got, err := AtLeast(c.release, c.major, c.minor); err != nil || got != c.want {
			t.Errorf("AtLeast(%q, %d, %d) = %v, %v; want %v", c.release, c.major, c.minor, got, err, c.want)
		}
	}
	if r, err := Release(); err != nil || r == "" {
		t.Errorf("Release() = %q, %v", r, err)
	} else if _, err := ChargeBatchBytes(r); err != nil {
		t.Errorf("this kernel's release: %v", err)
	}
}
