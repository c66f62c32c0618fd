package ststest

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	awssts "github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"

	"github.com/superviber/blue-operator/test/testutil"
)

const (
	hopRole    = "arn:aws:iam::111111111111:role/blue-hop-acme"
	otherRole  = "arn:aws:iam::111111111111:role/blue-hop-other"
	clientRole = "arn:aws:iam::222222222222:role/BlueAccess"
	externalID = "blue-acme-6f1c2b"
	saSubject  = "system:serviceaccount:blue-acme:blue-mcp"
	goodToken  = "token-for-blue-acme"
)

type env struct {
	srv *Server
	url string
	hop AccessKey // long-term key standing in for the hop role
}

func newEnv(t *testing.T) *env {
	t.Helper()
	srv := New(Options{VerifyWebIdentity: func(_ context.Context, tok string) (string, error) {
		switch tok {
		case goodToken:
			return saSubject, nil
		case "token-for-other":
			return "system:serviceaccount:blue-other:blue-mcp", nil
		case "expired-token":
			return "", fmt.Errorf("exp 2020-01-01T00:00:00Z: %w", ErrExpiredToken)
		}
		return "", errors.New("signature verification failed")
	}})
	mustPut(t, srv, Role{ARN: hopRole, WebIdentitySubjects: []string{saSubject}})
	mustPut(t, srv, Role{ARN: otherRole})
	mustPut(t, srv, Role{ARN: clientRole, TrustedPrincipals: []string{hopRole}, ExternalID: externalID, MaxSessionDuration: 12 * time.Hour})
	ep := srv.StartTB(t)
	return &env{srv: srv, url: ep.URL, hop: srv.NewAccessKey(hopRole)}
}

func mustPut(t *testing.T, s *Server, r Role) {
	t.Helper()
	if err := s.PutRole(r); err != nil {
		t.Fatal(err)
	}
}

// client is the real SDK STS client against the test server; no retries so
// every error is seen once.
func (e *env) client(creds aws.CredentialsProvider) *awssts.Client {
	return awssts.New(awssts.Options{
		Region:           "eu-west-1",
		BaseEndpoint:     aws.String(e.url),
		Credentials:      creds,
		RetryMaxAttempts: 1,
	})
}

func static(k AccessKey) aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(k.AccessKeyID, k.SecretAccessKey, "")
}

func fromSession(id Identity) aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(id.AccessKeyID, id.SecretAccessKey, id.SessionToken)
}

func assume(ctx context.Context, c *awssts.Client, session, extID string, dur int32) (*awssts.AssumeRoleOutput, error) {
	in := &awssts.AssumeRoleInput{RoleArn: aws.String(clientRole), RoleSessionName: aws.String(session)}
	if extID != "" {
		in.ExternalId = aws.String(extID)
	}
	if dur != 0 {
		in.DurationSeconds = aws.Int32(dur)
	}
	return c.AssumeRole(ctx, in)
}

func TestAssumeRoleThroughSDK(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	before := time.Now()
	out, err := assume(ctx, e.client(static(e.hop)), "blue-acme-alice@acme.com", externalID, 900)
	if err != nil {
		t.Fatalf("AssumeRole: %v", err)
	}
	c := out.Credentials
	if !strings.HasPrefix(aws.ToString(c.AccessKeyId), "ASIA") || aws.ToString(c.SecretAccessKey) == "" || aws.ToString(c.SessionToken) == "" {
		t.Fatalf("credentials not parsed: %+v", c)
	}
	// DurationSeconds is honoured (to the second).
	if got := aws.ToTime(c.Expiration).Sub(before); got < 899*time.Second || got > 901*time.Second {
		t.Errorf("expiration %v after request, want ≈ 900s", got)
	}
	wantArn := "arn:aws:sts::222222222222:assumed-role/BlueAccess/blue-acme-alice@acme.com"
	if got := aws.ToString(out.AssumedRoleUser.Arn); got != wantArn {
		t.Errorf("AssumedRoleUser.Arn = %q, want %q", got, wantArn)
	}
	if !strings.HasSuffix(aws.ToString(out.AssumedRoleUser.AssumedRoleId), ":blue-acme-alice@acme.com") {
		t.Errorf("AssumedRoleId = %q", aws.ToString(out.AssumedRoleUser.AssumedRoleId))
	}

	id, ok := e.srv.Lookup(aws.ToString(c.AccessKeyId))
	if !ok || id.RoleARN != clientRole || id.SessionName != "blue-acme-alice@acme.com" || id.Principal != wantArn {
		t.Fatalf("Lookup = %+v, %v", id, ok)
	}
	if !id.Expires.Equal(aws.ToTime(c.Expiration)) {
		t.Errorf("Lookup expiry %v != returned %v", id.Expires, aws.ToTime(c.Expiration))
	}

	// The issued credentials work for signed calls and identify the session.
	who, err := e.client(fromSession(id)).GetCallerIdentity(ctx, &awssts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity with issued creds: %v", err)
	}
	if aws.ToString(who.Arn) != wantArn || aws.ToString(who.Account) != "222222222222" {
		t.Errorf("GetCallerIdentity = %s / %s", aws.ToString(who.Arn), aws.ToString(who.Account))
	}

	if got := e.srv.Calls(ActionAssumeRole); got != 1 {
		t.Errorf("Calls(AssumeRole) = %d, want 1", got)
	}
	if got := e.srv.RoleCalls(clientRole); got != 1 {
		t.Errorf("RoleCalls = %d, want 1", got)
	}
	if got := e.srv.SessionNames(clientRole); len(got) != 1 || got[0] != "blue-acme-alice@acme.com" {
		t.Errorf("SessionNames = %q", got)
	}
	recs := e.srv.Records()
	if len(recs) != 2 || recs[0].ExternalID != externalID || recs[0].Caller != hopRole || recs[0].Outcome != "ok" {
		t.Errorf("records = %+v", recs)
	}
}

