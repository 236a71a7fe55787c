package capture

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/memlab/memlab/labs/matrix/guest"
	"github.com/memlab/memlab/labs/matrix/kernels"
	"github.com/memlab/memlab/labs/rootfs"
)

var (
	capture     = flag.Bool("capture", false, "boot each kernel in each mode under qemu and rewrite the parser fixtures")
	kernelList  = flag.String("capture.kernels", "", "kernels as memlab matrix --kernels takes them (NAME=debian:SUITE or NAME=PATH, comma-separated); default fixtures/kernels.txt")
	guestLimit  = flag.Duration("capture.timeout", 3*time.Minute, "hard timeout of each guest")
	kernelCache = flag.String("capture.cache", kernels.DefaultCacheDir, "where Debian kernels are cached (fetched if missing)")
)

// TestCapture is the capture itself, run by hand (labs/kernel/*/testdata/README.md):
//
//	go test ./labs/matrix/capture -run TestCapture -capture -v -timeout 30m
func TestCapture(t *testing.T) {
	if !*capture {
		t.Skip("captures only with -capture (it boots every kernel under qemu)")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var (
		sources []kernels.Source
		err     error
	)
	if *kernelList != "" {
		sources, err = kernels.ParseEntries(*kernelList)
	} else {
		sources, err = kernels.LoadList("../../../fixtures/kernels.txt")
	}
	if err != nil {
		t.Fatal(err)
	}
	initrd := filepath.Join(t.TempDir(), "capture.cpio")
	if err := Initramfs(initrd); err != nil {
		t.Fatal(err)
	}
	cache := &kernels.Cache{Dir: *kernelCache, Log: t.Logf}
	for _, s := range sources {
		k, err := cache.Get(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		for _, mode := range guest.Modes {
			start := time.Now()
			hb, err := Boot(ctx, k, mode, initrd, *guestLimit)
			if err != nil {
				t.Fatal(err)
			}
			fx, err := FromHandBack(hb)
			if errors.Is(err, ErrSkipped) {
				t.Logf("%s %s: %v", k.Name, mode, err)
				continue
			}
			if err != nil {
				t.Fatalf("%s %s: %v", k.Name, mode, err)
			}
			dirs, err := fx.Save("..")
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s %s (%s): %d files in %s, %.1fs", k.Name, mode, k.Release, len(fx.Files), strings.Join(dirs, " "), time.Since(start).Seconds())
		}
	}
}

// handBack is what the guest's /init writes to ttyS1 for these files.
func handBack(t *testing.T, files map[string]string) guest.HandBack {
	t.Helper()
	var tgz bytes.Buffer
	zw := gzip.NewWriter(&tgz)
	tw := tar.NewWriter(zw)
	for name, text := range files {
		if err := tw.WriteHeader(&tar.Header{Name: "./" + name, Mode: 0o644, Size: int64(len(text)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(text)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	stream := fmt.Sprintf("%s v1 %d\n%s\n%s %x\n", guest.BeginMarker, tgz.Len(),
		base64.StdEncoding.EncodeToString(tgz.Bytes()), guest.EndMarker, md5.Sum(tgz.Bytes()))
	hb, err := guest.ParseHandBack(strings.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	return hb
}

func okFiles() map[string]string {
	return map[string]string{
		"status": "ok\n", "mode": "v2\n", "release": "6.1.0-50-cloud-amd64\n",
		"cgroup/capture.txt":    "killed 1\n",
		"cgroup/memory.stat":    "anon 0\nfile 0\n",
		"cgroup/memory.events":  "low 0\nhigh 0\nmax 9\noom 1\noom_kill 1\n",
		"cgroup/mountinfo":      "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
		"kmsg/kmsg":             "4,512,9000,-;stress invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0\n",
		"kmsg/stress.out":       "stress: FAIL: [70] (415) <-- worker 71 got signal 9\n",
		"proc/70/cgroup":        "0::/memlab/capture\n",
		"uptime":                "9.1\n", // not a package's: left out
		"cgroup/../../escape":   "x",     // cleaned by ParseHandBack to a name outside cgroup/: left out
		"other/memory.stat":     "x",     // not a parser package: left out
		"cgroup/ls-memory":      "memory.stat\n",
		"cgroup/cgroup.procs":   "70\n",
		"cgroup/memory.current": "1234\n",
	}
}

func TestSaveMirrorsThePackagesFolders(t *testing.T) {
	fx, err := FromHandBack(handBack(t, okFiles()))
	if err != nil {
		t.Fatal(err)
	}
	if fx.Name() != "v2-6.1.0-50-cloud-amd64" {
		t.Errorf("Name() = %q", fx.Name())
	}
	root := t.TempDir()
	stale := filepath.Join(root, "proc", "testdata", fx.Name(), "99", "cgroup")
	if err := os.MkdirAll(filepath.Dir(stale), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stale, []byte("0::/old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.Save(root); err != nil {
		t.Fatal(err)
	}
	var got []string
	err = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			got = append(got, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"cgroup/testdata/v2-6.1.0-50-cloud-amd64/capture.txt",
		"cgroup/testdata/v2-6.1.0-50-cloud-amd64/cgroup.procs",
		"cgroup/testdata/v2-6.1.0-50-cloud-amd64/ls-memory",
		"cgroup/testdata/v2-6.1.0-50-cloud-amd64/memory.current",
		"cgroup/testdata/v2-6.1.0-50-cloud-amd64/memory.events",
		"cgroup/testdata/v2-6.1.0-50-cloud-amd64/memory.stat",
		"cgroup/testdata/v2-6.1.0-50-cloud-amd64/mountinfo",
		"kmsg/testdata/v2-6.1.0-50-cloud-amd64/kmsg",
		"kmsg/testdata/v2-6.1.0-50-cloud-amd64/stress.out",
		"proc/testdata/v2-6.1.0-50-cloud-amd64/70/cgroup",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("saved\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestFromHandBackRefusesWhatIsNoCapture(t *testing.T) {
	cases := map[string]func(map[string]string){
		"the guest failed":   func(m map[string]string) { m["status"] = "fail stress did not end" },
		"no OOM in the log":  func(m map[string]string) { m["kmsg/kmsg"] = "6,1,1,-;Linux version 6.1\n" },
		"stress not killed":  func(m map[string]string) { m["kmsg/stress.out"] = "stress: info: [70] successful run\n" },
		"no events file":     func(m map[string]string) { delete(m, "cgroup/memory.events") },
		"a release with a /": func(m map[string]string) { m["release"] = "6.1/../../x\n" },
		"an unknown mode":    func(m map[string]string) { m["mode"] = "v3\n" },
	}
	for name, spoil := range cases {
		files := okFiles()
		spoil(files)
		if _, err := FromHandBack(handBack(t, files)); err == nil || errors.Is(err, ErrSkipped) {
			t.Errorf("%s: %v", name, err)
		}
	}
	files := okFiles()
	files["status"] = "skip cgroup2 cannot be mounted (unknown filesystem type 'cgroup2')\n"
	if _, err := FromHandBack(handBack(t, files)); !errors.Is(err, ErrSkipped) {
		t.Errorf("a skipped mode: %v", err)
	}
}

func TestInitramfsRunsTheCaptureInit(t *testing.T) {
	if _, err := rootfs.Lab(rootfs.Tools{}); err != nil {
		t.Skip(err) // no static busybox or stress here
	}
	file := filepath.Join(t.TempDir(), "capture.cpio")
	if err := Initramfs(file); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range [][]byte{initScript, []byte("GROUP=" + Group + "\n"), []byte("HOG='" + Hog + "'\n"), []byte("usr/bin/stress")} {
		if !bytes.Contains(b, want) {
			t.Errorf("the archive lacks %q", want)
		}
	}
}
