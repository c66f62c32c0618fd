package apigw

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/superviber/blue-operator/mcpserver/store"
)

// Handler serves the contract over a store: the reference implementation of
// the client's side. Authentication (SigV4 through the gateway's IAM
// authorizer) happens in front of it.
func Handler(st *store.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op, found := strings.CutPrefix(r.URL.Path, "/v1/store/")
		if r.Method != http.MethodPost || !found {
			answer(w, http.StatusNotFound, Response{Error: "not_found", Message: "unknown operation"})
			return
		}
		var req Request
		if err := json.NewDecoder(io.LimitReader(r.Body, 16<<20)).Decode(&req); err != nil {
			answer(w, http.StatusBadRequest, Response{Error: "invalid", Message: "body is not the contract's JSON"})
			return
		}
		resp, err := serve(r.Context(), st, op, req)
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

func serve(ctx context.Context, st *store.Store, op string, req Request) (*Response, error) {
	needDoc := func() (*store.Document, error) {
		if req.Document == nil {
			return nil, store.ErrInvalid
		}
		return req.Document, nil
	}
	switch op {
	case OpNextNumber:
		n, err := st.NextNumber(ctx, req.Kind)
		return &Response{Number: n}, err
	case OpCreate, OpUpdate:
		d, err := needDoc()
		if err != nil {
			return nil, err
		}
		if op == OpCreate {
			err = st.Create(ctx, d)
		} else {
			err = st.Update(ctx, d)
		}
		if err != nil {
			return nil, err
		}
		d.Body = nil // the caller has it
		return &Response{Document: d}, nil
	case OpGet:
		d, err := st.Get(ctx, req.Kind, req.ID)
		if err != nil {
			return nil, err
		}
		return &Response{Document: d}, nil
	case OpList:
		var o store.ListOptions
		if req.List != nil {
			o = *req.List
		}
		docs, next, err := st.List(ctx, req.Kind, o)
		return &Response{Documents: docs, NextPageToken: next}, err
	case OpDelete:
		return &Response{}, st.Delete(ctx, req.Kind, req.ID, req.Version)
	case OpRestore:
		return &Response{}, st.Restore(ctx, req.Kind, req.ID, req.Version)
	case OpPurge:
		return &Response{}, st.Purge(ctx, req.Kind, req.ID)
	case OpBody:
		d, err := st.Get(ctx, req.Kind, req.ID)
		if err != nil {
			return nil, err
		}
		b, err := st.Body(ctx, d)
		return &Response{Body: b}, err
	case OpRevisions:
		h, err := st.Revisions(ctx, req.Kind, req.ID)
		return &Response{Revisions: h}, err
	case OpBodyAt:
		b, err := st.BodyAt(ctx, req.Kind, req.ID, req.Version)
		return &Response{Body: b}, err
	}
	return nil, store.ErrNotFound
}

func answer(w http.ResponseWriter, code int, r Response) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(r)
}
