// Package apigw lets a client keep its Blue data behind its own API Gateway
// instead of giving the server direct S3 and DynamoDB access. When the
// client's Infisical settings carry API_ENDPOINT, the tools call that API
// with SigV4-signed requests (service execute-api) made with the assumed
// client-role credentials, so the client's IAM authorization decides.
//
// The contract (docs/api-gateway.md) mirrors the document store as a REST
// API: a resource tree per kind under /v1/{kind} (Routes), reads as GET and
// writes as POST, PUT and DELETE, so a client can grant, for example,
// read-only access per kind. Handler is a reference implementation over the
// same store the server uses directly; cmd/blue-data-lambda runs it in a
// Lambda behind the client's gateway.
package apigw

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/superviber/blue-operator/mcpserver/store"
)

// Operations of the contract.
const (
	OpNextNumber = "next-number"
	OpCreate     = "create"
	OpGet        = "get"
	OpUpdate     = "update"
	OpList       = "list"
	OpDelete     = "delete"
	OpRestore    = "restore"
	OpPurge      = "purge"
	OpBody       = "body"
	OpRevisions  = "revisions"
	OpBodyAt     = "body-at"
	OpLookup     = "lookup"
)

// Request is the body of create and update: the document, with Body as
// base64 in JSON.
type Request struct {
	Document *store.Document `json:"document,omitempty"`
}

// Response is every operation's answer.
type Response struct {
	Number        int              `json:"number,omitempty"`
	Document      *store.Document  `json:"document,omitempty"`
	Documents     []store.Document `json:"documents,omitempty"`
	NextPageToken string           `json:"next_page_token,omitempty"`
	Body          []byte           `json:"body,omitempty"`
	Revisions     []store.Revision `json:"revisions,omitempty"`
	// ByTitle says, in a lookup's answer, that the document was found by its
	// title rather than its id.
	ByTitle bool `json:"by_title,omitempty"`
	// Error is one of not_found, exists, conflict, invalid, internal, with
	// HTTP 404, 409, 409, 400, 500.
	Error   string `json:"error,omitempty"`
	Message string `json:"message,omitempty"`
}

// Query parameters of list, delete, restore and lookup.
const (
	QueryTitle          = "title" // lookup: the exact title (compared as titles are unique)
	QueryID             = "id"    // lookup: the id to answer with when no live document has the title
	QueryStatus         = "status"
	QueryIncludeDeleted = "include_deleted"
	QueryOnlyDeleted    = "only_deleted"
	QueryLimit          = "limit"
	QueryPageToken      = "page_token"
	QueryVersion        = "version"
)

// Client is a tools.Store over the client's API.
type Client struct {
	base   *url.URL
	region string
	creds  aws.CredentialsProvider
	http   *http.Client
	signer *v4.Signer
	bodies *store.BodyCache // nil: none
	scope  string           // the cache entries' owner (see CacheBodies)
	// noLookup: the API refused lookup once; callers list instead.
	noLookup atomic.Bool
}

// errLookupUnsupported tells the tools to find a document by listing.
var errLookupUnsupported = fmt.Errorf("lookup: the client's API does not serve it: %w", errors.ErrUnsupported)

// CacheBodies makes c keep the bodies it reads in cache under scope (the
// caller c signs for: entries of one scope never answer another), keyed by
// document version, and returns c. A version's body never changes (it is an
// immutable revision object in the client's bucket), and c serves a cached
// body only to a call that has just read that version's document through
// the API.
func (c *Client) CacheBodies(cache *store.BodyCache, scope string) *Client {
	c.bodies, c.scope = cache, scope
	return c
}

// bodyKey names a document version's body in the cache. UpdatedAt tells a
// document re-created under a purged one's id from the purged one.
func (c *Client) bodyKey(d *store.Document) string {
	return "api\x00" + c.scope + "\x00" + d.Kind + "\x00" + d.ID + "\x00" + strconv.FormatInt(d.Version, 10) + "\x00" + d.UpdatedAt.UTC().Format(time.RFC3339Nano)
}

// keep caches a document's body, when it has one.
func (c *Client) keep(d *store.Document) {
	if d != nil && d.Body != nil && d.Version > 0 {
		c.bodies.Put(c.bodyKey(d), d.Body)
	}
}

// NewClient checks the endpoint (https, or http on loopback for tests) and
// returns a client signing with creds.
func NewClient(endpoint, region string, creds aws.CredentialsProvider, hc *http.Client) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(endpoint, "/"))
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("API_ENDPOINT %q is not a URL", endpoint)
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())) {
		return nil, fmt.Errorf("API_ENDPOINT %q must use https", endpoint)
	}
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &Client{base: u, region: region, creds: creds, http: hc, signer: v4.NewSigner()}, nil
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

// call is one request: the route, the kind and id it is about, and its
// query and body.
type call struct {
	op      string
	kind    string
	id      string
	version int64 // in the path of body-at
	query   url.Values
	body    *Request
}

