// Package vm tests the VM delegation of mk/vm.mk and vagrant/vm.sh against
// a fake vagrant (testdata/vagrant): it checks the commands `make vm-labs`,
// `make labs-delegate`, `make vm-matrix` (and `make labs`, once the
// top-level Makefile routes it) issue, and where the reports land. No VM,
// no root, no network.
package vm

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/memlab/memlab/labs/checkout"
	"github.com/memlab/memlab/labs/report/ledger"
)

var repo = func() string {
	root, err := checkout.Root()
	if err != nil {
		panic(err)
	}
	return root
}()

// lab is one fake world: a host checkout (reports land there), one guest
// /vagrant per VM, a fake vagrant first on PATH, and its logs.
type lab struct {
	t          *testing.T
	host, dir  string
	vagrantLog string
	guestLog   string
	env        []string
}

var kernels = map[string][2]string{ // VM -> kernel, memory mode
	"xenial": {"4.4.0-210-generic", "v1"},
	"bionic": {"4.15.0-213-generic", "v1"},
	"focal":  {"5.4.0-169-generic", "v1"},
	"jammy":  {"5.15.0-91-generic", "v2"},
}

// newLab: running VMs are up; the others are not created. shared VMs see the
// host checkout itself as /vagrant (VirtualBox's shared folder); the rest
// get their own copy (rsync), so their reports must be copied back.
func newLab(t *testing.T, running []string, shared ...string) *lab {
	t.Helper()
	dir := t.TempDir()
	l := &lab{t: t, dir: dir, host: filepath.Join(dir, "host"),
		vagrantLog: filepath.Join(dir, "vagrant.log"), guestLog: filepath.Join(dir, "guest.log")}
	for _, d := range []string{"host", "bin", "guestbin", "guest", "canned"} {
		mustMkdir(t, filepath.Join(dir, d))
	}
	copyExec(t, "testdata/vagrant", filepath.Join(dir, "bin", "vagrant"))
	copyExec(t, "testdata/guest/sudo", filepath.Join(dir, "guestbin", "sudo"))
	copyExec(t, "testdata/guest/make", filepath.Join(dir, "guestbin", "make"))

	isUp := map[string]bool{}
	for _, vm := range running {
		isUp[vm] = true
	}
	isShared := map[string]bool{}
	for _, vm := range shared {
		isShared[vm] = true
	}
	var status strings.Builder
	for _, vm := range []string{"xenial", "bionic", "focal", "jammy"} {
		state := "not_created"
		if isUp[vm] {
			state = "running"
		}
		fmt.Fprintf(&status, "1700000000,%s,metadata,provider,virtualbox\n", vm)
		fmt.Fprintf(&status, "1700000000,%s,provider-name,virtualbox\n", vm)
		fmt.Fprintf(&status, "1700000000,%s,state,%s\n", vm, state)
		fmt.Fprintf(&status, "1700000000,%s,state-human-short,%s\n", vm, strings.ReplaceAll(state, "_", " "))
		g := filepath.Join(dir, "guest", vm)
		if isShared[vm] {
			if err := os.Symlink(l.host, g); err != nil {
				t.Fatal(err)
			}
		} else {
			mustMkdir(t, g)
		}
		cannedReport(t, filepath.Join(dir, "canned"), vm)
	}
	status.WriteString("1700000000,,ui,info,Current machine states:\\n\\nxenial  running (virtualbox)\n")
	statusFile := filepath.Join(dir, "status.txt")
	if err := os.WriteFile(statusFile, []byte(status.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	l.env = append(cleanEnv(),
		"PATH="+filepath.Join(dir, "bin")+string(os.PathListSeparator)+os.Getenv("PATH"),
		"FAKE_VAGRANT_LOG="+l.vagrantLog,
		"FAKE_VAGRANT_STATUS="+statusFile,
		"FAKE_GUEST="+filepath.Join(dir, "guest"),
		"FAKE_GUESTBIN="+filepath.Join(dir, "guestbin"),
		"FAKE_GUEST_LOG="+l.guestLog,
		"FAKE_CANNED="+filepath.Join(dir, "canned"),
		"MEMLAB_VM_ROOT="+l.host,
	)
	return l
}

// cleanEnv drops what an outer make (make test-vm) or the caller's shell
// would leak into ours.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "VM", "VAGRANT", "LABEL_FILTER",
			"MEMLAB_LAB_MACHINE", "MEMLAB_VM_ROOT", "PATH":
			continue
		}
		env = append(env, kv)
	}
	return env
}

