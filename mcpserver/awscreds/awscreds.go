// Package awscreds turns the pod's own AWS identity (the tenant's hop role in
// Superviber's account, obtained through IRSA web identity) into credentials for
// the client's role: sts:AssumeRole with the client's ExternalId and a
// RoleSessionName naming the tenant and caller, so the client's CloudTrail shows
// who acted.
//
// Credentials are cached per (role, external id, caller), refreshed before they
// expire, and concurrent refreshes of one key collapse into one STS call. In
// steady state a request costs no STS call and no lock.
package awscreds

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"

	"github.com/superviber/blue-operator/mcpserver/tracing"
)

// Defaults for Options.
const (
	DefaultDuration      = time.Hour
	DefaultRefreshBefore = 5 * time.Minute
)

const (
	// minDuration is STS's minimum DurationSeconds.
	minDuration = 15 * time.Minute
	// maxDuration: the pod's identity is always a role (IRSA), and STS caps
	// sessions assumed with role credentials ("role chaining") at one hour,
	// whatever the client role's MaxSessionDuration says.
	maxDuration = time.Hour
	// DefaultCallTimeout bounds one STS call (Options.CallTimeout). The call
	// runs detached from the caller that started it, since other callers may
	// be waiting on the same result.
	DefaultCallTimeout = 30 * time.Second
	// staleRetry is the longest wait between refresh attempts while a
	// transient STS failure is bridged with still-valid cached credentials.
	staleRetry = 30 * time.Second
	// hopExpiryWindow refreshes the pod's own credentials a minute early so a
	// signature is never made with credentials about to lapse.
	hopExpiryWindow = time.Minute
)

// Outcome values: the outcome label of the metrics, the outcome log key, and
// AssumeError.Outcome.
const (
	// OutcomeOK: credentials issued.
	OutcomeOK = "ok"
	// OutcomeDenied: the client's role refused the assume (trust policy or
	// ExternalId); also returned by AWS for a role that does not exist.
	OutcomeDenied = "denied"
	// OutcomeHopCredentials: the pod's own identity was unavailable or rejected.
	OutcomeHopCredentials = "hop_credentials"
	// OutcomeInvalid: STS rejected the parameters (e.g. a malformed role ARN).
	OutcomeInvalid = "invalid"
	// OutcomeError: anything else (network, throttling, STS faults, timeouts).
	OutcomeError = "error"
)

var outcomes = []string{OutcomeOK, OutcomeDenied, OutcomeHopCredentials, OutcomeInvalid, OutcomeError}

// ErrRoleRefused matches (errors.Is) every error where the client's role
// refused the assume: wrong ExternalId, trust policy not naming the hop role,
// or no such role.
var ErrRoleRefused = errors.New("client role refused the assume")

// ErrNotConfigured matches errors for a Target missing its role ARN or
// ExternalId (AWS_ROLE_ARN / EXTERNAL_ID absent from the client's config).
var ErrNotConfigured = errors.New("client AWS role not configured")

// Options configures an Assumer.
type Options struct {
	// Tenant names the tenant in session names. Required.
	Tenant string
	// Region is the STS region (the tenant's spec.aws.region). Required.
	Region string
	// STSEndpoint overrides the STS endpoint (tests, other partitions). With
	// Base nil it is used for the web identity hop as well.
	STSEndpoint string
	// STSClientOptions are applied to every STS client the Assumer makes,
	// for example to change the SDK's retries.
	STSClientOptions []func(*sts.Options)
	// Duration is the requested session length; default 1h, between 15m and
	// 1h (STS's limit for role chaining).
	Duration time.Duration
	// RefreshBefore is how long before expiry credentials are refreshed;
	// default 5m; must be less than Duration. It is capped at half the
	// lifetime STS actually granted, so short-lived credentials are not
	// refreshed on every call.
	RefreshBefore time.Duration
	// Base is the pod's own (hop role) credentials; nil loads the SDK's
	// default chain (IRSA: AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE).
	Base aws.CredentialsProvider
	// HTTPClient is optional.
	HTTPClient aws.HTTPClient
	// CallTimeout bounds each credentials call (AssumeRole, with its
	// retries); DefaultCallTimeout when zero.
	CallTimeout time.Duration
	// NoSourceIdentity leaves sts:SourceIdentity out of AssumeRole. By
	// default every session carries the caller (SourceIdentity), so the
	// client's CloudTrail and IAM conditions can tell engineers apart; that
	// needs sts:SetSourceIdentity in the client role's trust policy (the
	// onboarding kit's since this option exists). Set it only for a client
	// whose role predates that.
	NoSourceIdentity bool
}

