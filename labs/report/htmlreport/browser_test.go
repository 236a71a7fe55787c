package htmlreport

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Chromium is Debian's headless browser (apt-get install chromium).
const chromium = "/usr/bin/chromium"

// TestBrowserRendersTheReport opens a report built from testdata in
// headless chromium: the DOM it parsed must have every claim row and every
// chart, and its screenshot is saved as reports/index.png for a person to
// look at.
func TestBrowserRendersTheReport(t *testing.T) {
	if _, err := os.Stat(chromium); err != nil {
		t.Skipf("no %s: install Debian's chromium (vagrant/provision.sh does) to check the report in a browser", chromium)
	}
	// Chromium's helpers outlive its main process for a moment: as a child
	// subreaper this test gets them, kills them and reaps them, instead of
	// leaving them to init.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0) }()
	rep, matrix := fixture(t)
	page := filepath.Join(t.TempDir(), "index.html")
	if err := Write(page, rep, matrix); err != nil {
		t.Fatal(err)
	}
	url := "file://" + page

	dom := runChromium(t, "--dump-dom", url)
	for what, want := range expectedElements(t, rep, matrix) {
		if got := strings.Count(dom, what); got != want {
			t.Errorf("the browser's DOM has %d × %s, want %d", got, what, want)
		}
	}
	if !strings.Contains(dom, "</html>") {
		t.Fatalf("no document came back:\n%.2000s", dom)
	}

	shot, err := filepath.Abs("../../../reports/index.png")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(shot), 0o755); err != nil {
		t.Fatal(err)
	}
	_ = os.Remove(shot)
	runChromium(t, "--screenshot="+shot, "--window-size=1280,2000", "--hide-scrollbars", url)
	png, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	if len(png) < 24 || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatal("the screenshot is not a PNG")
	}
	w, h := binary.BigEndian.Uint32(png[16:20]), binary.BigEndian.Uint32(png[20:24])
	if w != 1280 || h != 2000 || len(png) < 50_000 {
		t.Errorf("screenshot %dx%d, %d bytes: want 1280x2000 with something on it", w, h, len(png))
	}
	t.Logf("screenshot: %s", shot)
}

// runChromium runs one headless chromium with a throwaway profile, home
// and temp directory (removed with the test), kills it and all it started
// if it hangs, and returns its standard output.
func runChromium(t *testing.T, args ...string) string {
	t.Helper()
	scratch := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	flags := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--disable-breakpad",
		"--user-data-dir=" + filepath.Join(scratch, "profile")}
	cmd := exec.CommandContext(ctx, chromium, append(flags, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+scratch, "TMPDIR="+scratch,
		"XDG_CONFIG_HOME="+filepath.Join(scratch, "config"), "XDG_CACHE_HOME="+filepath.Join(scratch, "cache"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	// Whatever chromium started goes with it, and is reaped here.
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	reapAll(10 * time.Second)
	if err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(args, " "), err, lastLines(stderr.String(), 20))
	}
	return stdout.String()
}

// reapAll reaps every child this process has (chromium's orphaned
// helpers), killing any still running after d.
func reapAll(d time.Duration) {
	deadline := time.Now().Add(d)
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		switch {
		case errors.Is(err, syscall.ECHILD):
			return
		case pid > 0:
			continue
		case time.Now().After(deadline):
			for _, child := range children() {
				_ = syscall.Kill(child, syscall.SIGKILL)
			}
			deadline = time.Now().Add(d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// children lists this process's children from /proc.
func children() []int {
	var out []int
	self := os.Getpid()
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so read after the last ')'.
		fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(self) {
			out = append(out, pid)
		}
	}
	return out
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
