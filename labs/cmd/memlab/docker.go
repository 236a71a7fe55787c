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
	"strings"
	"syscall"
	"time"

	"github.com/memlab/memlab/labs/docker"
	"github.com/memlab/memlab/labs/kernel/cgroup"
	"github.com/memlab/memlab/labs/runner"
)

const dockerUsage = `usage:
  memlab docker cgroup CONTAINER   the container's memory cgroup: directory, driver, limit, usage
  memlab docker image [--image REF] [--force] [--online] | --remove
                                   build the lab image (REF, default ` + docker.DefaultImage + `) unless it is
                                   up to date: FROM scratch over this host's stress and static busybox (no
                                   registry), --online FROM ubuntu:16.04; --force rebuilds; --remove removes
                                   it (only an image memlab built)
  memlab docker sweep              remove memlab containers whose run is gone`

// dockerTimeout bounds a subcommand; imageTimeout building the image, which
// online waits for a registry and the Ubuntu archive.
const (
	dockerTimeout = 5 * time.Minute
	imageTimeout  = 20 * time.Minute
)

func cmdDocker(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: docker needs a subcommand", runner.ErrUsage)
	}
	if len(args) > 1 && isHelp(args[1]) && args[0] != "image" {
		fmt.Println(dockerUsage)
		return nil
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	timeout := dockerTimeout
	if args[0] == "image" {
		timeout = imageTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch args[0] {
	case "cgroup":
		if len(args) != 2 || args[1] == "" || strings.HasPrefix(args[1], "-") {
			return fmt.Errorf("%w: docker cgroup takes one container ID or name", runner.ErrUsage)
		}
		return dockerCgroup(ctx, args[1])
	case "image":
		return dockerImage(ctx, args[1:])
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
	return fmt.Errorf("%w: unknown docker subcommand %q", runner.ErrUsage, args[0])
}

func withEngine(ctx context.Context, f func(*docker.Engine) error) error {
	e, err := docker.Connect(ctx)
	if errors.Is(err, docker.ErrNoEngine) {
		return fmt.Errorf("%w (start it with vagrant/provision.sh)", err)
	}
	if err != nil {
		return err
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

// dockerImage builds, or removes, the lab image.
func dockerImage(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("docker image", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	force := fs.Bool("force", false, "")
	online := fs.Bool("online", false, "")
	remove := fs.Bool("remove", false, "")
	image := fs.String("image", docker.DefaultImage, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Println(dockerUsage)
			return nil
		}
		return fmt.Errorf("%w: docker image: %w", runner.ErrUsage, err)
	}
	if fs.NArg() > 0 || *remove && (*force || *online) {
		return fmt.Errorf("%w: docker image takes --force and --online, or --remove alone", runner.ErrUsage)
	}
	ref := *image
	return withEngine(ctx, func(e *docker.Engine) error {
		if *remove {
			removed, err := e.RemoveImage(ctx, ref)
			if err == nil {
				fmt.Printf("%s: %s\n", ref, map[bool]string{true: "removed", false: "not present"}[removed])
			}
			return err
		}
		recipe := docker.Recipe{Online: *online}
		var log bytes.Buffer
		start := time.Now()
		b, err := e.BuildImage(ctx, ref, recipe, *force, &log)
		if errors.Is(err, docker.ErrImageBuild) {
			// The engine's last words say which step failed and why.
			lines := strings.Split(strings.TrimSpace(log.String()), "\n")
			for _, l := range lines[max(0, len(lines)-20):] {
				if l != "" {
					fmt.Fprintln(os.Stderr, "  "+l)
				}
			}
		}
		if err != nil {
			return err
		}
		if b.Warning != "" {
			fmt.Fprintf(os.Stderr, "memlab: warning: %s\n", b.Warning)
		}
		id, inputs := short(strings.TrimPrefix(b.ID, "sha256:")), short(b.Inputs)
		if !b.Built {
			fmt.Printf("%s is up to date (%s, inputs %s); nothing to do\n", ref, id, inputs)
			return nil
		}
		fmt.Printf("built %s (%s, %s, inputs %s) in %.1fs: %s\n", ref, id, recipe, inputs, time.Since(start).Seconds(), b.Stress)
		return nil
	})
}

// short is an image ID or inputs label cut to 12 hex digits, after
// "online-" for the online recipe's.
func short(s string) string {
	rest, online := strings.CutPrefix(s, "online-")
	rest = rest[:min(len(rest), 12)]
	if online {
		return "online-" + rest
	}
	return rest
}
