package claim_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/memlab/memlab/labs/report/ledger"
	"github.com/memlab/memlab/specs/claim"
)

// The ledger against the real suites: Ginkgo walks every suite under
// specs/ without running a spec (--dry-run: no root, no cgroup, no Docker),
// and ledger.Audit checks what it found. A claim added to the ledger
// without a spec, a spec naming a claim the ledger lacks, or two specs of
// one name fail here, before any lab runs. The audit's own tests
// (labs/report/ledger/audit_test.go) show each of those failures on a
// synthetic ledger.
func TestEveryClaimHasItsSpecs(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("no module root at %s: %v", root, err)
	}
	// The suites, by their bootstrap file; not -r, which would walk this
	// package too and run this test again, without end.
	boots, err := filepath.Glob(filepath.Join(root, "specs", "*", "*_suite_test.go"))
	if err != nil || len(boots) == 0 {
		t.Fatalf("no suites under %s/specs: %v", root, err)
	}
	out := t.TempDir()
	args := []string{"tool", "ginkgo", "--dry-run", "--no-color", "--succinct", "--json-report=dry-run.json", "--output-dir=" + out}
	for _, b := range boots {
		args = append(args, filepath.Dir(b))
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	if log, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ginkgo --dry-run of the suites: %v\n%s", err, log)
	}
	suites, err := ledger.LoadGinkgoJSON(filepath.Join(out, "dry-run.json"))
	if err != nil {
		t.Fatal(err)
	}
	specs := 0
	for _, s := range suites {
		specs += len(s.SpecReports)
	}
	if len(suites) != len(boots) || specs == 0 {
		t.Fatalf("the dry run found %d suites and %d specs: the suites were not walked", len(suites), specs)
	}
	if err := ledger.Audit(ledger.Claims, ledger.Modes, suites); err != nil {
		t.Errorf("the suites under specs/ do not match the ledger (labs/report/ledger/claims.go):\n%v", err)
	}
}

// claim.Modes are the modes the ledger expects a spec in.
func TestModesAreTheLedgers(t *testing.T) {
	var names []string
	for _, m := range claim.Modes {
		names = append(names, m.Name())
	}
	if !slices.Equal(names, ledger.Modes) {
		t.Errorf("claim.Modes %v, ledger.Modes %v", names, ledger.Modes)
	}
}
