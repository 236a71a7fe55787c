package matrix

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/memlab/memlab/labs/kernel/release"
	"github.com/memlab/memlab/labs/matrix/guest"
	"github.com/memlab/memlab/labs/matrix/kernels"
	"github.com/memlab/memlab/labs/matrix/qemu"
	"github.com/memlab/memlab/labs/report/ledger"
)

// Cell statuses.
const (
	Ran      = "ran"       // the suites ran; the claims carry their verdicts
	Skipped  = "skipped"   // the kernel lacks the mode or its image is absent, or the mode lacks memory; every claim skipped
	NoResult = "no result" // the guest hung, panicked or handed nothing back
)

// Cell is one guest: a kernel booted into one cgroup mode, either from the
// initramfs guest, or (Driver set) from the Docker guest's disk with systemd
// as PID 1 and Docker on that cgroup driver.
type Cell struct {
	Kernel kernels.Kernel
	Mode   string
	Driver string // "": the initramfs guest; guest.Systemd or guest.Cgroupfs: a Docker cell
	Initrd string // this kernel's initramfs when it differs from the shared one
	// Skip says why the cell is known to be skipped without booting it.
	Skip string
	// Bus is the bus a Docker cell's disks go on (rootBus), "" for an
	// initramfs cell.
	Bus string
}

// ID names a cell in tables and baselines: "bookworm/v2", and for a Docker
// cell "bookworm/v2/docker-systemd".
func (c Cell) ID() string {
	if c.Driver != "" {
		return c.Kernel.Name + "/" + c.Mode + "/docker-" + c.Driver
	}
	return c.Kernel.Name + "/" + c.Mode
}

// DockerPlan says which Docker cells a run has: patterns KERNEL,
// KERNEL/MODE or KERNEL/MODE/DRIVER ("*" matches any one part; a missing
// part is any), each naming the Docker cells of those kernels, modes and
// cgroup drivers (guest.Systemd, guest.Cgroupfs).
type DockerPlan struct {
	Cells []string
}

// Has says whether the plan names the Docker cell (kernel, mode, driver).
func (d DockerPlan) Has(kernel, mode, driver string) bool {
	for _, p := range d.Cells {
		parts := strings.Split(p, "/")
		want := []string{kernel, mode, driver}
		ok := len(parts) <= 3
		for i := 0; ok && i < len(parts); i++ {
			ok = parts[i] == "*" || parts[i] == want[i]
		}
		if ok {
			return true
		}
	}
	return false
}

// Unmatched are the patterns of d that name no Docker cell of the plan of
// these kernels and modes: a mistyped kernel name would otherwise drop
// its Docker cells without a word.
func (d DockerPlan) Unmatched(srcs []kernels.Source, modes []string) []string {
	var none []string
	for _, p := range d.Cells {
		one := DockerPlan{Cells: []string{p}}
		matched := false
		for _, s := range srcs {
			for _, m := range modes {
				for _, drv := range guest.Drivers {
					matched = matched || one.Has(s.Name, m, drv)
				}
			}
		}
		if !matched {
			none = append(none, p)
		}
	}
	return none
}

// Plan is the list of cells: every kernel in every mode, kernels in list
// order, modes inner; after a kernel's initramfs cells in a mode come its
// Docker cells in that mode that docker names, one per driver.
func Plan(ks []kernels.Kernel, modes []string, docker DockerPlan) []Cell {
	var cells []Cell
	for _, k := range ks {
		for _, m := range modes {
			cells = append(cells, Cell{Kernel: k, Mode: m, Skip: skipBeforeBoot(k, m)})
			for _, d := range guest.Drivers {
				if !docker.Has(k.Name, m, d) {
					continue
				}
				c := Cell{Kernel: k, Mode: m, Driver: d, Skip: skipBeforeBoot(k, m)}
				if c.Skip == "" {
					c.Bus, c.Skip = rootBus(k)
				}
				cells = append(cells, c)
			}
		}
	}
	return cells
}

// rootBus is the bus the Docker guest's disks go on: one whose driver the
// kernel has built in (the guest boots its root disk without an
// initramfs), or why there is none.
func rootBus(k kernels.Kernel) (bus, skip string) {
	if k.Config == "" {
		return qemu.NVMe, "" // unknown: NVMe is what Debian's kernels build in
	}
	cfg, err := kernels.ReadConfig(k.Config)
	if err != nil {
		return qemu.NVMe, ""
	}
	if cfg["EXT4_FS"] != "y" {
		return "", "the Docker guest's root is ext4, which this kernel does not have built in (CONFIG_EXT4_FS=" + orNone(cfg["EXT4_FS"]) + ")"
	}
	switch {
	case cfg["BLK_DEV_NVME"] == "y":
		return qemu.NVMe, ""
	case cfg["VIRTIO_BLK"] == "y" && cfg["VIRTIO_PCI"] == "y":
		return qemu.Virtio, ""
	}
	return "", fmt.Sprintf("the Docker guest boots from a disk without an initramfs, and this kernel has neither NVMe nor virtio-blk built in (CONFIG_BLK_DEV_NVME=%s, CONFIG_VIRTIO_BLK=%s)",
		orNone(cfg["BLK_DEV_NVME"]), orNone(cfg["VIRTIO_BLK"]))
}

