package cgroup

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/memlab/memlab/labs/kernel/proc"
)

// Sweep removes the groups that runs killed before they could clean up:
// every group under the lab parent whose creating run is gone, by PID and
// start time, so a PID reused by another process keeps nothing alive.
// Groups of runs still alive are left alone. It returns the names it removed.
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
		if run, ok := Owner(e.Name()); !ok || run.Alive() {
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

// Owner reads the creating run out of a name Create made:
// "NAME-PID.STARTTIME-NONCE", or "memlab/NAME-PID.STARTTIME-NONCE" relative
// to the memory root. ok is false for any other name.
func Owner(name string) (run proc.RunID, ok bool) {
	leaf := name
	if dir, rest, nested := strings.Cut(name, "/"); nested {
		if dir != LabParent || strings.Contains(rest, "/") {
			return proc.RunID{}, false
		}
		leaf = rest
	}
	parts := strings.Split(leaf, "-")
	n := len(parts)
	if n < 3 || !isNonce(parts[n-1]) || ValidateName(strings.Join(parts[:n-2], "-")) != nil {
		return proc.RunID{}, false
	}
	run, err := proc.ParseRunID(parts[n-2])
	return run, err == nil
}

// isNonce: Create's nonce is three random bytes in hex.
func isNonce(s string) bool {
	if len(s) != 6 {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return false
		}
	}
	return true
}