// Target is the client's role, from the client's own configuration.
type Target struct {
	RoleARN    string
	ExternalID string
}

// Assumer assumes client roles on behalf of callers and caches the results.
// It is safe for concurrent use.
type Assumer struct {
	tenant        string
	sourceID      bool
	duration      time.Duration
	refreshBefore time.Duration
	callTimeout   time.Duration
	client        *sts.Client
	log           *slog.Logger
	metrics       *metrics

	// snap is read without locks on every Retrieve; writers replace it whole
	// under mu (copy on write), which is cheap because writes happen about
	// once per caller per hour.
	snap    atomic.Pointer[snapshot]
	mu      sync.Mutex
	flights singleflight.Group
}

type cacheKey struct {
	role, externalID, caller string
}

type entry struct {
	creds     aws.Credentials
	refreshAt time.Time
}

// snapshot is an immutable view of the cache. gen changes on Drop, so that a
// call started before a Drop cannot put its result back.
type snapshot struct {
	gen     uint64
	entries map[cacheKey]entry
}

// New returns an Assumer that signs its STS calls with o.Base (or the default
// credential chain). It does not call STS.
func New(ctx context.Context, o Options, log *slog.Logger, reg prometheus.Registerer) (*Assumer, error) {
	stsOpts := o.STSClientOptions
	if o.Tenant == "" {
		return nil, errors.New("awscreds: Options.Tenant is required")
	}
	if o.Region == "" {
		return nil, errors.New("awscreds: Options.Region is required")
	}
	if o.Duration == 0 {
		o.Duration = DefaultDuration
	}
	if o.Duration < minDuration || o.Duration > maxDuration {
		return nil, fmt.Errorf("awscreds: Options.Duration %v outside [%v, %v] (STS caps sessions assumed from a role, as the IRSA hop role is, at 1h)", o.Duration, minDuration, maxDuration)
	}
	if o.RefreshBefore == 0 {
		o.RefreshBefore = DefaultRefreshBefore
	}
	if o.RefreshBefore < 0 || o.RefreshBefore >= o.Duration {
		return nil, fmt.Errorf("awscreds: Options.RefreshBefore %v must be positive and less than Duration %v", o.RefreshBefore, o.Duration)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	cfg, err := baseConfig(ctx, o, stsOpts)
	if err != nil {
		return nil, err
	}
	opts := append([]func(*sts.Options){func(so *sts.Options) {
		so.APIOptions = append(so.APIOptions, tracing.AWSMiddleware)
		if o.STSEndpoint != "" {
			so.BaseEndpoint = aws.String(o.STSEndpoint)
		}
	}}, stsOpts...)
	a := &Assumer{
		callTimeout:   o.CallTimeout,
		tenant:        o.Tenant,
		sourceID:      !o.NoSourceIdentity,
		duration:      o.Duration,
		refreshBefore: o.RefreshBefore,
		client:        sts.NewFromConfig(cfg, opts...),
		log:           log,
		metrics:       m,
	}
	a.snap.Store(&snapshot{entries: map[cacheKey]entry{}})
	return a, nil
}

// baseConfig builds the AWS config whose credentials are the pod's own.
func baseConfig(ctx context.Context, o Options, stsOpts []func(*sts.Options)) (aws.Config, error) {
	if o.Base != nil {
		base := o.Base
		// Without a cache every AssumeRole would first re-run the base
		// provider (for web identity: another STS call).
		if !aws.IsCredentialsProvider(base, (*aws.CredentialsCache)(nil)) {
			base = aws.NewCredentialsCache(base, func(co *aws.CredentialsCacheOptions) { co.ExpiryWindow = hopExpiryWindow })
		}
		cfg := aws.Config{Region: o.Region, Credentials: hopProvider{base}}
		if o.HTTPClient != nil {
			cfg.HTTPClient = o.HTTPClient
		}
		return cfg, nil
	}

	loadOpts := []func(*config.LoadOptions) error{
		config.WithRegion(o.Region),
		config.WithCredentialsCacheOptions(func(co *aws.CredentialsCacheOptions) { co.ExpiryWindow = hopExpiryWindow }),
	}
	if o.HTTPClient != nil {
		loadOpts = append(loadOpts, config.WithHTTPClient(o.HTTPClient))
	}
	if o.STSEndpoint != "" {
		// The default chain builds its web identity STS client before it
		// resolves endpoint settings, so the override has to be handed in.
		wiOpts := append([]func(*sts.Options){func(so *sts.Options) {
			so.BaseEndpoint = aws.String(o.STSEndpoint)
			if o.HTTPClient != nil {
				so.HTTPClient = o.HTTPClient
			}
		}}, stsOpts...)
		wiClient := sts.New(sts.Options{Region: o.Region}, wiOpts...)
		loadOpts = append(loadOpts, config.WithWebIdentityRoleCredentialOptions(func(wo *stscreds.WebIdentityRoleOptions) {
			wo.Client = wiClient
		}))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("awscreds: load the pod's AWS credentials (default chain): %w", err)
	}
	if cfg.Credentials == nil {
		return aws.Config{}, errors.New("awscreds: the default credential chain found no credentials (is IRSA configured: AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE?)")
	}
	cfg.Credentials = hopProvider{cfg.Credentials}
	return cfg, nil
}

// Provider returns an aws.CredentialsProvider for the client's role as seen
// by one caller. Providers are cheap; every provider for the same (target,
// caller) shares one cache entry. The SDK's service clients call Retrieve on
// every request (they do not cache), so Drop takes effect at once.
func (a *Assumer) Provider(t Target, caller string) aws.CredentialsProvider {
	return &provider{
		a:       a,
		key:     cacheKey{role: t.RoleARN, externalID: t.ExternalID, caller: caller},
		session: SessionName(a.tenant, caller),
	}
}

// Drop forgets every cached credential at once (access revoked, client
// configuration rotated). Calls in flight when Drop is called still return
// their result to their callers but do not repopulate the cache.
func (a *Assumer) Drop() {
	a.mu.Lock()
	cur := a.snap.Load()
	a.snap.Store(&snapshot{gen: cur.gen + 1, entries: map[cacheKey]entry{}})
	a.mu.Unlock()
	a.log.Info("dropped cached AWS credentials", "event", "sts_cache_dropped", "entries", len(cur.entries))
}

type provider struct {
	a       *Assumer
	key     cacheKey
	session string
}

// Retrieve implements aws.CredentialsProvider.
func (p *provider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	if p.key.role == "" || p.key.externalID == "" {
		return aws.Credentials{}, fmt.Errorf("%w: the client's configuration lacks AWS_ROLE_ARN or EXTERNAL_ID", ErrNotConfigured)
	}
	return p.a.retrieve(ctx, p.key, p.session)
}

// Verify assumes the client's role now, past the cache, as the server itself
// (caller ""), and returns the fresh credentials. It answers whether the
// client still lets the tenant in: a removed trust policy or a changed
// ExternalId does not end sessions already issued, so cached credentials
// would keep working for up to an hour. A refusal drops every cached
// credential at once, so the tools stop using sessions the client meant to
// end; the error is an *AssumeError as from Retrieve.
func (a *Assumer) Verify(ctx context.Context, t Target) (aws.Credentials, error) {
	if t.RoleARN == "" || t.ExternalID == "" {
		return aws.Credentials{}, fmt.Errorf("%w: the client's configuration lacks AWS_ROLE_ARN or the ExternalId", ErrNotConfigured)
	}
	ctx, cancel := context.WithTimeout(ctx, a.timeout())
	defer cancel()
	k := cacheKey{role: t.RoleARN, externalID: t.ExternalID}
	c, err := a.assume(ctx, k, SessionName(a.tenant, ""))
	if errors.Is(err, ErrRoleRefused) {
		a.Drop()
	}
	return c, err
}

func (a *Assumer) retrieve(ctx context.Context, k cacheKey, session string) (aws.Credentials, error) {
	snap := a.snap.Load()
	if e, ok := snap.entries[k]; ok && time.Now().Before(e.refreshAt) {
		return e.creds, nil
	}
	ch := a.flights.DoChan(flightKey(snap.gen, k), func() (any, error) {
		return a.refresh(ctx, k, session, snap.gen)
	})
	// Each waiter honours its own context; the shared call carries on for
	// the others.
	select {
	case r := <-ch:
		if r.Err != nil {
			return aws.Credentials{}, r.Err
		}
		return r.Val.(aws.Credentials), nil
	case <-ctx.Done():
		return aws.Credentials{}, fmt.Errorf("awscreds: waiting for credentials for %s: %w", k.role, context.Cause(ctx))
	}
}

func (a *Assumer) timeout() time.Duration {
	if a.callTimeout <= 0 {
		return DefaultCallTimeout
	}
	return a.callTimeout
}

func flightKey(gen uint64, k cacheKey) string {
	return strconv.FormatUint(gen, 10) + "\x00" + k.role + "\x00" + k.externalID + "\x00" + k.caller
}

// refresh runs once per flight: it assumes the role and updates the cache.
func (a *Assumer) refresh(ctx context.Context, k cacheKey, session string, gen uint64) (aws.Credentials, error) {
	now := time.Now()
	// A flight that finished between our cache miss and joining this one has
	// already stored fresh credentials.
	cached, haveCached := a.snap.Load().entries[k]
	if haveCached && now.Before(cached.refreshAt) {
		return cached.creds, nil
	}

	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.timeout())
	defer cancel()
	creds, err := a.assume(callCtx, k, session)
	if err == nil {
		a.store(gen, k, a.newEntry(creds, now))
		return creds, nil
	}

	var ae *AssumeError
	isAssumeErr := errors.As(err, &ae)
	if isAssumeErr && ae.Outcome == OutcomeDenied {
		// The client revoked or changed its trust: fail closed at once rather
		// than keep using credentials it no longer wants us to have.
		a.evict(k)
		return aws.Credentials{}, err
	}
	if haveCached && now.Before(cached.creds.Expires) {
		// Transient failure inside the refresh window: the cached credentials
		// are still valid, so bridge with them and try again shortly.
		retryAt := now.Add(min(staleRetry, cached.creds.Expires.Sub(now)/2))
		a.store(gen, k, entry{creds: cached.creds, refreshAt: retryAt})
		outcome := OutcomeError
		if isAssumeErr {
			outcome = ae.Outcome
		}
		a.log.Warn("refresh failed, using cached AWS credentials until they expire",
			"event", "sts_refresh_failed", "role_arn", k.role, "session_name", session,
			"outcome", outcome, "expires", cached.creds.Expires, "retry_at", retryAt)
		return cached.creds, nil
	}
	return aws.Credentials{}, err
}

