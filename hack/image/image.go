package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The user every image runs as: distroless's "nonroot", the uid the
// operator's pod security context asks for.
const (
	nonrootUID  = 65532
	nonrootName = "nonroot"
)

// caBundlePath is where Go's crypto/x509 looks first on Linux.
const caBundlePath = "/etc/ssl/certs/ca-certificates.crt"

// Spec describes one image: a static binary on an otherwise empty root
// with what a non-root Go server needs (a passwd entry, CA certificates, a
// writable /tmp).
type Spec struct {
	Image    string // image name, e.g. "blue-operator"
	Name     string // the binary's name in the image's root, e.g. "manager"
	Binary   string // the static binary on this machine
	Version  string // stamped into the image's labels and reference
	CABundle string // PEM bundle on this machine (Debian's ca-certificates)
	Arch     string // GOARCH the binary was built for
}

// File is one entry of the image's root filesystem.
type File struct {
	Path string // absolute, in the image
	Mode fs.FileMode
	UID  int
	Data []byte // nil for directories
}

// Description is what the image holds and how it runs: what a Dockerfile
// describes too, so the two can be compared.
type Description struct {
	User       string
	Entrypoint []string
	Files      []string // paths, sorted
}

// rootFiles is the image's filesystem for s, in a fixed order.
func rootFiles(s Spec) ([]File, error) {
	bin, err := os.ReadFile(s.Binary)
	if err != nil {
		return nil, fmt.Errorf("binary: %w", err)
	}
	ca, err := os.ReadFile(s.CABundle)
	if err != nil {
		return nil, fmt.Errorf("CA certificates (install Debian's ca-certificates): %w", err)
	}
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\n%s:x:%d:%d:%s:/home/%s:/sbin/nologin\n", nonrootName, nonrootUID, nonrootUID, nonrootName, nonrootName)
	group := fmt.Sprintf("root:x:0:\n%s:x:%d:\n", nonrootName, nonrootUID)
	return []File{
		{Path: "/etc", Mode: fs.ModeDir | 0o755},
		{Path: "/etc/group", Mode: 0o644, Data: []byte(group)},
		{Path: "/etc/passwd", Mode: 0o644, Data: []byte(passwd)},
		{Path: "/etc/ssl", Mode: fs.ModeDir | 0o755},
		{Path: "/etc/ssl/certs", Mode: fs.ModeDir | 0o755},
		{Path: caBundlePath, Mode: 0o644, Data: ca},
		{Path: "/home", Mode: fs.ModeDir | 0o755},
		{Path: "/home/" + nonrootName, Mode: fs.ModeDir | 0o700, UID: nonrootUID},
		{Path: "/tmp", Mode: fs.ModeDir | fs.ModeSticky | 0o777},
		{Path: "/" + s.Name, Mode: 0o755, Data: bin},
	}, nil
}

// writeRoot writes the files into dir (for the Dockerfile, which copies
// them onto an empty image; ownership is set there, by COPY --chown).
func writeRoot(files []File, dir string) error {
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if f.Mode.IsDir() {
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
			if err := os.Chmod(p, f.Mode.Perm()|f.Mode&fs.ModeSticky); err != nil {
				return err
			}
			continue
		}
		if err := os.WriteFile(p, f.Data, f.Mode.Perm()); err != nil {
			return err
		}
	}
	return nil
}

// describe is the Description of an image built from s.
func describe(s Spec, files []File) Description {
	d := Description{User: fmt.Sprintf("%d:%d", nonrootUID, nonrootUID), Entrypoint: []string{"/" + s.Name}}
	for _, f := range files {
		d.Files = append(d.Files, f.Path)
	}
	slices.Sort(d.Files)
	return d
}

// epoch stamps every file and the config, so the same inputs give the same
// image digest.
var epoch = time.Unix(0, 0).UTC()

// layerTar is the files as one uncompressed tar layer.
func layerTar(files []File) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{
			Name: strings.TrimPrefix(f.Path, "/"), Mode: int64(f.Mode.Perm()), Uid: f.UID, Gid: f.UID,
			ModTime: epoch, Format: tar.FormatPAX,
		}
		if f.Mode&fs.ModeSticky != 0 {
			h.Mode |= 0o1000
		}
		if f.Mode.IsDir() {
			h.Typeflag, h.Name = tar.TypeDir, h.Name+"/"
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.Data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.Data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// build assembles the OCI image of s.
func build(s Spec) (v1.Image, Description, error) {
	files, err := rootFiles(s)
	if err != nil {
		return nil, Description{}, err
	}
	raw, err := layerTar(files)
	if err != nil {
		return nil, Description{}, fmt.Errorf("layer: %w", err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil },
		tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, Description{}, fmt.Errorf("layer: %w", err)
	}
	img, err := mutate.AppendLayers(mutate.MediaType(mutate.ConfigMediaType(empty.Image, types.OCIConfigJSON), types.OCIManifestSchema1), layer)
	if err != nil {
		return nil, Description{}, fmt.Errorf("image: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, Description{}, err
	}
	d := describe(s, files)
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS, cf.Created = s.Arch, "linux", v1.Time{Time: epoch}
	cf.Config.User, cf.Config.Entrypoint, cf.Config.WorkingDir = d.User, d.Entrypoint, "/"
	cf.Config.Labels = map[string]string{
		"org.opencontainers.image.title":   s.Image,
		"org.opencontainers.image.version": s.Version,
		"org.opencontainers.image.source":  "https://github.com/superviber/blue-operator",
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return nil, Description{}, fmt.Errorf("config: %w", err)
	}
	return img, d, nil
}

// Ref is the name containerd gives the image on import.
func (s Spec) Ref() string { return "superviber/" + s.Image + ":" + s.Version }

// writeArchive writes img as an OCI image layout in a tar archive (what
// `ctr images import` and skopeo's oci-archive read).
func writeArchive(img v1.Image, ref, out string) error {
	dir, err := os.MkdirTemp(filepath.Dir(out), ".oci-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("OCI layout: %w", err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": ref})); err != nil {
		return fmt.Errorf("OCI layout: %w", err)
	}
	tmp := out + ".tmp"
	if err := tarDir(dir, tmp); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, out)
}

// tarDir archives dir's contents (regular files and directories, in walk
// order, stamped with epoch) into out.
func tarDir(dir, out string) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		h := &tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, ModTime: epoch, Format: tar.FormatPAX}
		if e.IsDir() {
			h.Typeflag, h.Name, h.Mode = tar.TypeDir, h.Name+"/", 0o755
			return tw.WriteHeader(h)
		}
		h.Typeflag, h.Size = tar.TypeReg, info.Size()
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		src, err := os.Open(path)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(tw, src)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("archive %s: %w", out, err)
	}
	return nil
}
