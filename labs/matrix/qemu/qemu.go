// Package qemu boots one guest: a kernel and an initramfs (or a root disk)
// under qemu-system-x86_64, its console on the first serial port and its
// hand-back on the second, each written to a file. Every guest has a hard
// timeout, and its qemu process dies with the context, with the host
// process (PR_SET_PDEATHSIG) and on timeout.
package qemu

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// DefaultBinary is the emulator.
const DefaultBinary = "qemu-system-x86_64"

// Guest is one boot.
type Guest struct {
	Binary   string // default DefaultBinary
	Kernel   string
	Initrd   string // "" boots without one (the root is then on a disk)
	Disks    []Disk // in this order: the first NVMe disk is nvme0n1, the first virtio one vda
	Append   string // kernel command line
	MemoryMB int    // default 768
	Accel    string // "kvm" or "tcg"; "" asks DetectAccel
	Timeout  time.Duration
	Dir      string // console.log and handback.txt are written here
}

// Disk is a raw disk image the guest sees.
type Disk struct {
	File string
	// Snapshot: the guest writes to a temporary overlay (in the guest's Dir,
	// so it goes with it), never to File. Otherwise the disk is read-only.
	Snapshot bool
	// Bus is "nvme" (default) or "virtio": the one the kernel has built in.
	Bus string
}

// Buses a Disk can be on.
const (
	NVMe   = "nvme"
	Virtio = "virtio"
)

// FirstDisk is the device the kernel names a guest's first disk on bus.
func FirstDisk(bus string) string {
	if bus == Virtio {
		return "/dev/vda"
	}
	return "/dev/nvme0n1"
}

// Result is how a boot ended.
type Result struct {
	Console  string        // path of the console log (ttyS0)
	HandBack string        // path of the hand-back stream (ttyS1)
	Accel    string        // the accelerator used
	Wall     time.Duration // qemu start to exit
	TimedOut bool          // the hard timeout killed it
	Err      error         // qemu did not start, exited non-zero, or was cancelled
	Stderr   string        // qemu's own messages
}

// ErrTimeout is the hard timeout killing a guest.
var ErrTimeout = errors.New("guest timed out")

// Args is the qemu command line for a guest.
func (g Guest) Args() []string {
	mem := g.MemoryMB
	if mem <= 0 {
		mem = 768
	}
	accel := g.Accel
	cpu := "max"
	if accel == "kvm" {
		cpu = "host"
	}
	args := []string{
		"-machine", "q35,accel=" + accel, "-cpu", cpu, "-smp", "1", "-m", fmt.Sprintf("%dM", mem),
		"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-kernel", g.Kernel,
	}
	if g.Initrd != "" {
		args = append(args, "-initrd", g.Initrd)
	}
	for i, d := range g.Disks {
		id := fmt.Sprintf("disk%d", i)
		opts := "file=" + optEscape(d.File) + ",format=raw,if=none,id=" + id
		if d.Snapshot {
			opts += ",snapshot=on"
		} else {
			opts += ",readonly=on"
		}
		dev := fmt.Sprintf("nvme,drive=%s,serial=memlab%d", id, i)
		if d.Bus == Virtio {
			dev = "virtio-blk-pci,drive=" + id
		}
		args = append(args, "-drive", opts, "-device", dev)
	}
	return append(args, "-append", g.Append,
		// A hardware RNG: a guest has no disk, network or input whose
		// interrupts feed the kernel's entropy pool, and before 5.4
		// getrandom(2) waits for that pool (minutes on 4.4). Kernels with
		// the driver built in (or loaded from the initramfs) use it at once.
		"-device", "virtio-rng-pci",
		"-chardev", "file,id=console,path="+optEscape(filepath.Join(g.Dir, "console.log")),
		"-serial", "chardev:console",
		"-chardev", "file,id=handback,path="+optEscape(filepath.Join(g.Dir, "handback.txt")),
		"-serial", "chardev:handback",
	)
}

// optEscape doubles commas, qemu's escape inside an option value.
func optEscape(s string) string { return strings.ReplaceAll(s, ",", ",,") }

// Run boots the guest and waits until it powers off, panics (panic=-1 and
// -no-reboot make qemu exit), times out, or ctx ends. The qemu process is
// gone when Run returns.
func Run(ctx context.Context, g Guest) Result {
	if g.Binary == "" {
		g.Binary = DefaultBinary
	}
	if g.Accel == "" {
		g.Accel, _ = DetectAccel()
	}
	res := Result{
		Console:  filepath.Join(g.Dir, "console.log"),
		HandBack: filepath.Join(g.Dir, "handback.txt"),
		Accel:    g.Accel,
	}
	tctx := ctx
	if g.Timeout > 0 {
		var cancel context.CancelFunc
		tctx, cancel = context.WithTimeout(ctx, g.Timeout)
		defer cancel()
	}
	cmd := exec.CommandContext(tctx, g.Binary, g.Args()...)
	cmd.Dir = g.Dir
	// A snapshot disk's overlay is a temporary file qemu makes in TMPDIR:
	// in the guest's Dir, it goes with it even when qemu is killed.
	cmd.Env = append(os.Environ(), "TMPDIR="+g.Dir)
	// Its own process group, killed whole; and killed if this process dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	start := time.Now()
	err := cmd.Run()
	res.Wall = time.Since(start)
	res.Stderr = strings.TrimSpace(stderr.String())
	switch {
	case ctx.Err() != nil:
		res.Err = ctx.Err()
	case tctx.Err() != nil:
		res.TimedOut = true
		res.Err = fmt.Errorf("%w after %s", ErrTimeout, g.Timeout)
	case err != nil:
		msg := res.Stderr
		if msg == "" {
			msg = "no message"
		}
		res.Err = fmt.Errorf("%s: %w: %s", g.Binary, err, msg)
	}
	return res
}

// DetectAccel picks kvm when /dev/kvm opens and the CPU shows vmx or svm
// (a /dev/kvm without them, as in some sandboxes, hangs guests), tcg
// otherwise; the second value says why.
func DetectAccel() (string, string) {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return "tcg", "no usable /dev/kvm"
	}
	f.Close()
	if !cpuFlag("vmx") && !cpuFlag("svm") {
		return "tcg", "/dev/kvm opens but the CPU shows no vmx/svm"
	}
	return "kvm", "/dev/kvm"
}

func cpuFlag(flag string) bool {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(name) == "flags" {
			return slices.Contains(strings.Fields(val), flag)
		}
	}
	return false
}

// Tail is the last n lines of a file, for a cell's "no result" evidence.
func Tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return TailText(string(b), n)
}

// TailText is the last n non-empty lines of text, carriage returns removed.
func TailText(text string, n int) string {
	text = strings.ReplaceAll(text, "\r", "")
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	var kept []string
	for i := len(lines) - 1; i >= 0 && len(kept) < n; i-- {
		if strings.TrimSpace(lines[i]) != "" {
			kept = append(kept, lines[i])
		}
	}
	for i, j := 0, len(kept)-1; i < j; i, j = i+1, j-1 {
		kept[i], kept[j] = kept[j], kept[i]
	}
	return strings.Join(kept, "\n")
}
