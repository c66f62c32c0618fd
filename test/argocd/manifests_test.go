package argocd_test

import (
	"bytes"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"text/template"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/superviber/blue-operator/hack/manifests"
)

const (
	argoNamespace = "argocd"
	waveKey       = "argocd.argoproj.io/sync-wave"
	healthKey     = "resource.customizations.health.blue.superviber.com_BlueTenant"
	ignoreKey     = "resource.customizations.ignoreDifferences.blue.superviber.com_BlueTenant"
	crdName       = "bluetenants.blue.superviber.com"
)

// argoObjects renders config/argocd and indexes it by kind.
func argoObjects(t *testing.T) map[string]*unstructured.Unstructured {
	t.Helper()
	objs, err := manifests.Render(filepath.Join(repoRoot, "config", "argocd"))
	if err != nil {
		t.Fatal(err)
	}
	byKind := map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		if o.GetAPIVersion() != "argoproj.io/v1alpha1" {
			t.Errorf("%s %s: apiVersion %s, want argoproj.io/v1alpha1", o.GetKind(), o.GetName(), o.GetAPIVersion())
		}
		if o.GetNamespace() != argoNamespace {
			t.Errorf("%s %s is in namespace %q, want %s", o.GetKind(), o.GetName(), o.GetNamespace(), argoNamespace)
		}
		if byKind[o.GetKind()] != nil {
			t.Errorf("more than one %s", o.GetKind())
		}
		byKind[o.GetKind()] = o
	}
	for _, k := range []string{"Application", "ApplicationSet", "AppProject"} {
		if byKind[k] == nil {
			t.Fatalf("config/argocd has no %s", k)
		}
	}
	if len(byKind) != 3 {
		t.Errorf("config/argocd renders %d kinds, want Application, ApplicationSet and AppProject", len(byKind))
	}
	return byKind
}

func str(t *testing.T, o map[string]any, fields ...string) string {
	t.Helper()
	s, ok, err := unstructured.NestedString(o, fields...)
	if err != nil || !ok || s == "" {
		t.Errorf("%s is not set (%v)", strings.Join(fields, "."), err)
	}
	return s
}

func flag(t *testing.T, o map[string]any, fields ...string) bool {
	t.Helper()
	b, ok, err := unstructured.NestedBool(o, fields...)
	if err != nil || !ok {
		t.Errorf("%s is not a boolean (%v)", strings.Join(fields, "."), err)
	}
	return b
}

// checkSyncPolicy wants automated sync with prune and self-heal, applied
// server-side. p is the object holding syncPolicy.
func checkSyncPolicy(t *testing.T, what string, p map[string]any) {
	t.Helper()
	if !flag(t, p, "syncPolicy", "automated", "prune") || !flag(t, p, "syncPolicy", "automated", "selfHeal") {
		t.Errorf("%s: automated sync needs prune and selfHeal", what)
	}
	opts, _, _ := unstructured.NestedStringSlice(p, "syncPolicy", "syncOptions")
	if !slices.Contains(opts, "ServerSideApply=true") {
		t.Errorf("%s: syncOptions %v lack ServerSideApply=true", what, opts)
	}
}

func wave(t *testing.T, o *unstructured.Unstructured) int {
	t.Helper()
	v, ok := o.GetAnnotations()[waveKey]
	if !ok {
		return 0 // Argo CD's default wave
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Errorf("%s %s: sync wave %q is not an integer", o.GetKind(), o.GetName(), v)
	}
	return n
}

// TestOperatorApplication: the Application installs this repo's
// config/default into blue-system.
func TestOperatorApplication(t *testing.T) {
	app := argoObjects(t)["Application"].Object
	spec := app["spec"].(map[string]any)
	str(t, spec, "project")

	gomod, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	var module string
	for _, l := range strings.Split(string(gomod), "\n") {
		if m, ok := strings.CutPrefix(strings.TrimSpace(l), "module "); ok {
			module = strings.TrimSpace(m)
		}
	}
	repo := str(t, spec, "source", "repoURL")
	if got := strings.TrimSuffix(strings.TrimPrefix(repo, "https://"), ".git"); got != module {
		t.Errorf("source.repoURL %q is not this repository (%s)", repo, module)
	}
	str(t, spec, "source", "targetRevision")
	if p := str(t, spec, "source", "path"); p != "config/default" {
		t.Errorf("source.path %q, want config/default", p)
	}

	// The namespace config/default makes, where its operator runs.
	installed, err := manifests.Render(filepath.Join(repoRoot, "config", "default"))
	if err != nil {
		t.Fatal(err)
	}
	var made []string
	for _, o := range installed {
		if o.GetKind() == "Namespace" {
			made = append(made, o.GetName())
		}
	}
	if ns := str(t, spec, "destination", "namespace"); ns != "blue-system" || !slices.Equal(made, []string{ns}) {
		t.Errorf("destination.namespace %q, want blue-system, the namespace config/default makes (%q)", ns, made)
	}
	str(t, spec, "destination", "server")
	checkSyncPolicy(t, "Application", spec)
}

