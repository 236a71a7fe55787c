package rootfs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"strings"
)

// ErrMissingTool: the host lacks a program every memlab root filesystem
// carries (vagrant/provision.sh installs them).
var ErrMissingTool = errors.New("missing on this host")

// Tools are the host programs a lab root filesystem is made of.
type Tools struct {
	Busybox string // a static busybox; "" finds busybox on PATH
	Stress  string // "" finds stress on PATH
	Bash    string // "" finds bash on PATH
}

// Lab lays out what the lab image and the kernel matrix's guest share: the
// directories a shell expects (/tmp and /var/tmp world-writable and
// sticky, /root private), busybox with its applets (sh, ps, sleep, ...),
// the host's stress at /usr/bin/stress and bash at /bin/bash with the
// libraries they load, and an /etc/passwd and /etc/group that name root and
// nobody. bash is there because the article's container ran it, twice (the
// container's own bash and the one docker exec started), beside stress:
// what else the group holds is what D8 and D9 measure.
func Lab(t Tools) (*FS, error) {
	busybox, err := lookPath(t.Busybox, "busybox", "busybox-static")
	if err != nil {
		return nil, err
	}
	stress, err := lookPath(t.Stress, "stress", "stress")
	if err != nil {
		return nil, err
	}
	bash, err := lookPath(t.Bash, "bash", "bash")
	if err != nil {
		return nil, err
	}
	f := New()
	for _, d := range []string{"/bin", "/sbin", "/usr/bin", "/usr/sbin", "/etc", "/dev", "/proc", "/sys", "/var"} {
		if err := f.Dir(d, 0o755); err != nil {
			return nil, err
		}
	}
	for d, mode := range map[string]os.FileMode{"/tmp": 0o777 | os.ModeSticky, "/var/tmp": 0o777 | os.ModeSticky, "/root": 0o700} {
		if err := f.Dir(d, mode); err != nil {
			return nil, err
		}
	}
	if err := f.Program("/usr/bin/stress", stress); err != nil {
		return nil, err
	}
	if err := f.Program("/bin/bash", bash); err != nil {
		return nil, err
	}
	if err := f.Busybox(busybox); err != nil {
		return nil, err
	}
	for name, text := range map[string]string{
		"/etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"/etc/group":  "root:x:0:\nnogroup:x:65534:\n",
	} {
		if err := f.Bytes(name, []byte(text), 0o644); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// Busybox adds a static busybox at /bin/busybox and, at every path its
// applet list names (sh, ps, sleep, ...), a link to /bin/busybox; a path
// the file set already holds keeps what it holds.
func (f *FS) Busybox(src string) error {
	if libs, err := Needs(src); err != nil {
		return err
	} else if len(libs) > 0 {
		return fmt.Errorf("rootfs: %s is dynamically linked, so a static busybox is %w (apt-get install busybox-static)", src, ErrMissingTool)
	}
	if err := f.Copy("/bin/busybox", src); err != nil {
		return err
	}
	applets, err := appletPaths(src)
	if err != nil {
		return err
	}
	for _, a := range applets {
		p := "/" + strings.TrimPrefix(a, "/")
		switch path.Base(p) {
		case "busybox", "linuxrc": // itself, and the init of old-style initrds
			continue
		}
		if strings.Contains(p, "..") || f.Has(p) {
			continue
		}
		if err := f.Symlink(p, "/bin/busybox"); err != nil {
			return err
		}
	}
	return nil
}

// appletPaths asks busybox where its applets belong (bin/sh, usr/bin/top,
// ...); a busybox too old for --list-full has them all in bin/.
func appletPaths(busybox string) ([]string, error) {
	if out, err := exec.Command(busybox, "--list-full").Output(); err == nil && len(bytes.TrimSpace(out)) > 0 {
		return strings.Fields(string(out)), nil
	}
	out, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("rootfs: %s --list: %w", busybox, err)
	}
	names := strings.Fields(string(out))
	for i, n := range names {
		names[i] = "bin/" + n
	}
	return names, nil
}

// lookPath is given if set (it must exist), else name on PATH.
func lookPath(given, name, pkg string) (string, error) {
	if given != "" {
		if _, err := os.Stat(given); err != nil {
			return "", fmt.Errorf("rootfs: %w", err)
		}
		return given, nil
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("rootfs: %s is %w (apt-get install %s; vagrant/provision.sh does)", name, ErrMissingTool, pkg)
	}
	return p, nil
}
