package v1alpha1_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	bluev1 "github.com/superviber/blue-operator/api/v1alpha1"
)

// These tests send BlueTenants to a real kube-apiserver with the generated
// CRD installed: what the OpenAPI schema and CEL rules refuse, and the
// message a user sees.

var k8s client.Client

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		fmt.Fprintln(os.Stderr, "KUBEBUILDER_ASSETS is not set: run the tests with `make test`")
		return 1
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "start envtest:", err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	scheme := runtime.NewScheme()
	_ = bluev1.AddToScheme(scheme)
	if k8s, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		return 1
	}
	return m.Run()
}

func valid(name string) *bluev1.BlueTenant {
	return &bluev1.BlueTenant{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: bluev1.BlueTenantSpec{
			Endpoint: bluev1.EndpointSpec{Host: name + ".mcp.superviber.com"},
			AWS:      bluev1.AWSSpec{Region: "eu-west-1", AccountID: "222222222222", HopRoleArn: "arn:aws:iam::111111111111:role/blue-hop-" + name},
			Infisical: bluev1.InfisicalSpec{
				ProjectID: "p-" + name,
				Auth:      bluev1.InfisicalAuth{Kubernetes: &bluev1.InfisicalKubernetesAuth{IdentityID: "id"}},
			},
		},
	}
}