func TestCredentialLifetimeOverride(t *testing.T) {
	e := newEnv(t)
	e.srv.SetCredentialLifetime(3 * time.Second)
	before := time.Now()
	out, err := assume(t.Context(), e.client(static(e.hop)), "s1", externalID, 3600)
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToTime(out.Credentials.Expiration).Sub(before); got > 3*time.Second || got < time.Second {
		t.Errorf("expiration %v after request, want ≤ 3s", got)
	}
}

func TestAssumeRoleErrors(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	// A session of another role, and an expired session of the hop role.
	otherSess := e.srv.issue(roleState{Role: Role{ARN: otherRole}}, "x1", time.Hour, "")
	expired := e.srv.issue(roleState{Role: Role{ARN: hopRole}}, "old", -time.Second, "")
	hopSess := e.srv.issue(roleState{Role: Role{ARN: hopRole}}, "hop", time.Hour, "")

	tests := []struct {
		name       string
		creds      aws.CredentialsProvider
		session    string
		extID      string
		dur        int32
		wantCode   string
		wantStatus int
		wantMsg    string
	}{
		{"missing auth", aws.AnonymousCredentials{}, "s1", externalID, 0, "MissingAuthenticationToken", 403, "missing Authentication Token"},
		{"unknown key", credentials.NewStaticCredentialsProvider("AKIAUNKNOWN000000000", "x", ""), "s1", externalID, 0, "InvalidClientTokenId", 403, "security token included in the request is invalid"},
		{"session key without its token", credentials.NewStaticCredentialsProvider(hopSess.AccessKeyID, hopSess.SecretAccessKey, "forged"), "s1", externalID, 0, "InvalidClientTokenId", 403, "invalid"},
		{"expired session", fromSession(expired), "s1", externalID, 0, "ExpiredToken", 403, "expired"},
		{"wrong external id", static(e.hop), "s1", "wrong-id", 0, "AccessDenied", 403, "User: " + hopRole + " is not authorized to perform: sts:AssumeRole on resource: " + clientRole},
		{"missing external id", static(e.hop), "s1", "", 0, "AccessDenied", 403, "not authorized"},
		{"untrusted principal", fromSession(otherSess), "s1", externalID, 0, "AccessDenied", 403, "assumed-role/blue-hop-other/x1 is not authorized"},
		{"session name too short", static(e.hop), "a", externalID, 0, "ValidationError", 400, "roleSessionName"},
		{"session name too long", static(e.hop), strings.Repeat("a", 65), externalID, 0, "ValidationError", 400, "roleSessionName"},
		{"session name bad char", static(e.hop), "alice smith", externalID, 0, "ValidationError", 400, "regular expression"},
		{"duration too short", static(e.hop), "s1", externalID, 899, "ValidationError", 400, "greater than or equal to 900"},
		{"duration too long", static(e.hop), "s1", externalID, 43201, "ValidationError", 400, "less than or equal to 43200"},
		{"role chaining over 1h", static(e.hop), "s1", externalID, 7200, "ValidationError", 400, "role chaining"},
		{"external id bad chars", static(e.hop), "s1", "a b", 0, "ValidationError", 400, "externalId"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := assume(ctx, e.client(tc.creds), tc.session, tc.extID, tc.dur)
			checkAPIError(t, e.srv, err, tc.wantCode, tc.wantStatus, tc.wantMsg)
		})
	}
}

