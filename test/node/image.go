package node

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// debianCABundle is where Debian's ca-certificates keeps its bundle, the one
// make image puts into the images.
const debianCABundle = "/etc/ssl/certs/ca-certificates.crt"

// ImageSpec is one of the repository's images to build for a node.
type ImageSpec struct {
	// Command is the directory under cmd/ (manager, blue-mcp).
	Command string
	// Image is the image's name (blue-operator, blue-mcp).
	Image string
	// Version tags the image and is stamped into the binary.
	Version string
	// Dir holds the binary and the archive.
	Dir string
}

// Ref is the reference the kubelet pulls the image by once imported.
func (s ImageSpec) Ref() string { return "docker.io/superviber/" + s.Image + ":" + s.Version }

// BuildImage builds the command and packs it as make image does (the image
// builder hack/image: static binary, non-root, CA certificates, the version
// stamped), returning the OCI archive to give Options.Images.
func BuildImage(ctx context.Context, s ImageSpec) (archive string, err error) {
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return "", err
	}
	bin := filepath.Join(s.Dir, s.Command)
	// Not testutil.BuildCommand: the image holds nothing but the binary, so
	// it is built without cgo whatever the caller's CGO_ENABLED.
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "-ldflags=-s -w -X main.version="+s.Version,
		"github.com/superviber/blue-operator/cmd/"+s.Command)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build cmd/%s: %w\n%s", s.Command, err, out)
	}
	archive = filepath.Join(s.Dir, s.Image+".oci.tar")
	out, err := exec.CommandContext(ctx, "go", "run", "github.com/superviber/blue-operator/hack/image",
		"-image", s.Image, "-name", s.Command, "-binary", bin, "-version", s.Version, "-ca", debianCABundle, "-o", archive).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("build the %s image: %w\n%s", s.Image, err, out)
	}
	return archive, nil
}
