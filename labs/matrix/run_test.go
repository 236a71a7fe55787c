package matrix

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/memlab/memlab/labs/matrix/guest"
	"github.com/memlab/memlab/labs/matrix/kernels"
	"github.com/memlab/memlab/labs/matrix/qemu"
	"github.com/memlab/memlab/labs/report/ledger"
)

// fakeMachine stands in for the kernel cache, go, the initramfs builder
// and qemu, and records what Run asked of each.
type fakeMachine struct {
	t          *testing.T
	verdict    func(cell, claim string) ledger.Verdict // what every booted cell reports
	unreported map[string]bool                         // cells whose suites hand back no report
	fetchErr   error
	noModule   error  // what checkModule says
	badSuite   error  // what checkSuite says of every --suite-bin
	onBoot     func() // runs inside boot (e.g. a Ctrl-C)
	console    string // what each booted cell's console.log holds

	accelAsked int
	fetched    []string
	built      []string // packages handed to go test -c
	builtIn    string   // the module directory they were built in
	initrd     guest.Config
	boots      []BootOptions
	workDir    string
}

func (f *fakeMachine) steps() steps {
	return steps{
		detectAccel: func() (string, string) { f.accelAsked++; return "tcg", "fake: no /dev/kvm" },
		checkModule: func(context.Context, string, string) error { return f.noModule },
		checkSuite:  func(string) error { return f.badSuite },
		fetch: func(_ context.Context, _ *kernels.Cache, s kernels.Source) (kernels.Kernel, error) {
			f.fetched = append(f.fetched, s.Name)
			if f.fetchErr != nil {
				return kernels.Kernel{}, f.fetchErr
			}
			if s.Path != "" {
				if _, err := os.Stat(s.Path); err != nil {
					return kernels.Kernel{}, fmt.Errorf("kernel %s: %w", s.Name, err)
				}
			}
			return kernels.Kernel{Source: s, Image: "/fake/vmlinuz-" + s.Name, Release: s.Name + "-release"}, nil
		},
		buildSuites: func(_ context.Context, _, moduleDir string, patterns []string, outDir string) ([]guest.Suite, error) {
			f.built, f.builtIn = patterns, moduleDir
			var out []guest.Suite
			for _, p := range patterns {
				out = append(out, guest.Suite{Name: filepath.Base(p), Binary: filepath.Join(outDir, filepath.Base(p)+".test")})
			}
			return out, nil
		},
		buildInitrd: func(cfg guest.Config, file string) error {
			f.initrd = cfg
			return os.WriteFile(file, []byte("070701"), 0o644)
		},
		boot: func(_ context.Context, o BootOptions) Matrix {
			f.boots = append(f.boots, o)
			f.workDir = o.WorkDir
			if _, err := os.Stat(o.Initrd); err != nil {
				f.t.Errorf("booting without the initramfs: %v", err)
			}
			if f.onBoot != nil {
				f.onBoot()
			}
			m := Matrix{Generated: time.Unix(0, 0).UTC(), Accel: o.Accel, Jobs: o.Jobs}
			for _, c := range o.Cells {
				if c.Skip != "" { // the real runCell boots nothing for these
					m.Cells = append(m.Cells, runCell(context.Background(), o, c))
					continue
				}
				r := newResult(c)
				r.Status = Ran
				if o.Artifacts != "" { // what runCell keeps of each cell
					r.Artifacts = filepath.Join(o.Artifacts, c.Kernel.Name+"-"+c.Mode)
					if err := errors.Join(os.MkdirAll(r.Artifacts, 0o755),
						os.WriteFile(filepath.Join(r.Artifacts, "console.log"), []byte(f.console), 0o644)); err != nil {
						f.t.Fatal(err)
					}
				}
				if f.unreported[c.ID()] { // what runCell makes of suites that exited without a report
					r.Status, r.Reason = NoResult, "suite rawcgroup exited 1 without a report"
					m.Cells = append(m.Cells, r)
					continue
				}
				for _, claim := range ledger.Claims {
					r.Report.Results = append(r.Report.Results,
						ledger.Result{ID: claim.ID, Mode: c.Mode, Verdict: f.verdict(c.ID(), claim.ID)})
				}
				m.Cells = append(m.Cells, r)
			}
			return m
		},
	}
}

func allHold(string, string) ledger.Verdict { return ledger.Holds }