// checkAPIError asserts the SDK parsed our XML error into code, status and
// message, and that the request id it reports is the one the server logged.
func checkAPIError(t *testing.T, srv *Server, err error, code string, status int, msg string) {
	t.Helper()
	var api smithy.APIError
	if !errors.As(err, &api) {
		t.Fatalf("want API error %s, got %v", code, err)
	}
	if api.ErrorCode() != code {
		t.Errorf("code = %q, want %q (%v)", api.ErrorCode(), code, err)
	}
	if !strings.Contains(api.ErrorMessage(), msg) {
		t.Errorf("message %q does not contain %q", api.ErrorMessage(), msg)
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("no ResponseError in %v", err)
	}
	if re.HTTPStatusCode() != status {
		t.Errorf("status = %d, want %d", re.HTTPStatusCode(), status)
	}
	recs := srv.Records()
	last := recs[len(recs)-1]
	if re.ServiceRequestID() == "" || re.ServiceRequestID() != last.RequestID || last.Outcome != code {
		t.Errorf("request id %q / outcome, last record %+v", re.ServiceRequestID(), last)
	}
}

func TestRoleMaxSessionDuration(t *testing.T) {
	e := newEnv(t)
	// A long-term key of a user (not a role): no chaining limit, role max applies.
	user := e.srv.NewAccessKey("arn:aws:iam::111111111111:user/ci")
	if err := e.srv.SetTrust(clientRole, hopRole, "arn:aws:iam::111111111111:user/ci"); err != nil {
		t.Fatal(err)
	}
	c := e.client(static(user))
	if _, err := assume(t.Context(), c, "ci", externalID, 7200); err != nil {
		t.Fatalf("2h for a non-chained caller within role max 12h: %v", err)
	}
	mustPut(t, e.srv, Role{ARN: clientRole, TrustedPrincipals: []string{"arn:aws:iam::111111111111:root"}, ExternalID: externalID})
	_, err := assume(t.Context(), c, "ci", externalID, 7200)
	checkAPIError(t, e.srv, err, "ValidationError", 400, "MaxSessionDuration")
	// Account-root trust lets any principal of the account in.
	if _, err := assume(t.Context(), c, "ci", externalID, 0); err != nil {
		t.Fatalf("account root trust: %v", err)
	}
}

func TestSwitches(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	c := e.client(static(e.hop))
	if err := e.srv.SetExternalID(clientRole, "rotated-id"); err != nil {
		t.Fatal(err)
	}
	_, err := assume(ctx, c, "s1", externalID, 0)
	checkAPIError(t, e.srv, err, "AccessDenied", 403, "not authorized")
	if _, err := assume(ctx, c, "s1", "rotated-id", 0); err != nil {
		t.Fatalf("rotated external id: %v", err)
	}
	if err := e.srv.SetTrust(clientRole); err != nil {
		t.Fatal(err)
	}
	_, err = assume(ctx, c, "s1", "rotated-id", 0)
	checkAPIError(t, e.srv, err, "AccessDenied", 403, "not authorized")
	if err := e.srv.SetTrust("arn:aws:iam::222222222222:role/Nope", hopRole); err == nil {
		t.Error("SetTrust on unknown role: want error")
	}
	if got := e.srv.RoleCalls(clientRole); got != 3 {
		t.Errorf("RoleCalls = %d, want 3", got)
	}
	if got := e.srv.SessionNames(clientRole); len(got) != 1 {
		t.Errorf("SessionNames = %q, want one success", got)
	}

	e.srv.InjectError(ActionAssumeRole, "Throttling", 400, 1)
	if err := e.srv.SetTrust(clientRole, hopRole); err != nil {
		t.Fatal(err)
	}
	_, err = assume(ctx, c, "s1", "rotated-id", 0)
	checkAPIError(t, e.srv, err, "Throttling", 400, "injected")
	if _, err := assume(ctx, c, "s1", "rotated-id", 0); err != nil {
		t.Fatalf("after one injected error: %v", err)
	}
}

