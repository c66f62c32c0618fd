package monitoring_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/superviber/blue-operator/api/contract"
	bluev1 "github.com/superviber/blue-operator/api/v1alpha1"
	"github.com/superviber/blue-operator/hack/manifests"
	"github.com/superviber/blue-operator/test/controlplane"
	"github.com/superviber/blue-operator/test/testutil"
	"github.com/superviber/blue-operator/test/world"
)

// wait bounds every wait for a condition.
const wait = 60 * time.Second

// targetLabels are added by Prometheus and the ServiceMonitors
// (config/prometheus), not exported by the binaries; tenant is the tenant
// servers' (from their Service's label), and the operator's own.
var targetLabels = map[string]bool{
	"job": true, "instance": true, "namespace": true, "pod": true, "service": true,
	"endpoint": true, "container": true, "tenant": true,
}

// openLabels are labels whose values appear only once something happens
// (a condition with that reason, a call of that tool, a failing call), so
// a scrape of a fresh process does not show every value an expression may
// ask for. Every other label's values are all exported from the start (the
// binaries initialise them), so an expression asking for another value is
// wrong.
var openLabels = map[string]map[string]bool{
	"blue_operator_tenant_condition":          {"condition": true, "status": true, "reason": true},
	"blue_mcp_tool_calls_total":               {"tool": true, "outcome": true},
	"blue_mcp_tool_duration_seconds_bucket":   {"tool": true},
	"blue_mcp_tool_duration_seconds_sum":      {"tool": true},
	"blue_mcp_tool_duration_seconds_count":    {"tool": true},
	"blue_sts_assume_duration_seconds_bucket": {"outcome": true},
	"blue_sts_assume_duration_seconds_sum":    {"outcome": true},
	"blue_sts_assume_duration_seconds_count":  {"outcome": true},
}

// exports holds, for each metric name as Prometheus stores it (a histogram
// as _bucket, _sum and _count), each label and the values seen.
type exports map[string]map[string]map[string]bool

func (e exports) add(name string, labels map[string]string) {
	if e[name] == nil {
		e[name] = map[string]map[string]bool{}
	}
	for k, v := range labels {
		if e[name][k] == nil {
			e[name][k] = map[string]bool{}
		}
		e[name][k][v] = true
	}
}

// parse reads a /metrics answer in the Prometheus text format.
func (e exports) parse(t *testing.T, from string, body []byte) {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("%s /metrics: %v", from, err)
	}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			switch f.GetType() {
			case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
				e.add(name+"_sum", labels)
				e.add(name+"_count", labels)
				for _, b := range m.GetHistogram().GetBucket() {
					withLE := map[string]string{"le": fmt.Sprint(b.GetUpperBound())}
					for k, v := range labels {
						withLE[k] = v
					}
					e.add(name+"_bucket", withLE)
				}
			case dto.MetricType_SUMMARY:
				e.add(name+"_sum", labels)
				e.add(name+"_count", labels)
				e.add(name, map[string]string{"quantile": ""})
				e.add(name, labels)
			default:
				e.add(name, labels)
			}
		}
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func get(url string) (int, []byte, error) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func eventually(t *testing.T, what string, cond func() error) {
	t.Helper()
	testutil.Eventually(t, wait, 100*time.Millisecond, what, cond)
}

// run starts a binary until the test ends, showing its output if the test fails.
func run(t *testing.T, bin string, env []string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, args...)
	for _, kv := range os.Environ() {
		// The machine's AWS settings must not leak into the processes under test.
		if !strings.HasPrefix(kv, "AWS_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	out := &testutil.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cancel()
		<-exited
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(bin), out.String())
		}
	})
}

