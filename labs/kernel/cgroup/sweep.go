package cgroup

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Sweep removes the groups that runs killed before they could clean up:
// every group under the lab parent whose creating PID is gone. Groups of
// runs still alive are left alone. It returns the names it removed.
func Sweep(ctx context.Context, l Layout) ([]string, error) {
	parent := filepath.Join(l.MemoryRoot, LabParent)
	entries, err := os.ReadDir(parent)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		// A name Create did not make is left alone, as is a live run's group.
		if pid, ok := Creator(e.Name()); !ok || alive(pid) {
			continue
		}
		if err := RemoveTree(ctx, l, filepath.Join(parent, e.Name())); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, filepath.Join(LabParent, e.Name()))
	}
	_ = os.Remove(parent)
	return removed, errors.Join(errs...)
}

// Creator reads the creating run's PID out of a name Create made:
// "NAME-PID-NONCE", or "memlab/NAME-PID-NONCE" relative to the memory root.
// ok is false for any other name.
func Creator(name string) (pid int, ok bool) {
	leaf := name
	if dir, rest, nested := strings.Cut(name, "/"); nested {
		if dir != LabParent || strings.Contains(rest, "/") {
			return 0, false
		}
		leaf = rest
	}
	parts := strings.Split(leaf, "-")
	if len(parts) < 3 {
		return 0, false
	}
	pid, err := strconv.Atoi(parts[len(parts)-2])
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, true
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
