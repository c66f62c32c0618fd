package awscreds_test

import (
	"context"
	"errors"
	"github.com/superviber/blue-operator/mcpserver/awscreds"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/superviber/blue-operator/test/ststest"
	"github.com/superviber/blue-operator/test/testutil"
)

const (
	hopRole    = "arn:aws:iam::111111111111:role/blue-hop-acme"
	otherHop   = "arn:aws:iam::111111111111:role/blue-hop-other"
	clientRole = "arn:aws:iam::222222222222:role/BlueAccess"
	extID      = "blue-acme-6f1c2b"
	saSubject  = "system:serviceaccount:blue-acme:blue-mcp"
	goodToken  = "projected-token-blue-acme"
	otherToken = "projected-token-blue-other"
)

var target = awscreds.Target{RoleARN: clientRole, ExternalID: extID}

// fixture is a test STS on loopback with Superviber's hop role and a client
// role that trusts it with an ExternalId, plus a registry and captured logs.
type fixture struct {
	sts    *ststest.Server
	url    string
	hopKey ststest.AccessKey // long-term key that signs as the hop role
	reg    *prometheus.Registry
	logs   *testutil.Buffer
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	srv := ststest.New(ststest.Options{VerifyWebIdentity: func(_ context.Context, tok string) (string, error) {
		switch tok {
		case goodToken:
			return saSubject, nil
		case otherToken:
			return "system:serviceaccount:blue-other:blue-mcp", nil
		}
		return "", errors.New("token signature verification failed")
	}})
	for _, r := range []ststest.Role{
		{ARN: hopRole, WebIdentitySubjects: []string{saSubject}},
		{ARN: otherHop},
		{ARN: clientRole, TrustedPrincipals: []string{hopRole}, ExternalID: extID, SourceIdentityTrusted: true},
	} {
		if err := srv.PutRole(r); err != nil {
			t.Fatal(err)
		}
	}
	ep := srv.StartTB(t)
	return &fixture{sts: srv, url: ep.URL, hopKey: srv.NewAccessKey(hopRole), reg: prometheus.NewRegistry(), logs: &testutil.Buffer{}}
}

// noRetry makes every STS error visible once, so call counts are exact.
func noRetry(o *sts.Options) { o.RetryMaxAttempts = 1 }

func (f *fixture) options() awscreds.Options {
	return awscreds.Options{
		Tenant:      "acme",
		Region:      "eu-west-1",
		STSEndpoint: f.url,
		Base:        credentials.NewStaticCredentialsProvider(f.hopKey.AccessKeyID, f.hopKey.SecretAccessKey, ""),
	}
}

func (f *fixture) assumer(t testing.TB, mutate func(*awscreds.Options)) *awscreds.Assumer {
	t.Helper()
	o := f.options()
	if mutate != nil {
		mutate(&o)
	}
	o.STSClientOptions = append(o.STSClientOptions, noRetry)
	a, err := awscreds.New(context.Background(), o, slog.New(slog.NewJSONHandler(f.logs, nil)), f.reg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a
}

// webIdentityClient is an STS client for the unsigned web identity call.
func (f *fixture) webIdentityClient() *sts.Client {
	return sts.New(sts.Options{Region: "eu-west-1", BaseEndpoint: aws.String(f.url), Credentials: aws.AnonymousCredentials{}}, noRetry)
}

func (f *fixture) lastRecord(t *testing.T, action string) ststest.Record {
	t.Helper()
	recs := f.sts.Records()
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i].Action == action {
			return recs[i]
		}
	}
	t.Fatalf("no %s request recorded", action)
	return ststest.Record{}
}

func (f *fixture) metric(t *testing.T, outcome string) (count float64, observations uint64) {
	t.Helper()
	mfs, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != 1 || m.GetLabel()[0].GetValue() != outcome {
				continue
			}
			switch mf.GetName() {
			case "blue_sts_assume_total":
				count = m.GetCounter().GetValue()
			case "blue_sts_assume_duration_seconds":
				observations = m.GetHistogram().GetSampleCount()
			}
		}
	}
	return count, observations
}

