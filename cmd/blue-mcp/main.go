// Command blue-mcp is the per-tenant Blue MCP server. One process serves one
// tenant: it reads the tenant's settings from the client's Infisical
// workspace, assumes the client's AWS role with the ExternalId and keeps
// documents in the client's S3 bucket and DynamoDB table.
//
// Settings come from flags, each defaulting to the environment variable the
// operator sets (see api/contract).
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/superviber/blue-operator/api/contract"
	"github.com/superviber/blue-operator/mcpserver/access"
	"github.com/superviber/blue-operator/mcpserver/awscreds"
	"github.com/superviber/blue-operator/mcpserver/backend"
	"github.com/superviber/blue-operator/mcpserver/export"
	"github.com/superviber/blue-operator/mcpserver/importer"
	"github.com/superviber/blue-operator/mcpserver/onboard"
	"github.com/superviber/blue-operator/mcpserver/server"
	"github.com/superviber/blue-operator/mcpserver/tenantconfig"
	"github.com/superviber/blue-operator/mcpserver/tools"
	"github.com/superviber/blue-operator/mcpserver/tracing"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// subcommands are the client's tools: the onboarding kit, the import of a
// local Blue checkout, and the export of its documents in Blue's own layout
// (its fallback and offboarding path).
var subcommands = map[string]func(context.Context, []string, io.Writer) error{
	"onboard": onboard.Run,
	"import":  importer.Run,
	"export":  export.Run,
}

func main() {
	if len(os.Args) > 1 {
		if sub, ok := subcommands[os.Args[1]]; ok {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			err := sub(ctx, os.Args[2:], os.Stdout)
			stop()
			if err != nil && !errors.Is(err, flag.ErrHelp) {
				fmt.Fprintln(os.Stderr, "blue-mcp:", err)
				os.Exit(1)
			}
			return
		}
	}
	if err := run(context.Background(), os.Args[1:], os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "blue-mcp:", err)
		os.Exit(1)
	}
}

type settings struct {
	tenant, tier, publicURL, authMode, tokenHashes, oidcIssuer, oidcAudience string
	oidcSubjects, oidcGroups, oidcEmailDomains                               string
	listen, metricsListen, tlsCert, tlsKey                                   string
	maxSessions                                                              int
	maxBody                                                                  int64
	region, stsEndpoint, s3Endpoint, ddbEndpoint                             string
	apiCA                                                                    string         // PEM, spec.aws.apiCABundle
	apiRoots                                                                 *x509.CertPool // the system's CAs and apiCA's; nil without apiCA
	infisical                                                                tenantconfig.Settings
	shutdown, sessionIdle, sessionEvict                                      time.Duration
	attemptTimeout, callTimeout                                              time.Duration
	noSourceIdentity                                                         bool
	accessInterval                                                           time.Duration
	sessionKey                                                               []byte
	showVersion                                                              bool
	otlpEndpoint                                                             string
}