func orNone(v string) string {
	if v == "" {
		return "unset"
	}
	return v
}

// DockerMemoryMB is the least memory a Docker cell boots with: systemd,
// containerd and dockerd besides the 128m container.
const DockerMemoryMB = 1536

// skipBeforeBoot is why a cell cannot run, known before booting it: its
// image is absent, or its kernel is older than the mode.
func skipBeforeBoot(k kernels.Kernel, mode string) string {
	if k.Missing != "" {
		return "the kernel image is absent: " + k.Missing
	}
	if v, err := release.Parse(k.Release); err == nil && mode == guest.V2 && !v.Has(release.CgroupV2Memory) {
		return fmt.Sprintf("no cgroup2 memory controller before %s (this kernel is %s)", release.FloorOf(release.CgroupV2Memory).Since(), k.Release)
	}
	return ""
}

// CellResult is what one cell produced.
type CellResult struct {
	ID           string            `json:"id"`
	Kernel       string            `json:"kernel"`
	Release      string            `json:"release"`
	Source       string            `json:"source"`
	Mode         string            `json:"cgroup_mode"`
	Driver       string            `json:"cgroup_driver,omitempty"` // a Docker cell's
	Engine       string            `json:"engine,omitempty"`        // what the Docker cell's engine said of itself
	Status       string            `json:"status"`
	Reason       string            `json:"reason,omitempty"`
	ConsoleTail  string            `json:"console_tail,omitempty"`
	BootSeconds  float64           `json:"boot_seconds"`            // guest uptime when /init started
	GuestSeconds float64           `json:"guest_seconds"`           // guest uptime when it handed back
	WallSeconds  float64           `json:"wall_seconds"`            // qemu start to exit, on the host
	KernelAbsent bool              `json:"kernel_absent,omitempty"` // skipped: its image is not on this machine
	Suites       []guest.SuiteRun  `json:"suites,omitempty"`
	Config       []kernels.Finding `json:"config_findings,omitempty"`
	Report       ledger.Report     `json:"report"`
	Artifacts    string            `json:"artifacts,omitempty"`
}

// Matrix is a whole run.
type Matrix struct {
	Title       string       `json:"title,omitempty"` // "kernel matrix" when empty
	Generated   time.Time    `json:"generated"`
	Accel       string       `json:"accel"`
	Jobs        int          `json:"jobs"`
	WallSeconds float64      `json:"wall_seconds"`
	Cells       []CellResult `json:"cells"`
	Plan        *PlanInfo    `json:"plan,omitempty"` // the plan a matrix run belongs to; nil for machines' reports
}

// BootOptions drive Boot.
type BootOptions struct {
	Cells     []Cell
	Initrd    string        // the guest initramfs, shared by every cell
	Jobs      int           // guests at once; default the host's cores
	Timeout   time.Duration // hard timeout per guest
	MemoryMB  int
	Accel     string
	WorkDir   string // each cell's qemu files go in a directory under it (removed after)
	Artifacts string // each cell's console log and hand-back are kept in Artifacts/KERNEL-MODE[-docker-DRIVER]
	// The Docker cells' disks: the guest image (written only through a
	// snapshot) and the run's suites disk (read-only).
	DockerImage   string
	SuitesDisk    string
	DockerTimeout time.Duration // hard timeout per Docker cell
	Log           func(format string, a ...any)
}

// Boot boots every cell, at most Jobs at once, and returns their results in
// plan order. It returns early (cells not started are "no result") when ctx
// ends; the guests it started are gone when it returns.
func Boot(ctx context.Context, o BootOptions) Matrix {
	if o.Jobs <= 0 {
		o.Jobs = runtime.NumCPU()
	}
	if o.Accel == "" {
		o.Accel, _ = qemu.DetectAccel()
	}
	m := Matrix{Generated: time.Now().UTC(), Accel: o.Accel, Jobs: o.Jobs}
	m.Cells = make([]CellResult, len(o.Cells))
	start := time.Now()
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(o.Jobs, len(o.Cells)); w++ {
		wg.Go(func() {
			for i := range next {
				m.Cells[i] = runCellSafely(ctx, o, o.Cells[i])
				if o.Log != nil {
					r := m.Cells[i]
					o.Log("%-16s %-9s %5.1fs wall, boot %.1fs%s", r.ID, r.Status, r.WallSeconds, r.BootSeconds, brief(r.Reason))
				}
			}
		})
	}
	// Cells start in plan order; once ctx ends the rest are not started.
	for i, c := range o.Cells {
		if ctx.Err() != nil {
			m.Cells[i] = noResult(c, "not started: "+ctx.Err().Error(), "")
			continue
		}
		select {
		case next <- i:
		case <-ctx.Done():
			m.Cells[i] = noResult(c, "not started: "+ctx.Err().Error(), "")
		}
	}
	close(next)
	wg.Wait()
	m.WallSeconds = time.Since(start).Seconds()
	return m
}

