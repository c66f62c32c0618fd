package tenantconfig_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/superviber/blue-operator/mcpserver/tenantconfig"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/superviber/blue-operator/test/infisicaltest"
	"github.com/superviber/blue-operator/test/testutil"
)

// The tenant's workspace as these tests set it up. Every value is distinct
// so a leak into logs, errors or metrics can be found by substring.
const (
	projectID    = "proj-acme-7c1"
	environment  = "prod"
	secretPath   = "/blue"
	identityID   = "ident-acme-k8s"
	clientID     = "ua-client-acme"
	clientSecret = "ua-secret-9d8e7f6a"
	saSubject    = "system:serviceaccount:blue-acme:blue-mcp"
	saToken      = "eyJhbGciOiJSUzI1NiJ9.sa-token-a1b2c3d4.sig"

	roleARN     = "arn:aws:iam::222222222222:role/blue-acme-data"
	externalID  = "ext-id-5f2b8e9c"
	bucket      = "acme-blue-docs-eu1"
	table       = "acme-blue-index-eu1"
	kmsKeyID    = "kms-key-0c4d9a71"
	apiEndpoint = "https://blue-api.acme.example"
)

var fullConfig = tenantconfig.Config{RoleARN: roleARN, ExternalID: externalID, Bucket: bucket, Table: table, KMSKeyID: kmsKeyID, APIEndpoint: apiEndpoint}

// env is a test Infisical with the tenant's workspace, a shared fake clock,
// captured JSON logs and a metrics registry.
type env struct {
	t         *testing.T
	srv       *infisicaltest.Server
	clock     *testutil.Clock
	logs      *testutil.Buffer
	reg       *prometheus.Registry
	tokenFile string
	secrets   []string // every secret value used; none may leak
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{
		t:       t,
		srv:     infisicaltest.New(),
		clock:   testutil.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)),
		logs:    &testutil.Buffer{},
		reg:     prometheus.NewRegistry(),
		secrets: []string{clientSecret, saToken, roleARN, externalID, bucket, table, kmsKeyID, apiEndpoint},
	}
	t.Cleanup(e.srv.Close)
	e.srv.SetClock(e.clock.Now)
	e.srv.AddIdentity(infisicaltest.Identity{
		ID: identityID, Name: "blue-acme", ClientID: clientID, ClientSecret: clientSecret,
		Kubernetes:     &infisicaltest.KubernetesAuth{AllowedNamespaces: []string{"blue-acme"}, AllowedNames: []string{"blue-mcp"}},
		AccessTokenTTL: time.Minute, AccessTokenMaxTTL: time.Hour,
	})
	e.srv.RegisterKubernetesToken(saToken, saSubject)
	for k, v := range map[string]string{
		tenantconfig.KeyRoleARN: roleARN, tenantconfig.KeyExternalID: externalID, tenantconfig.KeyBucket: bucket,
		tenantconfig.KeyTable: table, tenantconfig.KeyKMSKeyID: kmsKeyID, tenantconfig.KeyAPIEndpoint: apiEndpoint,
		"UNRELATED_SECRET": "unrelated-value-3e8f",
	} {
		e.srv.SetSecret(projectID, environment, secretPath, k, v)
	}
	e.secrets = append(e.secrets, "unrelated-value-3e8f")
	e.srv.AddMembership(projectID, identityID)
	e.tokenFile = filepath.Join(t.TempDir(), "token")
	e.writeToken(saToken + "\n") // kubelet-written files may end in a newline
	t.Cleanup(e.assertNoLeaks)
	return e
}