// config is a two-kernel run in both modes, writing into a temp dir. The
// run's work directory, and its sweep, go in a temp dir of the test's own.
func config(t *testing.T, log *[]string) (Config, *bytes.Buffer) {
	t.Helper()
	t.Setenv("TMPDIR", t.TempDir())
	ks, err := kernels.ParseEntries("bullseye=debian:bullseye,bookworm=debian:bookworm")
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	return Config{
		Kernels: ks, Modes: guest.Modes, SuitePackages: []string{"./specs/rawcgroup", "./specs/reexec"},
		Jobs: 2, Timeout: 180 * time.Second, MemoryMB: 768, Accel: "auto",
		Cache: kernels.Cache{Dir: t.TempDir()}, Out: filepath.Join(t.TempDir(), "reports"),
		Stdout: &stdout, Log: func(format string, a ...any) { *log = append(*log, fmt.Sprintf(format, a...)) },
	}, &stdout
}

// baselineOf is the baseline a run whose cells report verdict would record.
func baselineOf(t *testing.T, cfg Config, verdict func(cell, claim string) ledger.Verdict) []byte {
	t.Helper()
	f := &fakeMachine{t: t, verdict: verdict}
	var ks []kernels.Kernel
	for _, s := range cfg.Kernels {
		ks = append(ks, kernels.Kernel{Source: s, Release: s.Name + "-release"})
	}
	m := f.steps().boot(context.Background(), BootOptions{Cells: Plan(ks, cfg.Modes, cfg.Docker), Initrd: writeTemp(t)})
	b, err := json.Marshal(m.Baseline())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeTemp(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "initrd")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func readDoc(t *testing.T, dir string) Document {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "matrix.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc Document
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func contains(lines []string, s string) bool {
	for _, l := range lines {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

func TestRunBootsThePlanAndMatchesItsBaseline(t *testing.T) {
	var log []string
	cfg, stdout := config(t, &log)
	cfg.Baseline = &BaselineRef{Name: "the recorded one", Data: baselineOf(t, cfg, allHold)}
	f := &fakeMachine{t: t, verdict: allHold}
	res, err := run(context.Background(), cfg, f.steps())
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if f.accelAsked != 1 || !contains(log, "accelerator tcg (fake: no /dev/kvm)") {
		t.Errorf("--accel auto: detected %d times; log %q", f.accelAsked, log)
	}
	if strings.Join(f.fetched, " ") != "bullseye bookworm" || len(res.Kernels) != 2 {
		t.Errorf("fetched %v, kernels %v", f.fetched, res.Kernels)
	}
	if strings.Join(f.built, ",") != "./specs/rawcgroup,./specs/reexec" || f.builtIn != "." {
		t.Errorf("built %v in %q", f.built, f.builtIn)
	}
	// 180 s per guest, 40 s of it boot and hand-back, shared by two suites.
	if f.initrd.SuiteTimeout != 70*time.Second || len(f.initrd.Suites) != 2 {
		t.Errorf("initramfs config %+v", f.initrd)
	}
	if len(f.boots) != 1 {
		t.Fatalf("booted %d times", len(f.boots))
	}
	o := f.boots[0]
	var ids []string
	for _, c := range o.Cells {
		ids = append(ids, c.ID())
	}
	if strings.Join(ids, " ") != "bullseye/v1 bullseye/v2 bookworm/v1 bookworm/v2" ||
		o.Jobs != 2 || o.Accel != "tcg" || o.MemoryMB != 768 || o.Timeout != 180*time.Second ||
		!strings.HasPrefix(o.Artifacts, filepath.Join(cfg.Out, stagePrefix)) {
		t.Errorf("boot options %+v (cells %v)", o, ids)
	}
	if _, err := os.Stat(f.workDir); !os.IsNotExist(err) {
		t.Errorf("the work directory %s outlived the run: %v", f.workDir, err)
	}
	if !contains(log, "every verdict matches the recorded one") || len(res.Changes) != 0 {
		t.Errorf("changes %v; log %q", res.Changes, log)
	}
	doc := readDoc(t, cfg.Out)
	if len(doc.Cells) != 4 || len(doc.Table.Rows) != len(ledger.Claims) || len(doc.Changes) != 0 {
		t.Errorf("matrix.json: %d cells, %d rows, %d changes", len(doc.Cells), len(doc.Table.Rows), len(doc.Changes))
	}
	for _, want := range []string{"CLAIM", "bookworm/v2", "reports: " + filepath.Join(cfg.Out, "matrix.md")} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
		}
	}
}

func TestRunNamesTheCellsThatChangedFromTheBaseline(t *testing.T) {
	var log []string
	cfg, stdout := config(t, &log)
	cfg.Baseline = &BaselineRef{Name: "base.json", Data: baselineOf(t, cfg, allHold)}
	cfg.WriteBaseline = filepath.Join(t.TempDir(), "new-baseline.json")
	f := &fakeMachine{t: t, verdict: func(cell, claim string) ledger.Verdict {
		if cell == "bookworm/v2" && claim == "G5" {
			return ledger.Corrected
		}
		return ledger.Holds
	}}
	res, err := run(context.Background(), cfg, f.steps())
	if !errors.Is(err, ErrRegression) || !strings.Contains(err.Error(), "bookworm/v2") || strings.Contains(err.Error(), "bullseye") {
		t.Fatalf("err %v, want ErrRegression naming bookworm/v2 only", err)
	}
	want := Change{Cell: "bookworm/v2", Claim: "G5", Was: "holds", Now: "corrected"}
	if len(res.Changes) != 1 || res.Changes[0] != want {
		t.Errorf("changes %v", res.Changes)
	}
	if doc := readDoc(t, cfg.Out); len(doc.Changes) != 1 || doc.Changes[0] != want {
		t.Errorf("matrix.json changes %v", doc.Changes)
	}
	if !strings.Contains(stdout.String(), "changed from base.json:\n  bookworm/v2 G5: holds → corrected") {
		t.Errorf("stdout:\n%s", stdout.String())
	}
	if _, err := os.Stat(cfg.WriteBaseline); !os.IsNotExist(err) {
		t.Error("a run that changed from its baseline was recorded as the new one")
	}
}

func TestRunFailsOnAFailedClaimAndKeepsItOutOfTheBaseline(t *testing.T) {
	var log []string
	cfg, _ := config(t, &log)
	cfg.WriteBaseline = filepath.Join(t.TempDir(), "baseline.json")
	f := &fakeMachine{t: t, verdict: func(cell, claim string) ledger.Verdict {
		if cell == "bullseye/v1" && claim == "G6" {
			return ledger.Failed
		}
		return ledger.Holds
	}}
	_, err := run(context.Background(), cfg, f.steps())
	if !errors.Is(err, ErrClaimsFailed) || !strings.Contains(err.Error(), "bullseye/v1 G6") {
		t.Fatalf("err %v, want ErrClaimsFailed naming bullseye/v1 G6", err)
	}
	if _, err := os.Stat(cfg.WriteBaseline); !os.IsNotExist(err) {
		t.Error("a run with a failed claim was recorded as the baseline")
	}
	readDoc(t, cfg.Out) // the reports are written all the same
}

func TestRunWritesTheBaselineItWasAskedFor(t *testing.T) {
	var log []string
	cfg, _ := config(t, &log)
	cfg.WriteBaseline = filepath.Join(t.TempDir(), "baseline.json")
	f := &fakeMachine{t: t, verdict: allHold}
	if _, err := run(context.Background(), cfg, f.steps()); err != nil {
		t.Fatal(err)
	}
	b, err := LoadBaseline(cfg.WriteBaseline)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Cells) != 4 || b.Cells["bookworm/v1"]["G1"] != "holds" || b.Kernels["bookworm"] != "bookworm-release" {
		t.Errorf("baseline %+v", b)
	}
}

func TestRunWithPrebuiltSuitesAndAGivenAccelerator(t *testing.T) {
	var log []string
	cfg, _ := config(t, &log)
	cfg.SuiteBinaries = []string{"/bin/rawcgroup.test", "/bin/reexec.test", "/bin/docker.test"}
	cfg.Accel = "kvm"
	cfg.Timeout = 100 * time.Second
	f := &fakeMachine{t: t, verdict: allHold}
	if _, err := run(context.Background(), cfg, f.steps()); err != nil {
		t.Fatal(err)
	}
	if f.built != nil || f.accelAsked != 0 {
		t.Errorf("built %v, asked for the accelerator %d times", f.built, f.accelAsked)
	}
	var names []string
	for _, s := range f.initrd.Suites {
		names = append(names, s.Name+"="+s.Binary)
	}
	if strings.Join(names, " ") != "rawcgroup=/bin/rawcgroup.test reexec=/bin/reexec.test docker=/bin/docker.test" {
		t.Errorf("suites %v", names)
	}
	// (100 s - 40 s) / 3 is 20 s each; never below 10 s.
	if f.initrd.SuiteTimeout != 20*time.Second || suiteTimeout(50*time.Second, 40*time.Second, 3) != 10*time.Second ||
		suiteTimeout(20*time.Second, 60*time.Second, 1) != 10*time.Second {
		t.Errorf("suite timeout %s", f.initrd.SuiteTimeout)
	}
	if f.boots[0].Accel != "kvm" {
		t.Errorf("accel %q", f.boots[0].Accel)
	}
}

func TestRunFetchOnlyBootsNothing(t *testing.T) {
	var log []string
	cfg, stdout := config(t, &log)
	cfg.FetchOnly = true
	f := &fakeMachine{t: t, verdict: allHold}
	res, err := run(context.Background(), cfg, f.steps())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Kernels) != 2 || f.built != nil || len(f.boots) != 0 || stdout.Len() != 0 {
		t.Errorf("kernels %d, built %v, boots %d, stdout %q", len(res.Kernels), f.built, len(f.boots), stdout)
	}
	if !contains(log, "kernel bullseye: bullseye-release (debian:bullseye/linux-image-cloud-amd64, cached)") {
		t.Errorf("log %q", log)
	}
	if _, err := os.Stat(filepath.Join(cfg.Out, "matrix.json")); !os.IsNotExist(err) {
		t.Error("--fetch-only wrote a report")
	}
}

