// Package tenantconfig is the MCP server's view of its tenant's config: the
// values the client keeps in its own Infisical workspace (AWS_ROLE_ARN,
// EXTERNAL_ID, BLUE_S3_BUCKET, BLUE_DYNAMODB_TABLE, BLUE_KMS_KEY_ID and
// optional API_ENDPOINT), loaded with the Infisical go-sdk and refreshed on
// an interval.
//
// It fails closed: when Infisical refuses our identity the config is dropped
// at once (ErrRevoked); when Infisical cannot be reached the cached config is
// served for a grace period and then dropped (ErrUnavailable); when a
// required secret is missing nothing is served (ErrIncomplete). OnChange
// listeners hear every change of the served config, including the drop to
// the zero Config, so the AWS layer can discard credentials immediately.
// Secret values never appear in logs, errors or metrics.
package tenantconfig

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	infisical "github.com/infisical/go-sdk"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/superviber/blue-operator/mcpserver/tracing"
)

// DefaultCallTimeout bounds each Infisical request. The SDK has no timeout
// of its own and takes no context, so a black-holed connection would
// otherwise hang a refresh forever.
const DefaultCallTimeout = 10 * time.Second

var errCallTimeout = errors.New("infisical call timed out")

// maxTokenFileSize bounds the service-account token read; real ones are ~1 KB.
const maxTokenFileSize = 64 << 10

type state int

const (
	stateLoading     state = iota // nothing loaded, no refresh finished yet
	stateOK                       // config held, last refresh succeeded
	stateStale                    // config held, Infisical unreachable, within grace
	stateRevoked                  // Infisical refused us; nothing served
	stateIncomplete               // required secrets missing; nothing served
	stateUnavailable              // unreachable and nothing (or grace exceeded) to serve
)

var stateNames = []string{"loading", "ok", "stale", "revoked", "incomplete", "unavailable"}

func (s state) String() string { return stateNames[s] }

// Refresh outcomes, the values of the metric's outcome label.
const (
	outcomeOK          = "ok"
	outcomeRevoked     = "revoked"
	outcomeUnreachable = "unreachable"
	outcomeIncomplete  = "incomplete"
	outcomeOutside     = "outside_account"
)

// Source holds the tenant's config and keeps it fresh. Create it with New,
// start Run in a goroutine, and read Current wherever the config is used.
// Its methods are safe for concurrent use.
type Source struct {
	set         Settings
	log         *slog.Logger
	now         func() time.Time
	callTimeout time.Duration
	client      infisical.InfisicalClientInterface
	m           *metrics
	created     time.Time

	running  atomic.Bool
	inflight atomic.Bool // an SDK call is outstanding (possibly abandoned)

	// refreshMu serialises refreshes; it guards the login state and the
	// strings to redact.
	refreshMu   sync.Mutex
	loggedIn    bool
	tokenExpiry time.Time // zero: the token has no known expiry
	jwt         string    // last service-account token read
	listed      []string  // values of the last listing

	mu           sync.RWMutex
	st           state
	cfg          Config    // served in stateOK and stateStale
	err          error     // returned in the non-serving states
	lastSuccess  time.Time // zero until the first successful refresh
	failingSince time.Time // first unreachable refresh since the last success
	failures     int       // consecutive failed refreshes
	missing      []string  // required keys missing at the last incomplete listing
	listeners    []func(old, new Config)
	host         string // Infisical's host, for the spans
}

// Option changes how a Source is built.
type Option func(*Source)

// WithClock makes the Source read the time from now instead of time.Now, so
// refresh schedules and the grace period can be tested without waiting.
func WithClock(now func() time.Time) Option {
	return func(s *Source) { s.now = now }
}

