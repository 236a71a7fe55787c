package ledger

import (
	"fmt"
	"strings"
)

// A spec says which claim it checks, and in which cgroup mode, by Ginkgo
// labels: claim:G5 and cgroup:v1. Labels survive into the JSON report as
// they were written, and a label filter can pick one claim
// (--label-filter=claim:G5); a spec's name is prose and free to change.
const (
	ClaimLabelPrefix = "claim:"
	ModeLabelPrefix  = "cgroup:"
)

// ClaimLabel is the label of the specs that check claim id.
func ClaimLabel(id string) string { return ClaimLabelPrefix + id }

// ModeLabel is the label of the specs that run in a cgroup mode ("v1").
func ModeLabel(mode string) string { return ModeLabelPrefix + mode }

// ClaimOf is the claim ID a spec's labels name: "" for a spec that checks
// no claim, an error for one that names two.
func ClaimOf(labels []string) (string, error) {
	id := ""
	for _, l := range labels {
		if v, ok := strings.CutPrefix(l, ClaimLabelPrefix); ok && v != id {
			if id != "" {
				return "", fmt.Errorf("labelled with two claims, %s and %s", id, v)
			}
			id = v
		}
	}
	return id, nil
}

// ModeOf is the cgroup mode a spec's labels name, or "any".
func ModeOf(labels []string) string {
	for _, l := range labels {
		if v, ok := strings.CutPrefix(l, ModeLabelPrefix); ok {
			return v
		}
	}
	return "any"
}