func (a *Assumer) newEntry(c aws.Credentials, issued time.Time) entry {
	before := a.refreshBefore
	if half := c.Expires.Sub(issued) / 2; before > half {
		before = half
	}
	return entry{creds: c, refreshAt: c.Expires.Add(-before)}
}

// store puts e in the cache unless a Drop happened since gen was read, and
// sweeps entries that have expired (callers who went away).
func (a *Assumer) store(gen uint64, k cacheKey, e entry) {
	a.mu.Lock()
	defer a.mu.Unlock()
	cur := a.snap.Load()
	if cur.gen != gen {
		return
	}
	now := time.Now()
	next := make(map[cacheKey]entry, len(cur.entries)+1)
	for kk, v := range cur.entries {
		if now.Before(v.creds.Expires) {
			next[kk] = v
		}
	}
	next[k] = e
	a.snap.Store(&snapshot{gen: cur.gen, entries: next})
}

func (a *Assumer) evict(k cacheKey) {
	a.mu.Lock()
	defer a.mu.Unlock()
	cur := a.snap.Load()
	if _, ok := cur.entries[k]; !ok {
		return
	}
	next := make(map[cacheKey]entry, len(cur.entries))
	for kk, v := range cur.entries {
		if kk != k {
			next[kk] = v
		}
	}
	a.snap.Store(&snapshot{gen: cur.gen, entries: next})
}

