package argocd_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	bluev1 "github.com/superviber/blue-operator/api/v1alpha1"
)

// ignoreRules is the value of argocd-cm's ignoreDifferences key for
// BlueTenant.
type ignoreRules struct {
	JSONPointers      []string `json:"jsonPointers"`
	JQPathExpressions []string `json:"jqPathExpressions"`
	// Argo CD also knows managedFieldsManagers; normalize refuses it, as
	// it does not evaluate it.
	ManagedFieldsManagers []string `json:"managedFieldsManagers"`
}

func loadIgnoreRules(t *testing.T) ignoreRules {
	t.Helper()
	v, ok := argocdCM(t)[ignoreKey]
	if !ok {
		t.Fatalf("argocd-cm.yaml has no %s", ignoreKey)
	}
	var r ignoreRules
	if err := yaml.UnmarshalStrict([]byte(v), &r); err != nil {
		t.Fatalf("%s: %v", ignoreKey, err)
	}
	if len(r.JSONPointers)+len(r.JQPathExpressions) == 0 {
		t.Fatalf("%s ignores nothing", ignoreKey)
	}
	return r
}

// jqRule is the subset of jq these rules use: a path, optionally narrowed
// to one value with select(. == <JSON literal>).
var jqRule = regexp.MustCompile(`^\s*((?:\.[A-Za-z_][A-Za-z0-9_]*)+)\s*(?:\|\s*select\(\s*\.\s*==\s*(.+?)\s*\))?\s*$`)

// normalize removes what the rules ignore, as Argo CD's ignore normalizer
// does before comparing: each JSON pointer is removed, each jq expression e
// is run as del(e), in order, then empty objects and arrays are dropped.
// Both the desired and the live object go through it.
func (r ignoreRules) normalize(obj map[string]any) (map[string]any, error) {
	if len(r.ManagedFieldsManagers) > 0 {
		return nil, fmt.Errorf("managedFieldsManagers %v: this test does not evaluate them; extend normalize", r.ManagedFieldsManagers)
	}
	var doc map[string]any
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	for _, p := range r.JSONPointers {
		if !strings.HasPrefix(p, "/") {
			return nil, fmt.Errorf("JSON pointer %q does not start with /", p)
		}
		var fields []string
		for _, f := range strings.Split(p[1:], "/") {
			fields = append(fields, strings.ReplaceAll(strings.ReplaceAll(f, "~1", "/"), "~0", "~"))
		}
		deleteAt(doc, fields, nil)
	}
	for _, e := range r.JQPathExpressions {
		m := jqRule.FindStringSubmatch(e)
		if m == nil {
			return nil, fmt.Errorf("jq expression %q is more than this test evaluates (a path, optionally | select(. == <JSON>)): extend normalize", e)
		}
		var want any
		if m[2] != "" {
			if err := json.Unmarshal([]byte(m[2]), &want); err != nil {
				return nil, fmt.Errorf("jq expression %q: literal %s: %w", e, m[2], err)
			}
		}
		deleteAt(doc, strings.Split(m[1][1:], "."), func(v any) bool { return m[2] == "" || reflect.DeepEqual(v, want) })
	}
	removeEmpty(doc)
	return doc, nil
}

// deleteAt removes the field at path when it exists and match (if any)
// accepts its value.
func deleteAt(doc map[string]any, path []string, match func(any) bool) {
	for _, f := range path[:len(path)-1] {
		next, ok := doc[f].(map[string]any)
		if !ok {
			return
		}
		doc = next
	}
	last := path[len(path)-1]
	if v, ok := doc[last]; ok && (match == nil || match(v)) {
		delete(doc, last)
	}
}

func removeEmpty(obj map[string]any) {
	for k, v := range obj {
		switch v := v.(type) {
		case map[string]any:
			removeEmpty(v)
			if len(v) == 0 {
				delete(obj, k)
			}
		case []any:
			var kept []any
			for _, item := range v {
				if m, ok := item.(map[string]any); ok {
					if removeEmpty(m); len(m) == 0 {
						continue
					}
				}
				kept = append(kept, item)
			}
			if len(kept) == 0 {
				delete(obj, k)
			} else {
				obj[k] = kept
			}
		}
	}
}

// crdDefault is a default the API server fills into BlueTenant.spec.
type crdDefault struct {
	path  []string
	value any
}

func crdDefaults(t *testing.T) []crdDefault {
	t.Helper()
	var crd struct {
		Spec struct {
			Versions []struct {
				Schema struct {
					OpenAPIV3Schema map[string]any `json:"openAPIV3Schema"`
				} `json:"schema"`
			} `json:"versions"`
		} `json:"spec"`
	}
	readYAML(t, filepath.Join(repoRoot, "config", "crd", "bases", "blue.superviber.com_bluetenants.yaml"), &crd)
	var out []crdDefault
	var walk func(schema map[string]any, path []string)
	walk = func(schema map[string]any, path []string) {
		if d, ok := schema["default"]; ok {
			out = append(out, crdDefault{append([]string(nil), path...), d})
		}
		if items, ok := schema["items"].(map[string]any); ok && hasDefault(items) {
			t.Errorf("a default under the list %s: jsonPointers and these jq rules cannot name list items by key; extend the rules and this test", strings.Join(path, "."))
		}
		props, _ := schema["properties"].(map[string]any)
		for name, p := range props {
			walk(p.(map[string]any), append(path, name))
		}
	}
	for _, v := range crd.Spec.Versions {
		walk(v.Schema.OpenAPIV3Schema, nil)
	}
	if len(out) == 0 {
		t.Fatal("found no defaults in the CRD: the walk is broken")
	}
	return out
}

