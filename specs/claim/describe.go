package claim

import (
	"github.com/onsi/ginkgo/v2"

	"github.com/memlab/memlab/labs/report/ledger"
)

// Body is what a claim's spec does in one cgroup mode. It takes the
// SpecContext when it waits on something an interrupt or a timeout must
// cut short (Ginkgo then gives it a grace period to return, rather than
// abandoning it).
type Body interface {
	func(Mode) | func(ginkgo.SpecContext, Mode)
}

// Describe declares the spec of ledger claim id, once per cgroup mode in
// Modes. The claim's statement comes from the ledger, never from the spec:
// the table is named "ID: statement" and labelled claim:ID, which is how
// the ledger files each result. Each mode is one entry, named how(m) plus
// the mode and labelled as Mode.Label says. Container decorators
// (NeedsDocker, Serial) apply to every entry.
//
//	var _ = claim.Describe("G1", func(m claim.Mode) string {
//		return `"100m" written to ` + m.Files.Limit + " reads back as 104857600"
//	}, func(m claim.Mode) { ... })
//
// An ID the ledger lacks still declares its specs, and they fail; the
// ledger's audit test finds it without running them.
func Describe[B Body](id string, how func(Mode) string, body B, decorators ...any) bool {
	ginkgo.GinkgoHelper()
	return describe(Modes, id, how, body, decorators)
}

// DescribeIn is Describe in some modes only: for a further spec of a claim
// that only those modes can run (G7's memory.oom.group is v2's alone).
// Every claim still needs a Describe that covers all the modes.
func DescribeIn[B Body](modes []Mode, id string, how func(Mode) string, body B, decorators ...any) bool {
	ginkgo.GinkgoHelper()
	return describe(modes, id, how, body, decorators)
}

func describe(modes []Mode, id string, how func(Mode) string, body any, decorators []any) bool {
	ginkgo.GinkgoHelper()
	text := id + ": (not in the ledger)"
	c, err := ledger.Lookup(id)
	if err == nil {
		text = id + ": " + c.Statement
	} else {
		body = func(Mode) { ginkgo.Fail(err.Error() + ": add it to labs/report/ledger/claims.go") }
	}
	args := []any{ginkgo.Label(ledger.ClaimLabel(id)), body, func(m Mode) string { return how(m) + " (cgroup " + m.Name() + ")" }}
	args = append(args, decorators...)
	for _, m := range modes {
		args = append(args, ginkgo.Entry(nil, m.Label(), m))
	}
	return ginkgo.DescribeTable(text, args...)
}
