package guest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDockerCmdline(t *testing.T) {
	v2 := DockerCmdline(V2, Systemd, "/dev/nvme0n1")
	for _, want := range []string{"root=/dev/nvme0n1 rw", "init=/lib/systemd/systemd", "systemd.unified_cgroup_hierarchy=1",
		"memlab.mode=v2", "memlab.driver=systemd", "memlab.disk=LABEL=" + SuitesLabel, "console=ttyS0", "panic=-1"} {
		if !strings.Contains(v2, want) {
			t.Errorf("v2 cmdline lacks %q: %s", want, v2)
		}
	}
	v1 := DockerCmdline(V1, Cgroupfs, "/dev/vda")
	for _, want := range []string{"root=/dev/vda", "systemd.unified_cgroup_hierarchy=0", "memlab.mode=v1", "memlab.driver=cgroupfs"} {
		if !strings.Contains(v1, want) {
			t.Errorf("v1 cmdline lacks %q: %s", want, v1)
		}
	}
	// The initramfs guest mounts cgroups itself; systemd must not be told to.
	if strings.Contains(Cmdline(V2), "systemd") {
		t.Errorf("initramfs cmdline: %s", Cmdline(V2))
	}
}

// The suites disk holds what cell.sh runs, readable without mounting it.
func TestBuildDockerDisk(t *testing.T) {
	for _, tool := range []string{"mkfs.ext4", "debugfs"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (e2fsprogs)", tool)
		}
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "rawcgroup.test")
	prov := filepath.Join(dir, "provision.sh")
	if err := os.WriteFile(bin, []byte("\x7fELF suite"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(prov, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	lab := filepath.Join(dir, "lab.tar")
	if err := os.WriteFile(lab, []byte("manifest"), 0o644); err != nil {
		t.Fatal(err)
	}
	disk := filepath.Join(dir, "suites.ext4")
	d := DockerDisk{Config: Config{Suites: []Suite{{Name: "rawcgroup", Binary: bin}}, LabelFilter: "docker",
		SuiteTimeout: 70 * time.Second}, Provision: prov, LabImage: lab}
	if err := BuildDockerDisk(t.Context(), d, disk); err != nil {
		t.Fatal(err)
	}
	cat := func(p string) string {
		out, err := exec.Command("debugfs", "-R", "cat "+p, disk).Output()
		if err != nil {
			t.Fatalf("debugfs cat %s: %v", p, err)
		}
		return string(out)
	}
	if got := cat("/suites/rawcgroup.test"); got != "\x7fELF suite" {
		t.Errorf("suite: %q", got)
	}
	if got := cat("/guest.conf"); !strings.Contains(got, "SUITE_TIMEOUT=70\n") || !strings.Contains(got, "LABEL_FILTER=docker") {
		t.Errorf("guest.conf: %q", got)
	}
	if got := cat("/lab-image.tar"); got != "manifest" {
		t.Errorf("lab image: %q", got)
	}
	for _, f := range []string{"/cell.sh", "/runsuites.sh", "/handback.sh", "/provision.sh"} {
		if cat(f) == "" {
			t.Errorf("%s is empty or absent", f)
		}
	}
	label, err := exec.Command("e2label", disk).Output()
	if err != nil || strings.TrimSpace(string(label)) != SuitesLabel {
		t.Errorf("label %q %v, want %s", label, err, SuitesLabel)
	}
	// Only the disk is left: its staging directory is gone.
	if left, _ := filepath.Glob(filepath.Join(dir, "suites-disk-*")); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
	// A bad suite name leaves nothing either.
	d.Suites[0].Name = "../x"
	if err := BuildDockerDisk(t.Context(), d, filepath.Join(dir, "bad.ext4")); err == nil {
		t.Error("a suite named ../x was taken")
	}
}
