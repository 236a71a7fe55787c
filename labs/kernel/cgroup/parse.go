package cgroup

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Unlimited is how a limit of "max" (v2) reads back.
const Unlimited int64 = math.MaxInt64

// ParseValue reads a single-value interface file: a byte count, or "max".
func ParseValue(text string) (int64, error) {
	s := strings.TrimSpace(text)
	if s == "max" {
		return Unlimited, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("not a cgroup value: %q", s)
	}
	return v, nil
}

// KeyValues is a flat "key value" file: memory.stat, memory.oom_control,
// memory.events.
type KeyValues map[string]int64

// ParseKeyValues reads a flat keyed file. Lines that are not "key integer"
// are an error, so a kernel that changes the format is noticed, not misread.
func ParseKeyValues(text string) (KeyValues, error) {
	kv := KeyValues{}
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			return nil, fmt.Errorf("line %d: want \"key value\", got %q", n+1, line)
		}
		v, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: %q is not an integer", n+1, f[1])
		}
		kv[f[0]] = v
	}
	return kv, nil
}

// Stat is memory.stat.
type Stat struct {
	KeyValues
	Version int
}

// Anon is anonymous memory: v1 "rss", v2 "anon".
func (s Stat) Anon() (int64, string) { return s.pick("rss", "anon") }

// File is page cache: v1 "cache", v2 "file".
func (s Stat) File() (int64, string) { return s.pick("cache", "file") }

func (s Stat) pick(v1, v2 string) (int64, string) {
	if s.Version == 2 {
		return s.KeyValues[v2], v2
	}
	return s.KeyValues[v1], v1
}

// Events is memory.oom_control (v1) or memory.events (v2).
type Events struct {
	KeyValues
	Version int
}

// OOMKills counts the tasks the OOM killer killed in the group. v1 has the
// counter only from kernel 4.13 on; ok is false where it is missing.
func (e Events) OOMKills() (n int64, ok bool) {
	n, ok = e.KeyValues["oom_kill"]
	return n, ok
}

// LimitHits counts how often usage hit the limit: v1 failcnt lives in its
// own file, v2 calls it "max" in memory.events.
func (e Events) LimitHits() (int64, bool) {
	n, ok := e.KeyValues["max"]
	return n, ok
}

// ParseIDs reads cgroup.procs, tasks or cgroup.threads.
func ParseIDs(text string) ([]int, error) {
	var ids []int
	for f := range strings.FieldsSeq(text) {
		id, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("not a process ID: %q", f)
		}
		ids = append(ids, id)
	}
	return ids, nil
}