func TestAssumeOK(t *testing.T) {
	f := newFixture(t)
	a := f.assumer(t, nil)
	ctx := t.Context()
	p := a.Provider(target, "alice@acme.com")

	before := time.Now()
	c, err := p.Retrieve(ctx)
	if err != nil {
		t.Fatalf("Retrieve: %v", err)
	}
	if c.AccessKeyID == "" || c.SecretAccessKey == "" || c.SessionToken == "" || !c.CanExpire {
		t.Fatalf("incomplete credentials: %+v", c)
	}
	// Duration (default 1h) is what was asked for and granted.
	if d := c.Expires.Sub(before); d < time.Hour-2*time.Second || d > time.Hour+time.Second {
		t.Errorf("expires %v after the call, want 1h", d)
	}
	if c.AccountID != "222222222222" {
		t.Errorf("AccountID = %q", c.AccountID)
	}

	id, ok := f.sts.Lookup(c.AccessKeyID)
	if !ok || id.RoleARN != clientRole || id.SessionName != "blue-acme-alice@acme.com" {
		t.Fatalf("STS says the key is %+v (%v)", id, ok)
	}
	rec := f.lastRecord(t, ststest.ActionAssumeRole)
	if rec.Caller != hopRole || rec.ExternalID != extID || rec.Outcome != "ok" {
		t.Errorf("AssumeRole as seen by STS: %+v", rec)
	}

	// The provider plugs into an SDK client as is.
	who, err := sts.New(sts.Options{Region: "eu-west-1", BaseEndpoint: aws.String(f.url), Credentials: p}, noRetry).
		GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity with the provider: %v", err)
	}
	if want := "arn:aws:sts::222222222222:assumed-role/BlueAccess/blue-acme-alice@acme.com"; aws.ToString(who.Arn) != want {
		t.Errorf("caller = %s, want %s", aws.ToString(who.Arn), want)
	}

	if n, obs := f.metric(t, awscreds.OutcomeOK); n != 1 || obs != 1 {
		t.Errorf("ok metrics: count %v, histogram %v; want 1, 1", n, obs)
	}
	if n, _ := f.metric(t, awscreds.OutcomeDenied); n != 0 {
		t.Errorf("denied count %v, want 0", n)
	}
	logs := f.logs.String()
	for _, want := range []string{`"event":"sts_assume"`, `"role_arn":"` + clientRole + `"`, `"session_name":"blue-acme-alice@acme.com"`,
		`"outcome":"ok"`, `"aws_request_id":"` + rec.RequestID + `"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
	for _, secret := range []string{c.SecretAccessKey, c.SessionToken, f.hopKey.SecretAccessKey} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain a secret")
		}
	}
}

func TestAssumeFailures(t *testing.T) {
	tests := []struct {
		name        string
		setup       func(t *testing.T, f *fixture)
		opts        func(f *fixture, o *awscreds.Options)
		target      awscreds.Target
		wantOutcome string
		wantCode    string
		wantRefused bool
		wantInMsg   []string
	}{
		{
			name: "wrong external id", target: awscreds.Target{RoleARN: clientRole, ExternalID: "not-the-id"},
			wantOutcome: awscreds.OutcomeDenied, wantCode: "AccessDenied", wantRefused: true,
			wantInMsg: []string{clientRole, "refused", "ExternalId", "trust policy", "EXTERNAL_ID"},
		},
		{
			name:   "untrusted principal",
			setup:  func(t *testing.T, f *fixture) { mustOK(t, f.sts.SetTrust(clientRole, otherHop)) },
			target: target, wantOutcome: awscreds.OutcomeDenied, wantCode: "AccessDenied", wantRefused: true,
			wantInMsg: []string{clientRole, "ExternalId", "trust policy"},
		},
		{
			name:   "role does not exist",
			target: awscreds.Target{RoleARN: "arn:aws:iam::222222222222:role/Gone", ExternalID: extID}, wantOutcome: awscreds.OutcomeDenied,
			wantCode: "AccessDenied", wantRefused: true, wantInMsg: []string{"role/Gone", "trust policy"},
		},
		{
			name: "hop key rejected by STS",
			opts: func(f *fixture, o *awscreds.Options) {
				o.Base = credentials.NewStaticCredentialsProvider("AKIAUNKNOWNUNKNOWN00", "secret-of-unknown-key", "")
			},
			target: target, wantOutcome: awscreds.OutcomeHopCredentials, wantCode: "InvalidClientTokenId",
			wantInMsg: []string{clientRole, "hop role"},
		},
		{
			name: "hop provider fails",
			opts: func(f *fixture, o *awscreds.Options) {
				o.Base = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
					return aws.Credentials{}, errors.New("open /var/run/secrets/eks.amazonaws.com/serviceaccount/token: no such file")
				})
			},
			target: target, wantOutcome: awscreds.OutcomeHopCredentials, wantInMsg: []string{"hop role", "no such file"},
		},
		{
			name:   "malformed role arn",
			target: awscreds.Target{RoleARN: "BlueAccess", ExternalID: extID}, wantOutcome: awscreds.OutcomeInvalid, wantCode: "ValidationError",
			wantInMsg: []string{"BlueAccess", "AWS_ROLE_ARN"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			if tc.setup != nil {
				tc.setup(t, f)
			}
			a := f.assumer(t, func(o *awscreds.Options) {
				if tc.opts != nil {
					tc.opts(f, o)
				}
			})
			p := a.Provider(tc.target, "alice@acme.com")
			_, err := p.Retrieve(t.Context())
			if err == nil {
				t.Fatal("want error")
			}
			if got := errors.Is(err, awscreds.ErrRoleRefused); got != tc.wantRefused {
				t.Errorf("errors.Is(err, awscreds.ErrRoleRefused) = %v, want %v: %v", got, tc.wantRefused, err)
			}
			var ae *awscreds.AssumeError
			if !errors.As(err, &ae) {
				t.Fatalf("not an *AssumeError: %v", err)
			}
			if ae.Outcome != tc.wantOutcome || ae.Code != tc.wantCode || ae.RoleARN != tc.target.RoleARN {
				t.Errorf("awscreds.AssumeError{Outcome:%q Code:%q Role:%q}, want %q %q %q", ae.Outcome, ae.Code, ae.RoleARN, tc.wantOutcome, tc.wantCode, tc.target.RoleARN)
			}
			if tc.wantCode != "" {
				if rec := f.lastRecord(t, ststest.ActionAssumeRole); ae.RequestID != rec.RequestID {
					t.Errorf("request id %q, STS logged %q", ae.RequestID, rec.RequestID)
				}
			}
			msg := err.Error()
			t.Logf("tool error: %s", msg)
			for _, want := range tc.wantInMsg {
				if !strings.Contains(msg, want) {
					t.Errorf("message lacks %q: %s", want, msg)
				}
			}
			if strings.Contains(msg, f.hopKey.SecretAccessKey) || strings.Contains(msg, "secret-of-unknown-key") ||
				strings.Contains(f.logs.String(), f.hopKey.SecretAccessKey) {
				t.Error("a secret leaked into the error or logs")
			}
			if n, obs := f.metric(t, tc.wantOutcome); n != 1 || obs != 1 {
				t.Errorf("metrics for %s: %v / %v, want 1 / 1", tc.wantOutcome, n, obs)
			}
			if !strings.Contains(f.logs.String(), `"outcome":"`+tc.wantOutcome+`"`) {
				t.Errorf("no log line with outcome %s:\n%s", tc.wantOutcome, f.logs)
			}
			// Failures are not cached: the next call asks STS again, so a fixed
			// trust policy works at once.
			calls := f.sts.Calls(ststest.ActionAssumeRole)
			_, _ = p.Retrieve(t.Context())
			if tc.wantCode != "" && f.sts.Calls(ststest.ActionAssumeRole) != calls+1 {
				t.Errorf("second Retrieve after a failure did not call STS")
			}
		})
	}
}

func TestTargetNotConfigured(t *testing.T) {
	f := newFixture(t)
	a := f.assumer(t, nil)
	for _, tg := range []awscreds.Target{{RoleARN: clientRole}, {ExternalID: extID}, {}} {
		_, err := a.Provider(tg, "alice").Retrieve(t.Context())
		if !errors.Is(err, awscreds.ErrNotConfigured) {
			t.Errorf("%+v: err = %v, want awscreds.ErrNotConfigured", tg, err)
		}
	}
	if n := f.sts.Calls(ststest.ActionAssumeRole); n != 0 {
		t.Errorf("STS called %d times for unconfigured targets", n)
	}
}

func TestCacheSteadyStateMakesNoSTSCalls(t *testing.T) {
	f := newFixture(t)
	a := f.assumer(t, nil)
	ctx := t.Context()
	warm, err := a.Provider(target, "alice").Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10_000 {
		// A fresh provider per request, as a server handling a tool call would make.
		c, err := a.Provider(target, "alice").Retrieve(ctx)
		if err != nil || c.AccessKeyID != warm.AccessKeyID {
			t.Fatalf("call %d: %v, key changed: %v", i, err, c.AccessKeyID != warm.AccessKeyID)
		}
	}
	if n := f.sts.Calls(ststest.ActionAssumeRole); n != 1 {
		t.Errorf("AssumeRole calls = %d, want 1 (warm-up only)", n)
	}
	// Another caller is another session (and another CloudTrail name).
	bob, err := a.Provider(target, "bob").Retrieve(ctx)
	if err != nil || bob.AccessKeyID == warm.AccessKeyID {
		t.Fatalf("bob: %v, same key as alice: %v", err, bob.AccessKeyID == warm.AccessKeyID)
	}
	if got := f.sts.SessionNames(clientRole); len(got) != 2 || got[0] != "blue-acme-alice" || got[1] != "blue-acme-bob" {
		t.Errorf("session names in CloudTrail: %q", got)
	}
}

func TestColdCacheConcurrentRetrieveCollapses(t *testing.T) {
	f := newFixture(t)
	a := f.assumer(t, nil)
	release := f.sts.Hold()
	defer release()

	const n = 100
	var started, done sync.WaitGroup
	keys := make([]string, n)
	errs := make([]error, n)
	started.Add(n)
	done.Add(n)
	for i := range n {
		go func() {
			defer done.Done()
			p := a.Provider(target, "alice")
			started.Done()
			c, err := p.Retrieve(context.Background())
			keys[i], errs[i] = c.AccessKeyID, err
		}()
	}
	// One call reaches STS and is held there while the rest pile up behind it
	// (without collapsing, all of them would reach STS).
	waitFor(t, func() bool { return f.sts.Held() >= 1 })
	started.Wait()
	release()
	done.Wait()

	for i := range n {
		if errs[i] != nil || keys[i] != keys[0] {
			t.Fatalf("caller %d: err %v, key differs: %v", i, errs[i], keys[i] != keys[0])
		}
	}
	if got := f.sts.Calls(ststest.ActionAssumeRole); got != 1 {
		t.Errorf("AssumeRole calls = %d, want exactly 1", got)
	}
}

func TestWaiterHonoursItsOwnContext(t *testing.T) {
	f := newFixture(t)
	a := f.assumer(t, nil)
	release := f.sts.Hold()
	defer release()

	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		_, err := a.Provider(target, "alice").Retrieve(ctx)
		first <- err
	}()
	waitFor(t, func() bool { return f.sts.Held() == 1 })
	second := make(chan aws.Credentials, 1)
	go func() {
		c, err := a.Provider(target, "alice").Retrieve(context.Background())
		if err != nil {
			t.Errorf("second waiter: %v", err)
		}
		second <- c
	}()

	// The caller that started the STS call gives up; the call goes on for
	// the other waiter.
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller got %v, want context.Canceled", err)
	}
	release()
	if c := <-second; c.AccessKeyID == "" {
		t.Fatal("second waiter got no credentials")
	}
	if got := f.sts.Calls(ststest.ActionAssumeRole); got != 1 {
		t.Errorf("AssumeRole calls = %d, want 1", got)
	}
}

func TestRefreshBeforeExpiry(t *testing.T) {
	t.Parallel() // waits on real credential lifetimes
	f := newFixture(t)
	f.sts.SetCredentialLifetime(3 * time.Second)
	a := f.assumer(t, func(o *awscreds.Options) { o.RefreshBefore = time.Second })
	p := a.Provider(target, "alice")
	ctx := t.Context()

	c1, err := p.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := p.Retrieve(ctx); err != nil || again.AccessKeyID != c1.AccessKeyID {
		t.Fatalf("fresh credentials were refreshed early (err %v)", err)
	}

	var c2 aws.Credentials
	var seen time.Time
	waitFor(t, func() bool {
		c, err := p.Retrieve(ctx)
		if err != nil {
			t.Fatalf("Retrieve while waiting for refresh: %v", err)
		}
		c2, seen = c, time.Now()
		return c.AccessKeyID != c1.AccessKeyID
	})
	if !seen.Before(c1.Expires) {
		t.Errorf("refreshed at %v, after the old credentials expired at %v", seen, c1.Expires)
	}
	if !c2.Expires.After(c1.Expires) {
		t.Errorf("new expiry %v not after old %v", c2.Expires, c1.Expires)
	}
	if got := f.sts.Calls(ststest.ActionAssumeRole); got != 2 {
		t.Errorf("AssumeRole calls = %d, want 2", got)
	}
}

func TestRefreshTransientFailureBridgesWithCachedCredentials(t *testing.T) {
	t.Parallel() // waits on real credential lifetimes
	f := newFixture(t)
	f.sts.SetCredentialLifetime(3 * time.Second)
	a := f.assumer(t, func(o *awscreds.Options) { o.RefreshBefore = time.Second })
	p := a.Provider(target, "alice")
	ctx := t.Context()
	c1, err := p.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f.sts.InjectError(ststest.ActionAssumeRole, "InternalFailure", 500, 1)

	// The failed refresh is invisible to callers: they keep the valid creds.
	waitFor(t, func() bool {
		c, err := p.Retrieve(ctx)
		if err != nil || c.AccessKeyID != c1.AccessKeyID {
			t.Fatalf("during failed refresh: err %v, key changed %v", err, c.AccessKeyID != c1.AccessKeyID)
		}
		return f.sts.Calls(ststest.ActionAssumeRole) == 2
	})
	// A later attempt succeeds before the old credentials expire.
	waitFor(t, func() bool {
		c, err := p.Retrieve(ctx)
		return err == nil && c.AccessKeyID != c1.AccessKeyID
	})
	if n, _ := f.metric(t, awscreds.OutcomeError); n != 1 {
		t.Errorf("error count %v, want 1", n)
	}
	if n, _ := f.metric(t, awscreds.OutcomeOK); n != 2 {
		t.Errorf("ok count %v, want 2", n)
	}
	if !strings.Contains(f.logs.String(), `"event":"sts_refresh_failed"`) {
		t.Error("no sts_refresh_failed log line")
	}
}

func TestRefreshDeniedFailsClosed(t *testing.T) {
	t.Parallel() // waits on real credential lifetimes
	f := newFixture(t)
	f.sts.SetCredentialLifetime(3 * time.Second)
	a := f.assumer(t, func(o *awscreds.Options) { o.RefreshBefore = time.Second })
	p := a.Provider(target, "alice")
	ctx := t.Context()
	c1, err := p.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The client removes Superviber from its trust policy.
	mustOK(t, f.sts.SetTrust(clientRole))
	var failedAt time.Time
	waitFor(t, func() bool {
		_, err := p.Retrieve(ctx)
		failedAt = time.Now()
		return errors.Is(err, awscreds.ErrRoleRefused)
	})
	if !failedAt.Before(c1.Expires) {
		t.Errorf("refusal surfaced at %v, after the old credentials expired (%v)", failedAt, c1.Expires)
	}
	// And it stays refused: the old credentials are gone from the cache.
	if _, err := p.Retrieve(ctx); !errors.Is(err, awscreds.ErrRoleRefused) {
		t.Errorf("after refusal: %v", err)
	}
}

func TestDropForcesNewCall(t *testing.T) {
	f := newFixture(t)
	a := f.assumer(t, nil)
	ctx := t.Context()
	p := a.Provider(target, "alice")
	c1, err := p.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a.Drop()
	c2, err := p.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c2.AccessKeyID == c1.AccessKeyID {
		t.Error("Drop did not discard the cached credentials")
	}
	if got := f.sts.Calls(ststest.ActionAssumeRole); got != 2 {
		t.Errorf("AssumeRole calls = %d, want 2", got)
	}
	if !strings.Contains(f.logs.String(), `"event":"sts_cache_dropped"`) {
		t.Error("no sts_cache_dropped log line")
	}
}

func TestDropDuringFlightIsNotUndone(t *testing.T) {
	f := newFixture(t)
	a := f.assumer(t, nil)
	release := f.sts.Hold()
	defer release()
	inflight := make(chan aws.Credentials, 1)
	go func() {
		c, err := a.Provider(target, "alice").Retrieve(context.Background())
		if err != nil {
			t.Errorf("in-flight Retrieve: %v", err)
		}
		inflight <- c
	}()
	waitFor(t, func() bool { return f.sts.Held() == 1 })
	a.Drop() // e.g. Infisical reports the client revoked access
	release()
	old := <-inflight

	c, err := a.Provider(target, "alice").Retrieve(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if c.AccessKeyID == old.AccessKeyID {
		t.Error("credentials fetched before Drop were cached after it")
	}
	if got := f.sts.Calls(ststest.ActionAssumeRole); got != 2 {
		t.Errorf("AssumeRole calls = %d, want 2", got)
	}
}

func TestExternalIDRotation(t *testing.T) {
	f := newFixture(t)
	a := f.assumer(t, nil)
	ctx := t.Context()
	oldP := a.Provider(target, "alice")
	c1, err := oldP.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// The client rotates its ExternalId in IAM and in Infisical.
	const newID = "blue-acme-rotated-91ad"
	mustOK(t, f.sts.SetExternalID(clientRole, newID))
	newP := a.Provider(awscreds.Target{RoleARN: clientRole, ExternalID: newID}, "alice")
	c2, err := newP.Retrieve(ctx)
	if err != nil {
		t.Fatalf("new ExternalId: %v", err)
	}
	if c2.AccessKeyID == c1.AccessKeyID {
		t.Error("new awscreds.Target reused the old awscreds.Target's credentials")
	}
	if rec := f.lastRecord(t, ststest.ActionAssumeRole); rec.ExternalID != newID || rec.Outcome != "ok" {
		t.Errorf("STS saw %+v", rec)
	}

	// After the config reload drops the cache, the old ExternalId is refused.
	a.Drop()
	if _, err := oldP.Retrieve(ctx); !errors.Is(err, awscreds.ErrRoleRefused) {
		t.Errorf("old ExternalId after rotation: %v, want awscreds.ErrRoleRefused", err)
	}
	if _, err := newP.Retrieve(ctx); err != nil {
		t.Errorf("new ExternalId after Drop: %v", err)
	}
}

func TestWebIdentityHopEndToEnd(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	hop := func(token string) aws.CredentialsProvider {
		return stscreds.NewWebIdentityRoleProvider(f.webIdentityClient(), hopRole, tokenString(token),
			func(o *stscreds.WebIdentityRoleOptions) { o.RoleSessionName = "blue-acme-pod-0" })
	}

	t.Run("good token", func(t *testing.T) {
		a := f.assumer(t, func(o *awscreds.Options) { o.Base = hop(goodToken) })
		c, err := a.Provider(target, "alice").Retrieve(ctx)
		if err != nil {
			t.Fatalf("web identity → hop → client role: %v", err)
		}
		if id, ok := f.sts.Lookup(c.AccessKeyID); !ok || id.RoleARN != clientRole {
			t.Fatalf("final credentials belong to %+v", id)
		}
		rec := f.lastRecord(t, ststest.ActionAssumeRole)
		if want := "arn:aws:sts::111111111111:assumed-role/blue-hop-acme/blue-acme-pod-0"; rec.Caller != want {
			t.Errorf("AssumeRole signed by %q, want the hop role session %q", rec.Caller, want)
		}
		// The hop credentials are cached too: a second caller costs one
		// AssumeRole and no new web identity exchange.
		if _, err := a.Provider(target, "bob").Retrieve(ctx); err != nil {
			t.Fatal(err)
		}
		if wi, ar := f.sts.Calls(ststest.ActionAssumeRoleWithWebIdentity), f.sts.Calls(ststest.ActionAssumeRole); wi != 1 || ar != 2 {
			t.Errorf("web identity calls %d (want 1), AssumeRole calls %d (want 2)", wi, ar)
		}
	})

	for _, tc := range []struct {
		name, token, code string
	}{
		{"bad token", "forged-token", "InvalidIdentityToken"},
		{"token of another tenant's service account", otherToken, "AccessDenied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := f.sts.Calls(ststest.ActionAssumeRole)
			a := f.assumer(t, func(o *awscreds.Options) { o.Base = hop(tc.token) })
			_, err := a.Provider(target, "alice").Retrieve(ctx)
			var ae *awscreds.AssumeError
			if !errors.As(err, &ae) || ae.Outcome != awscreds.OutcomeHopCredentials || ae.Code != tc.code {
				t.Fatalf("err = %v, want hop_credentials / %s", err, tc.code)
			}
			// An AccessDenied on our own hop is not the client refusing us.
			if errors.Is(err, awscreds.ErrRoleRefused) {
				t.Error("hop failure reported as the client's refusal")
			}
			if tc.code == "InvalidIdentityToken" {
				var iit *ststypes.InvalidIdentityTokenException
				if !errors.As(err, &iit) {
					t.Errorf("SDK did not parse the error as InvalidIdentityTokenException: %v", err)
				}
			}
			if got := f.sts.Calls(ststest.ActionAssumeRole); got != before {
				t.Errorf("AssumeRole was sent without hop credentials")
			}
		})
	}
}

// TestDefaultChainIRSA runs Base == nil through the SDK's default chain with
// the environment the EKS pod identity webhook sets up.
func TestDefaultChainIRSA(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(goodToken), 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"AWS_ROLE_ARN":                           hopRole,
		"AWS_WEB_IDENTITY_TOKEN_FILE":            tokenFile,
		"AWS_ROLE_SESSION_NAME":                  "blue-acme-pod-1",
		"AWS_CONFIG_FILE":                        filepath.Join(dir, "no-config"),
		"AWS_SHARED_CREDENTIALS_FILE":            filepath.Join(dir, "no-credentials"),
		"AWS_EC2_METADATA_DISABLED":              "true",
		"AWS_ACCESS_KEY_ID":                      "",
		"AWS_SECRET_ACCESS_KEY":                  "",
		"AWS_SESSION_TOKEN":                      "",
		"AWS_PROFILE":                            "",
		"AWS_CA_BUNDLE":                          "",
		"AWS_ENDPOINT_URL":                       "",
		"AWS_ENDPOINT_URL_STS":                   "",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI":     "",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "",
	} {
		t.Setenv(k, v)
	}
	a := f.assumer(t, func(o *awscreds.Options) { o.Base = nil })
	c, err := a.Provider(target, "alice").Retrieve(t.Context())
	if err != nil {
		t.Fatalf("default chain: %v", err)
	}
	if id, ok := f.sts.Lookup(c.AccessKeyID); !ok || id.RoleARN != clientRole {
		t.Fatalf("final credentials belong to %+v", id)
	}
	if got := f.sts.SessionNames(hopRole); len(got) != 1 || got[0] != "blue-acme-pod-1" {
		t.Errorf("hop sessions %q, want the web identity session from AWS_ROLE_SESSION_NAME", got)
	}
	if rec := f.lastRecord(t, ststest.ActionAssumeRole); rec.Caller != "arn:aws:sts::111111111111:assumed-role/blue-hop-acme/blue-acme-pod-1" {
		t.Errorf("AssumeRole signed by %q", rec.Caller)
	}
}

func TestMetricsSharedRegistry(t *testing.T) {
	f := newFixture(t)
	a1 := f.assumer(t, nil)
	a2 := f.assumer(t, nil) // same registry: must not fail, must share the series
	for _, a := range []*awscreds.Assumer{a1, a2} {
		if _, err := a.Provider(target, "alice").Retrieve(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := f.metric(t, awscreds.OutcomeOK); n != 2 {
		t.Errorf("ok count %v, want 2", n)
	}
}

// BenchmarkProviderRetrieveCached is the per-request cost in steady state:
// a provider built for the request and a cache hit.
func BenchmarkProviderRetrieveCached(b *testing.B) {
	f := newFixture(b)
	a := f.assumer(b, nil)
	ctx := context.Background()
	if _, err := a.Provider(target, "alice@acme.com").Retrieve(ctx); err != nil {
		b.Fatal(err)
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		p := a.Provider(target, "alice@acme.com")
		for b.Loop() {
			if _, err := p.Retrieve(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("new-provider-per-call", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := a.Provider(target, "alice@acme.com").Retrieve(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			p := a.Provider(target, "alice@acme.com")
			for pb.Next() {
				if _, err := p.Retrieve(ctx); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	if n := f.sts.Calls(ststest.ActionAssumeRole); n != 1 {
		b.Errorf("AssumeRole calls = %d, want 1", n)
	}
}

type tokenString string

func (s tokenString) GetIdentityToken() ([]byte, error) { return []byte(s), nil }

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	testutil.EventuallyTrue(t, 10*time.Second, 2*time.Millisecond, cond)
}

// An STS that accepts the connection and never answers does not hold a
// caller: the call is given up after CallTimeout with an error.
func TestUnansweringSTSHitsTheDeadline(t *testing.T) {
	f := newFixture(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, never answered
		}
	}()
	a := f.assumer(t, func(o *awscreds.Options) {
		o.STSEndpoint = "http://" + ln.Addr().String()
		o.CallTimeout = 300 * time.Millisecond
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err = a.Provider(awscreds.Target{RoleARN: clientRole, ExternalID: extID}, "alice@acme.com").Retrieve(ctx)
	if err == nil || ctx.Err() != nil {
		t.Fatalf("Retrieve against a silent STS: %v (caller context: %v), want an error before the caller gives up", err, ctx.Err())
	}
}
