package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/memlab/memlab/labs/report/ledger"
)

func TestVMMatrix(t *testing.T) {
	dir := t.TempDir()
	r := ledger.Report{Env: ledger.Env{Kernel: "4.4.0-210-generic", MemoryMode: "v1"}}
	for _, c := range ledger.Claims {
		r.Results = append(r.Results, ledger.Result{ID: c.ID, Mode: "v1", Verdict: ledger.Holds})
	}
	if err := r.WriteFiles(filepath.Join(dir, "xenial")); err != nil {
		t.Fatal(err)
	}
	xenial := "xenial=" + filepath.Join(dir, "xenial", "claims.json")
	out := filepath.Join(dir, "out")

	code, stdout, stderr := runIn(t, dir, "vm-matrix", "--out", out, xenial)
	if code != 0 || !strings.Contains(stdout, "xenial/v1") || !strings.Contains(stdout, filepath.Join(out, "vm-matrix.md")) {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, _, stderr = runIn(t, dir, "vm-matrix", "--out", out, xenial, "jammy="+filepath.Join(dir, "none.json"))
	if code != exitNoSuchReport || strings.TrimSpace(stderr) != "memlab: no claims report from jammy" {
		t.Errorf("a missing report: exit %d, stderr %q", code, stderr)
	}
	for _, args := range [][]string{{}, {"xenial"}, {"a/b=x"}, {"x=1", "x=2"}, {"=x"}, {"-nope"}} {
		code, _, stderr := runIn(t, dir, append([]string{"vm-matrix"}, args...)...)
		if code != exitUsage || !strings.HasPrefix(stderr, "memlab: ") {
			t.Errorf("vm-matrix %q: exit %d, stderr %q", args, code, stderr)
		}
	}
	if code, stdout, _ := runIn(t, dir, "vm-matrix", "--help"); code != 0 || !strings.Contains(stdout, "usage: memlab vm-matrix") {
		t.Errorf("--help: exit %d, %q", code, stdout)
	}
}