func hasDefault(schema any) bool {
	switch s := schema.(type) {
	case map[string]any:
		if _, ok := s["default"]; ok {
			return true
		}
		for _, v := range s {
			if hasDefault(v) {
				return true
			}
		}
	case []any:
		for _, v := range s {
			if hasDefault(v) {
				return true
			}
		}
	}
	return false
}

func nest(path []string, v any) map[string]any {
	obj := map[string]any{path[len(path)-1]: v}
	for i := len(path) - 2; i >= 0; i-- {
		obj = map[string]any{path[i]: obj}
	}
	return obj
}

// TestIgnoreDifferencesCoverEveryDefault: every default in the CRD is
// ignored while it holds the default value and only then, and status is
// ignored.
func TestIgnoreDifferencesCoverEveryDefault(t *testing.T) {
	rules := loadIgnoreRules(t)
	for _, d := range crdDefaults(t) {
		name := strings.Join(d.path, ".")
		got, err := rules.normalize(nest(d.path, d.value))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 0 {
			t.Errorf("%s = %v (the CRD default) is not ignored: left %v", name, d.value, got)
		}
		if s, ok := d.value.(string); ok {
			changed := nest(d.path, s+"-changed")
			if got, err := rules.normalize(changed); err != nil || !reflect.DeepEqual(got, changed) {
				t.Errorf("%s = %q is ignored too (%v, %v): a real change would stay Synced", name, s+"-changed", got, err)
			}
		}
	}
	got, err := rules.normalize(map[string]any{"status": map[string]any{"observedGeneration": 1, "conditions": []any{map[string]any{"type": "Ready"}}}})
	if err != nil || len(got) != 0 {
		t.Errorf("status is not ignored: %v, %v", got, err)
	}
}

// TestIgnoreDifferencesAfterServerSideApply applies a tenant file that
// leaves every default out, as Argo CD does (server-side apply), lets the API
// server default it and the operator write its status, and compares the
// file with the live object after both went through the rules.
func TestIgnoreDifferencesAfterServerSideApply(t *testing.T) {
	rules := loadIgnoreRules(t)
	ctx := context.Background()
	const gitFile = `
apiVersion: blue.superviber.com/v1alpha1
kind: BlueTenant
metadata:
  name: argo-defaults
spec:
  displayName: Argo Defaults
  endpoint:
    host: argo-defaults.mcp.example.com
  aws:
    region: eu-west-1
    accountId: "222222222222"
  infisical:
    projectId: proj-argo-defaults
    auth:
      kubernetes:
        identityId: id-argo-defaults
`
	desired := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(gitFile), &desired.Object); err != nil {
		t.Fatal(err)
	}
	err := k8s.Apply(ctx, client.ApplyConfigurationFromUnstructured(desired.DeepCopy()), client.FieldOwner("argocd-controller"), client.ForceOwnership)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(ctx, desired.DeepCopy()) })
	live, _ := waitTenant(t, "argo-defaults", "a status", func(bt *bluev1.BlueTenant) error {
		if len(bt.Status.Conditions) == 0 {
			return fmt.Errorf("no conditions yet")
		}
		return nil
	})

	// The API server did fill in the defaults, so a plain comparison of
	// spec would report the tenant OutOfSync.
	for _, d := range crdDefaults(t) {
		if got, ok, _ := unstructured.NestedFieldNoCopy(live.Object, d.path...); !ok || !reflect.DeepEqual(got, d.value) {
			t.Errorf("live %s = %v, want the default %v", strings.Join(d.path, "."), got, d.value)
		}
	}
	if reflect.DeepEqual(desired.Object["spec"], live.Object["spec"]) {
		t.Fatal("live spec equals the file: nothing was defaulted, the test proves nothing")
	}

	compare := func(desired, live map[string]any) (bool, string) {
		t.Helper()
		d, err := rules.normalize(desired)
		if err != nil {
			t.Fatal(err)
		}
		l, err := rules.normalize(live)
		if err != nil {
			t.Fatal(err)
		}
		// Argo CD's diff handles metadata the API server sets (uid,
		// resourceVersion, managedFields, ...) itself.
		delete(d, "metadata")
		delete(l, "metadata")
		db, _ := json.Marshal(d)
		lb, _ := json.Marshal(l)
		return reflect.DeepEqual(d, l), fmt.Sprintf("\nfile: %s\nlive: %s", db, lb)
	}
	if same, diff := compare(desired.Object, live.Object); !same {
		t.Errorf("after a sync the tenant is OutOfSync:%s", diff)
	}

	// Writing a default out in the file changes nothing.
	explicit := desired.DeepCopy()
	_ = unstructured.SetNestedField(explicit.Object, "small", "spec", "tier")
	_ = unstructured.SetNestedField(explicit.Object, "/", "spec", "infisical", "secretPath")
	if same, diff := compare(explicit.Object, live.Object); !same {
		t.Errorf("a file that spells out the defaults is OutOfSync:%s", diff)
	}

	// A change in Git is still seen.
	medium := desired.DeepCopy()
	_ = unstructured.SetNestedField(medium.Object, "medium", "spec", "tier")
	if same, _ := compare(medium.Object, live.Object); same {
		t.Error("tier: medium in the file and small in the cluster compare equal: Argo CD would never sync the change")
	}

	// So is a change in the cluster.
	var edited *unstructured.Unstructured
	eventually(t, wait, "edit the live tenant", func() error {
		edited = getLive(t, "argo-defaults")
		if err := unstructured.SetNestedField(edited.Object, "prod-eu", "spec", "infisical", "environment"); err != nil {
			return err
		}
		return k8s.Update(ctx, edited, client.FieldOwner("kubectl-edit"))
	})
	if same, _ := compare(desired.Object, edited.Object); same {
		t.Error("an edited infisical.environment compares equal to the file's default: self-heal would never see it")
	}
}