// TestSyncWaves renders the operator Application's source the way Argo CD
// does (config/default plus the Application's kustomize patches) and checks
// that the CRD syncs first, then the operator, then the tenants.
func TestSyncWaves(t *testing.T) {
	objs := argoObjects(t)
	app := objs["Application"]
	operator := renderAppSource(t, app)

	plain, err := manifests.Render(filepath.Join(repoRoot, "config", "default"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ids(operator), ids(plain); !reflect.DeepEqual(got, want) {
		t.Errorf("the Application's patches change what config/default installs:\n got %v\nwant %v", got, want)
	}

	var crd, plainCRD *unstructured.Unstructured
	for _, o := range plain {
		if o.GetKind() == "CustomResourceDefinition" && o.GetName() == crdName {
			plainCRD = o
		}
	}
	operatorWave := math.MinInt // the last wave of the operator's objects
	for _, o := range operator {
		if o.GetKind() == "CustomResourceDefinition" && o.GetName() == crdName {
			crd = o
			// The patch merges into the generated annotations.
			if o.GetAnnotations()["controller-gen.kubebuilder.io/version"] == "" {
				t.Errorf("the patch dropped the CRD's other annotations: %v", o.GetAnnotations())
			}
			if plainCRD == nil || !reflect.DeepEqual(o.Object["spec"], plainCRD.Object["spec"]) {
				t.Errorf("the patch changed the CRD's spec")
			}
			continue
		}
		operatorWave = max(operatorWave, wave(t, o))
	}
	if crd == nil || operatorWave == math.MinInt {
		t.Fatalf("the operator Application does not install CRD %s and the operator", crdName)
	}
	crdWave := wave(t, crd)
	for _, o := range operator {
		if o != crd && wave(t, o) <= crdWave {
			t.Errorf("%s %s syncs in wave %d, not after the CRD (wave %d)", o.GetKind(), o.GetName(), wave(t, o), crdWave)
		}
	}
	opts := crd.GetAnnotations()["argocd.argoproj.io/sync-options"]
	if !strings.Contains(opts, "Prune=false") || !strings.Contains(opts, "Delete=false") {
		t.Errorf("CRD sync-options %q: pruning or deleting it would delete every tenant", opts)
	}

	tenantsWave := wave(t, objs["ApplicationSet"])
	if !(crdWave < operatorWave && operatorWave < tenantsWave) {
		t.Errorf("waves: CRD %d, operator %d, tenants %d; want CRD < operator < tenants", crdWave, operatorWave, tenantsWave)
	}
	for _, k := range []string{"Application", "AppProject"} {
		if w := wave(t, objs[k]); w >= tenantsWave {
			t.Errorf("%s wave %d is not before the tenants ApplicationSet (wave %d)", k, w, tenantsWave)
		}
	}
}

// renderAppSource copies config/ into memory, adds the Application's
// spec.source.kustomize.patches to the kustomization at its source path (as
// Argo CD's kustomize build does) and renders it.
func renderAppSource(t *testing.T, app *unstructured.Unstructured) []*unstructured.Unstructured {
	t.Helper()
	mem := filesys.MakeFsInMemory()
	root := filepath.Join(repoRoot, "config")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return mem.WriteFile(path.Join("/config", filepath.ToSlash(rel)), b)
	})
	if err != nil {
		t.Fatal(err)
	}
	srcPath, _, _ := unstructured.NestedString(app.Object, "spec", "source", "path")
	if !strings.HasPrefix(srcPath, "config/") {
		t.Fatalf("source.path %q is not under config/", srcPath)
	}
	dir := "/" + srcPath
	patches, ok, _ := unstructured.NestedSlice(app.Object, "spec", "source", "kustomize", "patches")
	if !ok || len(patches) == 0 {
		t.Fatal("the Application has no spec.source.kustomize.patches: the CRD gets no sync wave")
	}
	kfile := path.Join(dir, "kustomization.yaml")
	b, err := mem.ReadFile(kfile)
	if err != nil {
		t.Fatal(err)
	}
	var k map[string]any
	if err := yaml.Unmarshal(b, &k); err != nil {
		t.Fatal(err)
	}
	existing, _ := k["patches"].([]any)
	k["patches"] = append(existing, patches...)
	if b, err = yaml.Marshal(k); err != nil {
		t.Fatal(err)
	}
	if err := mem.WriteFile(kfile, b); err != nil {
		t.Fatal(err)
	}
	resMap, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(mem, dir)
	if err != nil {
		t.Fatalf("render %s with the Application's patches: %v", srcPath, err)
	}
	var out []*unstructured.Unstructured
	for _, r := range resMap.Resources() {
		j, err := r.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(j); err != nil {
			t.Fatal(err)
		}
		out = append(out, u)
	}
	return out
}

