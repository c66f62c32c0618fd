// Package ststest is a test AWS Security Token Service endpoint that speaks the real
// STS Query protocol (form-encoded requests, Version 2011-06-15, XML responses and
// XML errors as AWS writes them), so the unmodified aws-sdk-go-v2 STS client, and
// the SDK's credential providers built on it, can be pointed at it over loopback.
//
// It models what matters for cross-account access: IAM roles with a trust policy
// (which principals may call sts:AssumeRole, which sts:ExternalId they must
// present, which web identity subjects may call AssumeRoleWithWebIdentity),
// STS's parameter rules, the one-hour role-chaining limit, and credentials that
// are tracked back to the role session that owns them.
//
// Requests must carry a SigV4 Authorization header whose access key id the
// server issued (and, for session credentials, the matching
// X-Amz-Security-Token). The signature itself is not verified.
//
// The package does not import the AWS SDK on purpose: it is an independent
// implementation of the wire protocol, so tests against it exercise the SDK's
// real serialisers and parsers.
package ststest

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// APIVersion is the only STS API version the server accepts.
const APIVersion = "2011-06-15"

// Namespace is the XML namespace of every STS response.
const Namespace = "https://sts.amazonaws.com/doc/2011-06-15/"

// Action names the server implements.
const (
	ActionAssumeRole                = "AssumeRole"
	ActionAssumeRoleWithWebIdentity = "AssumeRoleWithWebIdentity"
	ActionGetCallerIdentity         = "GetCallerIdentity"
)

// STS limits, from the STS API reference.
const (
	MinDuration = 900 * time.Second
	MaxDuration = 43200 * time.Second
	// DefaultDuration is what STS issues when DurationSeconds is absent.
	DefaultDuration = time.Hour
	// ChainedMaxDuration is the cap on sessions assumed with another role's
	// session credentials ("role chaining"), whatever the role's maximum.
	ChainedMaxDuration = time.Hour
)

// ErrExpiredToken may be returned (wrapped) by a VerifyWebIdentity function for
// a token that is well formed but expired; the server then answers with STS's
// ExpiredTokenException instead of InvalidIdentityToken.
var ErrExpiredToken = errors.New("web identity token expired")

// Role is an IAM role as the test STS sees it: its ARN and trust policy.
type Role struct {
	// ARN is arn:<partition>:iam::<account>:role/<path/><name>.
	ARN string
	// TrustedPrincipals may call sts:AssumeRole on this role. An entry is a role
	// ARN (matching that role's sessions, as IAM does), the principal ARN of a
	// long-term key, or arn:<partition>:iam::<account>:root (any principal of
	// that account).
	TrustedPrincipals []string
	// ExternalID, if not empty, is the value the sts:ExternalId condition
	// requires on AssumeRole.
	ExternalID string
	// WebIdentitySubjects are the token subjects (the "sub" claim, e.g.
	// system:serviceaccount:blue-acme:blue-mcp) allowed to call
	// AssumeRoleWithWebIdentity on this role.
	WebIdentitySubjects []string
	// MaxSessionDuration is the role's maximum session length; 0 means one hour,
	// IAM's default.
	MaxSessionDuration time.Duration
	// SourceIdentityTrusted is the trust policy granting sts:SetSourceIdentity
	// to its principals: without it an AssumeRole carrying a SourceIdentity
	// is denied, as IAM denies it.
	SourceIdentityTrusted bool
}