func cannedReport(t *testing.T, dir, vm string) {
	t.Helper()
	k := kernels[vm]
	r := ledger.Report{Env: ledger.Env{Kernel: k[0], Layout: "legacy", MemoryMode: k[1], MemoryMount: "/sys/fs/cgroup/memory", Hostname: "memlab-" + vm}}
	for _, c := range ledger.Claims {
		r.Results = append(r.Results, ledger.Result{ID: c.ID, Claim: c.Statement, Mode: k[1], Kernel: k[0], Verdict: ledger.Holds})
	}
	sub := filepath.Join(dir, vm)
	if err := r.WriteFiles(sub); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(sub, "claims.json"), filepath.Join(dir, vm+".json")); err != nil {
		t.Fatal(err)
	}
}

// make runs make -f mk/vm.mk (or the top-level Makefile) in the repository.
func (l *lab) make(makefile string, args ...string) (string, error) {
	l.t.Helper()
	cmd := exec.Command("make", append([]string{"--no-print-directory", "-f", makefile}, args...)...)
	cmd.Dir = repo
	cmd.Env = l.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Stdin = nil // not a terminal: vm.sh asks vagrant ssh for -T
	err := cmd.Run()
	return out.String(), err
}

func (l *lab) vagrantCalls() []string { return readLines(l.t, l.vagrantLog) }
func (l *lab) guestCalls() []string   { return readLines(l.t, l.guestLog) }