func ids(objs []*unstructured.Unstructured) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.GetKind()+" "+o.GetNamespace()+"/"+o.GetName())
	}
	return out
}

// TestTenantApplicationSet: a git files generator over tenants/*.yaml whose
// Applications each sync one BlueTenant file, in a project that allows only
// BlueTenants from the platform repo.
func TestTenantApplicationSet(t *testing.T) {
	objs := argoObjects(t)
	set, project := objs["ApplicationSet"].Object, objs["AppProject"].Object

	if !flag(t, set, "spec", "goTemplate") {
		t.Errorf("spec.goTemplate must be true: the template reads the tenant file as nested fields")
	}
	generators, _, _ := unstructured.NestedSlice(set, "spec", "generators")
	if len(generators) != 1 {
		t.Fatalf("%d generators, want one git generator", len(generators))
	}
	git, ok := generators[0].(map[string]any)["git"].(map[string]any)
	if !ok {
		t.Fatalf("generator %v is not a git generator", generators[0])
	}
	repo := str(t, git, "repoURL")
	str(t, git, "revision")
	files, _, _ := unstructured.NestedSlice(git, "files")
	if len(files) != 1 {
		t.Fatalf("git generator files %v, want one pattern", files)
	}
	pattern, _ := files[0].(map[string]any)["path"].(string)
	for file, want := range map[string]bool{"tenants/acme.yaml": true, "tenants/README.md": false, "apps/acme.yaml": false} {
		if got, _ := path.Match(pattern, file); got != want {
			t.Errorf("files pattern %q matches %s: %v, want %v", pattern, file, got, want)
		}
	}

	tmpl := set["spec"].(map[string]any)["template"].(map[string]any)
	if got := str(t, tmpl, "spec", "source", "repoURL"); got != repo {
		t.Errorf("template source.repoURL %q, generator repoURL %q: the Applications must sync the files the generator read", got, repo)
	}
	str(t, tmpl, "spec", "destination", "server")
	checkSyncPolicy(t, "ApplicationSet template", tmpl["spec"].(map[string]any))

	if got, want := str(t, tmpl, "spec", "project"), objs["AppProject"].GetName(); got != want {
		t.Errorf("template project %q, want the AppProject %q", got, want)
	}
	sources, _, _ := unstructured.NestedStringSlice(project, "spec", "sourceRepos")
	if !reflect.DeepEqual(sources, []string{repo}) {
		t.Errorf("AppProject sourceRepos %v, want only the platform repo %s", sources, repo)
	}
	allowed, _, _ := unstructured.NestedSlice(project, "spec", "clusterResourceWhitelist")
	if want := []any{map[string]any{"group": "blue.superviber.com", "kind": "BlueTenant"}}; !reflect.DeepEqual(allowed, want) {
		t.Errorf("AppProject clusterResourceWhitelist %v, want only BlueTenant", allowed)
	}
	denied, _, _ := unstructured.NestedSlice(project, "spec", "namespaceResourceBlacklist")
	if !slices.ContainsFunc(denied, func(d any) bool {
		return reflect.DeepEqual(d, map[string]any{"group": "*", "kind": "*"})
	}) {
		t.Errorf("AppProject namespaceResourceBlacklist %v does not refuse every namespaced kind", denied)
	}

	// What the ApplicationSet controller makes of the sample tenant as
	// tenants/acme.yaml, and of a tenant with the longest name allowed.
	var acme map[string]any
	readYAML(t, filepath.Join(repoRoot, "config", "samples", "blue_v1alpha1_bluetenant.yaml"), &acme)
	app := renderTemplate(t, set, tmpl, acme, "tenants/acme.yaml")
	for _, c := range []struct {
		fields []string
		want   string
	}{
		{[]string{"metadata", "name"}, "bt-acme"},
		{[]string{"metadata", "labels", "blue.superviber.com/tenant"}, "acme"},
		{[]string{"spec", "source", "path"}, "tenants"},
		{[]string{"spec", "source", "directory", "include"}, "acme.yaml"},
	} {
		if got, _, _ := unstructured.NestedString(app, c.fields...); got != c.want {
			t.Errorf("Application for tenants/acme.yaml: %s = %q, want %q", strings.Join(c.fields, "."), got, c.want)
		}
	}
	long := map[string]any{"metadata": map[string]any{"name": strings.Repeat("a", 58)}}
	name, _, _ := unstructured.NestedString(renderTemplate(t, set, tmpl, long, "tenants/long.yaml"), "metadata", "name")
	if len(name) > 63 {
		t.Errorf("Application name %q has %d characters: longer than a label value (63)", name, len(name))
	}
}

