package access

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/smithy-go"

	"github.com/superviber/blue-operator/mcpserver/apigw"
	"github.com/superviber/blue-operator/mcpserver/awscreds"
	"github.com/superviber/blue-operator/mcpserver/tenantconfig"
)

func TestFromSettings(t *testing.T) {
	cases := []struct {
		err      error
		problems []string
		ok       bool
		reason   string
	}{
		{nil, nil, true, ""},
		{fmt.Errorf("%w: 403 (project p)", tenantconfig.ErrRevoked), nil, false, ReasonRevoked},
		{fmt.Errorf("%w: missing required secrets BLUE_S3_BUCKET in p", tenantconfig.ErrIncomplete), []string{"BLUE_S3_BUCKET"}, false, ReasonSettingsIncomplete},
		{fmt.Errorf("%w: refused", tenantconfig.ErrOutsideAccount), []string{"AWS_ROLE_ARN is not a role in the tenant's account 1"}, false, ReasonOutsideAccount},
		{fmt.Errorf("%w: %w", tenantconfig.ErrUnavailable, tenantconfig.ErrNotLoaded), nil, false, ReasonSettingsLoading},
		{fmt.Errorf("%w: unreachable since …", tenantconfig.ErrUnavailable), nil, false, ReasonInfisicalUnreachable},
	}
	for _, c := range cases {
		r, ok := FromSettings(c.err, c.problems)
		if ok != c.ok || r.Reason != c.reason {
			t.Errorf("%v: %+v %v, want %s %v", c.err, r, ok, c.reason, c.ok)
		}
		if c.err != nil && r.Status != Reasons[c.reason] {
			t.Errorf("%v: status %s", c.err, r.Status)
		}
		for _, p := range c.problems {
			if !contains(r.Message, p) {
				t.Errorf("%v: message %q does not name %q", c.err, r.Message, p)
			}
		}
	}
}

func TestFromAssume(t *testing.T) {
	denied := &smithy.GenericAPIError{Code: "AccessDenied", Message: "User: arn:aws:sts::111:assumed-role/blue-hop-acme/x is not authorized to perform: sts:AssumeRole"}
	sourceID := &smithy.GenericAPIError{Code: "AccessDenied", Message: "User: x is not authorized to perform: sts:SetSourceIdentity on resource: y"}
	cases := []struct {
		err     error
		ok      bool
		reason  string
		mention string
	}{
		{nil, true, "", ""},
		{&awscreds.AssumeError{Outcome: awscreds.OutcomeDenied, Code: "AccessDenied", Err: denied}, false, ReasonAssumeRoleDenied, "trust policy"},
		{&awscreds.AssumeError{Outcome: awscreds.OutcomeDenied, Code: "AccessDenied", Err: sourceID}, false, ReasonAssumeRoleDenied, "sts:SetSourceIdentity"},
		{&awscreds.AssumeError{Outcome: awscreds.OutcomeInvalid, Err: errors.New("bad arn")}, false, ReasonAssumeRoleDenied, "AWS_ROLE_ARN"},
		{&awscreds.AssumeError{Outcome: awscreds.OutcomeHopCredentials, Err: errors.New("no token")}, false, ReasonSTSUnreachable, "hop role"},
		{&awscreds.AssumeError{Outcome: awscreds.OutcomeError, Err: errors.New("dial tcp: timeout")}, false, ReasonSTSUnreachable, ""},
		{fmt.Errorf("%w: lacks AWS_ROLE_ARN", awscreds.ErrNotConfigured), false, ReasonSettingsIncomplete, "AWS_ROLE_ARN"},
	}
	for _, c := range cases {
		r, ok := FromAssume(c.err)
		if ok != c.ok || r.Reason != c.reason || !contains(r.Message, c.mention) {
			t.Errorf("%v: %+v %v, want %s mentioning %q", c.err, r, ok, c.reason, c.mention)
		}
		// AWS's own message names Superviber's hop role: never copied.
		if contains(r.Message, "blue-hop-acme") || contains(r.Message, "User:") {
			t.Errorf("%v: message %q copies STS's", c.err, r.Message)
		}
	}
}

