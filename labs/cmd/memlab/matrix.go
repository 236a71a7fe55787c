package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/memlab/memlab/labs/matrix"
	"github.com/memlab/memlab/labs/matrix/guest"
	"github.com/memlab/memlab/labs/matrix/kernels"
	"github.com/memlab/memlab/labs/matrix/qemu"
	"github.com/memlab/memlab/labs/runner"
)

const matrixUsage = `usage: memlab matrix [flags]
  --kernels LIST        kernels to boot, comma separated: [NAME=]debian:SUITE[/PACKAGE]
                        or [NAME=]PATH/TO/vmlinuz (default: the --kernel-list file)
  --kernel-list FILE    default kernel list (fixtures/kernels.txt)
  --modes v1,v2         cgroup modes to boot each kernel into
  --suites PATTERNS     Go packages whose test binaries run in the guest, comma separated
                        (default ./specs/rawcgroup,./specs/reexec: the claims a kernel and a
                        cgroup mode decide; the guest has no Docker, and specs/runner grades
                        a student's runner from the repository)
  --suite-bin FILES     prebuilt static test binaries instead of --suites
  --label-filter EXPR   --ginkgo.label-filter for every suite
  --jobs N              guests at once (default: the host's cores)
  --timeout 180s        hard timeout per guest; a guest that passes it is "no result"
  --memory 768          guest memory, MiB
  --accel auto          kvm, tcg, or auto (kvm when usable)
  --cache DIR           kernel cache (default /var/cache/memlab/kernels; MEMLAB_KERNEL_CACHE)
  --refresh             ask the archive for newer kernels (otherwise a cached kernel is used offline)
  --fetch-only          fetch and check the kernels, boot nothing
  --out reports         where matrix.json, matrix.md and matrix/CELL/ go
  --baseline FILE       compare with this baseline; exit non-zero naming changed cells
  --write-baseline FILE record this run as the baseline (refused if a cell has no result)`

