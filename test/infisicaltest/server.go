// Package infisicaltest is a test Infisical server. It speaks the HTTP endpoints
// that github.com/infisical/go-sdk v0.8.0 calls to log in a machine identity
// and list raw secrets, with the same paths, JSON fields, status codes and
// error bodies as Infisical's backend, so code under test runs the real SDK
// over real HTTP:
//
//	POST /api/v1/auth/universal-auth/login   {clientId, clientSecret, organizationSlug?}
//	POST /api/v1/auth/kubernetes-auth/login  {identityId, jwt, organizationSlug?}
//	POST /api/v1/auth/token/renew            {accessToken}
//	GET  /api/v3/secrets/raw?workspaceId=&workspaceSlug=&environment=&secretPath=
//	     &expandSecretReferences=&include_imports=&recursive=   (Authorization: Bearer <token>)
//
// Logins answer {accessToken, expiresIn, accessTokenMaxTTL, tokenType}; errors
// answer {reqId, statusCode, message, error}, which the SDK parses into its
// APIError. The model is small: projects with environments and folders of
// secrets, machine identities with universal and/or Kubernetes auth, and
// identity memberships in projects. Switches let tests revoke access, expire
// tokens and make the server unreachable.
//
// Not modelled: secret references are returned unexpanded, secret imports are
// always empty, and there are no organisations, roles or folder permissions
// (a member may read every path of its project).
package infisicaltest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults for identities that do not set their own token lifetimes. They are
// short on purpose so that clients' re-login paths get exercised.
const (
	DefaultAccessTokenTTL    = 5 * time.Minute
	DefaultAccessTokenMaxTTL = 30 * time.Minute
)

// maxBody bounds request bodies; real logins are a few KB at most.
const maxBody = 64 << 10

// KubernetesVerifier checks a Kubernetes service-account token (what the real
// server does with a TokenReview) and returns the token's subject, e.g.
// "system:serviceaccount:blue-acme:blue-mcp".
type KubernetesVerifier func(ctx context.Context, jwt string) (subject string, err error)

// Identity is a machine identity. Set ClientID and ClientSecret to enable
// universal auth, Kubernetes to enable Kubernetes auth, or both.
type Identity struct {
	ID   string
	Name string

	ClientID     string
	ClientSecret string

	Kubernetes *KubernetesAuth

	// AccessTokenTTL and AccessTokenMaxTTL default to DefaultAccessTokenTTL
	// and DefaultAccessTokenMaxTTL. They are sent to clients in whole seconds.
	AccessTokenTTL    time.Duration
	AccessTokenMaxTTL time.Duration
}

// KubernetesAuth restricts which service accounts may log in as an identity.
// Empty lists allow any namespace or name, as in Infisical.
type KubernetesAuth struct {
	AllowedNamespaces []string
	AllowedNames      []string
}

// Counts are request counters, for tests and metrics.
type Counts struct {
	Logins       int // successful logins (universal and Kubernetes)
	FailedLogins int // logins answered with an error
	Renewals     int // successful token renewals
	Lists        int // list-secrets calls answered 200 or 304
	FailedLists  int // list-secrets calls answered with an error
	Dropped      int // requests dropped, failed or held by SetUnreachable / SetFailureStatus / SetHang
}

type accessToken struct {
	identityID  string
	created     time.Time
	renewed     time.Time
	ttl, maxTTL time.Duration
	expired     bool // set by ExpireAccessTokens
}

type project struct {
	id, slug string
	// envs maps environment slug -> folder path -> secret key -> value.
	envs    map[string]map[string]map[string]string
	members map[string]bool // identity IDs
}

// Server is a test Infisical server. It is an http.Handler; New also serves it
// on a local httptest server. All methods are safe for concurrent use.
type Server struct {
	ts      *httptest.Server
	closing chan struct{}
	once    sync.Once

	mu             sync.Mutex
	now            func() time.Time
	verify         KubernetesVerifier
	k8sTokens      map[string]string // default verifier: jwt -> subject
	projects       map[string]*project
	identities     map[string]*Identity
	tokens         map[string]*accessToken
	unreachable    bool
	failureStatus  int
	hang           chan struct{} // non-nil while hanging; closed to release
	counts         Counts
	reqSeq         int
	secretVersions map[string]int
}