func (e *env) writeToken(tok string) {
	e.t.Helper()
	if err := os.WriteFile(e.tokenFile, []byte(tok), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) settings(method string) tenantconfig.Settings {
	s := tenantconfig.Settings{
		SiteURL: e.srv.URL(), ProjectID: projectID, Environment: environment, SecretPath: secretPath,
		AuthMethod: method, Refresh: time.Hour, Grace: 5 * time.Minute,
	}
	if method == tenantconfig.AuthKubernetes {
		s.IdentityID, s.TokenFile = identityID, e.tokenFile
	} else {
		s.ClientID, s.ClientSecret = clientID, clientSecret
	}
	return s
}

func (e *env) source(s tenantconfig.Settings) *tenantconfig.Source {
	e.t.Helper()
	log := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	src, err := tenantconfig.New(s, log, e.reg, tenantconfig.WithClock(e.clock.Now))
	if err != nil {
		e.t.Fatalf("tenantconfig.New: %v", err)
	}
	return src
}

// loaded returns a source that has loaded the full config.
func (e *env) loaded(method string) (*tenantconfig.Source, *changes) {
	e.t.Helper()
	src := e.source(e.settings(method))
	ch := watch(src)
	if err := src.Refresh(context.Background()); err != nil {
		e.t.Fatalf("first refresh: %v", err)
	}
	if got := mustCurrent(e.t, src); got != fullConfig {
		e.t.Fatalf("loaded %v, want the full config", got)
	}
	ch.take(e.t, 1)
	return src, ch
}

// setSecret changes a value in Infisical and remembers it as a secret.
func (e *env) setSecret(key, value string) {
	e.srv.SetSecret(projectID, environment, secretPath, key, value)
	e.secrets = append(e.secrets, value)
}

// noLeak fails if text holds any secret value.
func (e *env) noLeak(what, text string) {
	e.t.Helper()
	for _, s := range e.secrets {
		if s != "" && strings.Contains(text, s) {
			e.t.Errorf("%s contains the secret %q:\n%s", what, s, text)
		}
	}
}

func (e *env) assertNoLeaks() {
	e.noLeak("logs", e.logs.String())
	mfs, err := e.reg.Gather()
	if err != nil {
		e.t.Errorf("gather metrics: %v", err)
	}
	e.noLeak("metrics", fmt.Sprint(mfs))
}

// events returns the "event" of every log line, in order.
func (e *env) events() []string {
	var out []string
	for _, line := range e.logLines() {
		if ev, ok := line["event"].(string); ok {
			out = append(out, ev)
		}
	}
	return out
}

func (e *env) logLines() []map[string]any {
	e.t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(e.logs.String()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			e.t.Fatalf("log line is not JSON: %q", sc.Text())
		}
		out = append(out, m)
	}
	return out
}

func (e *env) lastEvent(name string) map[string]any {
	e.t.Helper()
	lines := e.logLines()
	for i := len(lines) - 1; i >= 0; i-- {
		if lines[i]["event"] == name {
			return lines[i]
		}
	}
	e.t.Fatalf("no %q event in logs; events: %v", name, e.events())
	return nil
}

// metric reads a counter or gauge from the registry.
func (e *env) metric(name string, labels ...string) float64 {
	e.t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if matches(m, labels) {
				switch {
				case m.Counter != nil:
					return m.Counter.GetValue()
				case m.Gauge != nil:
					return m.Gauge.GetValue()
				}
			}
		}
	}
	e.t.Fatalf("metric %s%v not found", name, labels)
	return 0
}