// path is the request's path under the endpoint: /v1/<kind><route path>
// with the parameters filled in.
func (c call) path(r Route) string {
	p := strings.NewReplacer("{id}", url.PathEscape(c.id), "{version}", strconv.FormatInt(c.version, 10)).Replace(r.Path)
	return "/v1/" + url.PathEscape(c.kind) + p
}

func (c *Client) do(ctx context.Context, in call) (*Response, error) {
	op := in.op
	r, ok := routeFor(op)
	if !ok {
		return nil, fmt.Errorf("%s: not an operation of the contract", op)
	}
	var body []byte
	if in.body != nil {
		var err error
		if body, err = json.Marshal(in.body); err != nil {
			return nil, fmt.Errorf("%s: encode: %w", op, err)
		}
	}
	u := c.base.String() + in.path(r)
	if len(in.query) > 0 {
		u += "?" + in.query.Encode()
	}
	hreq, err := http.NewRequestWithContext(ctx, r.Method, u, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if body != nil {
		hreq.Header.Set("Content-Type", "application/json")
	} else {
		hreq.Body, hreq.GetBody, hreq.ContentLength = http.NoBody, nil, 0
	}
	hreq.Header.Set("Accept", "application/json")
	creds, err := c.creds.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: credentials: %w", op, err)
	}
	sum := sha256.Sum256(body)
	if err := c.signer.SignHTTP(ctx, creds, hreq, hex.EncodeToString(sum[:]), "execute-api", c.region, time.Now()); err != nil {
		return nil, fmt.Errorf("%s: sign: %w", op, err)
	}
	resp, err := c.http.Do(hreq)
	if err != nil {
		return nil, fmt.Errorf("%s: client API: %w", op, err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: read answer: %w", op, err)
	}
	if resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized {
		// API Gateway's own refusals carry {"message": ...}, not the
		// contract's error names.
		return nil, &RefusedError{Op: op, Method: r.Method, Status: resp.StatusCode}
	}
	var out Response
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("%s: client API answered HTTP %d without the contract's JSON", op, resp.StatusCode)
	}
	switch {
	case resp.StatusCode == http.StatusOK:
		return &out, nil
	case out.Error == "not_found":
		return nil, fmt.Errorf("%s: %w", op, store.ErrNotFound)
	case out.Error == "exists":
		return nil, fmt.Errorf("%s: %w", op, store.ErrExists)
	case out.Error == "conflict":
		return nil, fmt.Errorf("%s: %w", op, store.ErrConflict)
	case out.Error == "invalid":
		return nil, fmt.Errorf("%s: %w: %s", op, store.ErrInvalid, out.Message)
	}
	return nil, fmt.Errorf("%s: client API answered HTTP %d: %s", op, resp.StatusCode, out.Message)
}

// RefusedError is the client's API refusing a signed request (HTTP 401 or
// 403): its IAM authorization or resource policy does not let the client
// role make this call.
type RefusedError struct {
	Op     string
	Method string
	Status int
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("%s: the client's API refused the signed %s request (HTTP %d): check that its resource policy and the client role's execute-api:Invoke policy allow it", e.Op, e.Method, e.Status)
}

func versionQuery(v int64) url.Values {
	return url.Values{QueryVersion: {strconv.FormatInt(v, 10)}}
}

// NextNumber implements tools.Store.
func (c *Client) NextNumber(ctx context.Context, kind string) (int, error) {
	r, err := c.do(ctx, call{op: OpNextNumber, kind: kind})
	if err != nil {
		return 0, err
	}
	return r.Number, nil
}

// Create implements tools.Store.
func (c *Client) Create(ctx context.Context, d *store.Document) error {
	r, err := c.do(ctx, call{op: OpCreate, kind: d.Kind, body: &Request{Document: d}})
	if err != nil {
		return err
	}
	return adopt(d, r)
}

// Update implements tools.Store.
func (c *Client) Update(ctx context.Context, d *store.Document) error {
	r, err := c.do(ctx, call{op: OpUpdate, kind: d.Kind, id: d.ID, body: &Request{Document: d}})
	if err != nil {
		return err
	}
	return adopt(d, r)
}

// adopt takes the stored fields (version, times) back, keeping the body the
// caller holds.
func adopt(d *store.Document, r *Response) error {
	if r.Document == nil {
		return errors.New("client API answered without the document")
	}
	body := d.Body
	*d = *r.Document
	d.Body = body
	return nil
}

// Get implements tools.Store.
func (c *Client) Get(ctx context.Context, kind, id string) (*store.Document, error) {
	r, err := c.do(ctx, call{op: OpGet, kind: kind, id: id})
	if err != nil {
		return nil, err
	}
	if r.Document == nil {
		return nil, errors.New("get: client API answered without the document")
	}
	c.keep(r.Document)
	return r.Document, nil
}

// GetByTitle finds the kind's live document with this title in one request
// (the store's title claim, not a listing).
func (c *Client) GetByTitle(ctx context.Context, kind, title string) (*store.Document, error) {
	d, _, err := c.lookup(ctx, kind, title, "")
	return d, err
}

