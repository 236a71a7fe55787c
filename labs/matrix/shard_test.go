package matrix

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/memlab/memlab/labs/matrix/guest"
	"github.com/memlab/memlab/labs/matrix/kernels"
	"github.com/memlab/memlab/labs/report/ledger"
)

// shardProcessEnv makes this test binary a `memlab matrix --shard` run
// against the fake machine (TestMain), so that shards run as the separate
// processes they are in CI.
const shardProcessEnv = "MEMLAB_TEST_SHARD_PROCESS"

func TestMain(m *testing.M) {
	if spec, ok := os.LookupEnv(shardProcessEnv); ok {
		shard, out, _ := strings.Cut(spec, " ")
		if err := runShardProcess(shard, out); err != nil {
			fmt.Fprintln(os.Stderr, "shard process:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// shardKernels are four kernels, one of them absent here (its cells are
// skipped before booting), in both modes: eight cells.
const shardKernels = "gone=/nonexistent/memlab/vmlinuz,bullseye=debian:bullseye,bookworm=debian:bookworm,trixie=debian:trixie"

// mixed gives each cell's claims verdicts that differ from cell to cell
// and claim to claim, so a cell merged into the wrong column shows.
func mixed(cell, claim string) ledger.Verdict {
	h := fnv.New32a()
	h.Write([]byte(cell + " " + claim))
	return []ledger.Verdict{ledger.Holds, ledger.Corrected, ledger.Skipped}[h.Sum32()%3]
}

func shardConfig(shard, out string) (Config, error) {
	ks, err := kernels.ParseEntries(shardKernels)
	if err != nil {
		return Config{}, err
	}
	cfg := Config{
		Kernels: ks, Modes: guest.Modes, SuitePackages: []string{"./specs/rawcgroup"},
		Jobs: 2, Timeout: 180 * time.Second, MemoryMB: 768, Accel: "tcg",
		Cache: kernels.Cache{Dir: filepath.Join(filepath.Dir(out), "cache")}, Out: out,
	}
	if shard != "" {
		if cfg.Shard, err = ParseShard(shard); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

func runShardProcess(shard, out string) error {
	cfg, err := shardConfig(shard, out)
	if err != nil {
		return err
	}
	f := &fakeMachine{verdict: mixed}
	_, err = run(context.Background(), cfg, f.steps())
	return err
}

// runShards runs each shard as its own process, all at once, each into
// dir/NAME, and returns those directories.
func runShards(t *testing.T, dir string, shards ...string) []string {
	t.Helper()
	var outs []string
	var cmds []*exec.Cmd
	var outputs []*bytes.Buffer
	for i, s := range shards {
		out := filepath.Join(dir, fmt.Sprintf("shard%d", i+1))
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), shardProcessEnv+"="+s+" "+out, "TMPDIR="+t.TempDir())
		var b bytes.Buffer
		cmd.Stdout, cmd.Stderr = &b, &b
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		outs, cmds, outputs = append(outs, out), append(cmds, cmd), append(outputs, &b)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("shard %s: %v\n%s", shards[i], err, outputs[i])
		}
	}
	return outs
}

// unsharded runs the whole plan in this process into dir/whole.
func unsharded(t *testing.T, dir string) string {
	t.Helper()
	t.Setenv("TMPDIR", t.TempDir())
	cfg, err := shardConfig("", filepath.Join(dir, "whole"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := run(context.Background(), cfg, (&fakeMachine{t: t, verdict: mixed}).steps()); err != nil {
		t.Fatal(err)
	}
	return cfg.Out
}

// timing are the lines that say when and how fast a table was made (and
// with how many guests at once): the only ones a merge may change.
var timing = regexp.MustCompile(`(?m)^\s*("(generated|jobs|wall_seconds|boot_seconds|guest_seconds)": .*|- generated: .*|- accelerator: .*)$`)

// comparable is a report file with its timing lines blanked and its
// reports directory called OUT.
func comparable(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return timing.ReplaceAllString(strings.ReplaceAll(string(b), dir, "OUT"), "(timing)")
}

func TestTwoShardsInTwoProcessesMergeIntoTheUnshardedTable(t *testing.T) {
	dir := t.TempDir()
	whole := unsharded(t, dir)
	for _, shards := range [][]string{{"1/2", "2/2"}, {"gone,bullseye", "bookworm,trixie"}, {"3/3", "1/3", "2/3"}} {
		t.Run(strings.Join(shards, "+"), func(t *testing.T) {
			sub := t.TempDir()
			outs := runShards(t, sub, shards...)
			// Each shard ran only its part, and says which part of which plan.
			for i, out := range outs {
				doc := readDoc(t, out)
				if doc.Plan == nil || doc.Plan.Shard != shards[i] || len(doc.Plan.Cells) != 8 || len(doc.Cells) >= 8 {
					t.Fatalf("%s: plan %+v, %d cells", out, doc.Plan, len(doc.Cells))
				}
				sh, err := ParseShard(shards[i])
				if err != nil {
					t.Fatal(err)
				}
				part, err := sh.Select(doc.Plan.Cells)
				if err != nil || len(doc.Cells) != len(part) {
					t.Errorf("%s: %d cells, its part of the plan is %v (%v)", out, len(doc.Cells), part, err)
				}
			}
			merged := filepath.Join(sub, "merged")
			var stdout bytes.Buffer
			if _, err := Merge(MergeConfig{Runs: outs, Out: merged, Stdout: &stdout}); err != nil {
				t.Fatalf("merge: %v\n%s", err, stdout.String())
			}
			for _, name := range []string{"matrix.json", "matrix.md"} {
				if got, want := comparable(t, merged, name), comparable(t, whole, name); got != want {
					t.Errorf("merged %s differs from the unsharded run's:\n--- merged\n%s\n--- unsharded\n%s", name, got, want)
				}
			}
			// Cell for cell, claim for claim.
			got, want := readDoc(t, merged), readDoc(t, whole)
			if fmt.Sprint(got.Table) != fmt.Sprint(want.Table) || len(got.Table.Columns) != 8 {
				t.Errorf("verdicts:\n%v\nwant\n%v", got.Table, want.Table)
			}
			// The cells' console logs came along.
			for _, c := range got.Cells {
				if c.Status != Ran {
					continue
				}
				if _, err := os.Stat(filepath.Join(c.Artifacts, "console.log")); err != nil || !strings.HasPrefix(c.Artifacts, merged) {
					t.Errorf("%s: artifacts %q: %v", c.ID, c.Artifacts, err)
				}
			}
		})
	}
}

func TestAMissingShardFailsTheMergeByName(t *testing.T) {
	dir := t.TempDir()
	outs := runShards(t, dir, "1/3", "2/3", "3/3")
	merged := filepath.Join(dir, "merged")
	_, err := Merge(MergeConfig{Runs: []string{outs[0], outs[2]}, Out: merged})
	if !errors.Is(err, ErrNoReport) || !strings.Contains(err.Error(), "shard 2/3 (cells bullseye/v2 bookworm/v1)") {
		t.Errorf("merge without shard 2/3: %v", err)
	}
	if _, err := os.Stat(merged); !os.IsNotExist(err) {
		t.Errorf("a merge that lacks a shard wrote %s: %v", merged, err)
	}
	// A shard directory that is gone is named too.
	if err := os.RemoveAll(outs[1]); err != nil {
		t.Fatal(err)
	}
	_, err = Merge(MergeConfig{Runs: outs, Out: merged})
	if !errors.Is(err, ErrNoReport) || !strings.Contains(err.Error(), outs[1]) {
		t.Errorf("merge with a deleted shard: %v", err)
	}
	// By kernel: the kernel is named.
	byKernel := runShards(t, t.TempDir(), "gone,bullseye", "bookworm")
	_, err = Merge(MergeConfig{Runs: byKernel, Out: merged})
	if !errors.Is(err, ErrNoReport) || !strings.Contains(err.Error(), "kernel trixie (cells trixie/v1 trixie/v2)") {
		t.Errorf("merge without trixie: %v", err)
	}
}

func TestMergeRefusesPartsOfDifferentPlansOrTwiceTheSameCell(t *testing.T) {
	dir := t.TempDir()
	outs := runShards(t, dir, "1/2", "1/2")
	if _, err := Merge(MergeConfig{Runs: outs, Out: filepath.Join(dir, "m")}); !errors.Is(err, ErrPlanMismatch) || !strings.Contains(err.Error(), "cell gone/v1 is in both") {
		t.Errorf("the same shard twice: %v", err)
	}
	doc := readDoc(t, outs[1])
	doc.Plan.Cells = doc.Plan.Cells[1:]
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outs[1], "matrix.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Merge(MergeConfig{Runs: outs, Out: filepath.Join(dir, "m")}); !errors.Is(err, ErrPlanMismatch) {
		t.Errorf("parts of two plans: %v", err)
	}
}

func TestTheBaselineCheckAppliesToTheMergedTable(t *testing.T) {
	dir := t.TempDir()
	outs := runShards(t, dir, "1/2", "2/2")
	whole := readDoc(t, unsharded(t, dir))
	base := whole.Baseline()
	var stdout bytes.Buffer
	js, _ := json.Marshal(base)
	if _, err := Merge(MergeConfig{Runs: outs, Out: filepath.Join(dir, "same"), Stdout: &stdout,
		Baseline: &BaselineRef{Name: "recorded", Data: js}}); err != nil {
		t.Fatalf("merge against the unsharded run's own baseline: %v\n%s", err, stdout.String())
	}
	// One verdict of the last shard's changed: the merge fails naming its cell.
	was := base.Cells["trixie/v2"]["G5"]
	base.Cells["trixie/v2"]["G5"] = map[string]string{"holds": "corrected"}[was]
	if base.Cells["trixie/v2"]["G5"] == "" {
		base.Cells["trixie/v2"]["G5"] = "holds"
	}
	js, _ = json.Marshal(base)
	_, err := Merge(MergeConfig{Runs: outs, Out: filepath.Join(dir, "changed"), Stdout: &stdout,
		Baseline: &BaselineRef{Name: "recorded", Data: js}})
	if !errors.Is(err, ErrRegression) || !strings.Contains(err.Error(), "trixie/v2") {
		t.Errorf("a changed verdict: %v", err)
	}
	if doc := readDoc(t, filepath.Join(dir, "changed")); len(doc.Changes) != 1 || doc.Changes[0].Claim != "G5" {
		t.Errorf("changes recorded: %+v", doc.Changes)
	}
}

func TestMergeTakesShardsAndMachinesReportsTogether(t *testing.T) {
	dir := t.TempDir()
	outs := runShards(t, dir, "1/2", "2/2")
	vm := report(t, dir, "4.4.0-210-generic", "hybrid", "v1", nil)
	res, err := Merge(MergeConfig{Runs: outs, Reports: []MachineReport{{Name: "xenial", Path: vm}}, Out: filepath.Join(dir, "m")})
	if err != nil {
		t.Fatal(err)
	}
	m := res.Matrix
	if len(m.Cells) != 9 || m.Cells[8].ID != "xenial/v1" || m.Cells[0].ID != "gone/v1" {
		t.Errorf("cells %d, first %s, last %s", len(m.Cells), m.Cells[0].ID, m.Cells[len(m.Cells)-1].ID)
	}
	if _, err := os.Stat(filepath.Join(dir, "m", "matrix.json")); err != nil {
		t.Errorf("with shards among the inputs the table is matrix.json: %v", err)
	}
}

// A console tail with bytes that are no UTF-8 reads back and writes again
// byte for byte, as the merge needs.
func TestGarbledConsoleSurvivesTheMergeByteForByte(t *testing.T) {
	c := noResult(Cell{Kernel: kernels.Kernel{Source: kernels.Source{Name: "k"}}, Mode: "v1"}, "hung", "boot\xff\xfe ok\u2028")
	m := Matrix{Accel: "tcg", Cells: []CellResult{c}, Plan: &PlanInfo{Cells: []string{"k/v1"}}}
	dir := t.TempDir()
	if err := m.WriteFiles(dir, nil); err != nil {
		t.Fatal(err)
	}
	merged := filepath.Join(t.TempDir(), "merged")
	if _, err := Merge(MergeConfig{Runs: []string{dir}, Out: merged}); !errors.Is(err, ErrNoResult) {
		t.Fatalf("merging a no-result cell: %v", err)
	}
	a, _ := os.ReadFile(filepath.Join(dir, "matrix.json"))
	b, _ := os.ReadFile(filepath.Join(merged, "matrix.json"))
	if !bytes.Equal(a, b) {
		t.Errorf("written again differently:\n%s\n%s", a, b)
	}
}

// Shards are cut by cost, not by count: a Docker cell weighs six
// initramfs cells, so bookworm's three Docker cells do not all land in
// one shard (by count, 2/2 took 445 s against the unsharded 295 s).
func TestShardsAreCutByCost(t *testing.T) {
	plan := []string{"linux44/v1", "linux44/v2", "bullseye/v1", "bullseye/v2", "bookworm/v1",
		"bookworm/v1/docker-systemd", "bookworm/v2", "bookworm/v2/docker-systemd",
		"bookworm/v2/docker-cgroupfs", "trixie/v1", "trixie/v2"}
	var got [][]string
	seen := 0
	for i := 1; i <= 2; i++ {
		cells, err := Shard{Index: i, Count: 2}.Select(plan)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, cells)
		seen += len(cells)
	}
	cost := func(cells []string) (c int) {
		for _, id := range cells {
			c += cellWeight(id)
		}
		return c
	}
	if seen != len(plan) || !slices.Equal(append(slices.Clone(got[0]), got[1]...), plan) {
		t.Fatalf("the shards do not cover the plan once, in order: %v", got)
	}
	if a, b := cost(got[0]), cost(got[1]); a < 11 || b < 11 {
		t.Errorf("shards cost %d and %d of %d: %v", a, b, a+b, got)
	}
}