// operatorMetrics runs the operator binary as config/default installs it
// (its ServiceAccount's RBAC and admission policy, the Deployment's flags,
// leader election) on a real API server, lets it reconcile the sample
// tenant and returns its /metrics.
func operatorMetrics(t *testing.T, bin string) []byte {
	t.Helper()
	ctx := context.Background()
	plane, err := controlplane.Start(controlplane.Options{CRDDirs: []string{filepath.Join(repoRoot, "config", "crd", "bases")}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = plane.Stop() })
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = bluev1.AddToScheme(scheme)
	k8s, err := client.New(plane.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	install, err := manifests.Render(filepath.Join(repoRoot, "config", "default"))
	if err != nil {
		t.Fatal(err)
	}
	var objs []*unstructured.Unstructured
	var args []string
	var namespace, serviceAccount string
	for _, o := range install {
		if o.GetKind() != "Deployment" {
			objs = append(objs, o)
			continue
		}
		namespace = o.GetNamespace()
		serviceAccount, _, _ = unstructured.NestedString(o.Object, "spec", "template", "spec", "serviceAccountName")
		containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
		for _, a := range containers[0].(map[string]any)["args"].([]any) {
			args = append(args, a.(string))
		}
	}
	if err := manifests.Apply(ctx, k8s, objs, false); err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := plane.Kubeconfig("operator.kubeconfig", "system:serviceaccount:"+namespace+":"+serviceAccount,
		"system:serviceaccounts", "system:serviceaccounts:"+namespace, "system:authenticated")
	if err != nil {
		t.Fatal(err)
	}
	metrics := freeAddr(t)
	for i, a := range args {
		switch {
		case strings.HasPrefix(a, "--metrics-bind-address="):
			args[i] = "--metrics-bind-address=" + metrics
		case strings.HasPrefix(a, "--health-probe-bind-address="):
			args[i] = "--health-probe-bind-address=" + freeAddr(t)
		}
	}
	// Outside a pod the operator cannot read its namespace.
	args = append(args, "--kubeconfig="+kubeconfig, "--leader-election-namespace="+namespace)
	run(t, bin, nil, args...)

	samples, err := manifests.Render(filepath.Join(repoRoot, "config", "samples"))
	if err != nil {
		t.Fatal(err)
	}
	if err := manifests.Apply(ctx, k8s, samples, false); err != nil {
		t.Fatal(err)
	}
	var body []byte
	eventually(t, "the operator's metrics show the sample tenants reconciled", func() error {
		code, b, err := get("http://" + metrics + "/metrics")
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("%d %v", code, err)
		}
		for _, want := range []string{`blue_operator_tenant_condition{condition="Ready"`, `controller_runtime_reconcile_time_seconds_bucket{controller="bluetenant"`} {
			if !bytes.Contains(b, []byte(want)) {
				return fmt.Errorf("no %s yet", want)
			}
		}
		body = b
		return nil
	})
	return body
}

// serverMetrics runs the blue-mcp binary, configured as the operator's
// Deployment configures it, against the loopback STS, Infisical, S3 and
// DynamoDB, makes a tool call (so the histograms and AssumeRole have
// samples) and returns its /metrics.
func serverMetrics(t *testing.T, bin string) []byte {
	t.Helper()
	ctx := context.Background()
	w := world.Start(t)
	tn, err := w.AddTenant(ctx, "acme", 222222222222)
	if err != nil {
		t.Fatal(err)
	}
	addr, metrics := freeAddr(t), freeAddr(t)
	run(t, bin, []string{
		contract.EnvTenant + "=" + tn.Name, contract.EnvTier + "=medium", contract.EnvPublicURL + "=http://" + addr + "/mcp",
		contract.EnvListenAddr + "=" + addr, contract.EnvMetricsAddr + "=" + metrics,
		contract.EnvAuthMode + "=token", contract.EnvTokenHashes + "=" + contract.TokenHash(tn.Token),
		"AWS_REGION=" + world.Region, contract.EnvClientAccount + "=" + tn.Account, contract.EnvExternalID + "=" + tn.ExternalID,
		"BLUE_STS_ENDPOINT=" + w.STSURL, "BLUE_S3_ENDPOINT=" + w.S3.Endpoint(), "BLUE_DYNAMODB_ENDPOINT=" + w.DDB.Endpoint(),
		"AWS_ACCESS_KEY_ID=" + tn.HopKey.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + tn.HopKey.SecretAccessKey,
		contract.EnvInfisicalSite + "=" + w.Infisical.URL(), contract.EnvInfisicalProj + "=" + tn.Project, contract.EnvInfisicalEnv + "=" + tn.Environment,
		contract.EnvInfisicalPath + "=" + tn.SecretPath, contract.EnvInfisicalMethod + "=universal",
		contract.EnvInfisicalCID + "=" + tn.ClientID, contract.EnvInfisicalSecret + "=" + tn.ClientSecret,
	})
	eventually(t, "blue-mcp ready", func() error {
		code, _, err := get("http://" + addr + "/readyz")
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("%d %v", code, err)
		}
		return nil
	})
	s := world.Connect(t, "http://"+addr+"/mcp", tn.Token)
	if text, isErr, err := world.CallTool(ctx, s, "blue_rfc_create", map[string]any{"title": "Dashboards"}); err != nil || isErr {
		t.Fatalf("blue_rfc_create: %v %s", err, text)
	}
	var body []byte
	eventually(t, "blue-mcp's metrics show the tool call", func() error {
		code, b, err := get("http://" + metrics + "/metrics")
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("%d %v", code, err)
		}
		for _, want := range []string{`blue_mcp_tool_duration_seconds_bucket{tool="blue_rfc_create"`, `blue_sts_assume_duration_seconds_bucket{outcome="ok"`} {
			if !bytes.Contains(b, []byte(want)) {
				return fmt.Errorf("no %s yet", want)
			}
		}
		body = b
		return nil
	})
	return body
}

