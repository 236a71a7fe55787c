// Package matrix runs the claims on many kernels and cgroup modes: it plans
// the cells (kernel × mode), boots one guest per cell in parallel, turns
// each guest's Ginkgo reports into ledger results, tabulates the verdicts
// (claims down, cells across) and compares them with a baseline. Run is
// the whole of `memlab matrix`; FromReports tabulates machines that ran the
// labs themselves (`memlab vm-matrix`).
package matrix

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/memlab/memlab/labs/docker"
	"github.com/memlab/memlab/labs/matrix/guest"
	"github.com/memlab/memlab/labs/matrix/kernels"
	"github.com/memlab/memlab/labs/matrix/qemu"
	"github.com/memlab/memlab/labs/matrix/sysimage"
	"github.com/memlab/memlab/labs/rundir"
)

// Config is one run of the kernel matrix, as the command's flags give it.
type Config struct {
	Kernels     []kernels.Source // booted in this order, each in every mode
	KernelsFrom string           // where the list came from, for the plan
	// KernelsNamed: the kernels were named on the command line, not read
	// from a list, so an image path that does not exist is a mistake
	// rather than an image this machine lacks (whose cells are skipped).
	KernelsNamed bool
	Modes        []string // guest.V1, guest.V2
	// Docker: the Docker cells (the systemd + Docker guest on a kernel, a
	// mode and a cgroup driver); its image is built once into Image.Dir
	// and kept.
	Docker DockerPlan
	Image  sysimage.Builder
	// DockerSuites are built besides the suites for the Docker cells only
	// (the initramfs guest has no engine): default ./specs/docker. With
	// SuiteBinaries, the Docker cells run those alone.
	DockerSuites  []string
	DockerTimeout time.Duration // hard timeout per Docker cell; default Timeout
	// DockerCapture: each Docker cell also captures its container's cgroup
	// tree (capture.tar, labs/docker's fixtures); it costs a cell ~30 s.
	DockerCapture bool
	Shard         Shard // the part of the plan this run boots; zero: all of it

	// The suites each guest runs: prebuilt static test binaries, else the
	// packages built with Go in ModuleDir (a memlab checkout).
	SuiteBinaries []string
	SuitePackages []string
	ModuleDir     string // default "."
	Go            string // the go command; default go on PATH
	LabelFilter   string // --ginkgo.label-filter for every suite

	Jobs     int           // guests at once; default the host's cores
	Timeout  time.Duration // hard timeout per guest
	MemoryMB int
	Accel    string // "kvm", "tcg", or "auto" ("" too): kvm when usable

	Cache     kernels.Cache // where kernels are fetched and kept; Run sets its Log
	FetchOnly bool          // fetch and check the kernels, boot nothing
	PlanOnly  bool          // say what a run would do; fetch, build and boot nothing

	Out           string       // matrix.json, matrix.md and matrix/CELL/ go here
	Baseline      *BaselineRef // compare the run with it; nil: no comparison
	WriteBaseline string       // record the run there, when no claim failed

	Stdout io.Writer                     // the table and the summary; default io.Discard
	Log    func(format string, a ...any) // progress, one line per call
}

// BaselineRef is the baseline a run is compared with.
type BaselineRef struct {
	Name string // a path, or what Data is, for messages
	Data []byte // the baseline itself; nil: read the file Name
}

// Result is what a run found, beyond the files it wrote.
type Result struct {
	Kernels []kernels.Kernel
	Matrix  Matrix
	Changes []Change // verdicts that differ from the baseline
	Unseen  []string // baseline cells this run did not boot
	Fresh   []string // cells the baseline does not know
	// Written: the table's files (matrix.json, matrix.md) were written,
	// which they are even when the run then fails on what they say.
	Written bool
}

// steps are the parts of a run that touch the machine; tests replace them.
type steps struct {
	detectAccel func() (accel, why string)
	checkModule func(ctx context.Context, goBin, dir string) error
	checkSuite  func(binary string) error
	fetch       func(ctx context.Context, c *kernels.Cache, s kernels.Source) (kernels.Kernel, error)
	buildSuites func(ctx context.Context, goBin, moduleDir string, patterns []string, outDir string) ([]guest.Suite, error)
	buildInitrd func(cfg guest.Config, file string) error
	dockerImage func(ctx context.Context, b sysimage.Builder) (sysimage.Image, error)
	dockerDisk  func(ctx context.Context, d guest.DockerDisk, file string) error
	boot        func(ctx context.Context, o BootOptions) Matrix
}

