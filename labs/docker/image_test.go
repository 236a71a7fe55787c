package docker

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/memlab/memlab/labs/rootfs"
)

// contextFiles lists a build context's members and the Dockerfile's text.
func contextFiles(t *testing.T, b []byte) (map[string]bool, string) {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(b))
	names := map[string]bool{}
	var dockerfile string
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names, dockerfile
		}
		if err != nil {
			t.Fatal(err)
		}
		names[h.Name] = true
		if h.Name == "Dockerfile" {
			body, _ := io.ReadAll(tr)
			dockerfile = string(body)
		}
	}
}

// The recipes set the labels BuildImage reads back, from the build
// argument it passes.
func TestRecipesCarryTheLabels(t *testing.T) {
	for _, online := range []bool{false, true} {
		r := Recipe{Online: online}
		b, inputs, err := r.Context()
		if errors.Is(err, rootfs.ErrMissingTool) {
			t.Logf("%s: skipped: %v", r, err)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		names, dockerfile := contextFiles(t, b)
		for _, want := range []string{LabelImage + "=" + ImageKind, LabelInputs + "=${MEMLAB_INPUTS}", "ARG MEMLAB_INPUTS"} {
			if !strings.Contains(dockerfile, want) {
				t.Errorf("%s recipe lacks %q", r, want)
			}
		}
		if online {
			if len(names) != 1 || !strings.HasPrefix(inputs, "online-") || !strings.Contains(dockerfile, "FROM ubuntu:16.04") {
				t.Errorf("online: context %v, inputs %s", names, inputs)
			}
			continue
		}
		// What the Docker suite runs in the image.
		for _, p := range []string{"rootfs/usr/bin/stress", "rootfs/bin/busybox", "rootfs/bin/sh", "rootfs/bin/sleep", "rootfs/bin/ps", "rootfs/bin/bash"} {
			if !names[p] {
				t.Errorf("offline context lacks %s", p)
			}
		}
		if !strings.Contains(dockerfile, "FROM scratch") || !strings.Contains(dockerfile, "COPY "+rootfs.ContextDir+"/ /") {
			t.Errorf("offline recipe does not copy %s/ over scratch", rootfs.ContextDir)
		}
		// Nothing changed, nothing to rebuild.
		if _, again, err := r.Context(); err != nil || again != inputs {
			t.Errorf("inputs %s then %s (%v)", inputs, again, err)
		}
	}
}
