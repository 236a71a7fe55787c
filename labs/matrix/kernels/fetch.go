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

// DefaultMirror and DefaultKeyring are Debian's archive as the host's own
// apt configuration reaches it; the private configuration only names them.
const (
	DefaultMirror  = "http://deb.debian.org/debian"
	DefaultKeyring = "/usr/share/keyrings/debian-archive-keyring.gpg"
)

// Kernel is a kernel image ready to boot.
type Kernel struct {
	Source
	Image   string `json:"image"`             // vmlinuz / bzImage to pass to -kernel
	Config  string `json:"config,omitempty"`  // its /boot/config-*, when known
	Release string `json:"release"`           // uname -r
	Version string `json:"version,omitempty"` // the Debian package version
	Binary  string `json:"binary_package,omitempty"`
	Fetched bool   `json:"-"` // this run downloaded it
}

// Cache fetches Debian kernels into Dir through apt-get with an apt
// configuration of its own (sources.list, lists, archives and status in
// Dir/.apt-SUITE-*, removed once the kernel is cached): the machine's apt
// sources and state are never read or written. A cached kernel is
// Dir/debian/SUITE/PACKAGE/{vmlinuz,config,kernel.json}.
type Cache struct {
	Dir     string
	Mirror  string // default DefaultMirror
	Keyring string // default DefaultKeyring
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

// Get returns the kernel a source names, fetching it if the cache lacks it.
func (c *Cache) Get(ctx context.Context, s Source) (Kernel, error) {
	if s.Path != "" {
		return Local(s)
	}
	dir := filepath.Join(c.Dir, "debian", s.Suite, s.Package)
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
// path the user brought, or a Debian kernel already in the cache.
func (c *Cache) Cached(s Source) (Kernel, error) {
	if s.Path != "" {
		return Local(s)
	}
	return loadCached(filepath.Join(c.Dir, "debian", s.Suite, s.Package), s)
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
	if _, err := os.Stat(k.Image); err != nil {
		return k, err
	}
	k.Name = s.Name // the list may name it differently from the run that fetched it
	return k, nil
}

func (c *Cache) fetch(ctx context.Context, s Source, dir string) (Kernel, error) {
	apt, err := c.privateApt(s.Suite)
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
	c.logf("kernel %s: apt-get download %s", s.Name, pkg)
	if _, err := apt.run(ctx, tmp, "apt-get", "-q", "download", pkg); err != nil {
		return Kernel{}, err
	}
	debs, _ := filepath.Glob(filepath.Join(tmp, "*.deb"))
	if len(debs) != 1 {
		return Kernel{}, fmt.Errorf("kernel %s: apt-get download %s left %d .deb files", s.Name, pkg, len(debs))
	}
	version, err := output(ctx, "", nil, "dpkg-deb", "-f", debs[0], "Version")
	if err != nil {
		return Kernel{}, err
	}
	tree := filepath.Join(tmp, "tree")
	if _, err := output(ctx, "", nil, "dpkg-deb", "-x", debs[0], tree); err != nil {
		return Kernel{}, err
	}
	images, _ := filepath.Glob(filepath.Join(tree, "boot", "vmlinuz-*"))
	if len(images) != 1 {
		return Kernel{}, fmt.Errorf("kernel %s: %s holds %d /boot/vmlinuz-* files, want 1", s.Name, pkg, len(images))
	}
	release := strings.TrimPrefix(filepath.Base(images[0]), "vmlinuz-")
	out := filepath.Join(tmp, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		return Kernel{}, err
	}
	if err := os.Rename(images[0], filepath.Join(out, "vmlinuz")); err != nil {
		return Kernel{}, err
	}
	k := Kernel{Source: s, Image: filepath.Join(dir, "vmlinuz"), Release: release,
		Version: strings.TrimSpace(version), Binary: pkg, Fetched: true}
	if err := os.Rename(filepath.Join(tree, "boot", "config-"+release), filepath.Join(out, "config")); err == nil {
		k.Config = filepath.Join(dir, "config")
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

func (c *Cache) privateApt(suite string) (privateApt, error) {
	mirror, keyring := c.Mirror, c.Keyring
	if mirror == "" {
		mirror = DefaultMirror
	}
	if keyring == "" {
		keyring = DefaultKeyring
	}
	root, err := filepath.Abs(c.Dir)
	if err != nil {
		return privateApt{}, err
	}
	dir, err := os.MkdirTemp(root, ".apt-"+suite+"-")
	if err != nil {
		return privateApt{}, err
	}
	if err := writeAptConfig(dir, suite, mirror, keyring); err != nil {
		os.RemoveAll(dir)
		return privateApt{}, err
	}
	return privateApt{dir: dir, conf: filepath.Join(dir, "apt.conf")}, nil
}

func writeAptConfig(dir, suite, mirror, keyring string) error {
	for _, d := range []string{"etc/apt.conf.d", "etc/sources.list.d", "etc/preferences.d",
		"etc/trusted.gpg.d", "state/lists/partial", "cache/archives/partial", "log"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	sources := fmt.Sprintf("deb [signed-by=%s] %s %s main\n", keyring, mirror, suite)
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
`, dir, suite)
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