func TestRunInterruptedWritesNoReport(t *testing.T) {
	var log []string
	cfg, _ := config(t, &log)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := &fakeMachine{t: t, verdict: allHold, onBoot: cancel}
	_, err := run(ctx, cfg, f.steps())
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "partial results are in "+filepath.Join(cfg.Out, PartialDir)) {
		t.Fatalf("err %v", err)
	}
	if _, err := os.Stat(filepath.Join(cfg.Out, "matrix.json")); !os.IsNotExist(err) {
		t.Error("an interrupted run wrote a report")
	}
	if _, err := os.Stat(f.workDir); !os.IsNotExist(err) {
		t.Errorf("the work directory outlived an interrupted run: %v", err)
	}

	// A fetch cut short by the interrupt says so.
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	f = &fakeMachine{t: t, verdict: allHold, fetchErr: errors.New("apt-get: signal: killed")}
	if _, err := run(ctx, cfg, f.steps()); !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "matrix interrupted") {
		t.Errorf("fetch interrupted: %v", err)
	}
}

func TestRunPlanTouchesNothing(t *testing.T) {
	var log []string
	cfg, stdout := config(t, &log)
	cfg.PlanOnly = true
	cfg.KernelsFrom = "the test's list"
	cfg.Baseline = &BaselineRef{Name: "built in", Data: baselineOf(t, cfg, allHold)}
	cfg.ModuleDir = t.TempDir()
	f := &fakeMachine{t: t, verdict: allHold, noModule: errors.New("not a checkout")}
	if _, err := run(context.Background(), cfg, f.steps()); err != nil {
		t.Fatal(err)
	}
	if len(f.fetched)+len(f.built)+len(f.boots) != 0 {
		t.Errorf("the plan fetched %v, built %v, booted %d", f.fetched, f.built, len(f.boots))
	}
	for _, want := range []string{
		"kernels from the test's list (cache " + cfg.Cache.Dir + ")",
		"bullseye     debian:bullseye/linux-image-cloud-amd64 (not cached: a run fetches it)",
		"cells (4): bullseye/v1 bullseye/v2 bookworm/v1 bookworm/v2",
		"suites: ./specs/rawcgroup, ./specs/reexec, built in " + cfg.ModuleDir + " (not a checkout)",
		"guests: 2 at a time, tcg, 768 MiB, timeout 3m0s each",
		"baseline: built in (4 cells)",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("plan lacks %q:\n%s", want, stdout.String())
		}
	}
	if _, err := os.Stat(cfg.Out); !os.IsNotExist(err) {
		t.Error("the plan created the report directory")
	}
}