// runCellSafely turns a panic of the harness into the cell's "no result".
func runCellSafely(ctx context.Context, o BootOptions, c Cell) (r CellResult) {
	defer func() {
		if p := recover(); p != nil {
			r = noResult(c, fmt.Sprintf("harness panic: %v", p), "")
		}
	}()
	return runCell(ctx, o, c)
}

func brief(reason string) string {
	if reason == "" {
		return ""
	}
	if i := strings.IndexByte(reason, '\n'); i >= 0 {
		reason = reason[:i]
	}
	if len(reason) > 120 {
		reason = reason[:119] + "…"
	}
	return ": " + reason
}

func newResult(c Cell) CellResult {
	r := CellResult{ID: c.ID(), Kernel: c.Kernel.Name, Release: c.Kernel.Release,
		Source: c.Kernel.String(), Mode: c.Mode, Driver: c.Driver}
	if c.Kernel.Config != "" {
		if fs, err := kernels.CheckFile(c.Kernel.Config); err == nil {
			for _, f := range fs {
				if f.Mode == "" || f.Mode == c.Mode {
					r.Config = append(r.Config, f)
				}
			}
		}
	}
	return r
}

func noResult(c Cell, why, tail string) CellResult {
	r := newResult(c)
	r.Status, r.Reason, r.ConsoleTail = NoResult, why, validUTF8(tail)
	r.Report = everyClaim(r, ledger.NoResult, why)
	return r
}

// everyClaim is a report giving every ledger claim the same verdict.
func everyClaim(r CellResult, v ledger.Verdict, why string) ledger.Report {
	rep := ledger.Report{Generated: time.Now().UTC(),
		Env: ledger.Env{Kernel: r.Release, MemoryMode: r.Mode}}
	for _, c := range ledger.Claims {
		rep.Results = append(rep.Results, ledger.Result{ID: c.ID, Claim: c.Statement, Mode: r.Mode,
			Kernel: r.Release, Verdict: v, Article: c.Article, Why: why})
	}
	return rep
}