// New checks the settings and prepares a Source; it does no I/O. Metrics are
// registered with reg unless it is nil.
func New(s Settings, log *slog.Logger, reg prometheus.Registerer, opts ...Option) (*Source, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	s = s.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	src := &Source{
		set: s,
		log: log.With(
			slog.String("component", "tenantconfig"),
			slog.String("tenant_project", s.ProjectID),
			slog.String("environment", s.Environment),
			slog.String("secret_path", s.SecretPath),
		),
		now:         time.Now,
		callTimeout: s.CallTimeout,
	}
	for _, o := range opts {
		o(src)
	}
	src.created = src.now()
	if u, err := url.Parse(s.SiteURL); err == nil {
		src.host = u.Hostname()
	}
	src.client = infisical.NewInfisicalClient(context.Background(), infisical.Config{
		SiteUrl:       s.SiteURL,
		CaCertificate: s.CACertificate,
		// The SDK's own refresh re-authenticates Kubernetes logins with the
		// token captured at the first login; projected tokens rotate, so we
		// log in again ourselves and re-read the file each time. Off also
		// means no background goroutine.
		AutoTokenRefresh: infisical.BoolPtr(false),
		// The SDK prints warnings to stderr; our logs say what matters.
		SilentMode: true,
		LogWriter:  io.Discard,
		// No SDK retries: its default backoff (1 s, 2 s, 4 s on network
		// errors) would stall a refresh; the refresh loop is the retry.
		RetryRequestsConfig: &infisical.RetryRequestsConfig{
			ExponentialBackoff: &infisical.ExponentialBackoffStrategy{MaxRetries: 0},
		},
	})
	m, err := newMetrics(reg, src.lastSuccessAge)
	if err != nil {
		return nil, err
	}
	src.m = m
	src.m.setState(stateLoading)
	return src, nil
}

// OnChange registers fn to be called whenever the served config changes: on
// the first load (old is the zero Config), on rotation (any value changed),
// and when the config is dropped (new is the zero Config) because access was
// revoked, a required secret disappeared or the grace period ran out. Calls
// happen in registration order on the goroutine that ran the refresh, after
// Current already returns the new state; fn must not call Refresh.
func (s *Source) OnChange(fn func(old, new Config)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listeners = append(s.listeners, fn)
}

// Current returns the config to use now. The error wraps ErrRevoked,
// ErrUnavailable or ErrIncomplete with the reason.
func (s *Source) Current() (Config, error) {
	now := s.now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	switch s.st {
	case stateOK:
		return s.cfg, nil
	case stateStale:
		// The grace period is checked here too, so it ends on time even if
		// the next refresh is late.
		if now.Sub(s.lastSuccess) <= s.set.Grace {
			return s.cfg, nil
		}
		return Config{}, s.graceExceededErr()
	case stateLoading:
		return Config{}, fmt.Errorf("%w: %w", ErrUnavailable, ErrNotLoaded)
	default:
		return Config{}, s.err
	}
}

// Ready returns nil only while a valid config is served: loaded, complete,
// access not revoked and, if Infisical is unreachable, within the grace
// period. It is the readiness probe's answer.
func (s *Source) Ready() error {
	_, err := s.Current()
	return err
}

// Run loads the config, then refreshes it every Refresh until ctx is done,
// and returns nil then. Until a first config is loaded it retries sooner
// (1 s doubling up to Refresh); while serving a stale config it also wakes
// when the grace period ends. It never panics.
func (s *Source) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("tenantconfig: Run is already running")
	}
	defer s.running.Store(false)
	for {
		_ = s.Refresh(ctx) // outcomes are logged and counted inside
		if ctx.Err() != nil {
			return nil
		}
		t := time.NewTimer(s.nextDelay())
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

func (s *Source) nextDelay() time.Duration {
	now := s.now()
	s.mu.RLock()
	st, last, failures := s.st, s.lastSuccess, s.failures
	s.mu.RUnlock()
	d := s.set.Refresh
	switch {
	case last.IsZero() && failures > 0:
		if b := time.Second << min(failures-1, 16); b < d {
			d = b
		}
	case st == stateStale:
		if left := s.set.Grace - now.Sub(last); left < d {
			d = max(left, 0) + time.Millisecond
		}
	}
	return d
}

// Refresh fetches the config once and updates what Current serves. It
// returns nil on success, or an error wrapping ErrRevoked, ErrIncomplete or
// (for an unreachable Infisical, even while the cached config is still
// served) ErrUnavailable. If ctx ends first it returns ctx's error and
// changes nothing. Run calls it; tests and callers may too.
func (s *Source) Refresh(ctx context.Context) (err error) {
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	defer func() {
		// Nothing inside should panic, but a refresh must never take the
		// server down: count it as a failed attempt.
		if r := recover(); r != nil {
			s.log.Error("refresh panicked", slog.String("event", "refresh_panic"), slog.String("panic", s.redact(fmt.Sprint(r))))
			err = s.apply(outcomeUnreachable, Config{}, nil, "internal error during refresh")
		}
	}()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("tenantconfig: refresh: %w", err)
	}

	values, ferr := s.fetch(ctx)
	if ferr != nil {
		var ce *callError
		if !errors.As(ferr, &ce) && ctx.Err() != nil {
			// Our caller gave up; that says nothing about Infisical.
			return fmt.Errorf("tenantconfig: refresh: %w", ctx.Err())
		}
		if ce != nil && ce.rejected() {
			return s.apply(outcomeRevoked, Config{}, nil, s.redact(ce.Error()))
		}
		return s.apply(outcomeUnreachable, Config{}, nil, s.redact(ferr.Error()))
	}
	cfg, missing := parseConfig(values, s.set.ExternalID)
	if len(missing) > 0 {
		return s.apply(outcomeIncomplete, Config{}, missing, "")
	}
	if s.set.AccountID != "" {
		if bad := cfg.outsideAccount(s.set.AccountID); len(bad) > 0 {
			return s.apply(outcomeOutside, Config{}, bad, "")
		}
	}
	return s.apply(outcomeOK, cfg, nil, "")
}

