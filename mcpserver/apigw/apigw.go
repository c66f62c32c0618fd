// Package apigw lets a client keep its Blue data behind its own API Gateway
// instead of giving the server direct S3 and DynamoDB access. When the
// client's Infisical settings carry API_ENDPOINT, the tools call that API
// with SigV4-signed requests (service execute-api) made with the assumed
// client-role credentials, so the client's IAM authorizer decides.
//
// The contract (docs/api-gateway.md) mirrors the document store: one POST
// per operation to <API_ENDPOINT>/v1/store/<op> with a JSON body, answered
// with JSON. Handler is a reference implementation over the same store the
// server uses directly; a client can run it (for example in a Lambda behind
// the gateway) or write its own.
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
	"strings"
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
)

// Request is every operation's body; each uses the fields it needs.
type Request struct {
	Kind     string             `json:"kind,omitempty"`
	ID       string             `json:"id,omitempty"`
	Version  int64              `json:"version,omitempty"`
	Document *store.Document    `json:"document,omitempty"`
	List     *store.ListOptions `json:"list,omitempty"`
}

// Response is every operation's answer.
type Response struct {
	Number        int              `json:"number,omitempty"`
	Document      *store.Document  `json:"document,omitempty"`
	Documents     []store.Document `json:"documents,omitempty"`
	NextPageToken string           `json:"next_page_token,omitempty"`
	Body          []byte           `json:"body,omitempty"`
	Revisions     []store.Revision `json:"revisions,omitempty"`
	// Error is one of not_found, exists, conflict, invalid, internal, with
	// HTTP 404, 409, 409, 400, 500.
	Error   string `json:"error,omitempty"`
	Message string `json:"message,omitempty"`
}

// Client is a tools.Store over the client's API.
type Client struct {
	base   *url.URL
	region string
	creds  aws.CredentialsProvider
	http   *http.Client
	signer *v4.Signer
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

func (c *Client) do(ctx context.Context, op string, req Request) (*Response, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("%s: encode: %w", op, err)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base.String()+"/v1/store/"+op, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	hreq.Header.Set("Content-Type", "application/json")
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
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: read answer: %w", op, err)
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
	case resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized:
		return nil, fmt.Errorf("%s: the client's API refused the signed request (HTTP %d): check its IAM authorizer allows the client role", op, resp.StatusCode)
	}
	return nil, fmt.Errorf("%s: client API answered HTTP %d: %s", op, resp.StatusCode, out.Message)
}

// NextNumber implements tools.Store.
func (c *Client) NextNumber(ctx context.Context, kind string) (int, error) {
	r, err := c.do(ctx, OpNextNumber, Request{Kind: kind})
	if err != nil {
		return 0, err
	}
	return r.Number, nil
}

// Create implements tools.Store.
func (c *Client) Create(ctx context.Context, d *store.Document) error {
	r, err := c.do(ctx, OpCreate, Request{Document: d})
	if err != nil {
		return err
	}
	return adopt(d, r)
}

// Update implements tools.Store.
func (c *Client) Update(ctx context.Context, d *store.Document) error {
	r, err := c.do(ctx, OpUpdate, Request{Document: d})
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
	r, err := c.do(ctx, OpGet, Request{Kind: kind, ID: id})
	if err != nil {
		return nil, err
	}
	if r.Document == nil {
		return nil, errors.New("get: client API answered without the document")
	}
	return r.Document, nil
}

// List implements tools.Store.
func (c *Client) List(ctx context.Context, kind string, o store.ListOptions) ([]store.Document, string, error) {
	r, err := c.do(ctx, OpList, Request{Kind: kind, List: &o})
	if err != nil {
		return nil, "", err
	}
	return r.Documents, r.NextPageToken, nil
}

// Delete implements tools.Store.
func (c *Client) Delete(ctx context.Context, kind, id string, version int64) error {
	_, err := c.do(ctx, OpDelete, Request{Kind: kind, ID: id, Version: version})
	return err
}

// Restore implements tools.Store.
func (c *Client) Restore(ctx context.Context, kind, id string, version int64) error {
	_, err := c.do(ctx, OpRestore, Request{Kind: kind, ID: id, Version: version})
	return err
}

// Purge implements tools.Store.
func (c *Client) Purge(ctx context.Context, kind, id string) error {
	_, err := c.do(ctx, OpPurge, Request{Kind: kind, ID: id})
	return err
}

// Body implements tools.Store: the current body of the document.
func (c *Client) Body(ctx context.Context, d *store.Document) ([]byte, error) {
	r, err := c.do(ctx, OpBody, Request{Kind: d.Kind, ID: d.ID, Version: d.Version})
	if err != nil {
		return nil, err
	}
	return r.Body, nil
}

// Revisions implements tools.Store: the document's history, newest first.
func (c *Client) Revisions(ctx context.Context, kind, id string) ([]store.Revision, error) {
	r, err := c.do(ctx, OpRevisions, Request{Kind: kind, ID: id})
	if err != nil {
		return nil, err
	}
	return r.Revisions, nil
}

// BodyAt implements tools.Store: the body at one revision of the history.
func (c *Client) BodyAt(ctx context.Context, kind, id string, version int64) ([]byte, error) {
	r, err := c.do(ctx, OpBodyAt, Request{Kind: kind, ID: id, Version: version})
	if err != nil {
		return nil, err
	}
	return r.Body, nil
}
