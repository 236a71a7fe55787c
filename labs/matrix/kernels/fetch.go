package kernels

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// DefaultCacheDir holds fetched kernels and the private apt state; it is
// outside the repository on purpose and survives between runs.
const DefaultCacheDir = "/var/cache/memlab/kernels"

// The archives as the host's own apt configuration would reach them; the
// private configuration only names them. Ubuntu's keyring is installed on
// Ubuntu (package ubuntu-keyring); elsewhere give a copy of it.
const (
	DefaultMirror        = "http://deb.debian.org/debian"
	DefaultKeyring       = "/usr/share/keyrings/debian-archive-keyring.gpg"
	DefaultUbuntuMirror  = "http://archive.ubuntu.com/ubuntu"
	DefaultUbuntuKeyring = "/usr/share/keyrings/ubuntu-archive-keyring.gpg"
)

// Kernel is a kernel image ready to boot.
type Kernel struct {
	Source
	Image   string `json:"image"`             // vmlinuz / bzImage to pass to -kernel
	Config  string `json:"config,omitempty"`  // its /boot/config-*, when known
	Release string `json:"release"`           // uname -r
	Version string `json:"version,omitempty"` // the package version
	Binary  string `json:"binary_package,omitempty"`
	// Modules are loaded by the guest, in this order, before anything else:
	// the driver of the guest's hardware RNG where the kernel has it as a
	// module and needs it (see RNGModules).
	Modules []string `json:"modules,omitempty"`
	Fetched bool     `json:"-"` // this run downloaded it
	// Missing says why a kernel image the list names is not on this
	// machine; such a kernel's cells are skipped, not failed.
	Missing string `json:"-"`
}

// Cache fetches Debian's and Ubuntu's kernels into Dir through apt-get with
// an apt configuration of its own (sources.list, lists, archives and status
// in Dir/.apt-SUITE-*, removed once the kernel is cached): the machine's apt
// sources and state are never read or written. A cached kernel is
// Dir/ARCHIVE/SUITE/PACKAGE/{vmlinuz,config,modules/,kernel.json}.
type Cache struct {
	Dir           string
	Mirror        string // Debian's archive; default DefaultMirror
	Keyring       string // default DefaultKeyring
	UbuntuMirror  string // Ubuntu's archive; default DefaultUbuntuMirror
	UbuntuKeyring string // default DefaultUbuntuKeyring
	// Refresh re-reads the archive and fetches a newer package if there is one;
	// otherwise a cached kernel is used without any network access.
	Refresh bool
	Log     func(format string, a ...any)
}

func (c *Cache) logf(format string, a ...any) {
	if c.Log != nil {
		c.Log(format, a...)
	}
}

func (c *Cache) dir(s Source) string { return filepath.Join(c.Dir, s.Archive, s.Suite, s.Package) }

// Get returns the kernel a source names, fetching it if the cache lacks it.
func (c *Cache) Get(ctx context.Context, s Source) (Kernel, error) {
	if s.Path != "" {
		return Local(s)
	}
	dir := c.dir(s)
	if !c.Refresh {
		if k, err := loadCached(dir, s); err == nil {
			return k, nil
		}
	}
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return Kernel{}, fmt.Errorf("kernel cache: %w", err)
	}
	unlock, err := lockDir(c.Dir)
	if err != nil {
		return Kernel{}, err
	}
	defer unlock()
	if !c.Refresh { // another run may have fetched it while we waited
		if k, err := loadCached(dir, s); err == nil {
			return k, nil
		}
	}
	return c.fetch(ctx, s, dir)
}

// Cached returns the kernel a source names without fetching anything: a
// path the user brought, or an archive's kernel already in the cache.
func (c *Cache) Cached(s Source) (Kernel, error) {
	if s.Path != "" {
		return Local(s)
	}
	return loadCached(c.dir(s), s)
}

