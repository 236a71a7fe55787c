package docker

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"

	// A test of this package names its testdata dir "fixtures".
	recipes "github.com/memlab/memlab/fixtures"
	"github.com/memlab/memlab/labs/rootfs"
)

// Labels the lab image's recipes set: LabelImage=ImageKind marks an image
// memlab built (the only kind it removes), LabelInputs names what it was
// built from, so an image whose inputs have not changed is not rebuilt.
const (
	LabelImage  = "org.memlab.image"
	ImageKind   = "stress"
	LabelInputs = "org.memlab.inputs"
)

// The recipes, in fixtures/image, embedded in the binary.
const (
	recipeOffline = "image/Dockerfile"
	recipeOnline  = "image/Dockerfile.ubuntu"
)

// Recipe says how the lab image is made.
type Recipe struct {
	// Online builds FROM ubuntu:16.04, the article's base (a registry and
	// the Ubuntu archive needed); the default is FROM scratch over a root
	// filesystem assembled from this host's stress and static busybox.
	Online bool
	Tools  rootfs.Tools // offline: the host programs; zero finds them on PATH
}

func (r Recipe) String() string {
	if r.Online {
		return "online"
	}
	return "offline"
}

// Context is the build context the recipe makes (a tar stream: the
// Dockerfile and, offline, the root filesystem under rootfs/) and the hash
// of it the image's inputs label carries. The same host programs and
// recipe give the same hash.
func (r Recipe) Context() (tarball []byte, inputs string, err error) {
	name := recipeOffline
	if r.Online {
		name = recipeOnline
	}
	dockerfile, err := recipes.Image.ReadFile(name)
	if err != nil {
		return nil, "", err
	}
	var root *rootfs.FS
	if !r.Online {
		if root, err = rootfs.Lab(r.Tools); err != nil {
			return nil, "", err
		}
	}
	var buf bytes.Buffer
	if err := rootfs.WriteBuildContext(&buf, dockerfile, root); err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(buf.Bytes())
	inputs = hex.EncodeToString(sum[:])
	if r.Online {
		inputs = "online-" + inputs
	}
	return buf.Bytes(), inputs, nil
}

// ImageBuild is what BuildImage did.
type ImageBuild struct {
	Ref, ID string
	Inputs  string // the LabelInputs value
	Built   bool   // false: the image was up to date
	Stress  string // built: the first line of `stress --version` in the new image
	Warning string // something left undone that did not fail the build
}

// BuildImage builds the lab image ref from recipe r with the engine's
// classic builder (every engine has it, and it keeps no BuildKit cache to
// prune), unless ref already carries the same inputs label (force builds
// anyway). The engine's build output goes to progress (nil discards it).
// The image ref replaces is removed if memlab built it; a failed build's
// leftovers are removed, as is the image of a build of the same inputs
// that ran at the same time and lost the tag to this one; a new image in
// which stress does not run is removed again. Failures are ErrImageBuild; an interrupted build is the
// context's error.
func (e *Engine) BuildImage(ctx context.Context, ref string, r Recipe, force bool, progress io.Writer) (ImageBuild, error) {
	res := ImageBuild{Ref: ref}
	tarball, inputs, err := r.Context()
	if err != nil {
		return res, fmt.Errorf("%w: %s: %w", ErrImageBuild, ref, err)
	}
	res.Inputs = inputs
	old, err := e.API.ImageInspect(ctx, ref)
	switch {
	case cerrdefs.IsNotFound(err):
	case err != nil:
		return res, fmt.Errorf("inspecting image %s: %w", ref, err)
	case !force && labelOf(old, LabelInputs) == inputs:
		res.ID = old.ID
		return res, nil
	}

	if err := e.build(ctx, ref, tarball, inputs, progress); err != nil {
		e.removeLeftovers(inputs)
		if ctx.Err() != nil {
			return res, fmt.Errorf("building %s: %w", ref, ctx.Err())
		}
		return res, fmt.Errorf("%w: %s: %w", ErrImageBuild, ref, err)
	}
	built, err := e.API.ImageInspect(ctx, ref)
	if err != nil {
		return res, fmt.Errorf("%w: %s: the build succeeded but: %w", ErrImageBuild, ref, err)
	}
	res.ID, res.Built = built.ID, true
	// A build of the same inputs that ran at the same time tagged its image
	// first, and ours took the tag from it: that one is dangling now.
	e.removeLeftovers(inputs)

	// The image we replaced is untagged now: remove it if it was ours.
	if old.ID != "" && old.ID != built.ID && labelOf(old, LabelImage) == ImageKind {
		if _, err := e.API.ImageRemove(ctx, old.ID, image.RemoveOptions{PruneChildren: true}); err != nil && !cerrdefs.IsNotFound(err) {
			res.Warning = fmt.Sprintf("could not remove the previous image %s (still used by a container?): %s", shortImage(old.ID), oneLine(err))
		}
	}

	res.Stress, err = e.checkImage(ctx, ref)
	if err != nil {
		rctx, cancel := context.WithTimeout(context.Background(), removeTimeout)
		defer cancel()
		_, _ = e.API.ImageRemove(rctx, ref, image.RemoveOptions{PruneChildren: true})
		if ctx.Err() != nil {
			return res, fmt.Errorf("checking %s: %w", ref, ctx.Err())
		}
		return res, fmt.Errorf("%w: %s: the new image does not run stress (removed it): %w", ErrImageBuild, ref, err)
	}
	return res, nil
}