func TestRunRefusesAnEmptyPlan(t *testing.T) {
	var log []string
	cfg, _ := config(t, &log)
	cfg.Kernels = nil
	if _, err := run(context.Background(), cfg, (&fakeMachine{t: t, verdict: allHold}).steps()); err == nil {
		t.Fatal("a run with no kernels did not fail")
	}
}

// Outside a checkout the run stops before it fetches anything; with
// prebuilt suites it needs none.
func TestRunNeedsACheckoutOnlyToBuildSuites(t *testing.T) {
	var log []string
	cfg, _ := config(t, &log)
	noModule := fmt.Errorf("%w: /tmp is not inside a memlab checkout", guest.ErrNoModule)
	f := &fakeMachine{t: t, verdict: allHold, noModule: noModule}
	if _, err := run(context.Background(), cfg, f.steps()); !errors.Is(err, guest.ErrNoModule) {
		t.Fatalf("err %v", err)
	}
	if len(f.fetched)+len(f.boots) != 0 {
		t.Errorf("fetched %v and booted %d times before finding no checkout", f.fetched, len(f.boots))
	}
	cfg.SuiteBinaries = []string{"/bin/rawcgroup.test"}
	f = &fakeMachine{t: t, verdict: allHold, noModule: noModule}
	if _, err := run(context.Background(), cfg, f.steps()); err != nil || len(f.boots) != 1 {
		t.Errorf("with --suite-bin: err %v, %d boots", err, len(f.boots))
	}
}

