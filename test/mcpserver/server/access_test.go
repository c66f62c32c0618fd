package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/superviber/blue-operator/mcpserver/access"
	"github.com/superviber/blue-operator/mcpserver/tenantconfig"
	"github.com/superviber/blue-operator/test/testutil"
	"github.com/superviber/blue-operator/test/world"
)

// readAccess reads the report the operator reads, from the metrics port.
func readAccess(t *testing.T, base string) access.Report {
	t.Helper()
	resp, err := http.Get(base + access.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, _ := io.ReadAll(resp.Body)
	var r access.Report
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &r) != nil {
		t.Fatalf("%s: HTTP %d %s", access.Path, resp.StatusCode, raw)
	}
	return r
}

// waitAccess waits for the report to say reason, and checks that it never
// carries a secret or a setting's value.
func waitAccess(t *testing.T, r *world.Running, tn *world.Tenant, reason string) access.Report {
	t.Helper()
	var last access.Report
	testutil.Eventually(t, 10*time.Second, 20*time.Millisecond, "access report "+reason, func() error {
		last = readAccess(t, r.Metrics.URL)
		if last.Reason != reason {
			return fmt.Errorf("report %+v", last)
		}
		return nil
	})
	raw, _ := json.Marshal(last)
	for name, v := range map[string]string{"ExternalId": tn.ExternalID, "role ARN": tn.ClientRole, "bucket": tn.Bucket, "table": tn.Table,
		"KMS key": tn.KMSKeyID, "client secret": tn.ClientSecret, "token": tn.Token, "hop role": tn.HopRole} {
		if v != "" && strings.Contains(string(raw), v) {
			t.Errorf("report %s carries the %s", raw, name)
		}
	}
	if st := access.Reasons[reason]; last.Status != st {
		t.Errorf("reason %s with status %s, want %s", reason, last.Status, st)
	}
	return last
}

// The client's side, as the server sees it: every way a client withdraws
// access flips the report to its own reason, and restoring access flips it
// back. A removed trust policy also ends the cached sessions at once.
func TestClientAccessReport(t *testing.T) {
	t.Parallel()
	w := world.Start(t)
	tn := newTenant(t, w, "access", 515151515151)
	srv := w.Serve(t, tn, world.ServerOptions{Refresh: 100 * time.Millisecond, AccessInterval: 100 * time.Millisecond})
	s := connect(t, srv.URL, tn.Token)
	if r := waitAccess(t, srv, tn, access.ReasonGranted); r.Mode != access.ModeDirect || r.CheckedAt.IsZero() {
		t.Errorf("granted report %+v", r)
	}
	mustCall(t, s, "blue_rfc_create", map[string]any{"title": "Before", "problem": "p"})

	// The client removes the trust policy: sessions already issued would
	// last an hour, but the check's fresh AssumeRole is refused, the cache
	// is dropped, and the next tool call says why.
	if err := w.STS.SetTrust(tn.ClientRole); err != nil {
		t.Fatal(err)
	}
	waitAccess(t, srv, tn, access.ReasonAssumeRoleDenied)
	if _, errText := call(t, s, "blue_rfc_list", nil); !strings.Contains(errText, "refused sts:AssumeRole") {
		t.Errorf("tool call after the trust policy went: %q", errText)
	}
	if err := w.STS.SetTrust(tn.ClientRole, tn.HopRole); err != nil {
		t.Fatal(err)
	}
	waitAccess(t, srv, tn, access.ReasonGranted)

	// Revoked in Infisical, then restored.
	w.Infisical.RevokeMembership(tn.Project, tn.IdentityID)
	waitAccess(t, srv, tn, access.ReasonRevoked)
	w.Infisical.RestoreMembership(tn.Project, tn.IdentityID)
	waitAccess(t, srv, tn, access.ReasonGranted)

	// A setting removed: named, without its value.
	w.Infisical.DeleteSecret(tn.Project, tn.Environment, tn.SecretPath, tenantconfig.KeyTable)
	if r := waitAccess(t, srv, tn, access.ReasonSettingsIncomplete); !strings.Contains(r.Message, tenantconfig.KeyTable) {
		t.Errorf("incomplete report %+v", r)
	}
	w.Infisical.SetSecret(tn.Project, tn.Environment, tn.SecretPath, tenantconfig.KeyTable, tn.Table)
	waitAccess(t, srv, tn, access.ReasonGranted)

	// Storage no longer under the client's key, then missing.
	w.S3.SetBucketEncryption(tn.Bucket, "AES256", "")
	if r := waitAccess(t, srv, tn, access.ReasonStorageNotEncrypted); !strings.Contains(r.Message, "bucket") {
		t.Errorf("bucket report %+v", r)
	}
	w.S3.SetBucketEncryption(tn.Bucket, "aws:kms", tn.KMSKeyID)
	waitAccess(t, srv, tn, access.ReasonGranted)
	w.DDB.SetTableEncryption(tn.Table, "")
	if r := waitAccess(t, srv, tn, access.ReasonStorageNotEncrypted); !strings.Contains(r.Message, "table") {
		t.Errorf("table report %+v", r)
	}
	w.DDB.SetTableEncryption(tn.Table, tn.KMSKeyID)
	waitAccess(t, srv, tn, access.ReasonGranted)
	w.Infisical.SetSecret(tn.Project, tn.Environment, tn.SecretPath, tenantconfig.KeyBucket, "no-such-bucket-0")
	waitAccess(t, srv, tn, access.ReasonStorageMissing)
	w.Infisical.SetSecret(tn.Project, tn.Environment, tn.SecretPath, tenantconfig.KeyBucket, tn.Bucket)
	waitAccess(t, srv, tn, access.ReasonGranted)

	// The metric says the same, with one series.
	mfs, err := srv.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var series []string
	for _, mf := range mfs {
		if mf.GetName() != "blue_client_access" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			series = append(series, fmt.Sprintf("%s/%s=%v", l["status"], l["reason"], m.GetGauge().GetValue()))
		}
	}
	if len(series) != 1 || series[0] != "True/AccessGranted=1" {
		t.Errorf("blue_client_access series %v", series)
	}
}

// In API mode the check is one signed read of the client's API: a resource
// policy or role policy that stops admitting the role flips the report.
func TestClientAccessReportAPIMode(t *testing.T) {
	t.Parallel()
	w := world.Start(t)
	tn := newTenant(t, w, "accessapi", 525252525252)
	gw := clientGateway(t, w, tn)
	// With API_ENDPOINT the bucket, table and key names are not needed.
	w.UseAPI(tn, gw.URL)
	srv := w.Serve(t, tn, world.ServerOptions{Refresh: 100 * time.Millisecond, AccessInterval: 100 * time.Millisecond})
	if r := waitAccess(t, srv, tn, access.ReasonGranted); r.Mode != access.ModeAPI {
		t.Errorf("report %+v", r)
	}
	s := connect(t, srv.URL, tn.Token)
	mustCall(t, s, "blue_rfc_create", map[string]any{"title": "Through the API", "problem": "p"})
	gw.Grant("POST/v1/nothing")
	waitAccess(t, srv, tn, access.ReasonAPIRefused)
	gw.Grant()
	waitAccess(t, srv, tn, access.ReasonGranted)
}
