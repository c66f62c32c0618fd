package onboard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/superviber/blue-operator/mcpserver/onboard"
	"github.com/superviber/blue-operator/test/ststest"
	"github.com/superviber/blue-operator/test/world"
)

// TestPolicyIsWhatTheServerUses onboards a client with the kit (its role's
// trust policy and its Infisical secrets are the kit's), runs a document
// journey through the tools over MCP, and compares the S3 and DynamoDB calls
// the server made with the permission policy, both ways: every call is
// allowed by the policy (action and resource), and every action the policy
// grants, in every statement, was used.
func TestPolicyIsWhatTheServerUses(t *testing.T) {
	ctx := context.Background()
	w := world.Start(t)
	tn, err := w.AddTenant(ctx, "journey", 123456789012)
	if err != nil {
		t.Fatal(err)
	}
	r := kit(t, onboard.Options{
		Tenant: tn.Name, HopRoleARN: tn.HopRole, ClientAccountID: tn.Account, Region: world.Region,
		BucketName: tn.Bucket, TableName: tn.Table, KMSKeyARN: tn.KMSKeyID,
		ExternalID: tn.ExternalID, // the operator's status.externalID
	})
	// The client applies the kit: a role with the kit's trust policy, the
	// kit's secrets in Infisical. The world's own role is left trusting no one.
	role := ststest.Role{ARN: r.RoleARN, MaxSessionDuration: time.Hour}
	for _, st := range decodePolicy(t, r.TrustPolicy.JSON()) {
		principal := st["Principal"].(map[string]any)["AWS"].(string)
		if !slices.Contains(role.TrustedPrincipals, principal) {
			role.TrustedPrincipals = append(role.TrustedPrincipals, principal)
		}
		for _, a := range actionsOf(st) {
			switch a {
			case "sts:AssumeRole":
				role.ExternalID = st["Condition"].(map[string]any)["StringEquals"].(map[string]any)["sts:ExternalId"].(string)
			case "sts:SetSourceIdentity":
				role.SourceIdentityTrusted = true
			default:
				t.Errorf("trust policy grants %s", a)
			}
		}
	}
	if len(role.TrustedPrincipals) != 1 || role.ExternalID == "" {
		t.Fatalf("trust policy: principals %v, ExternalId %q", role.TrustedPrincipals, role.ExternalID)
	}
	if err := w.STS.PutRole(role); err != nil {
		t.Fatal(err)
	}
	if err := w.STS.SetTrust(tn.ClientRole); err != nil {
		t.Fatal(err)
	}
	for _, s := range r.Secrets {
		w.Infisical.SetSecret(tn.Project, tn.Environment, tn.SecretPath, s.Name, s.Value)
	}
	srv := w.Serve(t, tn, world.ServerOptions{})
	s := connect(t, srv.URL, tn.Token)

	journey(t, s)
	// A second replica, its body cache cold, reads what the first wrote
	// (bodies are otherwise served from the cache of the process that wrote
	// them).
	cold := connect(t, w.Serve(t, tn, world.ServerOptions{}).URL, tn.Token)
	mustCall(t, cold, "blue_rfc_get", map[string]any{"title": "1"})
	mustCall(t, cold, "blue_search", map[string]any{"query": "cache"})

	// Collect what the kit's role did.
	type use struct{ action, resource string }
	var uses []use
	for _, c := range w.S3.Calls() {
		id, _ := w.STS.Lookup(c.AccessKeyID)
		if id.RoleARN != r.RoleARN {
			t.Errorf("S3 %s signed by %q (%s), not the kit's role", c.Op, c.AccessKeyID, id.RoleARN)
			continue
		}
		res := r.BucketARN
		if c.Bucket != tn.Bucket {
			t.Errorf("S3 %s on bucket %q", c.Op, c.Bucket)
		}
		if c.Key != "" {
			res += "/" + c.Key
		}
		uses = append(uses, use{c.IAMAction, res})
	}
	ddbCalls := 0
	for _, c := range w.DDB.Calls() {
		id, _ := w.STS.Lookup(c.AccessKeyID)
		if id.RoleARN != r.RoleARN {
			continue // the world's own setup (CreateTable as admin)
		}
		ddbCalls++
		if c.Table != tn.Table {
			t.Errorf("DynamoDB %s on table %q", c.Op, c.Table)
		}
		res := r.TableARN
		if c.Index != "" {
			res += "/index/" + c.Index
		}
		uses = append(uses, use{c.Op, res})
	}
	if ddbCalls == 0 || len(uses) == ddbCalls {
		t.Fatalf("recorded %d calls, %d of them DynamoDB: the journey did not reach both services", len(uses), ddbCalls)
	}

	// One way: every call is allowed by a statement of the policy.
	type grant struct{ sid, action string }
	used := map[grant]bool{}
	seenActions := map[string]bool{}
	stmts := r.PermissionPolicy.Statement
	for _, u := range uses {
		seenActions[u.action] = true
		allowed := false
		for _, st := range stmts {
			if st.Effect == "Allow" && len(st.Condition) == 0 && slices.Contains(st.Action, u.action) && slices.ContainsFunc(st.Resource, func(p string) bool { return matches(p, u.resource) }) {
				allowed = true
				used[grant{st.Sid, u.action}] = true
			}
		}
		if !allowed {
			t.Errorf("the server called %s on %s, which the policy does not allow", u.action, u.resource)
		}
	}
	// The other way: every S3 and DynamoDB action of every statement was used
	// through that statement.
	var granted []string
	for _, st := range stmts {
		for _, a := range st.Action {
			if strings.HasPrefix(a, "kms:") {
				continue
			}
			granted = append(granted, a)
			if !used[grant{st.Sid, a}] {
				t.Errorf("statement %s grants %s on %v, which the server never used there", st.Sid, a, st.Resource)
			}
		}
	}
	var seen []string
	for a := range seenActions {
		seen = append(seen, a)
	}
	sort.Strings(seen)
	granted = slices.Compact(slices.Sorted(slices.Values(granted)))
	if !slices.Equal(seen, granted) {
		t.Errorf("actions the server used %v\nactions the policy grants %v", seen, granted)
	}

	// KMS: every object was written with SSE-KMS under exactly the key the
	// policy's KMS statement names.
	var kmsStmt *onboard.Statement
	for i := range stmts {
		if strings.HasPrefix(stmts[i].Action[0], "kms:") {
			kmsStmt = &stmts[i]
		}
	}
	writes := w.S3.Writes()
	if kmsStmt == nil || len(writes) == 0 {
		t.Fatalf("KMS statement %v, %d writes", kmsStmt, len(writes))
	}
	for _, wr := range writes {
		if wr.SSE != "aws:kms" || !slices.Equal(kmsStmt.Resource, []string{wr.KMSKeyID}) {
			t.Errorf("write of %s with %s key %s; the policy's key is %v", wr.Key, wr.SSE, wr.KMSKeyID, kmsStmt.Resource)
		}
	}
}

