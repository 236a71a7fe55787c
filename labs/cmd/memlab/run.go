package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	units "github.com/docker/go-units"

	"github.com/memlab/memlab/labs/kernel/cgroup"
	"github.com/memlab/memlab/labs/report/atomicfile"
	"github.com/memlab/memlab/labs/runner"
)

const runUsage = `usage: memlab run [flags] -- CMD [ARGS...]
  --memory 100m   memory limit, as docker run -m reads it (4m up to 4 EiB)
  --ns LIST       namespaces for the workload: uts,mnt,pid,ipc, or none (default uts,mnt,pid)
  --attach ORDER  before-exec (default: the waiting child is moved into the group, so
                  everything it runs is confined), after-start (the article's order: start,
                  then write tasks), after-workload (the article's order, the write held
                  until the workload runs: see what escapes when the child is quicker),
                  thread-before-exec (v1: write tasks while the child waits, to see that
                  it moves one thread) or clone-into (v2, kernel 5.7+: the child is born
                  in the group)
  --name NAME     group name prefix under the memlab parent (default run)
  --result FILE   write the result as JSON to FILE (its directory must exist)
Runs CMD in a fresh memory cgroup and exits with CMD's status (128+n when signal n
ended it), after a line "memlab: workload exited with status N" or "... killed by
signal". memlab's own mistakes print one "memlab:" line and exit with a status from
the README's table; needs root.`

func cmdRun(args []string) (int, error) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	memory := fs.String("memory", "100m", "memory limit, as docker run -m reads it")
	ns := fs.String("ns", runner.DefaultNamespaces, "namespaces for the child: uts,mnt,pid,ipc or none")
	attach := fs.String("attach", string(runner.BeforeExec), "before-exec (the waiting child is moved through cgroup.procs: everything it runs is confined, its own start-up is not charged), after-start (the article's order: start, then write tasks), after-workload (the article's order, the write held until the workload runs), thread-before-exec (v1: write tasks while the child waits, to see that it moves one thread) or clone-into (v2, kernel 5.7+: the child is born in the group, its Go runtime charged to it)")
	name := fs.String("name", "run", "group name prefix under the memlab parent")
	resultFile := fs.String("result", "", "write the result as JSON to this file")
	if err := fs.Parse(args); err != nil {
		return 0, fmt.Errorf("%w: run: %w", runner.ErrUsage, err)
	}
	limit, err := cgroup.ParseSize(*memory)
	if err != nil {
		return 0, err
	}
	flags, err := runner.ParseNamespaces(*ns)
	if err != nil {
		return 0, err
	}
	order, err := runner.ParseAttach(*attach)
	if err != nil {
		return 0, err
	}
	if err := cgroup.ValidateName(*name); err != nil {
		return 0, err
	}
	if fs.NArg() == 0 {
		return 0, fmt.Errorf("%w: run: no command given (memlab run --memory 100m -- CMD ARGS...)", runner.ErrUsage)
	}
	// The command goes after "--": a word before it stops the flags, and
	// those after it would silently become the command's.
	if dash := len(args) - fs.NArg() - 1; dash < 0 || args[dash] != "--" {
		return 0, fmt.Errorf("%w: run: %q: the command goes after -- (memlab run [flags] -- CMD ARGS...)", runner.ErrUsage, fs.Arg(0))
	}
	// A run whose result has nowhere to go is not worth starting.
	if *resultFile != "" {
		if err := atomicfile.Writable(*resultFile); err != nil {
			return 0, fmt.Errorf("--result %s: %w: %w", *resultFile, errCannotWrite, err)
		}
	}
	layout, err := labMachine()
	if err != nil {
		return 0, err
	}

	ctx := context.Background()
	r, err := runner.Start(ctx, runner.Options{
		Layout: layout, Name: *name, Limit: limit, Namespaces: flags, Attach: order,
		Command: fs.Args(), Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
	})
	if err != nil {
		return 0, err
	}
	defer func() {
		if p := recover(); p != nil {
			r.Kill()
			_, _ = r.Wait()
			panic(p)
		}
	}()
	say("cgroup %s (%s), limit %d bytes (%s), attach %s", r.Group.Name, layout, limit, *memory, order)
	say("child: pid %d as it sees itself, host pid %d, hostname %q", r.Child.PID, r.ChildPID, r.Child.Hostname)

	// Ctrl-C reaches the workload through the child; a second one kills it.
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		n := 0
		for s := range signals {
			if n++; n > 1 {
				r.Kill()
				continue
			}
			_ = r.Signal(s)
		}
	}()
	res, err := r.Wait()
	signal.Stop(signals)
	describe(res)
	if *resultFile != "" {
		if werr := writeResult(*resultFile, res); werr != nil {
			return 0, fmt.Errorf("%w (the workload's status was %d)", werr, res.ExitCode)
		}
	}
	if err != nil {
		return 0, err
	}
	say("removed cgroup %s", res.Group)
	return res.ExitCode, nil
}