func TestRunSkipsTheCellsOfAnAbsentKernelImage(t *testing.T) {
	var log []string
	cfg, _ := config(t, &log)
	absent := filepath.Join(t.TempDir(), "shared", "linux-4.4", "bzImage")
	var err error
	cfg.Kernels, err = kernels.ParseEntries("bookworm=debian:bookworm,linux44=" + absent)
	if err != nil {
		t.Fatal(err)
	}
	// The baseline knows linux44's cells, from a machine that has the image.
	cfg.Baseline = &BaselineRef{Name: "test baseline", Data: baselineOf(t, cfg, allHold)}
	f := &fakeMachine{t: t, verdict: allHold}
	res, err := run(t.Context(), cfg, f.steps())
	if err != nil {
		t.Fatalf("an absent image must skip its cells, not fail the run: %v", err)
	}
	doc := readDoc(t, cfg.Out)
	for _, c := range doc.Cells {
		absentCell := strings.HasPrefix(c.ID, "linux44/")
		if absentCell != (c.Status == Skipped && c.KernelAbsent) {
			t.Errorf("%s: status %s, kernel_absent %v", c.ID, c.Status, c.KernelAbsent)
		}
		if absentCell && !strings.Contains(c.Reason, absent+" does not exist") {
			t.Errorf("%s: reason %q does not name the image", c.ID, c.Reason)
		}
	}
	if len(res.Changes) != 0 || strings.Join(res.Unseen, " ") != "linux44/v1 linux44/v2" {
		t.Errorf("changes %v, unseen %v: an absent kernel's cells are not run, not changed", res.Changes, res.Unseen)
	}
	if err := res.Matrix.WriteBaseline(filepath.Join(t.TempDir(), "b.json")); err == nil {
		t.Error("a baseline was written without the absent kernel's cells")
	}
}

func TestPlanSkipsCgroup2BeforeItsKernel(t *testing.T) {
	k := func(name, release string) kernels.Kernel {
		return kernels.Kernel{Source: kernels.Source{Name: name}, Release: release}
	}
	skips := map[string]string{}
	for _, c := range Plan([]kernels.Kernel{k("a", "4.4.178-memlab"), k("b", "4.5.0"), k("c", "unknown"),
		{Source: kernels.Source{Name: "d"}, Release: "unknown", Missing: "/x does not exist"}}, guest.Modes, DockerPlan{}) {
		skips[c.ID()] = c.Skip
	}
	want := map[string]string{
		"a/v1": "", "a/v2": "no cgroup2 memory controller before 4.5 (this kernel is 4.4.178-memlab)",
		"b/v1": "", "b/v2": "", "c/v1": "", "c/v2": "", // unknown: the guest finds out
		"d/v1": "the kernel image is absent: /x does not exist", "d/v2": "the kernel image is absent: /x does not exist",
	}
	for id, w := range want {
		if skips[id] != w {
			t.Errorf("%s: skip %q, want %q", id, skips[id], w)
		}
	}
	// A skipped cell boots nothing: no work directory, no qemu.
	r := runCell(t.Context(), BootOptions{WorkDir: "/nonexistent"}, Cell{Kernel: k("a", "4.4.178-memlab"), Mode: guest.V2,
		Skip: "no cgroup2 memory controller before 4.5 (this kernel is 4.4.178-memlab)"})
	if r.Status != Skipped || r.KernelAbsent || r.Verdict("K1") != string(ledger.Skipped) || r.WallSeconds != 0 {
		t.Errorf("%+v", r)
	}
}

func TestKernelsWithModulesGetTheirOwnInitramfs(t *testing.T) {
	work := t.TempDir()
	shared := filepath.Join(work, "initrd.cpio")
	ko := filepath.Join(t.TempDir(), "01-virtio-rng.ko")
	if err := errors.Join(os.WriteFile(shared, []byte("SHARED"), 0o644), os.WriteFile(ko, []byte("module"), 0o644)); err != nil {
		t.Fatal(err)
	}
	xenial := kernels.Kernel{Source: kernels.Source{Name: "xenial"}, Release: "4.4.0-210-generic", Modules: []string{ko}}
	plain := kernels.Kernel{Source: kernels.Source{Name: "bookworm"}, Release: "6.1.0-50-cloud-amd64"}
	cells := Plan([]kernels.Kernel{xenial, plain}, guest.Modes, DockerPlan{})
	if err := kernelInitrds(cells, shared, work); err != nil {
		t.Fatal(err)
	}
	own := filepath.Join(work, "initrd-xenial.cpio")
	for _, c := range cells {
		want := ""
		if c.Kernel.Name == "xenial" && c.Skip == "" {
			want = own
		}
		if c.Initrd != want {
			t.Errorf("%s: initrd %q, want %q", c.ID(), c.Initrd, want)
		}
	}
	if b, err := os.ReadFile(own); err != nil || !bytes.HasPrefix(b, []byte("SHARED070701")) {
		t.Errorf("xenial's initramfs: %v %q", err, b)
	}
}