// fetch logs in when needed and lists the secrets. A 401/403 on the list
// with a token we believed valid gets one fresh login and retry: Infisical
// answers an expired token with 403 TokenError, so only a rejection after a
// fresh login means access is gone.
func (s *Source) fetch(ctx context.Context) (map[string]string, error) {
	fresh := false
	if !s.loggedIn || (!s.tokenExpiry.IsZero() && !s.now().Before(s.tokenExpiry)) {
		if err := s.login(ctx); err != nil {
			return nil, err
		}
		fresh = true
	}
	values, err := s.list(ctx)
	var ce *callError
	if err == nil || fresh || !errors.As(err, &ce) || !ce.authRejected() {
		return values, err
	}
	s.log.Info("access token rejected; logging in again",
		slog.String("event", "relogin"), slog.Int("status_code", ce.status))
	s.loggedIn = false
	if err := s.login(ctx); err != nil {
		return nil, err
	}
	return s.list(ctx)
}

func (s *Source) login(ctx context.Context) error {
	s.loggedIn = false
	var (
		cred infisical.MachineIdentityCredential
		err  error
	)
	switch s.set.AuthMethod {
	case AuthKubernetes:
		jwt, rerr := readToken(s.set.TokenFile)
		if rerr != nil {
			s.m.logins.WithLabelValues("failed").Inc()
			return rerr
		}
		s.jwt = jwt
		err = s.call(ctx, "kubernetes login", func() (err error) {
			cred, err = s.client.Auth().KubernetesRawServiceAccountTokenLogin(s.set.IdentityID, jwt)
			return err
		})
	default:
		err = s.call(ctx, "universal-auth login", func() (err error) {
			cred, err = s.client.Auth().UniversalAuthLogin(s.set.ClientID, s.set.ClientSecret)
			return err
		})
	}
	if err != nil {
		var ce *callError
		if errors.As(err, &ce) && ce.rejected() {
			s.m.logins.WithLabelValues("rejected").Inc()
		} else {
			s.m.logins.WithLabelValues("failed").Inc()
		}
		return err
	}
	s.m.logins.WithLabelValues("ok").Inc()
	s.loggedIn = true
	s.tokenExpiry = time.Time{}
	if cred.ExpiresIn > 0 {
		// Log in again a little before expiry rather than eat a rejection.
		ttl := time.Duration(cred.ExpiresIn) * time.Second
		s.tokenExpiry = s.now().Add(ttl - min(ttl/4, 30*time.Second))
	}
	return nil
}

