// Package backend connects the tools to the tenant's data: it takes the
// client's settings from Infisical, assumes the client's role for the
// calling user, and hands out S3 and DynamoDB clients bound to those
// credentials. Clients are cached per caller and dropped the moment the
// client rotates or revokes anything.
package backend

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"

	"github.com/superviber/blue-operator/api/contract"
	"github.com/superviber/blue-operator/mcpserver/apigw"
	"github.com/superviber/blue-operator/mcpserver/awscreds"
	"github.com/superviber/blue-operator/mcpserver/blue"
	"github.com/superviber/blue-operator/mcpserver/store"
	"github.com/superviber/blue-operator/mcpserver/tenantconfig"
	"github.com/superviber/blue-operator/mcpserver/tools"
	"github.com/superviber/blue-operator/mcpserver/tracing"
)

// ErrRevoked is what every tool answers once the client has revoked access.
var ErrRevoked = errors.New("access revoked by the client")

// Config is the tenant's current settings.
type Config interface {
	Current() (tenantconfig.Config, error)
}

// Credentials gives the client role's credentials for a caller.
type Credentials interface {
	Provider(t awscreds.Target, caller string) aws.CredentialsProvider
	Drop()
	// Verify assumes the role past the cache (see awscreds.Assumer.Verify).
	Verify(ctx context.Context, t awscreds.Target) (aws.Credentials, error)
}

// Options locate AWS for tests and other partitions.
type Options struct {
	Region string
	// Account is the client's AWS account: every S3 call expects the bucket
	// to be owned by it.
	Account     string
	S3Endpoint  string // optional override; path-style addressing when set
	DDBEndpoint string
	HTTPClient  *http.Client
	// APIRoots are the CAs the client's API (API_ENDPOINT) is trusted by,
	// the system's among them (APIRoots from spec.aws.apiCABundle); nil:
	// the system's alone. S3, DynamoDB and STS never use them.
	APIRoots *x509.CertPool
	// AttemptTimeout bounds each request to S3, DynamoDB or the client's
	// API when HTTPClient is nil (DefaultAttemptTimeout when zero): a
	// request the other side never answers is given up and retried by the
	// SDK, rather than holding the call until the client goes away.
	AttemptTimeout time.Duration
	// Caller names the authenticated user of a call (for the session name).
	Caller func(ctx context.Context) string
	// BodyCacheBytes bounds the bodies the process keeps in memory, for all
	// callers together (DefaultBodyCacheBytes when zero, negative: none).
	BodyCacheBytes int64
}

// DefaultBodyCacheBytes bounds the bodies one tenant process keeps.
const DefaultBodyCacheBytes = 32 << 20

func (o Options) bodyCacheBytes() int64 {
	if o.BodyCacheBytes == 0 {
		return DefaultBodyCacheBytes
	}
	return o.BodyCacheBytes
}

// DefaultAttemptTimeout bounds one request to the client's storage.
const DefaultAttemptTimeout = 10 * time.Second

// Backend resolves the store for each call.
type Backend struct {
	cfg   Config
	creds Credentials
	o     Options

	mu     sync.Mutex
	stores map[key]tools.Store
	// cache holds the bodies every caller's store read, under one bound
	// for the process (BodyCacheBytes).
	cache *store.BodyCache
	// apigwHTTP is HTTPClient with a span per request to the client's API
	// (the SDK clients have theirs from tracing.AWSMiddleware).
	apigwHTTP *http.Client

	// The access check's clients (checkClients). Checks run one at a time
	// (access.Checker), so the credentials they sign with are the last
	// check's.
	probeOnce  sync.Once
	probeCreds atomic.Pointer[aws.CredentialsProvider]
	probeS3    *s3.Client
	probeDDB   *dynamodb.Client
}

type key struct {
	cfg    tenantconfig.Config
	caller string
}