// A baseline a check would pass on without checking anything is refused
// before anything is fetched or booted.
func TestRunRefusesABadBaselineBeforeBooting(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for name, ref := range map[string]BaselineRef{
		"missing":       {Name: filepath.Join(dir, "no-such.json")},
		"empty file":    {Name: write("empty.json", "")},
		"null":          {Name: "null", Data: []byte("null")},
		"no cells":      {Name: "no cells", Data: []byte(`{"cells":{}}`)},
		"only dashes":   {Name: "dashes", Data: []byte(`{"cells":{"bookworm/v1":{"G1":"-","K1":"-"}}}`)},
		"banana":        {Name: "banana", Data: []byte(`{"cells":{"bookworm/v1":{"G1":"banana"}}}`)},
		"no result":     {Name: "no result", Data: []byte(`{"cells":{"bookworm/v1":{"G1":"no result"}}}`)},
		"unknown claim": {Name: "Z9", Data: []byte(`{"cells":{"bookworm/v1":{"Z9":"holds"}}}`)},
		"not json":      {Name: write("garbage.json", "{\"cells\":")},
	} {
		t.Run(name, func(t *testing.T) {
			var log []string
			cfg, _ := config(t, &log)
			cfg.Baseline = &ref
			f := &fakeMachine{t: t, verdict: allHold}
			_, err := run(context.Background(), cfg, f.steps())
			if !errors.Is(err, ErrBadBaseline) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err %v, want one line of ErrBadBaseline", err)
			}
			if len(f.fetched)+len(f.boots) != 0 || f.built != nil {
				t.Errorf("fetched %v, built %v, booted %d before refusing the baseline", f.fetched, f.built, len(f.boots))
			}
		})
	}
}

// A run none of whose cells the baseline knows would check nothing: it
// is refused before anything is fetched or booted.
func TestRunWithNoCellToCompareIsNoPass(t *testing.T) {
	var log []string
	cfg, _ := config(t, &log)
	cfg.Baseline = &BaselineRef{Name: "other kernels", Data: []byte(`{"cells":{"xenial/v1":{"G1":"holds"}}}`)}
	f := &fakeMachine{t: t, verdict: allHold}
	if _, err := run(context.Background(), cfg, f.steps()); !errors.Is(err, ErrBadBaseline) || !strings.Contains(err.Error(), "knows none of this run's cells") {
		t.Fatalf("err %v", err)
	}
	if len(f.fetched)+len(f.boots) != 0 || f.built != nil {
		t.Errorf("fetched %v, built %v, booted %d before refusing the baseline", f.fetched, f.built, len(f.boots))
	}
	if _, err := os.Stat(filepath.Join(cfg.Out, "matrix.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused run wrote matrix.json: %v", err)
	}
}

// A suite binary the guest cannot run is refused before anything is
// fetched, built or booted.
func TestRunRefusesABadSuiteBinaryBeforeBooting(t *testing.T) {
	var log []string
	cfg, _ := config(t, &log)
	cfg.SuiteBinaries = []string{"/etc/passwd"}
	f := &fakeMachine{t: t, verdict: allHold, badSuite: fmt.Errorf("%w: /etc/passwd", guest.ErrBadSuiteBinary)}
	if _, err := run(context.Background(), cfg, f.steps()); !errors.Is(err, guest.ErrBadSuiteBinary) {
		t.Fatalf("err %v", err)
	}
	if len(f.fetched)+len(f.boots) != 0 {
		t.Errorf("fetched %v, booted %d before refusing the suite", f.fetched, len(f.boots))
	}
}

// Suites that exited without a report decided nothing: never a match,
// never recorded.
func TestACellWithNoReportIsNeverAMatch(t *testing.T) {
	var log []string
	cfg, _ := config(t, &log)
	cfg.Modes = []string{guest.V1}
	cfg.Kernels = cfg.Kernels[1:]
	// A baseline recorded (before this fix) from such a run: every claim "-"
	// but one, so it parses.
	cfg.Baseline = &BaselineRef{Name: "base", Data: []byte(`{"cells":{"bookworm/v1":{"G1":"holds","G5":"-"}}}`)}
	cfg.WriteBaseline = filepath.Join(t.TempDir(), "baseline.json")
	f := &fakeMachine{t: t, verdict: allHold, unreported: map[string]bool{"bookworm/v1": true}}
	_, err := run(context.Background(), cfg, f.steps())
	if !errors.Is(err, ErrNoResult) || errors.Is(err, ErrClaimsFailed) || !strings.Contains(err.Error(), "bookworm/v1 (no result)") {
		t.Fatalf("err %v", err)
	}
	if contains(log, "every verdict matches") {
		t.Errorf("a cell with no report matched: %q", log)
	}
	if _, err := os.Stat(cfg.WriteBaseline); !os.IsNotExist(err) {
		t.Error("a run whose suites gave no report was recorded as the baseline")
	}
	m := Matrix{Cells: []CellResult{{ID: "bookworm/v1", Mode: "v1", Status: Ran}}}
	if err := m.WriteBaseline(cfg.WriteBaseline); !errors.Is(err, ErrBadBaseline) {
		t.Errorf("a cell that ran no claim was recorded: %v", err)
	}
}

