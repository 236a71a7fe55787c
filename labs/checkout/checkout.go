// Package checkout finds the memlab source tree that tests and the runner
// harness run in, for what lives only in a checkout (the Makefile, vagrant/,
// a freshly built bin/memlab). memlab itself needs no checkout.
package checkout

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/mod/modfile"
)

// Module is memlab's module path, what marks a checkout's go.mod.
const Module = "github.com/memlab/memlab"

// ErrNotFound: neither the directory nor any above it is a memlab checkout.
var ErrNotFound = errors.New("not inside a memlab checkout")

// Root is the checkout the working directory is in (`go test` runs a test
// in its package's directory).
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	return RootOf(dir)
}

// RootOf walks up from dir to the directory whose go.mod declares Module.
// A go.mod of another module on the way (a nested module, a module that
// vendors memlab) does not stop it.
func RootOf(dir string) (string, error) {
	start := dir
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && modfile.ModulePath(b) == Module {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("%w: no go.mod of %s in %s or above", ErrNotFound, Module, start)
		}
		dir = parent
	}
}