var machine = steps{
	detectAccel: qemu.DetectAccel,
	checkModule: guest.CheckModule,
	checkSuite:  guest.CheckSuiteBinary,
	fetch: func(ctx context.Context, c *kernels.Cache, s kernels.Source) (kernels.Kernel, error) {
		return c.Get(ctx, s)
	},
	buildSuites: guest.BuildSuites,
	buildInitrd: guest.Build,
	dockerImage: func(ctx context.Context, b sysimage.Builder) (sysimage.Image, error) { return b.Get(ctx) },
	dockerDisk:  guest.BuildDockerDisk,
	boot:        Boot,
}

// Run fetches the kernels, builds the guest initramfs, boots every cell,
// writes the reports into cfg.Out and compares the verdicts with the
// baseline. The error is ErrRegression when a verdict changed from the
// baseline, ErrClaimsFailed when a claim failed, ErrNoResult when a cell
// gave no result (and nothing failed),
// and wraps ctx's error when ctx ended first (then no report is written).
// Its work directory and every guest are gone when it returns.
func Run(ctx context.Context, cfg Config) (Result, error) {
	return run(ctx, cfg, machine)
}

func run(ctx context.Context, cfg Config, do steps) (Result, error) {
	var res Result
	cfg.setDefaults()
	if len(cfg.Kernels) == 0 || len(cfg.Modes) == 0 {
		return res, errors.New("matrix: no kernels or no cgroup modes to boot")
	}
	say := cfg.Log
	plan := planIDs(cfg.Kernels, cfg.Modes, cfg.Docker)
	selected, err := cfg.Shard.Select(plan)
	if err != nil {
		return res, err
	}
	if !cfg.Shard.Whole() && cfg.WriteBaseline != "" {
		return res, fmt.Errorf("%w: shard %s is part of the plan, and a baseline records all of it: write it from the merge (memlab merge --write-baseline)", ErrBadShard, cfg.Shard)
	}
	// Every input is checked before anything is fetched or booted: a bad
	// one found after the run would throw the run away. (A plan reports
	// what it finds instead.)
	var base *Baseline
	if !cfg.PlanOnly {
		if base, err = cfg.checkInputs(do, selected); err != nil {
			return res, err
		}
	}
	// The reports directory is checked by making the run's staging
	// directory in it, before minutes of fetching and booting.
	var st *stage
	if !cfg.PlanOnly && !cfg.FetchOnly {
		var err error
		if st, err = newStage(cfg.Out, say); err != nil {
			return res, err
		}
		defer st.discard()
	}
	if cfg.Accel == "" || cfg.Accel == "auto" {
		a, why := do.detectAccel()
		cfg.Accel = a
		say("accelerator %s (%s)", a, why)
	}
	cfg.Cache.Log = say
	if cfg.PlanOnly {
		cfg.writePlan(ctx, do, plan, selected)
		return res, nil
	}
	want := map[string]bool{}
	for _, id := range selected {
		want[id] = true
	}
	if !cfg.Shard.Whole() {
		say("shard %s: %d of the plan's %d cells: %s", cfg.Shard, len(selected), len(plan), strings.Join(selected, " "))
	}

	// Outside a checkout, say so before minutes of fetching.
	if !cfg.FetchOnly && len(cfg.SuiteBinaries) == 0 {
		if err := do.checkModule(ctx, cfg.Go, cfg.ModuleDir); err != nil {
			return res, err
		}
	}
	// What killed runs (SIGKILL, a power cut) left in the temp dir goes.
	rundir.Sweep(os.TempDir(), rundir.MatrixPrefix, say)
	pattern, err := rundir.Pattern(rundir.MatrixPrefix)
	if err != nil {
		return res, err
	}
	work, err := os.MkdirTemp("", pattern)
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(work) // runs on a panic too, before it propagates

	for _, s := range cfg.Kernels {
		if !cfg.Shard.Whole() && !anyOfKernel(s, cfg.Modes, cfg.Docker, want) {
			continue // another shard's: not fetched here
		}
		k, err := do.fetch(ctx, &cfg.Cache, s)
		switch {
		case err != nil && s.Path != "" && errors.Is(err, fs.ErrNotExist) && ctx.Err() == nil:
			// A list may name an image that only some machines have (the
			// article's 4.4 beside the checkout): its cells say so.
			abs, _ := filepath.Abs(s.Path)
			k = kernels.Kernel{Source: s, Release: "unknown", Missing: abs + " does not exist"}
		case err != nil:
			return res, interrupted(ctx, err)
		}
		res.Kernels = append(res.Kernels, k)
		describeKernel(k, say)
	}
	if cfg.FetchOnly {
		// The Docker guest's image is fetched too: built once, then cached.
		if hasDockerCells(selectedCells(res.Kernels, cfg, want)) {
			if _, err := cfg.guestImage(ctx, do); err != nil {
				return res, interrupted(ctx, err)
			}
		}
		return res, nil
	}

	suites, err := cfg.suites(ctx, do, filepath.Join(work, "suites"))
	if err != nil {
		return res, interrupted(ctx, err)
	}
	initrd := filepath.Join(work, "initrd.cpio")
	gc := guest.Config{Suites: suites, LabelFilter: cfg.LabelFilter, SuiteTimeout: suiteTimeout(cfg.Timeout, 40*time.Second, len(suites))}
	if err := do.buildInitrd(gc, initrd); err != nil {
		return res, err
	}
	if st, err := os.Stat(initrd); err == nil {
		say("initramfs %.1f MiB: busybox, stress, %d suite(s)", float64(st.Size())/(1<<20), len(suites))
	}

	cells := selectedCells(res.Kernels, cfg, want)
	if err := kernelInitrds(cells, initrd, work); err != nil {
		return res, err
	}
	opts := BootOptions{
		Cells: cells, Initrd: initrd, Jobs: cfg.Jobs, Timeout: cfg.Timeout, MemoryMB: cfg.MemoryMB,
		Accel: cfg.Accel, WorkDir: work, Artifacts: st.artifacts(), Log: say, DockerTimeout: cfg.DockerTimeout,
	}
	if err := cfg.dockerDisks(ctx, do, gc, suites, &opts); err != nil {
		return res, interrupted(ctx, err)
	}
	docker := ""
	if hasDockerCells(cells) { // what runCell gives them
		timeout := cfg.Timeout
		if cfg.DockerTimeout > 0 {
			timeout = cfg.DockerTimeout
		}
		docker = fmt.Sprintf("; Docker cells %d MiB, timeout %s", max(cfg.MemoryMB, DockerMemoryMB), timeout)
	}
	say("booting %d cells, %d at a time (%s, %d MiB, timeout %s each%s)", len(cells), cfg.Jobs, cfg.Accel, cfg.MemoryMB, cfg.Timeout, docker)
	m := do.boot(ctx, opts)
	m.Plan = &PlanInfo{Cells: plan}
	if !cfg.Shard.Whole() {
		m.Plan.Shard = cfg.Shard.String()
	}
	res.Matrix = m
	// Only a complete run replaces the previous one's reports; an
	// interrupted one keeps what it has beside them.
	if ctx.Err() != nil {
		where, err := st.keepPartial(&m)
		res.Matrix = m
		if err != nil {
			return res, fmt.Errorf("matrix interrupted: %w (the previous reports in %s are kept; this run's partial results are lost: %w)", ctx.Err(), cfg.Out, err)
		}
		return res, fmt.Errorf("matrix interrupted: %w (the previous reports in %s are kept; this run's partial results are in %s)", ctx.Err(), cfg.Out, where)
	}
	if err := st.commit(&m); err != nil {
		return res, fmt.Errorf("%w: %w", ErrReportsDir, err)
	}
	res.Matrix = m
	return conclude(res, conclusion{
		Out: cfg.Out, Stem: "matrix", Baseline: base, BaselineRef: cfg.Baseline,
		WriteBaseline: cfg.WriteBaseline, Stdout: cfg.Stdout, Log: say,
		Artifacts: true,
	})
}