func loadCached(dir string, s Source) (Kernel, error) {
	var k Kernel
	b, err := os.ReadFile(filepath.Join(dir, "kernel.json"))
	if err != nil {
		return k, err
	}
	if err := json.Unmarshal(b, &k); err != nil {
		return k, err
	}
	for _, f := range append([]string{k.Image}, k.Modules...) {
		if _, err := os.Stat(f); err != nil {
			return k, err
		}
	}
	k.Source = s // the list may name it differently from the run that fetched it
	return k, nil
}

// companions are the packages that may hold what an Ubuntu kernel's image
// package lacks: since bionic's later kernels its config and modules are in
// linux-modules-RELEASE (the rest in linux-modules-extra-RELEASE); xenial
// kept the modules a server rarely needs in linux-image-extra-RELEASE.
// Debian's linux-image packages hold all of it.
func companions(release string) []string {
	return []string{"linux-modules-" + release, "linux-modules-extra-" + release, "linux-image-extra-" + release}
}

func (c *Cache) fetch(ctx context.Context, s Source, dir string) (Kernel, error) {
	apt, err := c.privateApt(s)
	if err != nil {
		return Kernel{}, err
	}
	defer os.RemoveAll(apt.dir) // apt's lists and caches are only needed for this fetch
	c.logf("kernel %s: apt-get update (private configuration %s)", s.Name, apt.conf)
	if _, err := apt.run(ctx, "", "apt-get", "-q", "update"); err != nil {
		return Kernel{}, err
	}
	pkg, err := apt.resolve(ctx, s.Package)
	if err != nil {
		return Kernel{}, err
	}
	if old, err := loadCached(dir, s); err == nil && old.Binary == pkg {
		c.logf("kernel %s: %s is still the newest, keeping the cached image", s.Name, pkg)
		return old, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return Kernel{}, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".fetch-")
	if err != nil {
		return Kernel{}, err
	}
	defer os.RemoveAll(tmp)
	tree := filepath.Join(tmp, "tree")
	version, err := c.unpack(ctx, apt, s, pkg, tmp, tree)
	if err != nil {
		return Kernel{}, err
	}
	images, _ := filepath.Glob(filepath.Join(tree, "boot", "vmlinuz-*"))
	if len(images) != 1 {
		return Kernel{}, fmt.Errorf("kernel %s: %s holds %d /boot/vmlinuz-* files, want 1", s.Name, pkg, len(images))
	}
	release := strings.TrimPrefix(filepath.Base(images[0]), "vmlinuz-")
	config := filepath.Join(tree, "boot", "config-"+release)
	modules := filepath.Join(tree, "lib", "modules", release)

	// Take from the companion packages what the image package lacks: the
	// config, and the modules the guest must load.
	complete := func() bool {
		cfg, err := ReadConfig(config)
		if err != nil {
			return false
		}
		want := RNGModules(release, cfg)
		if len(want) == 0 {
			return true
		}
		_, err = LoadOrder(modules, want)
		return err == nil
	}
	for _, comp := range companions(release) {
		if complete() {
			break
		}
		if !apt.has(ctx, comp) {
			continue
		}
		if _, err := c.unpack(ctx, apt, s, comp, tmp, tree); err != nil {
			return Kernel{}, err
		}
	}
	var load []string
	if cfg, err := ReadConfig(config); err != nil {
		c.logf("kernel %s: no /boot/config-%s in %s or the packages beside it", s.Name, release, pkg)
	} else if want := RNGModules(release, cfg); len(want) > 0 {
		if load, err = LoadOrder(modules, want); err != nil {
			c.logf("kernel %s: the guest's hardware RNG will have no driver: %v", s.Name, err)
		}
	}

	out := filepath.Join(tmp, "out")
	if err := os.MkdirAll(filepath.Join(out, "modules"), 0o755); err != nil {
		return Kernel{}, err
	}
	if err := os.Rename(images[0], filepath.Join(out, "vmlinuz")); err != nil {
		return Kernel{}, err
	}
	k := Kernel{Source: s, Image: filepath.Join(dir, "vmlinuz"), Release: release,
		Version: version, Binary: pkg, Fetched: true}
	if err := os.Rename(config, filepath.Join(out, "config")); err == nil {
		k.Config = filepath.Join(dir, "config")
	}
	for _, m := range load {
		name := filepath.Base(m)
		if err := os.Rename(m, filepath.Join(out, "modules", name)); err != nil {
			return Kernel{}, err
		}
		k.Modules = append(k.Modules, filepath.Join(dir, "modules", name))
	}
	if len(load) > 0 {
		c.logf("kernel %s: the guest loads %s for its hardware RNG", s.Name, strings.Join(moduleNames(load), ", "))
	}
	b, _ := json.MarshalIndent(k, "", "  ")
	if err := os.WriteFile(filepath.Join(out, "kernel.json"), append(b, '\n'), 0o644); err != nil {
		return Kernel{}, err
	}
	if err := os.RemoveAll(dir); err != nil {
		return Kernel{}, err
	}
	if err := os.Rename(out, dir); err != nil {
		return Kernel{}, err
	}
	c.logf("kernel %s: %s %s (%s) cached in %s", s.Name, pkg, k.Version, release, dir)
	return k, nil
}

