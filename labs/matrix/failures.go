package matrix

import (
	"errors"
	"fmt"
	"strings"

	"github.com/memlab/memlab/labs/report/ledger"
)

// ErrClaimsFailed: a claim failed in some cell. Information a run must not
// swallow, baseline or not.
var ErrClaimsFailed = errors.New("claims failed in the kernel matrix")

// ErrNoResult: a cell's guest died, hung or handed nothing back, and no
// claim failed elsewhere: the run decided nothing there, which is neither
// a failed claim nor a verdict that changed from the baseline.
var ErrNoResult = errors.New("a kernel matrix cell gave no result")

// noResultMark ends a Failures entry that names a cell with no result.
const noResultMark = " (no result)"

// Failures names every failed claim ("bookworm/v2 G5") and every cell that
// gave no result.
func (m Matrix) Failures() []string {
	var out []string
	for _, c := range m.Cells {
		if c.Status == NoResult {
			out = append(out, c.ID+noResultMark)
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

// FailuresError is ErrClaimsFailed naming the failures when a claim
// failed, ErrNoResult naming the cells when the only trouble is cells with
// no result, or nil.
func FailuresError(failures []string) error {
	if len(failures) == 0 {
		return nil
	}
	for _, f := range failures {
		if !strings.HasSuffix(f, noResultMark) {
			return fmt.Errorf("%w: %s", ErrClaimsFailed, strings.Join(failures, ", "))
		}
	}
	return fmt.Errorf("%w: %s (a guest died, hung or handed nothing back; its console tail is in the cell's report)", ErrNoResult, strings.Join(failures, ", "))
}
