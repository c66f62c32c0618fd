package tenantconfig

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/superviber/blue-operator/api/contract"
)

// Auth methods of Settings.AuthMethod.
const (
	AuthKubernetes = "kubernetes"
	AuthUniversal  = "universal"
)

// Defaults for zero Settings durations and secret path.
const (
	DefaultRefresh    = 30 * time.Second
	DefaultGrace      = 5 * time.Minute
	DefaultSecretPath = "/"
)

// Settings say where the tenant's config lives in Infisical and how this
// server logs in. They come from the BlueTenant spec (via the operator), not
// from the client: only the values in Infisical belong to the client.
type Settings struct {
	// SiteURL is the Infisical instance, e.g. https://app.infisical.com.
	// Plain http is accepted only for loopback hosts (tests, local stack).
	SiteURL string
	// CACertificate is PEM: the certificates of the CAs that sign a
	// self-hosted Infisical's TLS certificate (or that certificate, if
	// self-signed). They are trusted besides the system's, and only for
	// Infisical. Empty: the system's alone.
	CACertificate string
	// ProjectID is the client's Infisical project (workspace) ID.
	ProjectID string
	// Environment is the environment slug, e.g. "prod".
	Environment string
	// SecretPath is the folder holding the secrets; "/" when empty.
	SecretPath string

	// AuthMethod is AuthKubernetes or AuthUniversal.
	AuthMethod string

	// IdentityID and TokenFile are for Kubernetes auth. The token is re-read
	// from TokenFile at every login because projected tokens rotate.
	IdentityID string
	TokenFile  string

	// ClientID and ClientSecret are for universal auth.
	ClientID     string
	ClientSecret string

	// Refresh is the interval between refreshes; DefaultRefresh when zero.
	Refresh time.Duration
	// Grace is how long the cached config is still served while Infisical is
	// unreachable, counted from the last successful refresh; DefaultGrace
	// when zero.
	Grace time.Duration
	// AccountID is the client's AWS account (spec.aws.accountId). When set,
	// settings that point outside it are refused and nothing is served.
	AccountID string
	// ExternalID is the sts:ExternalId the operator issued for this tenant
	// (BLUE_EXTERNAL_ID). When set it is the one presented, and an
	// EXTERNAL_ID in the client's workspace is neither needed nor read: the
	// client cannot choose the ExternalId, so it cannot present another
	// tenant's. When empty (the server run by hand, outside the operator),
	// the workspace's EXTERNAL_ID is required and used.
	ExternalID string
	// CallTimeout bounds each Infisical request (the SDK has none of its
	// own); DefaultCallTimeout when zero.
	CallTimeout time.Duration
}

// Validate checks the settings and names every bad one. Zero durations and
// an empty SecretPath are valid: they take the defaults.
func (s Settings) Validate() error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("tenantconfig: setting %s: %s", name, fmt.Sprintf(format, args...)))
	}
	if err := checkSiteURL(s.SiteURL); err != nil {
		bad("SiteURL", "%v", err)
	}
	if s.CACertificate != "" {
		if _, err := contract.ParseCABundle(s.CACertificate); err != nil {
			bad("CACertificate", "%v", err)
		}
	}
	if strings.TrimSpace(s.ProjectID) == "" {
		bad("ProjectID", "required")
	}
	if strings.TrimSpace(s.Environment) == "" {
		bad("Environment", "required")
	}
	if s.SecretPath != "" && !strings.HasPrefix(s.SecretPath, "/") {
		bad("SecretPath", "must start with /")
	}
	switch s.AuthMethod {
	case AuthKubernetes:
		if strings.TrimSpace(s.IdentityID) == "" {
			bad("IdentityID", "required for kubernetes auth")
		}
		if strings.TrimSpace(s.TokenFile) == "" {
			bad("TokenFile", "required for kubernetes auth")
		}
	case AuthUniversal:
		if strings.TrimSpace(s.ClientID) == "" {
			bad("ClientID", "required for universal auth")
		}
		if s.ClientSecret == "" {
			bad("ClientSecret", "required for universal auth")
		}
	case "":
		bad("AuthMethod", "required (%q or %q)", AuthKubernetes, AuthUniversal)
	default:
		bad("AuthMethod", "%q is not %q or %q", s.AuthMethod, AuthKubernetes, AuthUniversal)
	}
	if s.Refresh < 0 {
		bad("Refresh", "must not be negative")
	}
	if s.Grace < 0 {
		bad("Grace", "must not be negative")
	}
	if s.CallTimeout < 0 {
		bad("CallTimeout", "must not be negative")
	}
	if id := s.ExternalID; id != "" && (len(id) < 2 || len(id) > contract.MaxExternalIDLen || !contract.ExternalIDChars(id)) {
		bad("ExternalID", "must be 2 to 1224 characters of letters, digits and +=,.@:/-_ (what STS accepts)")
	}
	return errors.Join(errs...)
}

func checkSiteURL(raw string) error {
	if raw == "" {
		return errors.New("required")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return errors.New("must be an absolute URL such as https://app.infisical.com")
	}
	if u.User != nil {
		return errors.New("must not carry credentials")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		// The login sends credentials; only allow cleartext on this machine.
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
		return errors.New("must use https (http only for loopback hosts)")
	default:
		return errors.New("must use https")
	}
}

func (s Settings) withDefaults() Settings {
	if s.Refresh == 0 {
		s.Refresh = DefaultRefresh
	}
	if s.Grace == 0 {
		s.Grace = DefaultGrace
	}
	if s.SecretPath == "" {
		s.SecretPath = DefaultSecretPath
	}
	if s.CallTimeout == 0 {
		s.CallTimeout = DefaultCallTimeout
	}
	return s
}

// String shows the settings without the client secret.
func (s Settings) String() string {
	secret := ""
	if s.ClientSecret != "" {
		secret = "[REDACTED]"
	}
	return fmt.Sprintf("Settings{SiteURL:%s ProjectID:%s Environment:%s SecretPath:%s AuthMethod:%s IdentityID:%s TokenFile:%s ClientID:%s ClientSecret:%s Refresh:%s Grace:%s}",
		s.SiteURL, s.ProjectID, s.Environment, s.SecretPath, s.AuthMethod, s.IdentityID, s.TokenFile, s.ClientID, secret, s.Refresh, s.Grace)
}

// GoString keeps %#v from printing the client secret.
func (s Settings) GoString() string { return s.String() }

// LogValue keeps slog from printing the client secret.
func (s Settings) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("site_url", s.SiteURL),
		slog.String("tenant_project", s.ProjectID),
		slog.String("environment", s.Environment),
		slog.String("secret_path", s.SecretPath),
		slog.String("auth_method", s.AuthMethod),
		slog.String("identity_id", s.IdentityID),
		slog.String("token_file", s.TokenFile),
		slog.String("refresh", s.Refresh.String()),
		slog.String("grace", s.Grace.String()),
	)
}