// assume makes one sts:AssumeRole call, with metrics and a log line.
func (a *Assumer) assume(ctx context.Context, k cacheKey, session string) (aws.Credentials, error) {
	in := &sts.AssumeRoleInput{
		RoleArn:         aws.String(k.role),
		RoleSessionName: aws.String(session),
		ExternalId:      aws.String(k.externalID),
		DurationSeconds: aws.Int32(int32(a.duration / time.Second)),
	}
	if a.sourceID {
		in.SourceIdentity = aws.String(SourceIdentity(a.tenant, k.caller))
	}
	start := time.Now()
	out, err := a.client.AssumeRole(ctx, in)
	elapsed := time.Since(start)

	var creds aws.Credentials
	var reqID string
	if err == nil {
		reqID, _ = awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
		creds, err = credentialsFrom(out)
		if err != nil {
			err = fmt.Errorf("awscreds: assume %s: %w", k.role, err)
		}
	}
	outcome, code := OutcomeOK, ""
	if err != nil {
		var re *awshttp.ResponseError
		if errors.As(err, &re) {
			reqID = re.ServiceRequestID()
		}
		outcome, code = classify(err)
		err = &AssumeError{RoleARN: k.role, SessionName: session, Outcome: outcome, Code: code, RequestID: reqID, Err: err}
	}
	a.metrics.total.WithLabelValues(outcome).Inc()
	a.metrics.latency.WithLabelValues(outcome).Observe(elapsed.Seconds())

	attrs := []any{
		"event", "sts_assume", "role_arn", k.role, "session_name", session, "source_identity", aws.ToString(in.SourceIdentity),
		"outcome", outcome, "aws_request_id", reqID, "duration_ms", elapsed.Milliseconds(),
	}
	if err != nil {
		a.log.Warn("sts:AssumeRole failed", append(attrs, "error_code", code, "error", err.Error())...)
		return aws.Credentials{}, err
	}
	a.log.Info("sts:AssumeRole", append(attrs, "expires", creds.Expires)...)
	return creds, nil
}

