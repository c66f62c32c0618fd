package apigw

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/superviber/blue-operator/mcpserver/store"
)

// Handler serves the contract over a store: the reference implementation of
// the client's side. Authentication (SigV4 through the gateway's IAM
// authorization) happens in front of it; what it checks itself is that a
// request means what its method and path say, because that is what the
// client's policies grant: the document in a create or update body must be
// of the path's kind (and, for update, have the path's id), so a grant on
// one kind's resources never writes another kind.
func Handler(st *store.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route, kind, id, version, allow, found := match(r.Method, r.URL.Path)
		if !found {
			answer(w, http.StatusNotFound, Response{Error: "not_found", Message: "no such resource in the contract"})
			return
		}
		if route.Op == "" {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			answer(w, http.StatusMethodNotAllowed, Response{Error: "invalid", Message: fmt.Sprintf("%s is not allowed here; the resource allows %s", r.Method, strings.Join(allow, ", "))})
			return
		}
		in, err := parse(r, route, kind, id, version)
		if err != nil {
			answer(w, http.StatusBadRequest, Response{Error: "invalid", Message: err.Error()})
			return
		}
		resp, err := serve(r.Context(), st, in)
		if err != nil {
			code, name := http.StatusInternalServerError, "internal"
			switch {
			case errors.Is(err, store.ErrNotFound):
				code, name = http.StatusNotFound, "not_found"
			case errors.Is(err, store.ErrExists):
				code, name = http.StatusConflict, "exists"
			case errors.Is(err, store.ErrConflict):
				code, name = http.StatusConflict, "conflict"
			case errors.Is(err, store.ErrInvalid):
				code, name = http.StatusBadRequest, "invalid"
			}
			answer(w, code, Response{Error: name, Message: err.Error()})
			return
		}
		answer(w, http.StatusOK, *resp)
	})
}

// request is a parsed request: the route and everything it carries.
type request struct {
	op       string
	kind, id string
	version  int64
	doc      *store.Document
	list     store.ListOptions
	title    string // lookup
}

// parse reads the path parameters, query and body a route uses, refusing
// what contradicts the path.
func parse(r *http.Request, route Route, kind, id, version string) (request, error) {
	// The path is already decoded (net/http, and API Gateway's proxy
	// event); an id holding an encoded slash matches no route.
	in := request{op: route.Op, kind: kind, id: id}
	var err error
	q := r.URL.Query()
	num := func(name, s string) (int64, error) {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v < 0 {
			return 0, fmt.Errorf("%s %q is not a version number", name, s)
		}
		return v, nil
	}
	switch route.Op {
	case OpBodyAt:
		if in.version, err = num("version", version); err != nil {
			return in, err
		}
	case OpDelete, OpRestore:
		if in.version, err = num("query parameter version", q.Get(QueryVersion)); err != nil {
			return in, err
		}
	case OpList:
		in.list = store.ListOptions{Status: q.Get(QueryStatus), PageToken: q.Get(QueryPageToken)}
		for name, into := range map[string]*bool{QueryIncludeDeleted: &in.list.IncludeDeleted, QueryOnlyDeleted: &in.list.OnlyDeleted} {
			if s := q.Get(name); s != "" {
				if *into, err = strconv.ParseBool(s); err != nil {
					return in, fmt.Errorf("query parameter %s %q is not true or false", name, s)
				}
			}
		}
		if s := q.Get(QueryLimit); s != "" {
			if in.list.Limit, err = strconv.Atoi(s); err != nil || in.list.Limit < 0 {
				return in, fmt.Errorf("query parameter limit %q is not a page size", s)
			}
		}
	case OpLookup:
		if in.title = q.Get(QueryTitle); in.title == "" {
			return in, errors.New("query parameter title is required")
		}
		in.id = q.Get(QueryID)
	case OpCreate, OpUpdate:
		var body Request
		if err := json.NewDecoder(io.LimitReader(r.Body, 16<<20)).Decode(&body); err != nil || body.Document == nil {
			return in, errors.New("body is not the contract's JSON with a document")
		}
		d := body.Document
		if d.Kind == "" {
			d.Kind = kind
		}
		if d.Kind != kind {
			return in, fmt.Errorf("the document's kind %q is not the path's kind %q", d.Kind, kind)
		}
		if route.Op == OpUpdate && d.ID != in.id {
			return in, fmt.Errorf("the document's id %q is not the path's id %q", d.ID, in.id)
		}
		in.doc = d
	}
	return in, nil
}

func serve(ctx context.Context, st *store.Store, in request) (*Response, error) {
	switch in.op {
	case OpNextNumber:
		n, err := st.NextNumber(ctx, in.kind)
		return &Response{Number: n}, err
	case OpCreate, OpUpdate:
		var err error
		if in.op == OpCreate {
			err = st.Create(ctx, in.doc)
		} else {
			err = st.Update(ctx, in.doc)
		}
		if err != nil {
			return nil, err
		}
		in.doc.Body = nil // the caller has it
		return &Response{Document: in.doc}, nil
	case OpGet:
		d, err := st.Get(ctx, in.kind, in.id)
		if err != nil {
			return nil, err
		}
		return &Response{Document: d}, nil
	case OpList:
		docs, next, err := st.List(ctx, in.kind, in.list)
		return &Response{Documents: docs, NextPageToken: next}, err
	case OpDelete:
		return &Response{}, st.Delete(ctx, in.kind, in.id, in.version)
	case OpRestore:
		return &Response{}, st.Restore(ctx, in.kind, in.id, in.version)
	case OpPurge:
		return &Response{}, st.Purge(ctx, in.kind, in.id)
	case OpBody:
		d, err := st.Get(ctx, in.kind, in.id)
		if err != nil {
			return nil, err
		}
		b, err := st.Body(ctx, d)
		return &Response{Body: b}, err
	case OpRevisions:
		h, err := st.Revisions(ctx, in.kind, in.id)
		return &Response{Revisions: h}, err
	case OpBodyAt:
		b, err := st.BodyAt(ctx, in.kind, in.id, in.version)
		return &Response{Body: b}, err
	case OpLookup:
		if in.id == "" {
			d, err := st.GetByTitle(ctx, in.kind, in.title)
			if err != nil {
				return nil, err
			}
			return &Response{Document: d, ByTitle: true}, nil
		}
		d, byTitle, err := st.GetByTitleOrID(ctx, in.kind, in.title, in.id)
		if err != nil {
			return nil, err
		}
		return &Response{Document: d, ByTitle: byTitle}, nil
	}
	return nil, fmt.Errorf("operation %q: %w", in.op, store.ErrNotFound)
}

func answer(w http.ResponseWriter, code int, r Response) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(r)
}
