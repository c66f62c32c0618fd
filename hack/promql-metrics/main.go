//go:build ignore

// Command promql-metrics parses PromQL expressions with Prometheus's own
// parser and prints, for each, the metric names and label matchers of its
// selectors. hack/setup-promtool.sh builds it beside promtool from the
// same github.com/prometheus/prometheus module, in a module of its own
// outside the repository (the build tag keeps it out of this module, whose
// binaries must not link Prometheus's server packages), and test/monitoring
// runs it to check the dashboard and the alert rules against the metrics the
// binaries export.
//
// Input on stdin: a JSON array of expressions. Output on stdout: a JSON array
// of {"expr", "error", "selectors": [{"metric", "matchers": [{"label",
// "type", "value"}]}]}, one per expression in the same order; type is one of
// = != =~ !~.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

type matcher struct {
	Label string `json:"label"`
	Type  string `json:"type"`
	Value string `json:"value"`
}

type selector struct {
	Metric   string    `json:"metric"`
	Matchers []matcher `json:"matchers"`
}

type result struct {
	Expr      string     `json:"expr"`
	Error     string     `json:"error,omitempty"`
	Selectors []selector `json:"selectors"`
}

func main() {
	var exprs []string
	if err := json.NewDecoder(os.Stdin).Decode(&exprs); err != nil {
		fmt.Fprintln(os.Stderr, "promql-metrics: read a JSON array of expressions from stdin:", err)
		os.Exit(2)
	}
	p := parser.NewParser(parser.Options{})
	out := make([]result, 0, len(exprs))
	for _, e := range exprs {
		r := result{Expr: e, Selectors: []selector{}}
		ast, err := p.ParseExpr(e)
		if err != nil {
			r.Error = err.Error()
			out = append(out, r)
			continue
		}
		parser.Inspect(ast, func(n parser.Node, _ []parser.Node) error {
			vs, ok := n.(*parser.VectorSelector)
			if !ok {
				return nil
			}
			s := selector{Metric: vs.Name, Matchers: []matcher{}}
			for _, m := range vs.LabelMatchers {
				if m.Name == labels.MetricName {
					if s.Metric == "" && m.Type == labels.MatchEqual {
						s.Metric = m.Value
					}
					continue
				}
				s.Matchers = append(s.Matchers, matcher{Label: m.Name, Type: m.Type.String(), Value: m.Value})
			}
			sort.Slice(s.Matchers, func(i, j int) bool { return s.Matchers[i].Label < s.Matchers[j].Label })
			r.Selectors = append(r.Selectors, s)
			return nil
		})
		out = append(out, r)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "promql-metrics:", err)
		os.Exit(1)
	}
}
