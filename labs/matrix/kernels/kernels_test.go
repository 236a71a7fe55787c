package kernels

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseList(t *testing.T) {
	srcs, err := ParseList(strings.NewReader(`# comment
bullseye  debian:bullseye
old       debian:bookworm/linux-image-6.1.0-9-cloud-amd64   # pinned
debian:trixie
xenial    /srv/vmlinuz-4.4.0-117-generic
ubuntu:jammy
u16       ubuntu:xenial/linux-image-virtual
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []Source{
		{Name: "bullseye", Archive: Debian, Suite: "bullseye", Package: DefaultPackage},
		{Name: "old", Archive: Debian, Suite: "bookworm", Package: "linux-image-6.1.0-9-cloud-amd64"},
		{Name: "trixie", Archive: Debian, Suite: "trixie", Package: DefaultPackage},
		{Name: "xenial", Path: "/srv/vmlinuz-4.4.0-117-generic"},
		{Name: "jammy", Archive: Ubuntu, Suite: "jammy", Package: DefaultUbuntuPackage},
		{Name: "u16", Archive: Ubuntu, Suite: "xenial", Package: "linux-image-virtual"},
	}
	if len(srcs) != len(want) {
		t.Fatalf("%+v", srcs)
	}
	for i := range want {
		if srcs[i] != want[i] {
			t.Errorf("%d: %+v, want %+v", i, srcs[i], want[i])
		}
	}
	for _, bad := range []string{"a debian:x\na debian:y\n", "a b c\n", "x debian:\n", "../x debian:bookworm\n"} {
		if _, err := ParseList(strings.NewReader(bad)); !errors.Is(err, ErrBadList) {
			t.Errorf("%q: err %v", bad, err)
		}
	}
}

func TestLoadListResolvesPathsFromTheList(t *testing.T) {
	dir := t.TempDir()
	list := filepath.Join(dir, "fixtures", "kernels.txt")
	if err := errors.Join(os.MkdirAll(filepath.Dir(list), 0o755),
		os.WriteFile(list, []byte("linux44 ../../shared/kernels/linux-4.4/bzImage\nabs /k/bzImage\nbookworm debian:bookworm\n"), 0o644)); err != nil {
		t.Fatal(err)
	}
	srcs, err := LoadList(list)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(filepath.Dir(dir), "shared", "kernels", "linux-4.4", "bzImage"); srcs[0].Path != want {
		t.Errorf("relative path %q, want %q (relative to the list)", srcs[0].Path, want)
	}
	if srcs[1].Path != "/k/bzImage" || srcs[2].Path != "" {
		t.Errorf("%+v", srcs)
	}
}

func TestParseEntries(t *testing.T) {
	srcs, err := ParseEntries("path/to/vmlinuz-5.4.0-x, mine=/k/bzImage debian:bookworm")
	if err != nil {
		t.Fatal(err)
	}
	if len(srcs) != 3 || srcs[0].Name != "5.4.0-x" || srcs[1].Name != "mine" || srcs[1].Path != "/k/bzImage" || srcs[2].Name != "bookworm" {
		t.Fatalf("%+v", srcs)
	}
	if _, err := ParseEntries(" , "); !errors.Is(err, ErrBadList) {
		t.Errorf("empty list: %v", err)
	}
}

func TestCheck(t *testing.T) {
	base := "CONFIG_BLK_DEV_INITRD=y\nCONFIG_DEVTMPFS=y\nCONFIG_PROC_FS=y\nCONFIG_TMPFS=y\n" +
		"CONFIG_BINFMT_SCRIPT=y\nCONFIG_SERIAL_8250=y\nCONFIG_SERIAL_8250_CONSOLE=y\nCONFIG_CGROUPS=y\n" +
		"CONFIG_MEMCG=y\nCONFIG_NAMESPACES=y\nCONFIG_UTS_NS=y\nCONFIG_PID_NS=y\n"
	cases := map[string][]string{
		base:                                    nil, // before 6.11: no MEMCG_V1 option, v1 memcg built in
		base + "CONFIG_MEMCG_V1=y\n":            nil,
		base + "# CONFIG_MEMCG_V1 is not set\n": {"MEMCG_V1=n/v1"},
		strings.Replace(base, "CONFIG_PID_NS=y", "CONFIG_PID_NS=m", 1): {"PID_NS=m/"},
		strings.Replace(base, "CONFIG_MEMCG=y\n", "", 1):               {"MEMCG=n/"},
	}
	for cfgText, want := range cases {
		cfg, err := ParseConfig(strings.NewReader(cfgText))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range Check(cfg) {
			got = append(got, f.Option+"="+f.Value+"/"+f.Mode)
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("findings %v, want %v", got, want)
		}
	}
}

func TestImageRelease(t *testing.T) {
	img := make([]byte, 0x1000)
	copy(img[0x202:], "HdrS")
	img[0x20e], img[0x20f] = 0x00, 0x02 // version string at 0x200 + 0x200
	copy(img[0x400:], "6.1.0-50-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP\x00")
	p := filepath.Join(t.TempDir(), "vmlinuz-x")
	if err := os.WriteFile(p, img, 0o644); err != nil {
		t.Fatal(err)
	}
	if r, err := ImageRelease(p); err != nil || r != "6.1.0-50-cloud-amd64" {
		t.Fatalf("%q %v", r, err)
	}
	k, err := Local(Source{Name: "x", Path: p})
	if err != nil || k.Release != "6.1.0-50-cloud-amd64" || k.Image != p {
		t.Fatalf("%+v %v", k, err)
	}
	if err := os.WriteFile(p, make([]byte, 0x1000), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ImageRelease(p); err == nil {
		t.Error("a file without HdrS read as a bzImage")
	}
	if err := CheckImage(p); !errors.Is(err, ErrNotKernel) {
		t.Errorf("CheckImage of a file without HdrS: %v", err)
	}
	if _, err := Local(Source{Name: "ls", Path: "/bin/ls"}); !errors.Is(err, ErrNotKernel) {
		t.Errorf("Local(/bin/ls): %v", err)
	}
}

func TestLoadCachedNeedsNoNetwork(t *testing.T) {
	dir := t.TempDir()
	kdir := filepath.Join(dir, "debian", "bookworm", DefaultPackage)
	meta := `{"name":"bookworm","image":"` + filepath.Join(kdir, "vmlinuz") + `","release":"6.1.0-50-cloud-amd64"}`
	if err := errors.Join(os.MkdirAll(kdir, 0o755),
		os.WriteFile(filepath.Join(kdir, "vmlinuz"), []byte("k"), 0o644),
		os.WriteFile(filepath.Join(kdir, "kernel.json"), []byte(meta), 0o644)); err != nil {
		t.Fatal(err)
	}
	c := &Cache{Dir: dir, Mirror: "http://127.0.0.1:1/nowhere"}
	k, err := c.Get(t.Context(), Source{Name: "bw", Archive: Debian, Suite: "bookworm", Package: DefaultPackage})
	if err != nil || k.Release != "6.1.0-50-cloud-amd64" || k.Name != "bw" || k.Fetched {
		t.Fatalf("%+v %v", k, err)
	}
}
