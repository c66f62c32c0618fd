// Package helm_test checks the Helm chart in deploy/helm/blue-operator with
// the Helm Go SDK (helm.sh/helm/v4): rendered with its defaults it is
// exactly config/default (so the two installs never drift apart), every
// value is documented and used, and it installs, upgrades (values and the
// CRD) and uninstalls on a real API server.
package helm_test

import (
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
	"sigs.k8s.io/yaml"

	"github.com/superviber/blue-operator/hack/manifests"
)

var (
	repoRoot  = filepath.Join("..", "..")
	chartPath = filepath.Join(repoRoot, "deploy", "helm", "blue-operator")
)

const releaseName = "blue-operator"

// helmLabels are the labels the chart adds to what config/ has.
var helmLabels = []string{"helm.sh/chart", "app.kubernetes.io/instance", "app.kubernetes.io/managed-by", "app.kubernetes.io/version"}

func loadChart(t *testing.T) *chartv2.Chart {
	t.Helper()
	ch, err := loader.Load(chartPath)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func discardLogs() action.ConfigurationOption {
	if os.Getenv("TEST_VERBOSE") != "" {
		return action.ConfigurationSetLogger(slog.NewTextHandler(os.Stderr, nil))
	}
	return action.ConfigurationSetLogger(slog.DiscardHandler)
}

// render renders the chart as `helm template` does.
func render(t *testing.T, ch *chartv2.Chart, namespace string, vals map[string]any) []*unstructured.Unstructured {
	t.Helper()
	inst := action.NewInstall(action.NewConfiguration(discardLogs()))
	inst.DryRunStrategy = action.DryRunClient
	inst.ReleaseName = releaseName
	inst.Namespace = namespace
	inst.KubeVersion = kubeVersion(t)
	rel, err := inst.Run(ch, vals)
	if err != nil {
		t.Fatalf("render the chart with %v: %v", vals, err)
	}
	return parseManifest(t, rel.(*releasev1.Release).Manifest)
}

// kubeVersion is the Kubernetes version of the client libraries in go.mod
// (v0.X.Y is v1.X.Y), which is the test API server's
// (hack/setup-envtest.sh): what `helm template` assumes outside tests.
func kubeVersion(t *testing.T) *common.KubeVersion {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*k8s\.io/client-go v0\.(\d+\.\d+)`).FindSubmatch(b)
	if m == nil {
		t.Fatal("no k8s.io/client-go v0.X.Y in go.mod")
	}
	kv, err := common.ParseKubeVersion("v1." + string(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

func parseManifest(t *testing.T, manifest string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(manifest, -1) {
		j, err := yaml.YAMLToJSON([]byte(doc))
		if err != nil {
			t.Fatalf("rendered YAML: %v\n%s", err, doc)
		}
		if string(j) == "null" {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(j); err != nil {
			t.Fatalf("rendered object: %v\n%s", err, doc)
		}
		out = append(out, u)
	}
	return out
}

func key(o *unstructured.Unstructured) string {
	return o.GetKind() + " " + strings.TrimPrefix(o.GetNamespace()+"/"+o.GetName(), "/")
}

func byKey(t *testing.T, objs []*unstructured.Unstructured) map[string]*unstructured.Unstructured {
	t.Helper()
	m := map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		if _, dup := m[key(o)]; dup {
			t.Errorf("%s twice", key(o))
		}
		m[key(o)] = o
	}
	return m
}

// withoutHelm is o without what the chart adds: Helm's labels and the CRD's
// keep policy.
func withoutHelm(t *testing.T, o *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	o = o.DeepCopy()
	labels := o.GetLabels()
	for _, l := range helmLabels {
		if _, ok := labels[l]; !ok {
			t.Errorf("%s lacks the chart's label %s", key(o), l)
		}
		delete(labels, l)
	}
	if len(labels) == 0 {
		labels = nil
	}
	o.SetLabels(labels)
	if ann := o.GetAnnotations(); ann != nil {
		delete(ann, "helm.sh/resource-policy")
		if len(ann) == 0 {
			ann = nil
		}
		o.SetAnnotations(ann)
	}
	return o
}

// sameObjects fails for every object that is in one list and not the
// other, or differs.
func sameObjects(t *testing.T, what string, chart, config []*unstructured.Unstructured) {
	t.Helper()
	got, want := byKey(t, chart), byKey(t, config)
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("%s: the chart lacks %s", what, k)
			continue
		}
		g = withoutHelm(t, g)
		if !reflect.DeepEqual(g.Object, w.Object) {
			gj, _ := json.MarshalIndent(g.Object, "", "  ")
			wj, _ := json.MarshalIndent(w.Object, "", "  ")
			t.Errorf("%s: the chart's %s differs from config/'s (run make helm)\nchart:\n%s\nconfig:\n%s", what, k, gj, wj)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: the chart has %s, which config/ does not", what, k)
		}
	}
}

func readObjects(t *testing.T, path string) []*unstructured.Unstructured {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return parseManifest(t, string(b))
}

// TestChartIsConfigDefault renders the chart with its defaults into
// blue-system and compares it with config/default object by object: the
// same objects, field for field, but for the chart's labels and the CRD's
// keep policy, and without the Namespace (Helm installs into one). The
// optional parts, switched on, are config/prometheus's ServiceMonitors,
// deploy/monitoring's PrometheusRule and its dashboards. Rendered into
// another namespace, nothing names blue-system.
func TestChartIsConfigDefault(t *testing.T) {
	ch := loadChart(t)
	config, err := manifests.Render(filepath.Join(repoRoot, "config", "default"))
	if err != nil {
		t.Fatal(err)
	}
	var install []*unstructured.Unstructured
	for _, o := range config {
		if o.GetKind() == "Namespace" {
			continue
		}
		install = append(install, o)
	}
	if len(install) != len(config)-1 {
		t.Fatalf("config/default has %d namespaces, want 1", len(config)-len(install))
	}
	defaults := render(t, ch, "blue-system", nil)
	sameObjects(t, "defaults", defaults, install)

	all := render(t, ch, "blue-system", map[string]any{
		"serviceMonitor":    map[string]any{"enabled": true},
		"prometheusRule":    map[string]any{"enabled": true},
		"grafanaDashboards": map[string]any{"enabled": true},
	})
	var optional []*unstructured.Unstructured
	var dashboards []*unstructured.Unstructured
	for _, o := range all {
		switch o.GetKind() {
		case "ServiceMonitor", "PrometheusRule":
			optional = append(optional, o)
		case "ConfigMap":
			dashboards = append(dashboards, o)
		}
	}
	want := append(readObjects(t, filepath.Join(repoRoot, "config", "prometheus", "servicemonitor.yaml")),
		readObjects(t, filepath.Join(repoRoot, "deploy", "monitoring", "prometheusrule.yaml"))...)
	sameObjects(t, "serviceMonitor and prometheusRule", optional, want)
	if len(all) != len(defaults)+len(optional)+len(dashboards) {
		t.Errorf("switching the optional parts on renders %d objects, want %d", len(all), len(defaults)+len(optional)+len(dashboards))
	}
	files, _ := filepath.Glob(filepath.Join(repoRoot, "deploy", "monitoring", "grafana", "*.json"))
	if len(dashboards) != len(files) || len(files) == 0 {
		t.Fatalf("%d dashboard ConfigMaps for %d dashboards", len(dashboards), len(files))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(f)
		found := false
		for _, cm := range dashboards {
			data, _, _ := unstructured.NestedString(cm.Object, "data", name)
			if data == "" {
				continue
			}
			found = true
			if data != strings.TrimRight(string(b), "\n") {
				t.Errorf("ConfigMap %s holds another %s than deploy/monitoring/grafana (run make helm)", cm.GetName(), name)
			}
			if cm.GetLabels()["grafana_dashboard"] != "1" {
				t.Errorf("ConfigMap %s lacks the Grafana sidecar's label: %v", cm.GetName(), cm.GetLabels())
			}
		}
		if !found {
			t.Errorf("no ConfigMap holds %s", name)
		}
	}

	// Another namespace: the release's everywhere, blue-system nowhere.
	for _, o := range render(t, ch, "platform-blue", map[string]any{
		"serviceMonitor": map[string]any{"enabled": true},
		"prometheusRule": map[string]any{"enabled": true},
	}) {
		b, _ := json.Marshal(o.Object)
		if strings.Contains(string(b), "blue-system") {
			t.Errorf("rendered into platform-blue, %s still names blue-system", key(o))
		}
	}
}

// TestValuesSetTheDeployment renders non-default values and checks they
// reach the operator's Deployment, and that switches leave their objects out.
func TestValuesSetTheDeployment(t *testing.T) {
	ch := loadChart(t)
	objs := byKey(t, render(t, ch, "ops", map[string]any{
		"image":          map[string]any{"repository": "registry.example/blue-operator", "tag": "v1.2.3", "pullPolicy": "IfNotPresent"},
		"replicaCount":   1,
		"leaderElection": map[string]any{"enabled": false},
		"log":            map[string]any{"level": "debug", "encoder": "console"},
		"resources":      map[string]any{"requests": map[string]any{"cpu": "50m"}},
		"extraArgs":      []any{"--max-concurrent-reconciles=8"},
		"nodeSelector":   map[string]any{"kubernetes.io/os": "linux"},
		"podAnnotations": map[string]any{"example.com/a": "b"},
		// Maps merge with the defaults (a key set to null removes one); lists replace them.
		"tenants": map[string]any{"hopRoleArnTemplate": "", "ingress": map[string]any{"className": "nginx", "cidrs": []any{}, "annotations": map[string]any{
			"a.example/b": "c", "alb.ingress.kubernetes.io/listen-ports": nil, "alb.ingress.kubernetes.io/scheme": nil,
			"alb.ingress.kubernetes.io/ssl-policy": nil, "alb.ingress.kubernetes.io/target-type": nil,
		}}},
		"crds":            map[string]any{"install": false},
		"admissionPolicy": map[string]any{"enabled": false},
	}))
	dep := objs["Deployment ops/blue-operator"]
	if dep == nil {
		t.Fatalf("no Deployment ops/blue-operator in %v", keys(objs))
	}
	var d struct {
		Spec struct {
			Replicas int
			Template struct {
				Metadata struct{ Annotations map[string]string }
				Spec     struct {
					NodeSelector map[string]string
					Containers   []struct {
						Image, ImagePullPolicy string
						Args                   []string
						Resources              map[string]map[string]string
					}
				}
			}
		}
	}
	b, _ := json.Marshal(dep.Object)
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	c := d.Spec.Template.Spec.Containers[0]
	wantArgs := []string{
		"--metrics-bind-address=:8080", "--health-probe-bind-address=:8081",
		"--default-image=ghcr.io/superviber/blue-mcp:latest",
		"--ingress-class=nginx", "--ingress-annotation=a.example/b=c",
		"--ingress-annotation=alb.ingress.kubernetes.io/group.name=blue-mcp", "--ingress-namespace=kube-system",
		"--metrics-namespace=monitoring", "--zap-log-level=debug", "--zap-encoder=console",
		"--max-concurrent-reconciles=8",
	}
	if !reflect.DeepEqual(c.Args, wantArgs) {
		t.Errorf("args\n got %q\nwant %q", c.Args, wantArgs)
	}
	if c.Image != "registry.example/blue-operator:v1.2.3" || c.ImagePullPolicy != "IfNotPresent" {
		t.Errorf("image %q pull policy %q", c.Image, c.ImagePullPolicy)
	}
	if d.Spec.Replicas != 1 || c.Resources["requests"]["cpu"] != "50m" || c.Resources["limits"]["memory"] != "256Mi" {
		t.Errorf("replicas %d, resources %v", d.Spec.Replicas, c.Resources)
	}
	if d.Spec.Template.Spec.NodeSelector["kubernetes.io/os"] != "linux" || d.Spec.Template.Metadata.Annotations["example.com/a"] != "b" {
		t.Errorf("nodeSelector %v, pod annotations %v", d.Spec.Template.Spec.NodeSelector, d.Spec.Template.Metadata.Annotations)
	}
	for k := range objs {
		if strings.HasPrefix(k, "CustomResourceDefinition ") || strings.HasPrefix(k, "ValidatingAdmissionPolicy") {
			t.Errorf("%s rendered although switched off", k)
		}
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// freeForm are values whose keys are the user's (maps handed to Kubernetes
// as they are): their keys need no documentation.
var freeForm = map[string]bool{
	"resources": true, "tenants.ingress.annotations": true, "podAnnotations": true, "podLabels": true,
	"nodeSelector": true, "affinity": true, "serviceMonitor.labels": true, "prometheusRule.labels": true,
	"grafanaDashboards.labels": true, "grafanaDashboards.annotations": true,
}

// TestValuesDocumented holds values.yaml to documenting every value: each
// key has a comment above it (or, for a group of values, each of its
// keys), every value a template reads is in values.yaml, and every value in
// values.yaml is read by a template.
func TestValuesDocumented(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(chartPath, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := kyaml.Parse(string(b))
	if err != nil {
		t.Fatal(err)
	}
	leaves := map[string]bool{}
	var walk func(n *kyaml.Node, path string)
	walk = func(n *kyaml.Node, path string) {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := strings.TrimPrefix(path+"."+k.Value, ".")
			group := v.Kind == kyaml.MappingNode && !freeForm[p]
			// The file's first comment is its head, not the first key's.
			comment := k.HeadComment
			if i == 0 && path == "" {
				comment = doc.YNode().HeadComment + k.HeadComment
			}
			if strings.TrimSpace(comment) == "" && !group {
				t.Errorf("values.yaml: %s has no comment saying what it does", p)
			}
			if group {
				walk(v, p)
				continue
			}
			leaves[p] = true
		}
	}
	walk(doc.YNode(), "")
	if len(leaves) < 20 {
		t.Fatalf("found only %d values", len(leaves))
	}

	used := map[string]bool{}
	ref := regexp.MustCompile(`\.Values((?:\.[A-Za-z0-9_]+)+)`)
	ch := loadChart(t)
	for _, tpl := range ch.Templates {
		for _, m := range ref.FindAllStringSubmatch(string(tpl.Data), -1) {
			p := strings.TrimPrefix(m[1], ".")
			used[p] = true
			if leaves[p] {
				continue
			}
			// A group of values read whole.
			prefix := false
			for l := range leaves {
				if strings.HasPrefix(l, p+".") {
					prefix = true
				}
			}
			if !prefix {
				t.Errorf("%s reads .Values.%s, which values.yaml does not have", tpl.Name, p)
			}
		}
	}
	for l := range leaves {
		if !used[l] {
			t.Errorf("values.yaml has %s, which no template reads", l)
		}
	}
}

func TestChartMetadata(t *testing.T) {
	ch := loadChart(t)
	if ch.Metadata.Name != "blue-operator" || ch.Metadata.KubeVersion == "" {
		t.Errorf("Chart.yaml: name %q, kubeVersion %q", ch.Metadata.Name, ch.Metadata.KubeVersion)
	}
	for _, tpl := range ch.Templates {
		if strings.HasSuffix(tpl.Name, ".yaml") && !strings.HasPrefix(string(tpl.Data), "# Generated by `make helm`") {
			t.Errorf("%s is not generated by make helm", tpl.Name)
		}
	}
	if len(ch.CRDObjects()) != 0 {
		t.Errorf("the chart has files under crds/, which helm upgrade never upgrades: %v", ch.CRDObjects())
	}
}
