package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/memlab/memlab/labs/matrix"
	"github.com/memlab/memlab/labs/report/ledger"
)

// shardOut writes what `memlab matrix --shard SHARD --out DIR` leaves of a
// plan of two cells, one per shard, and returns DIR.
func shardOut(t *testing.T, dir, shard string, cell string) string {
	t.Helper()
	return shardOutWith(t, dir, shard, cell, matrix.Ran)
}

// shardOutWith is shardOut with the cell's status.
func shardOutWith(t *testing.T, dir, shard, cell, status string) string {
	t.Helper()
	out := filepath.Join(dir, strings.ReplaceAll(shard, "/", "-of-"))
	c := matrix.CellResult{ID: cell, Kernel: strings.Split(cell, "/")[0], Mode: strings.Split(cell, "/")[1], Status: status,
		Report: ledger.Report{Env: ledger.Env{Kernel: "6.1.0-50-cloud-amd64"}}}
	for _, claim := range ledger.Claims {
		c.Report.Results = append(c.Report.Results, ledger.Result{ID: claim.ID, Mode: c.Mode, Verdict: ledger.Holds})
	}
	m := matrix.Matrix{Accel: "tcg", Jobs: 1, Cells: []matrix.CellResult{c},
		Plan: &matrix.PlanInfo{Cells: []string{"bookworm/v1", "bookworm/v2"}, Shard: shard}}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := m.WriteFiles(out, nil); err != nil {
		t.Fatal(err)
	}
	return out
}

// The page's matrix section is redrawn whenever the merge wrote the table:
// also when a cell gave no result (84), or it would show the matrix of
// before the merge beside the new matrix.json.
func TestMergeRedrawsThePageWhenACellHasNoResult(t *testing.T) {
	dir := t.TempDir()
	one, two := shardOut(t, dir, "1/2", "bookworm/v1"), shardOutWith(t, dir, "2/2", "bookworm/v2", matrix.NoResult)
	out := filepath.Join(dir, "out")
	rep := ledger.Report{Env: ledger.Env{Kernel: "6.18"}}
	for _, c := range ledger.Claims {
		rep.Results = append(rep.Results, ledger.Result{ID: c.ID, Mode: "v1", Verdict: ledger.Holds})
	}
	if err := rep.WriteFiles(out); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runIn(t, dir, "merge", "--out", out, one, two)
	if code != exitNoResult {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	page, err := os.ReadFile(filepath.Join(out, "index.html"))
	if err != nil || !strings.Contains(string(page), "bookworm/v2") {
		t.Errorf("index.html was not redrawn with the merged matrix (%v)", err)
	}
}

func TestMerge(t *testing.T) {
	dir := t.TempDir()
	one, two := shardOut(t, dir, "1/2", "bookworm/v1"), shardOut(t, dir, "2/2", "bookworm/v2")
	out := filepath.Join(dir, "out")

	code, stdout, stderr := runIn(t, dir, "merge", "--out", out, one, two)
	if code != 0 || !strings.Contains(stdout, "bookworm/v2") || !strings.Contains(stdout, filepath.Join(out, "matrix.md")) {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	var doc matrix.Document
	b, err := os.ReadFile(filepath.Join(out, "matrix.json"))
	if err == nil {
		err = json.Unmarshal(b, &doc)
	}
	if err != nil || doc.Jobs != 2 || len(doc.Table.Columns) != 2 || doc.Plan == nil || doc.Plan.Shard != "" {
		t.Errorf("matrix.json: %v, %+v", err, doc)
	}
	// A shard missing: exit 74, on one line naming it.
	code, _, stderr = runIn(t, dir, "merge", "--out", filepath.Join(dir, "lacking"), one)
	if code != exitNoSuchReport || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "shard 2/2 (cells bookworm/v2)") {
		t.Errorf("a missing shard: exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = runIn(t, dir, "merge", "--out", filepath.Join(dir, "lacking"), one, filepath.Join(dir, "deleted"))
	if code != exitNoSuchReport || !strings.Contains(stderr, filepath.Join(dir, "deleted")) {
		t.Errorf("a deleted shard: exit %d, stderr %q", code, stderr)
	}
	// The baseline applies to the merged table.
	code, _, stderr = runIn(t, dir, "merge", "--out", filepath.Join(dir, "b"), "--baseline", filepath.Join(dir, "none.json"), one, two)
	if code != exitBadBaseline {
		t.Errorf("a missing baseline: exit %d, stderr %q", code, stderr)
	}
	for _, args := range [][]string{{}, {"-nope"}, {one, one}, {"a/b=x"}} {
		code, _, stderr := runIn(t, dir, append([]string{"merge", "--out", filepath.Join(dir, "bad")}, args...)...)
		if code != exitUsage || !strings.HasPrefix(stderr, "memlab: ") {
			t.Errorf("merge %q: exit %d, stderr %q", args, code, stderr)
		}
	}
	if code, stdout, _ := runIn(t, dir, "merge", "--help"); code != 0 || !strings.Contains(stdout, "usage: memlab merge") {
		t.Errorf("--help: exit %d, %q", code, stdout)
	}
}

func TestMatrixPlanJSONAndShardFlags(t *testing.T) {
	dir := t.TempDir()
	code, stdout, stderr := runIn(t, dir, "matrix", "--kernels", "a=debian:bookworm,b=debian:trixie", "--plan-json", "--shards", "3")
	var jm matrix.JobMatrix
	if code != 0 || json.Unmarshal([]byte(stdout), &jm) != nil || len(jm.Include) != 3 ||
		jm.Include[0].Shard != "1/3" || jm.Include[2].Cells != "b/v2" || jm.Include[1].Name != "shard-2-of-3" {
		t.Errorf("--plan-json --shards 3: exit %d, %q %q", code, stdout, stderr)
	}
	code, stdout, _ = runIn(t, dir, "matrix", "--kernels", "a=debian:bookworm,b=debian:trixie", "--plan-json")
	if code != 0 || json.Unmarshal([]byte(stdout), &jm) != nil || len(jm.Include) != 2 || jm.Include[1].Shard != "b" || jm.Include[1].Kernels != "b" {
		t.Errorf("--plan-json: exit %d, %q", code, stdout)
	}
	if code, _, stderr := runIn(t, dir, "matrix", "--kernels", "a=debian:bookworm", "--shard", "1/2", "--write-baseline", "b.json"); code != exitUsage || !strings.Contains(stderr, "memlab merge --write-baseline") {
		t.Errorf("--shard with --write-baseline: exit %d, stderr %q", code, stderr)
	}
	for _, shard := range []string{"0/2", "3/2", "c", "a,,b", "1/"} {
		code, _, stderr := runIn(t, dir, "matrix", "--kernels", "a=debian:bookworm,b=debian:trixie", "--plan", "--shard", shard)
		if code != exitUsage || strings.Count(stderr, "memlab: ") != 1 || !strings.Contains(stderr, "shard") {
			t.Errorf("--shard %q: exit %d, stderr %q", shard, code, stderr)
		}
	}
}