// unpack downloads one package into dir and extracts it into tree; it
// returns the package's version.
func (c *Cache) unpack(ctx context.Context, apt privateApt, s Source, pkg, dir, tree string) (string, error) {
	dl, err := os.MkdirTemp(dir, "deb-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dl)
	c.logf("kernel %s: apt-get download %s", s.Name, pkg)
	if _, err := apt.run(ctx, dl, "apt-get", "-q", "download", pkg); err != nil {
		return "", err
	}
	debs, _ := filepath.Glob(filepath.Join(dl, "*.deb"))
	if len(debs) != 1 {
		return "", fmt.Errorf("kernel %s: apt-get download %s left %d .deb files", s.Name, pkg, len(debs))
	}
	version, err := output(ctx, "", nil, "dpkg-deb", "-f", debs[0], "Version")
	if err != nil {
		return "", err
	}
	if _, err := output(ctx, "", nil, "dpkg-deb", "-x", debs[0], tree); err != nil {
		return "", err
	}
	return strings.TrimSpace(version), nil
}

// ReadConfig reads a kernel config file (CONFIG_X=y lines) into X: value.
func ReadConfig(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseConfig(f)
}

// Local describes a kernel image the user brought; its config is read from
// config-RELEASE beside it when there is one.
func Local(s Source) (Kernel, error) {
	abs, err := filepath.Abs(s.Path)
	if err != nil {
		return Kernel{}, err
	}
	st, err := os.Stat(abs)
	if err != nil {
		return Kernel{}, fmt.Errorf("kernel %s: %w", s.Name, err)
	}
	if !st.Mode().IsRegular() {
		return Kernel{}, fmt.Errorf("kernel %s: %s is not a file", s.Name, abs)
	}
	if err := CheckImage(abs); err != nil {
		return Kernel{}, fmt.Errorf("kernel %s: %w", s.Name, err)
	}
	k := Kernel{Source: s, Image: abs}
	k.Release, _ = ImageRelease(abs)
	if k.Release == "" {
		k.Release = "unknown"
	}
	for _, cand := range []string{
		filepath.Join(filepath.Dir(abs), "config-"+k.Release),
		filepath.Join(filepath.Dir(abs), "config"),
		filepath.Join(filepath.Dir(abs), ".config"),
	} {
		if _, err := os.Stat(cand); err == nil {
			k.Config = cand
			break
		}
	}
	return k, nil
}

// ErrNotKernel: a file given as a kernel image is not one qemu can boot.
var ErrNotKernel = errors.New("not a bootable x86 kernel")

// CheckImage says whether path is an x86 boot image: qemu -kernel needs
// the setup header's "HdrS" magic, and anything else (a binary, a
// compressed vmlinux) would only fail inside the guest, after its boot
// timeout, looking like a kernel that broke.
func CheckImage(path string) error {
	// A named pipe would block the open, a device be read for ever.
	if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() {
		return fmt.Errorf("%w: %s is not a regular file", ErrNotKernel, path)
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	magic := make([]byte, 4)
	if _, err := f.ReadAt(magic, 0x202); err != nil || string(magic) != "HdrS" {
		return fmt.Errorf("%w: %s has no bzImage header (\"HdrS\" at 0x202)", ErrNotKernel, path)
	}
	return nil
}

// ImageRelease reads the release string a bzImage carries in its setup
// header (what uname -r will print).
func ImageRelease(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	hdr := make([]byte, 0x210)
	if _, err := f.ReadAt(hdr, 0); err != nil {
		return "", err
	}
	if string(hdr[0x202:0x206]) != "HdrS" {
		return "", errors.New("not a bzImage")
	}
	off := int64(hdr[0x20e]) | int64(hdr[0x20f])<<8
	if off == 0 {
		return "", errors.New("bzImage carries no version string")
	}
	buf := make([]byte, 256)
	n, _ := f.ReadAt(buf, off+0x200)
	s := string(buf[:n])
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	f1 := strings.Fields(s)
	if len(f1) == 0 {
		return "", errors.New("empty version string")
	}
	return f1[0], nil
}

// privateApt is an apt configuration of memlab's own for one suite.
type privateApt struct {
	dir, conf string
}

// sourcesList is the apt sources a source is fetched from: Debian's suite
// alone (its kernel updates arrive with point releases), Ubuntu's suite
// with its -updates and -security pockets (a release pocket keeps the
// kernel the release shipped: xenial's is 4.4.0-21).
func (c *Cache) sourcesList(s Source) (string, error) {
	mirror, keyring, pockets := c.Mirror, c.Keyring, []string{""}
	def := [2]string{DefaultMirror, DefaultKeyring}
	remedy := "install debian-archive-keyring"
	switch s.Archive {
	case Debian:
	case Ubuntu:
		mirror, keyring, pockets = c.UbuntuMirror, c.UbuntuKeyring, []string{"", "-updates", "-security"}
		def = [2]string{DefaultUbuntuMirror, DefaultUbuntuKeyring}
		remedy = "give a copy of it with --ubuntu-keyring; docs/kernels.md says where to find one"
	default:
		return "", fmt.Errorf("kernel %s: no archive %q", s.Name, s.Archive)
	}
	if mirror == "" {
		mirror = def[0]
	}
	if keyring == "" {
		keyring = def[1]
	}
	if _, err := os.Stat(keyring); err != nil {
		return "", fmt.Errorf("kernel %s: %s's archive keyring: %w (%s)", s.Name, s.Archive, err, remedy)
	}
	var b strings.Builder
	for _, p := range pockets {
		fmt.Fprintf(&b, "deb [signed-by=%s] %s %s%s main\n", keyring, mirror, s.Suite, p)
	}
	return b.String(), nil
}

func (c *Cache) privateApt(s Source) (privateApt, error) {
	sources, err := c.sourcesList(s)
	if err != nil {
		return privateApt{}, err
	}
	root, err := filepath.Abs(c.Dir)
	if err != nil {
		return privateApt{}, err
	}
	dir, err := os.MkdirTemp(root, ".apt-"+s.Suite+"-")
	if err != nil {
		return privateApt{}, err
	}
	if err := writeAptConfig(dir, s.Archive+":"+s.Suite, sources); err != nil {
		os.RemoveAll(dir)
		return privateApt{}, err
	}
	return privateApt{dir: dir, conf: filepath.Join(dir, "apt.conf")}, nil
}

func writeAptConfig(dir, what, sources string) error {
	for _, d := range []string{"etc/apt.conf.d", "etc/sources.list.d", "etc/preferences.d",
		"etc/trusted.gpg.d", "state/lists/partial", "cache/archives/partial", "log"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	conf := fmt.Sprintf(`// memlab's private apt configuration for %[2]s: nothing of the machine's apt is used.
Dir::Etc "%[1]s/etc";
Dir::Etc::main "%[1]s/etc/apt.conf";
Dir::Etc::parts "%[1]s/etc/apt.conf.d";
Dir::Etc::sourcelist "%[1]s/etc/sources.list";
Dir::Etc::sourceparts "%[1]s/etc/sources.list.d";
Dir::Etc::preferences "%[1]s/etc/preferences";
Dir::Etc::preferencesparts "%[1]s/etc/preferences.d";
Dir::Etc::trusted "%[1]s/etc/trusted.gpg";
Dir::Etc::trustedparts "%[1]s/etc/trusted.gpg.d";
Dir::State "%[1]s/state";
Dir::State::status "%[1]s/state/status";
Dir::Cache "%[1]s/cache";
Dir::Log "%[1]s/log";
APT::Architecture "amd64";
APT::Architectures { "amd64"; };
APT::Sandbox::User "root";
Acquire::Languages "none";
Acquire::Retries "2";
`, dir, what)
	for name, text := range map[string]string{"etc/sources.list": sources, "apt.conf": conf} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(dir, "state/status"), nil, 0o644)
}

func (a privateApt) run(ctx context.Context, cwd string, name string, args ...string) (string, error) {
	return output(ctx, cwd, []string{"APT_CONFIG=" + a.conf}, name, args...)
}

// has reports whether the archive knows a package.
func (a privateApt) has(ctx context.Context, pkg string) bool {
	out, err := a.run(ctx, "", "apt-cache", "show", "--no-all-versions", pkg)
	return err == nil && strings.Contains(out, "Package: "+pkg)
}

// resolve follows a metapackage (linux-image-cloud-amd64) to the package
// that carries the image (linux-image-6.1.0-50-cloud-amd64).
func (a privateApt) resolve(ctx context.Context, pkg string) (string, error) {
	for range 3 {
		out, err := a.run(ctx, "", "apt-cache", "depends", "--no-recommends", "--no-suggests", pkg)
		if err != nil {
			return "", err
		}
		next := ""
		for line := range strings.SplitSeq(out, "\n") {
			f := strings.Fields(line)
			if len(f) == 2 && (f[0] == "Depends:" || f[0] == "|Depends:") && strings.HasPrefix(f[1], "linux-image-") {
				next = f[1]
				break
			}
		}
		if next == "" {
			return pkg, nil
		}
		pkg = next
	}
	return "", fmt.Errorf("apt-cache depends: %s does not lead to a kernel image", pkg)
}

func output(ctx context.Context, cwd string, env []string, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = cwd
	cmd.Env = append(os.Environ(), "LC_ALL=C", "DEBIAN_FRONTEND=noninteractive")
	cmd.Env = append(cmd.Env, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
			msg = msg[i+1:]
		}
		return "", fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, msg)
	}
	return stdout.String(), nil
}

