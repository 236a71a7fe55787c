package rootfs

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

type tarMember struct {
	typ      byte
	mode     int64
	body     string
	linkname string
}

func readTar(t *testing.T, b []byte) (map[string]tarMember, []string) {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(b))
	out := map[string]tarMember{}
	var order []string
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, order
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Uid != 0 || h.Gid != 0 || h.ModTime.Unix() != 0 {
			t.Errorf("%s: owner %d:%d mtime %v, want root and the epoch", h.Name, h.Uid, h.Gid, h.ModTime)
		}
		body, _ := io.ReadAll(tr)
		out[h.Name] = tarMember{h.Typeflag, h.Mode, string(body), h.Linkname}
		order = append(order, h.Name)
	}
}

func TestWriteBuildContext(t *testing.T) {
	host := filepath.Join(t.TempDir(), "tool")
	if err := os.WriteFile(host, []byte("tool body"), 0o751); err != nil {
		t.Fatal(err)
	}
	f := New()
	for _, err := range []error{
		f.Copy("/usr/bin/tool", host),
		f.Symlink("/bin/sh", "/bin/busybox"),
		f.Dir("/tmp", 0o777|os.ModeSticky),
		f.Dir("/root", 0o700),
		f.Bytes("/etc/passwd", []byte("root:x:0:0::/root:/bin/sh\n"), 0o644),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	recipe := []byte("FROM scratch\nCOPY rootfs/ /\n")
	var buf bytes.Buffer
	if err := WriteBuildContext(&buf, recipe, f); err != nil {
		t.Fatal(err)
	}
	got, order := readTar(t, buf.Bytes())
	want := map[string]tarMember{
		"Dockerfile":          {tar.TypeReg, 0o644, string(recipe), ""},
		"rootfs/":             {tar.TypeDir, 0o755, "", ""},
		"rootfs/usr/":         {tar.TypeDir, 0o755, "", ""},
		"rootfs/usr/bin/":     {tar.TypeDir, 0o755, "", ""},
		"rootfs/usr/bin/tool": {tar.TypeReg, 0o751, "tool body", ""},
		"rootfs/bin/":         {tar.TypeDir, 0o755, "", ""},
		"rootfs/bin/sh":       {tar.TypeSymlink, 0o777, "", "/bin/busybox"},
		"rootfs/tmp/":         {tar.TypeDir, 0o1777, "", ""},
		"rootfs/root/":        {tar.TypeDir, 0o700, "", ""},
		"rootfs/etc/":         {tar.TypeDir, 0o755, "", ""},
		"rootfs/etc/passwd":   {tar.TypeReg, 0o644, "root:x:0:0::/root:/bin/sh\n", ""},
	}
	if len(got) != len(want) {
		t.Errorf("members %v", order)
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s: %+v, want %+v", name, got[name], w)
		}
	}
	if order[0] != "Dockerfile" {
		t.Errorf("the Dockerfile is not first: %v", order)
	}
	// The same inputs give the same bytes, so a hash of them names the inputs.
	var again bytes.Buffer
	if err := WriteBuildContext(&again, recipe, f); err != nil || !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Errorf("two writes differ (%v)", err)
	}
	// A recipe alone (FROM a registry's image) has no rootfs/.
	buf.Reset()
	if err := WriteBuildContext(&buf, recipe, nil); err != nil {
		t.Fatal(err)
	}
	if got, order := readTar(t, buf.Bytes()); len(got) != 1 || got["Dockerfile"].body != string(recipe) {
		t.Errorf("recipe only: %v", order)
	}
}
