package infisicaltest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sdk "github.com/infisical/go-sdk"

	"github.com/superviber/blue-operator/test/infisicaltest"
	"github.com/superviber/blue-operator/test/testutil"
)

const (
	project  = "proj-acme"
	env      = "prod"
	folder   = "/blue"
	identity = "id-acme"
	clientID = "client-acme"
	secret   = "s3cr3t-client-secret"
	saJWT    = "eyJhbGciOiJSUzI1NiJ9.sa-token.sig"
	subject  = "system:serviceaccount:blue-acme:blue-mcp"
)

// setup starts a server with one project, one member identity that can use
// both auth methods, and two secrets.
func setup(t *testing.T) (*infisicaltest.Server, *testutil.Clock) {
	t.Helper()
	srv := infisicaltest.New()
	t.Cleanup(srv.Close)
	clock := testutil.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	srv.SetClock(clock.Now)
	srv.AddIdentity(infisicaltest.Identity{
		ID: identity, Name: "blue-acme", ClientID: clientID, ClientSecret: secret,
		Kubernetes:     &infisicaltest.KubernetesAuth{AllowedNamespaces: []string{"blue-*"}, AllowedNames: []string{"blue-mcp"}},
		AccessTokenTTL: time.Minute, AccessTokenMaxTTL: 10 * time.Minute,
	})
	srv.RegisterKubernetesToken(saJWT, subject)
	srv.SetSecret(project, env, folder, "EXTERNAL_ID", "ext-1")
	srv.SetSecret(project, env, folder, "AWS_ROLE_ARN", "arn:aws:iam::222222222222:role/blue")
	srv.AddMembership(project, identity)
	return srv, clock
}

// client is the real SDK with retries off, so network failures surface at
// once instead of after its 1 s + 2 s + 4 s backoff.
func client(t *testing.T, srv *infisicaltest.Server) sdk.InfisicalClientInterface {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return sdk.NewInfisicalClient(ctx, sdk.Config{
		SiteUrl:             srv.URL(),
		AutoTokenRefresh:    sdk.BoolPtr(false),
		SilentMode:          true,
		LogWriter:           io.Discard,
		RetryRequestsConfig: &sdk.RetryRequestsConfig{ExponentialBackoff: &sdk.ExponentialBackoffStrategy{MaxRetries: 0}},
	})
}

func list(c sdk.InfisicalClientInterface) (map[string]string, error) {
	res, err := c.Secrets().ListSecrets(sdk.ListSecretsOptions{ProjectID: project, Environment: env, SecretPath: folder})
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, s := range res.Secrets {
		out[s.SecretKey] = s.SecretValue
	}
	return out, nil
}

func apiError(t *testing.T, err error) *sdk.APIError {
	t.Helper()
	var apiErr *sdk.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("want *APIError, got %T: %v", err, err)
	}
	if apiErr.ReqId == "" {
		t.Errorf("error body has no reqId: %v", apiErr)
	}
	return apiErr
}

func TestLoginAndList(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(saJWT), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		login func(sdk.InfisicalClientInterface) (sdk.MachineIdentityCredential, error)
	}{
		{"universal", func(c sdk.InfisicalClientInterface) (sdk.MachineIdentityCredential, error) {
			return c.Auth().UniversalAuthLogin(clientID, secret)
		}},
		{"kubernetes token file", func(c sdk.InfisicalClientInterface) (sdk.MachineIdentityCredential, error) {
			return c.Auth().KubernetesAuthLogin(identity, tokenFile)
		}},
		{"kubernetes raw token", func(c sdk.InfisicalClientInterface) (sdk.MachineIdentityCredential, error) {
			return c.Auth().KubernetesRawServiceAccountTokenLogin(identity, saJWT)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := setup(t)
			c := client(t, srv)
			cred, err := tc.login(c)
			if err != nil {
				t.Fatalf("login: %v", err)
			}
			if cred.AccessToken == "" || cred.ExpiresIn != 60 || cred.AccessTokenMaxTTL != 600 || cred.TokenType != "Bearer" {
				t.Errorf("credential = %+v, want a token, expiresIn 60, maxTTL 600, Bearer", cred)
			}
			got, err := list(c)
			if err != nil {
				t.Fatalf("list: %v", err)
			}
			if len(got) != 2 || got["EXTERNAL_ID"] != "ext-1" || got["AWS_ROLE_ARN"] != "arn:aws:iam::222222222222:role/blue" {
				t.Errorf("secrets = %v", got)
			}
			if n := srv.Counts(); n.Logins != 1 || n.Lists != 1 || n.FailedLogins != 0 || n.FailedLists != 0 {
				t.Errorf("counts = %+v", n)
			}
		})
	}
}