// selectedCells are the cells of the plan this run (or shard) boots.
func selectedCells(ks []kernels.Kernel, cfg Config, want map[string]bool) []Cell {
	var cells []Cell
	for _, c := range Plan(ks, cfg.Modes, cfg.Docker) {
		if want[c.ID()] {
			cells = append(cells, c)
		}
	}
	return cells
}

// anyOfKernel says whether any cell of source s is among want.
func anyOfKernel(s kernels.Source, modes []string, docker DockerPlan, want map[string]bool) bool {
	for _, id := range planIDs([]kernels.Source{s}, modes, docker) {
		if want[id] {
			return true
		}
	}
	return false
}

func (cfg *Config) setDefaults() {
	if cfg.Jobs <= 0 {
		cfg.Jobs = runtime.NumCPU()
	}
	if cfg.DockerTimeout <= 0 {
		cfg.DockerTimeout = cfg.Timeout
	}
	if cfg.ModuleDir == "" {
		cfg.ModuleDir = "."
	}
	if cfg.Out == "" {
		cfg.Out = "reports"
	}
	if cfg.Stdout == nil {
		cfg.Stdout = io.Discard
	}
	if cfg.Log == nil {
		cfg.Log = func(string, ...any) {}
	}
}

// suites are the guest's test binaries: the ones given, else built now.
func (cfg *Config) suites(ctx context.Context, do steps, dir string) ([]guest.Suite, error) {
	if len(cfg.SuiteBinaries) > 0 {
		var out []guest.Suite
		for _, p := range cfg.SuiteBinaries {
			out = append(out, guest.Suite{Name: strings.TrimSuffix(filepath.Base(p), ".test"), Binary: p})
		}
		return out, nil
	}
	cfg.Log("building %s for the guest (CGO_ENABLED=0 go test -c)", strings.Join(cfg.SuitePackages, ","))
	return do.buildSuites(ctx, cfg.Go, cfg.ModuleDir, cfg.SuitePackages, dir)
}