// NewHandler returns a server that is not listening; mount it on your own
// http.Server (HTTP/1.1, so SetUnreachable can drop connections).
func NewHandler() *Server {
	s := &Server{
		closing:        make(chan struct{}),
		now:            time.Now,
		k8sTokens:      map[string]string{},
		projects:       map[string]*project{},
		identities:     map[string]*Identity{},
		tokens:         map[string]*accessToken{},
		secretVersions: map[string]int{},
	}
	s.verify = s.verifyRegistered
	return s
}

// New returns a server listening on a local port; pass URL() to the SDK as
// its SiteUrl and Close() it when done.
func New() *Server {
	s := NewHandler()
	s.ts = httptest.NewServer(s)
	return s
}

// NewTLS is New serving HTTPS with cert, as a self-hosted Infisical with a
// certificate of its own CA does (HTTP/1.1, as New).
func NewTLS(cert tls.Certificate) *Server {
	s := NewHandler()
	s.ts = httptest.NewUnstartedServer(s)
	s.ts.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	// Handshakes a client refuses are what some tests check, not news.
	s.ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.ts.StartTLS()
	return s
}

// URL is the site URL (the SDK appends /api). Empty for NewHandler servers.
func (s *Server) URL() string {
	if s.ts == nil {
		return ""
	}
	return s.ts.URL
}

// Close releases hanging requests and stops the listener started by New.
func (s *Server) Close() {
	s.once.Do(func() { close(s.closing) })
	if s.ts != nil {
		s.ts.Close()
	}
}

// SetClock replaces the clock used for token lifetimes.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// SetKubernetesVerifier replaces how Kubernetes service-account tokens are
// verified, e.g. with a TokenReview against a real API server. The default
// accepts only tokens given to RegisterKubernetesToken. nil restores it.
func (s *Server) SetKubernetesVerifier(v KubernetesVerifier) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v == nil {
		v = s.verifyRegistered
	}
	s.verify = v
}

// RegisterKubernetesToken makes the default verifier accept jwt as a token of
// subject (e.g. "system:serviceaccount:blue-acme:blue-mcp").
func (s *Server) RegisterKubernetesToken(jwt, subject string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.k8sTokens[jwt] = subject
}

// UnregisterKubernetesToken makes the default verifier reject jwt, as the API
// server does once a projected token has expired.
func (s *Server) UnregisterKubernetesToken(jwt string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.k8sTokens, jwt)
}

func (s *Server) verifyRegistered(_ context.Context, jwt string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sub, ok := s.k8sTokens[jwt]
	if !ok {
		return "", errors.New("token not registered")
	}
	return sub, nil
}

// AddIdentity adds or replaces a machine identity. Replacing it keeps its
// memberships and issued tokens.
func (s *Server) AddIdentity(id Identity) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id.Kubernetes != nil {
		k := *id.Kubernetes
		id.Kubernetes = &k
	}
	s.identities[id.ID] = &id
}

// DeleteIdentity removes an identity: its logins fail and its tokens stop
// working (401), as when a client deletes the machine identity.
func (s *Server) DeleteIdentity(identityID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.identities, identityID)
	for _, p := range s.projects {
		delete(p.members, identityID)
	}
	for tok, at := range s.tokens {
		if at.identityID == identityID {
			delete(s.tokens, tok)
		}
	}
}

// SetClientSecret changes an identity's universal-auth client secret (a
// rotation by the client); tokens already issued keep working until expiry.
func (s *Server) SetClientSecret(identityID, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.identities[identityID]; ok {
		id.ClientSecret = secret
	}
}

// CreateProject creates a project (workspace) with the given environment
// slugs, unless it exists; then it only adds missing environments.
func (s *Server) CreateProject(projectID string, envs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.project(projectID, envs...)
}

func (s *Server) project(projectID string, envs ...string) *project {
	p, ok := s.projects[projectID]
	if !ok {
		p = &project{id: projectID, slug: projectID, envs: map[string]map[string]map[string]string{}, members: map[string]bool{}}
		s.projects[projectID] = p
	}
	for _, e := range envs {
		if p.envs[e] == nil {
			p.envs[e] = map[string]map[string]string{}
		}
	}
	return p
}

// SetProjectSlug sets the slug by which the project can also be addressed
// (workspaceSlug); it defaults to the project ID.
func (s *Server) SetProjectSlug(projectID, slug string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.project(projectID).slug = slug
}

// DeleteProject removes a project and everything in it.
func (s *Server) DeleteProject(projectID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.projects, projectID)
}