func TestLoginRejected(t *testing.T) {
	for _, tc := range []struct {
		name    string
		prepare func(*infisicaltest.Server)
		login   func(sdk.InfisicalClientInterface) (sdk.MachineIdentityCredential, error)
		status  int
		message string
	}{
		{"wrong client secret", nil, func(c sdk.InfisicalClientInterface) (sdk.MachineIdentityCredential, error) {
			return c.Auth().UniversalAuthLogin(clientID, "wrong")
		}, 401, "Invalid credentials"},
		{"unknown client id", nil, func(c sdk.InfisicalClientInterface) (sdk.MachineIdentityCredential, error) {
			return c.Auth().UniversalAuthLogin("nobody", secret)
		}, 401, "Invalid credentials"},
		{"rotated client secret", func(s *infisicaltest.Server) { s.SetClientSecret(identity, "new-secret") }, func(c sdk.InfisicalClientInterface) (sdk.MachineIdentityCredential, error) {
			return c.Auth().UniversalAuthLogin(clientID, secret)
		}, 401, "Invalid credentials"},
		{"unregistered service-account token", nil, func(c sdk.InfisicalClientInterface) (sdk.MachineIdentityCredential, error) {
			return c.Auth().KubernetesRawServiceAccountTokenLogin(identity, "forged")
		}, 401, "Kubernetes token not authenticated"},
		{"namespace not allowed", func(s *infisicaltest.Server) {
			s.RegisterKubernetesToken("other", "system:serviceaccount:kube-system:blue-mcp")
		}, func(c sdk.InfisicalClientInterface) (sdk.MachineIdentityCredential, error) {
			return c.Auth().KubernetesRawServiceAccountTokenLogin(identity, "other")
		}, 401, "Access denied: K8s namespace not allowed."},
		{"name not allowed", func(s *infisicaltest.Server) {
			s.RegisterKubernetesToken("other", "system:serviceaccount:blue-acme:default")
		}, func(c sdk.InfisicalClientInterface) (sdk.MachineIdentityCredential, error) {
			return c.Auth().KubernetesRawServiceAccountTokenLogin(identity, "other")
		}, 401, "Access denied: K8s name not allowed."},
		{"identity without kubernetes auth", nil, func(c sdk.InfisicalClientInterface) (sdk.MachineIdentityCredential, error) {
			return c.Auth().KubernetesRawServiceAccountTokenLogin("id-unknown", saJWT)
		}, 404, "Kubernetes auth method not found for identity, did you configure Kubernetes auth?"},
		{"deleted identity", func(s *infisicaltest.Server) { s.DeleteIdentity(identity) }, func(c sdk.InfisicalClientInterface) (sdk.MachineIdentityCredential, error) {
			return c.Auth().UniversalAuthLogin(clientID, secret)
		}, 401, "Invalid credentials"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := setup(t)
			if tc.prepare != nil {
				tc.prepare(srv)
			}
			_, err := tc.login(client(t, srv))
			apiErr := apiError(t, err)
			if apiErr.StatusCode != tc.status || apiErr.ErrorMessage != tc.message {
				t.Errorf("got %d %q, want %d %q", apiErr.StatusCode, apiErr.ErrorMessage, tc.status, tc.message)
			}
			if n := srv.Counts(); n.FailedLogins != 1 || n.Logins != 0 {
				t.Errorf("counts = %+v", n)
			}
		})
	}
}

