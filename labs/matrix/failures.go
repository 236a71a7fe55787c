package matrix

import (
	"errors"
	"fmt"
	"strings"

	"github.com/memlab/memlab/labs/report/ledger"
)

// ErrClaimsFailed: a claim failed in some cell, or a cell gave no result.
// Either is information a run must not swallow, baseline or not.
var ErrClaimsFailed = errors.New("claims failed in the kernel matrix")

// Failures names every failed claim ("bookworm/v2 G5") and every cell that
// gave no result.
func (m Matrix) Failures() []string {
	var out []string
	for _, c := range m.Cells {
		if c.Status == NoResult {
			out = append(out, c.ID+" (no result)")
			continue
		}
		for _, claim := range ledger.Claims {
			if c.Verdict(claim.ID) == string(ledger.Failed) {
				out = append(out, c.ID+" "+claim.ID)
			}
		}
	}
	return out
}

// FailuresError is ErrClaimsFailed naming the failures, or nil.
func FailuresError(failures []string) error {
	if len(failures) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrClaimsFailed, strings.Join(failures, ", "))
}