func parse(args []string, getenv func(string) string) (settings, error) {
	var s settings
	fs := flag.NewFlagSet("blue-mcp", flag.ContinueOnError)
	str := func(p *string, name, envName, def, usage string) {
		v := getenv(envName)
		if v == "" {
			v = def
		}
		fs.StringVar(p, name, v, usage+" (env "+envName+")")
	}
	str(&s.tenant, "tenant", contract.EnvTenant, "", "tenant name")
	str(&s.tier, "tier", contract.EnvTier, "small", "tier: small, medium or enterprise")
	str(&s.publicURL, "public-url", contract.EnvPublicURL, "", "the endpoint's public URL, e.g. https://acme.mcp.superviber.com/mcp")
	str(&s.authMode, "auth-mode", contract.EnvAuthMode, "token", "token or oidc")
	str(&s.tokenHashes, "token-sha256", contract.EnvTokenHashes, "", "comma-separated sha256:<hex> hashes of the accepted bearer tokens")
	str(&s.oidcIssuer, "oidc-issuer", contract.EnvOIDCIssuer, "", "OIDC issuer URL (auth-mode oidc)")
	str(&s.oidcAudience, "oidc-audience", contract.EnvOIDCAudience, "", "audience OIDC tokens must carry (auth-mode oidc)")
	str(&s.oidcSubjects, "oidc-allowed-subjects", contract.EnvOIDCAllowedSubjects, "", "comma-separated sub claims admitted; empty: any (auth-mode oidc)")
	str(&s.oidcGroups, "oidc-allowed-groups", contract.EnvOIDCAllowedGroups, "", "comma-separated groups, one of which the token's groups claim must name; empty: any (auth-mode oidc)")
	str(&s.oidcEmailDomains, "oidc-allowed-email-domains", contract.EnvOIDCAllowedEmailDomains, "", "comma-separated domains the verified email must be at; empty: any (auth-mode oidc)")
	str(&s.listen, "listen", contract.EnvListenAddr, contract.ListenAddr, "address of /mcp, /healthz and /readyz")
	str(&s.metricsListen, "metrics-listen", contract.EnvMetricsAddr, contract.MetricsAddr, "address of /metrics")
	str(&s.region, "region", "AWS_REGION", "", "AWS region of the client's bucket and table")
	str(&s.infisical.AccountID, "client-account-id", contract.EnvClientAccount, "", "the client's 12-digit AWS account: the server acts in no other")
	str(&s.infisical.ExternalID, "external-id", contract.EnvExternalID, "", "the sts:ExternalId the operator issued for this tenant; empty (outside the operator only): EXTERNAL_ID from the client's workspace")
	str(&s.stsEndpoint, "sts-endpoint", contract.EnvSTSEndpoint, "", "STS endpoint override")
	str(&s.s3Endpoint, "s3-endpoint", contract.EnvS3Endpoint, "", "S3 endpoint override (path-style)")
	str(&s.ddbEndpoint, "dynamodb-endpoint", contract.EnvDynamoDBEndpoint, "", "DynamoDB endpoint override")
	str(&s.infisical.SiteURL, "infisical-site-url", contract.EnvInfisicalSite, "https://app.infisical.com", "Infisical instance")
	str(&s.infisical.CACertificate, "infisical-ca-certificate", contract.EnvInfisicalCA, "", "PEM certificates of the CAs of a self-hosted Infisical, trusted for it besides the system's")
	str(&s.apiCA, "api-ca-certificate", contract.EnvAPICA, "", "PEM certificates of the CAs that sign the client's API (API_ENDPOINT), trusted for it besides the system's")
	str(&s.infisical.ProjectID, "infisical-project-id", contract.EnvInfisicalProj, "", "client's Infisical project")
	str(&s.infisical.Environment, "infisical-environment", contract.EnvInfisicalEnv, "prod", "Infisical environment slug")
	str(&s.infisical.SecretPath, "infisical-secret-path", contract.EnvInfisicalPath, "/", "Infisical folder")
	str(&s.infisical.AuthMethod, "infisical-auth-method", contract.EnvInfisicalMethod, "kubernetes", "kubernetes or universal")
	str(&s.infisical.IdentityID, "infisical-identity-id", contract.EnvInfisicalID, "", "machine identity (kubernetes auth)")
	str(&s.infisical.TokenFile, "infisical-token-file", contract.EnvInfisicalToken, "", "projected service-account token (kubernetes auth)")
	fs.StringVar(&s.otlpEndpoint, "otlp-endpoint", tracing.EndpointFrom("", getenv), "export traces over OTLP/HTTP to this URL, e.g. http://collector:4318/v1/traces; empty: no tracing (env OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or OTEL_EXPORTER_OTLP_ENDPOINT plus /v1/traces)")
	fs.StringVar(&s.tlsCert, "tls-cert", getenv("BLUE_TLS_CERT"), "serve TLS 1.3 with this certificate file (env BLUE_TLS_CERT)")
	fs.StringVar(&s.tlsKey, "tls-key", getenv("BLUE_TLS_KEY"), "key of --tls-cert (env BLUE_TLS_KEY)")
	fs.DurationVar(&s.infisical.Refresh, "infisical-refresh", envDuration(getenv, contract.EnvInfisicalRefresh, 30*time.Second), "how often the Infisical settings are re-read")
	fs.DurationVar(&s.infisical.Grace, "infisical-grace", envDuration(getenv, "BLUE_INFISICAL_GRACE", 5*time.Minute), "how long cached settings serve while Infisical is unreachable")
	fs.DurationVar(&s.accessInterval, "access-check-interval", envDuration(getenv, contract.EnvAccessCheckInterval, access.DefaultInterval), "how often the client's side is checked (settings, a fresh AssumeRole, the bucket and table or the client's API) for the report at /access on the metrics port (env BLUE_ACCESS_CHECK_INTERVAL)")
	fs.DurationVar(&s.shutdown, "shutdown-timeout", 20*time.Second, "how long in-flight calls may finish after SIGTERM")
	fs.DurationVar(&s.attemptTimeout, "storage-attempt-timeout", backend.DefaultAttemptTimeout, "give up one request to the client's S3, DynamoDB or API after this long (the SDK retries it)")
	fs.DurationVar(&s.callTimeout, "tool-timeout", tools.DefaultCallTimeout, "give up one tool call, every round trip included, after this long")
	fs.DurationVar(&s.sessionIdle, "session-idle", envDuration(getenv, "BLUE_SESSION_IDLE", 5*time.Minute), "an MCP session unused this long no longer counts against the tier limit (a client that vanished frees its slot)")
	fs.DurationVar(&s.sessionEvict, "session-evict-after", envDuration(getenv, "BLUE_SESSION_EVICT_AFTER", 30*time.Second), "on a full tier, a new session takes the slot of the least recently used one unused this long")
	fs.Int64Var(&s.maxBody, "max-body-bytes", 1<<20, "largest request body accepted")
	fs.BoolVar(&s.noSourceIdentity, "no-sts-source-identity", false, "assume the client's role without sts:SourceIdentity (for a role whose trust policy predates sts:SetSourceIdentity; the client's trail then tells engineers apart by session name only)")
	maxSessions := getenv(contract.EnvMaxSessions)
	fs.BoolVar(&s.showVersion, "version", false, "print the version and exit")
	var sessionsFlag string
	fs.StringVar(&sessionsFlag, "max-sessions", maxSessions, "concurrent MCP sessions; 0 or empty: the tier's (small 2, medium 10, enterprise unlimited) (env "+contract.EnvMaxSessions+")")
	if err := fs.Parse(args); err != nil {
		return s, err
	}
	if s.showVersion {
		return s, nil
	}
	// Universal-auth credentials only from the environment: a flag would show
	// them in the process list.
	s.infisical.ClientID, s.infisical.ClientSecret = getenv(contract.EnvInfisicalCID), getenv(contract.EnvInfisicalSecret)
	// The session key likewise: it signs the session ids every replica accepts.
	if k := getenv(contract.EnvSessionKey); k != "" {
		if len(k) < 32 {
			return s, fmt.Errorf("%s must be at least 32 characters", contract.EnvSessionKey)
		}
		s.sessionKey = []byte(k)
	}
	tierSessions := map[string]int{"small": 2, "medium": 10, "enterprise": 0}
	def, ok := tierSessions[s.tier]
	if !ok {
		return s, fmt.Errorf("--tier %q: want small, medium or enterprise", s.tier)
	}
	s.maxSessions = def
	if sessionsFlag != "" {
		n, err := strconv.Atoi(sessionsFlag)
		if err != nil || n < 0 {
			return s, fmt.Errorf("--max-sessions %q: want a whole number, 0 for unlimited", sessionsFlag)
		}
		s.maxSessions = n
	}
	var err error
	if s.apiRoots, err = backend.APIRoots(s.apiCA); err != nil {
		return s, fmt.Errorf("--api-ca-certificate (%s): %w", contract.EnvAPICA, err)
	}
	return s, s.validate()
}