func TestKubernetesVerifierIsPluggable(t *testing.T) {
	srv, _ := setup(t)
	type ctxKey struct{}
	var gotJWT string
	var sawCtx bool
	srv.SetKubernetesVerifier(func(ctx context.Context, jwt string) (string, error) {
		gotJWT, sawCtx = jwt, ctx != nil && ctx.Err() == nil
		if jwt != "reviewed" {
			return "", errors.New("token review: not authenticated")
		}
		return subject, nil
	})
	c := client(t, srv)
	if _, err := c.Auth().KubernetesRawServiceAccountTokenLogin(identity, saJWT); err == nil {
		t.Fatal("registered token accepted although the custom verifier rejects it")
	}
	if _, err := c.Auth().KubernetesRawServiceAccountTokenLogin(identity, "reviewed"); err != nil {
		t.Fatalf("login with verified token: %v", err)
	}
	if gotJWT != "reviewed" || !sawCtx {
		t.Errorf("verifier saw jwt %q, live context %v", gotJWT, sawCtx)
	}
	srv.SetKubernetesVerifier(nil) // back to registered tokens
	if _, err := c.Auth().KubernetesRawServiceAccountTokenLogin(identity, saJWT); err != nil {
		t.Errorf("default verifier after reset: %v", err)
	}
}

func TestListErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		prepare func(*infisicaltest.Server, *testutil.Clock)
		opts    sdk.ListSecretsOptions
		status  int
		message string
	}{
		{"membership revoked", func(s *infisicaltest.Server, _ *testutil.Clock) { s.RevokeMembership(project, identity) },
			sdk.ListSecretsOptions{ProjectID: project, Environment: env, SecretPath: folder}, 403,
			"You are not a member of this project with ID proj-acme. Please assign this identity to the project with the appropriate permissions, then try again."},
		{"identity deleted", func(s *infisicaltest.Server, _ *testutil.Clock) { s.DeleteIdentity(identity) },
			sdk.ListSecretsOptions{ProjectID: project, Environment: env, SecretPath: folder}, 401,
			"You are not allowed to access this resource"},
		{"token expired by clock", func(_ *infisicaltest.Server, c *testutil.Clock) { c.Advance(61 * time.Second) },
			sdk.ListSecretsOptions{ProjectID: project, Environment: env, SecretPath: folder}, 403,
			"Your token has expired. Please re-authenticate."},
		{"tokens expired by switch", func(s *infisicaltest.Server, _ *testutil.Clock) { s.ExpireAccessTokens() },
			sdk.ListSecretsOptions{ProjectID: project, Environment: env, SecretPath: folder}, 403,
			"Your token has expired. Please re-authenticate."},
		{"unknown project", nil,
			sdk.ListSecretsOptions{ProjectID: "proj-other", Environment: env, SecretPath: folder}, 404,
			"Project with proj-other not found"},
		{"project deleted", func(s *infisicaltest.Server, _ *testutil.Clock) { s.DeleteProject(project) },
			sdk.ListSecretsOptions{ProjectID: project, Environment: env, SecretPath: folder}, 404,
			"Project with proj-acme not found"},
		{"unknown environment", nil,
			sdk.ListSecretsOptions{ProjectID: project, Environment: "dev", SecretPath: folder}, 404,
			"Environment with slug 'dev' in project with ID proj-acme not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, clock := setup(t)
			c := client(t, srv)
			if _, err := c.Auth().UniversalAuthLogin(clientID, secret); err != nil {
				t.Fatal(err)
			}
			if tc.prepare != nil {
				tc.prepare(srv, clock)
			}
			_, err := c.Secrets().ListSecrets(tc.opts)
			apiErr := apiError(t, err)
			if apiErr.StatusCode != tc.status || apiErr.ErrorMessage != tc.message {
				t.Errorf("got %d %q, want %d %q", apiErr.StatusCode, apiErr.ErrorMessage, tc.status, tc.message)
			}
			if n := srv.Counts(); n.FailedLists != 1 || n.Lists != 0 {
				t.Errorf("counts = %+v", n)
			}
		})
	}
}

func TestRestoreMembership(t *testing.T) {
	srv, _ := setup(t)
	c := client(t, srv)
	if _, err := c.Auth().UniversalAuthLogin(clientID, secret); err != nil {
		t.Fatal(err)
	}
	srv.RevokeMembership(project, identity)
	if _, err := list(c); err == nil {
		t.Fatal("list succeeded after revocation")
	}
	srv.RestoreMembership(project, identity)
	if got, err := list(c); err != nil || got["EXTERNAL_ID"] != "ext-1" {
		t.Fatalf("after restore: %v, %v", got, err)
	}
}

