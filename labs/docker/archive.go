package docker

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	recipes "github.com/memlab/memlab/fixtures"
	"github.com/memlab/memlab/labs/rootfs"
)

// Archive writes the offline recipe's image as `docker load` reads it (the
// `docker save` layout: manifest.json, the config, one layer) without an
// engine: the layer is the recipe's rootfs/, the config the Dockerfile's
// ENV and CMD and the labels a build gives, inputs among them. An engine
// that loads it holds the image BuildImage would have built from the same
// inputs, so EnsureImage keeps it; on a machine whose programs differ, the
// inputs differ and EnsureImage builds its own. The matrix's Docker guests
// load it instead of building the image under emulation.
func (r Recipe) Archive(ref string, w io.Writer) (inputs string, err error) {
	if r.Online {
		return "", errors.New("only the offline recipe can be archived without an engine")
	}
	ctxTar, inputs, err := r.Context()
	if err != nil {
		return "", err
	}
	dockerfile, err := recipes.Image.ReadFile(recipeOffline)
	if err != nil {
		return "", err
	}
	env, cmd, err := runConfig(dockerfile)
	if err != nil {
		return "", err
	}
	layer, err := layerOf(ctxTar)
	if err != nil {
		return "", err
	}
	layerSum := sha256.Sum256(layer)
	layerID := hex.EncodeToString(layerSum[:])
	config, err := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux", "created": time.Unix(0, 0).UTC(),
		"config": map[string]any{"Env": env, "Cmd": cmd,
			"Labels": map[string]string{LabelImage: ImageKind, LabelInputs: inputs}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + layerID}},
	})
	if err != nil {
		return "", err
	}
	configSum := sha256.Sum256(config)
	configName := hex.EncodeToString(configSum[:]) + ".json"
	manifest, err := json.Marshal([]map[string]any{{"Config": configName, "RepoTags": []string{ref},
		"Layers": []string{layerID + "/layer.tar"}}})
	if err != nil {
		return "", err
	}
	tw := tar.NewWriter(w)
	for _, f := range []struct {
		name string
		data []byte
	}{{layerID + "/layer.tar", layer}, {configName, config}, {"manifest.json", manifest}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(f.data)),
			ModTime: time.Unix(0, 0), Format: tar.FormatPAX}); err != nil {
			return "", err
		}
		if _, err := tw.Write(f.data); err != nil {
			return "", err
		}
	}
	return inputs, tw.Close()
}

// layerOf is the build context's rootfs/ as a layer: the same entries with
// the directory prefix removed.
func layerOf(ctxTar []byte) ([]byte, error) {
	tr := tar.NewReader(bytes.NewReader(ctxTar))
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	prefix := rootfs.ContextDir + "/"
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		name, ok := strings.CutPrefix(h.Name, prefix)
		if !ok || name == "" {
			continue // the Dockerfile, and rootfs/ itself
		}
		h.Name = name
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// runConfig reads the offline Dockerfile's ENV and CMD; any instruction
// Archive does not reproduce is an error, so the two cannot drift apart.
func runConfig(dockerfile []byte) (env, cmd []string, err error) {
	for line := range strings.SplitSeq(string(dockerfile), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		word, rest, _ := strings.Cut(line, " ")
		switch word {
		case "FROM":
			if rest != "scratch" {
				return nil, nil, fmt.Errorf("Archive reproduces only FROM scratch, not %q", line)
			}
		case "LABEL", "ARG": // the labels Archive sets itself
		case "COPY":
			if rest != rootfs.ContextDir+"/ /" {
				return nil, nil, fmt.Errorf("Archive reproduces only COPY %s/ /, not %q", rootfs.ContextDir, line)
			}
		case "ENV":
			env = append(env, rest)
		case "CMD":
			if err := json.Unmarshal([]byte(rest), &cmd); err != nil {
				return nil, nil, fmt.Errorf("CMD %s: %w", rest, err)
			}
		default:
			return nil, nil, fmt.Errorf("Archive does not reproduce %q", line)
		}
	}
	return env, cmd, nil
}
