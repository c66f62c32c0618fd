package apigw

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/superviber/blue-operator/mcpserver/store"
)

func TestMatch(t *testing.T) {
	cases := []struct {
		method, path string
		op           string // "" when no route
		kind, id     string
		version      string
		allow        string // the resource's methods when found
	}{
		{"GET", "/v1/rfc/documents", OpList, "rfc", "", "", "GET, POST"},
		{"POST", "/v1/rfc/documents", OpCreate, "rfc", "", "", "GET, POST"},
		{"GET", "/v1/adr/documents/0003", OpGet, "adr", "0003", "", "GET, PUT, DELETE"},
		{"PUT", "/v1/adr/documents/0003", OpUpdate, "adr", "0003", "", "GET, PUT, DELETE"},
		{"DELETE", "/v1/adr/documents/0003", OpDelete, "adr", "0003", "", "GET, PUT, DELETE"},
		{"POST", "/v1/spike/documents/x/restore", OpRestore, "spike", "x", "", "POST"},
		{"DELETE", "/v1/spike/documents/x/purge", OpPurge, "spike", "x", "", "DELETE"},
		{"GET", "/v1/spike/documents/x/body", OpBody, "spike", "x", "", "GET"},
		{"GET", "/v1/spike/documents/x/revisions", OpRevisions, "spike", "x", "", "GET"},
		{"GET", "/v1/spike/documents/x/revisions/7/body", OpBodyAt, "spike", "x", "7", "GET"},
		{"POST", "/v1/prd/numbers", OpNextNumber, "prd", "", "", "POST"},
		{"GET", "/v1/rfc/lookup", OpLookup, "rfc", "", "", "GET"},
		{"POST", "/v1/rfc/lookup", "", "rfc", "", "", "GET"},
		// The resource exists, the method does not.
		{"POST", "/v1/rfc/documents/0001", "", "rfc", "", "", "GET, PUT, DELETE"},
		{"GET", "/v1/rfc/documents/0001/purge", "", "rfc", "", "", "DELETE"},
		{"GET", "/v1/rfc/numbers", "", "rfc", "", "", "POST"},
		// No such resource.
		{"GET", "/v1/store/get", "", "", "", "", ""},
		{"GET", "/v1/rfc", "", "", "", "", ""},
		{"GET", "/v1//documents", "", "", "", "", ""},
		{"GET", "/v1/rfc/documents/", "", "", "", "", ""},
		{"GET", "/v1/rfc/documents/a/b", "", "", "", "", ""},
		{"GET", "/v2/rfc/documents", "", "", "", "", ""},
		{"GET", "/v1/rfc/documents/x/revisions//body", "", "", "", "", ""},
	}
	for _, c := range cases {
		r, kind, id, version, allow, found := match(c.method, c.path)
		if r.Op != c.op || (c.op != "" && (kind != c.kind || id != c.id || version != c.version)) {
			t.Errorf("%s %s: op %q kind %q id %q version %q, want %q %q %q %q", c.method, c.path, r.Op, kind, id, version, c.op, c.kind, c.id, c.version)
		}
		if found != (c.allow != "") || strings.Join(allow, ", ") != c.allow {
			t.Errorf("%s %s: found %v allow %v, want %q", c.method, c.path, found, allow, c.allow)
		}
	}
}

// Every route a client builds is one the handler routes back to the same
// operation; reads are exactly the GETs.
func TestRoutesRoundTrip(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Routes {
		if seen[r.Op] {
			t.Errorf("%s twice", r.Op)
		}
		seen[r.Op] = true
		if r.Read != (r.Method == http.MethodGet) {
			t.Errorf("%s: Read %v with method %s", r.Op, r.Read, r.Method)
		}
		p := call{op: r.Op, kind: "runbook", id: "20261201T1200Z-deploy", version: 4}.path(r)
		got, kind, ok := RouteOf(r.Method, p)
		if !ok || got.Op != r.Op || kind != "runbook" {
			t.Errorf("%s %s routes to %q (%q, %v)", r.Method, p, got.Op, kind, ok)
		}
	}
}

// A create or update whose document contradicts the path is refused: a
// policy granting writes on one kind's resources must not write another.
func TestParseRefusesADocumentOfAnotherKind(t *testing.T) {
	cases := []struct {
		name, method, path, body, wantErr string
	}{
		{"create of another kind", "POST", "/v1/rfc/documents", `{"document":{"Kind":"adr","ID":"0001"}}`, `kind "adr" is not the path's kind "rfc"`},
		{"update of another id", "PUT", "/v1/rfc/documents/0001", `{"document":{"Kind":"rfc","ID":"0002"}}`, `id "0002" is not the path's id "0001"`},
		{"no document", "POST", "/v1/rfc/documents", `{}`, "with a document"},
		{"bad version", "DELETE", "/v1/rfc/documents/0001?version=x", ``, `version "x"`},
		{"missing version", "POST", "/v1/rfc/documents/0001/restore", ``, `version ""`},
		{"bad flag", "GET", "/v1/rfc/documents?include_deleted=maybe", ``, "include_deleted"},
		{"bad limit", "GET", "/v1/rfc/documents?limit=-1", ``, "limit"},
		{"kind filled in", "POST", "/v1/rfc/documents", `{"document":{"ID":"0001"}}`, ""},
		{"list", "GET", "/v1/rfc/documents?status=draft&only_deleted=true&limit=5&page_token=t", ``, ""},
		{"lookup without a title", "GET", "/v1/rfc/lookup?id=0001", ``, "title is required"},
		{"lookup", "GET", "/v1/rfc/lookup?title=1&id=0001", ``, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
			route, kind, id, version, _, _ := match(req.Method, req.URL.Path)
			in, err := parse(req, route, kind, id, version)
			if c.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if in.doc != nil && in.doc.Kind != "rfc" {
					t.Errorf("kind %q", in.doc.Kind)
				}
				if in.op == OpList && in.list != (store.ListOptions{Status: "draft", OnlyDeleted: true, Limit: 5, PageToken: "t"}) {
					t.Errorf("list %+v", in.list)
				}
				if in.op == OpLookup && (in.title != "1" || in.id != "0001") {
					t.Errorf("lookup title %q id %q", in.title, in.id)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("error %v, want %q", err, c.wantErr)
			}
		})
	}
}

// listQuery and parse agree.
func TestListQueryRoundTrip(t *testing.T) {
	for _, o := range []store.ListOptions{{}, {Status: "in-progress", IncludeDeleted: true, Limit: 1000, PageToken: "a b+c"}, {OnlyDeleted: true}} {
		req := httptest.NewRequest("GET", "/v1/rfc/documents?"+listQuery(o).Encode(), nil)
		route, kind, id, version, _, _ := match(req.Method, req.URL.Path)
		in, err := parse(req, route, kind, id, version)
		if err != nil || in.list != o {
			t.Errorf("%+v came back as %+v (%v)", o, in.list, err)
		}
	}
}