// SetSecret sets a secret, creating the project, environment and folder if
// needed.
func (s *Server) SetSecret(projectID, env, secretPath, key, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.project(projectID, env)
	fp := cleanPath(secretPath)
	if p.envs[env][fp] == nil {
		p.envs[env][fp] = map[string]string{}
	}
	p.envs[env][fp][key] = value
	s.secretVersions[secretID(projectID, env, fp, key)]++
}

// DeleteSecret removes a secret if it exists.
func (s *Server) DeleteSecret(projectID, env, secretPath, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.projects[projectID]; ok {
		if folder := p.envs[env][cleanPath(secretPath)]; folder != nil {
			delete(folder, key)
		}
	}
}

// AddMembership makes an identity a member of a project, with read access to
// all its secrets.
func (s *Server) AddMembership(projectID, identityID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.project(projectID).members[identityID] = true
}

// RevokeMembership removes an identity from a project: listing its secrets
// answers 403 ProjectMembershipNotFound, as Infisical does.
func (s *Server) RevokeMembership(projectID, identityID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.projects[projectID]; ok {
		delete(p.members, identityID)
	}
}

// RestoreMembership adds a revoked membership back (same as AddMembership).
func (s *Server) RestoreMembership(projectID, identityID string) {
	s.AddMembership(projectID, identityID)
}

// ExpireAccessTokens makes every issued access token expired now; the next
// request with one answers 403 TokenError "Your token has expired", as
// Infisical answers for an expired access-token JWT.
func (s *Server) ExpireAccessTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tokens {
		t.expired = true
	}
}

// SetUnreachable makes the server drop every connection without answering,
// which the SDK sees as a network error (EOF), like a crashed or partitioned
// Infisical. The listener stays up so the URL stays valid for restore.
func (s *Server) SetUnreachable(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unreachable = on
}

// SetFailureStatus makes every request answer status with a non-JSON body,
// like a load balancer in front of a failed Infisical (e.g. 502, 503); 0
// turns it off.
func (s *Server) SetFailureStatus(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failureStatus = status
}

// SetHang makes requests block without an answer, a black-holed network
// path: held requests proceed normally after SetHang(false), and their
// connections are dropped if the client gives up or the server is closed.
func (s *Server) SetHang(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case on && s.hang == nil:
		s.hang = make(chan struct{})
	case !on && s.hang != nil:
		close(s.hang)
		s.hang = nil
	}
}

// Counts returns the request counters so far.
func (s *Server) Counts() Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts
}

// ServeHTTP serves the Infisical API under /api.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.outage(w, r) {
		return
	}
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/api/v1/auth/universal-auth/login":
		s.universalLogin(w, r)
	case r.Method == http.MethodPost && r.URL.Path == "/api/v1/auth/kubernetes-auth/login":
		s.kubernetesLogin(w, r)
	case r.Method == http.MethodPost && r.URL.Path == "/api/v1/auth/token/renew":
		s.renew(w, r)
	case r.Method == http.MethodGet && r.URL.Path == "/api/v3/secrets/raw":
		s.listSecrets(w, r)
	case r.Method == http.MethodGet && r.URL.Path == "/api/status":
		writeJSON(w, http.StatusOK, map[string]any{"date": s.clock().UTC().Format(time.RFC3339), "message": "Ok"})
	default:
		// Fastify's answer for an unknown route.
		s.writeError(w, http.StatusNotFound, "Not Found", fmt.Sprintf("Route %s:%s not found", r.Method, r.URL.Path))
	}
}

// outage applies SetUnreachable, SetFailureStatus and SetHang; it reports
// whether the request was consumed.
func (s *Server) outage(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	unreachable, status, hang := s.unreachable, s.failureStatus, s.hang
	if unreachable || status != 0 || hang != nil {
		s.counts.Dropped++
	}
	s.mu.Unlock()
	switch {
	case hang != nil:
		select {
		case <-hang:
			// The path is back: the held request goes through, as TCP
			// retransmission would deliver it.
			return false
		case <-r.Context().Done():
		case <-s.closing:
		}
		dropConnection(w)
		return true
	case unreachable:
		dropConnection(w)
		return true
	case status != 0:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		_, _ = fmt.Fprintf(w, "<html><body><h1>%d %s</h1></body></html>\n", status, http.StatusText(status))
		return true
	}
	return false
}

func dropConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	// Not hijackable (HTTP/2): abort the stream, which net/http turns into a
	// reset without a response.
	panic(http.ErrAbortHandler)
}