// cmdMatrix boots every kernel of the list in every cgroup mode under qemu,
// runs the suites inside, and tabulates the claims' verdicts per cell.
func cmdMatrix(args []string) error {
	fs := flag.NewFlagSet("matrix", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	kernelsFlag := fs.String("kernels", "", "")
	kernelList := fs.String("kernel-list", "fixtures/kernels.txt", "")
	modesFlag := fs.String("modes", strings.Join(guest.Modes, ","), "")
	suitesFlag := fs.String("suites", "./specs/rawcgroup,./specs/reexec", "")
	suiteBin := fs.String("suite-bin", "", "")
	labelFilter := fs.String("label-filter", "", "")
	jobs := fs.Int("jobs", runtime.NumCPU(), "")
	timeout := fs.Duration("timeout", 180*time.Second, "")
	memory := fs.Int("memory", 768, "")
	accel := fs.String("accel", "auto", "")
	cache := fs.String("cache", defaultKernelCache(), "")
	refresh := fs.Bool("refresh", false, "")
	fetchOnly := fs.Bool("fetch-only", false, "")
	out := fs.String("out", "reports", "")
	baseline := fs.String("baseline", "", "")
	writeBaseline := fs.String("write-baseline", "", "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Println(matrixUsage)
			return nil
		}
		return fmt.Errorf("%w: matrix: %v\n%s", runner.ErrUsage, err, matrixUsage)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: matrix takes no arguments (got %q)\n%s", runner.ErrUsage, fs.Args(), matrixUsage)
	}
	modes, err := parseModes(*modesFlag)
	if err != nil {
		return err
	}
	if *jobs < 1 || *memory < 256 || *timeout < 10*time.Second {
		return fmt.Errorf("%w: matrix: --jobs >= 1, --memory >= 256, --timeout >= 10s", runner.ErrUsage)
	}
	switch *accel {
	case "auto":
		a, why := qemu.DetectAccel()
		*accel = a
		say("accelerator %s (%s)", a, why)
	case "kvm", "tcg":
	default:
		return fmt.Errorf("%w: --accel %q: want auto, kvm or tcg", runner.ErrUsage, *accel)
	}
	var sources []kernels.Source
	if *kernelsFlag != "" {
		sources, err = kernels.ParseEntries(*kernelsFlag)
	} else {
		sources, err = kernels.LoadList(*kernelList)
	}
	if err != nil {
		return fmt.Errorf("%w: %v", runner.ErrUsage, err)
	}

	// Ctrl-C, SIGTERM or SIGHUP cancel everything; the guests die with the
	// context, and the work directory goes with the deferred cleanup.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	sweepWorkDirs()
	work, err := os.MkdirTemp("", fmt.Sprintf("memlab-matrix-%d-", os.Getpid()))
	if err != nil {
		return err
	}
	defer os.RemoveAll(work) // runs on a panic too, before it propagates

	kc := &kernels.Cache{Dir: *cache, Refresh: *refresh, Mirror: os.Getenv("MEMLAB_DEBIAN_MIRROR"), Log: say}
	var ks []kernels.Kernel
	for _, s := range sources {
		k, err := kc.Get(ctx, s)
		if err != nil {
			return interrupted(ctx, err)
		}
		ks = append(ks, k)
		describeKernel(k)
	}
	if *fetchOnly {
		return nil
	}

	var suites []guest.Suite
	if *suiteBin != "" {
		for _, p := range strings.Split(*suiteBin, ",") {
			name := strings.TrimSuffix(filepath.Base(p), ".test")
			suites = append(suites, guest.Suite{Name: name, Binary: p})
		}
	} else {
		say("building %s for the guest (CGO_ENABLED=0 go test -c)", *suitesFlag)
		suites, err = guest.BuildSuites(ctx, ".", strings.Split(*suitesFlag, ","), filepath.Join(work, "suites"))
		if err != nil {
			return interrupted(ctx, err)
		}
	}
	// The guest gives each suite an equal share of the time left after boot
	// and hand-back, and kills it 20 s past its Ginkgo timeout.
	suiteTimeout := (*timeout - 40*time.Second) / time.Duration(max(len(suites), 1))
	suiteTimeout = max(suiteTimeout, 10*time.Second)
	initrd := filepath.Join(work, "initrd.cpio")
	if err := guest.Build(guest.Config{Suites: suites, LabelFilter: *labelFilter, SuiteTimeout: suiteTimeout}, initrd); err != nil {
		return err
	}
	if st, err := os.Stat(initrd); err == nil {
		say("initramfs %.1f MiB: busybox, stress, %d suite(s)", float64(st.Size())/(1<<20), len(suites))
	}

	cells := matrix.Plan(ks, modes)
	say("booting %d cells, %d at a time (%s, %d MiB, timeout %s each)", len(cells), *jobs, *accel, *memory, *timeout)
	m := matrix.Run(ctx, matrix.Options{
		Cells: cells, Initrd: initrd, Jobs: *jobs, Timeout: *timeout, MemoryMB: *memory,
		Accel: *accel, WorkDir: work, Artifacts: filepath.Join(*out, "matrix"), Log: say,
	})
	if ctx.Err() != nil {
		return fmt.Errorf("matrix interrupted: %w (no report written)", ctx.Err())
	}
	fmt.Println()
	m.WriteText(os.Stdout)

	var changes []matrix.Change
	if *baseline != "" {
		base, err := matrix.LoadBaseline(*baseline)
		switch {
		case errors.Is(err, os.ErrNotExist):
			say("no baseline at %s yet (make matrix-baseline records one)", *baseline)
		case err != nil:
			return err
		default:
			var unseen, fresh []string
			changes, unseen, fresh = matrix.Compare(base, m.Baseline())
			if len(unseen) > 0 {
				say("baseline cells not run this time: %s", strings.Join(unseen, ", "))
			}
			if len(fresh) > 0 {
				say("cells with no baseline: %s", strings.Join(fresh, ", "))
			}
			if len(changes) == 0 {
				say("every verdict matches %s", *baseline)
			}
		}
	}
	if err := m.WriteFiles(*out, changes); err != nil {
		return err
	}
	fmt.Printf("\nreports: %s %s (per-cell console and suite reports in %s)\n",
		filepath.Join(*out, "matrix.md"), filepath.Join(*out, "matrix.json"), filepath.Join(*out, "matrix"))
	if len(changes) > 0 {
		fmt.Printf("\nchanged from %s:\n", *baseline)
		for _, c := range changes {
			fmt.Printf("  %s\n", c)
		}
		return matrix.RegressionError(changes)
	}
	// A failed claim is a regression of the kernel or of memlab: it fails
	// the run, and is never recorded as the baseline.
	if err := matrix.FailuresError(m.Failures()); err != nil {
		return err
	}
	if *writeBaseline != "" {
		if err := m.WriteBaseline(*writeBaseline); err != nil {
			return err
		}
		say("baseline written to %s", *writeBaseline)
	}
	return nil
}

func parseModes(s string) ([]string, error) {
	var modes []string
	for _, m := range strings.Split(s, ",") {
		switch m = strings.TrimSpace(m); m {
		case guest.V1, guest.V2:
			modes = append(modes, m)
		default:
			return nil, fmt.Errorf("%w: --modes: %q is not v1 or v2", runner.ErrUsage, m)
		}
	}
	return modes, nil
}

func defaultKernelCache() string {
	if d := os.Getenv("MEMLAB_KERNEL_CACHE"); d != "" {
		return d
	}
	if os.Geteuid() != 0 {
		if d, err := os.UserCacheDir(); err == nil {
			return filepath.Join(d, "memlab", "kernels")
		}
	}
	return kernels.DefaultCacheDir
}

func describeKernel(k kernels.Kernel) {
	how := "cached"
	if k.Fetched {
		how = "fetched"
	}
	if k.Path != "" {
		how = "given"
	}
	say("kernel %s: %s (%s, %s)", k.Name, k.Release, k.Source, how)
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

// sweepWorkDirs removes work directories that killed runs (SIGKILL, a
// power cut) left in the temp dir: memlab-matrix-PID-* whose PID is gone.
func sweepWorkDirs() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "memlab-matrix-*-*"))
	for _, d := range dirs {
		f := strings.Split(filepath.Base(d), "-")
		if len(f) < 4 {
			continue
		}
		pid, err := strconv.Atoi(f[2])
		if err != nil || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			if os.RemoveAll(d) == nil {
				say("removed %s, left by a killed run", d)
			}
		}
	}
}