// exported runs both binaries and reads what they export.
func exported(t *testing.T) exports {
	t.Helper()
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run the tests with `make test` or `make monitoring`")
	}
	dir := t.TempDir()
	ctx := context.Background()
	manager, err := testutil.BuildCommand(ctx, dir, "manager")
	if err != nil {
		t.Fatal(err)
	}
	blueMCP, err := testutil.BuildCommand(ctx, dir, "blue-mcp")
	if err != nil {
		t.Fatal(err)
	}
	e := exports{}
	e.parse(t, "manager", operatorMetrics(t, manager))
	e.parse(t, "blue-mcp", serverMetrics(t, blueMCP))
	return e
}

// expression is a PromQL expression and where it comes from.
type expression struct {
	where, expr string
	// labels the expression's metric must have (a dashboard variable's
	// label_values).
	labels []string
}

type selector struct {
	Metric   string `json:"metric"`
	Matchers []struct {
		Label string `json:"label"`
		Type  string `json:"type"`
		Value string `json:"value"`
	} `json:"matchers"`
}

type parsed struct {
	Expr      string     `json:"expr"`
	Error     string     `json:"error"`
	Selectors []selector `json:"selectors"`
}

// parseAll parses expressions with Prometheus's PromQL parser
// (hack/promql-metrics).
func parseAll(t *testing.T, exprs []expression) []parsed {
	t.Helper()
	in := make([]string, len(exprs))
	for i, e := range exprs {
		in[i] = e.expr
	}
	b, _ := json.Marshal(in)
	cmd := exec.Command(tool(t, "promql-metrics"))
	cmd.Stdin = bytes.NewReader(b)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("promql-metrics: %v\n%s", err, stderr.String())
	}
	var res []parsed
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	if len(res) != len(exprs) {
		t.Fatalf("promql-metrics answered %d expressions of %d", len(res), len(exprs))
	}
	return res
}

// grafanaVars are Grafana's interval variables, which stand where PromQL has
// a duration.
var grafanaVars = regexp.MustCompile(`\$(__rate_interval|__interval|__range)\b|\$\{(__rate_interval|__interval|__range)\}`)

// dashboardExpressions are every query of every dashboard: panel targets
// (rows' panels included) and the query variables' label_values().
func dashboardExpressions(t *testing.T) []expression {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(repoRoot, "deploy", "monitoring", "grafana", "*.json"))
	if len(paths) == 0 {
		t.Fatal("no dashboards in deploy/monitoring/grafana")
	}
	var out []expression
	labelValues := regexp.MustCompile(`^label_values\((.+),\s*([A-Za-z_][A-Za-z0-9_]*)\)$`)
	for _, p := range paths {
		d := readDashboard(t, p)
		for _, panel := range d.allPanels() {
			for _, tg := range panel.Targets {
				out = append(out, expression{
					where: fmt.Sprintf("%s panel %q (%s)", filepath.Base(p), panel.Title, tg.RefID),
					expr:  grafanaVars.ReplaceAllString(tg.Expr, "5m"),
				})
			}
		}
		for _, v := range d.Templating.List {
			if v.Type != "query" {
				continue
			}
			q := v.queryString()
			m := labelValues.FindStringSubmatch(q)
			if m == nil {
				t.Errorf("%s: variable %s: query %q is not label_values(<selector>, <label>)", filepath.Base(p), v.Name, q)
				continue
			}
			out = append(out, expression{where: fmt.Sprintf("%s variable %s", filepath.Base(p), v.Name), expr: m[1], labels: []string{m[2]}})
		}
	}
	return out
}