func TestWebIdentityThroughSDK(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	anon := e.client(aws.AnonymousCredentials{})
	provider := func(token string) *stscreds.WebIdentityRoleProvider {
		return stscreds.NewWebIdentityRoleProvider(anon, hopRole, tokenString(token), func(o *stscreds.WebIdentityRoleOptions) {
			o.RoleSessionName = "pod-1"
		})
	}

	creds, err := provider(goodToken).Retrieve(ctx)
	if err != nil {
		t.Fatalf("web identity: %v", err)
	}
	id, ok := e.srv.Lookup(creds.AccessKeyID)
	if !ok || id.RoleARN != hopRole || id.SessionName != "pod-1" || creds.AccountID != "111111111111" {
		t.Fatalf("Lookup = %+v %v, account %q", id, ok, creds.AccountID)
	}
	if d := time.Until(creds.Expires); d < 59*time.Minute || d > time.Hour {
		t.Errorf("default duration: expires in %v, want 1h", d)
	}
	// The hop session can now assume the client role (role chaining).
	if _, err := assume(ctx, e.client(credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken)), "s1", externalID, 0); err != nil {
		t.Fatalf("assume with web identity session: %v", err)
	}

	tests := []struct {
		name   string
		token  string
		target any
		code   string
	}{
		{"bad signature", "not-a-valid-token", new(*ststypes.InvalidIdentityTokenException), "InvalidIdentityToken"},
		{"expired", "expired-token", new(*ststypes.ExpiredTokenException), "ExpiredTokenException"},
		{"subject not allowed", "token-for-other", nil, "AccessDenied"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := provider(tc.token).Retrieve(ctx)
			if err == nil {
				t.Fatal("want error")
			}
			if tc.target != nil && !errors.As(err, tc.target) {
				t.Errorf("error %v is not %T", err, tc.target)
			}
			var api smithy.APIError
			if !errors.As(err, &api) || api.ErrorCode() != tc.code {
				t.Errorf("error %v, want code %s", err, tc.code)
			}
		})
	}
	if got, want := e.srv.Calls(ActionAssumeRoleWithWebIdentity), 4; got != want {
		t.Errorf("Calls(AssumeRoleWithWebIdentity) = %d, want %d", got, want)
	}
}

type tokenString string

func (s tokenString) GetIdentityToken() ([]byte, error) { return []byte(s), nil }

// TestWireFormat checks the raw HTTP exchange against what AWS sends, beyond
// what the SDK happens to tolerate.
func TestWireFormat(t *testing.T) {
	e := newEnv(t)
	post := func(form url.Values, auth string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.url, strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, b
	}
	auth := "AWS4-HMAC-SHA256 Credential=" + e.hop.AccessKeyID + "/20260101/eu-west-1/sts/aws4_request, SignedHeaders=host;x-amz-date, Signature=00"

	resp, body := post(url.Values{"Action": {"AssumeRole"}, "Version": {APIVersion}, "RoleArn": {clientRole},
		"RoleSessionName": {"raw"}, "ExternalId": {externalID}}, auth)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/xml" {
		t.Fatalf("status %d, content-type %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	for _, want := range []string{
		`<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials><AccessKeyId>ASIA`,
		`</SessionToken><Expiration>`, `</Credentials><AssumedRoleUser><AssumedRoleId>AROA`,
		`</AssumedRoleUser></AssumeRoleResult><ResponseMetadata><RequestId>` + resp.Header.Get("x-amzn-RequestId") + `</RequestId></ResponseMetadata></AssumeRoleResponse>`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("body lacks %s\n%s", want, body)
		}
	}

	var er struct {
		XMLName   xml.Name `xml:"ErrorResponse"`
		Error     struct{ Type, Code, Message string }
		RequestID string `xml:"RequestId"`
	}
	for _, tc := range []struct {
		name   string
		form   url.Values
		auth   string
		status int
		code   string
	}{
		{"wrong version", url.Values{"Action": {"AssumeRole"}, "Version": {"2010-01-01"}}, auth, 400, "InvalidAction"},
		{"unknown action", url.Values{"Action": {"DeleteEverything"}, "Version": {APIVersion}}, auth, 400, "InvalidAction"},
		{"missing action", url.Values{"Version": {APIVersion}}, auth, 400, "MissingAction"},
		{"wrong service scope", url.Values{"Action": {"AssumeRole"}, "Version": {APIVersion}, "RoleArn": {clientRole}, "RoleSessionName": {"raw"}},
			strings.Replace(auth, "/sts/", "/s3/", 1), 403, "SignatureDoesNotMatch"},
		{"denied", url.Values{"Action": {"AssumeRole"}, "Version": {APIVersion}, "RoleArn": {clientRole}, "RoleSessionName": {"raw"}}, auth, 403, "AccessDenied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := post(tc.form, tc.auth)
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if err := xml.Unmarshal(body, &er); err != nil {
				t.Fatalf("%v: %s", err, body)
			}
			if er.Error.Type != "Sender" || er.Error.Code != tc.code || er.Error.Message == "" || er.RequestID != resp.Header.Get("x-amzn-RequestId") {
				t.Errorf("error body %+v", er)
			}
			if !strings.HasPrefix(string(body), `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>`) {
				t.Errorf("error layout: %s", body)
			}
		})
	}
}

