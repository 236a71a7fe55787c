// Package sysimage builds and caches the matrix's Docker guest: a Debian
// disk image with systemd as PID 1 and Docker, made from Debian's packages
// by mmdebstrap (in a user namespace: nothing is mounted on the host) and
// mkfs.ext4 -d (which fills the file system without mounting it). The image
// is keyed by its recipe (the files in recipe/, the suite, the mirror and
// the mkfs options) and rebuilt only when that changes. Nothing of a cell
// is in it: the suites and the cell's script come on a second, read-only
// disk, so a changed suite never rebuilds the image.
package sysimage

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

//go:embed recipe
var recipe embed.FS

// Defaults of a Builder.
const (
	DefaultDir    = "/var/cache/memlab/images"
	DefaultSuite  = "bookworm" // Debian 12: systemd 252, docker.io 20.10
	DefaultMirror = "http://deb.debian.org/debian"
	// The disk's size; its file is sparse, and a cell writes to a snapshot.
	diskSize = "2G"
)

// mkfsFeatures leaves out what e2fsprogs 1.47 turns on and older kernels
// cannot mount read-write (orphan_file needs 5.15; metadata_csum_seed 4.4
// reads, but keep the oldest kernel safe).
var mkfsFeatures = "^orphan_file,^metadata_csum_seed"

// Builder makes the image, or finds it in Dir.
type Builder struct {
	Dir    string // default DefaultDir
	Suite  string // default DefaultSuite
	Mirror string // default DefaultMirror
	Log    func(format string, a ...any)
}

// Image is a built disk.
type Image struct {
	Disk      string    `json:"disk"`  // raw ext4, labelled memlab-root
	Key       string    `json:"key"`   // the recipe's hash
	Suite     string    `json:"suite"` // Debian suite of its packages
	Packages  []string  `json:"packages"`
	Versions  []string  `json:"versions,omitempty"` // docker.io, systemd, ... as installed
	Built     time.Time `json:"built"`
	BuildSecs float64   `json:"build_seconds"`
	Fresh     bool      `json:"-"` // this call built it
}

// ErrNoTool is a program the build needs that is not installed.
var ErrNoTool = errors.New("the Docker guest image cannot be built here")

func (b *Builder) defaults() {
	if b.Dir == "" {
		b.Dir = DefaultDir
	}
	if b.Suite == "" {
		b.Suite = DefaultSuite
	}
	if b.Mirror == "" {
		b.Mirror = DefaultMirror
	}
	if b.Log == nil {
		b.Log = func(string, ...any) {}
	}
}

// Packages is the recipe's package list.
func Packages() []string {
	data, _ := recipe.ReadFile("recipe/packages.txt")
	var out []string
	for l := range strings.SplitSeq(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// Key is the hash of everything the image is made from.
func (b Builder) Key() string {
	b.defaults()
	h := sha256.New()
	var names []string
	_ = fs.WalkDir(recipe, "recipe", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, p)
		}
		return nil
	})
	sort.Strings(names)
	for _, n := range names {
		data, _ := recipe.ReadFile(n)
		fmt.Fprintf(h, "%s %d\n", n, len(data))
		h.Write(data)
	}
	fmt.Fprintf(h, "suite %s\nmirror %s\nmkfs %s %s\n", b.Suite, b.Mirror, mkfsFeatures, diskSize)
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Path is where the image with this recipe lives.
func (b Builder) Path() string {
	b.defaults()
	return filepath.Join(b.Dir, "docker-guest-"+b.Suite+"-"+b.Key())
}

// Cached is the image if it is built, without building it.
func (b Builder) Cached() (Image, error) {
	b.defaults()
	data, err := os.ReadFile(filepath.Join(b.Path(), "image.json"))
	if err != nil {
		return Image{}, err
	}
	var img Image
	if err := json.Unmarshal(data, &img); err != nil {
		return Image{}, fmt.Errorf("%s: %w", b.Path(), err)
	}
	if _, err := os.Stat(img.Disk); err != nil {
		return Image{}, err
	}
	return img, nil
}

// Get returns the cached image, building it first when its recipe has none.
// Only one build runs at a time (a lock in Dir); a build that fails or is
// cancelled leaves nothing behind.
func (b Builder) Get(ctx context.Context) (Image, error) {
	b.defaults()
	if img, err := b.Cached(); err == nil {
		return img, nil
	}
	for _, tool := range []string{"mmdebstrap", "mkfs.ext4", "tar"} {
		if _, err := exec.LookPath(tool); err != nil {
			return Image{}, fmt.Errorf("%w: %s is not installed (vagrant/provision.sh installs mmdebstrap and e2fsprogs)", ErrNoTool, tool)
		}
	}
	if err := os.MkdirAll(b.Dir, 0o755); err != nil {
		return Image{}, err
	}
	unlock, err := lock(filepath.Join(b.Dir, ".lock"))
	if err != nil {
		return Image{}, err
	}
	defer unlock()
	if img, err := b.Cached(); err == nil { // built while we waited
		return img, nil
	}
	// With the lock held no build runs: a .build-* here is a killed one's.
	stale, _ := filepath.Glob(filepath.Join(b.Dir, ".build-*"))
	for _, d := range stale {
		if os.RemoveAll(d) == nil {
			b.Log("docker guest: removed %s, left by a killed build", d)
		}
	}
	return b.build(ctx)
}

