// Package capture records parser fixtures from real kernels: it boots a
// kernel under qemu in one cgroup mode, has the guest OOM-kill stress in a
// limited memory group, and saves what the kernel wrote (the group's
// interface files, /proc/PID/cgroup of a member, the OOM killer's kernel
// log records) into the testdata of the package that parses each:
// labs/kernel/cgroup, labs/kernel/proc and labs/kernel/kmsg. It runs only on
// demand (TestCapture -capture), never in make test: the files it saves are
// what the unit tests read.
package capture

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/memlab/memlab/labs/matrix/guest"
	"github.com/memlab/memlab/labs/matrix/kernels"
	"github.com/memlab/memlab/labs/matrix/qemu"
	"github.com/memlab/memlab/labs/rootfs"
)

// What the guest does, named once: the guest reads them from its
// /etc/memlab/capture.conf, the tests that read its files from here.
const (
	Group = "/memlab/capture" // the group, as /proc/PID/cgroup and the kernel log name it
	Limit = 100 << 20         // its limit in bytes
	// Hog runs in the group: the article's G6, one worker past the limit.
	Hog = "stress -v --vm 1 --vm-bytes 101m --vm-hang 0 --timeout 60s"
)

// Packages are the parser packages (directories under labs/kernel) the
// guest leaves files for, one folder of /out each.
var Packages = []string{"cgroup", "kmsg", "proc"}

//go:embed init.sh
var initScript []byte

// ErrSkipped is a mode the kernel cannot mount (no cgroup2 on 4.4, no v1
// memory controller on 6.12): nothing to capture, and not a failure.
var ErrSkipped = errors.New("the kernel cannot run this mode")

// Initramfs writes the capture guest's initramfs: the lab's root
// filesystem (busybox, stress) with this package's /init and its settings.
func Initramfs(file string) error {
	f, err := rootfs.Lab(rootfs.Tools{})
	if err != nil {
		return err
	}
	if err := f.Bytes("/init", initScript, 0o755); err != nil {
		return err
	}
	if err := guest.AddHandBack(f); err != nil {
		return err
	}
	conf := fmt.Sprintf("# written by labs/matrix/capture\nGROUP=%s\nLIMIT=%d\nHOG='%s'\n", Group, Limit, Hog)
	if err := f.Bytes("/etc/memlab/capture.conf", []byte(conf), 0o644); err != nil {
		return err
	}
	return f.WriteCpioFile(file, false)
}

// Boot runs one kernel in one mode (guest.V1 or guest.V2) with the capture
// initramfs and returns what the guest handed back. The guest is gone when
// Boot returns, timeout or not.
func Boot(ctx context.Context, k kernels.Kernel, mode, initrd string, timeout time.Duration) (guest.HandBack, error) {
	dir, err := os.MkdirTemp("", "memlab-capture-")
	if err != nil {
		return guest.HandBack{}, err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	res := qemu.Run(ctx, qemu.Guest{Kernel: k.Image, Initrd: initrd, Append: guest.Cmdline(mode), Timeout: timeout, Dir: dir})
	if res.Err != nil {
		return guest.HandBack{}, fmt.Errorf("%s %s: %w\n%s", k.Name, mode, res.Err, qemu.Tail(res.Console, 20))
	}
	stream, err := os.ReadFile(res.HandBack)
	if err != nil {
		return guest.HandBack{}, err
	}
	hb, err := guest.ParseHandBack(bytes.NewReader(stream))
	if err != nil {
		return hb, fmt.Errorf("%s %s: %w\n%s", k.Name, mode, err, qemu.Tail(res.Console, 20))
	}
	return hb, nil
}

// Fixture is one kernel and mode's capture.
type Fixture struct {
	Mode    string            // v1 or v2
	Release string            // the guest's uname -r
	Files   map[string][]byte // "PACKAGE/..." as the guest left them in /out
}

// Name is the testdata folder: MODE-RELEASE, e.g. v2-6.1.0-50-cloud-amd64.
func (f Fixture) Name() string { return f.Mode + "-" + f.Release }

var releaseSyntax = regexp.MustCompile(`^[0-9][A-Za-z0-9._+~-]*$`)

// FromHandBack checks that a guest saw stress OOM-killed in its group and
// logged it, and returns its files; ErrSkipped when the mode was not there.
func FromHandBack(hb guest.HandBack) (Fixture, error) {
	f := Fixture{
		Mode:    strings.TrimSpace(string(hb.Files["mode"])),
		Release: strings.TrimSpace(string(hb.Files["release"])),
		Files:   map[string][]byte{},
	}
	status := strings.TrimSpace(string(hb.Files["status"]))
	switch {
	case strings.HasPrefix(status, "skip "):
		return f, fmt.Errorf("%w: %s", ErrSkipped, strings.TrimPrefix(status, "skip "))
	case status != "ok":
		return f, fmt.Errorf("the guest says %q", status)
	case f.Mode != guest.V1 && f.Mode != guest.V2:
		return f, fmt.Errorf("the guest names mode %q", f.Mode)
	case !releaseSyntax.MatchString(f.Release):
		return f, fmt.Errorf("the guest names release %q", f.Release)
	}
	for name, data := range hb.Files {
		pkg, _, ok := strings.Cut(name, "/")
		if ok && slices.Contains(Packages, pkg) {
			f.Files[name] = data
		}
	}
	if !bytes.Contains(f.Files["kmsg/kmsg"], []byte("invoked oom-killer")) {
		return f, errors.New("the kernel log the guest handed back holds no OOM kill")
	}
	if !bytes.Contains(f.Files["kmsg/stress.out"], []byte("got signal 9")) {
		return f, errors.New("stress's output does not say its worker got signal 9")
	}
	for _, need := range []string{"cgroup/capture.txt", "cgroup/memory.stat", "cgroup/mountinfo", "cgroup/" + eventsFile(f.Mode)} {
		if _, ok := f.Files[need]; !ok {
			return f, fmt.Errorf("the guest handed back no %s", need)
		}
	}
	return f, nil
}

func eventsFile(mode string) string {
	if mode == guest.V2 {
		return "memory.events"
	}
	return "memory.oom_control"
}

// Save writes the fixture into kernelDir/PACKAGE/testdata/NAME (kernelDir
// is labs/kernel), replacing an earlier capture of the same name, and
// returns the folders it wrote.
func (f Fixture) Save(kernelDir string) ([]string, error) {
	var dirs []string
	for _, pkg := range Packages {
		dir := filepath.Join(kernelDir, pkg, "testdata", f.Name())
		if err := os.RemoveAll(dir); err != nil {
			return dirs, err
		}
		dirs = append(dirs, dir)
	}
	for _, name := range slices.Sorted(maps.Keys(f.Files)) {
		pkg, rel, _ := strings.Cut(name, "/")
		rel = path.Clean(rel)
		if rel == "." || strings.HasPrefix(rel, "../") || path.IsAbs(rel) {
			return dirs, fmt.Errorf("the guest handed back %q", name)
		}
		file := filepath.Join(kernelDir, pkg, "testdata", f.Name(), filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			return dirs, err
		}
		if err := os.WriteFile(file, f.Files[name], 0o644); err != nil {
			return dirs, err
		}
	}
	return dirs, nil
}