func TestInvalidTenantsAreRefused(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*bluev1.BlueTenant)
		want   string
	}{
		{"name too long for the namespace", func(b *bluev1.BlueTenant) { b.Name = strings.Repeat("a", 59) }, "at most 58 characters"},
		{"name with a dot", func(b *bluev1.BlueTenant) { b.Name = "acme.corp" }, "must be a DNS label"},
		{"unknown tier", func(b *bluev1.BlueTenant) { b.Spec.Tier = "huge" }, `supported values: "small", "medium", "enterprise"`},
		{"plain http Infisical", func(b *bluev1.BlueTenant) { b.Spec.Infisical.SiteURL = "http://infisical.example.com" }, "infisical.siteURL must use https://"},
		{"plain http Infisical on a look-alike host", func(b *bluev1.BlueTenant) { b.Spec.Infisical.SiteURL = "http://127.0.0.1.evil.example" }, "infisical.siteURL must use https://"},
		{"host with scheme", func(b *bluev1.BlueTenant) { b.Spec.Endpoint.Host = "https://acme.example.com" }, "endpoint.host must be a lower-case DNS name"},
		{"host with path", func(b *bluev1.BlueTenant) { b.Spec.Endpoint.Host = "acme.example.com/mcp" }, "endpoint.host must be a lower-case DNS name"},
		{"single-label host", func(b *bluev1.BlueTenant) { b.Spec.Endpoint.Host = "localhost" }, "endpoint.host must be a lower-case DNS name"},
		{"missing host", func(b *bluev1.BlueTenant) { b.Spec.Endpoint.Host = "" }, "endpoint.host must be a lower-case DNS name"},
		{"bad TLS secret name", func(b *bluev1.BlueTenant) { b.Spec.Endpoint.TLSSecretName = "Acme_TLS" }, "spec.endpoint.tlsSecretName"},
		{"short account id in ARN", func(b *bluev1.BlueTenant) { b.Spec.AWS.HopRoleArn = "arn:aws:iam::1234:role/x" }, "aws.hopRoleArn must be an IAM role ARN"},
		{"user ARN, not a role", func(b *bluev1.BlueTenant) { b.Spec.AWS.HopRoleArn = "arn:aws:iam::111111111111:user/x" }, "aws.hopRoleArn must be an IAM role ARN"},
		{"bad region", func(b *bluev1.BlueTenant) { b.Spec.AWS.Region = "Europe" }, "aws.region must be an AWS region"},
		{"oidc without issuer", func(b *bluev1.BlueTenant) { b.Spec.Auth.Mode = bluev1.AuthModeOIDC }, "auth.oidc (issuerURL) is required when auth.mode is oidc"},
		{"oidc over http", func(b *bluev1.BlueTenant) {
			b.Spec.Auth = bluev1.AuthSpec{Mode: bluev1.AuthModeOIDC, OIDC: &bluev1.OIDCSpec{IssuerURL: "http://idp.example.com"}}
		}, "spec.auth.oidc.issuerURL"},
		{"oidc settings in token mode", func(b *bluev1.BlueTenant) {
			b.Spec.Auth = bluev1.AuthSpec{Mode: bluev1.AuthModeToken, OIDC: &bluev1.OIDCSpec{IssuerURL: "https://idp.example.com"}}
		}, "auth.oidc may only be set when auth.mode is oidc"},
		{"allowed subject with a comma", oidcWith(func(o *bluev1.OIDCSpec) { o.AllowedSubjects = []string{"a,b"} }), "auth.oidc.allowedSubjects entries must not contain commas"},
		{"allowed subject padded with spaces", oidcWith(func(o *bluev1.OIDCSpec) { o.AllowedSubjects = []string{" user-1"} }), "auth.oidc.allowedSubjects entries must not contain commas or leading or trailing spaces"},
		{"empty allowed subject", oidcWith(func(o *bluev1.OIDCSpec) { o.AllowedSubjects = []string{""} }), "spec.auth.oidc.allowedSubjects[0]"},
		{"allowed subject twice", oidcWith(func(o *bluev1.OIDCSpec) { o.AllowedSubjects = []string{"u1", "u1"} }), "Duplicate value"},
		{"allowed group with a comma", oidcWith(func(o *bluev1.OIDCSpec) { o.AllowedGroups = []string{"sales, emea"} }), "auth.oidc.allowedGroups entries must not contain commas"},
		{"allowed email domain with @", oidcWith(func(o *bluev1.OIDCSpec) { o.AllowedEmailDomains = []string{"@acme.com"} }), "auth.oidc.allowedEmailDomains entries must be lower-case domain names"},
		{"allowed email domain as a wildcard", oidcWith(func(o *bluev1.OIDCSpec) { o.AllowedEmailDomains = []string{"*.acme.com"} }), "auth.oidc.allowedEmailDomains entries must be lower-case domain names"},
		{"allowed email domain in capitals", oidcWith(func(o *bluev1.OIDCSpec) { o.AllowedEmailDomains = []string{"ACME.com"} }), "auth.oidc.allowedEmailDomains entries must be lower-case domain names"},
		{"allowed email domain as a URL", oidcWith(func(o *bluev1.OIDCSpec) { o.AllowedEmailDomains = []string{"https://acme.com"} }), "auth.oidc.allowedEmailDomains entries must be lower-case domain names"},
		{"two infisical logins", func(b *bluev1.BlueTenant) {
			b.Spec.Infisical.Auth.UniversalAuth = &bluev1.InfisicalUniversalAuth{CredentialsSecretName: "creds"}
		}, "infisical.auth needs exactly one of kubernetes or universalAuth"},
		{"no infisical login", func(b *bluev1.BlueTenant) { b.Spec.Infisical.Auth = bluev1.InfisicalAuth{} }, "infisical.auth needs exactly one of kubernetes or universalAuth"},
		{"Infisical CA bundle that is not PEM", func(b *bluev1.BlueTenant) { b.Spec.Infisical.CABundle = "MIIBszCCAVmgAwIBAgIU" }, "infisical.caBundle must be PEM certificates only"},
		{"Infisical CA bundle with a public key", func(b *bluev1.BlueTenant) {
			b.Spec.Infisical.CABundle = exampleCA + "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n"
		}, "infisical.caBundle must be PEM certificates only"},
		{"Infisical CA bundle with a note", func(b *bluev1.BlueTenant) { b.Spec.Infisical.CABundle = "Acme root CA:\n" + exampleCA }, "infisical.caBundle must be PEM certificates only"},
		{"Infisical CA bundle with a private key", func(b *bluev1.BlueTenant) {
			b.Spec.Infisical.CABundle = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"
		}, "infisical.caBundle holds a private key"},
		{"API CA bundle that is not PEM", func(b *bluev1.BlueTenant) { b.Spec.AWS.APICABundle = "MIIBszCCAVmgAwIBAgIU" }, "aws.apiCABundle must be PEM certificates only"},
		{"API CA bundle with a note", func(b *bluev1.BlueTenant) { b.Spec.AWS.APICABundle = exampleCA + "our API's CA" }, "aws.apiCABundle must be PEM certificates only"},
		{"API CA bundle with a private key", func(b *bluev1.BlueTenant) {
			b.Spec.AWS.APICABundle = exampleCA + "-----BEGIN EC PRIVATE KEY-----\nMHcC\n-----END EC PRIVATE KEY-----\n"
		}, "aws.apiCABundle holds a private key"},
		{"missing project", func(b *bluev1.BlueTenant) { b.Spec.Infisical.ProjectID = "" }, "spec.infisical.projectId"},
		{"secret path not absolute", func(b *bluev1.BlueTenant) { b.Spec.Infisical.SecretPath = "blue" }, "spec.infisical.secretPath"},
		{"zero replicas (use suspend)", func(b *bluev1.BlueTenant) { r := int32(0); b.Spec.Replicas = &r }, "spec.replicas"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bt := valid("refused")
			tc.mutate(bt)
			err := k8s.Create(context.Background(), bt)
			if err == nil {
				_ = k8s.Delete(context.Background(), bt)
				t.Fatalf("accepted, want refusal mentioning %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("refused with %q, want it to mention %q", err, tc.want)
			}
		})
	}
}

