package docker

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/prometheus/procfs"
)

// CLI is one docker command-line client on this host.
type CLI struct {
	Path    string // as found, e.g. /usr/local/bin/docker
	Version string // e.g. 28.2.2
}

func (c CLI) String() string { return fmt.Sprintf("CLI %s (%s)", c.Version, c.Path) }

// Rule is the MEM USAGE rule this CLI's version applies.
func (c CLI) Rule() MemUsageRule { return CLIRule(c.Version) }

// cliPlaces are where distributions and Docker's own packages put the
// client; the one first on PATH is tried too.
var cliPlaces = []string{"/usr/bin/docker", "/usr/local/bin/docker"}

// FindCLIs lists the distinct docker clients on this host, the one on PATH
// first. A host may have several (Debian's docker.io next to a newer static
// client); their `docker stats` need not agree.
func FindCLIs(ctx context.Context) []CLI {
	var paths []string
	if p, err := exec.LookPath("docker"); err == nil {
		paths = append(paths, p)
	}
	paths = append(paths, cliPlaces...)
	seen := map[string]bool{}
	var out []CLI
	for _, p := range paths {
		real, err := filepath.EvalSymlinks(p)
		if err != nil || seen[real] {
			continue
		}
		if st, err := os.Stat(real); err != nil || st.Mode()&0o111 == 0 {
			continue
		}
		seen[real] = true
		v, err := cliVersion(ctx, p)
		if err != nil {
			continue
		}
		out = append(out, CLI{Path: p, Version: v})
	}
	return out
}

var cliVersionSyntax = regexp.MustCompile(`Docker version ([^ ,]+)`)

// cliVersion asks `docker --version`, which needs no engine.
func cliVersion(ctx context.Context, path string) (string, error) {
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		return "", err
	}
	m := cliVersionSyntax.FindStringSubmatch(string(out))
	if m == nil {
		return "", fmt.Errorf("%s --version: %q", path, out)
	}
	return m[1], nil
}

// Stats runs `docker stats --no-stream` for one container and reads its
// MEM USAGE / LIMIT and MEM % columns.
func (c CLI) Stats(ctx context.Context, id string) (StatsLine, string, error) {
	cmd := exec.CommandContext(ctx, c.Path, "stats", "--no-stream", "--format", "{{.MemUsage}}|{{.MemPerc}}", id)
	out, err := cmd.CombinedOutput()
	text := strings.TrimSpace(string(out))
	if err != nil {
		return StatsLine{}, text, fmt.Errorf("%s stats: %v: %s", c.Path, err, text)
	}
	l, err := ParseStatsLine(text)
	return l, text, err
}

// Process is one process of a container as /proc shows it from the host.
type Process struct {
	PID        int    // host PID
	NSPID      int    // the PID it has inside the container's PID namespace
	Comm       string // what top shows as COMMAND
	Resident   int64  // VmRSS: top's RES
	Anon       int64  // RssAnon: its private memory, charged to its cgroup
	File       int64  // RssFile: mapped file pages, charged to whoever read them first
	PageTables int64  // VmPTE: its page tables, kernel memory charged to its cgroup
	Cmdline    string
}

// ReadProcess reads a host process's memory and names.
func ReadProcess(pid int) (Process, error) {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return Process{}, err
	}
	st, err := p.NewStatus()
	if err != nil {
		return Process{}, err
	}
	pr := Process{
		PID: pid, Comm: st.Name, Resident: int64(st.VmRSS), Anon: int64(st.RssAnon), File: int64(st.RssFile),
		PageTables: int64(st.VmPTE),
	}
	pr.NSPID = pid
	if n := len(st.NSpids); n > 0 {
		pr.NSPID = int(st.NSpids[n-1])
	}
	if args, err := p.CmdLine(); err == nil {
		pr.Cmdline = strings.Join(args, " ")
	}
	return pr, nil
}

func (p Process) String() string {
	return fmt.Sprintf("%s %d (PID %d inside)", p.Comm, p.PID, p.NSPID)
}