func matches(m *dto.Metric, labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		found := false
		for _, lp := range m.GetLabel() {
			if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// configStates are the values of blue_infisical_config_state's state label.
var configStates = []string{"loading", "ok", "stale", "unavailable", "revoked", "incomplete"}

func (e *env) wantState(want string) {
	e.t.Helper()
	for _, name := range configStates {
		v := e.metric("blue_infisical_config_state", "state", name)
		if (name == want) != (v == 1) {
			e.t.Errorf("blue_infisical_config_state{state=%q} = %v (want state %s)", name, v, want)
		}
	}
}

// changes records OnChange calls.
type changes struct {
	mu    sync.Mutex
	calls [][2]tenantconfig.Config
}

func watch(src *tenantconfig.Source) *changes {
	c := &changes{}
	src.OnChange(func(old, new tenantconfig.Config) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.calls = append(c.calls, [2]tenantconfig.Config{old, new})
	})
	return c
}

// take returns the calls so far, which must be n, and forgets them.
func (c *changes) take(t *testing.T, n int) [][2]tenantconfig.Config {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	got := c.calls
	c.calls = nil
	if len(got) != n {
		t.Fatalf("OnChange called %d times, want %d", len(got), n)
	}
	return got
}

func mustCurrent(t *testing.T, src *tenantconfig.Source) tenantconfig.Config {
	t.Helper()
	cfg, err := src.Current()
	if err != nil {
		t.Fatalf("Current: %v", err)
	}
	return cfg
}

func TestLoad(t *testing.T) {
	for _, method := range []string{tenantconfig.AuthKubernetes, tenantconfig.AuthUniversal} {
		t.Run(method, func(t *testing.T) {
			e := newEnv(t)
			src := e.source(e.settings(method))
			if err := src.Ready(); !errors.Is(err, tenantconfig.ErrUnavailable) || !strings.Contains(err.Error(), "not loaded yet") {
				t.Errorf("Ready before loading = %v, want ErrUnavailable: not loaded yet", err)
			}
			ch := watch(src)
			if err := src.Refresh(context.Background()); err != nil {
				t.Fatalf("Refresh: %v", err)
			}
			if got := mustCurrent(t, src); got != fullConfig {
				t.Errorf("Current = %+v", got) // redacted by String; compare fields below
				t.Errorf("role %v external %v bucket %v table %v kms %v api %v",
					got.RoleARN == roleARN, got.ExternalID == externalID, got.Bucket == bucket,
					got.Table == table, got.KMSKeyID == kmsKeyID, got.APIEndpoint == apiEndpoint)
			}
			if err := src.Ready(); err != nil {
				t.Errorf("Ready = %v", err)
			}
			if calls := ch.take(t, 1); calls[0][0] != (tenantconfig.Config{}) || calls[0][1] != fullConfig {
				t.Errorf("first OnChange is not zero -> full config")
			}
			if n := e.srv.Counts(); n.Logins != 1 || n.Lists != 1 {
				t.Errorf("server counts = %+v", n)
			}
			// A second refresh with nothing changed reuses the token and
			// tells nobody.
			if err := src.Refresh(context.Background()); err != nil {
				t.Fatal(err)
			}
			ch.take(t, 0)
			if n := e.srv.Counts(); n.Logins != 1 || n.Lists != 2 {
				t.Errorf("server counts after second refresh = %+v", n)
			}
			if v := e.metric("blue_infisical_refresh_total", "outcome", "ok"); v != 2 {
				t.Errorf("refresh_total{ok} = %v", v)
			}
			if v := e.metric("blue_infisical_login_total", "outcome", "ok"); v != 1 {
				t.Errorf("login_total{ok} = %v", v)
			}
			e.wantState("ok")
			if ev := e.lastEvent("config_loaded"); ev["tenant_project"] != projectID || ev["environment"] != environment || ev["secret_path"] != secretPath {
				t.Errorf("config_loaded line lacks tenant attributes: %v", ev)
			}
		})
	}
}

// A self-hosted Infisical whose certificate its own CA signs: trusted with
// the CA given (spec.infisical.caBundle), refused without it, and the
// refusal says why without printing the certificate.
func TestSelfHostedInfisicalWithItsOwnCA(t *testing.T) {
	caPEM, cert, err := testutil.SelfSignedTLS("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	tlsSrv := infisicaltest.NewTLS(cert)
	t.Cleanup(tlsSrv.Close)
	tlsSrv.AddIdentity(infisicaltest.Identity{ID: identityID, Name: "blue-acme", ClientID: clientID, ClientSecret: clientSecret,
		AccessTokenTTL: time.Minute, AccessTokenMaxTTL: time.Hour})
	tlsSrv.SetSecret(projectID, environment, secretPath, tenantconfig.KeyRoleARN, roleARN)
	tlsSrv.SetSecret(projectID, environment, secretPath, tenantconfig.KeyBucket, bucket)
	tlsSrv.SetSecret(projectID, environment, secretPath, tenantconfig.KeyTable, table)
	tlsSrv.SetSecret(projectID, environment, secretPath, tenantconfig.KeyKMSKeyID, kmsKeyID)
	tlsSrv.SetSecret(projectID, environment, secretPath, tenantconfig.KeyExternalID, externalID)
	tlsSrv.AddMembership(projectID, identityID)

	s := e.settings(tenantconfig.AuthUniversal)
	s.SiteURL = tlsSrv.URL()
	without, err := tenantconfig.New(s, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = without.Refresh(context.Background())
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("Refresh without the CA = %v, want a certificate error", err)
	}
	if err != nil && strings.Contains(err.Error(), "BEGIN CERTIFICATE") {
		t.Errorf("the error prints the certificate: %v", err)
	}
	if n := tlsSrv.Counts(); n.Logins != 0 {
		t.Errorf("the untrusted server saw %d logins", n.Logins)
	}

	s.CACertificate = caPEM
	with, err := tenantconfig.New(s, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := with.Refresh(context.Background()); err != nil {
		t.Fatalf("Refresh with the CA: %v", err)
	}
	if got := mustCurrent(t, with); got.Bucket != bucket || got.Table != table {
		t.Errorf("config through TLS: bucket %v table %v", got.Bucket == bucket, got.Table == table)
	}
}

func TestIncomplete(t *testing.T) {
	for _, tc := range []struct {
		name    string
		change  func(*env)
		missing []string // nil: the config is complete
	}{
		{"external id deleted", func(e *env) { e.srv.DeleteSecret(projectID, environment, secretPath, tenantconfig.KeyExternalID) }, []string{tenantconfig.KeyExternalID}},
		{"bucket and table deleted", func(e *env) {
			e.srv.DeleteSecret(projectID, environment, secretPath, tenantconfig.KeyAPIEndpoint) // direct mode
			e.srv.DeleteSecret(projectID, environment, secretPath, tenantconfig.KeyBucket)
			e.srv.DeleteSecret(projectID, environment, secretPath, tenantconfig.KeyTable)
		}, []string{tenantconfig.KeyBucket, tenantconfig.KeyTable}},
		{"kms key blank", func(e *env) {
			e.srv.DeleteSecret(projectID, environment, secretPath, tenantconfig.KeyAPIEndpoint)
			e.setSecret(tenantconfig.KeyKMSKeyID, "  \n")
		}, []string{tenantconfig.KeyKMSKeyID}},
		// With API_ENDPOINT the client's API reaches the storage: the
		// server needs no bucket, table or key names.
		{"api mode without storage names", func(e *env) {
			for _, k := range []string{tenantconfig.KeyBucket, tenantconfig.KeyTable, tenantconfig.KeyKMSKeyID} {
				e.srv.DeleteSecret(projectID, environment, secretPath, k)
			}
		}, nil},
		{"api mode without the role", func(e *env) {
			e.srv.DeleteSecret(projectID, environment, secretPath, tenantconfig.KeyBucket)
			e.srv.DeleteSecret(projectID, environment, secretPath, tenantconfig.KeyRoleARN)
		}, []string{tenantconfig.KeyRoleARN}},
		{"everything under another path", func(e *env) {
			e.srv.DeleteSecret(projectID, environment, secretPath, tenantconfig.KeyAPIEndpoint)
			for _, k := range tenantconfig.RequiredKeys {
				e.srv.DeleteSecret(projectID, environment, secretPath, k)
			}
		}, tenantconfig.RequiredKeys},
		{"optional api endpoint deleted", func(e *env) { e.srv.DeleteSecret(projectID, environment, secretPath, tenantconfig.KeyAPIEndpoint) }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			src, ch := e.loaded(tenantconfig.AuthUniversal)
			tc.change(e)
			err := src.Refresh(context.Background())
			if tc.missing == nil {
				if err != nil {
					t.Fatalf("Refresh: %v", err)
				}
				want := fullConfig
				if tc.name == "optional api endpoint deleted" {
					want.APIEndpoint = ""
				} else {
					want.Bucket, want.Table, want.KMSKeyID = "", "", ""
				}
				if got := mustCurrent(t, src); got != want {
					t.Errorf("%s: config not served as is", tc.name)
				}
				return
			}
			if !errors.Is(err, tenantconfig.ErrIncomplete) {
				t.Fatalf("Refresh = %v, want tenantconfig.ErrIncomplete", err)
			}
			_, cerr := src.Current()
			for _, got := range []error{err, cerr, src.Ready()} {
				if !errors.Is(got, tenantconfig.ErrIncomplete) {
					t.Fatalf("error %v, want tenantconfig.ErrIncomplete", got)
				}
				msg := got.Error()
				for _, k := range tenantconfig.RequiredKeys {
					if want := slices.Contains(tc.missing, k); strings.Contains(msg, k) != want {
						t.Errorf("message %q: mentions %s = %v, want %v", msg, k, !want, want)
					}
				}
				e.noLeak("error", msg)
			}
			if calls := ch.take(t, 1); calls[0][0] != fullConfig || !calls[0][1].IsZero() {
				t.Errorf("OnChange not full -> zero")
			}
			if keys := e.lastEvent("config_incomplete")["missing_keys"]; fmt.Sprint(keys) != fmt.Sprint(tc.missing) {
				t.Errorf("missing_keys logged %v, want %v", keys, tc.missing)
			}
			if v := e.metric("blue_infisical_refresh_total", "outcome", "incomplete"); v != 1 {
				t.Errorf("refresh_total{incomplete} = %v", v)
			}
			e.wantState("incomplete")
		})
	}
}

func TestRevocation(t *testing.T) {
	for _, tc := range []struct {
		name    string
		method  string
		revoke  func(*env)
		restore func(*env)
		message string // part of the reason Infisical gave
	}{
		{"membership revoked", tenantconfig.AuthUniversal,
			func(e *env) { e.srv.RevokeMembership(projectID, identityID) },
			func(e *env) { e.srv.RestoreMembership(projectID, identityID) },
			"403: You are not a member of this project"},
		{"membership revoked, kubernetes auth", tenantconfig.AuthKubernetes,
			func(e *env) { e.srv.RevokeMembership(projectID, identityID) },
			func(e *env) { e.srv.RestoreMembership(projectID, identityID) },
			"403: You are not a member of this project"},
		{"identity deleted", tenantconfig.AuthUniversal,
			func(e *env) { e.srv.DeleteIdentity(identityID) },
			func(e *env) {
				e.srv.AddIdentity(infisicaltest.Identity{ID: identityID, ClientID: clientID, ClientSecret: clientSecret})
				e.srv.AddMembership(projectID, identityID)
			},
			"universal-auth login: Infisical answered 401: Invalid credentials"},
		{"client secret rotated away", tenantconfig.AuthUniversal,
			func(e *env) { e.srv.SetClientSecret(identityID, "rotated-secret-77aa"); e.srv.ExpireAccessTokens() },
			func(e *env) { e.srv.SetClientSecret(identityID, clientSecret) },
			"401: Invalid credentials"},
		{"service account no longer trusted", tenantconfig.AuthKubernetes,
			func(e *env) {
				e.srv.AddIdentity(infisicaltest.Identity{ID: identityID, ClientID: clientID, ClientSecret: clientSecret,
					Kubernetes: &infisicaltest.KubernetesAuth{AllowedNamespaces: []string{"blue-other"}}})
				e.srv.ExpireAccessTokens()
			},
			func(e *env) {
				e.srv.AddIdentity(infisicaltest.Identity{ID: identityID, ClientID: clientID, ClientSecret: clientSecret,
					Kubernetes: &infisicaltest.KubernetesAuth{AllowedNamespaces: []string{"blue-acme"}}})
			},
			"kubernetes login: Infisical answered 401: Access denied: K8s namespace not allowed."},
		{"project deleted", tenantconfig.AuthUniversal,
			func(e *env) { e.srv.DeleteProject(projectID) },
			func(e *env) {
				for k, v := range map[string]string{tenantconfig.KeyRoleARN: roleARN, tenantconfig.KeyExternalID: externalID, tenantconfig.KeyBucket: bucket, tenantconfig.KeyTable: table, tenantconfig.KeyKMSKeyID: kmsKeyID, tenantconfig.KeyAPIEndpoint: apiEndpoint} {
					e.srv.SetSecret(projectID, environment, secretPath, k, v)
				}
				e.srv.AddMembership(projectID, identityID)
			},
			"404: Project with proj-acme-7c1 not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			src, ch := e.loaded(tc.method)

			tc.revoke(e)
			err := src.Refresh(context.Background())
			if !errors.Is(err, tenantconfig.ErrRevoked) {
				t.Fatalf("Refresh = %v, want tenantconfig.ErrRevoked", err)
			}
			// Failed closed within this one refresh.
			cfg, cerr := src.Current()
			if !errors.Is(cerr, tenantconfig.ErrRevoked) || !cfg.IsZero() {
				t.Fatalf("Current = %v, %v; want zero, tenantconfig.ErrRevoked", cfg, cerr)
			}
			if !strings.HasPrefix(cerr.Error(), "access revoked by the client: ") || !strings.Contains(cerr.Error(), tc.message) {
				t.Errorf("error %q does not give the reason %q", cerr, tc.message)
			}
			e.noLeak("error", cerr.Error())
			if err := src.Ready(); !errors.Is(err, tenantconfig.ErrRevoked) {
				t.Errorf("Ready = %v, want tenantconfig.ErrRevoked", err)
			}
			if calls := ch.take(t, 1); calls[0][0] != fullConfig || !calls[0][1].IsZero() {
				t.Errorf("OnChange not full -> zero")
			}
			if ev := e.lastEvent("access_revoked"); !strings.Contains(fmt.Sprint(ev["error"]), tc.message) || ev["level"] != "ERROR" {
				t.Errorf("access_revoked line = %v", ev)
			}
			e.wantState("revoked")

			// Still revoked on the next refresh: no second notification.
			if err := src.Refresh(context.Background()); !errors.Is(err, tenantconfig.ErrRevoked) {
				t.Fatalf("second Refresh = %v, want tenantconfig.ErrRevoked", err)
			}
			ch.take(t, 0)
			if v := e.metric("blue_infisical_refresh_total", "outcome", "revoked"); v != 2 {
				t.Errorf("refresh_total{revoked} = %v", v)
			}

			tc.restore(e)
			if err := src.Refresh(context.Background()); err != nil {
				t.Fatalf("Refresh after restore: %v", err)
			}
			if got := mustCurrent(t, src); got != fullConfig {
				t.Errorf("restored config differs")
			}
			if calls := ch.take(t, 1); !calls[0][0].IsZero() || calls[0][1] != fullConfig {
				t.Errorf("OnChange not zero -> full")
			}
			e.lastEvent("config_restored")
			e.wantState("ok")
		})
	}
}

func TestRotation(t *testing.T) {
	e := newEnv(t)
	src, ch := e.loaded(tenantconfig.AuthKubernetes)
	const rotated = "ext-id-rotated-1d6e"
	e.setSecret(tenantconfig.KeyExternalID, rotated)
	if err := src.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	calls := ch.take(t, 1)
	want := fullConfig
	want.ExternalID = rotated
	if calls[0][0] != fullConfig || calls[0][1] != want {
		t.Errorf("OnChange old external id %v, new external id rotated %v",
			calls[0][0].ExternalID == externalID, calls[0][1].ExternalID == rotated)
	}
	if got := mustCurrent(t, src); got.ExternalID != rotated {
		t.Error("Current does not have the rotated EXTERNAL_ID")
	}
	ev := e.lastEvent("config_rotated")
	if fmt.Sprint(ev["changed_keys"]) != "[EXTERNAL_ID]" {
		t.Errorf("changed_keys = %v, want [EXTERNAL_ID]", ev["changed_keys"])
	}
}

func TestUnreachable(t *testing.T) {
	for _, tc := range []struct {
		name    string
		outage  func(*infisicaltest.Server, bool)
		message string
	}{
		{"connections dropped", (*infisicaltest.Server).SetUnreachable, "unable to complete api request"},
		{"503 from the load balancer", func(s *infisicaltest.Server, on bool) {
			if on {
				s.SetFailureStatus(503)
			} else {
				s.SetFailureStatus(0)
			}
		}, "Infisical answered 503"},
		{"black hole", (*infisicaltest.Server).SetHang, "no answer from Infisical within"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			s := e.settings(tenantconfig.AuthUniversal)
			s.Grace = time.Minute
			s.CallTimeout = 200 * time.Millisecond
			src := e.source(s)
			ch := watch(src)
			ctx := context.Background()
			if err := src.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			ch.take(t, 1)

			tc.outage(e.srv, true)
			e.clock.Advance(10 * time.Second)
			err := src.Refresh(ctx)
			if !errors.Is(err, tenantconfig.ErrUnavailable) || !strings.Contains(err.Error(), tc.message) {
				t.Fatalf("Refresh = %v, want tenantconfig.ErrUnavailable with %q", err, tc.message)
			}
			// Within grace: the cached config is still served.
			if got := mustCurrent(t, src); got != fullConfig {
				t.Error("cached config not served within grace")
			}
			if err := src.Ready(); err != nil {
				t.Errorf("Ready within grace = %v", err)
			}
			ch.take(t, 0)
			e.wantState("stale")
			if ev := e.lastEvent("infisical_unreachable"); ev["level"] != "WARN" || ev["grace_left_seconds"] != float64(50) {
				t.Errorf("infisical_unreachable line = %v", ev)
			}

			// Past grace Current fails closed at once, before any refresh...
			e.clock.Advance(51 * time.Second)
			if _, err := src.Current(); !errors.Is(err, tenantconfig.ErrUnavailable) || !strings.Contains(err.Error(), "grace period of 1m0s") {
				t.Fatalf("Current past grace = %v, want tenantconfig.ErrUnavailable naming the grace period", err)
			}
			if err := src.Ready(); !errors.Is(err, tenantconfig.ErrUnavailable) {
				t.Errorf("Ready past grace = %v", err)
			}
			// ...and the next refresh drops the config for the listeners.
			if err := src.Refresh(ctx); !errors.Is(err, tenantconfig.ErrUnavailable) {
				t.Fatalf("Refresh past grace = %v", err)
			}
			if calls := ch.take(t, 1); calls[0][0] != fullConfig || !calls[0][1].IsZero() {
				t.Error("OnChange not full -> zero after grace")
			}
			e.wantState("unavailable")
			if ev := e.lastEvent("grace_exceeded"); ev["level"] != "ERROR" || ev["grace_seconds"] != float64(60) {
				t.Errorf("grace_exceeded line = %v", ev)
			}
			if v := e.metric("blue_infisical_refresh_total", "outcome", "unreachable"); v != 2 {
				t.Errorf("refresh_total{unreachable} = %v", v)
			}
			if v := e.metric("blue_infisical_last_success_age_seconds"); v != 61 {
				t.Errorf("last_success_age_seconds = %v, want 61", v)
			}

			tc.outage(e.srv, false)
			// A black-holed request may still be finishing; poll.
			waitFor(t, func() bool { return src.Refresh(ctx) == nil })
			if got := mustCurrent(t, src); got != fullConfig {
				t.Error("config not restored")
			}
			if calls := ch.take(t, 1); !calls[0][0].IsZero() || calls[0][1] != fullConfig {
				t.Error("OnChange not zero -> full after restore")
			}
			e.wantState("ok")
			if v := e.metric("blue_infisical_last_success_age_seconds"); v != 0 {
				t.Errorf("last_success_age_seconds = %v, want 0", v)
			}
		})
	}
}