// oidcWith is a valid OIDC auth section, changed by mutate.
func oidcWith(mutate func(*bluev1.OIDCSpec)) func(*bluev1.BlueTenant) {
	return func(b *bluev1.BlueTenant) {
		o := &bluev1.OIDCSpec{IssuerURL: "https://idp.example.com"}
		mutate(o)
		b.Spec.Auth = bluev1.AuthSpec{Mode: bluev1.AuthModeOIDC, OIDC: o}
	}
}

// Allow-lists as an IdP writes them are accepted and kept as given.
func TestOIDCAllowListsAreAccepted(t *testing.T) {
	ctx := context.Background()
	bt := valid("allow-lists")
	oidcWith(func(o *bluev1.OIDCSpec) {
		o.AllowedSubjects = []string{"auth0|5f7c8ec7c33c6c004bbafe82", "00u1abcd"}
		o.AllowedGroups = []string{"Blue Users", "/blue/editors"}
		o.AllowedEmailDomains = []string{"acme.com", "eng.acme.co.uk"}
	})(bt)
	if err := k8s.Create(ctx, bt); err != nil {
		t.Fatalf("refused: %v", err)
	}
	t.Cleanup(func() { _ = k8s.Delete(ctx, bt) })
	got := &bluev1.BlueTenant{}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(bt), got); err != nil {
		t.Fatal(err)
	}
	if o := got.Spec.Auth.OIDC; o == nil || len(o.AllowedSubjects) != 2 || o.AllowedGroups[0] != "Blue Users" || o.AllowedEmailDomains[1] != "eng.acme.co.uk" {
		t.Errorf("allow-lists not kept: %+v", got.Spec.Auth.OIDC)
	}
}

func TestDefaultsAreFilledIn(t *testing.T) {
	bt := valid("defaults")
	ctx := context.Background()
	if err := k8s.Create(ctx, bt); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(ctx, bt) })
	s := bt.Spec
	if s.Tier != bluev1.TierSmall || s.Auth.Mode != bluev1.AuthModeToken || s.Infisical.SiteURL != "https://app.infisical.com" ||
		s.Infisical.Environment != "prod" || s.Infisical.SecretPath != "/" {
		t.Errorf("defaults: %+v", s)
	}
}