func TestListPathsSlugAndETag(t *testing.T) {
	srv, _ := setup(t)
	srv.SetSecret(project, env, "/blue/nested", "NESTED", "n")
	srv.SetSecret(project, env, "/", "ROOT", "r")
	srv.SetProjectSlug(project, "acme")
	srv.CreateProject(project, "staging") // adds an environment; 404 without it
	c := client(t, srv)
	if _, err := c.Auth().UniversalAuthLogin(clientID, secret); err != nil {
		t.Fatal(err)
	}
	keys := func(opts sdk.ListSecretsOptions) string {
		t.Helper()
		res, err := c.Secrets().ListSecrets(opts)
		if err != nil {
			t.Fatalf("list %+v: %v", opts, err)
		}
		var ks []string
		for _, s := range res.Secrets {
			ks = append(ks, s.SecretKey+"@"+s.SecretPath)
		}
		return strings.Join(ks, ",")
	}
	for _, tc := range []struct {
		name string
		opts sdk.ListSecretsOptions
		want string
	}{
		{"folder", sdk.ListSecretsOptions{ProjectID: project, Environment: env, SecretPath: "/blue/"}, "AWS_ROLE_ARN@/blue,EXTERNAL_ID@/blue"},
		{"by slug", sdk.ListSecretsOptions{ProjectSlug: "acme", Environment: env, SecretPath: folder}, "AWS_ROLE_ARN@/blue,EXTERNAL_ID@/blue"},
		{"root default", sdk.ListSecretsOptions{ProjectID: project, Environment: env}, "ROOT@/"},
		{"recursive", sdk.ListSecretsOptions{ProjectID: project, Environment: env, SecretPath: folder, Recursive: true}, "AWS_ROLE_ARN@/blue,EXTERNAL_ID@/blue,NESTED@/blue/nested"},
		{"missing folder is empty", sdk.ListSecretsOptions{ProjectID: project, Environment: env, SecretPath: "/nope"}, ""},
		{"created empty environment", sdk.ListSecretsOptions{ProjectID: project, Environment: "staging", SecretPath: folder}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := keys(tc.opts); got != tc.want {
				t.Errorf("keys = %q, want %q", got, tc.want)
			}
		})
	}

	opts := sdk.ListSecretsOptions{ProjectID: project, Environment: env, SecretPath: folder}
	res, err := c.Secrets().ListSecrets(opts)
	if err != nil || res.ETag == "" {
		t.Fatalf("list: etag %q, %v", res.ETag, err)
	}
	opts.IfNoneMatch = res.ETag
	var notModified *sdk.NotModifiedError
	if _, err := c.Secrets().ListSecrets(opts); !errors.As(err, &notModified) {
		t.Errorf("same etag: want NotModifiedError, got %v", err)
	}
	srv.SetSecret(project, env, folder, "EXTERNAL_ID", "ext-2")
	if res, err := c.Secrets().ListSecrets(opts); err != nil || res.ETag == opts.IfNoneMatch {
		t.Errorf("after change: etag %q (old %q), %v", res.ETag, opts.IfNoneMatch, err)
	}
}