func TestRecoversWithinGrace(t *testing.T) {
	e := newEnv(t)
	src, ch := e.loaded(tenantconfig.AuthUniversal)
	e.srv.SetUnreachable(true)
	if err := src.Refresh(context.Background()); !errors.Is(err, tenantconfig.ErrUnavailable) {
		t.Fatalf("Refresh = %v", err)
	}
	e.srv.SetUnreachable(false)
	if err := src.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	ch.take(t, 0) // the served config never changed
	e.lastEvent("infisical_recovered")
	e.wantState("ok")
}

func TestUnreachableBeforeFirstLoad(t *testing.T) {
	e := newEnv(t)
	e.srv.SetUnreachable(true)
	src := e.source(e.settings(tenantconfig.AuthUniversal))
	ch := watch(src)
	err := src.Refresh(context.Background())
	if !errors.Is(err, tenantconfig.ErrUnavailable) {
		t.Fatalf("Refresh = %v", err)
	}
	if _, err := src.Current(); !errors.Is(err, tenantconfig.ErrUnavailable) || !strings.Contains(err.Error(), "not loaded yet") {
		t.Errorf("Current = %v, want ErrUnavailable: not loaded yet", err)
	}
	e.wantState("unavailable")
	e.srv.SetUnreachable(false)
	if err := src.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	ch.take(t, 1)
	e.lastEvent("config_loaded")
}

