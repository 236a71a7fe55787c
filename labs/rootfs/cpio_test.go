package rootfs

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

type member struct {
	mode uint32
	body string
}

// readNewc parses a newc archive: name → mode and body.
func readNewc(t *testing.T, b []byte) (map[string]member, []string) {
	t.Helper()
	out := map[string]member{}
	var order []string
	align := func(n int) int { return (n + 3) &^ 3 }
	for off := 0; ; {
		h := string(b[off : off+110])
		if !strings.HasPrefix(h, "070701") {
			t.Fatalf("bad magic at %d: %q", off, h[:6])
		}
		field := func(i int) int {
			v, err := strconv.ParseUint(h[6+8*i:14+8*i], 16, 32)
			if err != nil {
				t.Fatal(err)
			}
			return int(v)
		}
		mode, size, namesize := field(1), field(6), field(11)
		name := string(b[off+110 : off+110+namesize-1])
		off = align(off + 110 + namesize)
		if name == "TRAILER!!!" {
			if off != len(b) {
				t.Fatalf("%d bytes after the trailer", len(b)-off)
			}
			return out, order
		}
		out[name] = member{uint32(mode), string(b[off : off+size])}
		order = append(order, name)
		off = align(off + size)
	}
}

func TestCpio(t *testing.T) {
	dir := t.TempDir()
	host := filepath.Join(dir, "tool")
	if err := os.WriteFile(host, []byte("#!/bin/sh\necho hi\n"), 0o751); err != nil {
		t.Fatal(err)
	}
	a := New()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(a.Bytes("/init", []byte("#!/bin/sh\n"), 0o755))
	must(a.Copy("/usr/bin/tool", host))
	must(a.Symlink("/bin/sh", "busybox"))
	must(a.Dir("/proc", 0o555))
	must(a.Dir("/tmp", 0o777|os.ModeSticky))
	if err := a.Bytes("relative", nil, 0o644); err == nil {
		t.Error("a relative path was accepted")
	}
	if err := a.Bytes("/init/x", nil, 0o644); err == nil {
		t.Error("a file under a file was accepted")
	}
	var buf bytes.Buffer
	if _, err := a.WriteCpio(&buf); err != nil {
		t.Fatal(err)
	}
	got, order := readNewc(t, buf.Bytes())
	want := map[string]member{
		"init":         {0o100755, "#!/bin/sh\n"},
		"usr":          {0o040755, ""},
		"usr/bin":      {0o040755, ""},
		"usr/bin/tool": {0o100751, "#!/bin/sh\necho hi\n"},
		"bin":          {0o040755, ""},
		"bin/sh":       {0o120777, "busybox"},
		"proc":         {0o040555, ""},
		"tmp":          {0o041777, ""},
	}
	if len(got) != len(want) {
		t.Fatalf("members %v", order)
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s: %o %q, want %o %q", name, got[name].mode, got[name].body, w.mode, w.body)
		}
	}
	pos := map[string]int{}
	for i, n := range order {
		pos[n] = i
	}
	if pos["usr"] > pos["usr/bin"] || pos["usr/bin"] > pos["usr/bin/tool"] {
		t.Errorf("a directory comes after its contents: %v", order)
	}
	// The same inputs give the same bytes.
	var again bytes.Buffer
	if _, err := a.WriteCpio(&again); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Error("two writes differ")
	}
	// GNU cpio reads it too, when the host has it.
	if cpio, err := exec.LookPath("cpio"); err == nil {
		cmd := exec.Command(cpio, "-it", "--quiet")
		cmd.Stdin = bytes.NewReader(buf.Bytes())
		out, err := cmd.Output()
		if err != nil || !strings.Contains(string(out), "usr/bin/tool") {
			t.Errorf("cpio -it: %v\n%s", err, out)
		}
	}
}

func TestWriteCpioFileGzip(t *testing.T) {
	a := New()
	if err := a.Bytes("/x", bytes.Repeat([]byte("memlab"), 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "initrd.gz")
	if err := a.WriteCpioFile(p, true); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b || len(b) > 2000 {
		t.Fatalf("not a small gzip stream: % x… (%d bytes)", b[:min(len(b), 4)], len(b))
	}
}
