// Command render prints a kustomize directory's objects as one YAML stream
// (make build-installer writes config/default to dist/install.yaml).
package main

import (
	"fmt"
	"os"

	"sigs.k8s.io/yaml"

	"github.com/superviber/blue-operator/hack/manifests"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: render <kustomize dir>")
		os.Exit(2)
	}
	objs, err := manifests.Render(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "render:", err)
		os.Exit(1)
	}
	for _, o := range objs {
		b, err := yaml.Marshal(o.Object)
		if err != nil {
			fmt.Fprintln(os.Stderr, "render:", err)
			os.Exit(1)
		}
		fmt.Printf("---\n%s", b)
	}
}
