package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/modelcontextprotocol/go-sdk/auth"
)

// OIDCLeeway is the clock skew allowed on a token's exp and nbf, the same
// as the bearer middleware allows on the expiration it is given.
const OIDCLeeway = 30 * time.Second

// maxIdPDocument caps the discovery document and the JWKS: a provider that
// answers with more is refused, not read into memory.
const maxIdPDocument = 1 << 20

// asymmetricAlgs are the only signature algorithms a token may use. An
// HMAC (HS256, ...) token would be signed with a shared secret, which the
// provider never gives this server, so none is accepted; nor is "none".
var asymmetricAlgs = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512,
	jose.ES256, jose.ES384, jose.ES512,
	jose.PS256, jose.PS384, jose.PS512,
	jose.EdDSA,
}

// OIDCTiming bounds the server's requests to the identity provider; zero
// fields take the defaults.
type OIDCTiming struct {
	// FetchTimeout bounds each discovery and JWKS request (default 10s).
	FetchTimeout time.Duration
	// KeyRefetch is the least time between two JWKS fetches: a token with a
	// key id the server has not seen refetches the key set only when the
	// last fetch is at least this old (default 10s), so a flood of made-up
	// key ids costs the provider at most one request per period.
	KeyRefetch time.Duration
	// RetryMin and RetryMax bound the backoff between discovery attempts
	// while the provider cannot be reached (default 1s, doubling to 1m).
	RetryMin, RetryMax time.Duration
}

func (t OIDCTiming) withDefaults() OIDCTiming {
	if t.FetchTimeout <= 0 {
		t.FetchTimeout = 10 * time.Second
	}
	if t.KeyRefetch <= 0 {
		t.KeyRefetch = 10 * time.Second
	}
	if t.RetryMin <= 0 {
		t.RetryMin = time.Second
	}
	if t.RetryMax < t.RetryMin {
		t.RetryMax = max(time.Minute, t.RetryMin)
	}
	return t
}

