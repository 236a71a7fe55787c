package checkout

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestRootIsWhereThisModulesGoModIs(t *testing.T) {
	root, err := Root()
	if err != nil {
		t.Fatal(err)
	}
	// This package sits at labs/checkout in the checkout.
	here, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Dir(filepath.Dir(here)); root != want {
		t.Errorf("Root() = %s; want %s", root, want)
	}
}

func TestRootOfSkipsOtherModules(t *testing.T) {
	top := t.TempDir()
	nested := filepath.Join(top, "x", "other", "deep")
	if err := os.MkdirAll(nested, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(dir, text string) {
		if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(top, "// a comment first\nmodule "+Module+" // memlab\n\ngo 1.26\n")
	write(filepath.Join(top, "x", "other"), "module example.com/other\n")
	if got, err := RootOf(nested); err != nil || got != top {
		t.Errorf("RootOf(%s) = %q, %v; want %s", nested, got, err, top)
	}

	lone := t.TempDir()
	write(lone, "module "+Module+"/fork\n")
	if got, err := RootOf(lone); !errors.Is(err, ErrNotFound) {
		t.Errorf("RootOf(%s) = %q, %v; want ErrNotFound", lone, got, err)
	}
}