// GetByTitleOrID answers a reference that may be a title or an id in one
// request, as store.GetByTitleOrID does.
func (c *Client) GetByTitleOrID(ctx context.Context, kind, title, id string) (*store.Document, bool, error) {
	return c.lookup(ctx, kind, title, id)
}

func (c *Client) lookup(ctx context.Context, kind, title, id string) (*store.Document, bool, error) {
	if c.noLookup.Load() {
		return nil, false, errLookupUnsupported
	}
	q := url.Values{QueryTitle: {title}}
	if id != "" {
		q.Set(QueryID, id)
	}
	r, err := c.do(ctx, call{op: OpLookup, kind: kind, query: q})
	var refused *RefusedError
	if errors.As(err, &refused) {
		// An API deployed before lookup existed (API Gateway refuses an
		// undeclared resource with 403), or a grant without it: the caller
		// finds the document by listing, as it did before, from now on.
		c.noLookup.Store(true)
		return nil, false, errLookupUnsupported
	}
	if err != nil {
		return nil, false, err
	}
	if r.Document == nil {
		return nil, false, errors.New("lookup: client API answered without the document")
	}
	c.keep(r.Document)
	return r.Document, r.ByTitle, nil
}

// List implements tools.Store.
func (c *Client) List(ctx context.Context, kind string, o store.ListOptions) ([]store.Document, string, error) {
	r, err := c.do(ctx, call{op: OpList, kind: kind, query: listQuery(o)})
	if err != nil {
		return nil, "", err
	}
	return r.Documents, r.NextPageToken, nil
}

// Delete implements tools.Store.
func (c *Client) Delete(ctx context.Context, kind, id string, version int64) error {
	_, err := c.do(ctx, call{op: OpDelete, kind: kind, id: id, query: versionQuery(version)})
	return err
}

// Restore implements tools.Store.
func (c *Client) Restore(ctx context.Context, kind, id string, version int64) error {
	_, err := c.do(ctx, call{op: OpRestore, kind: kind, id: id, query: versionQuery(version)})
	return err
}

// Purge implements tools.Store.
func (c *Client) Purge(ctx context.Context, kind, id string) error {
	_, err := c.do(ctx, call{op: OpPurge, kind: kind, id: id})
	return err
}

// Body implements tools.Store as store.Body does: the body of the version
// listed (from the cache, or the API's body-at), or, when that version has
// left the history, the latest version's body, with *d refreshed to it. An
// API that refuses body-at (a grant that keeps the history back) is asked
// for the current body, uncached, as before body-at was used.
func (c *Client) Body(ctx context.Context, d *store.Document) ([]byte, error) {
	if d.Version > 0 {
		if b, ok := c.bodies.Get(c.bodyKey(d)); ok {
			return b, nil
		}
		r, err := c.do(ctx, call{op: OpBodyAt, kind: d.Kind, id: d.ID, version: d.Version})
		var refused *RefusedError
		switch {
		case err == nil:
			c.bodies.Put(c.bodyKey(d), r.Body)
			return r.Body, nil
		case errors.As(err, &refused):
			r, err := c.do(ctx, call{op: OpBody, kind: d.Kind, id: d.ID})
			if err != nil {
				return nil, err
			}
			return r.Body, nil
		case !errors.Is(err, store.ErrNotFound):
			return nil, err
		}
	}
	latest, err := c.Get(ctx, d.Kind, d.ID)
	if err != nil {
		return nil, err
	}
	body := latest.Body
	latest.Body = nil
	*d = *latest
	return body, nil
}

// Revisions implements tools.Store: the document's history, newest first.
func (c *Client) Revisions(ctx context.Context, kind, id string) ([]store.Revision, error) {
	r, err := c.do(ctx, call{op: OpRevisions, kind: kind, id: id})
	if err != nil {
		return nil, err
	}
	return r.Revisions, nil
}

// BodyAt implements tools.Store: the body at one revision of the history.
func (c *Client) BodyAt(ctx context.Context, kind, id string, version int64) ([]byte, error) {
	r, err := c.do(ctx, call{op: OpBodyAt, kind: kind, id: id, version: version})
	if err != nil {
		return nil, err
	}
	return r.Body, nil
}

// listQuery is ListOptions as list's query parameters (zero values left
// out).
func listQuery(o store.ListOptions) url.Values {
	q := url.Values{}
	if o.Status != "" {
		q.Set(QueryStatus, o.Status)
	}
	if o.IncludeDeleted {
		q.Set(QueryIncludeDeleted, "true")
	}
	if o.OnlyDeleted {
		q.Set(QueryOnlyDeleted, "true")
	}
	if o.Limit != 0 {
		q.Set(QueryLimit, strconv.Itoa(o.Limit))
	}
	if o.PageToken != "" {
		q.Set(QueryPageToken, o.PageToken)
	}
	return q
}