func credentialsFrom(out *sts.AssumeRoleOutput) (aws.Credentials, error) {
	c := out.Credentials
	if c == nil || c.AccessKeyId == nil || c.SecretAccessKey == nil || c.SessionToken == nil || c.Expiration == nil {
		return aws.Credentials{}, errors.New("STS response lacks credentials")
	}
	var account string
	if u := out.AssumedRoleUser; u != nil {
		// arn:aws:sts::<account>:assumed-role/<role>/<session>
		if f := strings.SplitN(aws.ToString(u.Arn), ":", 6); len(f) == 6 {
			account = f[4]
		}
	}
	return aws.Credentials{
		AccessKeyID:     *c.AccessKeyId,
		SecretAccessKey: *c.SecretAccessKey,
		SessionToken:    *c.SessionToken,
		Source:          "awscreds.AssumeRole",
		CanExpire:       true,
		Expires:         *c.Expiration,
		AccountID:       account,
	}, nil
}

// classify maps an AssumeRole error to an outcome and the STS error code.
func classify(err error) (outcome, code string) {
	var api smithy.APIError
	if errors.As(err, &api) {
		code = api.ErrorCode()
	}
	var hop *hopError
	if errors.As(err, &hop) {
		return OutcomeHopCredentials, code
	}
	switch code {
	case "":
		return OutcomeError, code
	case "AccessDenied":
		return OutcomeDenied, code
	case "InvalidClientTokenId", "ExpiredToken", "SignatureDoesNotMatch", "IncompleteSignature",
		"MissingAuthenticationToken", "UnrecognizedClientException":
		return OutcomeHopCredentials, code
	case "ValidationError", "InvalidParameterValue", "MalformedPolicyDocument":
		return OutcomeInvalid, code
	}
	return OutcomeError, code
}

// AssumeError is a failed sts:AssumeRole into a client role. Its message is
// meant for a tool error: it names the role and what to check, and never
// contains credentials.
type AssumeError struct {
	RoleARN     string
	SessionName string
	// Outcome is one of the Outcome constants.
	Outcome string
	// Code is STS's error code, if STS answered.
	Code string
	// RequestID is STS's request id, if STS answered.
	RequestID string
	// Err is the SDK's error.
	Err error
}