func envDuration(getenv func(string) string, name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(getenv(name)); err == nil {
		return d
	}
	return def
}

func (s settings) validate() error {
	switch {
	case s.tenant == "":
		return fmt.Errorf("--tenant (%s) is required", contract.EnvTenant)
	case s.region == "":
		return errors.New("--region (AWS_REGION) is required")
	case !validAccount(s.infisical.AccountID):
		return fmt.Errorf("--client-account-id (%s) must be the client's 12-digit AWS account id, got %q", contract.EnvClientAccount, s.infisical.AccountID)
	case s.publicURL == "" || !strings.HasPrefix(s.publicURL, "http"):
		return fmt.Errorf("--public-url (%s) must be the endpoint's URL, got %q", contract.EnvPublicURL, s.publicURL)
	case s.attemptTimeout <= 0 || s.callTimeout <= 0 || s.accessInterval <= 0:
		return errors.New("--storage-attempt-timeout, --tool-timeout and --access-check-interval must be positive")
	case s.maxBody < 1024:
		return fmt.Errorf("--max-body-bytes %d is too small (at least 1024)", s.maxBody)
	case (s.tlsCert == "") != (s.tlsKey == ""):
		return errors.New("--tls-cert and --tls-key go together")
	}
	switch s.authMode {
	case "token":
		if s.tokenHashes == "" {
			return fmt.Errorf("--token-sha256 (%s) is required in token auth mode", contract.EnvTokenHashes)
		}
	case "oidc":
		if s.oidcIssuer == "" || s.oidcAudience == "" {
			return fmt.Errorf("--oidc-issuer (%s) and --oidc-audience (%s) are required in oidc auth mode", contract.EnvOIDCIssuer, contract.EnvOIDCAudience)
		}
		for _, d := range splitList(s.oidcEmailDomains) {
			if err := server.CheckEmailDomain(d); err != nil {
				return fmt.Errorf("--oidc-allowed-email-domains (%s): %w", contract.EnvOIDCAllowedEmailDomains, err)
			}
		}
	default:
		return fmt.Errorf("--auth-mode %q: want token or oidc", s.authMode)
	}
	if s.authMode != "oidc" {
		for _, l := range []struct{ flag, env, value string }{
			{"--oidc-allowed-subjects", contract.EnvOIDCAllowedSubjects, s.oidcSubjects},
			{"--oidc-allowed-groups", contract.EnvOIDCAllowedGroups, s.oidcGroups},
			{"--oidc-allowed-email-domains", contract.EnvOIDCAllowedEmailDomains, s.oidcEmailDomains},
		} {
			if l.value != "" {
				return fmt.Errorf("%s (%s) applies only in oidc auth mode", l.flag, l.env)
			}
		}
	}
	if err := s.infisical.Validate(); err != nil {
		return fmt.Errorf("infisical settings: %w", err)
	}
	return nil
}

