package tools

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/superviber/blue-operator/mcpserver/blue"
	"github.com/superviber/blue-operator/mcpserver/store"
)

// Resources: every document is blue://docs/<plural>/<id>, and an RFC with a
// plan also blue://docs/rfcs/<id>/plan, as Blue served them. go-sdk lists
// only resources added one by one; the tenant's documents live in the
// client's table, so resources/list is answered here, a page at a time.

// resourcePage is how many documents one resources/list page holds.
const resourcePage = 50

// resourceCursor is where the next resources/list page starts: a kind (its
// index in blue.Kinds) and the store's page token within it.
type resourceCursor struct {
	Kind  int    `json:"k"`
	Token string `json:"t,omitempty"`
}

func (c resourceCursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeResourceCursor(s string) (resourceCursor, error) {
	var c resourceCursor
	if s == "" {
		return c, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &c) != nil || c.Kind < 0 || c.Kind >= len(blue.Kinds) {
		return c, fmt.Errorf("cursor %q is not one this server issued", s)
	}
	return c, nil
}

// parseResourceURI reads blue://docs/<plural>/<id> and
// blue://docs/rfcs/<id>/plan: the kind, the document id and whether it is
// the plan. The URI comes from the client; ok is false for anything else,
// including an id the store would refuse, a query or a fragment.
func parseResourceURI(uri string) (k blue.Kind, id string, plan, ok bool) {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "blue" || u.Host != "docs" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return blue.Kind{}, "", false, false
	}
	plural, rest, found := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
	id, plan = strings.CutSuffix(rest, "/plan")
	k, known := blue.KindByPlural(plural)
	if !found || !known || !store.ValidID(id) || (plan && k.Name != "rfc") {
		return blue.Kind{}, "", false, false
	}
	return k, id, plan, true
}

// planURI is an RFC plan's resource address.
func planURI(id string) string { return URI("rfc", id) + "/plan" }

// resourcesMiddleware answers resources/list from the tenant's documents.
func (s *Service) resourcesMiddleware(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		if method != "resources/list" {
			return next(ctx, method, req)
		}
		cursor := ""
		if r, ok := req.(*mcp.ListResourcesRequest); ok && r.Params != nil {
			cursor = r.Params.Cursor
		}
		return s.listResources(ctx, cursor)
	}
}

func (s *Service) listResources(ctx context.Context, cursor string) (*mcp.ListResourcesResult, error) {
	c, err := decodeResourceCursor(cursor)
	if err != nil {
		return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: err.Error()}
	}
	st, err := s.Store(ctx)
	if err != nil {
		return nil, err
	}
	res := &mcp.ListResourcesResult{Resources: []*mcp.Resource{}}
	for n := 0; c.Kind < len(blue.Kinds); {
		k := blue.Kinds[c.Kind]
		docs, next, err := st.List(ctx, k.Name, store.ListOptions{Limit: resourcePage - n, PageToken: c.Token})
		if err != nil {
			return nil, storeErr("list "+k.Plural, err)
		}
		for _, d := range docs {
			res.Resources = append(res.Resources, &mcp.Resource{
				URI: URI(d.Kind, d.ID), Name: d.Kind + "-" + d.ID, Title: d.Title,
				Description: fmt.Sprintf("%s %s (%s)", k.Title, d.ID, d.Status), MIMEType: "text/markdown",
			})
			if d.Kind == "rfc" && d.Attrs[attrPlan] != "" {
				res.Resources = append(res.Resources, &mcp.Resource{
					URI: planURI(d.ID), Name: "rfc-" + d.ID + "-plan", Title: "Plan: " + d.Title,
					Description: fmt.Sprintf("RFC %s's plan", d.ID), MIMEType: "text/markdown",
				})
			}
		}
		n += len(docs)
		if next != "" {
			c.Token = next
		} else {
			c = resourceCursor{Kind: c.Kind + 1}
		}
		if n >= resourcePage {
			break
		}
	}
	if c.Kind < len(blue.Kinds) {
		res.NextCursor = c.encode()
	}
	return res, nil
}

// readResource serves blue://docs/<plural>/<id> and blue://docs/rfcs/<id>/plan.
func (s *Service) readResource(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
	k, id, plan, ok := parseResourceURI(req.Params.URI)
	if !ok {
		return nil, mcp.ResourceNotFoundError(req.Params.URI)
	}
	st, err := s.Store(ctx)
	if err != nil {
		return nil, err
	}
	d, err := st.Get(ctx, k.Name, id)
	if err != nil || d.DeletedAt != nil {
		return nil, mcp.ResourceNotFoundError(req.Params.URI)
	}
	var text string
	if plan {
		tasks := planTasks(d)
		if len(tasks) == 0 {
			return nil, mcp.ResourceNotFoundError(req.Params.URI)
		}
		text = fmt.Sprintf("# Plan: %s\n\n%s", heading(k, d.Number, d.Title), blue.RenderTasks(tasks))
	} else {
		body, err := withBody(ctx, st, d)
		if err != nil {
			return nil, err
		}
		text = string(body)
	}
	return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, MIMEType: "text/markdown", Text: text}}}, nil
}
