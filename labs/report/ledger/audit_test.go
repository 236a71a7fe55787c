package ledger

import (
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/types"
)

// A ledger of two claims, and specs for it as claim.Describe lays them out:
// a container named for the claim, one entry per mode.
var auditClaims = []Claim{{ID: "A1", Statement: "one"}, {ID: "B2", Statement: "two"}}

func claimSpec(id, leaf, mode string) types.SpecReport {
	return types.SpecReport{
		LeafNodeType: types.NodeTypeIt, State: types.SpecStatePassed,
		ContainerHierarchyTexts:  []string{id + ": statement"},
		ContainerHierarchyLabels: [][]string{{ClaimLabel(id)}},
		LeafNodeText:             leaf, LeafNodeLabels: []string{"root", ModeLabel(mode)},
	}
}

func complete() []types.SpecReport {
	return []types.SpecReport{
		claimSpec("A1", "checked (cgroup v1)", "v1"), claimSpec("A1", "checked (cgroup v2)", "v2"),
		claimSpec("B2", "checked (cgroup v1)", "v1"), claimSpec("B2", "checked (cgroup v2)", "v2"),
		{LeafNodeType: types.NodeTypeIt, LeafNodeText: "a helper's own test"},
	}
}

func audit(specs ...types.SpecReport) error {
	return Audit(auditClaims, Modes, []types.Report{{SpecReports: specs}})
}

func TestAuditPassesACompleteSuite(t *testing.T) {
	if err := audit(complete()...); err != nil {
		t.Fatal(err)
	}
}

func TestAuditFails(t *testing.T) {
	for _, c := range []struct {
		name  string
		specs []types.SpecReport
		says  string
	}{
		{"a claim without a spec in one mode", complete()[:3],
			"claim B2 has no spec in cgroup v2"},
		{"a claim whose only spec in a mode is pending",
			append(complete()[:3], func() types.SpecReport {
				s := claimSpec("B2", "checked (cgroup v2)", "v2")
				s.State = types.SpecStatePending
				return s
			}()),
			"claim B2 has no spec in cgroup v2"},
		{"a spec naming an unknown claim", append(complete(), claimSpec("C3", "checked (cgroup v1)", "v1")),
			`names claim C3, which is not in the ledger`},
		{"two specs sharing a full name", append(complete(), claimSpec("A1", "checked (cgroup v1)", "v1")),
			`two specs are named "A1: statement checked (cgroup v1)"`},
		{"a claim spec in no cgroup mode", append(complete(), func() types.SpecReport {
			s := claimSpec("A1", "checked", "v1")
			s.LeafNodeLabels = []string{"root"}
			return s
		}()), `has cgroup mode "any"`},
		{"a spec labelled with two claims", append(complete(), func() types.SpecReport {
			s := claimSpec("A1", "both", "v1")
			s.LeafNodeLabels = append(s.LeafNodeLabels, ClaimLabel("B2"))
			return s
		}()), "labelled with two claims, A1 and B2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := audit(c.specs...)
			if err == nil || !strings.Contains(err.Error(), c.says) {
				t.Errorf("err %v: want it to say %q", err, c.says)
			}
		})
	}
}