// Options configures a Server.
type Options struct {
	// VerifyWebIdentity checks a web identity token and returns its subject.
	// Nil makes every AssumeRoleWithWebIdentity fail with InvalidIdentityToken.
	VerifyWebIdentity func(ctx context.Context, token string) (subject string, err error)
	// CredentialLifetime, if positive, caps the lifetime of issued credentials
	// below the requested DurationSeconds, so tests can use short-lived
	// credentials while clients still ask for valid durations.
	CredentialLifetime time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// AccessKey is a long-term key pair (an IAM user's or a stand-in for another
// principal) issued by NewAccessKey.
type AccessKey struct {
	AccessKeyID     string
	SecretAccessKey string
}

// Identity is what an access key id stands for.
type Identity struct {
	AccessKeyID     string
	SecretAccessKey string
	// SessionToken is empty for long-term keys.
	SessionToken string
	// Principal is the ARN the key acts as: arn:aws:sts::<account>:assumed-role/<role>/<session>
	// for role sessions, the principal given to NewAccessKey otherwise.
	Principal string
	// RoleARN is the IAM role of a role session; for a long-term key whose
	// principal is a role ARN, that ARN; otherwise empty.
	RoleARN string
	// SessionName is the RoleSessionName of a role session.
	SessionName string
	// Account is the twelve-digit account of the principal.
	Account string
	// Expires is zero for long-term keys.
	Expires time.Time
	// SourceIdentity is the session's sts:SourceIdentity, if one was set.
	SourceIdentity string
}

// Record is one STS request as the server saw it, in arrival order. It is
// what the owner of the role would see in CloudTrail.
type Record struct {
	Time        time.Time
	RequestID   string
	Action      string
	RoleARN     string
	SessionName string
	// ExternalID is the sts:ExternalId presented (not a secret in AWS's model).
	ExternalID string
	// Caller is the principal ARN of the signer (empty for unsigned requests)
	// or, for AssumeRoleWithWebIdentity, the token's subject.
	Caller string
	// Outcome is "ok" or the STS error code returned.
	Outcome string
	// AccessKeyID is the id of the credentials issued, if any.
	AccessKeyID string
	// SourceIdentity is the sts:SourceIdentity requested, as CloudTrail
	// shows it on the AssumeRole event and every call made with the session.
	SourceIdentity string
}

type injected struct {
	code    string
	status  int
	message string
	times   int
}

// Server is an http.Handler that implements STS. Its methods are safe for
// concurrent use.
type Server struct {
	verify func(ctx context.Context, token string) (string, error)
	now    func() time.Time

	mu        sync.Mutex
	lifetime  time.Duration
	roles     map[string]*roleState
	keys      map[string]*Identity
	calls     map[string]int
	roleCalls map[string]int
	records   []Record
	hold      chan struct{}
	held      int
	inject    map[string]*injected
}

type roleState struct {
	Role
	roleID string // AROA…, stable per role, used in AssumedRoleId
}

// New returns a Server with no roles and no keys.
func New(o Options) *Server {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	return &Server{
		verify:    o.VerifyWebIdentity,
		now:       now,
		lifetime:  o.CredentialLifetime,
		roles:     map[string]*roleState{},
		keys:      map[string]*Identity{},
		calls:     map[string]int{},
		roleCalls: map[string]int{},
		inject:    map[string]*injected{},
	}
}

// PutRole creates or replaces a role.
func (s *Server) PutRole(r Role) error {
	if _, _, _, err := parseRoleARN(r.ARN); err != nil {
		return err
	}
	r.TrustedPrincipals = slices.Clone(r.TrustedPrincipals)
	r.WebIdentitySubjects = slices.Clone(r.WebIdentitySubjects)
	s.mu.Lock()
	defer s.mu.Unlock()
	id := "AROA" + randomBase32(16)
	if old, ok := s.roles[r.ARN]; ok {
		id = old.roleID
	}
	s.roles[r.ARN] = &roleState{Role: r, roleID: id}
	return nil
}

// SetExternalID changes the sts:ExternalId the role's trust policy requires
// (the client rotating it). Empty removes the condition.
func (s *Server) SetExternalID(roleARN, externalID string) error {
	return s.updateRole(roleARN, func(r *roleState) { r.ExternalID = externalID })
}

// SetTrust replaces the principals allowed to call sts:AssumeRole on the role.
// No principals trusts nobody (the client revoking access).
func (s *Server) SetTrust(roleARN string, principals ...string) error {
	return s.updateRole(roleARN, func(r *roleState) { r.TrustedPrincipals = slices.Clone(principals) })
}

// SetWebIdentitySubjects replaces the web identity subjects allowed to call
// AssumeRoleWithWebIdentity on the role.
func (s *Server) SetWebIdentitySubjects(roleARN string, subjects ...string) error {
	return s.updateRole(roleARN, func(r *roleState) { r.WebIdentitySubjects = slices.Clone(subjects) })
}

func (s *Server) updateRole(roleARN string, fn func(*roleState)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.roles[roleARN]
	if !ok {
		return fmt.Errorf("sts: unknown role %q", roleARN)
	}
	fn(r)
	return nil
}

// SetCredentialLifetime changes Options.CredentialLifetime for credentials
// issued from now on; 0 honours DurationSeconds.
func (s *Server) SetCredentialLifetime(d time.Duration) {
	s.mu.Lock()
	s.lifetime = d
	s.mu.Unlock()
}

// NewAccessKey issues a long-term key that signs as principalARN (an IAM user,
// or a role ARN to stand in for a role's credentials without going through
// web identity).
func (s *Server) NewAccessKey(principalARN string) AccessKey {
	k := AccessKey{AccessKeyID: "AKIA" + randomBase32(16), SecretAccessKey: randomSecret()}
	id := &Identity{
		AccessKeyID:     k.AccessKeyID,
		SecretAccessKey: k.SecretAccessKey,
		Principal:       principalARN,
		Account:         arnAccount(principalARN),
	}
	if isRoleARN(principalARN) {
		id.RoleARN = principalARN
	}
	s.mu.Lock()
	s.keys[k.AccessKeyID] = id
	s.mu.Unlock()
	return k
}

// Lookup tells which principal, role and session an access key id belongs to.
// Other test backends use it to check that requests are signed with the
// expected role's credentials.
func (s *Server) Lookup(accessKeyID string) (Identity, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.keys[accessKeyID]
	if !ok {
		return Identity{}, false
	}
	return *id, true
}

// Calls returns how many requests named the action (whatever their outcome).
func (s *Server) Calls(action string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[action]
}

// RoleCalls returns how many AssumeRole* requests named the role ARN
// (whatever their outcome).
func (s *Server) RoleCalls(roleARN string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.roleCalls[roleARN]
}

// Records returns a copy of every request seen, in arrival order.
func (s *Server) Records() []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.records)
}