func (s *Source) list(ctx context.Context) (map[string]string, error) {
	var res infisical.ListSecretsResult
	err := s.call(ctx, "list secrets", func() (err error) {
		res, err = s.client.Secrets().ListSecrets(infisical.ListSecretsOptions{
			ProjectID:   s.set.ProjectID,
			Environment: s.set.Environment,
			SecretPath:  s.set.SecretPath,
			// What the Infisical CLI and agents do by default, so a client
			// may reference or import values.
			ExpandSecretReferences: true,
			IncludeImports:         true,
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	values := make(map[string]string, len(res.Secrets))
	s.listed = s.listed[:0]
	for _, sec := range res.Secrets {
		values[sec.SecretKey] = sec.SecretValue
		s.listed = append(s.listed, sec.SecretValue)
	}
	return values, nil
}

// call runs one SDK call bounded by ctx and the call timeout. The SDK takes
// no context, so a call that outlives its deadline is abandoned and left to
// finish on its own; at most one such call exists, later ones fail at once
// until it returns.
func (s *Source) call(ctx context.Context, op string, fn func() error) error {
	ctx, span := tracing.Start(ctx, "Infisical "+op, trace.SpanKindClient, attribute.String("server.address", s.host))
	defer span.End()
	err := s.callSDK(ctx, op, fn)
	if err != nil {
		reason := "error"
		var ce *callError
		if errors.As(err, &ce) && ce.status != 0 {
			span.SetAttributes(attribute.Int("http.response.status_code", ce.status))
			reason = fmt.Sprintf("status %d", ce.status)
		}
		tracing.Fail(span, reason)
	}
	return err
}

// callSDK is call without its span.
func (s *Source) callSDK(ctx context.Context, op string, fn func() error) error {
	if !s.inflight.CompareAndSwap(false, true) {
		return &callError{op: op, msg: "a previous request to Infisical has not returned yet"}
	}
	done := make(chan error, 1)
	go func() {
		var err error
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("infisical sdk panicked: %v", r)
			}
			// Cleared before the result is delivered, so the caller's next
			// call never sees its own finished call as outstanding.
			s.inflight.Store(false)
			done <- err
		}()
		err = fn()
	}()
	ctx, cancel := context.WithTimeoutCause(ctx, s.callTimeout, errCallTimeout)
	defer cancel()
	select {
	case err := <-done:
		if err != nil {
			return newCallError(op, err)
		}
		return nil
	case <-ctx.Done():
		if context.Cause(ctx) == errCallTimeout {
			return &callError{op: op, msg: fmt.Sprintf("no answer from Infisical within %s", s.callTimeout)}
		}
		return fmt.Errorf("%s: %w", op, ctx.Err())
	}
}

func readToken(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", &callError{op: "read service-account token", msg: err.Error()}
	}
	defer func() { _ = f.Close() }()
	b, err := io.ReadAll(io.LimitReader(f, maxTokenFileSize+1))
	if err != nil {
		return "", &callError{op: "read service-account token", msg: err.Error()}
	}
	if len(b) > maxTokenFileSize {
		return "", &callError{op: "read service-account token", msg: fmt.Sprintf("%s is larger than %d bytes", path, maxTokenFileSize)}
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", &callError{op: "read service-account token", msg: fmt.Sprintf("%s is empty", path)}
	}
	return tok, nil
}

// callError is a failed Infisical call, with what we may show of it.
type callError struct {
	op     string
	status int // HTTP status; 0 when there was no answer
	msg    string
}

func (e *callError) Error() string {
	if e.status != 0 {
		if e.msg == "" {
			return fmt.Sprintf("%s: Infisical answered %d", e.op, e.status)
		}
		return fmt.Sprintf("%s: Infisical answered %d: %s", e.op, e.status, e.msg)
	}
	return fmt.Sprintf("%s: %s", e.op, e.msg)
}

// rejected: Infisical definitively refused (4xx other than timeout and rate
// limit), as opposed to not answering usefully (network, 5xx, 408, 429).
func (e *callError) rejected() bool {
	return e.status >= 400 && e.status < 500 && e.status != 408 && e.status != 429
}

// authRejected: the answer to a bad or expired token.
func (e *callError) authRejected() bool { return e.status == 401 || e.status == 403 }

func newCallError(op string, err error) *callError {
	var apiErr *infisical.APIError
	if errors.As(err, &apiErr) {
		msg := apiErr.ErrorMessage
		if len(msg) > 300 {
			msg = strings.ToValidUTF8(msg[:300], "") + "…"
		}
		return &callError{op: op, status: apiErr.StatusCode, msg: msg}
	}
	// *infisical.RequestError (network) hides its cause; its text is all
	// there is.
	return &callError{op: op, msg: err.Error()}
}

// redact removes every secret we know of from a message: the client secret,
// the service-account token and all listed values. Infisical's messages
// should hold none, but this text ends up in logs and errors. s.refreshMu
// must be held.
func (s *Source) redact(msg string) string {
	s.mu.RLock()
	cfg := s.cfg
	s.mu.RUnlock()
	known := append([]string{s.set.ClientSecret, s.jwt}, s.listed...)
	for _, k := range RequiredKeys {
		known = append(known, cfg.value(k))
	}
	known = append(known, cfg.APIEndpoint)
	for _, v := range known {
		// Very short values would blank out ordinary words and are not
		// credible secrets.
		if len(v) >= 4 {
			msg = strings.ReplaceAll(msg, v, "[REDACTED]")
		}
	}
	return msg
}

func (s *Source) where() string {
	return fmt.Sprintf("project %s, environment %s, path %s", s.set.ProjectID, s.set.Environment, s.set.SecretPath)
}

// graceExceededErr needs s.mu held.
func (s *Source) graceExceededErr() error {
	return fmt.Errorf("%w: Infisical unreachable since %s and the grace period of %s since the last successful refresh (%s) is over",
		ErrUnavailable, s.failingSince.UTC().Format(time.RFC3339), s.set.Grace, s.lastSuccess.UTC().Format(time.RFC3339))
}

// apply records a refresh's outcome, logs and counts it, and tells the
// listeners if the served config changed. It returns Refresh's error.
func (s *Source) apply(outcome string, cfg Config, missing []string, detail string) error {
	now := s.now()
	s.m.refreshes.WithLabelValues(outcome).Inc()

	s.mu.Lock()
	prev, old, everLoaded := s.st, s.served(), !s.lastSuccess.IsZero()
	var result error
	switch outcome {
	case outcomeOK:
		s.st, s.cfg, s.err = stateOK, cfg, nil
		s.lastSuccess, s.failingSince, s.failures = now, time.Time{}, 0
	case outcomeRevoked:
		s.st, s.cfg = stateRevoked, Config{}
		s.err = fmt.Errorf("%w: %s (%s)", ErrRevoked, detail, s.where())
		result = s.err
	case outcomeIncomplete:
		s.st, s.cfg = stateIncomplete, Config{}
		s.err = fmt.Errorf("%w: missing required secrets %s in %s", ErrIncomplete, strings.Join(missing, ", "), s.where())
		result = s.err
	case outcomeOutside:
		// Fail closed: a role or resource outside the client's account could
		// be another client's, or Superviber's own.
		s.st, s.cfg = stateIncomplete, Config{}
		s.err = fmt.Errorf("%w: refused: %s (%s)", ErrOutsideAccount, strings.Join(missing, "; "), s.where())
		result = s.err
	case outcomeUnreachable:
		result = fmt.Errorf("%w: refresh failed: %s", ErrUnavailable, detail)
		if s.failingSince.IsZero() {
			s.failingSince = now
		}
		switch s.st {
		case stateOK, stateStale:
			if now.Sub(s.lastSuccess) <= s.set.Grace {
				s.st = stateStale
			} else {
				s.st, s.cfg = stateUnavailable, Config{}
				s.err = fmt.Errorf("%w: %s", s.graceExceededErr(), detail)
			}
		case stateLoading, stateUnavailable:
			s.st = stateUnavailable
			if s.lastSuccess.IsZero() {
				s.err = fmt.Errorf("%w: %w: %s", ErrUnavailable, ErrNotLoaded, detail)
			}
		case stateRevoked, stateIncomplete:
			// Still failed closed: without an answer we cannot know access
			// or the secrets came back.
		}
	}
	if outcome != outcomeOK {
		s.failures++
	}
	tr := transition{
		prev: prev, st: s.st, outcome: outcome, old: old, current: s.served(), firstLoad: outcome == outcomeOK && !everLoaded,
		missing: missing, missingChanged: (outcome == outcomeIncomplete || outcome == outcomeOutside) && !slices.Equal(missing, s.missing),
		detail: detail, now: now, lastSuccess: s.lastSuccess, failingSince: s.failingSince,
	}
	if outcome == outcomeIncomplete || outcome == outcomeOutside {
		s.missing = missing
	}
	listeners := slices.Clone(s.listeners)
	s.mu.Unlock()

	s.m.setState(tr.st)
	s.logTransition(tr)
	if tr.old != tr.current {
		for _, fn := range listeners {
			s.notify(fn, tr.old, tr.current)
		}
	}
	return result
}

// served is the config Current would return, ignoring the clock; s.mu held.
func (s *Source) served() Config {
	if s.st == stateOK || s.st == stateStale {
		return s.cfg
	}
	return Config{}
}

func (s *Source) notify(fn func(old, new Config), old, current Config) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("OnChange listener panicked", slog.String("event", "listener_panic"))
		}
	}()
	fn(old, current)
}

