package main

import (
	"bytes"
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

	"github.com/onsi/ginkgo/v2/formatter"
	"github.com/onsi/ginkgo/v2/types"

	"github.com/memlab/memlab/fixtures"
	"github.com/memlab/memlab/labs/matrix"
	"github.com/memlab/memlab/labs/matrix/guest"
	"github.com/memlab/memlab/labs/matrix/kernels"
	"github.com/memlab/memlab/labs/matrix/sysimage"
	"github.com/memlab/memlab/labs/runner"
)

// defaultDockerCells are the Docker cells a run has unless --docker says
// otherwise, on bookworm: the modern default (v2, systemd driver), v2 with
// cgroupfs, and the article's own layout (v1, systemd driver). The
// article's kernel can run one too (linux44/v1/systemd), at about twice
// a bookworm cell's time under TCG.
const defaultDockerCells = "bookworm/v2,bookworm/v1/systemd"

// builtinBaseline is the --baseline value that names the baseline built
// into memlab.
const builtinBaseline = "builtin"

// matrixUsage says what the shards weigh a Docker cell at from the code that does.
var matrixUsage = strings.Replace(matrixUsageText, "{docker-weight}", strconv.Itoa(matrix.DockerCellWeight), 1)

const matrixUsageText = `usage: memlab matrix [flags]
  --kernels LIST        kernels to boot, comma separated: [NAME=]debian:SUITE[/PACKAGE],
                        [NAME=]ubuntu:SUITE[/PACKAGE] or [NAME=]PATH/TO/vmlinuz
                        (default: the --kernel-list file)
  --kernel-list FILE    kernel list (default: the one built into memlab, fixtures/kernels.txt,
                        whose relative paths are relative to the checkout's fixtures/); an
                        image the list names that is absent here skips its cells
  --modes v1,v2         cgroup modes to boot each kernel into
  --docker CELLS        Docker cells, comma separated KERNEL[/MODE[/DRIVER]] (DRIVER systemd or
                        cgroupfs; "*" or a missing part: any), or none: the systemd + Docker
                        guest, its disk built once from Debian's packages (mmdebstrap) and
                        cached (default ` + defaultDockerCells + `)
  --docker-suites PATTERNS  suites the Docker cells run besides --suites (default ./specs/docker)
  --docker-timeout 420s hard timeout per Docker cell
  --docker-capture      each Docker cell also captures its container's cgroup tree into
                        reports/matrix/CELL/capture.tar (labs/docker's fixtures; ~30 s a cell)
  --image-cache DIR     where the Docker guest image is kept (default ` + sysimage.DefaultDir + `)
  --suites PATTERNS     Go packages whose test binaries run in the guest, comma separated,
                        built in the current directory, which must be a memlab checkout
                        (default ./specs/rawcgroup,./specs/reexec: the claims a kernel and a
                        cgroup mode decide; specs/runner grades a student's runner from the
                        repository)
  --suite-bin FILES     prebuilt static test binaries instead of --suites
  --go CMD              the go command that builds --suites (default go)
  --label-filter EXPR   --ginkgo.label-filter for every suite
  --jobs N              guests at once (default: the host's cores)
  --timeout 180s        hard timeout per guest; a guest that passes it is "no result"
  --memory 768          guest memory, MiB
  --accel auto          kvm, tcg, or auto (kvm when usable)
  --cache DIR           kernel cache (default /var/cache/memlab/kernels as root,
                        else ~/.cache/memlab/kernels)
  --mirror URL          Debian archive kernels are fetched from (default ` + kernels.DefaultMirror + `)
  --ubuntu-mirror URL   Ubuntu archive (default ` + kernels.DefaultUbuntuMirror + `)
  --ubuntu-keyring FILE the keyring that verifies it (default ` + kernels.DefaultUbuntuKeyring + `)
  --refresh             ask the archive for newer kernels (otherwise a cached kernel is used offline)
  --fetch-only          fetch and check the kernels, build the Docker guest image; boot nothing
  --plan                print the cells, kernels, suites and baseline a run would use; touch nothing
  --shard i/n|NAMES     boot only part of the plan: the i-th of n runs of its cells (in
                        plan order) of near-equal cost (a Docker cell counts {docker-weight}), or the
                        cells of the kernels (or the cells) named, comma separated; the
                        output records the plan it is part of,
                        and memlab merge joins the parts' outputs into the one table
  --plan-json           print the plan as a GitHub Actions job matrix, one line of JSON:
                        {"include":[{"shard","name","kernels","cells"}...]}; touch nothing
  --shards N            with --plan-json: N shards i/N (default 0: one job per kernel)
  --versions            ask the archives which package and version each archive kernel of
                        the list is today, one line each (NAME SOURCE PACKAGE VERSION),
                        downloading no kernel: what a CI cache of kernels is keyed on
  --out reports         where matrix.json, matrix.md and matrix/CELL/ go; only a complete
                        run replaces them (an interrupted one leaves matrix.partial/ beside)
  --baseline FILE       compare with this baseline ("builtin": the one built into memlab,
                        fixtures/matrix-baseline.json); exit non-zero naming changed cells
  --write-baseline FILE record this run as the baseline (refused if a cell has no result)`

