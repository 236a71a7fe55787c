package guest

import (
	"context"
	_ "embed"
	"fmt"
	"os"
	"path/filepath"

	"github.com/memlab/memlab/labs/matrix/sysimage"
)

// The Docker cells' cgroup drivers (dockerd's native.cgroupdriver).
const (
	Systemd  = "systemd"
	Cgroupfs = "cgroupfs"
)

// Drivers is every driver, in table order.
var Drivers = []string{Systemd, Cgroupfs}

//go:embed dockercell.sh
var dockerCellScript []byte

//go:embed runsuites.sh
var runSuitesScript []byte

// SuitesLabel is the file system label of the Docker guest's suites disk;
// the image's boot unit mounts LABEL=SuitesLabel read-only at /opt/memlab.
const SuitesLabel = "memlab-suites"

// DockerDisk is what goes on the Docker guest's suites disk besides the
// suites: the project's provisioning script, run there with --check.
type DockerDisk struct {
	Config
	Provision string // vagrant/provision.sh of the checkout
	// Capture is labs/docker/testdata/cgroups/capture.sh of the checkout:
	// each cell captures its layout's container cgroup tree into capture.tar.
	Capture string
	// LabImage is the lab image as a `docker load` archive (labs/docker
	// Recipe.Archive): the cell loads it rather than build the image under
	// emulation. "": the Docker suite builds it in the guest.
	LabImage string
}

// BuildDockerDisk writes the Docker guest's second disk to file: a small
// ext4 (mkfs.ext4 -d, nothing mounted) holding cell.sh, the scripts it
// sources, guest.conf, provision.sh and suites/*.test. Every Docker cell of a
// run shares it, read-only; the cell's mode and driver are on its kernel
// command line.
func BuildDockerDisk(ctx context.Context, d DockerDisk, file string) error {
	dir, err := os.MkdirTemp(filepath.Dir(file), "suites-disk-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	put := func(name string, data []byte, mode os.FileMode) error {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		return os.WriteFile(p, data, mode)
	}
	for _, f := range []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{"cell.sh", dockerCellScript, 0o755},
		{"runsuites.sh", runSuitesScript, 0o644},
		{"handback.sh", handBackScript, 0o755},
		{"guest.conf", []byte(guestConf(d.Config)), 0o644},
	} {
		if err := put(f.name, f.data, f.mode); err != nil {
			return err
		}
	}
	size := int64(16 << 20)
	for name, from := range map[string]string{"provision.sh": d.Provision, "capture.sh": d.Capture, "lab-image.tar": d.LabImage} {
		if from == "" {
			continue
		}
		data, err := os.ReadFile(from)
		if err != nil {
			return err
		}
		if err := put(name, data, 0o755); err != nil {
			return err
		}
		size += int64(len(data))
	}
	if err := checkSuiteNames(d.Suites); err != nil {
		return err
	}
	for _, s := range d.Suites {
		data, err := os.ReadFile(s.Binary)
		if err != nil {
			return err
		}
		if err := put("suites/"+s.Name+".test", data, 0o755); err != nil {
			return err
		}
		size += int64(len(data))
	}
	// Room for the file system's own metadata: an eighth more, in MiB.
	mib := (size+size/8)>>20 + 1
	if err := sysimage.Ext4FromDir(ctx, dir, file, SuitesLabel, fmt.Sprintf("%dM", mib), ",^has_journal"); err != nil {
		return fmt.Errorf("the suites disk: %w", err)
	}
	return nil
}

// DockerCmdline is the kernel command line of a Docker cell: the root disk
// (NVMe, or virtio on a kernel with only that built in), systemd as init,
// systemd's cgroup hierarchy for the mode (unified for v2, legacy for v1),
// and the cell's mode and driver for cell.sh.
func DockerCmdline(mode, driver, rootDev string) string {
	unified := "1"
	if mode == V1 {
		unified = "0"
	}
	return "console=ttyS0 panic=-1 loglevel=4 tsc=reliable mitigations=off" +
		" root=" + rootDev + " rw rootfstype=ext4 init=/lib/systemd/systemd" +
		" systemd.unified_cgroup_hierarchy=" + unified +
		" memlab.mode=" + mode + " memlab.driver=" + driver + " memlab.disk=LABEL=" + SuitesLabel
}