// A file that is not a kernel is refused before anything runs.
func TestRunRefusesAFileThatIsNoKernel(t *testing.T) {
	var log []string
	cfg, _ := config(t, &log)
	var err error
	cfg.Kernels, err = kernels.ParseEntries("ls=/bin/ls")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeMachine{t: t, verdict: allHold}
	_, err = run(context.Background(), cfg, f.steps())
	if !errors.Is(err, kernels.ErrNotKernel) || !strings.Contains(err.Error(), "/bin/ls") {
		t.Fatalf("err %v", err)
	}
	if len(f.fetched)+len(f.boots) != 0 {
		t.Errorf("fetched %v, booted %d", f.fetched, len(f.boots))
	}
}

// A run replaces the previous run's per-cell reports only when complete:
// an interrupted one leaves them, and keeps its own in matrix.partial.
func TestOnlyACompleteRunReplacesThePreviousReports(t *testing.T) {
	var log []string
	cfg, _ := config(t, &log)
	console := func(dir, cell string) string {
		b, err := os.ReadFile(filepath.Join(dir, cell, "console.log"))
		if err != nil {
			return err.Error()
		}
		return string(b)
	}
	f := &fakeMachine{t: t, verdict: allHold, console: "first run"}
	if _, err := run(context.Background(), cfg, f.steps()); err != nil {
		t.Fatal(err)
	}
	first, err := os.ReadFile(filepath.Join(cfg.Out, "matrix.json"))
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f = &fakeMachine{t: t, verdict: allHold, console: "interrupted run", onBoot: cancel}
	if _, err := run(ctx, cfg, f.steps()); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
	matrixDir, partial := filepath.Join(cfg.Out, "matrix"), filepath.Join(cfg.Out, PartialDir)
	if got := console(matrixDir, "bookworm-v2"); got != "first run" {
		t.Errorf("the previous run's cell now holds %q", got)
	}
	if now, _ := os.ReadFile(filepath.Join(cfg.Out, "matrix.json")); !bytes.Equal(now, first) {
		t.Error("an interrupted run replaced matrix.json")
	}
	if got := console(partial, "bookworm-v2"); got != "interrupted run" {
		t.Errorf("the partial results hold %q", got)
	}
	if doc := readDoc(t, partial); len(doc.Cells) != 4 || !strings.HasPrefix(doc.Cells[0].Artifacts, partial) {
		t.Errorf("partial matrix.json: %+v", doc.Cells)
	}

	f = &fakeMachine{t: t, verdict: allHold, console: "third run"}
	res, err := run(context.Background(), cfg, f.steps())
	if err != nil {
		t.Fatal(err)
	}
	if got := console(matrixDir, "bookworm-v2"); got != "third run" {
		t.Errorf("a complete run's cell holds %q", got)
	}
	if c := res.Matrix.Cells[0]; c.Artifacts != filepath.Join(matrixDir, "bullseye-v1") {
		t.Errorf("cell artifacts at %s", c.Artifacts)
	}
	entries, err := os.ReadDir(cfg.Out)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "matrix matrix.json matrix.md" {
		t.Errorf("the reports directory holds %v: the partial and staging directories must be gone", names)
	}
}

// A reports directory that cannot be written is found before anything is
// fetched or booted.
func TestRunChecksTheReportsDirectoryFirst(t *testing.T) {
	var log []string
	cfg, _ := config(t, &log)
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg.Out = filepath.Join(file, "reports")
	f := &fakeMachine{t: t, verdict: allHold}
	if _, err := run(context.Background(), cfg, f.steps()); !errors.Is(err, ErrReportsDir) {
		t.Fatalf("err %v", err)
	}
	if len(f.fetched)+len(f.boots) != 0 || f.built != nil {
		t.Errorf("fetched %v, built %v, booted %d before finding the reports directory unwritable", f.fetched, f.built, len(f.boots))
	}
}