// SessionNames returns the RoleSessionName of every successful assume of the
// role, in order: what shows in the role owner's CloudTrail.
func (s *Server) SessionNames(roleARN string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, r := range s.records {
		if r.RoleARN == roleARN && r.Outcome == "ok" && r.Action != ActionGetCallerIdentity {
			out = append(out, r.SessionName)
		}
	}
	return out
}

// Hold makes every request wait, after being counted, until release is
// called (or the request's context ends), so tests can pile up concurrent
// callers behind one in-flight call. release is idempotent.
func (s *Server) Hold() (release func()) {
	ch := make(chan struct{})
	s.mu.Lock()
	s.hold = ch
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			if s.hold == ch {
				s.hold = nil
			}
			s.mu.Unlock()
			close(ch)
		})
	}
}

// Held returns how many requests are waiting on Hold.
func (s *Server) Held() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.held
}

// InjectError makes the next n requests for action fail with the given STS
// error code and HTTP status (e.g. "InternalFailure", 500, or "Throttling", 400).
func (s *Server) InjectError(action, code string, status, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inject[action] = &injected{code: code, status: status, message: "injected by test", times: n}
}

// Endpoint is a Server listening on a loopback port.
type Endpoint struct {
	// URL is http://127.0.0.1:<port>, usable as the SDK's BaseEndpoint.
	URL string
	srv *http.Server
}

// Close stops the listener and drops open connections.
func (e *Endpoint) Close() error {
	return e.srv.Close()
}

// Start serves s on a fresh 127.0.0.1 port until Close.
func (s *Server) Start() (*Endpoint, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("sts: listen on loopback: %w", err)
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return &Endpoint{URL: "http://" + ln.Addr().String(), srv: srv}, nil
}

// StartTB is Start for tests: it fails tb on error and closes the endpoint
// when the test ends.
func (s *Server) StartTB(tb testing.TB) *Endpoint {
	tb.Helper()
	ep, err := s.Start()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = ep.Close() })
	return ep
}

