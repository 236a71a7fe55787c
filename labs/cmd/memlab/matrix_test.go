package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/memlab/memlab/fixtures"
	"github.com/memlab/memlab/labs/runner"
)

// runIn executes memlab in dir (outside the checkout when dir is a temp
// dir) and returns its exit status, standard output and standard error.
func runIn(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(memlab, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("running memlab %v: %v", args, err)
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

func TestMatrixHelp(t *testing.T) {
	code, stdout, stderr := runIn(t, t.TempDir(), "matrix", "--help")
	if code != 0 || !strings.Contains(stdout, "usage: memlab matrix") || !strings.Contains(stdout, "--baseline FILE") || stderr != "" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// Outside a checkout the kernel list and the baseline come from the binary.
func TestMatrixPlanOutsideACheckout(t *testing.T) {
	dir := t.TempDir()
	cache := filepath.Join(t.TempDir(), "kernels")
	code, stdout, stderr := runIn(t, dir, "matrix", "--plan", "--accel", "tcg", "--cache", cache, "--baseline", "builtin")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	for _, want := range []string{
		"kernels from fixtures/kernels.txt (built in) (cache " + cache + ")",
		"bookworm     debian:bookworm/linux-image-cloud-amd64 (not cached: a run fetches it)",
		// The list's relative path is relative to the checkout's fixtures/, and
		// no checkout holds this temp dir: the image is absent.
		"linux44      ../shared/kernels/linux-4.4/bzImage (absent: its cells are skipped)",
		"cells (11): linux44/v1 linux44/v2 bullseye/v1 bullseye/v2 bookworm/v1 bookworm/v1/docker-systemd " +
			"bookworm/v2 bookworm/v2/docker-systemd bookworm/v2/docker-cgroupfs trixie/v1 trixie/v2",
		"is not inside a memlab checkout",
		fmt.Sprintf("baseline: fixtures/matrix-baseline.json (built in) (%d cells)", builtinBaselineCells(t)),
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("plan lacks %q:\n%s", want, stdout)
		}
	}
}

// builtinBaselineCells counts the cells of the baseline embedded in the
// binary: the plan must name that many, whatever the last measured
// baseline holds.
func builtinBaselineCells(t *testing.T) int {
	t.Helper()
	var b struct {
		Cells map[string]json.RawMessage `json:"cells"`
	}
	if err := json.Unmarshal(fixtures.MatrixBaseline, &b); err != nil {
		t.Fatal(err)
	}
	return len(b.Cells)
}

// Building the suites needs a checkout: outside one, without --suite-bin,
// the run stops with one line before it builds or boots anything.
func TestMatrixSuitesOutsideACheckout(t *testing.T) {
	dir := t.TempDir()
	image := filepath.Join(dir, "vmlinuz-fake")
	header := make([]byte, 0x400) // a bzImage header and nothing to boot: the run stops before booting
	copy(header[0x202:], "HdrS")
	if err := os.WriteFile(image, header, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runIn(t, dir, "matrix", "--kernels", "fake="+image, "--accel", "tcg",
		"--cache", filepath.Join(dir, "cache"), "--out", filepath.Join(dir, "reports"))
	last := stderr[strings.LastIndex(strings.TrimSuffix(stderr, "\n"), "\n")+1:]
	if code != exitUsage || !strings.HasPrefix(last, "memlab: ") || !strings.Contains(last, "not inside a memlab checkout") ||
		!strings.Contains(last, "--suite-bin") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "reports")); !os.IsNotExist(err) {
		t.Error("a run that booted nothing wrote reports")
	}
}

func TestMatrixBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--modes", "v3"}, {"--accel", "xen"}, {"--jobs", "0"}, {"--memory", "64"}, {"--timeout", "1s"},
		{"--kernels", "a=debian:bookworm,a=debian:trixie"}, {"--kernel-list", "/nonexistent/kernels.txt"},
		{"--nope"}, {"stray"},
	} {
		if _, err := parseMatrixFlags(args); !errors.Is(err, runner.ErrUsage) {
			t.Errorf("matrix %q: %v, want a usage error", args, err)
		}
	}
	cfg, err := parseMatrixFlags([]string{"--baseline", "fixtures/matrix-baseline.json", "--suite-bin", "a.test,b.test"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Baseline == nil || cfg.Baseline.Name != "fixtures/matrix-baseline.json" || cfg.Baseline.Data != nil ||
		strings.Join(cfg.SuiteBinaries, " ") != "a.test b.test" || cfg.SuitePackages != nil || len(cfg.Kernels) != 4 {
		t.Errorf("config %+v", cfg)
	}
	cfg, err = parseMatrixFlags([]string{"--kernels", "ubuntu:xenial", "--ubuntu-mirror", "file:///srv/ubuntu", "--ubuntu-keyring", "/srv/k.gpg"})
	if err != nil || cfg.Kernels[0].Archive != "ubuntu" || cfg.Cache.UbuntuMirror != "file:///srv/ubuntu" || cfg.Cache.UbuntuKeyring != "/srv/k.gpg" {
		t.Errorf("ubuntu: %+v %v", cfg, err)
	}
	if cfg, _ := parseMatrixFlags(nil); cfg.Baseline != nil || strings.Join(cfg.SuitePackages, " ") != "./specs/rawcgroup ./specs/reexec" {
		t.Errorf("default config compares with %+v, builds %v", cfg.Baseline, cfg.SuitePackages)
	}
}

// A bad baseline or a file that is no kernel ends the run with one line
// and its own status before any kernel is fetched or booted.
func TestMatrixRefusesBadInputBeforeBooting(t *testing.T) {
	dir := t.TempDir()
	banana := filepath.Join(dir, "banana.json")
	if err := os.WriteFile(banana, []byte(`{"cells":{"bookworm/v1":{"G1":"banana"}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	suite := "--suite-bin=" + staticSuite // no checkout needed, nothing built
	for _, c := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"--kernels", "ls=/bin/ls", suite}, exitNotKernel, "not a bootable x86 kernel"},
		{[]string{"--kernels", "nope=debian:bookworm", suite, "--baseline", "/no/such.json"}, exitBadBaseline, "/no/such.json"},
		{[]string{"--kernels", "nope=debian:bookworm", suite, "--baseline", banana}, exitBadBaseline, `"banana" is not a verdict`},
		{[]string{"--kernels", "nope=debian:bookworm", suite, "--out", filepath.Join(banana, "reports")}, exitCantWrite, "cannot write the reports directory"},
	} {
		code, _, stderr := runIn(t, dir, append([]string{"matrix", "--out", filepath.Join(dir, "reports")}, c.args...)...)
		if code != c.code || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, c.says) {
			t.Errorf("%v: exit %d, stderr %q; want %d saying %q", c.args, code, stderr, c.code, c.says)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "reports")); !os.IsNotExist(err) {
		t.Error("a refused run wrote reports")
	}
}
