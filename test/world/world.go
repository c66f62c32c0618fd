// Package world runs every outside system a tenant's MCP server talks to, on
// loopback and speaking the real protocols: STS, Infisical, S3 (gofakes3)
// and DynamoDB (dynalite). It seeds clients the way a client's onboarding
// would (a role trusting the tenant's hop role with an ExternalId, a bucket,
// a table, a KMS key id, an Infisical workspace) and runs a tenant's server
// in-process against them. End-to-end tests, benchmarks and the local stack
// use it.
package world

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/prometheus/client_golang/prometheus"
	authv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/superviber/blue-operator/api/contract"
	"github.com/superviber/blue-operator/mcpserver/access"
	"github.com/superviber/blue-operator/mcpserver/awscreds"
	"github.com/superviber/blue-operator/mcpserver/backend"
	"github.com/superviber/blue-operator/mcpserver/server"
	"github.com/superviber/blue-operator/mcpserver/store"
	"github.com/superviber/blue-operator/mcpserver/tenantconfig"
	"github.com/superviber/blue-operator/mcpserver/tools"
	"github.com/superviber/blue-operator/test/dynamotest"
	"github.com/superviber/blue-operator/test/infisicaltest"
	"github.com/superviber/blue-operator/test/s3test"
	"github.com/superviber/blue-operator/test/ststest"
)

// Region of every seeded client.
const Region = "eu-west-1"

// World is the outside world of every tenant.
type World struct {
	STS       *ststest.Server
	STSURL    string
	Infisical *infisicaltest.Server
	S3        *s3test.Server
	DDB       *dynamotest.Server
}

