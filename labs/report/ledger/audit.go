package ledger

import (
	"errors"
	"fmt"
	"slices"

	"github.com/onsi/ginkgo/v2/types"
)

// Audit checks a set of Ginkgo suites against a ledger: every claim has a
// spec in every mode, every spec labelled with a claim names one of the
// ledger's in one of its modes, and no two specs share a full name (reports
// and the kernel matrix list specs by it). Pass it a --dry-run report of
// the claim suites: the tree is all it reads. It returns every problem
// found, joined, or nil.
func Audit(claims []Claim, modes []string, suites []types.Report) error {
	var errs []error
	known := map[string]bool{}
	for _, c := range claims {
		known[c.ID] = true
	}
	covered := map[string]bool{} // "ID/mode"
	where := map[string]string{} // full name -> code location of its first spec
	for _, suite := range suites {
		for _, spec := range suite.SpecReports {
			if spec.LeafNodeType != types.NodeTypeIt {
				continue
			}
			name, at := spec.FullText(), spec.LeafNodeLocation.String()
			if first, dup := where[name]; dup {
				errs = append(errs, fmt.Errorf("two specs are named %q: %s and %s", name, first, at))
			} else {
				where[name] = at
			}
			id, err := ClaimOf(spec.Labels())
			switch {
			case err != nil:
				errs = append(errs, fmt.Errorf("spec %q (%s): %w", name, at, err))
				continue
			case id == "":
				continue // not a claim spec
			case !known[id]:
				errs = append(errs, fmt.Errorf("spec %q (%s) names claim %s, which is not in the ledger", name, at, id))
				continue
			}
			mode := ModeOf(spec.Labels())
			if !slices.Contains(modes, mode) {
				errs = append(errs, fmt.Errorf("spec %q (%s) of claim %s has cgroup mode %q, want one of %v", name, at, id, mode, modes))
				continue
			}
			if spec.State != types.SpecStatePending {
				covered[id+"/"+mode] = true
			}
		}
	}
	for _, c := range claims {
		for _, m := range modes {
			if !covered[c.ID+"/"+m] {
				errs = append(errs, fmt.Errorf("claim %s has no spec in cgroup %s", c.ID, m))
			}
		}
	}
	return errors.Join(errs...)
}