func (s *Server) clock() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now()
}

type loginResponse struct {
	AccessToken       string `json:"accessToken"`
	ExpiresIn         int64  `json:"expiresIn"`
	AccessTokenMaxTTL int64  `json:"accessTokenMaxTTL"`
	TokenType         string `json:"tokenType"`
}

func (s *Server) universalLogin(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ClientID         *string `json:"clientId"`
		ClientSecret     *string `json:"clientSecret"`
		OrganizationSlug string  `json:"organizationSlug"`
	}
	if !s.decode(w, r, &req) {
		s.countFailedLogin()
		return
	}
	if req.ClientID == nil || req.ClientSecret == nil {
		s.countFailedLogin()
		s.validationFailure(w, missingField(map[string]bool{"clientId": req.ClientID != nil, "clientSecret": req.ClientSecret != nil}))
		return
	}
	s.mu.Lock()
	var found *Identity
	for _, id := range s.identities {
		if id.ClientID != "" && id.ClientID == *req.ClientID {
			found = id
			break
		}
	}
	ok := found != nil && found.ClientSecret != "" &&
		subtle.ConstantTimeCompare([]byte(found.ClientSecret), []byte(*req.ClientSecret)) == 1
	s.mu.Unlock()
	if !ok {
		s.countFailedLogin()
		s.writeError(w, http.StatusUnauthorized, "UnauthorizedError", "Invalid credentials")
		return
	}
	s.issue(w, found)
}

func (s *Server) kubernetesLogin(w http.ResponseWriter, r *http.Request) {
	var req struct {
		IdentityID       *string `json:"identityId"`
		JWT              *string `json:"jwt"`
		OrganizationSlug string  `json:"organizationSlug"`
	}
	if !s.decode(w, r, &req) {
		s.countFailedLogin()
		return
	}
	if req.IdentityID == nil || req.JWT == nil || *req.JWT == "" {
		s.countFailedLogin()
		s.validationFailure(w, missingField(map[string]bool{"identityId": req.IdentityID != nil, "jwt": req.JWT != nil && *req.JWT != ""}))
		return
	}
	s.mu.Lock()
	id := s.identities[*req.IdentityID]
	verify := s.verify
	var k8s KubernetesAuth
	if id != nil && id.Kubernetes != nil {
		k8s = *id.Kubernetes
	}
	s.mu.Unlock()
	if id == nil || id.Kubernetes == nil {
		s.countFailedLogin()
		s.writeError(w, http.StatusNotFound, "NotFound", "Kubernetes auth method not found for identity, did you configure Kubernetes auth?")
		return
	}
	// The verifier may do network I/O (a TokenReview), so it runs unlocked
	// and with the request's context.
	subject, err := verify(r.Context(), *req.JWT)
	if err != nil {
		s.countFailedLogin()
		s.writeError(w, http.StatusUnauthorized, "KubernetesTokenReviewError", "Kubernetes token not authenticated")
		return
	}
	ns, name, ok := serviceAccount(subject)
	if !ok || !allowed(k8s.AllowedNamespaces, ns) {
		s.countFailedLogin()
		s.writeError(w, http.StatusUnauthorized, "UnauthorizedError", "Access denied: K8s namespace not allowed.")
		return
	}
	if !allowed(k8s.AllowedNames, name) {
		s.countFailedLogin()
		s.writeError(w, http.StatusUnauthorized, "UnauthorizedError", "Access denied: K8s name not allowed.")
		return
	}
	s.mu.Lock()
	id = s.identities[*req.IdentityID] // may have been deleted meanwhile
	s.mu.Unlock()
	if id == nil {
		s.countFailedLogin()
		s.writeError(w, http.StatusUnauthorized, "UnauthorizedError", "Identity not found")
		return
	}
	s.issue(w, id)
}

// serviceAccount splits "system:serviceaccount:<namespace>:<name>".
func serviceAccount(subject string) (ns, name string, ok bool) {
	parts := strings.Split(subject, ":")
	if len(parts) != 4 || parts[0] != "system" || parts[1] != "serviceaccount" || parts[2] == "" || parts[3] == "" {
		return "", "", false
	}
	return parts[2], parts[3], true
}

func allowed(list []string, v string) bool {
	if len(list) == 0 {
		return true
	}
	for _, a := range list {
		if m, err := path.Match(strings.TrimSpace(a), v); err == nil && m {
			return true
		}
	}
	return false
}

