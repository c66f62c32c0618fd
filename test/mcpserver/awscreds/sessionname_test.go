package awscreds_test

import (
	"errors"
	"github.com/superviber/blue-operator/mcpserver/awscreds"
	"strings"
	"testing"

	"github.com/superviber/blue-operator/test/ststest"
)

func TestSessionName(t *testing.T) {
	long := strings.Repeat("x", 200)
	tests := []struct {
		name, tenant, caller string
		// want is the exact name, or "" to check only the prefix.
		want   string
		prefix string
	}{
		{name: "email kept verbatim", tenant: "acme", caller: "alice@acme.com", want: "blue-acme-alice@acme.com"},
		{name: "plain label", tenant: "acme", caller: "ci-bot", want: "blue-acme-ci-bot"},
		{name: "empty caller", tenant: "acme", caller: "", want: "blue-acme"},
		{name: "oidc subject with pipe", tenant: "acme", caller: "auth0|5f7c8ec7c33c6c004bbafe82", prefix: "blue-acme-auth0_5f7c8ec7c33c6c004bbafe82-"},
		{name: "url subject", tenant: "acme", caller: "https://accounts.google.com/1234", prefix: "blue-acme-https___accounts.google.com_1234-"},
		{name: "token label with spaces", tenant: "acme", caller: "deploy bot #2", prefix: "blue-acme-deploy_bot__2-"},
		{name: "unicode", tenant: "acme", caller: "józef.żółw@przykład.pl", prefix: "blue-acme-j_zef.___w@przyk_ad.pl-"},
		{name: "emoji and cjk", tenant: "acme", caller: "山田🙂", prefix: "blue-acme-___-"},
		{name: "control characters", tenant: "acme", caller: "a\nb\x00c", prefix: "blue-acme-a_b_c-"},
		{name: "invalid utf-8", tenant: "acme", caller: "\xff\xfe", prefix: "blue-acme-__-"},
		{name: "long caller", tenant: "acme", caller: long, prefix: "blue-acme-xxxx"},
		{name: "long email", tenant: "acme", caller: strings.Repeat("a", 60) + "@example.com", prefix: "blue-acme-aaaa"},
		{name: "exactly 64", tenant: "acme", caller: strings.Repeat("y", 64-len("blue-acme-")), want: "blue-acme-" + strings.Repeat("y", 54)},
		{name: "65 is cut and hashed", tenant: "acme", caller: strings.Repeat("y", 55), prefix: "blue-acme-yyy"},
		{name: "long tenant", tenant: strings.Repeat("t", 63), caller: "alice", prefix: "blue-ttt"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := awscreds.SessionName(tc.tenant, tc.caller)
			if err := ststest.ValidateRoleSessionName(got); err != nil {
				t.Fatalf("awscreds.SessionName(%q, %q) = %q: %v", tc.tenant, tc.caller, got, err)
			}
			if len(got) > 64 {
				t.Errorf("len %d > 64", len(got))
			}
			if tc.want != "" && got != tc.want {
				t.Errorf("= %q, want %q", got, tc.want)
			}
			if tc.prefix != "" && !strings.HasPrefix(got, tc.prefix) {
				t.Errorf("= %q, want prefix %q", got, tc.prefix)
			}
			if again := awscreds.SessionName(tc.tenant, tc.caller); again != got {
				t.Errorf("not deterministic: %q then %q", got, again)
			}
		})
	}
}

// Callers that differ only in characters that are replaced or cut off must
// not share a session name, or the client's CloudTrail would conflate them.
func TestSessionNameDistinct(t *testing.T) {
	long := strings.Repeat("z", 100)
	groups := [][]string{
		{"a|b", "a_b", "a b", "a/b"},
		{"山田", "田中", "___", "__"},
		{long + "1", long + "2", long},
		{"", "-"},
	}
	for _, g := range groups {
		seen := map[string]string{}
		for _, c := range g {
			n := awscreds.SessionName("acme", c)
			if prev, dup := seen[n]; dup {
				t.Errorf("callers %q and %q share session name %q", prev, c, n)
			}
			seen[n] = c
		}
	}
}

// TestSessionNamesAcceptedBySTS sends awkward callers' session names through
// a real AssumeRole and checks STS recorded exactly that name.
func TestSessionNamesAcceptedBySTS(t *testing.T) {
	f := newFixture(t)
	a := f.assumer(t, nil)
	callers := []string{"alice@acme.com", "auth0|abc", "józef", strings.Repeat("long", 40), "", "🙂"}
	for _, c := range callers {
		if _, err := a.Provider(target, c).Retrieve(t.Context()); err != nil {
			t.Fatalf("caller %q: %v", c, err)
		}
	}
	got := f.sts.SessionNames(clientRole)
	if len(got) != len(callers) {
		t.Fatalf("STS recorded %d sessions, want %d", len(got), len(callers))
	}
	for i, c := range callers {
		if want := awscreds.SessionName("acme", c); got[i] != want {
			t.Errorf("caller %q: STS recorded %q, want %q", c, got[i], want)
		}
	}
	// Each session carries its caller as the source identity, the one name
	// the client's trail keeps on every call made with the session; distinct
	// callers never share one.
	seen := map[string]string{}
	i := 0
	for _, r := range f.sts.Records() {
		if r.Action != ststest.ActionAssumeRole || r.RoleARN != clientRole {
			continue
		}
		c := callers[i]
		i++
		if want := awscreds.SourceIdentity("acme", c); r.SourceIdentity != want {
			t.Errorf("caller %q: source identity %q, want %q", c, r.SourceIdentity, want)
		}
		if prev, dup := seen[r.SourceIdentity]; dup {
			t.Errorf("callers %q and %q share source identity %q", prev, c, r.SourceIdentity)
		}
		seen[r.SourceIdentity] = c
	}
	if got := awscreds.SourceIdentity("acme", "alice@acme.com"); got != "alice@acme.com" {
		t.Errorf("a plain email became %q", got)
	}
}

// A client role whose trust policy predates sts:SetSourceIdentity refuses the
// assume with an error that names the permission; NoSourceIdentity works with
// it.
func TestSourceIdentityNeedsTheTrustPolicy(t *testing.T) {
	f := newFixture(t)
	mustOK(t, f.sts.PutRole(ststest.Role{ARN: clientRole, TrustedPrincipals: []string{hopRole}, ExternalID: extID}))
	_, err := f.assumer(t, nil).Provider(target, "alice").Retrieve(t.Context())
	if !errors.Is(err, awscreds.ErrRoleRefused) || !strings.Contains(err.Error(), "sts:SetSourceIdentity") {
		t.Errorf("old trust policy: %v", err)
	}
	a := f.assumer(t, func(o *awscreds.Options) { o.NoSourceIdentity = true })
	if _, err := a.Provider(target, "alice").Retrieve(t.Context()); err != nil {
		t.Fatalf("without source identity: %v", err)
	}
	recs := f.sts.Records()
	if last := recs[len(recs)-1]; last.Outcome != "ok" || last.SourceIdentity != "" {
		t.Errorf("last record %+v", last)
	}
}