func TestHold(t *testing.T) {
	e := newEnv(t)
	release := e.srv.Hold()
	defer release()
	c := e.client(static(e.hop))
	done := make(chan error, 1)
	go func() {
		_, err := assume(context.Background(), c, "held", externalID, 0)
		done <- err
	}()
	waitFor(t, func() bool { return e.srv.Held() == 1 })
	select {
	case err := <-done:
		t.Fatalf("request finished while held: %v", err)
	default:
	}
	release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if e.srv.Held() != 0 {
		t.Errorf("Held = %d after release", e.srv.Held())
	}
}

func TestValidateRoleSessionName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"ab", true},
		{"blue-acme-alice@acme.com", true},
		{"a_b+c=d,e.f@g-h", true},
		{strings.Repeat("x", 64), true},
		{"a", false},
		{"", false},
		{strings.Repeat("x", 65), false},
		{"has space", false},
		{"auth0|123", false},
		{"józef", false},
		{"a/b", false},
	} {
		if err := ValidateRoleSessionName(tc.name); (err == nil) != tc.ok {
			t.Errorf("ValidateRoleSessionName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

// waitFor polls cond until it holds, failing the test after 5 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	testutil.EventuallyTrue(t, 5*time.Second, time.Millisecond, cond)
}

// SourceIdentity: set only where the trust policy grants
// sts:SetSourceIdentity, validated as STS does, carried by the session and
// its record, and fixed for the rest of a role chain.
func TestSourceIdentity(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	with := func(c *awssts.Client, role, id string) (*awssts.AssumeRoleOutput, error) {
		return c.AssumeRole(ctx, &awssts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String("s1"),
			ExternalId: aws.String(externalID), SourceIdentity: aws.String(id)})
	}
	// Not granted: denied, naming the permission.
	_, err := with(e.client(static(e.hop)), clientRole, "alice@example.com")
	checkAPIError(t, e.srv, err, "AccessDenied", 403, "is not authorized to perform: sts:SetSourceIdentity on resource: "+clientRole)

	mustOK(t, e.srv.updateRole(clientRole, func(r *roleState) { r.SourceIdentityTrusted = true }))
	out, err := with(e.client(static(e.hop)), clientRole, "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.SourceIdentity) != "alice@example.com" {
		t.Errorf("answer's SourceIdentity %q", aws.ToString(out.SourceIdentity))
	}
	id, ok := e.srv.Lookup(aws.ToString(out.Credentials.AccessKeyId))
	recs := e.srv.Records()
	if !ok || id.SourceIdentity != "alice@example.com" || recs[len(recs)-1].SourceIdentity != "alice@example.com" {
		t.Errorf("session %+v, record %+v", id, recs[len(recs)-1])
	}

	for name, bad := range map[string]string{"too short": "a", "too long": strings.Repeat("a", 65), "reserved": "aws:alice", "bad char": "alice smith"} {
		t.Run(name, func(t *testing.T) {
			_, err := with(e.client(static(e.hop)), clientRole, bad)
			checkAPIError(t, e.srv, err, "ValidationError", 400, "sourceIdentity")
		})
	}

	// Chained from a session that has one: it stays, and cannot change.
	chained := fromSession(Identity{AccessKeyID: aws.ToString(out.Credentials.AccessKeyId), SecretAccessKey: aws.ToString(out.Credentials.SecretAccessKey), SessionToken: aws.ToString(out.Credentials.SessionToken)})
	mustPut(t, e.srv, Role{ARN: "arn:aws:iam::222222222222:role/Next", TrustedPrincipals: []string{clientRole}, SourceIdentityTrusted: true})
	_, err = with(e.client(chained), "arn:aws:iam::222222222222:role/Next", "mallory@example.com")
	checkAPIError(t, e.srv, err, "ValidationError", 400, "cannot be changed")
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