func TestFromAPI(t *testing.T) {
	for err, want := range map[error]string{
		nil: ReasonGranted,
		fmt.Errorf("list: %w", &apigw.RefusedError{Op: "list", Method: "GET", Status: 403}): ReasonAPIRefused,
		errors.New("list: client API: dial tcp: refused"):                                   ReasonAPIUnreachable,
	} {
		if r := FromAPI(err); r.Reason != want || r.Status != Reasons[want] {
			t.Errorf("%v: %+v, want %s", err, r, want)
		}
	}
	// A certificate the server does not trust says what to set, as the
	// HTTP client wraps it (url.Error around tls.CertificateVerificationError).
	for err, mention := range map[error]string{
		&url.Error{Op: "Get", URL: "https://api.acme.internal/v1/rfcs", Err: &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}}:                  "spec.aws.apiCABundle",
		&url.Error{Op: "Get", URL: "https://api.acme.internal/v1/rfcs", Err: &tls.CertificateVerificationError{Err: x509.HostnameError{Host: "api.acme.internal"}}}: "host name",
	} {
		r := FromAPI(fmt.Errorf("list: %w", err))
		if r.Reason != ReasonAPIUnreachable || !strings.Contains(r.Message, mention) || strings.Contains(r.Message, "acme.internal") {
			t.Errorf("%v: %+v, want %s mentioning %q and not the host", err, r, ReasonAPIUnreachable, mention)
		}
	}
}

func TestFromStorage(t *testing.T) {
	const key = "arn:aws:kms:eu-west-1:222222222222:key/0f1e"
	good := Storage{WantKey: key, BucketSSE: "aws:kms", BucketKey: key, TableSSE: "KMS", TableKey: key, TableSSEOn: true}
	api := func(code string) error { return fmt.Errorf("op: %w", &smithy.GenericAPIError{Code: code}) }
	with := func(f func(*Storage)) Storage { s := good; f(&s); return s }
	cases := []struct {
		name    string
		s       Storage
		reason  string
		mention string
	}{
		{"both under the key", good, ReasonGranted, ""},
		{"bucket key given as id", with(func(s *Storage) { s.BucketKey = "0f1e" }), ReasonGranted, ""},
		{"dual-layer KMS", with(func(s *Storage) { s.BucketSSE = "aws:kms:dsse" }), ReasonGranted, ""},
		{"no bucket", with(func(s *Storage) { s.BucketErr = api("NoSuchBucket") }), ReasonStorageMissing, "BLUE_S3_BUCKET"},
		{"no table", with(func(s *Storage) { s.TableErr = api("ResourceNotFoundException") }), ReasonStorageMissing, "BLUE_DYNAMODB_TABLE"},
		{"bucket of another account", with(func(s *Storage) { s.BucketErr = api("AccessDenied") }), ReasonStorageDenied, "another account"},
		{"table not readable", with(func(s *Storage) { s.TableErr = api("AccessDeniedException") }), ReasonStorageDenied, "table"},
		{"bucket SSE-S3", with(func(s *Storage) { s.BucketSSE, s.BucketKey = "AES256", "" }), ReasonStorageNotEncrypted, "bucket"},
		{"bucket under another key", with(func(s *Storage) { s.BucketKey = "arn:aws:kms:eu-west-1:222222222222:key/other" }), ReasonStorageNotEncrypted, "bucket"},
		{"bucket without configuration", with(func(s *Storage) { s.BucketErr = api("ServerSideEncryptionConfigurationNotFoundError") }), ReasonStorageNotEncrypted, "bucket"},
		{"table AWS owned key", with(func(s *Storage) { s.TableSSE, s.TableKey, s.TableSSEOn = "", "", false }), ReasonStorageNotEncrypted, "table"},
		{"table under another key", with(func(s *Storage) { s.TableKey = "arn:aws:kms:eu-west-1:222222222222:key/other" }), ReasonStorageNotEncrypted, "table"},
		{"table SSE disabling", with(func(s *Storage) { s.TableSSEOn = false }), ReasonStorageNotEncrypted, "table"},
		{"bucket unreachable", with(func(s *Storage) { s.BucketErr = errors.New("dial tcp: timeout") }), ReasonStorageUnreachable, "bucket"},
	}
	for _, c := range cases {
		r := FromStorage(c.s)
		if r.Reason != c.reason || r.Status != Reasons[c.reason] || !contains(r.Message, c.mention) {
			t.Errorf("%s: %+v, want %s mentioning %q", c.name, r, c.reason, c.mention)
		}
		if contains(r.Message, key) || contains(r.Message, "0f1e") {
			t.Errorf("%s: message %q names the key", c.name, r.Message)
		}
	}
}

func TestSameKey(t *testing.T) {
	arn := "arn:aws:kms:eu-west-1:222222222222:key/1234"
	for _, c := range []struct {
		a, b string
		want bool
	}{{arn, arn, true}, {arn, "1234", true}, {"1234", arn, true}, {arn, "arn:aws:kms:eu-west-1:222222222222:key/5678", false}, {arn, "", false}, {"", "", false}} {
		if got := SameKey(c.a, c.b); got != c.want {
			t.Errorf("SameKey(%q, %q) = %v", c.a, c.b, got)
		}
	}
}

func contains(s, sub string) bool { return sub == "" || strings.Contains(s, sub) }
