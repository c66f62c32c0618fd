package monitoring_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type target struct {
	RefID      string `json:"refId"`
	Expr       string `json:"expr"`
	Datasource struct {
		UID string `json:"uid"`
	} `json:"datasource"`
}

type panel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Repeat     string `json:"repeat"`
	Datasource struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	GridPos struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []target `json:"targets"`
	Panels  []panel  `json:"panels"`
}

type variable struct {
	Name  string          `json:"name"`
	Type  string          `json:"type"`
	Query json.RawMessage `json:"query"`
	Multi bool            `json:"multi"`
}

// queryString is a query variable's query, which Grafana stores as a string
// or as {"query": ...}.
func (v variable) queryString() string {
	var s string
	if json.Unmarshal(v.Query, &s) == nil {
		return s
	}
	var q struct {
		Query string `json:"query"`
	}
	_ = json.Unmarshal(v.Query, &q)
	return q.Query
}

type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []variable `json:"list"`
	} `json:"templating"`
}

// allPanels are the dashboard's panels in order, those inside collapsed
// rows included, rows themselves too.
func (d dashboard) allPanels() []panel {
	var out []panel
	for _, p := range d.Panels {
		out = append(out, p)
		out = append(out, p.Panels...)
	}
	return out
}

func readDashboard(t *testing.T, path string) dashboard {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return d
}

// TestDashboard holds the dashboard to what a platform engineer expects:
// a data source variable every query uses, a tenant variable, a fleet row
// and a row repeated per tenant whose queries are all the selected
// tenant's, and panels that fit Grafana's 24-column grid without clashing
// ids.
func TestDashboard(t *testing.T) {
	path := filepath.Join(repoRoot, "deploy", "monitoring", "grafana", "blue-operator.json")
	d := readDashboard(t, path)
	if d.UID == "" || d.Title == "" {
		t.Errorf("uid %q title %q", d.UID, d.Title)
	}
	vars := map[string]variable{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v
	}
	if vars["datasource"].Type != "datasource" {
		t.Errorf("no datasource variable: %+v", vars["datasource"])
	}
	if v := vars["tenant"]; v.Type != "query" || !v.Multi || !strings.Contains(v.queryString(), "tenant") {
		t.Errorf("tenant variable: %+v", v)
	}
	ids := map[int]string{}
	var fleet, tenant bool
	inTenantRow := false
	for _, p := range d.allPanels() {
		if other, dup := ids[p.ID]; dup {
			t.Errorf("panels %q and %q share id %d", other, p.Title, p.ID)
		}
		ids[p.ID] = p.Title
		if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X < 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q does not fit the grid: %+v", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			switch {
			case p.Title == "Fleet":
				fleet = true
				inTenantRow = false
			case p.Repeat == "tenant" && strings.Contains(p.Title, "$tenant"):
				tenant = true
				inTenantRow = true
			default:
				t.Errorf("row %q is neither the fleet's nor repeated per tenant", p.Title)
			}
			continue
		}
		if p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q uses data source %q, not ${datasource}", p.Title, p.Datasource.UID)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			if tg.RefID == "" || refs[tg.RefID] {
				t.Errorf("panel %q: query refId %q missing or twice", p.Title, tg.RefID)
			}
			refs[tg.RefID] = true
			if tg.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q query %s uses data source %q", p.Title, tg.RefID, tg.Datasource.UID)
			}
			if inTenantRow && !strings.Contains(tg.Expr, `tenant=~"$tenant"`) {
				t.Errorf("panel %q in the tenant row: %s is not the selected tenant's", p.Title, tg.Expr)
			}
		}
	}
	if !fleet || !tenant {
		t.Errorf("rows: fleet %v, per tenant %v", fleet, tenant)
	}
}
