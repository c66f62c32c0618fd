// Command image builds the operator's and the server's container images as
// OCI archives, without a container daemon: the static binary from
// `make build` on an empty root with a non-root user (65532), the CA
// certificates and a writable /tmp (`make image`). The Dockerfile makes the
// same root with -rootfs, for those who build with Docker.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	var s Spec
	var out, rootfs string
	var describeOnly bool
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	fs.StringVar(&s.Image, "image", "", "image name (blue-operator, blue-mcp)")
	fs.StringVar(&s.Name, "name", "", "the binary's name in the image's root (manager, blue-mcp)")
	fs.StringVar(&s.Binary, "binary", "", "the static binary to put in")
	fs.StringVar(&s.Version, "version", "dev", "version stamped into the labels and the reference")
	fs.StringVar(&s.CABundle, "ca", caBundlePath, "PEM bundle of CA certificates (Debian's ca-certificates)")
	fs.StringVar(&s.Arch, "arch", runtime.GOARCH, "architecture the binary was built for")
	fs.StringVar(&out, "o", "", "write the OCI archive here")
	fs.StringVar(&rootfs, "rootfs", "", "write the image's root filesystem into this directory instead")
	fs.BoolVar(&describeOnly, "describe", false, "print the image's description (user, entrypoint, files) as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case s.Name == "" || s.Binary == "":
		return errors.New("-name and -binary are required")
	case out == "" && rootfs == "" && !describeOnly:
		return errors.New("one of -o, -rootfs or -describe is required")
	case out != "" && s.Image == "":
		return errors.New("-o needs -image")
	}
	files, err := rootFiles(s)
	if err != nil {
		return err
	}
	if describeOnly {
		return json.NewEncoder(os.Stdout).Encode(describe(s, files))
	}
	if rootfs != "" {
		return writeRoot(files, rootfs)
	}
	img, _, err := build(s)
	if err != nil {
		return err
	}
	if err := writeArchive(img, s.Ref(), out); err != nil {
		return err
	}
	d, err := img.Digest()
	if err != nil {
		return err
	}
	fmt.Printf("%s %s %s\n", out, s.Ref(), d)
	return nil
}