// ServeHTTP implements the STS Query protocol.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := newRequestID()
	w.Header().Set("x-amzn-RequestId", reqID)
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		writeError(w, reqID, &apiError{status: http.StatusMethodNotAllowed, code: "InvalidAction", message: "Only GET and POST are supported"})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		writeError(w, reqID, &apiError{status: http.StatusBadRequest, code: "MalformedQueryString", message: err.Error()})
		return
	}
	action := r.Form.Get("Action")
	roleARN := r.Form.Get("RoleArn")

	s.mu.Lock()
	s.calls[action]++
	if roleARN != "" && action != ActionGetCallerIdentity {
		s.roleCalls[roleARN]++
	}
	hold := s.hold
	if hold != nil {
		s.held++
	}
	s.mu.Unlock()

	if hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done():
		}
		s.mu.Lock()
		s.held--
		s.mu.Unlock()
		if r.Context().Err() != nil {
			return
		}
	}

	rec := Record{
		Time:        s.now(),
		RequestID:   reqID,
		Action:      action,
		RoleARN:     roleARN,
		SessionName: r.Form.Get("RoleSessionName"),
		ExternalID:  r.Form.Get("ExternalId"),
	}
	body, aerr := s.dispatch(r, action, reqID, &rec)
	if aerr != nil {
		rec.Outcome = aerr.code
	} else {
		rec.Outcome = "ok"
	}
	s.mu.Lock()
	s.records = append(s.records, rec)
	s.mu.Unlock()

	if aerr != nil {
		writeError(w, reqID, aerr)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	_, _ = w.Write(body)
}

func (s *Server) dispatch(r *http.Request, action, reqID string, rec *Record) ([]byte, *apiError) {
	if e := s.takeInjected(action); e != nil {
		return nil, e
	}
	if action == "" {
		return nil, &apiError{status: http.StatusBadRequest, code: "MissingAction", message: "Missing Action"}
	}
	switch action {
	case ActionAssumeRole, ActionAssumeRoleWithWebIdentity, ActionGetCallerIdentity:
	default:
		return nil, &apiError{status: http.StatusBadRequest, code: "InvalidAction",
			message: fmt.Sprintf("Could not find operation %s for version %s", action, r.Form.Get("Version"))}
	}
	if v := r.Form.Get("Version"); v != APIVersion {
		return nil, &apiError{status: http.StatusBadRequest, code: "InvalidAction",
			message: fmt.Sprintf("Could not find operation %s for version %s", action, v)}
	}
	switch action {
	case ActionAssumeRole:
		return s.assumeRole(r, reqID, rec)
	case ActionAssumeRoleWithWebIdentity:
		return s.assumeRoleWithWebIdentity(r, reqID, rec)
	default:
		return s.getCallerIdentity(r, reqID, rec)
	}
}

func (s *Server) takeInjected(action string) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	in, ok := s.inject[action]
	if !ok || in.times <= 0 {
		return nil
	}
	in.times--
	if in.times == 0 {
		delete(s.inject, action)
	}
	return &apiError{status: in.status, code: in.code, message: in.message}
}

// authenticate resolves the signer of a SigV4-signed request.
func (s *Server) authenticate(r *http.Request) (Identity, *apiError) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return Identity{}, &apiError{status: http.StatusForbidden, code: "MissingAuthenticationToken",
			message: "Request is missing Authentication Token"}
	}
	const scheme = "AWS4-HMAC-SHA256 "
	if !strings.HasPrefix(h, scheme) {
		return Identity{}, &apiError{status: http.StatusBadRequest, code: "IncompleteSignature",
			message: "Unsupported AWS 'algorithm': only AWS4-HMAC-SHA256 is supported"}
	}
	var scope string
	for _, part := range strings.Split(strings.TrimPrefix(h, scheme), ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(part), "Credential="); ok {
			scope = v
		}
	}
	// Credential=<akid>/<date>/<region>/<service>/aws4_request
	fields := strings.Split(scope, "/")
	if len(fields) != 5 || fields[4] != "aws4_request" {
		return Identity{}, &apiError{status: http.StatusBadRequest, code: "IncompleteSignature",
			message: "Authorization header requires a well-formed 'Credential' parameter"}
	}
	if fields[3] != "sts" {
		return Identity{}, &apiError{status: http.StatusForbidden, code: "SignatureDoesNotMatch",
			message: "Credential should be scoped to correct service: 'sts'."}
	}
	s.mu.Lock()
	id, ok := s.keys[fields[0]]
	var cp Identity
	if ok {
		cp = *id
	}
	s.mu.Unlock()
	invalid := &apiError{status: http.StatusForbidden, code: "InvalidClientTokenId",
		message: "The security token included in the request is invalid."}
	if !ok {
		return Identity{}, invalid
	}
	tok := r.Header.Get("X-Amz-Security-Token")
	if subtle.ConstantTimeCompare([]byte(tok), []byte(cp.SessionToken)) != 1 {
		return Identity{}, invalid
	}
	if !cp.Expires.IsZero() && !s.now().Before(cp.Expires) {
		return Identity{}, &apiError{status: http.StatusForbidden, code: "ExpiredToken",
			message: "The security token included in the request is expired"}
	}
	return cp, nil
}