// cmdMatrix boots every kernel of the list in every cgroup mode under qemu,
// runs the suites inside, and tabulates the claims' verdicts per cell.
func cmdMatrix(args []string) error {
	cfg, err := parseMatrixFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Println(matrixUsage)
		return nil
	}
	if err != nil {
		return err
	}
	if cfg.versions {
		return printVersions(cfg.Config)
	}
	if cfg.jobMatrix {
		jm, err := matrix.PlanJobs(cfg.Kernels, cfg.Modes, cfg.Docker, cfg.shards)
		if err != nil {
			return fmt.Errorf("%w: %w", runner.ErrUsage, err)
		}
		fmt.Println(jm.JSON())
		return nil
	}
	// Ctrl-C, SIGTERM or SIGHUP cancel everything; the guests die with the
	// context, and the work directory goes with them.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	_, err = matrix.Run(ctx, cfg.Config)
	if errors.Is(err, guest.ErrNoModule) {
		return fmt.Errorf("%w: %w (run memlab matrix in one, or give --suite-bin)", runner.ErrUsage, err)
	}
	if errors.Is(err, matrix.ErrBadShard) {
		return fmt.Errorf("%w: %w", runner.ErrUsage, err)
	}
	return err
}

// matrixCommand is a run, or the plan as a CI job matrix.
type matrixCommand struct {
	matrix.Config
	jobMatrix bool // --plan-json
	shards    int  // --shards
	versions  bool // --versions
}

// printVersions prints the package and version of each archive kernel.
func printVersions(cfg matrix.Config) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	for _, s := range cfg.Kernels {
		if s.Path != "" {
			continue // not fetched, not cached: brought by whoever runs the matrix
		}
		pkg, version, err := cfg.Cache.Newest(ctx, s)
		if err != nil {
			return err
		}
		fmt.Printf("%s %s %s %s\n", s.Name, s, pkg, version)
	}
	return nil
}