// suiteTimeout gives each suite an equal share of what is left of the
// guest's time after overhead (its boot and hand-back: 40 s for an
// initramfs guest, 60 s for a Docker guest, whose systemd boots longer);
// the guest kills a suite 20 s past it. Never under 10 s, which a clamp
// before taking off the overhead could go below, to nothing or less.
func suiteTimeout(guestTimeout, overhead time.Duration, suites int) time.Duration {
	t := (guestTimeout - overhead) / time.Duration(max(suites, 1))
	return max(t, 10*time.Second)
}

// guestImage gets the Docker guest's image, built once and then cached,
// naming it when it was not built just now (a build logs as it goes).
func (cfg *Config) guestImage(ctx context.Context, do steps) (sysimage.Image, error) {
	b := cfg.Image
	b.Log = cfg.Log
	img, err := do.dockerImage(ctx, b)
	if err == nil && !img.Fresh {
		cfg.Log("docker guest: image %s (%s)", img.Disk, strings.Join(img.Versions, " "))
	}
	return img, err
}

// dockerDisks readies the Docker cells' two disks: the guest image (built
// once, then cached) and this run's suites disk. An image that cannot be
// built here skips the Docker cells, saying why; only an interruption is
// an error.
func (cfg *Config) dockerDisks(ctx context.Context, do steps, gc guest.Config, suites []guest.Suite, o *BootOptions) error {
	if !hasDockerCells(o.Cells) {
		return nil
	}
	skip := func(why string) {
		cfg.Log("docker cells skipped: %s", why)
		for i := range o.Cells {
			if o.Cells[i].Driver != "" && o.Cells[i].Skip == "" {
				o.Cells[i].Skip = why
			}
		}
	}
	img, err := cfg.guestImage(ctx, do)
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		skip("the Docker guest image: " + firstLine(err.Error()))
		return nil
	}
	if len(cfg.SuiteBinaries) == 0 && len(cfg.DockerSuites) > 0 {
		cfg.Log("building %s for the Docker cells", strings.Join(cfg.DockerSuites, ","))
		more, err := do.buildSuites(ctx, cfg.Go, cfg.ModuleDir, cfg.DockerSuites, filepath.Join(o.WorkDir, "suites-docker"))
		if err != nil {
			return err
		}
		suites = append(slices.Clip(suites), more...)
	}
	gc.Suites = suites
	// The Docker suite alone takes most of a Docker cell (its BeforeSuite
	// builds the lab image in the guest): an equal share would cut it off.
	// Each suite may take the cell's time after boot; the cell's own hard
	// timeout bounds them all.
	gc.SuiteTimeout = suiteTimeout(o.DockerTimeout, 60*time.Second, 1)
	d := guest.DockerDisk{Config: gc, Provision: filepath.Join(cfg.ModuleDir, "vagrant", "provision.sh"),
		Capture: filepath.Join(cfg.ModuleDir, "labs", "docker", "testdata", "cgroups", "capture.sh")}
	if _, err := os.Stat(d.Provision); err != nil {
		cfg.Log("docker guest: no %s here: the cells skip the provisioning check", d.Provision)
		d.Provision = ""
	}
	if _, err := os.Stat(d.Capture); err != nil || !cfg.DockerCapture {
		d.Capture = ""
	}
	if img, err := labImageArchive(filepath.Join(o.WorkDir, "lab-image.tar")); err != nil {
		cfg.Log("docker guest: no lab image archive (%v): the Docker suite builds the image in each guest", err)
	} else {
		d.LabImage = img
	}
	disk := filepath.Join(o.WorkDir, "suites.ext4")
	if err := do.dockerDisk(ctx, d, disk); err != nil {
		return err
	}
	o.DockerImage, o.SuitesDisk = img.Disk, disk
	cfg.Log("docker guest: the Docker cells boot %s with the suites disk %s", img.Disk, disk)
	return nil
}

