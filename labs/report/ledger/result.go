package ledger

import (
	"sort"
	"time"
)

// Verdict is what a run found about a claim.
type Verdict string

const (
	// Holds: the article is right here; the spec asserted it.
	Holds Verdict = "holds"
	// Corrected: the article is wrong or out of date here; the spec asserted
	// the true behaviour and Why carries the evidence.
	Corrected Verdict = "corrected"
	// Skipped: this kernel or machine lacks what the claim needs; Why says what.
	Skipped Verdict = "skipped"
	// Failed: the behaviour is not what the ledger expects (a regression of the
	// kernel or of the harness).
	Failed Verdict = "failed"
	// NoResult: the claim never ran (a guest hung, a suite did not start).
	NoResult Verdict = "no result"
	// Interrupted: the run was cut short (Ctrl-C, a kill, a suite's timeout)
	// while the claim ran or before it could; it says nothing about the
	// kernel, so it is neither a failure nor a skip.
	Interrupted Verdict = "interrupted"
)

// Figure is one observed value and the cgroup file (or source) it came from.
type Figure struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	File  string `json:"file,omitempty"`
}

// Point is one reading of a usage file during a spec.
type Point struct {
	AtMS  int64 `json:"t_ms"`
	Bytes int64 `json:"bytes"`
}

// Series is memory usage over time during one run of a spec, for the
// report's charts: the usage line, the limit line, and the moment the OOM
// killer first struck (-1 if it never did).
type Series struct {
	Name        string  `json:"name"`
	File        string  `json:"file"`
	IntervalMS  int64   `json:"interval_ms"`
	Limit       int64   `json:"limit"`
	OOMKillAtMS int64   `json:"oom_kill_at_ms"`
	Points      []Point `json:"points"`
}

// Env says where a run happened; every report carries it.
type Env struct {
	Kernel      string `json:"kernel"`
	Layout      string `json:"cgroup_layout"`         // legacy, hybrid, unified
	MemoryMount string `json:"memory_controller"`     // where the memory controller is mounted
	MemoryMode  string `json:"memory_cgroup_version"` // v1 or v2: which hierarchy has it
	Hostname    string `json:"hostname,omitempty"`
	Docker      string `json:"docker,omitempty"` // engine and CLI versions, when used
}

// Result is one claim's verdict in one cgroup mode.
type Result struct {
	ID        string   `json:"id"`
	Claim     string   `json:"claim"`
	Mode      string   `json:"cgroup_mode"` // v1, v2, or "any" for claims that do not depend on it
	Kernel    string   `json:"kernel"`
	Verdict   Verdict  `json:"verdict"`
	Article   string   `json:"article_figures"`
	Observed  []Figure `json:"observed_figures"`
	Files     []string `json:"files_read"`
	Why       string   `json:"reason,omitempty"` // correction evidence, skip reason or failure
	Specs     []string `json:"specs"`
	Series    []Series `json:"series,omitempty"`
	RunTimeMS int64    `json:"run_time_ms"`
}

// Report is a whole run: where it ran and every claim's result.
type Report struct {
	Env       Env       `json:"environment"`
	Generated time.Time `json:"generated"`
	Results   []Result  `json:"claims"`
}

// Sort puts results in ledger order, v1 before v2.
func (r *Report) Sort() {
	sort.SliceStable(r.Results, func(i, j int) bool {
		a, b := r.Results[i], r.Results[j]
		if Order(a.ID) != Order(b.ID) {
			return Order(a.ID) < Order(b.ID)
		}
		return a.Mode < b.Mode
	})
}

// Count tallies verdicts.
func (r *Report) Count() map[Verdict]int {
	n := map[Verdict]int{}
	for _, res := range r.Results {
		n[res.Verdict]++
	}
	return n
}

// merge folds another spec's outcome for the same claim and mode into res:
// any failure fails the claim, an interruption leaves it unjudged, a
// correction outranks a hold, and a claim is skipped only when every spec
// for it was skipped.
func (res *Result) merge(v Verdict, why string) {
	rank := map[Verdict]int{NoResult: 0, Skipped: 1, Holds: 2, Corrected: 3, Interrupted: 4, Failed: 5}
	if rank[v] > rank[res.Verdict] {
		res.Verdict = v
		res.Why = why
	} else if v == res.Verdict && why != "" && why != res.Why {
		if res.Why != "" {
			res.Why += "; "
		}
		res.Why += why
	}
}

// For is a claim's result in one cgroup mode: the result filed under that
// mode, else the one filed under "any" (a claim that does not depend on it).
func (r Report) For(claimID, mode string) (Result, bool) {
	var anyMode *Result
	for i, res := range r.Results {
		if res.ID != claimID {
			continue
		}
		if res.Mode == mode {
			return res, true
		}
		if res.Mode == "any" {
			anyMode = &r.Results[i]
		}
	}
	if anyMode != nil {
		return *anyMode, true
	}
	return Result{}, false
}
