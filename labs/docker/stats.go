package docker

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/container"
	units "github.com/docker/go-units"
)

// Stats reads one sample of the engine's stats for the container, without
// the engine's usual wait to prime the CPU figures (API 1.41's one-shot).
func (c *Container) Stats(ctx context.Context) (container.StatsResponse, error) {
	r, err := c.e.API.ContainerStatsOneShot(ctx, c.ID)
	if err != nil {
		return container.StatsResponse{}, fmt.Errorf("stats of %s: %w", short(c.ID), err)
	}
	defer r.Body.Close()
	var s container.StatsResponse
	if err := json.NewDecoder(r.Body).Decode(&s); err != nil {
		return s, fmt.Errorf("stats of %s: %w", short(c.ID), err)
	}
	return s, nil
}

// MemUsageRule is how one docker CLI version turns the engine's memory
// stats into the MEM USAGE column (cli/command/container/stats_helpers.go,
// calculateMemUsageUnixNoCache; the engine itself reports usage as is):
//
//   - up to 17.05: memory_stats.usage, i.e. usage_in_bytes, page cache and all;
//   - 17.06 to 19.03 (docker/cli#80, 2017): usage - stats["cache"];
//   - 20.10 on (docker/cli#2415, 2020): usage - stats["total_inactive_file"]
//     on cgroup v1, usage - stats["inactive_file"] on v2, either only when
//     smaller than usage.
type MemUsageRule string

const (
	RuleUsage                  MemUsageRule = "usage"
	RuleUsageMinusCache        MemUsageRule = "usage - cache"
	RuleUsageMinusInactiveFile MemUsageRule = "usage - inactive_file"
)

// CLIRule says which rule a docker CLI version (e.g. "20.10.24+dfsg1",
// "28.2.2", "17.03.1-ce", "1.13.1") applies.
func CLIRule(version string) MemUsageRule {
	major, minor, ok := majorMinor(version)
	switch {
	case !ok:
		return RuleUsageMinusInactiveFile // unparsable: assume a current CLI
	case major < 17 || major == 17 && minor < 6:
		return RuleUsage
	case major < 20 || major == 20 && minor < 10:
		return RuleUsageMinusCache
	}
	return RuleUsageMinusInactiveFile
}

var versionSyntax = regexp.MustCompile(`^v?([0-9]+)\.([0-9]+)`)

func majorMinor(v string) (int, int, bool) {
	m := versionSyntax.FindStringSubmatch(strings.TrimSpace(v))
	if m == nil {
		return 0, 0, false
	}
	a, _ := strconv.Atoi(m[1])
	b, _ := strconv.Atoi(m[2])
	return a, b, true
}

// MemUsage applies a rule to the engine's memory stats: what that CLI prints.
func MemUsage(rule MemUsageRule, m container.MemoryStats) uint64 {
	switch rule {
	case RuleUsageMinusCache:
		return m.Usage - min(m.Stats["cache"], m.Usage)
	case RuleUsageMinusInactiveFile:
		if v, v1 := m.Stats["total_inactive_file"]; v1 && v < m.Usage {
			return m.Usage - v
		}
		if v := m.Stats["inactive_file"]; v < m.Usage {
			return m.Usage - v
		}
	}
	return m.Usage
}

// StatsLine is one line of `docker stats --format '{{.MemUsage}}|{{.MemPerc}}'`.
type StatsLine struct {
	Usage, Limit   float64 // bytes, as printed (4 significant digits)
	UsageText      string  // "101.1MiB"
	LimitText      string  // "128MiB"
	Percent        float64 // 79.01
	UsageHalfUnit  float64 // half a unit of the last printed digit of Usage, in bytes
	PercentPrinted string
}

// ParseStatsLine reads "101.1MiB / 128MiB|79.01%".
func ParseStatsLine(s string) (StatsLine, error) {
	var l StatsLine
	memPart, pct, ok := strings.Cut(strings.TrimSpace(s), "|")
	if !ok {
		return l, fmt.Errorf("docker stats line %q: want MEM USAGE / LIMIT|MEM %%", s)
	}
	u, lim, ok := strings.Cut(memPart, " / ")
	if !ok {
		return l, fmt.Errorf("docker stats MEM USAGE %q: want USAGE / LIMIT", memPart)
	}
	var err error
	if l.Usage, l.UsageHalfUnit, err = parseHuman(u); err != nil {
		return l, err
	}
	if l.Limit, _, err = parseHuman(lim); err != nil {
		return l, err
	}
	l.UsageText, l.LimitText, l.PercentPrinted = strings.TrimSpace(u), strings.TrimSpace(lim), strings.TrimSpace(pct)
	// The CLI prints "%.2f%%"; ParseFloat alone would also take NaN, Inf,
	// -1, 1e5 and 1_0, none of which a docker stats line holds.
	if !percentSyntax.MatchString(l.PercentPrinted) {
		return l, fmt.Errorf("docker stats MEM %% %q: want a percentage such as 79.01%%", pct)
	}
	if l.Percent, err = strconv.ParseFloat(strings.TrimSuffix(l.PercentPrinted, "%"), 64); err != nil {
		return l, fmt.Errorf("docker stats MEM %% %q: %w", pct, err)
	}
	return l, nil
}

var (
	percentSyntax = regexp.MustCompile(`^[0-9]+(?:\.[0-9]+)?%$`)
	humanSyntax   = regexp.MustCompile(`^([0-9]+(?:\.([0-9]+))?)\s*([KMGTP]i)?B$`)
)

// parseHuman reads go-units' BytesSize output ("%.4g" and a binary unit)
// and says how far the printed figure may be from the true one.
func parseHuman(s string) (value, halfUnit float64, err error) {
	s = strings.TrimSpace(s)
	m := humanSyntax.FindStringSubmatch(s)
	if m == nil {
		return 0, 0, fmt.Errorf("not a docker size: %q", s)
	}
	n, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, 0, err
	}
	scale := map[string]float64{"": 1, "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40, "Pi": 1 << 50}[m[3]]
	// "%.4g" keeps four significant digits and drops trailing zeros, so
	// "101MiB" may stand for 100.95 to 101.05; below 1 the printed
	// decimals are all there is to go by.
	digits := -len(m[2])
	if intPart, _, _ := strings.Cut(m[1], "."); intPart != "0" {
		digits = len(intPart) - 4
	}
	value, halfUnit = n*scale, 0.5*math.Pow10(digits)*scale
	if math.IsInf(value, 0) || math.IsInf(halfUnit, 0) {
		return 0, 0, fmt.Errorf("not a docker size: %q is out of range", s)
	}
	return value, halfUnit, nil
}

// HumanSize prints bytes the way the docker CLI does.
func HumanSize(b float64) string { return units.BytesSize(b) }
