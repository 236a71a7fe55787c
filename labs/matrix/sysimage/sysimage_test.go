package sysimage

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestPackagesAreTheRecipes(t *testing.T) {
	p := Packages()
	for _, want := range []string{"systemd-sysv", "docker.io", "stress", "busybox-static", "bash", "procps", "udev"} {
		if !slices.Contains(p, want) {
			t.Errorf("the recipe lacks %s: %v", want, p)
		}
	}
	for _, name := range p {
		if strings.ContainsAny(name, " #,") {
			t.Errorf("package %q", name)
		}
	}
}

// The image is rebuilt when, and only when, what it is made from changes.
func TestKey(t *testing.T) {
	a := Builder{Dir: "/x"}
	if a.Key() != (Builder{Dir: "/y"}).Key() {
		t.Error("the cache's place changed the key")
	}
	if again := (Builder{Dir: "/x"}); a.Key() != again.Key() || len(a.Key()) != 16 {
		t.Errorf("key %q", a.Key())
	}
	if a.Key() == (Builder{Suite: "trixie"}).Key() || a.Key() == (Builder{Mirror: "http://mirror.example/debian"}).Key() {
		t.Error("another suite or mirror kept the key")
	}
	if got := a.Path(); got != filepath.Join("/x", "docker-guest-bookworm-"+a.Key()) {
		t.Errorf("path %s", got)
	}
}

func TestCachedAndMissingTools(t *testing.T) {
	b := Builder{Dir: t.TempDir()}
	if _, err := b.Cached(); err == nil {
		t.Error("an empty cache has an image")
	}
	t.Setenv("PATH", t.TempDir())
	_, err := b.Get(t.Context())
	if !errors.Is(err, ErrNoTool) || !strings.Contains(err.Error(), "mmdebstrap is not installed") {
		t.Errorf("without mmdebstrap: %v", err)
	}
	if left, _ := os.ReadDir(b.Dir); len(left) > 0 {
		t.Errorf("a build that could not start left %v", left)
	}
}

// An image record whose disk is gone is not an image.
func TestCachedNeedsItsDisk(t *testing.T) {
	b := Builder{Dir: t.TempDir()}
	if err := os.MkdirAll(b.Path(), 0o755); err != nil {
		t.Fatal(err)
	}
	rec := `{"disk": "` + filepath.Join(b.Path(), "disk.ext4") + `", "key": "` + b.Key() + `"}`
	if err := os.WriteFile(filepath.Join(b.Path(), "image.json"), []byte(rec), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Cached(); err == nil {
		t.Error("an image without its disk was taken")
	}
	if err := os.WriteFile(filepath.Join(b.Path(), "disk.ext4"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if img, err := b.Cached(); err != nil || img.Key != b.Key() {
		t.Errorf("%+v %v", img, err)
	}
}
