package tenantconfig

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// Unit tests of the settings, the refresh schedule and redaction; they need
// no Infisical. The tests against a real-protocol Infisical are in
// test/mcpserver/tenantconfig.

// Every value is distinct so a leak can be found by substring.
const (
	clientID     = "ua-client-acme"
	clientSecret = "ua-secret-9d8e7f6a"
	saToken      = "eyJhbGciOiJSUzI1NiJ9.sa-token-a1b2c3d4.sig"

	roleARN     = "arn:aws:iam::222222222222:role/blue-acme-data"
	externalID  = "ext-id-5f2b8e9c"
	bucket      = "acme-blue-docs-eu1"
	table       = "acme-blue-index-eu1"
	kmsKeyID    = "kms-key-0c4d9a71"
	apiEndpoint = "https://blue-api.acme.example"
)

var fullConfig = Config{RoleARN: roleARN, ExternalID: externalID, Bucket: bucket, Table: table, KMSKeyID: kmsKeyID, APIEndpoint: apiEndpoint}

func TestNextDelay(t *testing.T) {
	for _, tc := range []struct {
		name     string
		st       state
		loaded   bool
		failures int
		since    time.Duration // since the last success
		want     time.Duration
	}{
		{"healthy", stateOK, true, 0, 0, 30 * time.Second},
		{"first failure before any load", stateUnavailable, false, 1, 0, time.Second},
		{"third failure before any load", stateUnavailable, false, 3, 0, 4 * time.Second},
		{"backoff capped at Refresh", stateUnavailable, false, 9, 0, 30 * time.Second},
		{"stale, grace ends before next refresh", stateStale, true, 1, 4*time.Minute + 50*time.Second, 10*time.Second + time.Millisecond},
		{"stale, grace far", stateStale, true, 1, time.Minute, 30 * time.Second},
		{"revoked", stateRevoked, true, 5, 0, 30 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			src, err := New(Settings{SiteURL: "https://infisical.example", ProjectID: "p", Environment: "prod",
				AuthMethod: AuthUniversal, ClientID: "c", ClientSecret: "s"}, nil, nil, WithClock(func() time.Time { return now }))
			if err != nil {
				t.Fatal(err)
			}
			src.st, src.failures = tc.st, tc.failures
			if tc.loaded {
				src.lastSuccess = now.Add(-tc.since)
			}
			if got := src.nextDelay(); got != tc.want {
				t.Errorf("nextDelay = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	caPEM := exampleCA
	keyPEM := "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----\n"
	good := Settings{SiteURL: "https://app.infisical.com", ProjectID: "p", Environment: "prod", SecretPath: "/blue",
		AuthMethod: AuthKubernetes, IdentityID: "i", TokenFile: "/var/run/secrets/infisical/token"}
	if err := good.Validate(); err != nil {
		t.Fatalf("good settings: %v", err)
	}
	for _, tc := range []struct {
		name   string
		change func(*Settings)
		want   string // setting named in the error
	}{
		{"no site url", func(s *Settings) { s.SiteURL = "" }, "SiteURL"},
		{"relative site url", func(s *Settings) { s.SiteURL = "app.infisical.com" }, "SiteURL"},
		{"http to a remote host", func(s *Settings) { s.SiteURL = "http://infisical.example.com" }, "SiteURL"},
		{"credentials in site url", func(s *Settings) { s.SiteURL = "https://u:p@app.infisical.com" }, "SiteURL"},
		{"no project", func(s *Settings) { s.ProjectID = " " }, "ProjectID"},
		{"no environment", func(s *Settings) { s.Environment = "" }, "Environment"},
		{"relative secret path", func(s *Settings) { s.SecretPath = "blue" }, "SecretPath"},
		{"no auth method", func(s *Settings) { s.AuthMethod = "" }, "AuthMethod"},
		{"unknown auth method", func(s *Settings) { s.AuthMethod = "aws-iam" }, "AuthMethod"},
		{"kubernetes without identity", func(s *Settings) { s.IdentityID = "" }, "IdentityID"},
		{"kubernetes without token file", func(s *Settings) { s.TokenFile = "" }, "TokenFile"},
		{"universal without client id", func(s *Settings) { s.AuthMethod, s.ClientSecret = AuthUniversal, "x" }, "ClientID"},
		{"universal without client secret", func(s *Settings) { s.AuthMethod, s.ClientID = AuthUniversal, "x" }, "ClientSecret"},
		{"negative refresh", func(s *Settings) { s.Refresh = -time.Second }, "Refresh"},
		{"negative grace", func(s *Settings) { s.Grace = -time.Second }, "Grace"},
		{"CA certificate not PEM", func(s *Settings) { s.CACertificate = "MIIB..." }, "CACertificate"},
		{"CA certificate with its key", func(s *Settings) { s.CACertificate = caPEM + keyPEM }, "CACertificate"},
		{"CA certificate that does not parse", func(s *Settings) {
			s.CACertificate = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
		}, "CACertificate"},
		{"text after the CA certificate", func(s *Settings) { s.CACertificate = caPEM + "trailing" }, "CACertificate"},
		{"text before the CA certificate", func(s *Settings) { s.CACertificate = "my CA:\n" + caPEM }, "CACertificate"},
		{"a public key beside the CA certificate", func(s *Settings) {
			s.CACertificate = caPEM + "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n"
		}, "CACertificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := good
			tc.change(&s)
			err := s.Validate()
			if err == nil || !strings.Contains(err.Error(), "setting "+tc.want+":") {
				t.Errorf("Validate = %v, want an error naming %s", err, tc.want)
			}
			if _, nerr := New(s, nil, nil); nerr == nil {
				t.Error("New accepted invalid settings")
			}
		})
	}
	withCA := good
	withCA.CACertificate = caPEM + caPEM
	if err := withCA.Validate(); err != nil {
		t.Errorf("two CA certificates: %v", err)
	}
	for _, ok := range []string{"http://127.0.0.1:8080", "http://localhost:8080", "http://[::1]:80", "https://eu.infisical.com/"} {
		s := good
		s.SiteURL = ok
		if err := s.Validate(); err != nil {
			t.Errorf("SiteURL %s: %v", ok, err)
		}
	}
	// Defaults fill zero values.
	if d := good.withDefaults(); d.Refresh != DefaultRefresh || d.Grace != DefaultGrace {
		t.Errorf("defaults: %v %v", d.Refresh, d.Grace)
	}
	if d := (Settings{}).withDefaults(); d.SecretPath != "/" {
		t.Errorf("default secret path %q", d.SecretPath)
	}
}

func TestValuesNeverPrinted(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	set := Settings{SiteURL: "https://app.infisical.com", ProjectID: "p", Environment: "prod",
		AuthMethod: AuthUniversal, ClientID: clientID, ClientSecret: clientSecret}
	log.Info("oops", "config", fullConfig, "settings", set)
	out := buf.String() + fmt.Sprintf("%v %+v %#v %s %v %+v %#v %s", fullConfig, fullConfig, fullConfig, fullConfig, set, set, set, set)
	for _, v := range []string{roleARN, externalID, bucket, table, kmsKeyID, apiEndpoint, clientSecret} {
		if strings.Contains(out, v) {
			t.Errorf("printed %q:\n%s", v, out)
		}
	}
	if !strings.Contains(out, "EXTERNAL_ID") || !strings.Contains(out, clientID) {
		t.Errorf("printing hides too much (key names, client id):\n%s", out)
	}
}

func TestRedact(t *testing.T) {
	src, err := New(Settings{SiteURL: "https://infisical.example", ProjectID: "p", Environment: "prod",
		AuthMethod: AuthKubernetes, IdentityID: "i", TokenFile: "/token"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// As after a refresh: the token read, every listed value (one of them a
	// secret the server does not use), the config served.
	src.jwt, src.listed, src.cfg = saToken, []string{externalID, "unrelated-value-3e8f"}, fullConfig
	// Whatever Infisical or the network put in a message, known secrets go.
	msg := "bad request: secret=" + clientSecret + " jwt=" + saToken + " value=" + externalID + " other=unrelated-value-3e8f"
	src.set.ClientSecret = clientSecret // kubernetes settings have none; pretend
	got := src.redact(msg)
	for _, secret := range []string{clientSecret, saToken, externalID} {
		if strings.Contains(got, secret) {
			t.Errorf("redacted message still holds %q: %s", secret, got)
		}
	}
	if strings.Count(got, "[REDACTED]") != 4 || !strings.HasPrefix(got, "bad request: secret=") {
		t.Errorf("redact = %q", got)
	}
	// Short values are left alone: redacting "1" would mangle every message.
	src.listed = append(src.listed, "on")
	if got := src.redact("connection refused"); got != "connection refused" {
		t.Errorf("short value redacted: %q", got)
	}
}

// Confused deputy: a client's Infisical admin names a role, table or key of
// another account (another client's, or Superviber's own).
func TestOutsideAccount(t *testing.T) {
	const acct = "222222222222"
	ok := Config{RoleARN: "arn:aws:iam::222222222222:role/blue-data", Table: "blue-index", KMSKeyID: "arn:aws:kms:eu-west-1:222222222222:key/0d1e"}
	for _, tc := range []struct {
		name string
		c    func(c *Config)
		want string // "" means accepted
	}{
		{"all in the account", func(*Config) {}, ""},
		{"table and key by name, alias and id", func(c *Config) { c.Table, c.KMSKeyID = "blue-index", "alias/blue" }, ""},
		{"table as an ARN in the account", func(c *Config) { c.Table = "arn:aws:dynamodb:eu-west-1:222222222222:table/blue" }, ""},
		{"another client's role", func(c *Config) { c.RoleARN = "arn:aws:iam::333333333333:role/blue-data" }, KeyRoleARN},
		{"Superviber's own role", func(c *Config) { c.RoleARN = "arn:aws:iam::111111111111:role/blue-hop-acme" }, KeyRoleARN},
		{"a user, not a role", func(c *Config) { c.RoleARN = "arn:aws:iam::222222222222:user/admin" }, KeyRoleARN},
		{"not an ARN", func(c *Config) { c.RoleARN = "blue-data" }, KeyRoleARN},
		{"an account id smuggled into the path", func(c *Config) { c.RoleARN = "arn:aws:iam::333333333333:role/222222222222" }, KeyRoleARN},
		{"another account's table", func(c *Config) { c.Table = "arn:aws:dynamodb:eu-west-1:333333333333:table/blue" }, KeyTable},
		{"another account's key", func(c *Config) { c.KMSKeyID = "arn:aws:kms:eu-west-1:333333333333:key/0d1e" }, KeyKMSKeyID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.c(&c)
			bad := c.outsideAccount(acct)
			if tc.want == "" {
				if len(bad) != 0 {
					t.Errorf("refused: %v", bad)
				}
				return
			}
			if len(bad) != 1 || !strings.HasPrefix(bad[0], tc.want) {
				t.Errorf("got %v, want one naming %s", bad, tc.want)
			}
			for _, v := range []string{c.RoleARN, c.Table, c.KMSKeyID} {
				if strings.Contains(bad[0], v) {
					t.Errorf("the message quotes a value: %q", bad[0])
				}
			}
		})
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
