package matrix

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/memlab/memlab/labs/matrix/kernels"
)

// ErrBadShard: a --shard that selects nothing, or names what the plan lacks.
var ErrBadShard = errors.New("bad shard")

// PlanInfo is what a run records of the plan it belongs to, in its
// matrix.json, so that a merge of shards knows which cells are missing.
// An unsharded run and a merge of every shard record the same: the cells.
type PlanInfo struct {
	Cells []string `json:"cells"`           // every cell of the whole plan, in plan order
	Shard string   `json:"shard,omitempty"` // this run's part of it ("2/3", "bookworm"); "" the whole: its cells are Shard.Select(Cells)
}

// Shard is a part of the plan: the i-th of n runs of consecutive cells of
// near-equal cost (a Docker cell costs six initramfs cells), or the cells of the kernels (or the cells) named.
// Consecutive cells keep a kernel's cells together, so a CI job fetches
// few kernels. The zero Shard is the whole plan.
type Shard struct {
	Index, Count int      // i/n, 1-based
	Names        []string // kernel names or cell IDs
}

// ParseShard reads "i/n" or a comma-separated list of kernel names or
// cell IDs.
func ParseShard(s string) (Shard, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: --shard %q: %s", ErrBadShard, s, fmt.Sprintf(format, a...))
	}
	if i, n, ok := strings.Cut(s, "/"); ok && isNumber(i) && isNumber(n) {
		idx, err1 := strconv.Atoi(i)
		cnt, err2 := strconv.Atoi(n)
		if err1 != nil || err2 != nil || cnt < 1 || idx < 1 || idx > cnt {
			return Shard{}, bad("want i/n with 1 <= i <= n")
		}
		return Shard{Index: idx, Count: cnt}, nil
	}
	var sh Shard
	for name := range strings.SplitSeq(s, ",") {
		if name = strings.TrimSpace(name); name == "" || strings.ContainsAny(name, " \t") {
			return Shard{}, bad("want i/n, or kernel names or cell IDs separated by commas")
		}
		sh.Names = append(sh.Names, name)
	}
	return sh, nil
}

func isNumber(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// Whole says whether the shard is the whole plan.
func (s Shard) Whole() bool { return s.Count == 0 && len(s.Names) == 0 }

func (s Shard) String() string {
	if s.Count > 0 {
		return fmt.Sprintf("%d/%d", s.Index, s.Count)
	}
	return strings.Join(s.Names, ",")
}

// Select is the shard's cells of the plan, in plan order. A shard that
// selects nothing, or a name that matches no cell, is an error: a job that
// runs nothing must not look like one that passed.
func (s Shard) Select(plan []string) ([]string, error) {
	if s.Whole() {
		return plan, nil
	}
	if s.Count > 0 {
		out := s.run(plan)
		if len(out) == 0 {
			return nil, fmt.Errorf("%w: shard %s has no cells: the plan has %d", ErrBadShard, s, len(plan))
		}
		return out, nil
	}
	var out []string
	for _, name := range s.Names {
		n := 0
		for _, id := range plan {
			if id == name || strings.HasPrefix(id, name+"/") {
				n++
			}
		}
		if n == 0 {
			return nil, fmt.Errorf("%w: %q is no kernel or cell of the plan (%s)", ErrBadShard, name, strings.Join(plan, " "))
		}
	}
	for _, id := range plan {
		for _, name := range s.Names {
			if id == name || strings.HasPrefix(id, name+"/") {
				out = append(out, id)
				break
			}
		}
	}
	return out, nil
}

// DockerCellWeight is what a Docker cell costs against an initramfs cell:
// measured under TCG on 2 cores, a Docker cell (systemd, dockerd, three
// suites) took 125-129 s and an initramfs cell 20-23 s (make
// matrix-baseline, 2026-12-01). Cut by count, i/n put all three of
// bookworm's Docker cells in shard 2/2, which then took 445 s against the
// unsharded run's 295 s.
const DockerCellWeight = 6

func cellWeight(id string) int {
	if strings.Contains(id, "/docker-") {
		return DockerCellWeight
	}
	return 1
}

// run is the i-th of n runs of consecutive cells of near-equal cost: a
// cell belongs to the run its cost's midpoint falls in, so every cell is
// in exactly one run and a kernel's cells stay together.
func (s Shard) run(plan []string) []string {
	total := 0
	for _, id := range plan {
		total += cellWeight(id)
	}
	var out []string
	before := 0
	for _, id := range plan {
		w := cellWeight(id)
		// floor(n * (before + w/2) / total), in integers.
		if s.Count*(2*before+w)/(2*total) == s.Index-1 {
			out = append(out, id)
		}
		before += w
	}
	return out
}

// planIDs are the cells a run of these kernel sources would boot, known
// before any kernel is fetched: a cell's ID depends on its kernel's name
// and its mode only.
func planIDs(srcs []kernels.Source, modes []string, docker DockerPlan) []string {
	ks := make([]kernels.Kernel, len(srcs))
	for i, s := range srcs {
		ks[i].Source = s
	}
	var ids []string
	for _, c := range Plan(ks, modes, docker) {
		ids = append(ids, c.ID())
	}
	return ids
}

// JobMatrix is the plan as a GitHub Actions job matrix
// (strategy.matrix: ${{ fromJSON(...) }}): one job per shard.
type JobMatrix struct {
	Include []Job `json:"include"`
}

// Job is one shard as a CI job runs it: memlab matrix --shard Shard.
type Job struct {
	Shard   string `json:"shard"`   // the --shard value
	Name    string `json:"name"`    // for artifact and job names: no "/"
	Kernels string `json:"kernels"` // its kernels, comma separated
	Cells   string `json:"cells"`   // its cells, space separated
}

// PlanJobs splits the plan of these kernels into jobs: shards > 0 gives
// that many i/n shards (fewer if the plan has fewer cells), else one job
// per kernel.
func PlanJobs(srcs []kernels.Source, modes []string, docker DockerPlan, shards int) (JobMatrix, error) {
	plan := planIDs(srcs, modes, docker)
	var jm JobMatrix
	if len(plan) == 0 {
		return jm, errors.New("matrix: no kernels or no cgroup modes to plan")
	}
	var parts []Shard
	if shards > 0 {
		n := min(shards, len(plan))
		for i := 1; i <= n; i++ {
			parts = append(parts, Shard{Index: i, Count: n})
		}
	} else {
		for _, s := range srcs {
			parts = append(parts, Shard{Names: []string{s.Name}})
		}
	}
	for _, p := range parts {
		cells, err := p.Select(plan)
		if err != nil {
			return jm, err
		}
		var ks []string
		for _, id := range cells {
			k := kernelOf(id)
			if len(ks) == 0 || ks[len(ks)-1] != k {
				ks = append(ks, k)
			}
		}
		name := "kernel-" + p.String()
		if p.Count > 0 {
			name = fmt.Sprintf("shard-%d-of-%d", p.Index, p.Count)
		}
		jm.Include = append(jm.Include, Job{Shard: p.String(), Name: name,
			Kernels: strings.Join(ks, ","), Cells: strings.Join(cells, " ")})
	}
	return jm, nil
}

// kernelOf is the kernel part of a cell ID ("bookworm" of "bookworm/v2").
func kernelOf(id string) string {
	k, _, _ := strings.Cut(id, "/")
	return k
}

// JSON is the job matrix on one line, as a step output takes it.
func (jm JobMatrix) JSON() string {
	b, _ := json.Marshal(jm)
	return string(b)
}