func runCell(ctx context.Context, o BootOptions, c Cell) CellResult {
	r := newResult(c)
	if c.Skip != "" {
		r.Status, r.Reason, r.KernelAbsent = Skipped, c.Skip, c.Kernel.Missing != ""
		r.Report = everyClaim(r, ledger.Skipped, c.Skip)
		return r
	}
	initrd := o.Initrd
	if c.Initrd != "" {
		initrd = c.Initrd
	}
	dir, err := os.MkdirTemp(o.WorkDir, "cell-"+artifactName(c)+"-")
	if err != nil {
		return noResult(c, "harness: "+err.Error(), "")
	}
	defer os.RemoveAll(dir)
	g := qemu.Guest{
		Kernel: c.Kernel.Image, Initrd: initrd, Append: guest.Cmdline(c.Mode),
		MemoryMB: o.MemoryMB, Accel: o.Accel, Timeout: o.Timeout, Dir: dir,
	}
	if c.Driver != "" {
		if o.DockerImage == "" || o.SuitesDisk == "" {
			return noResult(c, "harness: a Docker cell without the Docker guest's disks", "")
		}
		g.Initrd, g.Append, g.MemoryMB = "", guest.DockerCmdline(c.Mode, c.Driver, qemu.FirstDisk(c.Bus)), max(o.MemoryMB, DockerMemoryMB)
		g.Disks = []qemu.Disk{{File: o.DockerImage, Snapshot: true, Bus: c.Bus}, {File: o.SuitesDisk, Bus: c.Bus}}
		if o.DockerTimeout > 0 {
			g.Timeout = o.DockerTimeout
		}
	}
	res := qemu.Run(ctx, g)
	r.WallSeconds = round(res.Wall.Seconds())
	consoleText, _ := os.ReadFile(res.Console)
	con := guest.ParseConsole(string(consoleText))
	r.BootSeconds = con.Booted
	if con.Release != "" {
		r.Release = con.Release
	}
	tail := qemu.TailText(string(consoleText), 20)
	var art string
	if o.Artifacts != "" {
		art = filepath.Join(o.Artifacts, artifactName(c))
		if err := os.RemoveAll(art); err == nil && os.MkdirAll(art, 0o755) == nil {
			_ = os.WriteFile(filepath.Join(art, "console.log"), consoleText, 0o644)
			r.Artifacts = art
		} else {
			art = ""
		}
	}
	fail := func(why string) CellResult {
		out := noResult(c, why, tail)
		out.WallSeconds, out.BootSeconds, out.Release, out.Artifacts = r.WallSeconds, r.BootSeconds, r.Release, r.Artifacts
		return out
	}
	switch {
	case res.Err != nil && ctx.Err() != nil:
		return fail("interrupted")
	case res.TimedOut:
		return fail(fmt.Sprintf("the guest did not finish within %s (killed)", g.Timeout))
	case res.Err != nil:
		return fail(res.Err.Error())
	}
	f, err := os.Open(res.HandBack)
	if err != nil {
		return fail("no hand-back file: " + err.Error())
	}
	hb, err := guest.ParseHandBack(f)
	f.Close()
	if err != nil {
		why := err.Error()
		if con.Panic != "" {
			why = "guest kernel panic: " + con.Panic
		} else if con.Booted == 0 {
			why = "the guest never reached /init (" + why + ")"
		}
		return fail(why)
	}
	outc, err := hb.Outcome()
	if err != nil {
		return fail(err.Error())
	}
	r.GuestSeconds, r.Suites = outc.Uptime, outc.Suites
	if e, ok := hb.Files["engine.txt"]; ok {
		r.Engine = strings.Join(strings.Fields(strings.ReplaceAll(strings.TrimSpace(string(e)), "\n", "; ")), " ")
	}
	if art != "" {
		for name, data := range hb.Files {
			if !strings.Contains(name, "/") {
				_ = os.WriteFile(filepath.Join(art, name), data, 0o644)
			}
		}
	}
	if outc.Skipped {
		r.Status, r.Reason = Skipped, outc.Reason
		r.Report = everyClaim(r, ledger.Skipped, outc.Reason)
		return r
	}
	rep, notes, err := reportFrom(outc, dir)
	if err != nil {
		return fail(err.Error())
	}
	r.Report = rep
	r.Status, r.Reason = statusOf(outc, notes)
	if r.Status == NoResult {
		r.ConsoleTail = validUTF8(tail)
	}
	return r
}

// artifactName is a cell's directory name: KERNEL-MODE[-docker-DRIVER].
func artifactName(c Cell) string { return strings.ReplaceAll(c.ID(), "/", "-") }

// statusOf is a booted cell's status from what its suites handed back;
// notes name the suites with no readable report. Such a suite decided
// nothing: its claims would read "-", which a baseline of "-" would call a
// match, so the cell has no result.
func statusOf(o guest.Outcome, notes []string) (status, reason string) {
	switch {
	case len(o.Suites) == 0:
		return NoResult, "the guest ran no suite"
	case len(notes) > 0:
		return NoResult, strings.Join(notes, "; ")
	}
	return Ran, ""
}

// reportFrom loads the guest's Ginkgo reports into one ledger report; notes
// name the suites that ended without one.
func reportFrom(o guest.Outcome, dir string) (ledger.Report, []string, error) {
	var notes []string
	var names []string
	for name := range o.Reports {
		names = append(names, name)
	}
	sort.Strings(names)
	var all []types.Report
	for _, name := range names {
		p := filepath.Join(dir, "report-"+name+".json")
		if err := os.WriteFile(p, o.Reports[name], 0o644); err != nil {
			return ledger.Report{}, nil, err
		}
		suites, err := ledger.LoadGinkgoJSON(p)
		if err != nil {
			notes = append(notes, fmt.Sprintf("suite %s: unreadable report: %v", name, err))
			continue
		}
		// What kept a suite from deciding its claims: it did not run to
		// its end, or its BeforeSuite failed.
		notes = append(notes, ledger.Unfinished(suites)...)
		all = append(all, suites...)
	}
	for _, s := range o.Suites {
		if _, ok := o.Reports[s.Name]; !ok {
			notes = append(notes, fmt.Sprintf("suite %s exited %d without a report%s", s.Name, s.Exit,
				lastLine(o.Logs[s.Name])))
		}
	}
	rep, err := ledger.FromGinkgo(all)
	return rep, notes, err
}

func lastLine(b []byte) string {
	t := qemu.TailText(string(b), 1)
	if t == "" {
		return ""
	}
	return ": " + t
}

func round(f float64) float64 { return float64(int64(f*10+0.5)) / 10 }

// validUTF8 replaces what a console printed that is no UTF-8 (a guest's
// garbled output) with U+FFFD now, so that matrix.json reads back and
// writes again byte for byte (memlab merge): JSON would replace it on
// writing, and write the replacement differently the second time.
func validUTF8(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