func TestWrongCredentials(t *testing.T) {
	for _, tc := range []struct {
		name    string
		change  func(*env, *tenantconfig.Settings)
		want    error
		message string
	}{
		{"wrong client secret", func(e *env, s *tenantconfig.Settings) {
			s.ClientSecret = "wrong-secret-4b4b"
			e.secrets = append(e.secrets, s.ClientSecret)
		},
			tenantconfig.ErrRevoked, "universal-auth login: Infisical answered 401: Invalid credentials"},
		{"unknown client id", func(_ *env, s *tenantconfig.Settings) { s.ClientID = "ua-client-unknown" },
			tenantconfig.ErrRevoked, "universal-auth login: Infisical answered 401: Invalid credentials"},
		{"service-account token not accepted", func(e *env, s *tenantconfig.Settings) {
			s.AuthMethod, s.IdentityID, s.TokenFile = tenantconfig.AuthKubernetes, identityID, e.tokenFile
			e.writeToken("eyJ.forged-token-99.sig")
			e.secrets = append(e.secrets, "eyJ.forged-token-99.sig")
		}, tenantconfig.ErrRevoked, "kubernetes login: Infisical answered 401: Kubernetes token not authenticated"},
		{"identity without kubernetes auth", func(e *env, s *tenantconfig.Settings) {
			s.AuthMethod, s.IdentityID, s.TokenFile = tenantconfig.AuthKubernetes, "ident-unknown", e.tokenFile
		}, tenantconfig.ErrRevoked, "kubernetes login: Infisical answered 404: Kubernetes auth method not found for identity"},
		{"token file missing", func(e *env, s *tenantconfig.Settings) {
			s.AuthMethod, s.IdentityID, s.TokenFile = tenantconfig.AuthKubernetes, identityID, filepath.Join(e.t.TempDir(), "absent")
		}, tenantconfig.ErrUnavailable, "read service-account token: open "},
		{"token file empty", func(e *env, s *tenantconfig.Settings) {
			s.AuthMethod, s.IdentityID, s.TokenFile = tenantconfig.AuthKubernetes, identityID, e.tokenFile
			e.writeToken("\n")
		}, tenantconfig.ErrUnavailable, "is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			s := e.settings(tenantconfig.AuthUniversal)
			tc.change(e, &s)
			src := e.source(s)
			ch := watch(src)
			err := src.Refresh(context.Background())
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.message) {
				t.Fatalf("Refresh = %v\nwant %v with %q", err, tc.want, tc.message)
			}
			if rerr := src.Ready(); !errors.Is(rerr, tc.want) || !strings.Contains(rerr.Error(), tc.message) {
				t.Errorf("Ready = %v", rerr)
			}
			e.noLeak("error", err.Error())
			ch.take(t, 0)
			if n := e.srv.Counts(); n.Lists != 0 {
				t.Errorf("secrets listed without a login: %+v", n)
			}
		})
	}
}