// TestMonitoringNamesExportedMetrics fails when an alert rule, a dashboard
// query or a unit test's series names a metric, or a label of it, that the
// operator and server binaries do not export, or asks for a label value
// they never export. The names come from the binaries' own /metrics, after
// they did their work, not from a list.
func TestMonitoringNamesExportedMetrics(t *testing.T) {
	pr, _ := readRules(t)
	var exprs []expression
	for _, g := range pr.Spec.Groups {
		for _, r := range g.Rules {
			exprs = append(exprs, expression{where: "prometheusrule.yaml " + r.Alert + r.Record, expr: r.Expr})
		}
	}
	nRules := len(exprs)
	exprs = append(exprs, dashboardExpressions(t)...)
	nDashboard := len(exprs) - nRules
	seen := map[string]bool{}
	for i, tc := range readUnitTests(t).Tests {
		for _, s := range tc.InputSeries {
			if !seen[s.Series] {
				seen[s.Series] = true
				exprs = append(exprs, expression{where: fmt.Sprintf("alerts_test.yaml test %d", i+1), expr: s.Series})
			}
		}
	}
	if nRules < 6 || nDashboard < 20 || len(exprs)-nRules-nDashboard < 10 {
		t.Fatalf("found %d rule, %d dashboard and %d test series expressions", nRules, nDashboard, len(exprs)-nRules-nDashboard)
	}
	results := parseAll(t, exprs)
	exp := exported(t)

	used := map[string]bool{}
	for i, r := range results {
		where := exprs[i].where
		if r.Error != "" {
			t.Errorf("%s: %s does not parse: %s", where, r.Expr, r.Error)
			continue
		}
		if len(r.Selectors) == 0 {
			t.Errorf("%s: %s selects no metric", where, r.Expr)
		}
		for _, s := range r.Selectors {
			if s.Metric == "" {
				t.Errorf("%s: a selector without a metric name in %s", where, r.Expr)
				continue
			}
			labels, ok := exp[s.Metric]
			if !ok {
				t.Errorf("%s: %s is not exported by the operator or the server (%s)", where, s.Metric, r.Expr)
				continue
			}
			used[s.Metric] = true
			for _, l := range exprs[i].labels {
				if labels[l] == nil && !targetLabels[l] {
					t.Errorf("%s: %s has no label %s", where, s.Metric, l)
				}
			}
			for _, m := range s.Matchers {
				if targetLabels[m.Label] && labels[m.Label] == nil {
					continue
				}
				values, ok := labels[m.Label]
				if !ok {
					t.Errorf("%s: %s has no label %s (%s)", where, s.Metric, m.Label, r.Expr)
					continue
				}
				// Tenants are whatever the fleet holds.
				if openLabels[s.Metric][m.Label] || targetLabels[m.Label] {
					continue
				}
				var want []string
				switch m.Type {
				case "=":
					want = []string{m.Value}
				case "=~":
					if regexp.MustCompile(`^[A-Za-z0-9_]+(\|[A-Za-z0-9_]+)*$`).MatchString(m.Value) {
						want = strings.Split(m.Value, "|")
					}
				}
				for _, v := range want {
					if !values[v] {
						t.Errorf("%s: %s{%s=%q}: the binaries export %s only as %s", where, s.Metric, m.Label, v, m.Label, strings.Join(keys(values), ", "))
					}
				}
			}
		}
	}
	t.Logf("%d expressions (%d rules, %d dashboard queries, %d test series) name %d exported metrics: %s",
		len(exprs), nRules, nDashboard, len(exprs)-nRules-nDashboard, len(used), strings.Join(keys(used), ", "))
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