// writeResult puts the result in place whole or not at all.
func writeResult(path string, res runner.Result) error {
	b, err := json.MarshalIndent(res, "", "  ")
	if err == nil {
		err = atomicfile.WriteFile(path, append(b, '\n'), 0o644)
	}
	if err != nil {
		return fmt.Errorf("--result %s: %w: %w", path, errCannotWrite, err)
	}
	return nil
}

func describe(res runner.Result) {
	switch {
	case res.ChildError != "":
		say("%s", res.ChildError)
	case res.Signal != 0:
		say("workload killed by signal %d (%s)", res.Signal, syscall.Signal(res.Signal))
	default:
		say("workload exited with status %d", res.ExitCode)
	}
	switch {
	case !res.OOMKnown:
		say("this kernel does not count OOM kills in %s (oom_kill arrived in 4.13)", res.EventsFile)
	case res.OOMKills == 0:
		say("the kernel OOM-killed nothing in the group (%s oom_kill 0)", res.EventsFile)
	default:
		var who []string
		for _, v := range res.Victims {
			who = append(who, fmt.Sprintf("%s pid %d", v.Task, v.PID))
		}
		detail := ""
		if len(who) > 0 {
			detail = ": " + strings.Join(who, ", ")
		}
		say("the kernel OOM-killed %d process(es) in the group (%s oom_kill %d)%s", res.OOMKills, res.EventsFile, res.OOMKills, detail)
	}
	if res.FootprintBeforeExec >= 0 {
		say("the group held %d bytes (%s) as the workload started: memlab's own footprint in it (%s)",
			res.FootprintBeforeExec, units.BytesSize(float64(res.FootprintBeforeExec)), res.UsageFile)
	}
	if res.ChildError == "" {
		say("oom_score_adj: the workload's %d (inherited), memlab's child's %d", res.WorkloadOOMScoreAdj, res.ChildOOMScoreAdj)
	}
	if res.OOMProtectError != "" {
		say("the OOM killer could pick memlab's own child: %s", res.OOMProtectError)
	}
	if res.Peak >= 0 {
		say("peak %d of limit %d bytes (%s), headroom %d bytes (%s)", res.Peak, res.Limit,
			units.BytesSize(float64(res.Peak)), res.Headroom, units.BytesSize(float64(res.Headroom)))
	} else {
		say("this kernel has no %s, so the peak is unknown", res.PeakFile)
	}
}

func say(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "memlab: "+format+"\n", a...)
}

// labMachine checks that this process can drive the memory controller and
// sweeps what killed runs left behind.
func labMachine() (cgroup.Layout, error) {
	if os.Geteuid() != 0 {
		return cgroup.Layout{}, errNotRoot
	}
	layout, err := cgroup.Detect()
	if err != nil {
		return layout, err
	}
	if swept, err := cgroup.Sweep(context.Background(), layout); err != nil {
		say("sweeping leftovers: %v", err)
	} else if len(swept) > 0 {
		say("removed %d group(s) a killed run left behind: %s", len(swept), strings.Join(swept, " "))
	}
	return layout, nil
}