func TestRelogin(t *testing.T) {
	for _, tc := range []struct {
		name        string
		method      string
		expire      func(*env)
		failedLists int // list calls the server rejected before the re-login
	}{
		{"server expired the token", tenantconfig.AuthUniversal, func(e *env) { e.srv.ExpireAccessTokens() }, 1},
		{"token lifetime ran out", tenantconfig.AuthUniversal, func(e *env) { e.clock.Advance(50 * time.Second) }, 0},
		{"kubernetes token rotated", tenantconfig.AuthKubernetes, func(e *env) {
			// The kubelet rotates the projected token and the old one stops
			// verifying: the login must read the file again.
			const rotated = "eyJ.rotated-sa-token-5e5e.sig"
			e.secrets = append(e.secrets, rotated)
			e.srv.RegisterKubernetesToken(rotated, saSubject)
			e.srv.UnregisterKubernetesToken(saToken)
			e.writeToken(rotated)
			e.srv.ExpireAccessTokens()
		}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			src, ch := e.loaded(tc.method)
			tc.expire(e)
			if err := src.Refresh(context.Background()); err != nil {
				t.Fatalf("Refresh after expiry: %v", err)
			}
			if got := mustCurrent(t, src); got != fullConfig {
				t.Error("config changed across re-login")
			}
			ch.take(t, 0)
			n := e.srv.Counts()
			if n.Logins != 2 || n.FailedLists != tc.failedLists || n.Lists != 2 {
				t.Errorf("server counts = %+v, want 2 logins, %d rejected lists, 2 lists", n, tc.failedLists)
			}
			if tc.failedLists > 0 {
				e.lastEvent("relogin")
			}
		})
	}
}

