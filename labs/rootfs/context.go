package rootfs

import (
	"archive/tar"
	"fmt"
	"io"
	"path"
	"time"
)

// ContextDir is the directory of a build context that holds the file set:
// a recipe copies it with `COPY rootfs/ /`.
const ContextDir = "rootfs"

// WriteBuildContext writes a Docker build context, the tar stream the
// engine's image build takes: dockerfile as "Dockerfile" and, unless root
// is nil, the file set under rootfs/. Every entry is owned by root with
// mtime 0, so the same inputs give the same bytes and a hash of the stream
// names what the image was built from.
func WriteBuildContext(w io.Writer, dockerfile []byte, root *FS) error {
	tw := tar.NewWriter(w)
	epoch := time.Unix(0, 0)
	hdr := func(h *tar.Header) *tar.Header {
		h.ModTime, h.Uid, h.Gid, h.Format = epoch, 0, 0, tar.FormatPAX
		return h
	}
	if err := tw.WriteHeader(hdr(&tar.Header{Name: "Dockerfile", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(dockerfile))})); err != nil {
		return err
	}
	if _, err := tw.Write(dockerfile); err != nil {
		return err
	}
	if root != nil {
		if err := tw.WriteHeader(hdr(&tar.Header{Name: ContextDir + "/", Typeflag: tar.TypeDir, Mode: 0o755})); err != nil {
			return err
		}
		for _, p := range root.Paths() {
			if err := root.entries[p].writeTar(tw, path.Join(ContextDir, p), hdr); err != nil {
				return err
			}
		}
	}
	return tw.Close()
}

func (e *entry) writeTar(tw *tar.Writer, name string, hdr func(*tar.Header) *tar.Header) error {
	mode := int64(unixMode(e.mode))
	switch e.kind {
	case kindDir:
		return tw.WriteHeader(hdr(&tar.Header{Name: name + "/", Typeflag: tar.TypeDir, Mode: mode}))
	case kindSymlink:
		return tw.WriteHeader(hdr(&tar.Header{Name: name, Typeflag: tar.TypeSymlink, Mode: mode, Linkname: e.target}))
	}
	body, size, err := e.open()
	if err != nil {
		return err
	}
	defer body.Close()
	if err := tw.WriteHeader(hdr(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: mode, Size: size})); err != nil {
		return err
	}
	n, err := io.Copy(tw, io.LimitReader(body, size))
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("rootfs: %s changed size while being written", name)
	}
	return nil
}
