// Package monitoring_test checks deploy/monitoring for real: promtool, built
// from the Prometheus Go module (hack/setup-promtool.sh), checks the
// PrometheusRule's rules and runs their unit tests (testdata/alerts_test.yaml);
// every alert is tested firing and quiet and has a runbook section; and
// every metric and label the rules, the dashboard and the unit tests'
// series name is one the operator and server binaries export, as read from
// their /metrics with Prometheus's own PromQL parser.
package monitoring_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

var (
	repoRoot  = filepath.Join("..", "..")
	rulesPath = filepath.Join(repoRoot, "deploy", "monitoring", "prometheusrule.yaml")
	testsPath = filepath.Join("testdata", "alerts_test.yaml")
)

const runbookURL = "https://github.com/superviber/blue-operator/blob/main/docs/runbook.md#"

// tool is the path of a binary hack/setup-promtool.sh built.
func tool(t *testing.T, name string) string {
	t.Helper()
	dir := os.Getenv("PROMTOOL_DIR")
	if dir == "" {
		t.Fatal("PROMTOOL_DIR is not set: run the tests with `make test` or `make monitoring`, or\n" +
			"  PROMTOOL_DIR=$(hack/setup-promtool.sh) go test ./test/monitoring/")
	}
	p := filepath.Join(dir, name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s: %v (rebuild with hack/setup-promtool.sh)", p, err)
	}
	return p
}

type rule struct {
	Alert       string            `json:"alert"`
	Record      string            `json:"record"`
	Expr        string            `json:"expr"`
	For         string            `json:"for"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

type prometheusRule struct {
	Kind string `json:"kind"`
	Spec struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []rule `json:"rules"`
		} `json:"groups"`
	} `json:"spec"`
}

func readRules(t *testing.T) (prometheusRule, []byte) {
	t.Helper()
	b, err := os.ReadFile(rulesPath)
	if err != nil {
		t.Fatal(err)
	}
	var pr prometheusRule
	if err := yaml.Unmarshal(b, &pr); err != nil {
		t.Fatal(err)
	}
	if pr.Kind != "PrometheusRule" || len(pr.Spec.Groups) == 0 {
		t.Fatalf("%s is not a PrometheusRule with groups", rulesPath)
	}
	// A Prometheus rule file is the PrometheusRule's spec.
	var raw struct {
		Spec map[string]any `json:"spec"`
	}
	if err := yaml.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	file, err := yaml.Marshal(raw.Spec)
	if err != nil {
		t.Fatal(err)
	}
	return pr, file
}

func alerts(pr prometheusRule) []rule {
	var out []rule
	for _, g := range pr.Spec.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				out = append(out, r)
			}
		}
	}
	return out
}

func promtool(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(tool(t, "promtool"), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestPromtool runs promtool check rules (every linter, findings fatal) and
// promtool test rules on the PrometheusRule.
func TestPromtool(t *testing.T) {
	_, file := readRules(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), file, 0o644); err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile(testsPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "alerts_test.yaml"), tests, 0o644); err != nil {
		t.Fatal(err)
	}
	out := promtool(t, dir, "check", "rules", "--lint=all", "--lint-fatal", "rules.yaml")
	if !strings.Contains(out, "SUCCESS") {
		t.Errorf("promtool check rules:\n%s", out)
	}
	out = promtool(t, dir, "test", "rules", "alerts_test.yaml")
	if !strings.Contains(out, "SUCCESS") || strings.Contains(out, "FAILED") {
		t.Errorf("promtool test rules:\n%s", out)
	}
	t.Logf("promtool check rules and test rules:\n%s", out)
}

type unitTests struct {
	RuleFiles []string `json:"rule_files"`
	Tests     []struct {
		InputSeries []struct {
			Series string `json:"series"`
			Values string `json:"values"`
		} `json:"input_series"`
		AlertRuleTest []struct {
			EvalTime  string           `json:"eval_time"`
			AlertName string           `json:"alertname"`
			ExpAlerts []map[string]any `json:"exp_alerts"`
		} `json:"alert_rule_test"`
	} `json:"tests"`
}

func readUnitTests(t *testing.T) unitTests {
	t.Helper()
	b, err := os.ReadFile(testsPath)
	if err != nil {
		t.Fatal(err)
	}
	var u unitTests
	if err := yaml.Unmarshal(b, &u); err != nil {
		t.Fatal(err)
	}
	return u
}

// anchor is GitHub's anchor for a markdown heading.
func anchor(heading string) string {
	s := strings.ToLower(strings.TrimSpace(heading))
	s = regexp.MustCompile(`[^a-z0-9 _-]`).ReplaceAllString(s, "")
	return strings.ReplaceAll(s, " ", "-")
}

// TestEveryAlertIsTestedAndHasARunbook holds each alert to a severity, a
// summary, a description and a runbook_url naming a section of
// docs/runbook.md, and to promtool unit tests in which it fires and in which
// it stays quiet.
func TestEveryAlertIsTestedAndHasARunbook(t *testing.T) {
	pr, _ := readRules(t)
	as := alerts(pr)
	if len(as) < 6 {
		t.Fatalf("only %d alerts", len(as))
	}
	book, err := os.ReadFile(filepath.Join(repoRoot, "docs", "runbook.md"))
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^#{2,4} (.+)$`).FindAllStringSubmatch(string(book), -1) {
		sections[anchor(m[1])] = true
	}
	u := readUnitTests(t)
	firing, quiet := map[string]bool{}, map[string]bool{}
	names := map[string]bool{}
	for _, a := range as {
		names[a.Alert] = true
	}
	for _, tc := range u.Tests {
		for _, at := range tc.AlertRuleTest {
			if !names[at.AlertName] {
				t.Errorf("alerts_test.yaml tests %s, which is no alert", at.AlertName)
			}
			if len(at.ExpAlerts) > 0 {
				firing[at.AlertName] = true
			} else {
				quiet[at.AlertName] = true
			}
		}
	}
	for _, a := range as {
		switch a.Labels["severity"] {
		case "critical", "warning", "info":
		default:
			t.Errorf("%s: severity %q, want critical, warning or info", a.Alert, a.Labels["severity"])
		}
		for _, k := range []string{"summary", "description", "runbook_url"} {
			if strings.TrimSpace(a.Annotations[k]) == "" {
				t.Errorf("%s has no %s annotation", a.Alert, k)
			}
		}
		if u := a.Annotations["runbook_url"]; !strings.HasPrefix(u, runbookURL) {
			t.Errorf("%s: runbook_url %q is not a section of docs/runbook.md", a.Alert, u)
		} else if sec := strings.TrimPrefix(u, runbookURL); !sections[sec] {
			t.Errorf("%s: runbook_url names #%s, which docs/runbook.md has no heading for", a.Alert, sec)
		}
		if !firing[a.Alert] {
			t.Errorf("%s has no promtool unit test in which it fires", a.Alert)
		}
		if !quiet[a.Alert] {
			t.Errorf("%s has no promtool unit test in which it stays quiet", a.Alert)
		}
	}
}