// hasDockerCells says whether cells boot the Docker guest.
func hasDockerCells(cells []Cell) bool {
	for _, c := range cells {
		if c.Driver != "" && c.Skip == "" {
			return true
		}
	}
	return false
}

// labImageArchive writes the lab image's `docker load` archive to file.
func labImageArchive(file string) (string, error) {
	f, err := os.Create(file)
	if err != nil {
		return "", err
	}
	_, err = docker.Recipe{}.Archive(docker.DefaultImage, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(file)
		return "", err
	}
	return file, nil
}

// checkInputs checks what a run reads before it starts: each kernel image
// given by path (an absent one only skips its cells) and the baseline,
// which it returns (nil: no comparison).
func (cfg *Config) checkInputs(do steps, selected []string) (*Baseline, error) {
	for _, s := range cfg.Kernels {
		if s.Path == "" {
			continue
		}
		err := kernels.CheckImage(s.Path)
		switch {
		case err == nil:
		case !errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("kernel %s: %w", s.Name, err)
		case cfg.KernelsNamed:
			// Named on the command line, it is a mistake; a list may
			// name an image only some machines have.
			return nil, fmt.Errorf("kernel %s: %w: %w", s.Name, kernels.ErrNotKernel, err)
		case cfg.WriteBaseline != "":
			return nil, fmt.Errorf("kernel %s: %w: %w: a baseline records every planned cell, and %s cannot run",
				s.Name, kernels.ErrNotKernel, err, strings.Join(cellsOf(s, cfg, selected), ", "))
		}
	}
	for _, p := range cfg.SuiteBinaries {
		if err := do.checkSuite(p); err != nil {
			return nil, fmt.Errorf("--suite-bin: %w", err)
		}
	}
	if err := checkWriteBaseline(cfg.WriteBaseline); err != nil {
		return nil, err
	}
	if cfg.Baseline == nil {
		return nil, nil
	}
	b, err := cfg.Baseline.load()
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(selected, func(id string) bool { _, ok := b.Cells[id]; return ok }) {
		return nil, fmt.Errorf("%w: %s knows none of this run's cells (%s)", ErrBadBaseline, cfg.Baseline.Name, strings.Join(selected, " "))
	}
	return &b, nil
}

// cellsOf are the cells of the selected ones that boot kernel s.
func cellsOf(s kernels.Source, cfg *Config, selected []string) []string {
	var ids []string
	for _, id := range planIDs([]kernels.Source{s}, cfg.Modes, cfg.Docker) {
		if slices.Contains(selected, id) {
			ids = append(ids, id)
		}
	}
	return ids
}

func (b *BaselineRef) load() (Baseline, error) {
	if b.Data == nil {
		return LoadBaseline(b.Name)
	}
	return ParseBaseline(b.Name, b.Data)
}

// kernelInitrds gives each cell whose kernel has modules to load its own
// initramfs: the shared one with the modules appended, one per kernel.
func kernelInitrds(cells []Cell, shared, work string) error {
	made := map[string]string{}
	for i, c := range cells {
		k := c.Kernel
		if len(k.Modules) == 0 || c.Skip != "" || c.Driver != "" { // a Docker cell boots from its disk
			continue
		}
		if _, ok := made[k.Name]; !ok {
			file := filepath.Join(work, "initrd-"+k.Name+".cpio")
			if err := guest.AppendModules(shared, k.Modules, file); err != nil {
				return fmt.Errorf("kernel %s: %w", k.Name, err)
			}
			made[k.Name] = file
		}
		cells[i].Initrd = made[k.Name]
	}
	return nil
}

