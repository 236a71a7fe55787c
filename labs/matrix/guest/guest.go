// Package guest is the inside of a matrix cell: the initramfs a kernel boots
// (busybox, stress and its libraries, the suite binaries, an /init that
// mounts one cgroup mode and runs the suites), the kernel command line that
// picks the mode, and the hand-back stream /init writes to the second serial
// port, parsed on the host.
package guest

import (
	_ "embed"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/memlab/memlab/labs/rootfs"
	"github.com/memlab/memlab/labs/shquote"
)

// The cgroup modes a cell can boot into.
const (
	V1 = "v1" // a cgroup (v1) hierarchy with the memory controller at /sys/fs/cgroup/memory
	V2 = "v2" // cgroup2 at /sys/fs/cgroup with memory in cgroup.controllers
)

// Modes is every mode, in table order.
var Modes = []string{V1, V2}

//go:embed init.sh
var initScript []byte

//go:embed handback.sh
var handBackScript []byte

// HandBackPath is where every memlab guest keeps the script its /init
// sources last: /out back to the host over ttyS1, then power off.
const HandBackPath = "/usr/lib/memlab/handback.sh"

// AddHandBack puts the hand-back script in a guest's file set, so that any
// /init (the suites' or the fixture capture's) ends the same way and the
// host reads it with ParseHandBack.
func AddHandBack(f *rootfs.FS) error {
	if err := f.Dir("/usr/lib/memlab", 0o755); err != nil {
		return err
	}
	return f.Bytes(HandBackPath, handBackScript, 0o755)
}

// Suite is a Ginkgo test binary built for the guest.
type Suite struct {
	Name   string // the report is /out/NAME.json
	Binary string // host path
}

// Config is what goes into the initramfs.
type Config struct {
	Suites       []Suite
	LabelFilter  string        // --ginkgo.label-filter for every suite
	SuiteTimeout time.Duration // --ginkgo.timeout; the guest kills a suite 20 s later
	Busybox      string        // default: busybox on PATH (must be static)
	Stress       string        // default: stress on PATH
}

// Cmdline is the kernel command line for a cell: the console on ttyS0, a
// panic reboots (and qemu -no-reboot then exits), and the cgroup mode.
func Cmdline(mode string) string {
	c := "console=ttyS0 panic=-1 quiet loglevel=4 tsc=reliable mitigations=off memlab.mode=" + mode
	if mode == V2 {
		c += " cgroup_no_v1=all"
	}
	return c
}

// Build writes the initramfs (newc cpio) to file. It is not compressed:
// under TCG the guest's gunzip costs more boot time than qemu's loading of
// a larger file, and building it is 20 times faster.
func Build(cfg Config, file string) error {
	f, err := Assemble(cfg)
	if err != nil {
		return err
	}
	return f.WriteCpioFile(file, false)
}

// Assemble lays out the initramfs without writing it: the lab's root
// filesystem (busybox, stress; the lab image's too) with /init, its
// configuration and the suites.
func Assemble(cfg Config) (*rootfs.FS, error) {
	f, err := rootfs.Lab(rootfs.Tools{Busybox: cfg.Busybox, Stress: cfg.Stress})
	if err != nil {
		return nil, err
	}
	for _, d := range []string{"/out", "/run", "/suites", "/etc/memlab"} {
		if err := f.Dir(d, 0o755); err != nil {
			return nil, err
		}
	}
	if err := f.Bytes("/init", initScript, 0o755); err != nil {
		return nil, err
	}
	if err := AddHandBack(f); err != nil {
		return nil, err
	}
	if err := f.Bytes("/usr/lib/memlab/runsuites.sh", runSuitesScript, 0o644); err != nil {
		return nil, err
	}
	for name, text := range map[string]string{
		"/etc/hostname":          "memlab-guest\n",
		"/etc/memlab/guest.conf": guestConf(cfg),
	} {
		if err := f.Bytes(name, []byte(text), 0o644); err != nil {
			return nil, err
		}
	}
	if err := checkSuiteNames(cfg.Suites); err != nil {
		return nil, err
	}
	for _, s := range cfg.Suites {
		if err := f.Copy("/suites/"+s.Name+".test", s.Binary); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// ModulesDir is where /init looks for the modules to load, in name order.
const ModulesDir = "/lib/modules/memlab"

// AppendModules writes out: the initramfs base followed by a second cpio
// archive holding the given module files in ModulesDir, numbered in the
// order given, which is the order /init loads them in (a module before the
// modules that use its symbols). The kernel unpacks concatenated archives
// in turn. Every kernel shares the base; only a kernel with modules to load
// gets its own copy.
func AppendModules(base string, modules []string, out string) error {
	f := rootfs.New()
	for i, m := range modules {
		if err := f.Copy(fmt.Sprintf("%s/%02d-%s", ModulesDir, i+1, filepath.Base(m)), m); err != nil {
			return err
		}
	}
	in, err := os.Open(base)
	if err != nil {
		return err
	}
	defer in.Close()
	w, err := os.Create(out)
	if err != nil {
		return err
	}
	_, err = io.Copy(w, in)
	if err == nil {
		_, err = f.WriteCpio(w)
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(out)
	}
	return err
}

func guestConf(cfg Config) string {
	t := cfg.SuiteTimeout
	if t <= 0 {
		t = 5 * time.Minute
	}
	return fmt.Sprintf("# written by labs/matrix/guest\nSUITE_TIMEOUT=%d\nLABEL_FILTER=%s\n",
		int(t.Seconds()+0.5), shquote.Quote(cfg.LabelFilter))
}

// checkSuiteNames: each suite's name becomes a file name and a report's
// name in the guest, so it must be unique and plain.
func checkSuiteNames(suites []Suite) error {
	seen := map[string]bool{}
	for _, s := range suites {
		if !validName(s.Name) || seen[s.Name] {
			return fmt.Errorf("suite name %q: want a unique name of letters, digits, '-', '_'", s.Name)
		}
		seen[s.Name] = true
	}
	return nil
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '-' && r != '_' {
			return false
		}
	}
	return true
}