// Error names the role and what to check; for refusals it leaves out STS's
// own message, which names Superviber's internal role ARN.
func (e *AssumeError) Error() string {
	ref := ""
	if e.RequestID != "" {
		ref = fmt.Sprintf(" (STS %s, request id %s)", e.Code, e.RequestID)
	}
	switch e.Outcome {
	case OutcomeDenied:
		if e.SourceIdentityRefused() {
			return fmt.Sprintf("the client's AWS role %s refused sts:SetSourceIdentity for session %s: its trust policy lets this tenant's Superviber role assume it but not set the caller as source identity; add sts:SetSourceIdentity to the trust policy's actions (the onboarding kit's policy has it)%s",
				e.RoleARN, e.SessionName, ref)
		}
		return fmt.Sprintf("the client's AWS role %s refused sts:AssumeRole for session %s: the ExternalId is wrong or the role's trust policy does not allow this tenant's Superviber role; check AWS_ROLE_ARN in the client's Infisical configuration, and that the role's trust policy names the tenant's hop role and requires the ExternalId Superviber issued (the BlueTenant's status.externalID, not EXTERNAL_ID in Infisical)%s",
			e.RoleARN, e.SessionName, ref)
	case OutcomeHopCredentials:
		return fmt.Sprintf("could not assume the client's AWS role %s: Superviber's own AWS identity for this tenant (the pod's hop role) is unavailable or was rejected: %v", e.RoleARN, e.Err)
	case OutcomeInvalid:
		return fmt.Sprintf("could not assume the client's AWS role %s: STS rejected the request as invalid (check AWS_ROLE_ARN): %v", e.RoleARN, e.Err)
	}
	return fmt.Sprintf("could not assume the client's AWS role %s: %v", e.RoleARN, e.Err)
}

// SourceIdentityRefused reports a refusal of sts:SetSourceIdentity alone:
// the trust policy lets the hop role assume the role but not name the
// caller. STS says so only in its message (the code is AccessDenied).
func (e *AssumeError) SourceIdentityRefused() bool {
	var api smithy.APIError
	return e.Outcome == OutcomeDenied && errors.As(e.Err, &api) && strings.Contains(api.ErrorMessage(), "sts:SetSourceIdentity")
}

// Unwrap exposes the SDK error and, for refusals, ErrRoleRefused.
func (e *AssumeError) Unwrap() []error {
	if e.Outcome == OutcomeDenied {
		return []error{ErrRoleRefused, e.Err}
	}
	return []error{e.Err}
}

// hopProvider marks failures of the pod's own credentials, which reach us
// wrapped in the SDK's signing errors.
type hopProvider struct {
	p aws.CredentialsProvider
}

func (h hopProvider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	c, err := h.p.Retrieve(ctx)
	if err != nil {
		return aws.Credentials{}, &hopError{err: err}
	}
	return c, nil
}

type hopError struct{ err error }

func (e *hopError) Error() string { return "retrieve the pod's own AWS credentials: " + e.err.Error() }
func (e *hopError) Unwrap() error { return e.err }

type metrics struct {
	total   *prometheus.CounterVec
	latency *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "blue_sts_assume_total",
			Help: "sts:AssumeRole calls into the client's role, by outcome.",
		}, []string{"outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "blue_sts_assume_duration_seconds",
			Help:    "Latency of sts:AssumeRole calls into the client's role, by outcome.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"outcome"}),
	}
	if reg != nil {
		var err error
		if m.total, err = registerOrReuse(reg, m.total); err != nil {
			return nil, err
		}
		if m.latency, err = registerOrReuse(reg, m.latency); err != nil {
			return nil, err
		}
	}
	// Export zeros so alerts on rate(...{outcome="denied"}) work from the
	// first scrape.
	for _, o := range outcomes {
		m.total.WithLabelValues(o)
	}
	return m, nil
}

// registerOrReuse lets several Assumers (tests, restarts of a component)
// share one registry.
func registerOrReuse[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, fmt.Errorf("awscreds: register metrics: %w", err)
}