func describeKernel(k kernels.Kernel, say func(string, ...any)) {
	if k.Missing != "" {
		say("kernel %s: %s: its cells are skipped", k.Name, k.Missing)
		return
	}
	how := "cached"
	if k.Fetched {
		how = "fetched"
	}
	if k.Path != "" {
		how = "given"
	}
	say("kernel %s: %s (%s, %s)", k.Name, k.Release, k.Source, how)
	if len(k.Modules) > 0 {
		say("kernel %s: the guest loads %d module(s) for its hardware RNG", k.Name, len(k.Modules))
	}
	if k.Config == "" {
		say("kernel %s: no config beside the image; cannot check what it has built in", k.Name)
		return
	}
	findings, err := kernels.CheckFile(k.Config)
	if err != nil {
		say("kernel %s: reading %s: %v", k.Name, k.Config, err)
	}
	for _, f := range findings {
		say("kernel %s: %s", k.Name, f)
	}
}

func interrupted(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("matrix interrupted: %w", ctx.Err())
	}
	return err
}

// writePlan says what a run would boot and where its inputs come from,
// touching nothing: no fetch, no build, no guest.
func (cfg *Config) writePlan(ctx context.Context, do steps, plan, selected []string) {
	w := cfg.Stdout
	from := ""
	if cfg.KernelsFrom != "" {
		from = " from " + cfg.KernelsFrom
	}
	fmt.Fprintf(w, "kernels%s (cache %s):\n", from, cfg.Cache.Dir)
	for _, s := range cfg.Kernels {
		state := "not cached: a run fetches it"
		if k, err := cfg.Cache.Cached(s); err == nil {
			state = "cached, " + k.Release
		} else if s.Path != "" && errors.Is(err, fs.ErrNotExist) {
			state = "absent: its cells are skipped"
		} else if s.Path != "" {
			state = err.Error()
		}
		fmt.Fprintf(w, "  %-12s %s (%s)\n", s.Name, s.String(), state)
	}
	fmt.Fprintf(w, "cells (%d): %s\n", len(plan), strings.Join(plan, " "))
	if !cfg.Shard.Whole() {
		fmt.Fprintf(w, "shard %s boots %d of them: %s\n", cfg.Shard, len(selected), strings.Join(selected, " "))
	}
	if len(cfg.Docker.Cells) > 0 {
		b := cfg.Image
		state := "not built: a run builds it (mmdebstrap, a few minutes, once)"
		if img, err := b.Cached(); err == nil {
			state = "cached, " + strings.Join(img.Versions, " ")
		}
		fmt.Fprintf(w, "docker guest image: %s (%s); Docker cells also run %s\n", b.Path(), state, strings.Join(cfg.DockerSuites, ", "))
	}
	if len(cfg.SuiteBinaries) > 0 {
		fmt.Fprintf(w, "suites: %s\n", strings.Join(cfg.SuiteBinaries, ", "))
	} else {
		where := cfg.ModuleDir
		if err := do.checkModule(ctx, cfg.Go, cfg.ModuleDir); err != nil {
			where += " (" + firstLine(err.Error()) + ")"
		}
		fmt.Fprintf(w, "suites: %s, built in %s\n", strings.Join(cfg.SuitePackages, ", "), where)
	}
	fmt.Fprintf(w, "guests: %d at a time, %s, %d MiB, timeout %s each\n", cfg.Jobs, cfg.Accel, cfg.MemoryMB, cfg.Timeout)
	switch cfg.Baseline {
	case nil:
		fmt.Fprintln(w, "baseline: none (no comparison)")
	default:
		if b, err := cfg.Baseline.load(); err != nil {
			fmt.Fprintf(w, "baseline: %s: %v\n", cfg.Baseline.Name, err)
		} else {
			fmt.Fprintf(w, "baseline: %s (%d cells)\n", cfg.Baseline.Name, len(b.Cells))
		}
	}
	if cfg.WriteBaseline != "" {
		fmt.Fprintf(w, "writes the baseline to %s when no claim fails\n", cfg.WriteBaseline)
	}
	fmt.Fprintf(w, "reports: %s, %s, %s/\n", filepath.Join(cfg.Out, "matrix.md"), filepath.Join(cfg.Out, "matrix.json"), filepath.Join(cfg.Out, "matrix"))
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