// parseMatrixFlags turns the command line into a run; flag.ErrHelp asks
// for the usage text.
func parseMatrixFlags(args []string) (matrixCommand, error) {
	cmd := matrixCommand{Config: matrix.Config{Stdout: os.Stdout, Log: say}}
	cfg := &cmd.Config
	fs := flag.NewFlagSet("matrix", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	kernelsFlag := fs.String("kernels", "", "")
	kernelList := fs.String("kernel-list", "", "")
	modesFlag := fs.String("modes", strings.Join(guest.Modes, ","), "")
	suitesFlag := fs.String("suites", "./specs/rawcgroup,./specs/reexec", "")
	suiteBin := fs.String("suite-bin", "", "")
	dockerFlag := fs.String("docker", defaultDockerCells, "")
	dockerSuites := fs.String("docker-suites", "./specs/docker", "")
	fs.DurationVar(&cfg.DockerTimeout, "docker-timeout", 420*time.Second, "")
	fs.BoolVar(&cfg.DockerCapture, "docker-capture", false, "")
	fs.StringVar(&cfg.Image.Dir, "image-cache", sysimage.DefaultDir, "")
	fs.StringVar(&cfg.Go, "go", "go", "")
	fs.StringVar(&cfg.LabelFilter, "label-filter", "", "")
	fs.IntVar(&cfg.Jobs, "jobs", runtime.NumCPU(), "")
	fs.DurationVar(&cfg.Timeout, "timeout", 180*time.Second, "")
	fs.IntVar(&cfg.MemoryMB, "memory", 768, "")
	fs.StringVar(&cfg.Accel, "accel", "auto", "")
	fs.StringVar(&cfg.Cache.Dir, "cache", defaultKernelCache(), "")
	fs.StringVar(&cfg.Cache.Mirror, "mirror", kernels.DefaultMirror, "")
	fs.StringVar(&cfg.Cache.UbuntuMirror, "ubuntu-mirror", kernels.DefaultUbuntuMirror, "")
	fs.StringVar(&cfg.Cache.UbuntuKeyring, "ubuntu-keyring", kernels.DefaultUbuntuKeyring, "")
	fs.BoolVar(&cfg.Cache.Refresh, "refresh", false, "")
	fs.BoolVar(&cfg.FetchOnly, "fetch-only", false, "")
	fs.BoolVar(&cfg.PlanOnly, "plan", false, "")
	fs.StringVar(&cfg.Out, "out", "reports", "")
	shard := fs.String("shard", "", "")
	fs.BoolVar(&cmd.jobMatrix, "plan-json", false, "")
	fs.IntVar(&cmd.shards, "shards", 0, "")
	fs.BoolVar(&cmd.versions, "versions", false, "")
	baseline := fs.String("baseline", "", "")
	fs.StringVar(&cfg.WriteBaseline, "write-baseline", "", "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cmd, err
		}
		return cmd, fmt.Errorf("%w: matrix: %w", runner.ErrUsage, err)
	}
	if fs.NArg() > 0 {
		return cmd, fmt.Errorf("%w: matrix takes no arguments (got %q)", runner.ErrUsage, fs.Args())
	}
	var err error
	if cfg.Modes, err = parseModes(*modesFlag); err != nil {
		return cmd, err
	}
	if cfg.Jobs < 1 || cfg.MemoryMB < 256 || cfg.Timeout < 10*time.Second || cfg.DockerTimeout < 10*time.Second {
		return cmd, fmt.Errorf("%w: matrix: --jobs >= 1, --memory >= 256, --timeout and --docker-timeout >= 10s", runner.ErrUsage)
	}
	if cfg.Docker, err = parseDocker(*dockerFlag); err != nil {
		return cmd, err
	}
	if *dockerSuites != "" {
		cfg.DockerSuites = strings.Split(*dockerSuites, ",")
	}
	switch cfg.Accel {
	case "auto", "kvm", "tcg":
	default:
		return cmd, fmt.Errorf("%w: --accel %q: want auto, kvm or tcg", runner.ErrUsage, cfg.Accel)
	}
	switch {
	case *kernelsFlag != "":
		cfg.Kernels, err = kernels.ParseEntries(*kernelsFlag)
		cfg.KernelsFrom, cfg.KernelsNamed = "--kernels", true
	case *kernelList != "":
		cfg.Kernels, err = kernels.LoadList(*kernelList)
		cfg.KernelsFrom = *kernelList
	default:
		// The built-in list reads as the checkout's copy would: memlab
		// matrix runs at the root of a checkout.
		cfg.Kernels, err = kernels.ParseList(bytes.NewReader(fixtures.KernelList))
		cfg.Kernels = kernels.ResolvePaths(cfg.Kernels, filepath.Dir(fixtures.KernelListName))
		cfg.KernelsFrom = fixtures.KernelListName + " (built in)"
	}
	if err != nil {
		return cmd, fmt.Errorf("%w: %w", runner.ErrUsage, err)
	}
	// Docker cells asked for by name must be in the plan (the default
	// ones are bookworm's, and go with bookworm).
	if given(fs, "docker") {
		if none := cfg.Docker.Unmatched(cfg.Kernels, cfg.Modes); len(none) > 0 {
			return cmd, fmt.Errorf("%w: --docker %s: no such Docker cell in the plan (kernels %s, modes %s)",
				runner.ErrUsage, strings.Join(none, ","), kernelNames(cfg.Kernels), strings.Join(cfg.Modes, ","))
		}
	}
	if err := checkLabelFilter(cfg.LabelFilter); err != nil {
		return cmd, err
	}
	if err := checkOutGiven(cfg.Out); err != nil {
		return cmd, err
	}
	if *suiteBin != "" {
		cfg.SuiteBinaries = strings.Split(*suiteBin, ",")
	} else {
		cfg.SuitePackages = strings.Split(*suitesFlag, ",")
	}
	cfg.Baseline = baselineRef(*baseline)
	if *shard != "" {
		if cfg.Shard, err = matrix.ParseShard(*shard); err != nil {
			return cmd, fmt.Errorf("%w: %w", runner.ErrUsage, err)
		}
	}
	if cmd.shards < 0 {
		return cmd, fmt.Errorf("%w: --shards %d: want 0 (a job per kernel) or more", runner.ErrUsage, cmd.shards)
	}
	return cmd, nil
}

