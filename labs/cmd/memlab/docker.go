package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/memlab/memlab/labs/docker"
	"github.com/memlab/memlab/labs/kernel/cgroup"
	"github.com/memlab/memlab/labs/runner"
)

const dockerUsage = `usage:
  memlab docker cgroup CONTAINER   the container's memory cgroup: directory, driver, limit, usage
  memlab docker image              build the lab image (` + docker.DefaultImage + `) if it is missing
  memlab docker sweep              remove memlab containers whose run is gone`

// dockerTimeout bounds a subcommand; building the image takes the longest.
const dockerTimeout = 5 * time.Minute

func cmdDocker(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: docker needs a subcommand\n%s", runner.ErrUsage, dockerUsage)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, dockerTimeout)
	defer cancel()
	switch args[0] {
	case "cgroup":
		if len(args) != 2 || args[1] == "" || strings.HasPrefix(args[1], "-") {
			return fmt.Errorf("%w: docker cgroup takes one container ID or name\n%s", runner.ErrUsage, dockerUsage)
		}
		return dockerCgroup(ctx, args[1])
	case "image":
		if len(args) != 1 {
			return fmt.Errorf("%w: docker image takes no arguments", runner.ErrUsage)
		}
		return withEngine(ctx, func(e *docker.Engine) error {
			built, err := e.EnsureImage(ctx, docker.Image())
			if err != nil {
				return err
			}
			fmt.Printf("%s: %s\n", docker.Image(), map[bool]string{true: "built", false: "present"}[built])
			return nil
		})
	case "sweep":
		if len(args) != 1 {
			return fmt.Errorf("%w: docker sweep takes no arguments", runner.ErrUsage)
		}
		return withEngine(ctx, func(e *docker.Engine) error {
			swept, err := e.Sweep(ctx)
			for _, s := range swept {
				fmt.Printf("%s %s (%s): %s\n", map[bool]string{true: "removed", false: "left"}[s.Removed], s.Name, s.ID[:12], s.Why)
			}
			return err
		})
	case "-h", "--help", "help":
		fmt.Println(dockerUsage)
		return nil
	}
	return fmt.Errorf("%w: unknown docker subcommand %q\n%s", runner.ErrUsage, args[0], dockerUsage)
}

func withEngine(ctx context.Context, f func(*docker.Engine) error) error {
	e, err := docker.Connect(ctx)
	if err != nil {
		return fmt.Errorf("%w (start it with vagrant/provision.sh)", err)
	}
	defer e.Close()
	return f(e)
}

// dockerCgroup is the article's steps 3 and 4: find the container's memory
// cgroup by its ID, then read its limit and usage.
func dockerCgroup(ctx context.Context, ref string) error {
	l, err := cgroup.Detect()
	if err != nil {
		return err
	}
	return withEngine(ctx, func(e *docker.Engine) error {
		c, err := e.Lookup(ctx, ref)
		if err != nil {
			return err
		}
		loc, err := c.Cgroup(l)
		if err != nil {
			return err
		}
		g := loc.Group(l)
		fmt.Printf("%-15s %s (%s), %s, init PID %d\n", "container", c.ID, c.Name, c.Status, c.InitPID)
		fmt.Printf("%-15s %s\n", "docker", e)
		fmt.Printf("%-15s %s\n", "memory cgroup", loc.Dir)
		fmt.Printf("%-15s %s (it names the directory %s)\n", "cgroup driver", loc.Driver, strings.Replace(loc.Rel, c.ID, "<ID>", 1))
		fmt.Printf("%-15s /proc/%d/cgroup, and a search for the ID under %s: %s\n", "found by", c.InitPID, l.MemoryRoot, strings.Join(loc.Matches, " "))
		for _, f := range []string{g.Files.Limit, g.Files.Usage} {
			raw, err := g.ReadFile(f)
			if err != nil {
				return err
			}
			v, err := cgroup.ParseValue(raw)
			if err != nil {
				return fmt.Errorf("%s/%s: %w", loc.Dir, f, err)
			}
			human := "unlimited"
			if v != cgroup.Unlimited {
				human = docker.HumanSize(float64(v))
			}
			fmt.Printf("%-15s %s (%s)\n", f, raw, human)
		}
		return nil
	})
}
