package kernels

import (
	"debug/elf"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/memlab/memlab/labs/kernel/release"
)

// RNGModules names the modules a guest must load (as the kernel names
// them: virtio_pci, virtio_rng) for qemu's virtio-rng device to feed the
// kernel's entropy pool. Before 5.4, getrandom(2) waits until device
// interrupts have credited the pool with 128 bits, which a guest with no
// devices can wait minutes for; from 5.4 (50ee7529ec45) the kernel makes
// that entropy itself when a reader waits. So only a kernel before 5.4 (or
// of unknown release) that has the driver as a module needs any.
func RNGModules(rel string, cfg map[string]string) []string {
	if v, err := release.Parse(rel); err == nil && v.AtLeast(5, 4) {
		return nil
	}
	if cfg["HW_RANDOM_VIRTIO"] != "m" && cfg["HW_RANDOM_VIRTIO"] != "y" {
		return nil // no driver at all: nothing to load
	}
	var want []string
	if cfg["VIRTIO_PCI"] == "m" {
		want = append(want, "virtio_pci")
	}
	if cfg["HW_RANDOM_VIRTIO"] == "m" {
		want = append(want, "virtio_rng")
	}
	return want
}

// modName is the name the kernel gives a module file: rng-core.ko is rng_core.
func modName(file string) string {
	for _, ext := range []string{".ko", ".ko.xz", ".ko.zst", ".ko.gz"} {
		if n, ok := strings.CutSuffix(file, ext); ok {
			file = n
			break
		}
	}
	return strings.ReplaceAll(file, "-", "_")
}

// moduleNames names module files for messages.
func moduleNames(files []string) []string {
	var out []string
	for _, f := range files {
		out = append(out, modName(filepath.Base(f)))
	}
	return out
}

// LoadOrder finds the wanted modules and every module they depend on under
// dir (a kernel's /lib/modules/RELEASE) and lists their files in an order
// insmod can load them, dependencies first. The dependencies are read from
// each module's .modinfo, as a package ships no modules.dep (depmod writes
// it on install). Only plain .ko files are taken: the kernels that compress
// their modules (.ko.xz, .ko.zst) are newer than 5.4 and need none.
func LoadOrder(dir string, want []string) ([]string, error) {
	plain, compressed := map[string]string{}, map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			if strings.HasSuffix(d.Name(), ".ko") {
				plain[modName(d.Name())] = p
			} else if strings.Contains(d.Name(), ".ko.") {
				compressed[modName(d.Name())] = p
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("modules: %w", err)
	}
	var order []string
	state := map[string]int{} // 1: being visited, 2: listed
	var visit func(name string) error
	visit = func(name string) error {
		switch state[name] {
		case 1:
			return fmt.Errorf("modules: %s depends on itself", name)
		case 2:
			return nil
		}
		p, ok := plain[name]
		if !ok {
			if c, ok := compressed[name]; ok {
				return fmt.Errorf("modules: %s is compressed (%s); memlab loads plain .ko files only", name, filepath.Base(c))
			}
			return fmt.Errorf("modules: no %s module under %s", name, dir)
		}
		state[name] = 1
		deps, err := moduleDepends(p)
		if err != nil {
			return err
		}
		for _, d := range deps {
			if err := visit(d); err != nil {
				return err
			}
		}
		state[name] = 2
		order = append(order, p)
		return nil
	}
	for _, w := range want {
		if err := visit(modName(w)); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// moduleDepends reads the depends= entry of a module's .modinfo section.
func moduleDepends(file string) ([]string, error) {
	f, err := elf.Open(file)
	if err != nil {
		return nil, fmt.Errorf("modules: %w", err)
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, fmt.Errorf("modules: %s has no .modinfo section", file)
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("modules: %s: %w", file, err)
	}
	var deps []string
	for kv := range strings.SplitSeq(string(data), "\x00") {
		if list, ok := strings.CutPrefix(kv, "depends="); ok {
			for d := range strings.SplitSeq(list, ",") {
				if d != "" {
					deps = append(deps, modName(d))
				}
			}
		}
	}
	return deps, nil
}
