// Package sweep removes everything killed memlab runs left behind, and
// only that: every kind of leftover is named after the run that made it
// (proc.RunID, PID and start time), and is removed only once that run is
// gone. What a live run owns, even one whose PID was reused, stays.
//
//   - memory cgroups under the lab parent, with any process still in them
//     (labs/kernel/cgroup Sweep);
//   - the grader's confinement groups on the cgroup2 hierarchy, with any
//     process still in them (labs/grade/supervise SweepGroups);
//   - lab containers, labelled with their run (labs/docker Sweep), when a
//     Docker engine answers;
//   - temp directories: the kernel matrix's work directory, make labs'
//     build directory and the grader's report directory (labs/rundir).
//
// memlab makes no mount outside a namespace of its own (the runner's
// /proc is in the child's mount namespace, which dies with it), so there
// is no mount to sweep.
package sweep

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/memlab/memlab/labs/docker"
	"github.com/memlab/memlab/labs/grade/supervise"
	"github.com/memlab/memlab/labs/kernel/cgroup"
	"github.com/memlab/memlab/labs/rundir"
)

// engineWait bounds the look at the Docker engine: a sweep must not hang
// on an engine that does not answer.
const engineWait = 30 * time.Second

// All removes the leftovers of every dead run and says each one on say.
// A missing Docker engine is said, not an error: there are no containers
// to sweep then.
func All(ctx context.Context, l cgroup.Layout, say func(string, ...any)) error {
	var errs []error
	groups, err := cgroup.Sweep(ctx, l)
	for _, g := range groups {
		say("removed group %s, left by a killed run", g)
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("sweeping groups: %w", err))
	}
	if l.UnifiedRoot != "" {
		graders, err := supervise.SweepGroups(ctx, l.UnifiedRoot)
		for _, g := range graders {
			say("removed group %s, left by a killed grader", g)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("sweeping the graders' groups: %w", err))
		}
	}
	if err := containers(ctx, say); err != nil {
		errs = append(errs, err)
	}
	for _, prefix := range rundir.TempPrefixes {
		rundir.Sweep(os.TempDir(), prefix, say)
	}
	return errors.Join(errs...)
}

func containers(ctx context.Context, say func(string, ...any)) error {
	ctx, cancel := context.WithTimeout(ctx, engineWait)
	defer cancel()
	e, err := docker.Connect(ctx)
	if errors.Is(err, docker.ErrNoEngine) {
		say("lab containers not checked: %v", err)
		return nil
	}
	if err != nil {
		return err
	}
	defer e.Close()
	swept, err := e.Sweep(ctx)
	for _, s := range swept {
		if s.Removed {
			say("removed container %s (%.12s): %s", s.Name, s.ID, s.Why)
		} else {
			say("left container %s (%.12s): %s", s.Name, s.ID, s.Why)
		}
	}
	if err != nil {
		return fmt.Errorf("sweeping containers: %w", err)
	}
	return nil
}
