package guest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// stream makes a hand-back stream the way /init does: a gzip tar of files,
// base64 in 76-column lines as busybox writes it, between the markers, with
// the carriage returns a tty may add and noise around it.
func stream(t *testing.T, files map[string]string, crlf bool) (string, []byte) {
	t.Helper()
	var tgz bytes.Buffer
	zw := gzip.NewWriter(&tgz)
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: "./" + name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	tw.Close()
	zw.Close()
	b64 := base64.StdEncoding.EncodeToString(tgz.Bytes())
	var s strings.Builder
	s.WriteString("garbage before\n")
	fmt.Fprintf(&s, "%s v1 %d\n", BeginMarker, tgz.Len())
	for len(b64) > 76 {
		s.WriteString(b64[:76] + "\n")
		b64 = b64[76:]
	}
	s.WriteString(b64 + "\n")
	fmt.Fprintf(&s, "%s %x\n", EndMarker, md5.Sum(tgz.Bytes()))
	out := s.String()
	if crlf {
		out = strings.ReplaceAll(out, "\n", "\r\n")
	}
	return out, tgz.Bytes()
}

func TestParseHandBack(t *testing.T) {
	files := map[string]string{
		"status":         "ok\n",
		"rawcgroup.json": strings.Repeat(`[{"SuiteDescription":"x"}]`, 500),
		"suites.txt":     "rawcgroup 0 3.10 4.35\nreexec 1 4.40 19.90\n",
		"uptime":         "20.50\n",
		"env.txt":        "kernel: Linux 6.1\n",
		"reexec.log":     "FAIL\n",
	}
	for _, crlf := range []bool{false, true} {
		s, _ := stream(t, files, crlf)
		hb, err := ParseHandBack(strings.NewReader(s))
		if err != nil {
			t.Fatalf("crlf=%v: %v", crlf, err)
		}
		for name, body := range files {
			if string(hb.Files[name]) != body {
				t.Errorf("crlf=%v: %s = %q, want %q", crlf, name, hb.Files[name], body)
			}
		}
		o, err := hb.Outcome()
		if err != nil {
			t.Fatal(err)
		}
		if o.Skipped || o.Uptime != 20.5 || len(o.Suites) != 2 || o.Suites[1] != (SuiteRun{"reexec", 1, 15.5}) {
			t.Errorf("outcome: skipped %v uptime %v suites %+v", o.Skipped, o.Uptime, o.Suites)
		}
		if _, ok := o.Reports["rawcgroup"]; !ok || string(o.Logs["reexec"]) != "FAIL\n" {
			t.Errorf("reports %d logs %q", len(o.Reports), o.Logs["reexec"])
		}
	}
}

