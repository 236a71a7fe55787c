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
		if !e.IsDir() || creatorAlive(e.Name()) {
			continue
		}
		if err := removeDir(ctx, l, filepath.Join(parent, e.Name())); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, filepath.Join(LabParent, e.Name()))
	}
	_ = os.Remove(parent)
	return removed, errors.Join(errs...)
}

// creatorAlive reads the PID out of "name-PID-nonce". A name that does not
// parse was not made by Create, and is left alone.
func creatorAlive(leaf string) bool {
	parts := strings.Split(leaf, "-")
	if len(parts) < 3 {
		return true
	}
	pid, err := strconv.Atoi(parts[len(parts)-2])
	if err != nil || pid <= 0 {
		return true
	}
	err = syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
