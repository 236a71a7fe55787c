package kernels

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// fakeModule is the smallest ELF relocatable a module reader accepts: a
// .modinfo section with name= and depends=, and the section names.
func fakeModule(name, depends string) []byte {
	modinfo := []byte("license=GPL\x00depends=" + depends + "\x00name=" + name + "\x00")
	shstrtab := []byte("\x00.modinfo\x00.shstrtab\x00")
	const ehsize, shentsize = 64, 64
	infoOff := uint64(ehsize)
	strOff := infoOff + uint64(len(modinfo))
	shoff := (strOff + uint64(len(shstrtab)) + 7) &^ 7
	var b bytes.Buffer
	le := binary.LittleEndian
	// Writes to a bytes.Buffer cannot fail: their errors are dropped below.
	b.Write([]byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0})
	b.Write(make([]byte, 8))
	_ = binary.Write(&b, le, uint16(1))  // ET_REL
	_ = binary.Write(&b, le, uint16(62)) // EM_X86_64
	_ = binary.Write(&b, le, uint32(1))
	_ = binary.Write(&b, le, uint64(0)) // entry
	_ = binary.Write(&b, le, uint64(0)) // phoff
	_ = binary.Write(&b, le, shoff)
	_ = binary.Write(&b, le, uint32(0))
	_ = binary.Write(&b, le, uint16(ehsize))
	_ = binary.Write(&b, le, uint16(0)) // phentsize
	_ = binary.Write(&b, le, uint16(0)) // phnum
	_ = binary.Write(&b, le, uint16(shentsize))
	_ = binary.Write(&b, le, uint16(3)) // shnum
	_ = binary.Write(&b, le, uint16(2)) // shstrndx
	b.Write(modinfo)
	b.Write(shstrtab)
	b.Write(make([]byte, int(shoff)-b.Len()))
	section := func(name, typ uint32, off, size uint64) {
		_ = binary.Write(&b, le, name)
		_ = binary.Write(&b, le, typ)
		_ = binary.Write(&b, le, uint64(0)) // flags
		_ = binary.Write(&b, le, uint64(0)) // addr
		_ = binary.Write(&b, le, off)
		_ = binary.Write(&b, le, size)
		_ = binary.Write(&b, le, uint32(0)) // link
		_ = binary.Write(&b, le, uint32(0)) // info
		_ = binary.Write(&b, le, uint64(1)) // addralign
		_ = binary.Write(&b, le, uint64(0)) // entsize
	}
	section(0, 0, 0, 0)
	section(1, 1, infoOff, uint64(len(modinfo)))  // .modinfo, PROGBITS
	section(10, 3, strOff, uint64(len(shstrtab))) // .shstrtab, STRTAB
	return b.Bytes()
}

func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLoadOrder(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"kernel/drivers/virtio/virtio_ring.ko":          string(fakeModule("virtio_ring", "")),
		"kernel/drivers/virtio/virtio.ko":               string(fakeModule("virtio", "virtio_ring")),
		"kernel/drivers/virtio/virtio_pci.ko":           string(fakeModule("virtio_pci", "virtio,virtio_ring")),
		"kernel/drivers/char/hw_random/rng-core.ko":     string(fakeModule("rng_core", "")),
		"kernel/drivers/char/hw_random/virtio-rng.ko":   string(fakeModule("virtio_rng", "rng-core,virtio,virtio_ring")),
		"kernel/drivers/char/hw_random/intel-rng.ko":    string(fakeModule("intel_rng", "rng-core")),
		"kernel/drivers/net/ethernet/intel/e1000.ko.xz": "compressed",
	})
	got, err := LoadOrder(dir, []string{"virtio_pci", "virtio_rng"})
	if err != nil {
		t.Fatal(err)
	}
	want := "virtio_ring virtio virtio_pci rng_core virtio_rng"
	if g := strings.Join(moduleNames(got), " "); g != want {
		t.Errorf("load order %q, want %q", g, want)
	}
	if _, err := LoadOrder(dir, []string{"e1000"}); err == nil || !strings.Contains(err.Error(), "compressed") {
		t.Errorf("a compressed module: %v", err)
	}
	if _, err := LoadOrder(dir, []string{"nothere"}); err == nil {
		t.Error("a missing module gave no error")
	}
}

func TestRNGModules(t *testing.T) {
	cases := []struct {
		release, cfg, want string
	}{
		// xenial: virtio built in, the RNG driver a module.
		{"4.4.0-210-generic", "VIRTIO_PCI=y HW_RANDOM_VIRTIO=m", "virtio_rng"},
		// Debian bookworm: both modules, but 6.1 does not wait for entropy.
		{"6.1.0-50-cloud-amd64", "VIRTIO_PCI=m HW_RANDOM_VIRTIO=m", ""},
		{"4.15.0-213-generic", "VIRTIO_PCI=m HW_RANDOM_VIRTIO=m", "virtio_pci virtio_rng"},
		{"4.4.178-memlab", "VIRTIO_PCI=y HW_RANDOM_VIRTIO=y", ""}, // built in: nothing to load
		{"4.9.0-x", "VIRTIO_PCI=m HW_RANDOM_VIRTIO=n", ""},        // no driver at all
		{"unknown", "VIRTIO_PCI=y HW_RANDOM_VIRTIO=m", "virtio_rng"},
	}
	for _, c := range cases {
		cfg := map[string]string{}
		for kv := range strings.FieldsSeq(c.cfg) {
			k, v, _ := strings.Cut(kv, "=")
			cfg[k] = v
		}
		if got := strings.Join(RNGModules(c.release, cfg), " "); got != c.want {
			t.Errorf("%s %s: %q, want %q", c.release, c.cfg, got, c.want)
		}
	}
}