func TestRefreshCanceled(t *testing.T) {
	e := newEnv(t)
	src, ch := e.loaded(tenantconfig.AuthUniversal)
	e.srv.SetHang(true)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Refresh(ctx) }()
	waitFor(t, func() bool { return e.srv.Counts().Dropped == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Refresh = %v, want context.Canceled", err)
	}
	// Our own cancellation is not an Infisical failure.
	if got := mustCurrent(t, src); got != fullConfig {
		t.Error("config lost on cancellation")
	}
	if v := e.metric("blue_infisical_refresh_total", "outcome", "unreachable"); v != 0 {
		t.Errorf("cancellation counted as unreachable: %v", v)
	}
	ch.take(t, 0)
	e.wantState("ok")
	// The abandoned request is still held: the next refresh fails fast
	// instead of piling up another one.
	if err := src.Refresh(context.Background()); !errors.Is(err, tenantconfig.ErrUnavailable) || !strings.Contains(err.Error(), "has not returned yet") {
		t.Errorf("Refresh with a request outstanding = %v", err)
	}
	e.srv.SetHang(false)
	waitFor(t, func() bool { return src.Refresh(context.Background()) == nil })
}

func TestRun(t *testing.T) {
	e := newEnv(t)
	s := e.settings(tenantconfig.AuthKubernetes)
	s.Refresh = 20 * time.Millisecond
	log := slog.New(slog.NewJSONHandler(e.logs, nil))
	src, err := tenantconfig.New(s, log, e.reg) // real clock
	if err != nil {
		t.Fatal(err)
	}
	e.srv.SetClock(time.Now)
	var (
		mu   sync.Mutex
		seen []string
	)
	src.OnChange(func(_, new tenantconfig.Config) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, new.ExternalID)
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- src.Run(ctx) }()

	waitFor(t, func() bool { return src.Ready() == nil })
	if err := src.Run(ctx); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Errorf("second Run = %v", err)
	}
	const rotated = "ext-id-run-2c2c"
	e.setSecret(tenantconfig.KeyExternalID, rotated)
	waitFor(t, func() bool { c, _ := src.Current(); return c.ExternalID == rotated })
	e.srv.RevokeMembership(projectID, identityID)
	waitFor(t, func() bool { return errors.Is(src.Ready(), tenantconfig.ErrRevoked) })

	cancel()
	select {
	case err := <-ran:
		if err != nil {
			t.Errorf("Run = %v, want nil on cancellation", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancellation")
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(seen, []string{externalID, rotated, ""}) {
		t.Errorf("OnChange saw external ids (redacted) in order: %d calls, loaded/rotated/dropped = %v",
			len(seen), slices.Equal(seen, []string{externalID, rotated, ""}))
	}
}

func TestListenerPanicIsContained(t *testing.T) {
	e := newEnv(t)
	src := e.source(e.settings(tenantconfig.AuthUniversal))
	src.OnChange(func(_, _ tenantconfig.Config) { panic("listener bug") })
	ch := watch(src)
	if err := src.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	ch.take(t, 1) // later listeners still hear the change
	e.lastEvent("listener_panic")
}

func TestMetricsRegistration(t *testing.T) {
	e := newEnv(t)
	e.source(e.settings(tenantconfig.AuthUniversal))
	for _, name := range []string{"blue_infisical_refresh_total", "blue_infisical_login_total", "blue_infisical_config_state", "blue_infisical_last_success_age_seconds"} {
		e.metric(name) // fails if absent
	}
	e.wantState("loading")
	for _, o := range []string{"ok", "revoked", "unreachable", "incomplete"} {
		if v := e.metric("blue_infisical_refresh_total", "outcome", o); v != 0 {
			t.Errorf("refresh_total{%s} = %v before any refresh", o, v)
		}
	}
	// A second tenantconfig.Source on the same registry is a wiring mistake, reported.
	if _, err := tenantconfig.New(e.settings(tenantconfig.AuthUniversal), nil, e.reg, tenantconfig.WithClock(e.clock.Now)); err == nil || !strings.Contains(err.Error(), "register metrics") {
		t.Errorf("second registration = %v, want an error", err)
	}
	// Without a registry there is nothing to collide with.
	if _, err := tenantconfig.New(e.settings(tenantconfig.AuthUniversal), nil, nil); err != nil {
		t.Errorf("tenantconfig.New without registry: %v", err)
	}
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	testutil.EventuallyTrue(t, 10*time.Second, 10*time.Millisecond, cond)
}
