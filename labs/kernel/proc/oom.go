package proc

import (
	"os"
	"strconv"
	"strings"
)

// OOMScoreAdj reads a process's oom_score_adj: -1000 (never the OOM
// killer's victim) to 1000 (its first). It is inherited across fork and exec.
func OOMScoreAdj(pid int) (int, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/oom_score_adj")
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}