// emailDomain is a lower-case DNS name, as the CRD's allowedEmailDomains
// rule has it.
var emailDomain = regexp.MustCompile(`^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)

// CheckEmailDomain says whether d can be an entry of the email-domain
// allow-list: a lower-case domain name such as acme.com, without "@",
// scheme or wildcard.
func CheckEmailDomain(d string) error {
	if len(d) > 253 || !emailDomain.MatchString(d) {
		return fmt.Errorf("%q is not a lower-case domain name such as acme.com (no @, scheme or wildcard)", d)
	}
	return nil
}

// allowList narrows the callers the provider vouches for to this tenant's.
// An empty list admits anyone; each list that is set must admit the caller.
type allowList struct {
	subjects, groups, emailDomains []string
}

// claims are the parts of a verified token the server decides on.
type claims struct {
	Subject       string
	Expiry        time.Time // zero: no exp claim
	NotBefore     time.Time // zero: no nbf claim
	Email         string
	EmailVerified bool
	Groups        []string
	Scope         string
}

// admit checks the token's times and the allow-lists, and names the
// caller: the email when there is one (it must then be verified), the
// subject otherwise.
func (l allowList) admit(c claims, now time.Time) (string, error) {
	switch {
	case c.Subject == "":
		return "", errors.New("token has no sub claim")
	case c.Expiry.IsZero():
		return "", errors.New("token has no exp claim")
	case now.After(c.Expiry.Add(OIDCLeeway)):
		return "", fmt.Errorf("token expired at %s", c.Expiry.UTC().Format(time.RFC3339))
	case !c.NotBefore.IsZero() && now.Add(OIDCLeeway).Before(c.NotBefore):
		return "", fmt.Errorf("token is not valid before %s", c.NotBefore.UTC().Format(time.RFC3339))
	case c.Email != "" && !c.EmailVerified:
		// The email would name the caller in the audit log and in the AWS
		// session; an unverified one could be anybody's.
		return "", errors.New("token carries an email without email_verified true")
	}
	if len(l.subjects) > 0 && !slices.Contains(l.subjects, c.Subject) {
		return "", errors.New("subject is not among this tenant's allowed subjects")
	}
	if len(l.groups) > 0 && !slices.ContainsFunc(c.Groups, func(g string) bool { return slices.Contains(l.groups, g) }) {
		return "", errors.New("no group of the token is among this tenant's allowed groups")
	}
	if len(l.emailDomains) > 0 {
		at := strings.LastIndexByte(c.Email, '@')
		if at <= 0 || !slices.Contains(l.emailDomains, strings.ToLower(c.Email[at+1:])) {
			return "", errors.New("email domain is not among this tenant's allowed email domains")
		}
	}
	if c.Email != "" {
		return c.Email, nil
	}
	return c.Subject, nil
}

// rawClaims is the JSON of the claims admit decides on. email_verified and
// groups come in more than one shape: some providers send "true" and a
// single group as a string.
type rawClaims struct {
	Expiry        *jwt.NumericDate `json:"exp"`
	NotBefore     *jwt.NumericDate `json:"nbf"`
	Email         string           `json:"email"`
	EmailVerified json.RawMessage  `json:"email_verified"`
	Groups        json.RawMessage  `json:"groups"`
	Scope         string           `json:"scope"`
}

func (r rawClaims) claims(sub string) (claims, error) {
	c := claims{Subject: sub, Email: r.Email, Scope: r.Scope}
	if r.Expiry != nil {
		c.Expiry = r.Expiry.Time()
	}
	if r.NotBefore != nil {
		c.NotBefore = r.NotBefore.Time()
	}
	switch v := strings.TrimSpace(string(r.EmailVerified)); v {
	case "true", `"true"`:
		c.EmailVerified = true
	}
	if len(r.Groups) > 0 && string(r.Groups) != "null" {
		var one string
		if err := json.Unmarshal(r.Groups, &c.Groups); err != nil {
			c.Groups = nil
			if json.Unmarshal(r.Groups, &one) != nil {
				return c, errors.New("groups claim is neither a list of strings nor a string")
			}
			c.Groups = []string{one}
		}
	}
	return c, nil
}

// oidcAuth verifies JWTs from the client's identity provider. Discovery
// runs in the background, retried with backoff: a provider that cannot be
// reached at start-up keeps the server not ready (and /mcp answering 503)
// until it answers, without a restart.
type oidcAuth struct {
	issuer, audience string
	allow            allowList
	client           *http.Client
	timing           OIDCTiming
	log              *slog.Logger
	now              func() time.Time

	verifier atomic.Pointer[oidc.IDTokenVerifier] // nil until discovery and the first key fetch succeed
	lastErr  atomic.Pointer[string]
}

func newOIDCAuth(o Options) (*oidcAuth, error) {
	if o.OIDCAudience == "" {
		return nil, fmt.Errorf("oidc auth needs an audience (BLUE_OIDC_AUDIENCE)")
	}
	if u, err := url.Parse(o.OIDCIssuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("oidc issuer %q is not an http(s) URL", o.OIDCIssuer)
	}
	a := &oidcAuth{
		issuer: o.OIDCIssuer, audience: o.OIDCAudience, client: o.HTTPClient,
		timing: o.OIDCTiming.withDefaults(), log: o.Log, now: time.Now,
		allow: allowList{subjects: trimmed(o.OIDCAllowedSubjects), groups: trimmed(o.OIDCAllowedGroups)},
	}
	for _, d := range trimmed(o.OIDCAllowedEmailDomains) {
		d = strings.ToLower(d)
		if err := CheckEmailDomain(d); err != nil {
			return nil, fmt.Errorf("oidc allowed email domain: %w", err)
		}
		a.allow.emailDomains = append(a.allow.emailDomains, d)
	}
	if a.client == nil {
		a.client = &http.Client{Timeout: a.timing.FetchTimeout}
	}
	msg := "discovery has not run yet"
	a.lastErr.Store(&msg)
	return a, nil
}

func trimmed(list []string) []string {
	var out []string
	for _, s := range list {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// run discovers the provider, retrying with backoff until it succeeds or
// ctx ends.
func (a *oidcAuth) run(ctx context.Context) {
	wait := a.timing.RetryMin
	for attempt := 1; ; attempt++ {
		err := a.discover(ctx)
		if err == nil {
			a.log.Info("oidc provider ready", "event", "oidc_ready", "issuer", a.issuer, "attempt", attempt)
			return
		}
		msg := err.Error()
		a.lastErr.Store(&msg)
		// Half the wait plus up to as much again at random, so the replicas
		// of many tenants do not come back to one provider in step.
		d := wait/2 + rand.N(wait/2+1)
		a.log.Warn("oidc discovery failed", "event", "oidc_discovery_failed", "issuer", a.issuer, "attempt", attempt, "retry_in", d.String(), "err", msg)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(wait*2, a.timing.RetryMax)
	}
}

// ready is nil once tokens can be verified.
func (a *oidcAuth) ready() error {
	if a.verifier.Load() != nil {
		return nil
	}
	return fmt.Errorf("oidc provider %s not reachable yet: %s", a.issuer, *a.lastErr.Load())
}

// discover reads the discovery document and the key set, and makes the
// verifier.
func (a *oidcAuth) discover(ctx context.Context) error {
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURL string `json:"jwks_uri"`
	}
	if err := a.getJSON(ctx, strings.TrimSuffix(a.issuer, "/")+"/.well-known/openid-configuration", &doc); err != nil {
		return fmt.Errorf("discovery: %w", err)
	}
	if doc.Issuer != a.issuer {
		return fmt.Errorf("discovery: the provider calls itself %q, not %q", doc.Issuer, a.issuer)
	}
	if u, err := url.Parse(doc.JWKSURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("discovery: jwks_uri %q is not an http(s) URL", doc.JWKSURL)
	}
	ks := &keySet{url: doc.JWKSURL, fetch: a.getJSON, every: a.timing.KeyRefetch, now: a.now, sem: make(chan struct{}, 1)}
	if err := ks.refresh(ctx); err != nil {
		return err
	}
	algs := make([]string, len(asymmetricAlgs))
	for i, alg := range asymmetricAlgs {
		algs[i] = string(alg)
	}
	a.verifier.Store(oidc.NewVerifier(a.issuer, ks, &oidc.Config{
		ClientID:             a.audience,
		SupportedSigningAlgs: algs,
		// exp and nbf are checked by admit, with OIDCLeeway (go-oidc allows
		// 5 minutes on nbf and none on exp).
		SkipExpiryCheck: true,
	}))
	return nil
}

// getJSON GETs url, bounded in time and size, into v.
func (a *oidcAuth) getJSON(ctx context.Context, url string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, a.timing.FetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxIdPDocument+1))
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if len(body) > maxIdPDocument {
		return fmt.Errorf("GET %s: answer larger than %d bytes", url, maxIdPDocument)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	return nil
}

// verify is the bearer middleware's TokenVerifier.
func (a *oidcAuth) verify(ctx context.Context, token string, _ *http.Request) (*auth.TokenInfo, error) {
	v := a.verifier.Load()
	if v == nil {
		return nil, fmt.Errorf("%w: the identity provider has not been reached yet", auth.ErrInvalidToken)
	}
	idt, err := v.Verify(ctx, token)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", auth.ErrInvalidToken, err)
	}
	var raw rawClaims
	if err := idt.Claims(&raw); err != nil {
		return nil, fmt.Errorf("%w: claims: %v", auth.ErrInvalidToken, err)
	}
	c, err := raw.claims(idt.Subject)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", auth.ErrInvalidToken, err)
	}
	caller, err := a.allow.admit(c, a.now())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", auth.ErrInvalidToken, err)
	}
	return &auth.TokenInfo{UserID: caller, Expiration: c.Expiry, Scopes: strings.Fields(c.Scope)}, nil
}

// gate answers /mcp with 503 until the provider has been discovered: the
// server cannot tell a good token from a bad one yet.
func (a *oidcAuth) gate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.verifier.Load() == nil {
			w.Header().Set("Retry-After", "5")
			http.Error(w, "the identity provider has not been reached yet; retry shortly", http.StatusServiceUnavailable)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// keySet is the provider's JWKS. Unlike go-oidc's RemoteKeySet, which
// refetches for every token whose key id it does not know (it only joins
// concurrent fetches), it fetches at most once per period.
type keySet struct {
	url   string
	fetch func(ctx context.Context, url string, v any) error
	every time.Duration
	now   func() time.Time

	sem  chan struct{} // one fetch at a time
	mu   sync.RWMutex
	keys []jose.JSONWebKey
	last time.Time // the last fetch, failed or not
}

// VerifySignature implements oidc.KeySet.
func (k *keySet) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(raw, asymmetricAlgs)
	if err != nil {
		return nil, fmt.Errorf("malformed jwt: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("want exactly one signature")
	}
	kid := jws.Signatures[0].Header.KeyID
	payload, known, err := k.verifyWith(jws, kid)
	if err == nil || known {
		// A key id the set has, and a signature it does not make: refetching
		// would not help.
		return payload, err
	}
	// A key id the set does not have: the provider may have rotated.
	if err := k.refreshIfStale(ctx); err != nil {
		return nil, err
	}
	payload, _, err = k.verifyWith(jws, kid)
	return payload, err
}

func (k *keySet) verifyWith(jws *jose.JSONWebSignature, kid string) (payload []byte, known bool, err error) {
	k.mu.RLock()
	keys := k.keys
	k.mu.RUnlock()
	for i := range keys {
		if kid == "" || keys[i].KeyID == kid {
			known = kid != ""
			if p, err := jws.Verify(&keys[i]); err == nil {
				return p, true, nil
			}
		}
	}
	if known {
		return nil, true, errors.New("signature does not verify")
	}
	return nil, false, fmt.Errorf("no key of the provider's key set verifies key id %q", kid)
}

// refreshIfStale refetches the set unless a fetch is under way or was made
// within the period: the caller then checks against what is there.
func (k *keySet) refreshIfStale(ctx context.Context) error {
	select {
	case k.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-k.sem }()
	k.mu.RLock()
	recent := !k.last.IsZero() && k.now().Sub(k.last) < k.every
	k.mu.RUnlock()
	if recent {
		return nil
	}
	// The caller's cancellation must not cut a fetch the next callers rely on.
	return k.refresh(context.WithoutCancel(ctx))
}

// refresh fetches the set; the old keys stay when the fetch fails.
func (k *keySet) refresh(ctx context.Context) error {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	err := k.fetch(ctx, k.url, &set)
	k.mu.Lock()
	defer k.mu.Unlock()
	k.last = k.now()
	if err != nil {
		return fmt.Errorf("jwks: %w", err)
	}
	keys := usableKeys(set.Keys)
	if len(keys) == 0 {
		return fmt.Errorf("jwks at %s has no usable signing key", k.url)
	}
	k.keys = keys
	return nil
}

// usableKeys are the public signature keys of a JWKS; symmetric keys,
// encryption keys, algorithms outside asymmetricAlgs and key types go-jose
// does not know are left out.
func usableKeys(raw []json.RawMessage) []jose.JSONWebKey {
	var keys []jose.JSONWebKey
	for _, r := range raw {
		var meta struct {
			Alg string `json:"alg"`
			Use string `json:"use"`
		}
		if json.Unmarshal(r, &meta) != nil || (meta.Use != "" && meta.Use != "sig") {
			continue
		}
		if meta.Alg != "" && !slices.Contains(asymmetricAlgs, jose.SignatureAlgorithm(meta.Alg)) {
			continue
		}
		var k jose.JSONWebKey
		if k.UnmarshalJSON(r) != nil || !k.Valid() || !k.IsPublic() {
			continue
		}
		keys = append(keys, k)
	}
	return keys
}