func (s *Server) issue(w http.ResponseWriter, id *Identity) {
	ttl, maxTTL := id.AccessTokenTTL, id.AccessTokenMaxTTL
	if ttl <= 0 {
		ttl = DefaultAccessTokenTTL
	}
	if maxTTL <= 0 {
		maxTTL = DefaultAccessTokenMaxTTL
	}
	tok := randomToken()
	s.mu.Lock()
	now := s.now()
	s.tokens[tok] = &accessToken{identityID: id.ID, created: now, renewed: now, ttl: ttl, maxTTL: maxTTL}
	s.counts.Logins++
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, loginResponse{
		AccessToken:       tok,
		ExpiresIn:         int64(ttl / time.Second),
		AccessTokenMaxTTL: int64(maxTTL / time.Second),
		TokenType:         "Bearer",
	})
}

func (s *Server) countFailedLogin() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts.FailedLogins++
}

// renew extends a token's TTL up to its max TTL, with the checks and messages
// of Infisical's renewAccessToken.
func (s *Server) renew(w http.ResponseWriter, r *http.Request) {
	var req struct {
		AccessToken *string `json:"accessToken"`
	}
	if !s.decode(w, r, &req) {
		return
	}
	if req.AccessToken == nil {
		s.validationFailure(w, missingField(map[string]bool{"accessToken": false}))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[*req.AccessToken]
	if !ok {
		s.writeErrorLocked(w, http.StatusUnauthorized, "UnauthorizedError", "You are not allowed to access this resource")
		return
	}
	now := s.now()
	if t.expired || now.After(t.renewed.Add(t.ttl)) {
		delete(s.tokens, *req.AccessToken)
		s.writeErrorLocked(w, http.StatusUnauthorized, "UnauthorizedError", "Failed to renew MI access token due to TTL expiration")
		return
	}
	if now.Add(t.ttl).After(t.created.Add(t.maxTTL)) {
		delete(s.tokens, *req.AccessToken)
		s.writeErrorLocked(w, http.StatusUnauthorized, "UnauthorizedError", "Failed to renew MI access token past its Max TTL expiration")
		return
	}
	t.renewed = now
	s.counts.Renewals++
	writeJSON(w, http.StatusOK, loginResponse{
		AccessToken:       *req.AccessToken,
		ExpiresIn:         int64(t.ttl / time.Second),
		AccessTokenMaxTTL: int64(t.maxTTL / time.Second),
		TokenType:         "Bearer",
	})
}

type secretJSON struct {
	ID             string   `json:"id"`
	LegacyID       string   `json:"_id"`
	Workspace      string   `json:"workspace"`
	Environment    string   `json:"environment"`
	Version        int      `json:"version"`
	Type           string   `json:"type"`
	SecretKey      string   `json:"secretKey"`
	SecretValue    string   `json:"secretValue"`
	SecretComment  string   `json:"secretComment"`
	SecretPath     string   `json:"secretPath"`
	SecretMetadata []string `json:"secretMetadata"`
	Tags           []string `json:"tags"`
}

func (s *Server) listSecrets(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fail := func(status int, name, msg string) {
		s.counts.FailedLists++
		s.writeErrorLocked(w, status, name, msg)
	}

	// Authentication first, as Infisical's verify-auth hook does.
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || tok == "" {
		fail(http.StatusUnauthorized, "UnauthorizedError", "Missing Authorization Header in the request header.")
		return
	}
	at, ok := s.tokens[tok]
	if !ok {
		fail(http.StatusUnauthorized, "UnauthorizedError", "You are not allowed to access this resource")
		return
	}
	if at.expired || s.now().After(at.renewed.Add(at.ttl)) {
		// Infisical rejects an expired access-token JWT with 403 TokenError,
		// not 401: clients must not read every 403 as a revocation.
		fail(http.StatusForbidden, "TokenError", "Your token has expired. Please re-authenticate.")
		return
	}
	if _, ok := s.identities[at.identityID]; !ok {
		fail(http.StatusUnauthorized, "UnauthorizedError", "Identity does not belong to any organization")
		return
	}

	q := r.URL.Query()
	workspaceID, workspaceSlug, env := q.Get("workspaceId"), q.Get("workspaceSlug"), q.Get("environment")
	if workspaceID == "" && workspaceSlug == "" {
		fail(http.StatusBadRequest, "BadRequest", "Missing workspaceId or workspaceSlug")
		return
	}
	if env == "" {
		fail(http.StatusBadRequest, "BadRequest", "Missing environment")
		return
	}
	p := s.projects[workspaceID]
	if p == nil && workspaceID == "" {
		for _, c := range s.projects {
			if c.slug == workspaceSlug {
				p = c
				break
			}
		}
	}
	if p == nil {
		ref := workspaceID
		if ref == "" {
			ref = workspaceSlug
		}
		fail(http.StatusNotFound, "NotFound", fmt.Sprintf("Project with %s not found", ref))
		return
	}
	if !p.members[at.identityID] {
		fail(http.StatusForbidden, "ProjectMembershipNotFound", fmt.Sprintf(
			"You are not a member of this project with ID %s. Please assign this identity to the project with the appropriate permissions, then try again.", p.id))
		return
	}
	folders, ok := p.envs[env]
	if !ok {
		fail(http.StatusNotFound, "NotFound", fmt.Sprintf("Environment with slug '%s' in project with ID %s not found", env, p.id))
		return
	}

	base := cleanPath(q.Get("secretPath"))
	recursive := q.Get("recursive") == "true"
	secrets := []secretJSON{} // a missing folder lists as empty, not 404
	var paths []string
	for fp := range folders {
		if fp == base || (recursive && (base == "/" || strings.HasPrefix(fp, base+"/"))) {
			paths = append(paths, fp)
		}
	}
	sort.Strings(paths)
	for _, fp := range paths {
		keys := make([]string, 0, len(folders[fp]))
		for k := range folders[fp] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			id := secretID(p.id, env, fp, k)
			secrets = append(secrets, secretJSON{
				ID: id, LegacyID: id, Workspace: p.id, Environment: env,
				Version: s.secretVersions[id], Type: "shared",
				SecretKey: k, SecretValue: folders[fp][k], SecretPath: fp,
				SecretMetadata: []string{}, Tags: []string{},
			})
		}
	}
	body, err := json.Marshal(map[string]any{"secrets": secrets, "imports": []any{}})
	if err != nil {
		fail(http.StatusInternalServerError, "InternalServerError", "Something went wrong")
		return
	}
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	s.counts.Lists++
	w.Header().Set("ETag", etag)
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

func secretID(projectID, env, folder, key string) string {
	sum := sha256.Sum256([]byte(projectID + "\x00" + env + "\x00" + folder + "\x00" + key))
	return hex.EncodeToString(sum[:12])
}

// cleanPath normalises a folder path to "/a/b" form.
func cleanPath(p string) string {
	return path.Clean("/" + strings.TrimSpace(p))
}

// decode reads a JSON body; on failure it answers 400 like Fastify does.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		s.writeError(w, http.StatusBadRequest, "Bad Request", "Request body is too large or unreadable")
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		s.writeError(w, http.StatusBadRequest, "Bad Request", "Body is not valid JSON")
		return false
	}
	return true
}