func TestPlanDockerCells(t *testing.T) {
	dir := t.TempDir()
	config := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ks := []kernels.Kernel{
		{Source: kernels.Source{Name: "old"}, Release: "4.4.178-memlab", Config: config("old", "CONFIG_EXT4_FS=y\nCONFIG_VIRTIO_BLK=y\nCONFIG_VIRTIO_PCI=y\n")},
		{Source: kernels.Source{Name: "new"}, Release: "6.1.0", Config: config("new", "CONFIG_EXT4_FS=y\nCONFIG_BLK_DEV_NVME=y\nCONFIG_VIRTIO_BLK=m\n")},
		{Source: kernels.Source{Name: "mods"}, Release: "6.1.0", Config: config("mods", "CONFIG_EXT4_FS=y\nCONFIG_BLK_DEV_NVME=m\nCONFIG_VIRTIO_BLK=m\n")},
		{Source: kernels.Source{Name: "plain"}, Release: "6.1.0"},
	}
	cells := Plan(ks, guest.Modes, DockerPlan{Cells: []string{"old", "new/*", "mods/*/*"}})
	var ids []string
	skip := map[string]string{}
	for _, c := range cells {
		ids = append(ids, c.ID())
		skip[c.ID()] = c.Skip
	}
	want := "old/v1 old/v1/docker-systemd old/v1/docker-cgroupfs old/v2 old/v2/docker-systemd old/v2/docker-cgroupfs " +
		"new/v1 new/v1/docker-systemd new/v1/docker-cgroupfs new/v2 new/v2/docker-systemd new/v2/docker-cgroupfs " +
		"mods/v1 mods/v1/docker-systemd mods/v1/docker-cgroupfs mods/v2 mods/v2/docker-systemd mods/v2/docker-cgroupfs " +
		"plain/v1 plain/v2"
	if got := strings.Join(ids, " "); got != want {
		t.Errorf("cells\n got %s\nwant %s", got, want)
	}
	if skip["old/v1/docker-systemd"] != "" || skip["new/v2/docker-cgroupfs"] != "" {
		t.Errorf("a kernel with a built-in disk driver skips: %q %q", skip["old/v1/docker-systemd"], skip["new/v2/docker-cgroupfs"])
	}
	if !strings.HasPrefix(skip["old/v2/docker-systemd"], "no cgroup2 memory controller before 4.5") {
		t.Errorf("4.4's v2 Docker cell: %q", skip["old/v2/docker-systemd"])
	}
	if !strings.Contains(skip["mods/v1/docker-systemd"], "neither NVMe nor virtio-blk built in (CONFIG_BLK_DEV_NVME=m, CONFIG_VIRTIO_BLK=m)") {
		t.Errorf("modules only: %q", skip["mods/v1/docker-systemd"])
	}
	one := Plan(ks[1:2], guest.Modes, DockerPlan{Cells: []string{"new/v2/systemd", "new/v1/cgroupfs", "nomatch/*/*", "new/v2/systemd/x"}})
	ids = nil
	for _, c := range one {
		ids = append(ids, c.ID())
	}
	if got := strings.Join(ids, " "); got != "new/v1 new/v1/docker-cgroupfs new/v2 new/v2/docker-systemd" {
		t.Errorf("named cells: %s", got)
	}
	if b, _ := rootBus(ks[0]); b != qemu.Virtio {
		t.Errorf("4.4's bus %q", b)
	}
	if b, _ := rootBus(ks[1]); b != qemu.NVMe {
		t.Errorf("6.1's bus %q", b)
	}
}

// A suite whose BeforeSuite failed decided none of its claims: its cell
// has no result, naming the failure, never "ran" with its rows blank.
func TestSuiteLevelFailureIsNoResult(t *testing.T) {
	failed := types.Report{SuitePath: "/suites/docker", SuiteDescription: "docker: D1-D9", SpecReports: types.SpecReports{
		{LeafNodeType: types.NodeTypeBeforeSuite, State: types.SpecStateFailed,
			Failure: types.Failure{Message: "the lab image cannot be built: AppArmor enabled on system\\nmore"}},
		{LeafNodeType: types.NodeTypeIt, State: types.SpecStateSkipped, LeafNodeText: "D1"},
	}}
	got := ledger.Unfinished([]types.Report{failed})
	if len(got) != 1 || got[0] != "docker: D1-D9: [BeforeSuite] failed: the lab image cannot be built: AppArmor enabled on system\\nmore" {
		t.Errorf("%q", got)
	}
	ok := types.Report{SuitePath: "/suites/rawcgroup", SpecReports: types.SpecReports{
		{LeafNodeType: types.NodeTypeBeforeSuite, State: types.SpecStatePassed},
		{LeafNodeType: types.NodeTypeIt, State: types.SpecStateFailed}, // a claim's failure is its verdict
	}}
	if got := ledger.Unfinished([]types.Report{ok}); len(got) != 0 {
		t.Errorf("%q", got)
	}
	if status, why := statusOf(guest.Outcome{Suites: []guest.SuiteRun{{Name: "docker", Exit: 1}}}, nil); status != Ran || why != "" {
		t.Errorf("%s %s", status, why)
	}
	if status, _ := statusOf(guest.Outcome{Suites: []guest.SuiteRun{{Name: "docker", Exit: 1}}}, ledger.Unfinished([]types.Report{failed})); status != NoResult {
		t.Errorf("status %s", status)
	}
}