func (l *lab) hostReport(rel string) ledger.Report {
	l.t.Helper()
	r, err := ledger.LoadReport(filepath.Join(l.host, rel))
	if err != nil {
		l.t.Fatalf("report %s on the host: %v", rel, err)
	}
	return r
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// want checks the calls, in order, each given as a prefix of the logged line.
func want(t *testing.T, what string, got []string, prefixes ...string) {
	t.Helper()
	if len(got) != len(prefixes) {
		t.Fatalf("%s: %d calls, want %d:\n  %s", what, len(got), len(prefixes), strings.Join(got, "\n  "))
	}
	for i, p := range prefixes {
		if !strings.HasPrefix(got[i], p) {
			t.Errorf("%s call %d:\n  got  %s\n  want %s...", what, i+1, got[i], p)
		}
	}
}

const (
	status     = "vagrant status --machine-readable"
	fetchShell = "vagrant ssh %s -c cd\\ /vagrant/%s\\ 2\\>/dev/null\\ \\&\\&\\ files=" // %q-quoted by the fake
)

func runLabs(vm, dir string) string {
	return fmt.Sprintf("vagrant ssh %s -c cd\\ /vagrant\\ \\&\\&\\ sudo\\ -H\\ make\\ labs\\ REPORTS=%s\\ MEMLAB_LAB_MACHINE=yes -- -T", vm, dir)
}

func fetch(vm, dir string) string { return fmt.Sprintf(fetchShell, vm, dir) }

func TestVMLabsDefaultsToXenialAndCopiesReportsBack(t *testing.T) {
	l := newLab(t, []string{"xenial", "jammy"})
	out, err := l.make("mk/vm.mk", "vm-labs")
	if err != nil {
		t.Fatalf("make vm-labs: %v\n%s", err, out)
	}
	want(t, "vagrant", l.vagrantCalls(), "vagrant rsync xenial", runLabs("xenial", "reports"), fetch("xenial", "reports"))
	want(t, "guest", l.guestCalls(), "xenial: sudo make labs REPORTS=reports MEMLAB_LAB_MACHINE=yes",
		"xenial: make labs REPORTS=reports MEMLAB_LAB_MACHINE=yes")
	if r := l.hostReport("reports/claims.json"); r.Env.Kernel != kernels["xenial"][0] {
		t.Errorf("host reports/claims.json is from kernel %q, want xenial's", r.Env.Kernel)
	}
	for _, f := range []string{"claims.md", "junit.xml"} {
		if _, err := os.Stat(filepath.Join(l.host, "reports", f)); err != nil {
			t.Errorf("reports/%s not copied back: %v", f, err)
		}
	}
	if !strings.Contains(out, "xenial: 3 report files in reports/") {
		t.Errorf("output:\n%s", out)
	}
}

func TestVMLabsNamedVMAndLabelFilter(t *testing.T) {
	l := newLab(t, []string{"xenial", "jammy"})
	out, err := l.make("mk/vm.mk", "vm-labs", "VM=jammy", "LABEL_FILTER=!docker && cgroup:v2")
	if err != nil {
		t.Fatalf("make vm-labs VM=jammy: %v\n%s", err, out)
	}
	calls := l.vagrantCalls()
	want(t, "vagrant", calls, "vagrant rsync jammy", "vagrant ssh jammy -c", fetch("jammy", "reports"))
	want(t, "guest", l.guestCalls(), "jammy: sudo make labs REPORTS=reports MEMLAB_LAB_MACHINE=yes LABEL_FILTER=\\!docker\\ \\&\\&\\ cgroup:v2",
		"jammy: make labs REPORTS=reports MEMLAB_LAB_MACHINE=yes LABEL_FILTER=\\!docker\\ \\&\\&\\ cgroup:v2")
	if r := l.hostReport("reports/claims.json"); r.Env.Kernel != kernels["jammy"][0] {
		t.Errorf("host report from %q, want jammy's", r.Env.Kernel)
	}
}

func TestVMLabsSharedFolder(t *testing.T) {
	// VirtualBox's shared folder: the guest writes straight into the host's
	// reports/; copying them back over themselves must keep them whole.
	l := newLab(t, []string{"xenial"}, "xenial")
	out, err := l.make("mk/vm.mk", "vm-labs")
	if err != nil {
		t.Fatalf("make vm-labs: %v\n%s", err, out)
	}
	if r := l.hostReport("reports/claims.json"); len(r.Results) != len(ledger.Claims) {
		t.Errorf("claims.json has %d results, want %d", len(r.Results), len(ledger.Claims))
	}
}

func TestVMLabsFailureStillBringsReports(t *testing.T) {
	l := newLab(t, []string{"xenial"})
	l.env = append(l.env, "FAKE_LABS_FAIL=xenial")
	out, err := l.make("mk/vm.mk", "vm-labs")
	if err == nil {
		t.Fatalf("make vm-labs succeeded though the guest's labs failed:\n%s", out)
	}
	l.hostReport("reports/claims.json")
	want(t, "vagrant", l.vagrantCalls(), "vagrant rsync xenial", runLabs("xenial", "reports"), fetch("xenial", "reports"))
}

func TestVMLabsNotRunning(t *testing.T) {
	l := newLab(t, []string{"xenial"})
	out, err := l.make("mk/vm.mk", "vm-labs", "VM=focal")
	if err == nil || !strings.Contains(out, "vagrant up focal") {
		t.Fatalf("vm-labs on a VM that is down: err %v\n%s", err, out)
	}
	want(t, "vagrant", l.vagrantCalls(), "vagrant rsync focal")
	if _, err := os.Stat(filepath.Join(l.host, "reports")); err == nil {
		t.Error("reports/ appeared on the host although nothing ran")
	}
}

func TestLabsDelegate(t *testing.T) {
	t.Run("xenial preferred", func(t *testing.T) {
		l := newLab(t, []string{"jammy", "xenial"})
		out, err := l.make("mk/vm.mk", "labs-delegate", "MEMLAB_LAB_MACHINE=no")
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		want(t, "vagrant", l.vagrantCalls(), status, "vagrant rsync xenial", runLabs("xenial", "reports"), fetch("xenial", "reports"))
		l.hostReport("reports/claims.json")
	})
	t.Run("first VM up", func(t *testing.T) {
		l := newLab(t, []string{"focal", "jammy"})
		out, err := l.make("mk/vm.mk", "labs-delegate", "MEMLAB_LAB_MACHINE=no")
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		want(t, "vagrant", l.vagrantCalls(), status, "vagrant rsync focal", runLabs("focal", "reports"), fetch("focal", "reports"))
	})
	t.Run("named VM", func(t *testing.T) {
		l := newLab(t, []string{"xenial", "jammy"})
		out, err := l.make("mk/vm.mk", "labs-delegate", "VM=jammy")
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		want(t, "vagrant", l.vagrantCalls(), status, "vagrant rsync jammy", runLabs("jammy", "reports"), fetch("jammy", "reports"))
	})
	t.Run("named VM down", func(t *testing.T) {
		l := newLab(t, []string{"xenial"})
		out, err := l.make("mk/vm.mk", "labs-delegate", "VM=jammy")
		if err == nil || !strings.Contains(out, "'vagrant up jammy'") {
			t.Fatalf("err %v\n%s", err, out)
		}
		want(t, "vagrant", l.vagrantCalls(), status)
	})
	t.Run("nothing up", func(t *testing.T) {
		l := newLab(t, nil)
		out, err := l.make("mk/vm.mk", "labs-delegate", "MEMLAB_LAB_MACHINE=no")
		if err == nil {
			t.Fatalf("labs-delegate with no VM up succeeded:\n%s", out)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) < 1 || !strings.Contains(lines[0], "'vagrant up' first") || !strings.Contains(lines[0], "'sudo make labs'") {
			t.Errorf("want one line naming 'vagrant up' and 'sudo make labs'; got:\n%s", out)
		}
		want(t, "vagrant", l.vagrantCalls(), status)
		if _, err := os.Stat(filepath.Join(l.host, "reports")); err == nil {
			t.Error("reports/ appeared on the host although nothing ran")
		}
	})
	t.Run("no vagrant", func(t *testing.T) {
		l := newLab(t, nil)
		out, err := l.make("mk/vm.mk", "labs-delegate", "VAGRANT=no-such-vagrant")
		if err == nil || !strings.Contains(out, "vagrant is not installed") {
			t.Fatalf("err %v\n%s", err, out)
		}
	})
}

func TestVMMatrix(t *testing.T) {
	l := newLab(t, []string{"xenial", "jammy"}, "jammy")
	out, err := l.make("mk/vm.mk", "vm-matrix")
	if err != nil {
		t.Fatalf("make vm-matrix: %v\n%s", err, out)
	}
	want(t, "vagrant", l.vagrantCalls(), status,
		"vagrant rsync xenial", runLabs("xenial", "reports/vm/xenial"), fetch("xenial", "reports/vm/xenial"),
		"vagrant rsync jammy", runLabs("jammy", "reports/vm/jammy"), fetch("jammy", "reports/vm/jammy"))
	for vm, k := range map[string]string{"xenial": kernels["xenial"][0], "jammy": kernels["jammy"][0]} {
		if r := l.hostReport("reports/vm/" + vm + "/claims.json"); r.Env.Kernel != k {
			t.Errorf("reports/vm/%s/claims.json is from %q", vm, r.Env.Kernel)
		}
	}
	md, err := os.ReadFile(filepath.Join(l.host, "reports", "vm-matrix.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "| claim | xenial/v1 | jammy/v2 |") {
		t.Errorf("vm-matrix.md:\n%s", md)
	}
	if _, err := os.Stat(filepath.Join(l.host, "reports", "vm-matrix.json")); err != nil {
		t.Error(err)
	}
	if strings.Contains(string(md), "bionic") || strings.Contains(strings.Join(l.vagrantCalls(), "\n"), "bionic") {
		t.Error("bionic is not up, yet the matrix touched it")
	}
}

func TestVMMatrixOneVMFails(t *testing.T) {
	l := newLab(t, []string{"xenial", "focal"})
	l.env = append(l.env, "FAKE_LABS_FAIL=xenial")
	out, err := l.make("mk/vm.mk", "vm-matrix")
	if err == nil {
		t.Fatalf("vm-matrix succeeded though xenial's labs failed:\n%s", out)
	}
	// The other VM still ran, and the table still names both.
	l.hostReport("reports/vm/focal/claims.json")
	md, err := os.ReadFile(filepath.Join(l.host, "reports", "vm-matrix.md"))
	if err != nil || !strings.Contains(string(md), "| claim | xenial/v1 | focal/v1 |") {
		t.Fatalf("vm-matrix.md: %v\n%s", err, md)
	}
}

func TestVMMatrixNeedsGoOnTheHost(t *testing.T) {
	l := newLab(t, []string{"xenial"})
	out, err := l.make("mk/vm.mk", "vm-matrix", "MEMLAB_VM_GO=no-such-go")
	if err == nil || !strings.Contains(out, "install Go") {
		t.Fatalf("vm-matrix without Go: err %v\n%s", err, out)
	}
	want(t, "vagrant", l.vagrantCalls(), status) // failed before running anything
}

func TestLabMachine(t *testing.T) {
	l := newLab(t, nil)
	fake := filepath.Join(l.dir, "bin")
	check := func(name, script, wantOut string) {
		t.Helper()
		if script != "" {
			if err := os.WriteFile(filepath.Join(fake, name), []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			defer os.Remove(filepath.Join(fake, name))
		}
		out, err := l.make("mk/vm.mk", "lab-machine")
		if err != nil || !strings.HasPrefix(out, wantOut) {
			t.Errorf("lab-machine with fake %s: %v %q, want %q", name, err, out, wantOut)
		}
		v, err := l.make("mk/vm.mk", "--eval", "print-lm: ; @echo $(MEMLAB_LAB_MACHINE)", "print-lm")
		if wantV := map[bool]string{true: "yes", false: "no"}[wantOut == "yes"]; err != nil || strings.TrimSpace(v) != wantV {
			t.Errorf("MEMLAB_LAB_MACHINE with fake %s: %v %q, want %s", name, err, v, wantV)
		}
	}
	check("uname", "echo Darwin", "no: this is Darwin, not Linux")
	check("id", "echo 1000", "no: not root")
	if os.Geteuid() == 0 && runtime.GOOS == "linux" {
		got, _ := exec.Command("bash", filepath.Join(repo, "vagrant", "vm.sh"), "lab-machine").Output()
		check("none", "", strings.TrimSpace(string(got))) // whatever this host is, make agrees with vm.sh
	}
}

// The top-level Makefile routes `make labs` to labs-delegate on a host that
// is not a lab machine. Until it does, this is skipped (running `make labs`
// here would run the real labs). MEMLAB_VM_TEST_MAKEFILE tries another
// Makefile in its place (an absolute path, run from the repository).
func TestTopLevelMakeLabsDelegates(t *testing.T) {
	makefile := "Makefile"
	if f := os.Getenv("MEMLAB_VM_TEST_MAKEFILE"); f != "" {
		makefile = f
	}
	path := makefile
	if !filepath.IsAbs(path) {
		path = filepath.Join(repo, path)
	}
	mk, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(mk, []byte("mk/vm.mk")) || !bytes.Contains(mk, []byte("labs-delegate")) {
		t.Skip("Makefile does not include mk/vm.mk and route labs to labs-delegate yet")
	}
	l := newLab(t, []string{"xenial"})
	out, err := l.make(makefile, "labs", "MEMLAB_LAB_MACHINE=no")
	if err != nil {
		t.Fatalf("make labs (not a lab machine): %v\n%s", err, out)
	}
	want(t, "vagrant", l.vagrantCalls(), status, "vagrant rsync xenial", runLabs("xenial", "reports"), fetch("xenial", "reports"))
	l.hostReport("reports/claims.json")

	l = newLab(t, nil)
	if out, err := l.make(makefile, "labs", "MEMLAB_LAB_MACHINE=no"); err == nil || !strings.Contains(out, "'vagrant up' first") {
		t.Errorf("make labs with no VM up: err %v\n%s", err, out)
	}
}

func mustMkdir(t *testing.T, d string) {
	t.Helper()
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
}

func copyExec(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}