// given says whether the command line set the flag.
func given(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func kernelNames(srcs []kernels.Source) string {
	names := make([]string, len(srcs))
	for i, s := range srcs {
		names[i] = s.Name
	}
	return strings.Join(names, ",")
}

// checkLabelFilter parses --label-filter as the guests' Ginkgo will: a
// filter it cannot parse fails every suite in every guest, which would
// read as guests that gave no result. Ginkgo's message, on one line and
// without its colours, says where the filter goes wrong.
func checkLabelFilter(filter string) error {
	if filter == "" {
		return nil
	}
	_, err := types.ParseLabelFilter(filter)
	if err == nil {
		return nil
	}
	msg := err.Error()
	if ge, ok := errors.AsType[types.GinkgoError](err); ok {
		msg = ge.Heading + ": " + ge.Message
	}
	msg = strings.Join(strings.Fields(formatter.New(formatter.ColorModeNone).F(msg)), " ")
	return fmt.Errorf("%w: --label-filter %q: %s", runner.ErrUsage, filter, msg)
}

func parseModes(s string) ([]string, error) {
	var modes []string
	for m := range strings.SplitSeq(s, ",") {
		switch m = strings.TrimSpace(m); m {
		case guest.V1, guest.V2:
			modes = append(modes, m)
		default:
			return nil, fmt.Errorf("%w: --modes: %q is not v1 or v2", runner.ErrUsage, m)
		}
	}
	return modes, nil
}

// parseDocker reads --docker: KERNEL[/MODE[/DRIVER]] patterns, or "none".
func parseDocker(list string) (matrix.DockerPlan, error) {
	var p matrix.DockerPlan
	if list == "none" || list == "" {
		return p, nil
	}
	for c := range strings.SplitSeq(list, ",") {
		c = strings.TrimSpace(c)
		parts := strings.Split(c, "/")
		bad := c == "" || len(parts) > 3
		if len(parts) > 1 && parts[1] != "*" && parts[1] != guest.V1 && parts[1] != guest.V2 {
			bad = true
		}
		if len(parts) > 2 && parts[2] != "*" && parts[2] != guest.Systemd && parts[2] != guest.Cgroupfs {
			bad = true
		}
		if bad {
			return p, fmt.Errorf("%w: --docker: %q: want KERNEL[/v1|v2|*[/systemd|cgroupfs|*]], comma separated, or none", runner.ErrUsage, c)
		}
		p.Cells = append(p.Cells, c)
	}
	return p, nil
}

// defaultKernelCache is shared by every root run (make matrix, CI); a user
// without root keeps kernels in their own cache directory.
func defaultKernelCache() string {
	if os.Geteuid() != 0 {
		if d, err := os.UserCacheDir(); err == nil {
			return filepath.Join(d, "memlab", "kernels")
		}
	}
	return kernels.DefaultCacheDir
}
