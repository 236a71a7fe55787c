package guest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"syscall"
)

// BuildSuites compiles the test binaries of the given packages (patterns
// such as ./specs/... are expanded; packages without tests are left out)
// for the guest: static (CGO_ENABLED=0), without symbol table and DWARF
// (a third smaller, so a faster boot; stack traces keep their names), one
// NAME.test per package in outDir, NAME being the package directory's base
// name. goBin is the go command ("" is go on PATH); moduleDir is a memlab
// checkout.
func BuildSuites(ctx context.Context, goBin, moduleDir string, patterns []string, outDir string) ([]Suite, error) {
	if goBin == "" {
		goBin = "go"
	}
	if err := CheckModule(ctx, goBin, moduleDir); err != nil {
		return nil, err
	}
	args := append([]string{"list", "-f", "{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{end}}"}, patterns...)
	out, err := run(ctx, moduleDir, goBin, args...)
	if err != nil {
		return nil, err
	}
	var pkgs []string
	var suites []Suite
	seen := map[string]string{}
	for p := range strings.FieldsSeq(out) {
		name := path.Base(p)
		if other, dup := seen[name]; dup {
			return nil, fmt.Errorf("suites %s and %s would both be %s.test", other, p, name)
		}
		seen[name] = p
		pkgs = append(pkgs, p)
		suites = append(suites, Suite{Name: name, Binary: filepath.Join(outDir, name+".test")})
	}
	if len(pkgs) == 0 {
		return nil, fmt.Errorf("no test packages match %s", strings.Join(patterns, " "))
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, err
	}
	args = append([]string{"test", "-c", "-ldflags=-s -w", "-o", outDir + string(filepath.Separator)}, pkgs...)
	if _, err := run(ctx, moduleDir, goBin, args...); err != nil {
		return nil, err
	}
	for _, s := range suites {
		if _, err := os.Stat(s.Binary); err != nil {
			return nil, fmt.Errorf("go test -c did not write %s", s.Binary)
		}
	}
	return suites, nil
}

// ErrNoModule: the suites are to be built from source, and dir holds none
// (memlab runs outside a checkout).
var ErrNoModule = errors.New("no Go module to build the guest suites from")

// CheckModule asks go whether dir is inside a module the suites can be
// built from.
func CheckModule(ctx context.Context, goBin, dir string) error {
	if goBin == "" {
		goBin = "go"
	}
	out, err := run(ctx, dir, goBin, "env", "GOMOD")
	if err != nil {
		return err
	}
	if gomod := strings.TrimSpace(out); gomod == "" || gomod == os.DevNull {
		abs, _ := filepath.Abs(dir)
		return fmt.Errorf("%w: %s is not inside a memlab checkout", ErrNoModule, abs)
	}
	return nil
}

func run(ctx context.Context, dir, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}
