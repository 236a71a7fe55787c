package docker

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/memlab/memlab/labs/rootfs"
)

// The archive is the image a build of the same inputs makes: one layer of
// the recipe's rootfs/, the Dockerfile's ENV and CMD, memlab's labels, and
// the tag; `docker load` reads it (checked against an engine in the matrix's
// Docker cells, and by hand: see labs/docker/archive.go).
func TestArchive(t *testing.T) {
	var b bytes.Buffer
	inputs, err := Recipe{}.Archive("memlab/stress:test", &b)
	if errors.Is(err, rootfs.ErrMissingTool) {
		t.Skipf("no stress or busybox here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, want, _ := (Recipe{}).Context(); inputs != want {
		t.Errorf("inputs %s, a build's would be %s", inputs, want)
	}
	files := map[string][]byte{}
	tr := tar.NewReader(&b)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name], _ = io.ReadAll(tr)
	}
	var manifest []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil || len(manifest) != 1 || len(manifest[0].Layers) != 1 {
		t.Fatalf("manifest %s: %v", files["manifest.json"], err)
	}
	m := manifest[0]
	if strings.Join(m.RepoTags, ",") != "memlab/stress:test" {
		t.Errorf("tags %v", m.RepoTags)
	}
	var config struct {
		Config struct {
			Env, Cmd []string
			Labels   map[string]string
		}
	}
	if err := json.Unmarshal(files[m.Config], &config); err != nil {
		t.Fatal(err)
	}
	if config.Config.Labels[LabelImage] != ImageKind || config.Config.Labels[LabelInputs] != inputs ||
		len(config.Config.Cmd) == 0 || !strings.HasPrefix(strings.Join(config.Config.Env, " "), "PATH=") {
		t.Errorf("config %+v", config.Config)
	}
	layer := map[string]bool{}
	lr := tar.NewReader(bytes.NewReader(files[m.Layers[0]]))
	for {
		h, err := lr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		layer[h.Name] = true
	}
	for _, p := range []string{"usr/bin/stress", "bin/busybox", "bin/sh", "bin/bash"} {
		if !layer[p] {
			t.Errorf("layer lacks %s", p)
		}
	}
	if layer["Dockerfile"] || layer[rootfs.ContextDir+"/"] {
		t.Error("the layer holds the build context's own entries")
	}
}

func TestRunConfigRefusesWhatItCannotReproduce(t *testing.T) {
	for _, df := range []string{"FROM ubuntu:16.04\n", "FROM scratch\nRUN true\n", "FROM scratch\nCOPY other/ /\n", "CMD not json\n"} {
		if _, _, err := runConfig([]byte(df)); err == nil {
			t.Errorf("%q was taken", df)
		}
	}
	env, cmd, err := runConfig([]byte("# c\nFROM scratch\nLABEL a=b\nARG X\nCOPY rootfs/ /\nENV PATH=/bin\nCMD [\"sh\"]\n"))
	if err != nil || strings.Join(env, " ") != "PATH=/bin" || strings.Join(cmd, " ") != "sh" {
		t.Errorf("%v %v %v", env, cmd, err)
	}
}
