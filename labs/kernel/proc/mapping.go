package proc

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Mapping is one of a process's memory mappings and how much of it is
// resident.
type Mapping struct {
	Size     int64 // bytes mapped
	Resident int64 // bytes of it in memory (smaps' Rss)
}

// LargestMapping is a process's largest mapping, from /proc/PID/smaps.
// smaps counts a mapping's resident pages by walking its page tables when
// read, so Resident is exact: unlike status's RssAnon, which lags behind
// the pages a running process touched by up to a per-thread or per-CPU
// batch, it tells when a worker has touched every page of its buffer.
func LargestMapping(pid int) (Mapping, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		return Mapping{}, err
	}
	return largestMapping(raw)
}

func largestMapping(smaps []byte) (Mapping, error) {
	var best, cur Mapping
	found := false
	sc := bufio.NewScanner(bytes.NewReader(smaps))
	for sc.Scan() {
		line := sc.Text()
		if key, value, ok := strings.Cut(line, ":"); ok && !strings.Contains(key, " ") && !strings.Contains(key, "-") {
			if key == "Rss" {
				kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
				if err != nil {
					return Mapping{}, fmt.Errorf("smaps: %q", line)
				}
				cur.Resident = kb << 10
				if cur.Size > best.Size {
					best = cur
				}
			}
			continue
		}
		// A mapping's header: "start-end perms offset dev inode [path]".
		bounds, _, _ := strings.Cut(line, " ")
		lo, hi, ok := strings.Cut(bounds, "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if !ok || err1 != nil || err2 != nil || end < start {
			return Mapping{}, fmt.Errorf("smaps: %q", line)
		}
		cur, found = Mapping{Size: int64(end - start)}, true
	}
	if err := sc.Err(); err != nil {
		return Mapping{}, err
	}
	if !found {
		return Mapping{}, fmt.Errorf("smaps lists no mapping")
	}
	return best, nil
}
