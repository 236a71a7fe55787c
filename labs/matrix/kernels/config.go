package kernels

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
)

// Need is a kernel option the guest relies on.
type Need struct {
	Option string // CONFIG_ name without the prefix
	Why    string
	Mode   string // "" for every cell, "v1" or "v2" for that cgroup mode only
	// IfPresent: only kernels whose config mentions the option have it
	// (CONFIG_MEMCG_V1 appeared in 6.11; before it memcg v1 was always built).
	IfPresent bool
}

// Needs is what the matrix guest needs built in: it loads no modules, and
// hands its results back over the second serial port (Debian's cloud
// kernels have no 9p at all).
var Needs = []Need{
	{Option: "BLK_DEV_INITRD", Why: "initramfs"},
	{Option: "DEVTMPFS", Why: "/dev"},
	{Option: "PROC_FS", Why: "/proc (the runner re-executes /proc/self/exe)"},
	{Option: "TMPFS", Why: "tmpfs at /sys/fs/cgroup"},
	{Option: "BINFMT_SCRIPT", Why: "/init is a shell script"},
	{Option: "SERIAL_8250", Why: "ttyS0 console, ttyS1 hand-back"},
	{Option: "SERIAL_8250_CONSOLE", Why: "console=ttyS0"},
	{Option: "CGROUPS", Why: "cgroups"},
	{Option: "MEMCG", Why: "the memory controller"},
	{Option: "MEMCG_V1", Why: "the memory controller on cgroup v1", Mode: "v1", IfPresent: true},
	{Option: "NAMESPACES", Why: "namespaces"},
	{Option: "UTS_NS", Why: "the runner's UTS namespace"},
	{Option: "PID_NS", Why: "the runner's PID namespace"},
}

// Finding is what a kernel's config says about one need.
type Finding struct {
	Option string `json:"option"`
	Value  string `json:"value"` // y, m, n
	Why    string `json:"why"`
	Mode   string `json:"mode,omitempty"`
}

func (f Finding) String() string {
	what := "not built"
	if f.Value == "m" {
		what = "a module (the guest loads none)"
	}
	s := fmt.Sprintf("CONFIG_%s is %s; needed for %s", f.Option, what, f.Why)
	if f.Mode != "" {
		s += " in " + f.Mode + " cells"
	}
	return s
}

// ParseConfig reads a kernel .config into option → value (y, m, a string);
// "# CONFIG_X is not set" reads as "n".
func ParseConfig(r io.Reader) (map[string]string, error) {
	cfg := map[string]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "# CONFIG_"); ok {
			if name, ok := strings.CutSuffix(rest, " is not set"); ok {
				cfg[name] = "n"
			}
			continue
		}
		if rest, ok := strings.CutPrefix(line, "CONFIG_"); ok {
			if name, val, ok := strings.Cut(rest, "="); ok {
				cfg[name] = strings.Trim(val, `"`)
			}
		}
	}
	return cfg, sc.Err()
}

// Check lists the needs a config does not meet as built-in options.
func Check(cfg map[string]string) []Finding {
	var out []Finding
	for _, n := range Needs {
		v, present := cfg[n.Option]
		if !present {
			if n.IfPresent {
				continue
			}
			v = "n"
		}
		if v != "y" {
			out = append(out, Finding{Option: n.Option, Value: v, Why: n.Why, Mode: n.Mode})
		}
	}
	return out
}

// CheckFile is Check over a config file.
func CheckFile(path string) ([]Finding, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cfg, err := ParseConfig(f)
	if err != nil {
		return nil, err
	}
	return Check(cfg), nil
}
