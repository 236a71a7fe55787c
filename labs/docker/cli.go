package docker

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
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
		return StatsLine{}, text, fmt.Errorf("%s stats: %w: %s", c.Path, err, text)
	}
	l, err := ParseStatsLine(text)
	return l, text, err
}