// deb is a package of the fake archive.
type deb struct {
	name, version, depends string
	files                  map[string]string
}

// ubuntuArchive builds a signed apt archive of fake kernel packages laid
// out as Ubuntu's (dists/SUITE{,-updates,-security}, pool/main), returning
// its file:// URL and the keyring that verifies it. It needs dpkg-deb and
// gpg; the gpg agent it starts is stopped when the test ends.
func ubuntuArchive(t *testing.T, dists map[string][]deb) (mirror, keyring string) {
	t.Helper()
	for _, tool := range []string{"apt-get", "dpkg-deb", "gpg", "gpgconf"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s on this machine: the archive test needs apt-get, dpkg-deb and gpg", tool)
		}
	}
	root := t.TempDir()
	build := filepath.Join(t.TempDir(), "build")
	run := func(env []string, name string, args ...string) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Env = append(os.Environ(), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
	}
	var names []string
	for d := range dists {
		names = append(names, d)
	}
	sort.Strings(names)
	for _, dist := range names {
		var index bytes.Buffer
		for _, p := range dists[dist] {
			tree := filepath.Join(build, p.name+"_"+p.version)
			files := map[string]string{"DEBIAN/control": fmt.Sprintf(
				"Package: %s\nVersion: %s\nArchitecture: amd64\nMaintainer: memlab tests <tests@memlab.invalid>\n"+
					"Description: fake kernel package for memlab's fetch test\n", p.name, p.version)}
			if p.depends != "" {
				files["DEBIAN/control"] += "Depends: " + p.depends + "\n"
			}
			maps.Copy(files, p.files)
			writeFiles(t, tree, files)
			rel := filepath.Join("pool", "main", p.name+"_"+p.version+"_amd64.deb")
			if err := os.MkdirAll(filepath.Join(root, "pool", "main"), 0o755); err != nil {
				t.Fatal(err)
			}
			run(nil, "dpkg-deb", "--root-owner-group", "-Zgzip", "--build", tree, filepath.Join(root, rel))
			data, err := os.ReadFile(filepath.Join(root, rel))
			if err != nil {
				t.Fatal(err)
			}
			sha, md := sha256.Sum256(data), md5.Sum(data)
			index.WriteString(files["DEBIAN/control"])
			fmt.Fprintf(&index, "Filename: %s\nSize: %d\nMD5sum: %s\nSHA256: %s\n\n", rel, len(data), hex.EncodeToString(md[:]), hex.EncodeToString(sha[:]))
		}
		pk := filepath.Join("main", "binary-amd64", "Packages")
		writeFiles(t, filepath.Join(root, "dists", dist), map[string]string{pk: index.String()})
		sha := sha256.Sum256(index.Bytes())
		release := fmt.Sprintf("Origin: Ubuntu\nLabel: Ubuntu\nSuite: %s\nCodename: %s\nDate: %s\nArchitectures: amd64\nComponents: main\nSHA256:\n %s %d %s\n",
			dist, dist, time.Now().UTC().Format(time.RFC1123), hex.EncodeToString(sha[:]), index.Len(), pk)
		writeFiles(t, filepath.Join(root, "dists", dist), map[string]string{"Release": release})
	}
	gnupg := filepath.Join(t.TempDir(), "g")
	if err := os.Mkdir(gnupg, 0o700); err != nil {
		t.Fatal(err)
	}
	env := []string{"GNUPGHOME=" + gnupg}
	t.Cleanup(func() { _ = exec.Command("env", "GNUPGHOME="+gnupg, "gpgconf", "--kill", "all").Run() })
	gpg := []string{"--batch", "--pinentry-mode", "loopback", "--passphrase", ""}
	run(env, "gpg", append(gpg, "--quick-gen-key", "memlab test archive <tests@memlab.invalid>", "ed25519", "sign", "never")...)
	keyring = filepath.Join(t.TempDir(), "archive-keyring.gpg")
	run(env, "gpg", append(gpg, "--output", keyring, "--export")...)
	for _, dist := range names {
		d := filepath.Join(root, "dists", dist)
		run(env, "gpg", append(gpg, "--clearsign", "--output", filepath.Join(d, "InRelease"), filepath.Join(d, "Release"))...)
	}
	return "file://" + root, keyring
}

func fakeImage(release string) string { return "bzImage of " + release }

