package apigw

import (
	"net/http"
	"strings"
)

// Route is one operation of the contract: an HTTP method on a resource under
// /v1/{kind}. Reads are GET and writes are POST, PUT or DELETE, so a
// client's security team can grant or deny each operation of each kind in
// the API's resource policy or the role's execute-api:Invoke policy, whose
// resource ARNs end in <stage>/<METHOD>/v1/<kind>/<path>.
type Route struct {
	// Op is the operation's name (the Op constants), used in errors, logs
	// and the Terraform module's resource names.
	Op string
	// Method is the HTTP method.
	Method string
	// Path is the resource under /v1/{kind}, with {id} and {version} as
	// path parameters ("" is /v1/{kind} itself).
	Path string
	// Read is true when the operation changes nothing.
	Read bool
}

// Routes is the whole contract, in the order of docs/api-gateway.md. The
// client's Terraform module declares exactly these resources and methods for
// each stored kind (test/deploy checks it).
var Routes = []Route{
	{Op: OpList, Method: http.MethodGet, Path: "/documents", Read: true},
	{Op: OpCreate, Method: http.MethodPost, Path: "/documents"},
	{Op: OpGet, Method: http.MethodGet, Path: "/documents/{id}", Read: true},
	{Op: OpUpdate, Method: http.MethodPut, Path: "/documents/{id}"},
	{Op: OpDelete, Method: http.MethodDelete, Path: "/documents/{id}"},
	{Op: OpRestore, Method: http.MethodPost, Path: "/documents/{id}/restore"},
	{Op: OpPurge, Method: http.MethodDelete, Path: "/documents/{id}/purge"},
	{Op: OpBody, Method: http.MethodGet, Path: "/documents/{id}/body", Read: true},
	{Op: OpRevisions, Method: http.MethodGet, Path: "/documents/{id}/revisions", Read: true},
	{Op: OpBodyAt, Method: http.MethodGet, Path: "/documents/{id}/revisions/{version}/body", Read: true},
	{Op: OpNextNumber, Method: http.MethodPost, Path: "/numbers"},
	{Op: OpLookup, Method: http.MethodGet, Path: "/lookup", Read: true},
}

// routeFor returns the route of op; ok is false for an unknown op.
func routeFor(op string) (Route, bool) {
	for _, r := range Routes {
		if r.Op == op {
			return r, true
		}
	}
	return Route{}, false
}

// match finds the route of a request path (already without the stage) and
// its parameters. found is false when no route has that path; a route with
// the path but another method comes back with methodOK false, so the handler
// can answer 405 with the methods the resource has.
func match(method, path string) (r Route, kind, id, version string, allow []string, found bool) {
	rest, ok := strings.CutPrefix(path, "/v1/")
	if !ok {
		return Route{}, "", "", "", nil, false
	}
	segs := strings.Split(rest, "/")
	if len(segs) < 2 || segs[0] == "" {
		return Route{}, "", "", "", nil, false
	}
	kind = segs[0]
	for _, cand := range Routes {
		tmpl := strings.Split(strings.TrimPrefix(cand.Path, "/"), "/")
		if len(tmpl) != len(segs)-1 {
			continue
		}
		var cid, cver string
		same := true
		for i, t := range tmpl {
			s := segs[i+1]
			switch t {
			case "{id}":
				cid = s
			case "{version}":
				cver = s
			default:
				same = t == s
			}
			if !same || s == "" {
				same = false
				break
			}
		}
		if !same {
			continue
		}
		found = true
		allow = append(allow, cand.Method)
		if cand.Method == method {
			r, id, version = cand, cid, cver
		}
	}
	return r, kind, id, version, allow, found
}

// RouteOf is the route a request's method and path (without the stage)
// take, and the kind in the path; ok is false when the contract has no such
// resource and method. A gateway that declares only the contract's resources
// refuses everything else before it reaches the function.
func RouteOf(method, path string) (r Route, kind string, ok bool) {
	r, kind, _, _, _, _ = match(method, path)
	return r, kind, r.Op != ""
}