func TestDataLocationIsImmutable(t *testing.T) {
	ctx := context.Background()
	bt := valid("pinned")
	if err := k8s.Create(ctx, bt); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(ctx, bt) })
	cases := []struct {
		name   string
		mutate func(*bluev1.BlueTenant)
		want   string
	}{
		{"project", func(b *bluev1.BlueTenant) { b.Spec.Infisical.ProjectID = "other" }, "infisical.projectId is immutable"},
		{"region", func(b *bluev1.BlueTenant) { b.Spec.AWS.Region = "us-east-1" }, "aws.region is immutable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cp := bt.DeepCopy()
			tc.mutate(cp)
			err := k8s.Update(ctx, cp)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("update: %v, want %q", err, tc.want)
			}
		})
	}
	// Mutable fields still change.
	cp := bt.DeepCopy()
	cp.Spec.Tier = bluev1.TierEnterprise
	cp.Spec.Endpoint.Host = "pinned.example.org"
	if err := k8s.Update(ctx, cp); err != nil {
		t.Fatalf("changing tier and host: %v", err)
	}
}

// What the server accepts at start, the API server accepts too.
func TestInfisicalOnLoopbackIsAccepted(t *testing.T) {
	ctx := context.Background()
	for i, site := range []string{"http://127.0.0.1:8200", "http://localhost:8200/", "https://eu.infisical.com"} {
		bt := valid(fmt.Sprintf("loopback-%d", i))
		bt.Spec.Infisical.SiteURL = site
		if err := k8s.Create(ctx, bt); err != nil {
			t.Errorf("%s refused: %v", site, err)
			continue
		}
		_ = k8s.Delete(ctx, bt)
	}
}

// A self-hosted Infisical's CA, as PEM, is accepted.
func TestInfisicalCABundleIsAccepted(t *testing.T) {
	for i, bundle := range []string{exampleCA, exampleCA + exampleCA, strings.ReplaceAll(exampleCA, "\n", "\r\n")} {
		bt := valid(fmt.Sprintf("ca-bundle-%d", i))
		bt.Spec.Infisical.SiteURL = "https://infisical.acme.internal"
		bt.Spec.Infisical.CABundle = bundle
		if err := k8s.Create(context.Background(), bt); err != nil {
			t.Errorf("caBundle %d refused: %v", i, err)
			continue
		}
		_ = k8s.Delete(context.Background(), bt)
	}
}

// The CA of a client's private API, as PEM, is accepted, and may be
// changed or removed (the client rotates its CA).
func TestAPICABundleIsAccepted(t *testing.T) {
	ctx := context.Background()
	bt := valid("api-ca-bundle")
	bt.Spec.AWS.APICABundle = exampleCA
	if err := k8s.Create(ctx, bt); err != nil {
		t.Fatalf("apiCABundle refused: %v", err)
	}
	t.Cleanup(func() { _ = k8s.Delete(ctx, bt) })
	for _, bundle := range []string{exampleCA + exampleCA, ""} {
		bt.Spec.AWS.APICABundle = bundle
		if err := k8s.Update(ctx, bt); err != nil {
			t.Errorf("apiCABundle changed to %d bytes: %v", len(bundle), err)
		}
	}
}

// exampleCA is a self-signed CA certificate (its key thrown away), as a
// self-hosted Infisical's client would give it.
const exampleCA = `-----BEGIN CERTIFICATE-----
MIIBcTCCARegAwIBAgIBATAKBggqhkjOPQQDAjAfMR0wGwYDVQQDExRFeGFtcGxl
IEluZmlzaWNhbCBDQTAgFw0yNjAxMDEwMDAwMDBaGA8yMTI2MDEwMTAwMDAwMFow
HzEdMBsGA1UEAxMURXhhbXBsZSBJbmZpc2ljYWwgQ0EwWTATBgcqhkjOPQIBBggq
hkjOPQMBBwNCAASpmzPGFkSeeYDxqaH2mxc0dYk0Zbq3dRSN+HONxlIuvktRBiFI
xv2FVzDRH0r91hcJKPzpdvAYKb4uAmfby7woo0IwQDAOBgNVHQ8BAf8EBAMCAgQw
DwYDVR0TAQH/BAUwAwEB/zAdBgNVHQ4EFgQUHrpF0er7SglqeA+HM/szseWdfeww
CgYIKoZIzj0EAwIDSAAwRQIhAI65yMOrHQUTr508crVL/ZqtOJG9GlbsbgiWX0bP
pCB8AiBG59OzOx42A/NnDm3/K9RtUSyUo2o5qFnJy6dpJpVk4A==
-----END CERTIFICATE-----
`