// matches is IAM's resource match for the patterns the policy uses: exact,
// or a trailing "*" matching any rest (slashes included).
func matches(pattern, resource string) bool {
	if p, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(resource, p) && !strings.Contains(p, "*")
	}
	return pattern == resource
}

// journey uses every kind of document and every lifecycle the store has:
// create, update (status, plan, body), list (all and by status), get,
// search, soft delete, restore and permanent delete.
func journey(t *testing.T, s *mcp.ClientSession) {
	t.Helper()
	mustCall(t, s, "blue_spike_create", map[string]any{"title": "Cache the index?", "question": "Is DynamoDB fast enough?", "time_box": "1 day"})
	mustCall(t, s, "blue_rfc_create", map[string]any{"title": "Index cache", "problem": "Listing is slow.", "source_spike": "Cache the index?"})
	mustCall(t, s, "blue_rfc_update_status", map[string]any{"title": "Index cache", "status": "accepted"})
	mustCall(t, s, "blue_rfc_plan", map[string]any{"title": "Index cache", "tasks": []string{"design", "build", "test"}})
	mustCall(t, s, "blue_rfc_task_complete", map[string]any{"title": "Index cache", "task": "1"})
	mustCall(t, s, "blue_rfc_task_complete", map[string]any{"title": "Index cache", "task": "build"})
	mustCall(t, s, "blue_rfc_task_complete", map[string]any{"title": "Index cache", "task": "test"})
	mustCall(t, s, "blue_rfc_complete", map[string]any{"title": "Index cache"})
	mustCall(t, s, "blue_rfc_get", map[string]any{"title": "1"})
	mustCall(t, s, "blue_adr_create", map[string]any{"title": "Cache listings", "rfc": "Index cache", "decision": "In memory."})
	mustCall(t, s, "blue_decision_create", map[string]any{"title": "Use dynalite", "decision": "Yes"})
	mustCall(t, s, "blue_prd_create", map[string]any{"title": "Faster lists", "problem": "Slow."})
	mustCall(t, s, "blue_postmortem_create", map[string]any{"title": "Outage", "severity": "P2"})
	mustCall(t, s, "blue_runbook_create", map[string]any{"title": "Restart the API", "actions": []string{"restart api"}})
	mustCall(t, s, "blue_runbook_update", map[string]any{"title": "Restart the API", "add_operation": "kubectl rollout restart"})
	mustCall(t, s, "blue_audit_create", map[string]any{"title": "Security review", "audit_type": "security"})
	mustCall(t, s, "blue_audit_complete", map[string]any{"title": "Security review"})
	mustCall(t, s, "blue_dialogue_create", map[string]any{"title": "Cache talk", "rfc_title": "Index cache", "content": "A: yes"})
	mustCall(t, s, "blue_rfc_list", map[string]any{"status": "implemented"})
	mustCall(t, s, "blue_spike_list", nil)
	mustCall(t, s, "blue_search", map[string]any{"query": "cache"})
	if _, err := s.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: "blue://docs/rfcs/0001"}); err != nil {
		t.Fatal(err)
	}
	// Soft delete, restore, delete again and purge; delete permanently.
	mustCall(t, s, "blue_delete", map[string]any{"doc_type": "decision", "title": "Use dynalite", "force": true})
	mustCall(t, s, "blue_deleted_list", nil)
	mustCall(t, s, "blue_restore", map[string]any{"doc_type": "decision", "title": "Use dynalite"})
	mustCall(t, s, "blue_delete", map[string]any{"doc_type": "decision", "title": "Use dynalite", "force": true})
	// Deleted just now: within the restore window, so nothing to purge yet.
	if r := mustCall(t, s, "blue_purge_deleted", map[string]any{"days": 1}); !strings.Contains(r.Message, "Purged 0") {
		t.Fatalf("purge: %+v", r)
	}
	// Permanent delete: the store's Purge (the partition and the revisions).
	mustCall(t, s, "blue_delete", map[string]any{"doc_type": "prd", "title": "Faster lists", "permanent": true, "force": true})
}