type zodIssue struct {
	Code     string   `json:"code"`
	Expected string   `json:"expected"`
	Received string   `json:"received"`
	Path     []string `json:"path"`
	Message  string   `json:"message"`
}

func missingField(present map[string]bool) []zodIssue {
	var issues []zodIssue
	keys := make([]string, 0, len(present))
	for k := range present {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !present[k] {
			issues = append(issues, zodIssue{Code: "invalid_type", Expected: "string", Received: "undefined", Path: []string{k}, Message: "Required"})
		}
	}
	return issues
}

// validationFailure answers 422 with the issues as the message, the shape
// Infisical uses for a ZodError (the SDK keeps the whole body as message).
func (s *Server) validationFailure(w http.ResponseWriter, issues []zodIssue) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqSeq++
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
		"reqId": "req-" + strconv.Itoa(s.reqSeq), "statusCode": http.StatusUnprocessableEntity,
		"error": "ValidationFailure", "message": issues,
	})
}

func (s *Server) writeError(w http.ResponseWriter, status int, name, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writeErrorLocked(w, status, name, msg)
}

// writeErrorLocked writes Infisical's error body; s.mu must be held.
func (s *Server) writeErrorLocked(w http.ResponseWriter, status int, name, msg string) {
	s.reqSeq++
	writeJSON(w, status, map[string]any{
		"reqId": "req-" + strconv.Itoa(s.reqSeq), "statusCode": status, "message": msg, "error": name,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}