func TestFetchUbuntu(t *testing.T) {
	const xenial, jammy = "4.4.0-210-generic", "5.15.0-91-generic"
	xenialConfig := "CONFIG_VIRTIO_PCI=y\nCONFIG_HW_RANDOM=y\nCONFIG_HW_RANDOM_VIRTIO=m\nCONFIG_MEMCG=y\n"
	mirror, keyring := ubuntuArchive(t, map[string][]deb{
		// The release pocket keeps the kernel xenial shipped; -updates has
		// the newest, which is the one to fetch.
		"xenial": {
			{name: "linux-image-generic", version: "4.4.0.21.22", depends: "linux-image-4.4.0-21-generic, linux-image-extra-4.4.0-21-generic, linux-firmware"},
			{name: "linux-image-4.4.0-21-generic", version: "4.4.0-21.37", files: map[string]string{
				"boot/vmlinuz-4.4.0-21-generic": fakeImage("4.4.0-21-generic")}},
		},
		"xenial-updates": {
			{name: "linux-image-generic", version: "4.4.0.210.216", depends: "linux-image-4.4.0-210-generic, linux-image-extra-4.4.0-210-generic, linux-firmware"},
			{name: "linux-image-4.4.0-210-generic", version: "4.4.0-210.242", files: map[string]string{
				"boot/vmlinuz-" + xenial: fakeImage(xenial), "boot/config-" + xenial: xenialConfig,
				"lib/modules/" + xenial + "/kernel/fs/ext4/ext4.ko": string(fakeModule("ext4", ""))}},
			// xenial kept the RNG driver among the "extra" modules.
			{name: "linux-image-extra-4.4.0-210-generic", version: "4.4.0-210.242", files: map[string]string{
				"lib/modules/" + xenial + "/kernel/drivers/char/hw_random/virtio-rng.ko": string(fakeModule("virtio_rng", ""))}},
		},
		"xenial-security": {},
		// Since bionic's later kernels the config and modules are in linux-modules-RELEASE.
		"jammy": {
			{name: "linux-image-generic", version: "5.15.0.91.88", depends: "linux-image-5.15.0-91-generic, linux-modules-extra-5.15.0-91-generic"},
			{name: "linux-image-5.15.0-91-generic", version: "5.15.0-91.101", depends: "linux-base, linux-modules-5.15.0-91-generic", files: map[string]string{
				"boot/vmlinuz-" + jammy: fakeImage(jammy)}},
			{name: "linux-modules-5.15.0-91-generic", version: "5.15.0-91.101", files: map[string]string{
				"boot/config-" + jammy: "CONFIG_VIRTIO_PCI=y\nCONFIG_HW_RANDOM_VIRTIO=m\n",
				"lib/modules/" + jammy + "/kernel/drivers/char/hw_random/virtio-rng.ko": string(fakeModule("virtio_rng", ""))}},
		},
		"jammy-updates":  {},
		"jammy-security": {},
	})
	cache := &Cache{Dir: t.TempDir(), UbuntuMirror: mirror, UbuntuKeyring: keyring, Log: t.Logf}

	srcs, err := ParseEntries("ubuntu:xenial,ubuntu:jammy")
	if err != nil {
		t.Fatal(err)
	}
	k, err := cache.Get(t.Context(), srcs[0])
	if err != nil {
		t.Fatal(err)
	}
	if k.Release != xenial || k.Binary != "linux-image-"+xenial || k.Version != "4.4.0-210.242" || !k.Fetched {
		t.Errorf("xenial: %+v", k)
	}
	if b, _ := os.ReadFile(k.Image); string(b) != fakeImage(xenial) {
		t.Errorf("xenial image %q", b)
	}
	if b, _ := os.ReadFile(k.Config); string(b) != xenialConfig {
		t.Errorf("xenial config %q", b)
	}
	if len(k.Modules) != 1 || filepath.Base(k.Modules[0]) != "virtio-rng.ko" {
		t.Errorf("xenial modules %v, want the RNG driver from linux-image-extra", k.Modules)
	}
	if again, err := cache.Cached(srcs[0]); err != nil || again.Image != k.Image || len(again.Modules) != 1 {
		t.Errorf("cached: %+v %v", again, err)
	}

	k, err = cache.Get(t.Context(), srcs[1])
	if err != nil {
		t.Fatal(err)
	}
	if k.Release != jammy || k.Config == "" || len(k.Modules) != 0 {
		t.Errorf("jammy: %+v (want its config from linux-modules, and no module: 5.15 does not wait for entropy)", k)
	}
	left, _ := filepath.Glob(filepath.Join(cache.Dir, ".*"))
	for _, l := range left {
		if filepath.Base(l) != ".lock" {
			t.Errorf("the fetch left %s", l)
		}
	}
}

func TestUbuntuNeedsKeyring(t *testing.T) {
	c := &Cache{Dir: t.TempDir(), UbuntuKeyring: filepath.Join(t.TempDir(), "none.gpg")}
	_, err := c.Get(t.Context(), Source{Name: "x", Archive: Ubuntu, Suite: "xenial", Package: DefaultUbuntuPackage})
	if err == nil || !strings.Contains(err.Error(), "--ubuntu-keyring") {
		t.Errorf("no keyring: %v", err)
	}
}
