package server_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/superviber/blue-operator/mcpserver/tenantconfig"
	"github.com/superviber/blue-operator/test/testutil"
	"github.com/superviber/blue-operator/test/world"
)

// Confused deputy: the client's Infisical admin (or whoever took it over)
// points the tenant's server at another client's role or bucket, or at
// Superviber's own role. The server acts in the tenant's account only.
func TestTheServerActsOnlyInTheClientsAccount(t *testing.T) {
	t.Parallel()
	w := world.Start(t)
	a := newTenant(t, w, "deputy-a", 717171717171)
	b := newTenant(t, w, "deputy-b", 727272727272)
	// c is another tenant in a's own AWS account (two teams of one
	// company): only the ExternalId tells their roles apart.
	c := newTenant(t, w, "deputy-c", 717171717171)
	srv := w.Serve(t, a, world.ServerOptions{Refresh: 100 * time.Millisecond})
	s := connect(t, srv.URL, a.Token)
	mustCall(t, s, "blue_rfc_create", map[string]any{"title": "Before"})

	// Every S3 call said whose bucket it expects.
	for _, c := range w.S3.Calls() {
		if c.Bucket == a.Bucket && c.ExpectedBucketOwner != a.Account {
			t.Errorf("%s on %s expected owner %q, want %s", c.Op, c.Bucket, c.ExpectedBucketOwner, a.Account)
		}
	}
	set := func(key, value string) { w.Infisical.SetSecret(a.Project, a.Environment, a.SecretPath, key, value) }
	restore := func() {
		set(tenantconfig.KeyRoleARN, a.ClientRole)
		set(tenantconfig.KeyBucket, a.Bucket)
		testutil.Eventually(t, 10*time.Second, 50*time.Millisecond, "back to the tenant's own settings", func() error {
			if _, e := call(t, s, "blue_rfc_list", nil); e != "" {
				return fmt.Errorf("%s", e)
			}
			return nil
		})
	}

	bObjects := len(objectsOf(t, w, b.Bucket))
	for _, tc := range []struct {
		name   string
		change func()
		want   string
	}{
		{"another client's role", func() {
			set(tenantconfig.KeyRoleARN, b.ClientRole)
			set(tenantconfig.KeyExternalID, b.ExternalID)
		}, "AWS_ROLE_ARN is not a role in the tenant's account " + a.Account},
		{"Superviber's own hop role", func() { set(tenantconfig.KeyRoleARN, a.HopRole) }, "AWS_ROLE_ARN is not a role in the tenant's account"},
		{"another client's bucket", func() { set(tenantconfig.KeyBucket, b.Bucket) }, "AccessDenied"},
		// The server presents a's issued ExternalId whatever the workspace
		// says, so c's role (whose trust names c's) refuses it.
		{"the same account's other tenant's role and ExternalId", func() {
			set(tenantconfig.KeyRoleARN, c.ClientRole)
			set(tenantconfig.KeyExternalID, c.ExternalID)
		}, "ExternalId"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := w.STS.RoleCalls(b.ClientRole)
			tc.change()
			attempt := 0
			testutil.Eventually(t, 10*time.Second, 50*time.Millisecond, "refused", func() error {
				attempt++ // until the refresh lands, writes go to the tenant's own bucket
				_, e := call(t, s, "blue_rfc_create", map[string]any{"title": fmt.Sprintf("Smuggled %s %d", tc.name, attempt)})
				if !strings.Contains(e, tc.want) {
					return fmt.Errorf("tool answered %q", e)
				}
				return nil
			})
			if n := w.STS.RoleCalls(b.ClientRole) - before; n != 0 {
				t.Errorf("the server tried to assume the other client's role %d times", n)
			}
			if n := len(objectsOf(t, w, b.Bucket)); n != bObjects {
				t.Errorf("the other client's bucket went from %d to %d objects", bObjects, n)
			}
			if n := len(objectsOf(t, w, c.Bucket)); n != 0 {
				t.Errorf("the other tenant's bucket has %d objects", n)
			}
			for _, r := range w.STS.Records() {
				if r.RoleARN == c.ClientRole && (r.Outcome == "ok" || r.ExternalID != a.ExternalID) {
					t.Errorf("AssumeRole of the other tenant's role: %+v (want refused, presenting a's issued ExternalId)", r)
				}
			}
			restore()
		})
	}
}

func objectsOf(t *testing.T, w *world.World, bucket string) []string {
	t.Helper()
	objs, err := w.S3.Objects(bucket, "")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range objs {
		keys = append(keys, o.Key)
	}
	return keys
}