func TestParseHandBackSkip(t *testing.T) {
	s, _ := stream(t, map[string]string{"status": "skip cgroup v1 memory controller cannot be mounted\n"}, false)
	hb, err := ParseHandBack(strings.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	o, err := hb.Outcome()
	if err != nil || !o.Skipped || o.Reason != "cgroup v1 memory controller cannot be mounted" {
		t.Fatalf("outcome %+v, %v", o, err)
	}
}

func TestParseHandBackFailures(t *testing.T) {
	good, raw := stream(t, map[string]string{"status": "ok\n"}, false)
	lines := strings.Split(good, "\n")
	cases := map[string]struct {
		in   string
		want error
	}{
		"nothing":        {"console noise only\n", ErrNoHandBack},
		"empty":          {"", ErrNoHandBack},
		"no end marker":  {strings.Join(lines[:len(lines)-2], "\n"), ErrTruncated},
		"bad checksum":   {strings.Replace(good, fmt.Sprintf("%x", md5.Sum(raw)), strings.Repeat("0", 32), 1), ErrCorrupt},
		"bad size":       {strings.Replace(good, fmt.Sprintf("v1 %d", len(raw)), fmt.Sprintf("v1 %d", len(raw)+1), 1), ErrCorrupt},
		"a line missing": {strings.Join(append(append([]string{}, lines[:2]...), lines[3:]...), "\n"), ErrCorrupt},
		"end first":      {EndMarker + " 00\n", ErrCorrupt},
	}
	for name, c := range cases {
		if _, err := ParseHandBack(strings.NewReader(c.in)); !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", name, err, c.want)
		}
	}
	// A later complete hand-back wins over an earlier broken one.
	broken := strings.Join(lines[:2], "\n") + "\n" + EndMarker + " " + strings.Repeat("0", 32) + "\n"
	if _, err := ParseHandBack(strings.NewReader(broken + good)); err != nil {
		t.Errorf("broken then good: %v", err)
	}
	// No status file: the hand-back is not /init's.
	s, _ := stream(t, map[string]string{"x": "y"}, false)
	hb, err := ParseHandBack(strings.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hb.Outcome(); !errors.Is(err, ErrCorrupt) {
		t.Errorf("no status: %v", err)
	}
}

func TestParseConsole(t *testing.T) {
	c := ParseConsole("[    0.000000] Linux version\r\nMEMLAB-BOOTED 2.91 6.1.0-50-cloud-amd64\r\n" +
		"[   12.1] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100\r\n")
	if c.Booted != 2.91 || c.Release != "6.1.0-50-cloud-amd64" || !strings.HasPrefix(c.Panic, "[   12.1] Kernel panic") {
		t.Fatalf("%+v", c)
	}
	if c := ParseConsole("no markers"); c.Booted != 0 || c.Panic != "" {
		t.Fatalf("%+v", c)
	}
}

func TestCmdline(t *testing.T) {
	if c := Cmdline(V2); !strings.Contains(c, "memlab.mode=v2") || !strings.Contains(c, "cgroup_no_v1=all") ||
		!strings.Contains(c, "panic=-1") || !strings.Contains(c, "console=ttyS0") {
		t.Errorf("v2: %s", c)
	}
	if c := Cmdline(V1); !strings.Contains(c, "memlab.mode=v1") || strings.Contains(c, "cgroup_no_v1") {
		t.Errorf("v1: %s", c)
	}
}

func TestGuestConf(t *testing.T) {
	got := guestConf(Config{LabelFilter: `cgroup:v2 && !docker || 'x'`, SuiteTimeout: 90 * time.Second})
	want := "SUITE_TIMEOUT=90\nLABEL_FILTER='cgroup:v2 && !docker || '\\''x'\\'''\n"
	if !strings.HasSuffix(got, want) {
		t.Fatalf("conf %q, want suffix %q", got, want)
	}
	// The shell reads back exactly the filter given.
	if sh, err := exec.LookPath("sh"); err == nil {
		out, err := exec.Command(sh, "-c", got+`printf %s "$LABEL_FILTER"`).Output()
		if err != nil || string(out) != `cgroup:v2 && !docker || 'x'` {
			t.Fatalf("sh read %q, %v", out, err)
		}
	}
}

func TestAssemble(t *testing.T) {
	if _, err := exec.LookPath("busybox"); err != nil {
		t.Skip("no busybox on PATH")
	}
	if _, err := exec.LookPath("stress"); err != nil {
		t.Skip("no stress on PATH")
	}
	a, err := Assemble(Config{Suites: []Suite{{Name: "self", Binary: "guest_test.go"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/init", "/bin/busybox", "/bin/sh", "/usr/bin/stress", "/suites/self.test", "/etc/memlab/guest.conf", "/proc", "/out"} {
		if !a.Has(p) {
			t.Errorf("initramfs lacks %s", p)
		}
	}
	if _, err := Assemble(Config{Suites: []Suite{{Name: "../x", Binary: "guest_test.go"}}}); err == nil {
		t.Error("a suite name with .. was accepted")
	}
}

func TestAppendModules(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "initrd.cpio")
	ko := filepath.Join(dir, "virtio-rng.ko")
	ring := filepath.Join(dir, "virtio_ring.ko")
	if err := errors.Join(os.WriteFile(base, []byte("BASE-ARCHIVE"), 0o644),
		os.WriteFile(ko, []byte("\x7fELF module"), 0o644),
		os.WriteFile(ring, []byte("\x7fELF ring"), 0o644)); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "initrd-x.cpio")
	if err := AppendModules(base, []string{ring, ko}, out); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out)
	rest, ok := bytes.CutPrefix(b, []byte("BASE-ARCHIVE"))
	if !ok || !bytes.HasPrefix(rest, []byte("070701")) {
		t.Fatalf("want the base then a newc archive: %q", b[:min(len(b), 40)])
	}
	// Numbered in the order given: /init loads them in name order.
	for _, want := range []string{"lib/modules/memlab/01-virtio_ring.ko\x00", "lib/modules/memlab/02-virtio-rng.ko\x00", "\x7fELF module", "TRAILER!!!"} {
		if !bytes.Contains(rest, []byte(want)) {
			t.Errorf("the appended archive lacks %q", want)
		}
	}
	os.Remove(out)
	if err := AppendModules(base, []string{filepath.Join(dir, "none.ko")}, out); err == nil {
		t.Error("a missing module gave no error")
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a failed append left its file")
	}
}