func connect(t *testing.T, url, token string) *mcp.ClientSession {
	t.Helper()
	return world.Connect(t, url, token)
}

type result struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

func mustCall(t *testing.T, s *mcp.ClientSession, tool string, args map[string]any) result {
	t.Helper()
	var r result
	world.MustCall(t, s, tool, args, &r)
	return r
}

func kit(t *testing.T, o onboard.Options) *onboard.Result {
	t.Helper()
	r, err := onboard.Kit(o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// decodePolicy parses a rendered policy generically, as IAM would read it,
// and checks the grammar: Version, a Statement array of objects with only
// IAM's statement keys, Effect Allow or Deny, Action (and Resource where
// given) a string or a non-empty array of strings, Condition operator →
// key → string or array of strings.
func decodePolicy(t *testing.T, s string) []map[string]any {
	t.Helper()
	var doc map[string]any
	dec := json.NewDecoder(strings.NewReader(s))
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("policy is not JSON: %v\n%s", err, s)
	}
	for k := range doc {
		if k != "Version" && k != "Statement" && k != "Id" {
			t.Errorf("policy has unknown top-level key %q", k)
		}
	}
	if doc["Version"] != "2012-10-17" {
		t.Errorf("Version %v, want 2012-10-17", doc["Version"])
	}
	raw, ok := doc["Statement"].([]any)
	if !ok || len(raw) == 0 {
		t.Fatalf("Statement is not a non-empty array: %v", doc["Statement"])
	}
	var out []map[string]any
	allowed := map[string]bool{"Sid": true, "Effect": true, "Principal": true, "Action": true, "Resource": true, "Condition": true}
	for i, r := range raw {
		st, ok := r.(map[string]any)
		if !ok {
			t.Fatalf("statement %d is not an object", i)
		}
		for k := range st {
			if !allowed[k] {
				t.Errorf("statement %d has key %q (NotAction, NotResource and NotPrincipal are never used)", i, k)
			}
		}
		if st["Effect"] != "Allow" && st["Effect"] != "Deny" {
			t.Errorf("statement %d Effect %v", i, st["Effect"])
		}
		if len(strs(t, st["Action"])) == 0 {
			t.Errorf("statement %d has no Action", i)
		}
		if _, has := st["Resource"]; has && len(strs(t, st["Resource"])) == 0 {
			t.Errorf("statement %d has an empty Resource", i)
		}
		if c, has := st["Condition"]; has {
			ops, ok := c.(map[string]any)
			if !ok || len(ops) == 0 {
				t.Errorf("statement %d Condition %v", i, c)
			}
			for op, keys := range ops {
				km, ok := keys.(map[string]any)
				if !ok || len(km) == 0 {
					t.Errorf("statement %d Condition %s: %v", i, op, keys)
				}
				for _, v := range km {
					if len(strs(t, v)) == 0 {
						t.Errorf("statement %d Condition %s has an empty value", i, op)
					}
				}
			}
		}
		out = append(out, st)
	}
	return out
}

// strs reads a JSON string or array of strings.
func strs(t *testing.T, v any) []string {
	t.Helper()
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				t.Errorf("%v is not a string", e)
			}
			out = append(out, s)
		}
		return out
	case nil:
		return nil
	}
	t.Errorf("%v is neither a string nor an array of strings", v)
	return nil
}

// actionsOf is a statement's Action, a string or a list.
func actionsOf(st map[string]any) []string {
	switch a := st["Action"].(type) {
	case string:
		return []string{a}
	case []any:
		out := make([]string, 0, len(a))
		for _, x := range a {
			out = append(out, fmt.Sprint(x))
		}
		return out
	}
	return nil
}