func (s *Server) assumeRole(r *http.Request, reqID string, rec *Record) ([]byte, *apiError) {
	caller, aerr := s.authenticate(r)
	if aerr != nil {
		return nil, aerr
	}
	rec.Caller = caller.Principal
	roleARN := r.Form.Get("RoleArn")
	session := r.Form.Get("RoleSessionName")
	externalID := r.Form.Get("ExternalId")
	dur, aerr := validateCommon(roleARN, session, r.Form.Get("DurationSeconds"))
	if aerr != nil {
		return nil, aerr
	}
	if r.Form.Has("ExternalId") {
		if err := validateExternalID(externalID); err != nil {
			return nil, validationError(err.Error())
		}
	}
	sourceID := r.Form.Get("SourceIdentity")
	if r.Form.Has("SourceIdentity") {
		if err := validateSourceIdentity(sourceID); err != nil {
			return nil, validationError(err.Error())
		}
	}
	// A session's source identity stays for the whole role chain.
	if caller.SourceIdentity != "" {
		if r.Form.Has("SourceIdentity") && sourceID != caller.SourceIdentity {
			return nil, validationError("SourceIdentity cannot be changed in a role chain: the caller's session has " + caller.SourceIdentity)
		}
		sourceID = caller.SourceIdentity
	}
	rec.SourceIdentity = sourceID

	s.mu.Lock()
	role, ok := s.roles[roleARN]
	var rs roleState
	if ok {
		rs = *role
	}
	s.mu.Unlock()
	// AWS answers the same for an unknown role, an untrusted caller and a wrong
	// ExternalId, so a caller cannot probe which one it was.
	denied := &apiError{status: http.StatusForbidden, code: "AccessDenied",
		message: fmt.Sprintf("User: %s is not authorized to perform: sts:AssumeRole on resource: %s", caller.Principal, roleARN)}
	if !ok || !trusts(rs.TrustedPrincipals, caller) {
		return nil, denied
	}
	if rs.ExternalID != "" && subtle.ConstantTimeCompare([]byte(rs.ExternalID), []byte(externalID)) != 1 {
		return nil, denied
	}
	if sourceID != "" && !rs.SourceIdentityTrusted {
		return nil, &apiError{status: http.StatusForbidden, code: "AccessDenied",
			message: fmt.Sprintf("User: %s is not authorized to perform: sts:SetSourceIdentity on resource: %s", caller.Principal, roleARN)}
	}
	if aerr := checkDuration(dur, rs.maxSession()); aerr != nil {
		return nil, aerr
	}
	if caller.RoleARN != "" && dur > ChainedMaxDuration {
		return nil, validationError("The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
	}

	id := s.issue(rs, session, dur, sourceID)
	rec.AccessKeyID = id.AccessKeyID
	return marshal(assumeRoleResponse{
		Xmlns: Namespace,
		Result: assumeRoleResult{
			Credentials:     credentialsXML(id),
			AssumedRoleUser: assumedRoleUserXML{AssumedRoleID: rs.roleID + ":" + session, Arn: id.Principal},
			SourceIdentity:  sourceID,
		},
		Metadata: responseMetadata{RequestID: reqID},
	})
}

func (s *Server) assumeRoleWithWebIdentity(r *http.Request, reqID string, rec *Record) ([]byte, *apiError) {
	// AssumeRoleWithWebIdentity is unsigned: the token is the credential.
	roleARN := r.Form.Get("RoleArn")
	session := r.Form.Get("RoleSessionName")
	token := r.Form.Get("WebIdentityToken")
	dur, aerr := validateCommon(roleARN, session, r.Form.Get("DurationSeconds"))
	if aerr != nil {
		return nil, aerr
	}
	if n := len(token); n < 4 || n > 20000 {
		return nil, validationError(fmt.Sprintf("1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: Member must have length between 4 and 20000 (got %d)", n))
	}
	if s.verify == nil {
		return nil, &apiError{status: http.StatusBadRequest, code: "InvalidIdentityToken",
			message: "No OpenIDConnect provider found in your account for this token"}
	}
	subject, err := s.verify(r.Context(), token)
	if errors.Is(err, ErrExpiredToken) {
		return nil, &apiError{status: http.StatusBadRequest, code: "ExpiredTokenException",
			message: fmt.Sprintf("Token expired: %v", err)}
	}
	if err != nil {
		return nil, &apiError{status: http.StatusBadRequest, code: "InvalidIdentityToken", message: err.Error()}
	}
	rec.Caller = subject

	s.mu.Lock()
	role, ok := s.roles[roleARN]
	var rs roleState
	if ok {
		rs = *role
	}
	s.mu.Unlock()
	if !ok || !slices.Contains(rs.WebIdentitySubjects, subject) {
		return nil, &apiError{status: http.StatusForbidden, code: "AccessDenied",
			message: "Not authorized to perform sts:AssumeRoleWithWebIdentity"}
	}
	if aerr := checkDuration(dur, rs.maxSession()); aerr != nil {
		return nil, aerr
	}

	id := s.issue(rs, session, dur, "")
	rec.AccessKeyID = id.AccessKeyID
	return marshal(assumeRoleWithWebIdentityResponse{
		Xmlns: Namespace,
		Result: assumeRoleWithWebIdentityResult{
			SubjectFromWebIdentityToken: subject,
			Credentials:                 credentialsXML(id),
			AssumedRoleUser:             assumedRoleUserXML{AssumedRoleID: rs.roleID + ":" + session, Arn: id.Principal},
		},
		Metadata: responseMetadata{RequestID: reqID},
	})
}

func (s *Server) getCallerIdentity(r *http.Request, reqID string, rec *Record) ([]byte, *apiError) {
	caller, aerr := s.authenticate(r)
	if aerr != nil {
		return nil, aerr
	}
	rec.Caller = caller.Principal
	rec.RoleARN = caller.RoleARN
	rec.SessionName = caller.SessionName
	userID := caller.AccessKeyID
	if caller.SessionName != "" {
		s.mu.Lock()
		if role, ok := s.roles[caller.RoleARN]; ok {
			userID = role.roleID + ":" + caller.SessionName
		}
		s.mu.Unlock()
	}
	return marshal(getCallerIdentityResponse{
		Xmlns:    Namespace,
		Result:   getCallerIdentityResult{Arn: caller.Principal, UserID: userID, Account: caller.Account},
		Metadata: responseMetadata{RequestID: reqID},
	})
}

// issue mints and records session credentials for a role.
func (s *Server) issue(role roleState, session string, dur time.Duration, sourceID string) Identity {
	partition, account, name, _ := parseRoleARN(role.ARN)
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lifetime > 0 && s.lifetime < dur {
		dur = s.lifetime
	}
	id := &Identity{
		AccessKeyID:     "ASIA" + randomBase32(16),
		SecretAccessKey: randomSecret(),
		SessionToken:    randomToken(),
		Principal:       fmt.Sprintf("arn:%s:sts::%s:assumed-role/%s/%s", partition, account, name, session),
		RoleARN:         role.ARN,
		SessionName:     session,
		Account:         account,
		// STS reports expiry to the second.
		Expires:        now.Add(dur).UTC().Truncate(time.Second),
		SourceIdentity: sourceID,
	}
	s.keys[id.AccessKeyID] = id
	return *id
}

func (r roleState) maxSession() time.Duration {
	if r.MaxSessionDuration <= 0 {
		return time.Hour
	}
	return r.MaxSessionDuration
}

func trusts(principals []string, caller Identity) bool {
	for _, p := range principals {
		switch {
		case p == caller.Principal, caller.RoleARN != "" && p == caller.RoleARN:
			return true
		case strings.HasSuffix(p, ":root") && arnAccount(p) == caller.Account && caller.Account != "":
			return true
		}
	}
	return false
}

var (
	// RoleSessionName: 2–64 of [\w+=,.@-] (ASCII word characters).
	sessionNameRE = regexp.MustCompile(`^[A-Za-z0-9_+=,.@-]*$`)
	externalIDRE  = regexp.MustCompile(`^[A-Za-z0-9_+=,.@:/-]*$`)
	roleARNRE     = regexp.MustCompile(`^arn:(aws[a-z-]*):iam::(\d{12}):role/((?:[A-Za-z0-9_+=,.@-]+/)*)([A-Za-z0-9_+=,.@-]{1,64})$`)
)

// ValidateRoleSessionName reports whether name satisfies STS's rules for
// RoleSessionName: 2 to 64 characters from [\w+=,.@-].
func ValidateRoleSessionName(name string) error {
	if n := len(name); n < 2 || n > 64 {
		return fmt.Errorf("1 validation error detected: Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must have length between 2 and 64", name)
	}
	if !sessionNameRE.MatchString(name) {
		return fmt.Errorf("1 validation error detected: Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*", name)
	}
	return nil
}

// validateSourceIdentity applies STS's rules: 2 to 64 characters of
// [\w+=,.@-], not starting with the reserved "aws:".
func validateSourceIdentity(id string) error {
	if len(id) < 2 || len(id) > 64 || strings.HasPrefix(strings.ToLower(id), "aws:") {
		return fmt.Errorf("1 validation error detected: Value '%s' at 'sourceIdentity' failed to satisfy constraint: Member must have length between 2 and 64 and not begin with aws:", id)
	}
	for _, r := range id {
		if !(r == '_' || r == '+' || r == '=' || r == ',' || r == '.' || r == '@' || r == '-' ||
			'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
			return fmt.Errorf("1 validation error detected: Value '%s' at 'sourceIdentity' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*", id)
		}
	}
	return nil
}

func validateExternalID(id string) error {
	if n := len(id); n < 2 || n > 1224 || !externalIDRE.MatchString(id) {
		return errors.New("1 validation error detected: Value at 'externalId' failed to satisfy constraint: Member must have length between 2 and 1224 and satisfy regular expression pattern: [\\w+=,.@:\\/-]*")
	}
	return nil
}

func validateCommon(roleARN, session, durationSeconds string) (time.Duration, *apiError) {
	if _, _, _, err := parseRoleARN(roleARN); err != nil {
		return 0, validationError(err.Error())
	}
	if err := ValidateRoleSessionName(session); err != nil {
		return 0, validationError(err.Error())
	}
	if durationSeconds == "" {
		return DefaultDuration, nil
	}
	n, err := strconv.Atoi(durationSeconds)
	if err != nil {
		return 0, validationError(fmt.Sprintf("1 validation error detected: Value '%s' at 'durationSeconds' failed to satisfy constraint: Member must be an integer", durationSeconds))
	}
	d := time.Duration(n) * time.Second
	if d < MinDuration {
		return 0, validationError(fmt.Sprintf("1 validation error detected: Value '%d' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900", n))
	}
	if d > MaxDuration {
		return 0, validationError(fmt.Sprintf("1 validation error detected: Value '%d' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 43200", n))
	}
	return d, nil
}

func checkDuration(d, roleMax time.Duration) *apiError {
	if d > roleMax {
		return validationError("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
	}
	return nil
}

func parseRoleARN(arn string) (partition, account, name string, err error) {
	m := roleARNRE.FindStringSubmatch(arn)
	if m == nil || len(arn) > 2048 {
		return "", "", "", fmt.Errorf("1 validation error detected: Value '%s' at 'roleArn' failed to satisfy constraint: Member must be a valid IAM role ARN", arn)
	}
	return m[1], m[2], m[4], nil
}

func isRoleARN(arn string) bool {
	_, _, _, err := parseRoleARN(arn)
	return err == nil
}

func arnAccount(arn string) string {
	f := strings.SplitN(arn, ":", 6)
	if len(f) < 6 {
		return ""
	}
	return f[4]
}

func validationError(msg string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "ValidationError", message: msg}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	// crypto/rand.Read never returns an error (Go ≥ 1.24) and crashes instead.
	_, _ = rand.Read(b)
	return b
}

func randomBase32(n int) string {
	return base32.StdEncoding.EncodeToString(randomBytes(n))[:n]
}

func randomSecret() string {
	return base64.StdEncoding.EncodeToString(randomBytes(30)) // 40 chars, like AWS
}

func randomToken() string {
	return base64.StdEncoding.EncodeToString(randomBytes(96))
}

func newRequestID() string {
	b := randomBytes(16)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