func (b Builder) build(ctx context.Context) (Image, error) {
	start := time.Now()
	tmp, err := os.MkdirTemp(b.Dir, ".build-")
	if err != nil {
		return Image{}, err
	}
	defer os.RemoveAll(tmp)
	rec := filepath.Join(tmp, "recipe")
	if err := os.CopyFS(rec, mustSub(recipe, "recipe")); err != nil {
		return Image{}, err
	}
	pkgs := Packages()
	root := filepath.Join(tmp, "root")
	b.Log("docker guest: building the image with mmdebstrap (%s, %d packages; once, then cached in %s)", b.Suite, len(pkgs), b.Dir)
	// As root, unshare mode only unshares the mount namespace: the files
	// keep their real owners, and the chroot's mounts die with it.
	args := []string{"--mode=unshare", "--variant=minbase", "--format=directory",
		"--include=" + strings.Join(pkgs, ","),
		"--dpkgopt=path-exclude=/usr/share/doc/*", "--dpkgopt=path-exclude=/usr/share/man/*",
		"--dpkgopt=path-exclude=/usr/share/locale/*",
		"--customize-hook=env MEMLAB_RECIPE=" + rec + " sh " + filepath.Join(rec, "customize.sh") + ` "$1"`,
		b.Suite, root, b.Mirror}
	if err := run(ctx, "", "mmdebstrap", args...); err != nil {
		return Image{}, err
	}
	out := filepath.Join(tmp, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		return Image{}, err
	}
	disk := filepath.Join(out, "disk.ext4")
	if err := Ext4FromDir(ctx, root, disk, "memlab-root", diskSize, ""); err != nil {
		return Image{}, err
	}
	final := b.Path()
	img := Image{Disk: filepath.Join(final, "disk.ext4"), Key: b.Key(), Suite: b.Suite, Packages: pkgs,
		Built: time.Now().UTC(), BuildSecs: float64(time.Since(start).Milliseconds()) / 1000, Fresh: true}
	img.Versions = installed(root, "docker.io", "systemd", "containerd", "runc", "stress")
	data, _ := json.MarshalIndent(img, "", "  ")
	if err := os.WriteFile(filepath.Join(out, "image.json"), append(data, '\n'), 0o644); err != nil {
		return Image{}, err
	}
	// Images of older recipes go: each is a gigabyte or two of sparse file.
	old, _ := filepath.Glob(filepath.Join(b.Dir, "docker-guest-"+b.Suite+"-*"))
	for _, o := range old {
		if o != final {
			_ = os.RemoveAll(o)
		}
	}
	if err := os.Rename(out, final); err != nil {
		return Image{}, err
	}
	b.Log("docker guest: image built in %.0fs: %s (%s)", img.BuildSecs, img.Disk, strings.Join(img.Versions, " "))
	return img, nil
}

// installed is "package=version" of each named package in root's dpkg
// status file.
func installed(root string, pkgs ...string) []string {
	data, err := os.ReadFile(filepath.Join(root, "var/lib/dpkg/status"))
	if err != nil {
		return nil
	}
	have := map[string]string{}
	for para := range strings.SplitSeq(string(data), "\n\n") {
		var name, version string
		for l := range strings.SplitSeq(para, "\n") {
			if v, ok := strings.CutPrefix(l, "Package: "); ok {
				name = v
			} else if v, ok := strings.CutPrefix(l, "Version: "); ok {
				version = v
			}
		}
		have[name] = version
	}
	var out []string
	for _, p := range pkgs {
		if v := have[p]; v != "" {
			out = append(out, p+"="+v)
		}
	}
	return out
}

func mustSub(f fs.FS, dir string) fs.FS {
	s, err := fs.Sub(f, dir)
	if err != nil {
		panic(err)
	}
	return s
}

func run(ctx context.Context, dir, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	out, err := cmd.CombinedOutput()
	if err != nil {
		text := strings.TrimSpace(string(out))
		if lines := strings.Split(text, "\n"); len(lines) > 15 {
			text = strings.Join(lines[len(lines)-15:], "\n")
		}
		return fmt.Errorf("%s: %w\n%s", name, err, text)
	}
	return nil
}

// Ext4FromDir makes file an ext4 file system of size ("4G", "12M") that
// holds dir's tree, with mkfs.ext4 -d: nothing is mounted. It has the
// features every kernel the matrix boots can mount (mkfsFeatures), less
// any extra ones (",^has_journal" for a disk only ever read).
func Ext4FromDir(ctx context.Context, dir, file, label, size, extra string) error {
	return run(ctx, "", "mkfs.ext4", "-q", "-F", "-L", label, "-O", mkfsFeatures+extra, "-d", dir, file, size)
}

// lock holds an exclusive flock on file until the returned func runs.
func lock(file string) (func(), error) {
	f, err := os.OpenFile(file, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}