// lockDir holds an exclusive flock on dir/.lock until the returned func runs.
func lockDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// Newest asks the archive, without downloading any kernel, which package
// carries the kernel an archive source names today and at which version:
// what a cache of kernels is keyed on (a CI cache is stale once either
// changes). A source given by path is not the archive's: it has neither.
func (c *Cache) Newest(ctx context.Context, s Source) (pkg, version string, err error) {
	if s.Path != "" {
		return "", "", fmt.Errorf("kernel %s: given by path, not from an archive", s.Name)
	}
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return "", "", fmt.Errorf("kernel cache: %w", err)
	}
	apt, err := c.privateApt(s)
	if err != nil {
		return "", "", err
	}
	defer os.RemoveAll(apt.dir)
	if _, err := apt.run(ctx, "", "apt-get", "-q", "update"); err != nil {
		return "", "", err
	}
	if pkg, err = apt.resolve(ctx, s.Package); err != nil {
		return "", "", err
	}
	out, err := apt.run(ctx, "", "apt-cache", "show", "--no-all-versions", pkg)
	if err != nil {
		return "", "", err
	}
	for line := range strings.SplitSeq(out, "\n") {
		if v, ok := strings.CutPrefix(line, "Version: "); ok {
			return pkg, strings.TrimSpace(v), nil
		}
	}
	return "", "", fmt.Errorf("kernel %s: apt-cache show %s gives no version", s.Name, pkg)
}
