package qemu

import (
	"strings"
	"testing"
)

func TestArgs(t *testing.T) {
	g := Guest{Kernel: "/k/vmlinuz", Initrd: "/i.gz", Append: "console=ttyS0 panic=-1", Accel: "tcg", Dir: "/tmp/a,b"}
	args := strings.Join(g.Args(), " ")
	for _, want := range []string{"-machine q35,accel=tcg", "-cpu max", "-smp 1", "-m 768M", "-no-reboot",
		"-display none", "-kernel /k/vmlinuz", "-initrd /i.gz", "-device virtio-rng-pci",
		"file,id=console,path=/tmp/a,,b/console.log", "file,id=handback,path=/tmp/a,,b/handback.txt"} {
		if !strings.Contains(args, want) {
			t.Errorf("args lack %q: %s", want, args)
		}
	}
	if i := strings.Index(args, "chardev:console"); i < 0 || i > strings.Index(args, "chardev:handback") {
		t.Errorf("the console must be the first serial port: %s", args)
	}
	g.Accel = "kvm"
	if args := strings.Join(g.Args(), " "); !strings.Contains(args, "-cpu host") {
		t.Errorf("kvm: %s", args)
	}
}

func TestTailText(t *testing.T) {
	if got := TailText("a\r\nb\r\n\r\nc\r\nd\r\n\n", 3); got != "b\nc\nd" {
		t.Errorf("%q", got)
	}
	if got := TailText("", 3); got != "" {
		t.Errorf("%q", got)
	}
}

func TestArgsDisks(t *testing.T) {
	g := Guest{Kernel: "/k", Append: "root=/dev/nvme0n1", Accel: "tcg", Dir: "/d",
		Disks: []Disk{{File: "/img/disk.ext4", Snapshot: true}, {File: "/w/suites,1.ext4", Bus: Virtio}}}
	args := strings.Join(g.Args(), " ")
	for _, want := range []string{
		"-drive file=/img/disk.ext4,format=raw,if=none,id=disk0,snapshot=on -device nvme,drive=disk0,serial=memlab0",
		"-drive file=/w/suites,,1.ext4,format=raw,if=none,id=disk1,readonly=on -device virtio-blk-pci,drive=disk1",
	} {
		if !strings.Contains(args, want) {
			t.Errorf("args lack %q: %s", want, args)
		}
	}
	if strings.Contains(args, "-initrd") {
		t.Errorf("no initramfs given, yet: %s", args)
	}
	// The root disk is the first of its bus: nvme0n1 or vda.
	if strings.Index(args, "id=disk0") > strings.Index(args, "id=disk1") {
		t.Errorf("disks out of order: %s", args)
	}
}