// Start runs all four systems until the test ends.
func Start(tb testing.TB) *World {
	tb.Helper()
	w, stop, err := New(ststest.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(stop)
	return w
}

// New runs all four systems until stop is called; the local stack uses it.
// stsOpts lets the caller verify web identity tokens (IRSA).
func New(stsOpts ststest.Options) (w *World, stop func(), err error) {
	return NewWith(Options{STS: stsOpts})
}

// Options say how the systems are run.
type Options struct {
	// STS verifies web identity tokens (IRSA) when its VerifyWebIdentity is
	// set.
	STS ststest.Options
	// InfisicalCert, when set, makes Infisical serve HTTPS with it, as a
	// self-hosted Infisical with a certificate of its own CA does.
	InfisicalCert *tls.Certificate
}

// NewWith is New with all of Options.
func NewWith(o Options) (*World, func(), error) {
	// The systems' stops close over w, not over a named result, which an
	// error return sets to nil before the deferred stops run.
	w := &World{STS: ststest.New(o.STS)}
	var err error
	var stops []func()
	stopAll := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	defer func() {
		if err != nil {
			stopAll() // the named stop is nil on error returns
		}
	}()
	ep, err := w.STS.Start()
	if err != nil {
		return nil, nil, fmt.Errorf("sts: %w", err)
	}
	w.STSURL = ep.URL
	stops = append(stops, func() { _ = ep.Close() })
	if o.InfisicalCert != nil {
		w.Infisical = infisicaltest.NewTLS(*o.InfisicalCert)
	} else {
		w.Infisical = infisicaltest.New()
	}
	stops = append(stops, w.Infisical.Close)
	if w.S3, err = s3test.Start(); err != nil {
		return nil, nil, fmt.Errorf("s3: %w", err)
	}
	stops = append(stops, func() { _ = w.S3.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if w.DDB, err = dynamotest.Start(ctx); err != nil {
		return nil, nil, fmt.Errorf("dynamodb: %w", err)
	}
	stops = append(stops, func() { _ = w.DDB.Close() })
	return w, stopAll, nil
}

// Tenant is one seeded client: what lives in the client's accounts, and
// what the operator would hand the tenant's pod.
type Tenant struct {
	Name string
	// Superviber's side: the pod's hop role and its (IRSA-issued) key.
	HopRole string
	HopKey  ststest.AccessKey
	// The client's side.
	Account, ClientRole, ExternalID, Bucket, Table, KMSKeyID string
	Project, Environment, SecretPath                         string
	IdentityID, ClientID, ClientSecret                       string
	// Token is the endpoint's bearer token.
	Token string
}

func random(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// AddTenant seeds a client: its role (trusting only this tenant's hop role,
// with an ExternalId), bucket, table and Infisical workspace (universal auth).
// UseAPI puts t in API mode: API_ENDPOINT in its Infisical folder in place
// of the bucket, table and key names, which API mode does not need. restore
// puts the direct-mode settings back.
func (w *World) UseAPI(t *Tenant, endpoint string) (restore func()) {
	direct := map[string]string{tenantconfig.KeyBucket: t.Bucket, tenantconfig.KeyTable: t.Table, tenantconfig.KeyKMSKeyID: t.KMSKeyID}
	w.Infisical.SetSecret(t.Project, t.Environment, t.SecretPath, tenantconfig.KeyAPIEndpoint, endpoint)
	for k := range direct {
		w.Infisical.DeleteSecret(t.Project, t.Environment, t.SecretPath, k)
	}
	return func() {
		for k, v := range direct {
			w.Infisical.SetSecret(t.Project, t.Environment, t.SecretPath, k, v)
		}
		w.Infisical.DeleteSecret(t.Project, t.Environment, t.SecretPath, tenantconfig.KeyAPIEndpoint)
	}
}

func (w *World) AddTenant(ctx context.Context, name string, account int) (*Tenant, error) {
	return w.AddTenantWith(ctx, TenantOptions{Name: name, Account: account})
}

// TenantOptions name what the operator's BlueTenant names; empty fields get
// generated values.
type TenantOptions struct {
	Name    string
	Account int
	// HopRole defaults to arn:aws:iam::111111111111:role/blue-hop-<name>.
	HopRole                          string
	Project, Environment, SecretPath string
	IdentityID                       string
	// KubernetesSubject, when set, makes the hop role assumable only with a
	// web identity token of that subject (IRSA), and the Infisical identity
	// use Kubernetes auth for that service account, instead of static keys
	// and universal auth.
	KubernetesSubject string
}

// AddTenantWith seeds a client as AddTenant does, with names chosen by o.
func (w *World) AddTenantWith(ctx context.Context, o TenantOptions) (*Tenant, error) {
	name := o.Name
	t := &Tenant{
		Name:         name,
		HopRole:      or(o.HopRole, "arn:aws:iam::111111111111:role/blue-hop-"+name),
		Account:      fmt.Sprintf("%012d", o.Account),
		ExternalID:   "blue-" + name + "-" + random(24), // as the operator issues it
		Bucket:       "blue-" + name + "-docs",
		Table:        "blue-" + name,
		Project:      or(o.Project, "proj-"+name),
		Environment:  or(o.Environment, "prod"),
		SecretPath:   or(o.SecretPath, "/blue"),
		IdentityID:   or(o.IdentityID, "identity-"+name),
		ClientID:     "client-" + name,
		ClientSecret: "secret-" + random(12),
		Token:        "blue_" + random(24),
	}
	t.ClientRole = "arn:aws:iam::" + t.Account + ":role/BlueAccess-" + name
	t.KMSKeyID = "arn:aws:kms:" + Region + ":" + t.Account + ":key/" + random(8)
	hop := ststest.Role{ARN: t.HopRole}
	if o.KubernetesSubject != "" {
		hop.WebIdentitySubjects = []string{o.KubernetesSubject}
	}
	if err := w.STS.PutRole(hop); err != nil {
		return nil, fmt.Errorf("hop role: %w", err)
	}
	if err := w.STS.PutRole(ststest.Role{ARN: t.ClientRole, TrustedPrincipals: []string{t.HopRole}, ExternalID: t.ExternalID, SourceIdentityTrusted: true}); err != nil {
		return nil, fmt.Errorf("client role: %w", err)
	}
	if o.KubernetesSubject == "" {
		t.HopKey = w.STS.NewAccessKey(t.HopRole)
	}
	w.S3.SetBucketOwner(t.Bucket, t.Account)
	if err := w.S3.CreateBucket(t.Bucket); err != nil {
		return nil, fmt.Errorf("bucket: %w", err)
	}
	if err := store.CreateTable(ctx, w.DDB.Client("admin", "admin"), t.Table); err != nil {
		return nil, fmt.Errorf("table: %w", err)
	}
	// As the client's Terraform module makes them: both under the client's key.
	w.S3.SetBucketEncryption(t.Bucket, "aws:kms", t.KMSKeyID)
	w.DDB.SetTableEncryption(t.Table, t.KMSKeyID)
	w.Infisical.CreateProject(t.Project, t.Environment)
	id := infisicaltest.Identity{ID: t.IdentityID, Name: name, ClientID: t.ClientID, ClientSecret: t.ClientSecret}
	if ns, sa, ok := strings.Cut(strings.TrimPrefix(o.KubernetesSubject, "system:serviceaccount:"), ":"); ok {
		id.Kubernetes = &infisicaltest.KubernetesAuth{AllowedNamespaces: []string{ns}, AllowedNames: []string{sa}}
	}
	w.Infisical.AddIdentity(id)
	w.Infisical.AddMembership(t.Project, t.IdentityID)
	// No EXTERNAL_ID: the operator issues it (status.externalID) and the
	// server presents that one whatever the workspace says.
	for k, v := range map[string]string{
		tenantconfig.KeyRoleARN: t.ClientRole,
		tenantconfig.KeyBucket:  t.Bucket, tenantconfig.KeyTable: t.Table, tenantconfig.KeyKMSKeyID: t.KMSKeyID,
	} {
		w.Infisical.SetSecret(t.Project, t.Environment, t.SecretPath, k, v)
	}
	return t, nil
}

func or(v, def string) string {
	if v != "" {
		return v
	}
	return def
}

// TrustExternalID sets the ExternalId the client's role trusts, as the
// client does when it writes the tenant's issued ExternalId (the operator's
// status.externalID) into its trust policy, or gets it wrong.
func (w *World) TrustExternalID(t *Tenant, id string) error {
	return w.STS.SetExternalID(t.ClientRole, id)
}

// ServerOptions tune a tenant server.
type ServerOptions struct {
	MaxSessions int
	Refresh     time.Duration // Infisical refresh interval (default 30s)
	// AccessInterval is how often the client-access check runs (default
	// access.DefaultInterval).
	AccessInterval time.Duration
	Grace          time.Duration
	MaxBodyBytes   int64
	// SessionIdle and SessionEvictAfter as server.Options (defaults there).
	SessionIdle, SessionEvictAfter time.Duration
	Log                            *slog.Logger
	// ExtraTokenHashes are accepted too (e.g. rotation).
	ExtraTokenHashes []string
	// S3Endpoint, when set, is where the server sends S3 requests instead
	// of the world's S3 (a proxy or a server that never answers).
	S3Endpoint string
	// AttemptTimeout and CallTimeout as backend.Options and tools.Service
	// (their defaults when zero).
	AttemptTimeout, CallTimeout time.Duration
}

// Running is a tenant's server.
type Running struct {
	URL      string // .../mcp
	Base     string // scheme://host
	Server   *server.Server
	Source   *tenantconfig.Source
	Assumer  *awscreds.Assumer
	Registry *prometheus.Registry
	HTTP     *httptest.Server
	// Access is the client-access checker; Metrics serves /metrics and
	// /access as the metrics port does.
	Access  *access.Checker
	Metrics *httptest.Server
}

// Serve runs the tenant's server in-process, wired as cmd/blue-mcp wires it,
// until the test ends. It returns once the tenant's config has loaded.
func (w *World) Serve(tb testing.TB, t *Tenant, o ServerOptions) *Running {
	tb.Helper()
	r, stop, err := w.Start(t, o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(stop)
	return r
}

// Start is Serve for callers without a testing.TB; call stop when done.
func (w *World) Start(t *Tenant, o ServerOptions) (*Running, func(), error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	reg := prometheus.NewRegistry()
	src, err := tenantconfig.New(tenantconfig.Settings{
		SiteURL: w.Infisical.URL(), ProjectID: t.Project, Environment: t.Environment, SecretPath: t.SecretPath,
		AuthMethod: tenantconfig.AuthUniversal, ClientID: t.ClientID, ClientSecret: t.ClientSecret,
		Refresh: o.Refresh, Grace: o.Grace, AccountID: t.Account, ExternalID: t.ExternalID,
	}, o.Log, reg)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	assumer, err := awscreds.New(ctx, awscreds.Options{
		Tenant: t.Name, Region: Region, STSEndpoint: w.STSURL,
		Base: credentials.NewStaticCredentialsProvider(t.HopKey.AccessKeyID, t.HopKey.SecretAccessKey, ""),
	}, o.Log, reg)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	s3 := w.S3.Endpoint()
	if o.S3Endpoint != "" {
		s3 = o.S3Endpoint
	}
	be := backend.New(src, assumer, backend.Options{Region: Region, Account: t.Account, S3Endpoint: s3, DDBEndpoint: w.DDB.Endpoint(), Caller: server.Caller, AttemptTimeout: o.AttemptTimeout})
	src.OnChange(be.Changed)
	if err := src.Refresh(ctx); err != nil {
		cancel()
		return nil, nil, fmt.Errorf("first config load: %w", err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = src.Run(ctx) }()

	hs := httptest.NewUnstartedServer(nil)
	base := "http://" + hs.Listener.Addr().String()
	srv, err := server.New(ctx, server.Options{
		Tenant: t.Name, Version: "test", PublicURL: base + "/mcp",
		MaxSessions: o.MaxSessions, MaxBodyBytes: o.MaxBodyBytes,
		SessionIdle: o.SessionIdle, SessionEvictAfter: o.SessionEvictAfter,
		TokenHashes: append([]string{tokenHash(t.Token)}, o.ExtraTokenHashes...),
		Ready:       src.Ready, Log: o.Log, Registry: reg,
	}, &tools.Service{Store: be.Store, CallTimeout: o.CallTimeout})
	if err != nil {
		cancel()
		hs.Close()
		return nil, nil, err
	}
	hs.Config.Handler = srv.Handler()
	hs.Start()
	checker, err := access.NewChecker(be.CheckAccess, o.AccessInterval, o.Log, reg)
	if err != nil {
		cancel()
		hs.Close()
		return nil, nil, err
	}
	src.OnChange(func(_, _ tenantconfig.Config) { checker.Trigger() })
	checked := make(chan struct{})
	go func() { defer close(checked); checker.Run(ctx) }()
	ms := httptest.NewServer(srv.MetricsMux(checker))
	stop := func() {
		hs.Close()
		ms.Close()
		cancel()
		<-done
		<-checked
	}
	return &Running{URL: base + "/mcp", Base: base, Server: srv, Source: src, Assumer: assumer, Registry: reg, HTTP: hs, Access: checker, Metrics: ms}, stop, nil
}

// BearerClient is an HTTP client that sends a bearer token.
func BearerClient(token string) *http.Client {
	return &http.Client{Transport: BearerTransport(token, http.DefaultTransport), Timeout: 30 * time.Second}
}

// BearerTransport adds a bearer token to every request next sends.
func BearerTransport(token string, next http.RoundTripper) http.RoundTripper {
	return bearer{token: token, next: next}
}

type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

// AWSConfig is a config for reading what a tenant wrote, as the client would.
func AWSConfig() aws.Config {
	return aws.Config{Region: Region, Credentials: credentials.NewStaticCredentialsProvider("admin", "admin", "")}
}

func tokenHash(tok string) string {
	return strings.TrimSpace(contract.TokenHash(tok))
}

// TokenReview verifies a service-account token with the API server, for
// an audience ("" means the API server's own), as AWS's OIDC provider for
// EKS and Infisical's Kubernetes auth do; it returns the token's subject.
func TokenReview(cs kubernetes.Interface, audience string) func(ctx context.Context, token string) (string, error) {
	return func(ctx context.Context, token string) (string, error) {
		tr := &authv1.TokenReview{Spec: authv1.TokenReviewSpec{Token: token}}
		if audience != "" {
			tr.Spec.Audiences = []string{audience}
		}
		res, err := cs.AuthenticationV1().TokenReviews().Create(ctx, tr, metav1.CreateOptions{})
		if err != nil {
			return "", fmt.Errorf("token review: %w", err)
		}
		if !res.Status.Authenticated {
			return "", fmt.Errorf("token not authenticated: %s", res.Status.Error)
		}
		return res.Status.User.Username, nil
	}
}