func run(ctx context.Context, args []string, getenv func(string) string) error {
	s, err := parse(args, getenv)
	if err != nil {
		return err
	}
	if s.showVersion {
		fmt.Println(version)
		return nil
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil)).With("tenant", s.tenant)
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()

	stopTracing, err := tracing.Setup(ctx, tracing.Options{Endpoint: s.otlpEndpoint, Tenant: s.tenant, Version: version})
	if err != nil {
		return fmt.Errorf("--otlp-endpoint: %w", err)
	}
	defer func() {
		flushCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = stopTracing(flushCtx)
	}()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	source, err := tenantconfig.New(s.infisical, log, reg)
	if err != nil {
		return fmt.Errorf("infisical: %w", err)
	}
	assumer, err := awscreds.New(ctx, awscreds.Options{Tenant: s.tenant, Region: s.region, STSEndpoint: s.stsEndpoint, NoSourceIdentity: s.noSourceIdentity}, log, reg)
	if err != nil {
		return fmt.Errorf("aws: %w", err)
	}
	be := backend.New(source, assumer, backend.Options{
		Account: s.infisical.AccountID,
		Region:  s.region, S3Endpoint: s.s3Endpoint, DDBEndpoint: s.ddbEndpoint, Caller: server.Caller,
		AttemptTimeout: s.attemptTimeout, APIRoots: s.apiRoots,
	})
	source.OnChange(be.Changed)
	var released sync.Once
	source.OnChange(func(old, _ tenantconfig.Config) {
		if old.IsZero() {
			// Start-up garbage (Infisical login, AWS config, tool schemas)
			// goes back to the OS once the first config is served, so an
			// idle replica holds only what it uses.
			released.Do(func() { go debug.FreeOSMemory() })
		}
	})

	srv, err := server.New(ctx, server.Options{
		Tenant: s.tenant, Version: version, PublicURL: s.publicURL,
		MaxSessions: s.maxSessions, SessionIdle: s.sessionIdle, SessionEvictAfter: s.sessionEvict, SessionKey: s.sessionKey, MaxBodyBytes: s.maxBody,
		TokenHashes: splitList(s.tokenHashes), OIDCIssuer: oidcOnly(s, s.oidcIssuer), OIDCAudience: s.oidcAudience,
		OIDCAllowedSubjects: splitList(s.oidcSubjects), OIDCAllowedGroups: splitList(s.oidcGroups), OIDCAllowedEmailDomains: splitList(s.oidcEmailDomains),
		Ready: source.Ready, Log: log, Registry: reg,
	}, &tools.Service{Store: be.Store, CallTimeout: s.callTimeout})
	if err != nil {
		return err
	}

	go func() {
		if err := source.Run(ctx); err != nil && ctx.Err() == nil {
			log.Error("infisical refresh loop stopped", "event", "infisical_stopped", "err", err)
		}
	}()

	api := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	if s.tlsCert != "" {
		api.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS13}
	}
	checker, err := access.NewChecker(be.CheckAccess, s.accessInterval, log, reg)
	if err != nil {
		return fmt.Errorf("access checker: %w", err)
	}
	source.OnChange(func(_, _ tenantconfig.Config) { checker.Trigger() })
	go checker.Run(ctx)
	metrics := &http.Server{Handler: srv.MetricsMux(checker), ReadHeaderTimeout: 10 * time.Second}
	apiLn, err := net.Listen("tcp", s.listen)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", s.listen, err)
	}
	metricsLn, err := net.Listen("tcp", s.metricsListen)
	if err != nil {
		return fmt.Errorf("--metrics-listen %s: %w", s.metricsListen, err)
	}
	errs := make(chan error, 2)
	go func() {
		if s.tlsCert != "" {
			errs <- api.ServeTLS(apiLn, s.tlsCert, s.tlsKey)
		} else {
			errs <- api.Serve(apiLn)
		}
	}()
	go func() { errs <- metrics.Serve(metricsLn) }()
	log.Info("serving", "event", "start", "version", version, "listen", apiLn.Addr().String(), "metrics", metricsLn.Addr().String(),
		"tier", s.tier, "max_sessions", s.maxSessions, "auth_mode", s.authMode)

	select {
	case <-ctx.Done():
	case err := <-errs:
		return fmt.Errorf("serve: %w", err)
	}
	// In-flight calls finish; new ones are refused; bounded.
	sctx, cancel := context.WithTimeout(context.Background(), s.shutdown)
	defer cancel()
	log.Info("shutting down", "event", "stop")
	err = errors.Join(api.Shutdown(sctx), metrics.Shutdown(sctx))
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

func oidcOnly(s settings, v string) string {
	if s.authMode == "oidc" {
		return v
	}
	return ""
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func validAccount(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