func TestOutages(t *testing.T) {
	for _, tc := range []struct {
		name  string
		set   func(*infisicaltest.Server, bool)
		check func(*testing.T, error)
	}{
		{"connections dropped", (*infisicaltest.Server).SetUnreachable, func(t *testing.T, err error) {
			var reqErr *sdk.RequestError
			if !errors.As(err, &reqErr) {
				t.Errorf("want *RequestError, got %T: %v", err, err)
			}
		}},
		{"503 from a load balancer", func(s *infisicaltest.Server, on bool) {
			if on {
				s.SetFailureStatus(http.StatusServiceUnavailable)
			} else {
				s.SetFailureStatus(0)
			}
		}, func(t *testing.T, err error) {
			var apiErr *sdk.APIError
			if !errors.As(err, &apiErr) || apiErr.StatusCode != 503 || apiErr.ErrorMessage != "" {
				t.Errorf("want APIError 503 without message, got %v", err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := setup(t)
			c := client(t, srv)
			if _, err := c.Auth().UniversalAuthLogin(clientID, secret); err != nil {
				t.Fatal(err)
			}
			tc.set(srv, true)
			_, err := list(c)
			if err == nil {
				t.Fatal("list succeeded during the outage")
			}
			tc.check(t, err)
			if n := srv.Counts(); n.Dropped < 1 || n.Lists != 0 {
				t.Errorf("counts = %+v", n)
			}
			tc.set(srv, false)
			if got, err := list(c); err != nil || got["EXTERNAL_ID"] != "ext-1" {
				t.Errorf("after the outage: %v, %v", got, err)
			}
		})
	}
}

// TestBlackHole checks that SetHang holds requests (the SDK has no timeout of
// its own) and lets them through once released.
func TestBlackHole(t *testing.T) {
	srv, _ := setup(t)
	c := client(t, srv)
	if _, err := c.Auth().UniversalAuthLogin(clientID, secret); err != nil {
		t.Fatal(err)
	}
	srv.SetHang(true)
	done := make(chan error, 1)
	go func() { _, err := list(c); done <- err }()
	waitFor(t, func() bool { return srv.Counts().Dropped == 1 })
	select {
	case err := <-done:
		t.Fatalf("list returned while the path is black-holed: %v", err)
	default:
	}
	if n := srv.Counts(); n.Lists != 0 {
		t.Fatalf("a held request was answered: %+v", n)
	}
	srv.SetHang(false)
	if err := <-done; err != nil {
		t.Fatalf("held list after release: %v", err)
	}
	if n := srv.Counts(); n.Lists != 1 {
		t.Errorf("counts = %+v", n)
	}
}

func TestRenew(t *testing.T) {
	srv, clock := setup(t)
	cred, err := client(t, srv).Auth().UniversalAuthLogin(clientID, secret)
	if err != nil {
		t.Fatal(err)
	}
	renew := func() (int, map[string]any) {
		t.Helper()
		body, _ := json.Marshal(map[string]string{"accessToken": cred.AccessToken})
		resp, err := http.Post(srv.URL()+"/api/v1/auth/token/renew", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, out
	}
	clock.Advance(50 * time.Second)
	if code, out := renew(); code != 200 || out["accessToken"] != cred.AccessToken || out["expiresIn"] != float64(60) {
		t.Fatalf("renew within TTL: %d %v", code, out)
	}
	clock.Advance(50 * time.Second) // 100 s after login, 50 s after renewal: still valid
	if _, err := list(clientWithToken(t, srv, cred.AccessToken)); err != nil {
		t.Fatalf("list with renewed token: %v", err)
	}
	clock.Advance(11 * time.Second)
	if code, out := renew(); code != 401 || out["message"] != "Failed to renew MI access token due to TTL expiration" {
		t.Errorf("renew after TTL: %d %v", code, out)
	}
	if n := srv.Counts(); n.Renewals != 1 {
		t.Errorf("renewals = %d, want 1", n.Renewals)
	}
}

func clientWithToken(t *testing.T, srv *infisicaltest.Server, token string) sdk.InfisicalClientInterface {
	c := client(t, srv)
	c.Auth().SetAccessToken(token)
	return c
}

func TestUnknownRouteAndValidation(t *testing.T) {
	srv, _ := setup(t)
	resp, err := http.Get(srv.URL() + "/api/v9/nothing")
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	_ = resp.Body.Close()
	if resp.StatusCode != 404 || body["statusCode"] != float64(404) || body["message"] != "Route GET:/api/v9/nothing not found" {
		t.Errorf("unknown route: %d %v", resp.StatusCode, body)
	}

	// A login body without a field is a 422 ValidationFailure whose message
	// is the list of issues (the SDK keeps the whole body as the message).
	resp, err = http.Post(srv.URL()+"/api/v1/auth/universal-auth/login", "application/json", strings.NewReader(`{"clientId":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	body = nil
	_ = json.NewDecoder(resp.Body).Decode(&body)
	_ = resp.Body.Close()
	if resp.StatusCode != 422 || body["error"] != "ValidationFailure" || !strings.Contains(mustJSON(body["message"]), `"clientSecret"`) {
		t.Errorf("missing field: %d %v", resp.StatusCode, body)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// waitFor polls cond until it holds, failing the test after 5 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	testutil.EventuallyTrue(t, 5*time.Second, 5*time.Millisecond, cond)
}
