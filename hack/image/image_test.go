package main

import (
	"archive/tar"
	"bufio"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// fakeSpec is a Spec over small stand-in files, so the test needs no build.
func fakeSpec(t *testing.T, image, name string) Spec {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, name)
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(bin, []byte("\x7fELF stand-in"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ca, []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return Spec{Image: image, Name: name, Binary: bin, Version: "v9.9.9", CABundle: ca, Arch: "amd64"}
}

// eachEntry calls fn for every entry of the tar stream r, with its body.
func eachEntry(t *testing.T, r io.Reader, fn func(*tar.Header, io.Reader)) {
	t.Helper()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		fn(h, tr)
	}
}

// readArchive opens an OCI archive written by writeArchive: its one image
// and that image's reference annotation.
func readArchive(t *testing.T, archive string) (v1.Image, string) {
	t.Helper()
	dir := t.TempDir()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	eachEntry(t, f, func(h *tar.Header, body io.Reader) {
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		if h.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			return
		}
		b, err := io.ReadAll(body)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	})
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatalf("not an OCI layout: %v", err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil || len(m.Manifests) != 1 {
		t.Fatalf("index: %+v %v", m, err)
	}
	img, err := idx.Image(m.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	return img, m.Manifests[0].Annotations["org.opencontainers.image.ref.name"]
}

// The archive is an OCI image that runs the binary as 65532 on a root
// holding only what the Description lists, with the version stamped; the
// same inputs give the same digest.
func TestImageArchive(t *testing.T) {
	s := fakeSpec(t, "blue-mcp", "blue-mcp")
	out := filepath.Join(t.TempDir(), "blue-mcp.oci.tar")
	img, want, err := build(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeArchive(img, s.Ref(), out); err != nil {
		t.Fatal(err)
	}
	got, ref := readArchive(t, out)
	if ref != "superviber/blue-mcp:v9.9.9" {
		t.Errorf("reference %q", ref)
	}
	cf, err := got.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Config.User != "65532:65532" || !slices.Equal(cf.Config.Entrypoint, []string{"/blue-mcp"}) || cf.OS != "linux" || cf.Architecture != "amd64" ||
		cf.Config.Labels["org.opencontainers.image.version"] != "v9.9.9" {
		t.Errorf("config %+v", cf.Config)
	}
	layers, err := got.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers: %d %v", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	type entry struct {
		mode int64
		uid  int
	}
	entries := map[string]entry{}
	eachEntry(t, rc, func(h *tar.Header, _ io.Reader) {
		entries["/"+strings.TrimSuffix(h.Name, "/")] = entry{h.Mode, h.Uid}
	})
	var paths []string
	for p := range entries {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	if !slices.Equal(paths, want.Files) {
		t.Errorf("files %v, want %v", paths, want.Files)
	}
	for p, e := range map[string]entry{"/blue-mcp": {0o755, 0}, "/tmp": {0o1777, 0}, "/home/nonroot": {0o700, 65532}, caBundlePath: {0o644, 0}} {
		if entries[p] != e {
			t.Errorf("%s: mode %o uid %d, want %o %d", p, entries[p].mode, entries[p].uid, e.mode, e.uid)
		}
	}
	again, _, err := build(s)
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := img.Digest()
	d2, _ := again.Digest()
	if d1 != d2 {
		t.Errorf("same inputs, digests %s and %s", d1, d2)
	}
}

// stage is what a Dockerfile stage says about the image it makes.
type stage struct {
	user       string
	entrypoint []string
	rootfsName string // the -name of the hack/image -rootfs run it copies
	copies     []string
}

// dockerfileStages reads the final stages of the repository's Dockerfile.
func dockerfileStages(t *testing.T) map[string]*stage {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	stages := map[string]*stage{}
	rootfs := map[string]string{} // rootfs dir → -name
	runRootfs := regexp.MustCompile(`-rootfs (\S+) .*?-name (\S+)`)
	fromStage := regexp.MustCompile(`^FROM (\S+) AS (\S+)$`)
	var cur *stage
	sc := bufio.NewScanner(f)
	var pending string // an instruction continued with a trailing backslash
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") {
			continue
		}
		if cont, ok := strings.CutSuffix(line, "\\"); ok {
			pending += cont + " "
			continue
		}
		line, pending = pending+line, ""
		switch {
		case strings.HasPrefix(line, "RUN "):
			for _, m := range runRootfs.FindAllStringSubmatch(line, -1) {
				rootfs[strings.TrimSuffix(m[1], "/")] = m[2]
			}
		case fromStage.MatchString(line):
			m := fromStage.FindStringSubmatch(line)
			cur = nil
			if m[1] == "scratch" {
				cur = &stage{}
				stages[m[2]] = cur
			}
		case cur == nil:
		case strings.HasPrefix(line, "USER "):
			cur.user = strings.TrimPrefix(line, "USER ")
		case strings.HasPrefix(line, "ENTRYPOINT "):
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "ENTRYPOINT ")), &cur.entrypoint); err != nil {
				t.Fatalf("ENTRYPOINT %q: %v", line, err)
			}
		case strings.HasPrefix(line, "COPY "):
			fields := strings.Fields(line)
			src := strings.TrimSuffix(fields[len(fields)-2], "/")
			cur.copies = append(cur.copies, src)
			for dir, name := range rootfs {
				if src == dir {
					cur.rootfsName = name
				}
			}
		}
	}
	return stages
}

// The Dockerfile, for those with Docker, makes the same images: each
// target copies the root this command writes for the same binary onto an
// empty image, with the same user and entrypoint.
func TestDockerfileDescribesTheSameImages(t *testing.T) {
	stages := dockerfileStages(t)
	for _, c := range []struct{ target, image, name string }{
		{"operator", "blue-operator", "manager"},
		{"blue-mcp", "blue-mcp", "blue-mcp"},
	} {
		t.Run(c.target, func(t *testing.T) {
			st := stages[c.target]
			if st == nil {
				t.Fatalf("the Dockerfile has no FROM scratch AS %s stage (stages %v)", c.target, stages)
			}
			s := fakeSpec(t, c.image, c.name)
			files, err := rootFiles(s)
			if err != nil {
				t.Fatal(err)
			}
			want := describe(s, files)
			if st.user != want.User || !slices.Equal(st.entrypoint, want.Entrypoint) {
				t.Errorf("Dockerfile USER %q ENTRYPOINT %v, image %q %v", st.user, st.entrypoint, want.User, want.Entrypoint)
			}
			if st.rootfsName != c.name {
				t.Errorf("the stage copies %v, none of them the root written with -rootfs for %s", st.copies, c.name)
			}
		})
	}
}