// build runs the engine's build and reads its output to the end.
func (e *Engine) build(ctx context.Context, ref string, tarball []byte, inputs string, progress io.Writer) error {
	if progress == nil {
		progress = io.Discard
	}
	resp, err := e.API.ImageBuild(ctx, bytes.NewReader(tarball), build.ImageBuildOptions{
		Version: build.BuilderV1, Tags: []string{ref}, Dockerfile: "Dockerfile",
		Remove: true, ForceRemove: true,
		BuildArgs: map[string]*string{"MEMLAB_INPUTS": &inputs},
	})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	for {
		var m struct {
			Stream, Status, Progress string
			Error                    string
			ErrorDetail              *struct{ Message string }
		}
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("reading the build's output: %w", err)
		}
		switch {
		case m.ErrorDetail != nil && m.ErrorDetail.Message != "":
			return errors.New(strings.TrimSpace(m.ErrorDetail.Message))
		case m.Error != "":
			return errors.New(strings.TrimSpace(m.Error))
		case m.Stream != "":
			_, _ = io.WriteString(progress, m.Stream) // progress is a transcript; losing it loses no result
		case m.Status != "":
			fmt.Fprintln(progress, strings.TrimSpace(m.Status+" "+m.Progress))
		}
	}
}

// checkImage runs stress, bash and busybox's ps in a container of the
// image, as the labs will, and returns stress's version line.
func (e *Engine) checkImage(ctx context.Context, ref string) (string, error) {
	c, err := e.Start(ctx, Options{Image: ref, Name: "memlab-image-check"})
	if err != nil {
		return "", err
	}
	defer func() { _ = c.Remove() }() // labelled: a sweep removes it if this fails
	out, err := c.Run(ctx, "/bin/sh", "-c", "stress --version && bash -c true && ps >/dev/null && echo ok")
	if err != nil {
		return "", err
	}
	text := strings.TrimSpace(out.Output)
	if out.ExitCode != 0 || !strings.HasSuffix(text, "ok") {
		return "", fmt.Errorf("exit status %d: %s", out.ExitCode, text)
	}
	first, _, _ := strings.Cut(text, "\n")
	return strings.TrimSpace(first), nil
}

// removeLeftovers removes what a failed build with these inputs left: the
// untagged images of its finished steps, which carry the recipe's labels.
// It ignores the caller's context: it runs after an interrupt too.
func (e *Engine) removeLeftovers(inputs string) {
	ctx, cancel := context.WithTimeout(context.Background(), removeTimeout)
	defer cancel()
	list, err := e.API.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(
		filters.Arg("dangling", "true"),
		filters.Arg("label", LabelImage+"="+ImageKind),
		filters.Arg("label", LabelInputs+"="+inputs),
	)})
	if err != nil {
		return
	}
	for _, im := range list {
		_, _ = e.API.ImageRemove(ctx, im.ID, image.RemoveOptions{PruneChildren: true})
	}
}

// RemoveImage removes the image ref if memlab built it (it carries
// LabelImage=ImageKind); one memlab did not build is ErrNotOurImage.
// It reports whether there was an image to remove.
func (e *Engine) RemoveImage(ctx context.Context, ref string) (removed bool, err error) {
	in, err := e.API.ImageInspect(ctx, ref)
	if cerrdefs.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("inspecting image %s: %w", ref, err)
	}
	if labelOf(in, LabelImage) != ImageKind {
		return false, fmt.Errorf("%w: %s has no %s=%s label; not removing it", ErrNotOurImage, ref, LabelImage, ImageKind)
	}
	if _, err := e.API.ImageRemove(ctx, ref, image.RemoveOptions{PruneChildren: true}); err != nil {
		return false, fmt.Errorf("removing image %s: %w", ref, err)
	}
	return true, nil
}

// EnsureImage makes sure the lab image is there and current: when it is
// missing, or is an offline image memlab built from inputs that have since
// changed (a new stress, busybox or bash on the host, a new recipe), it
// builds it from the offline recipe, which needs no registry, so the labs
// build their image themselves. An image memlab did not build, or built
// online, is used as it is. It reports whether it built.
func (e *Engine) EnsureImage(ctx context.Context, ref string) (built bool, err error) {
	in, err := e.API.ImageInspect(ctx, ref)
	switch {
	case cerrdefs.IsNotFound(err):
	case err != nil:
		return false, fmt.Errorf("inspecting image %s: %w", ref, err)
	case labelOf(in, LabelImage) != ImageKind || strings.HasPrefix(labelOf(in, LabelInputs), "online-"):
		return false, nil
	}
	b, err := e.BuildImage(ctx, ref, Recipe{}, false, nil)
	return b.Built, err
}

// labelOf is an image's label, "" when it has none.
func labelOf(in image.InspectResponse, key string) string {
	if in.Config == nil {
		return ""
	}
	return in.Config.Labels[key]
}

func shortImage(id string) string { return short(strings.TrimPrefix(id, "sha256:")) }