// New builds a backend. Call Changed from the config source's OnChange.
func New(cfg Config, creds Credentials, o Options) *Backend {
	if o.Caller == nil {
		o.Caller = func(context.Context) string { return "" }
	}
	if o.HTTPClient == nil {
		t := o.AttemptTimeout
		if t <= 0 {
			t = DefaultAttemptTimeout
		}
		o.HTTPClient = &http.Client{Timeout: t, Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	apigwHTTP := *o.HTTPClient
	apigwHTTP.Transport = tracing.Transport("ClientAPI", withRoots(o.HTTPClient.Transport, o.APIRoots))
	return &Backend{cfg: cfg, creds: creds, o: o, stores: map[key]tools.Store{}, cache: store.NewBodyCache(o.bodyCacheBytes()), apigwHTTP: &apigwHTTP}
}

// withRoots is rt trusting roots instead of the system's CAs; rt itself
// when roots is nil or rt is not an *http.Transport (a test's own).
func withRoots(rt http.RoundTripper, roots *x509.CertPool) http.RoundTripper {
	if roots == nil {
		return rt
	}
	if rt == nil {
		rt = http.DefaultTransport
	}
	t, ok := rt.(*http.Transport)
	if !ok {
		return rt
	}
	t = t.Clone()
	if t.TLSClientConfig == nil {
		t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	t.TLSClientConfig.RootCAs = roots
	return t
}

// APIRoots is the system's CAs and those of pemText (spec.aws.apiCABundle),
// for Options.APIRoots; nil when pemText is empty.
func APIRoots(pemText string) (*x509.CertPool, error) {
	if pemText == "" {
		return nil, nil
	}
	certs, err := contract.ParseCABundle(pemText)
	if err != nil {
		return nil, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		// No system bundle (a scratch image without one): the client's
		// CAs alone, which is all its private API needs.
		pool = x509.NewCertPool()
	}
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}

// Changed forgets every cached client and credential: the client rotated a
// value or revoked access.
func (b *Backend) Changed(_, _ tenantconfig.Config) {
	b.mu.Lock()
	b.cache = store.NewBodyCache(b.o.bodyCacheBytes()) // nothing read under the old settings is kept
	b.mu.Unlock()
	b.forget()
}

// forget drops every store and credential (a refused AssumeRole, changed settings).
func (b *Backend) forget() {
	b.mu.Lock()
	b.stores = map[key]tools.Store{}
	b.mu.Unlock()
	b.creds.Drop()
}

// Store is tools.Service's Store function.
func (b *Backend) Store(ctx context.Context) (tools.Store, error) {
	cfg, err := b.cfg.Current()
	if err != nil {
		if errors.Is(err, tenantconfig.ErrRevoked) {
			return nil, ErrRevoked
		}
		return nil, fmt.Errorf("tenant configuration unavailable: %w", err)
	}
	k := key{cfg: cfg, caller: b.o.Caller(ctx)}
	b.mu.Lock()
	defer b.mu.Unlock()
	if st, ok := b.stores[k]; ok {
		return st, nil
	}
	creds := b.creds.Provider(awscreds.Target{RoleARN: cfg.RoleARN, ExternalID: cfg.ExternalID}, k.caller)
	if cfg.APIEndpoint != "" {
		// The client keeps its storage behind its own API Gateway.
		c, err := apigw.NewClient(cfg.APIEndpoint, b.o.Region, creds, b.apigwHTTP)
		if err != nil {
			return nil, err
		}
		b.stores[k] = c.CacheBodies(b.cache, k.caller)
		return b.stores[k], nil
	}
	s3c, ddb := b.clients(aws.NewCredentialsCache(creds))
	st := store.New(s3c, ddb, store.Options{Bucket: cfg.Bucket, Table: cfg.Table, KMSKeyID: cfg.KMSKeyID, ExpectedBucketOwner: b.o.Account, Plural: blue.Plural, Cache: b.cache, OnSharedRead: tools.NoteAWSRequestID})
	b.stores[k] = st
	return st, nil
}

// clients are S3 and DynamoDB clients signing with creds.
func (b *Backend) clients(creds aws.CredentialsProvider) (*s3.Client, *dynamodb.Client) {
	awsCfg := aws.Config{
		Region:      b.o.Region,
		Credentials: creds,
		APIOptions:  []func(*middleware.Stack) error{recordRequestID, tracing.AWSMiddleware},
		HTTPClient:  b.httpClient(),
	}
	s3c := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if b.o.S3Endpoint != "" {
			o.BaseEndpoint = aws.String(b.o.S3Endpoint)
			o.UsePathStyle = true
		}
	})
	ddb := dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) {
		if b.o.DDBEndpoint != "" {
			o.BaseEndpoint = aws.String(b.o.DDBEndpoint)
		}
	})
	return s3c, ddb
}

// httpClient is the client every storage request goes through (one per
// backend, so its connections are shared by every caller's store).
func (b *Backend) httpClient() *http.Client { return b.o.HTTPClient }

// recordRequestID notes each AWS response's request id for the audit line.
func recordRequestID(stack *middleware.Stack) error {
	return stack.Deserialize.Add(middleware.DeserializeMiddlewareFunc("BlueAuditRequestID",
		func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleDeserialize(ctx, in)
			if id, ok := awsmiddleware.GetRequestIDMetadata(md); ok {
				tools.NoteAWSRequestID(ctx, id)
			}
			return out, md, err
		}), middleware.Before)
}
