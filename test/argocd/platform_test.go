package argocd_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bluev1 "github.com/superviber/blue-operator/api/v1alpha1"
	"github.com/superviber/blue-operator/controllers"
)

// A platform repository's tenants folder, end to end: the ApplicationSet's
// git files generator picks the files it matches in the example platform
// repository (config/argocd/example-platform), each generated Application
// syncs what its source selects, and those objects are applied to the real
// API server (server-side, as Argo CD's server-side apply does) and
// reconciled by the operator.
func TestPlatformRepoTenantsReachTheCluster(t *testing.T) {
	ctx := context.Background()
	root := filepath.Join(repoRoot, "config", "argocd", "example-platform")
	apps := appsFor(t, root)
	if got := names(apps); !slices.Equal(got, []string{"bt-acme", "bt-globex"}) {
		t.Fatalf("Applications %v, want one per tenants/*.yaml (bt-acme, bt-globex; not the README)", got)
	}
	for _, a := range apps {
		if len(a.objects) != 1 || a.objects[0].GetKind() != "BlueTenant" {
			t.Fatalf("%s syncs %d objects (%v), want its one BlueTenant", a.name, len(a.objects), a.objects)
		}
		bt := a.objects[0]
		if "bt-"+bt.GetName() != a.name {
			t.Errorf("%s syncs BlueTenant %s: the file and the tenant are named apart", a.name, bt.GetName())
		}
		if err := k8s.Patch(ctx, bt, client.Apply, client.FieldOwner("argocd-controller"), client.ForceOwnership); err != nil {
			t.Fatalf("%s: apply BlueTenant %s: %v", a.name, bt.GetName(), err)
		}
	}
	for _, a := range apps {
		name := a.objects[0].GetName()
		eventually(t, wait, name+" reconciled", func() error {
			var bt bluev1.BlueTenant
			if err := k8s.Get(ctx, client.ObjectKey{Name: name}, &bt); err != nil {
				return err
			}
			if bt.Status.ObservedGeneration != bt.Generation || bt.Status.Namespace != controllers.NamespaceFor(name) || bt.Status.ExternalID == "" {
				return fmt.Errorf("status %+v", bt.Status)
			}
			return nil
		})
	}
}

// A tenant file the API server would refuse fails the sync with the CRD's
// own message, before anything is created.
func TestPlatformRepoBadTenantIsRefused(t *testing.T) {
	apps := appsFor(t, filepath.Join("testdata", "platform-broken"))
	if len(apps) != 1 || len(apps[0].objects) != 1 {
		t.Fatalf("apps %v", names(apps))
	}
	bt := apps[0].objects[0]
	err := k8s.Patch(context.Background(), bt, client.Apply, client.FieldOwner("argocd-controller"), client.ForceOwnership)
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "accountId") {
		t.Fatalf("apply of a tenant with a 5-digit account id: %v, want Invalid naming spec.aws.accountId", err)
	}
	var got bluev1.BlueTenant
	if err := k8s.Get(context.Background(), client.ObjectKey{Name: bt.GetName()}, &got); !apierrors.IsNotFound(err) {
		t.Errorf("the refused tenant exists: %v", err)
	}
}

// platformApp is one Application the ApplicationSet would generate, with
// the objects it would sync.
type platformApp struct {
	name    string
	objects []*unstructured.Unstructured
}

func names(apps []platformApp) []string {
	var out []string
	for _, a := range apps {
		out = append(out, a.name)
	}
	slices.Sort(out)
	return out
}

// appsFor runs config/argocd's ApplicationSet over a platform repository
// checked out at root: its git files generator, its template, and each
// Application's source (path and directory.include).
func appsFor(t *testing.T, root string) []platformApp {
	t.Helper()
	objs := argoObjects(t)
	set := objs["ApplicationSet"].Object
	tmpl := set["spec"].(map[string]any)["template"].(map[string]any)
	gens, _, _ := unstructured.NestedSlice(set, "spec", "generators")
	files, _, _ := unstructured.NestedSlice(gens[0].(map[string]any)["git"].(map[string]any), "files")
	pattern := files[0].(map[string]any)["path"].(string)

	var out []platformApp
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if ok, _ := path.Match(pattern, rel); !ok {
			return nil
		}
		var content map[string]any
		readYAML(t, p, &content)
		app := renderTemplate(t, set, tmpl, content, rel)
		name, _, _ := unstructured.NestedString(app, "metadata", "name")
		srcPath, _, _ := unstructured.NestedString(app, "spec", "source", "path")
		include, _, _ := unstructured.NestedString(app, "spec", "source", "directory", "include")
		synced, err := syncedObjects(filepath.Join(root, filepath.FromSlash(srcPath)), include)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, platformApp{name: name, objects: synced})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// syncedObjects are the objects of the files in dir that include matches,
// as an Argo CD directory source reads them.
func syncedObjects(dir, include string) ([]*unstructured.Unstructured, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []*unstructured.Unstructured
	for _, e := range entries {
		if ok, _ := path.Match(include, e.Name()); !ok || e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
		for {
			var o unstructured.Unstructured
			if err := dec.Decode(&o.Object); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				return nil, fmt.Errorf("%s: %w", e.Name(), err)
			}
			if len(o.Object) > 0 {
				out = append(out, &o)
			}
		}
	}
	return out, nil
}