// renderTemplate renders every string of an ApplicationSet template with Go
// templates, as the ApplicationSet controller does with goTemplate, for a
// git files generator that read file with the given content. The controller
// also offers Sprig functions; a template that starts using one fails here
// until it is added.
func renderTemplate(t *testing.T, set, tmpl, content map[string]any, file string) map[string]any {
	t.Helper()
	params := map[string]any{}
	for k, v := range content {
		params[k] = v
	}
	dir := path.Dir(file)
	params["path"] = map[string]any{
		"path": dir, "basename": path.Base(dir), "filename": path.Base(file),
		"basenameNormalized": path.Base(dir), "filenameNormalized": path.Base(file),
		"segments": strings.Split(dir, "/"),
	}
	options, _, _ := unstructured.NestedStringSlice(set, "spec", "goTemplateOptions")
	var render func(v any) any
	render = func(v any) any {
		switch v := v.(type) {
		case string:
			tp, err := template.New("").Option(options...).Parse(v)
			if err != nil {
				t.Fatalf("template %q: %v", v, err)
			}
			var out bytes.Buffer
			if err := tp.Execute(&out, params); err != nil {
				t.Fatalf("template %q for %s: %v", v, file, err)
			}
			return out.String()
		case map[string]any:
			m := map[string]any{}
			for k, x := range v {
				m[k] = render(x)
			}
			return m
		case []any:
			var l []any
			for _, x := range v {
				l = append(l, render(x))
			}
			return l
		}
		return v
	}
	return render(tmpl).(map[string]any)
}

func readYAML(t *testing.T, file string, into any) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, into); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

// argocdCM is config/argocd/argocd-cm.yaml.
func argocdCM(t *testing.T) map[string]string {
	t.Helper()
	var cm struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
		Data map[string]string `json:"data"`
	}
	readYAML(t, filepath.Join(repoRoot, "config", "argocd", "argocd-cm.yaml"), &cm)
	if cm.APIVersion != "v1" || cm.Kind != "ConfigMap" || cm.Metadata.Name != "argocd-cm" || cm.Metadata.Namespace != argoNamespace {
		t.Fatalf("argocd-cm.yaml is %s %s %s/%s, want v1 ConfigMap argocd/argocd-cm", cm.APIVersion, cm.Kind, cm.Metadata.Namespace, cm.Metadata.Name)
	}
	return cm.Data
}

func TestHealthLuaIsEmbeddedVerbatim(t *testing.T) {
	embedded, ok := argocdCM(t)[healthKey]
	if !ok {
		t.Fatalf("argocd-cm.yaml has no %s", healthKey)
	}
	file := readHealthLua(t)
	if embedded != file {
		t.Errorf("argocd-cm.yaml's %s differs from health.lua:\n%s", healthKey, firstDifference(embedded, file))
	}
	if !strings.HasPrefix(strings.TrimSpace(stripComments(file)), "hs = {}") || !strings.HasSuffix(strings.TrimSpace(file), "return hs") {
		t.Errorf("health.lua must start with hs = {} and end with return hs, as Argo CD expects")
	}
}

func stripComments(lua string) string {
	var out []string
	for _, l := range strings.Split(lua, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "--") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func firstDifference(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < max(len(al), len(bl)); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y || i >= len(al) || i >= len(bl) {
			return fmt.Sprintf("line %d: argocd-cm %q, health.lua %q", i+1, x, y)
		}
	}
	return "identical lines, different bytes"
}