// transition is what one refresh changed, for logging.
type transition struct {
	prev, st                       state
	outcome                        string
	old, current                   Config
	firstLoad                      bool
	missing                        []string
	missingChanged                 bool
	detail                         string
	now, lastSuccess, failingSince time.Time
}

// logTransition logs state changes once, at a level that fits, and repeats
// of a failed state at debug, with stable keys and never a value.
func (s *Source) logTransition(t transition) {
	log := s.log.With(slog.String("state", t.st.String()), slog.String("previous_state", t.prev.String()), slog.String("outcome", t.outcome))
	rotated := t.old != t.current && !t.old.IsZero() && !t.current.IsZero()
	switch {
	case t.firstLoad:
		log.Info("tenant config loaded", slog.String("event", "config_loaded"))
	case t.st == stateOK && t.prev != stateOK && t.prev != stateStale:
		log.Info("tenant config restored", slog.String("event", "config_restored"))
	case t.st == stateOK && t.prev == stateStale:
		log.Info("Infisical reachable again", slog.String("event", "infisical_recovered"),
			slog.Float64("outage_seconds", t.now.Sub(t.failingSince).Seconds()))
	}
	if t.st == stateOK {
		if rotated {
			log.Info("tenant config rotated", slog.String("event", "config_rotated"), slog.Any("changed_keys", changedKeys(t.old, t.current)))
		} else if t.prev == stateOK {
			log.Debug("tenant config refreshed", slog.String("event", "refresh_ok"))
		}
		return
	}
	switch {
	case t.st == stateRevoked && t.prev != stateRevoked:
		log.Error("access revoked by the client; failing closed", slog.String("event", "access_revoked"), slog.String("error", t.detail))
	case t.outcome == outcomeOutside && (t.prev != stateIncomplete || t.missingChanged):
		log.Error("settings point outside the client's AWS account; failing closed", slog.String("event", "config_outside_account"), slog.Any("refused", t.missing))
	case t.st == stateIncomplete && (t.prev != stateIncomplete || t.missingChanged):
		log.Error("required secrets missing; failing closed", slog.String("event", "config_incomplete"), slog.Any("missing_keys", t.missing))
	case t.st == stateStale:
		log.Warn("Infisical unreachable; serving cached config", slog.String("event", "infisical_unreachable"),
			slog.Float64("grace_left_seconds", (s.set.Grace-t.now.Sub(t.lastSuccess)).Seconds()), slog.String("error", t.detail))
	case t.st == stateUnavailable && (t.prev == stateStale || t.prev == stateOK):
		log.Error("Infisical unreachable past the grace period; failing closed", slog.String("event", "grace_exceeded"),
			slog.Float64("grace_seconds", s.set.Grace.Seconds()), slog.String("error", t.detail))
	case t.st == stateUnavailable && t.prev == stateLoading:
		log.Warn("Infisical unreachable; no config to serve", slog.String("event", "infisical_unreachable"), slog.String("error", t.detail))
	default:
		// Same failed state as before: keep the log quiet.
		log.Debug("refresh failed", slog.String("event", "refresh_failed"), slog.String("error", t.detail))
	}
}

// lastSuccessAge feeds the age metric: seconds since the last successful
// refresh, or since the Source was created if there was none, so an alert on
// the age also fires when the config never loads.
func (s *Source) lastSuccessAge() float64 {
	now := s.now()
	s.mu.RLock()
	base := s.lastSuccess
	s.mu.RUnlock()
	if base.IsZero() {
		base = s.created
	}
	return now.Sub(base).Seconds()
}

// Problems names what the last listing lacked or had wrong: the required
// keys missing (ErrIncomplete), or the settings outside the client's
// account (ErrOutsideAccount); nil otherwise. Key names and account ids
// only, never a value.
func (s *Source) Problems() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.st != stateIncomplete {
		return nil
	}
	return slices.Clone(s.missing)
}
