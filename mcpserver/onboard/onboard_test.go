package onboard_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/superviber/blue-operator/mcpserver/onboard"
	"github.com/superviber/blue-operator/mcpserver/tenantconfig"
)

func options() onboard.Options {
	return onboard.Options{
		Tenant: "acme", HopRoleARN: "arn:aws:iam::111111111111:role/blue-hop-acme",
		ClientAccountID: "222222222222", Region: "eu-west-1",
		BucketName: "acme-blue-docs", TableName: "blue-acme",
		KMSKeyARN: "arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab",
	}
}

// apiOptions are options() in api mode.
func apiOptions() onboard.Options {
	o := options()
	o.DataAccess = onboard.DataAccessAPI
	o.SuperviberVPCEndpointID = "vpce-0123456789abcdef0"
	return o
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

var actionRE = regexp.MustCompile(`^[a-z0-9]+:[A-Z][A-Za-z0-9]+$`)

// The trust policy admits only the tenant's hop role: sts:AssumeRole with
// the ExternalId, and sts:SetSourceIdentity (so the server can name the
// engineer in the client's CloudTrail), in two statements so the ExternalId
// condition sits exactly on AssumeRole. Nothing else, in either mode.
func TestTrustPolicy(t *testing.T) {
	for _, o := range []onboard.Options{options(), apiOptions()} {
		t.Run(o.DataAccess, func(t *testing.T) {
			r := kit(t, o)
			sts := decodePolicy(t, r.TrustPolicy.JSON())
			if len(sts) != 2 {
				t.Fatalf("%d statements, want 2 (AssumeRole with the ExternalId, SetSourceIdentity)", len(sts))
			}
			for i, want := range []string{"sts:AssumeRole", "sts:SetSourceIdentity"} {
				st := sts[i]
				if st["Effect"] != "Allow" || !slices.Equal(strs(t, st["Action"]), []string{want}) {
					t.Errorf("statement %d %v: want Allow %s only", i, st, want)
				}
				if _, has := st["Resource"]; has {
					t.Errorf("statement %d: a trust policy has no Resource", i)
				}
				// The principal is the tenant's hop role itself: not Superviber's
				// account root (which would let every tenant's pod in), not a wildcard.
				p, _ := st["Principal"].(map[string]any)
				if len(p) != 1 || len(strs(t, p["AWS"])) != 1 || strs(t, p["AWS"])[0] != o.HopRoleARN {
					t.Errorf("statement %d Principal %v, want exactly {\"AWS\": %q}", i, st["Principal"], o.HopRoleARN)
				}
			}
			cond, _ := sts[0]["Condition"].(map[string]any)
			eq, _ := cond["StringEquals"].(map[string]any)
			if len(cond) != 1 || len(eq) != 1 || eq["sts:ExternalId"] != r.ExternalID {
				t.Errorf("AssumeRole Condition %v, want StringEquals sts:ExternalId = %q and nothing else", sts[0]["Condition"], r.ExternalID)
			}
			if _, has := sts[1]["Condition"]; has {
				t.Errorf("SetSourceIdentity has a condition %v: the server's source identity is the caller's sanitized name, anything", sts[1]["Condition"])
			}
		})
	}
}

func TestPermissionPolicyIsLeastPrivilege(t *testing.T) {
	o := options()
	r := kit(t, o)
	bucket := "arn:aws:s3:::acme-blue-docs"
	table := "arn:aws:dynamodb:eu-west-1:222222222222:table/blue-acme"
	allowedResources := map[string]bool{
		bucket: true, bucket + "/*": true, table: true,
		table + "/index/ByKind": true, table + "/index/ByKindStatus": true,
		o.KMSKeyARN: true,
	}
	if r.BucketARN != bucket || r.TableARN != table {
		t.Errorf("ARNs %s %s", r.BucketARN, r.TableARN)
	}
	var actions []string
	sawKMS := false
	for i, st := range decodePolicy(t, r.PermissionPolicy.JSON()) {
		if st["Effect"] != "Allow" {
			t.Errorf("statement %d is %v", i, st["Effect"])
		}
		if _, has := st["Principal"]; has {
			t.Errorf("statement %d of an identity policy has a Principal", i)
		}
		for _, a := range strs(t, st["Action"]) {
			if strings.Contains(a, "*") || !actionRE.MatchString(a) {
				t.Errorf("statement %d: action %q is a wildcard or malformed", i, a)
			}
			actions = append(actions, a)
		}
		res := strs(t, st["Resource"])
		if len(res) == 0 {
			t.Errorf("statement %d has no Resource", i)
		}
		for _, x := range res {
			if !allowedResources[x] {
				t.Errorf("statement %d: resource %q is beyond the bucket, table, indexes and key", i, x)
			}
		}
		kms := strings.HasPrefix(strs(t, st["Action"])[0], "kms:")
		if kms {
			sawKMS = true
			if !slices.Equal(res, []string{o.KMSKeyARN}) {
				t.Errorf("KMS statement on %v, want only the key", res)
			}
			cond, _ := st["Condition"].(map[string]any)
			eq, _ := cond["StringEquals"].(map[string]any)
			via := strs(t, eq["kms:ViaService"])
			sort.Strings(via)
			if len(cond) != 1 || len(eq) != 1 || !slices.Equal(via, []string{"dynamodb.eu-west-1.amazonaws.com", "s3.eu-west-1.amazonaws.com"}) {
				t.Errorf("KMS condition %v, want StringEquals kms:ViaService = s3 and dynamodb in eu-west-1", st["Condition"])
			}
		} else if _, has := st["Condition"]; has {
			t.Errorf("statement %d has a condition", i)
		}
		for _, a := range strs(t, st["Action"]) {
			if strings.HasPrefix(a, "kms:") != kms {
				t.Errorf("statement %d mixes KMS and other actions", i)
			}
		}
	}
	if !sawKMS {
		t.Error("no KMS statement: SSE-KMS reads and writes would be denied")
	}
	sort.Strings(actions)
	want := []string{
		"dynamodb:BatchGetItem", "dynamodb:DeleteItem", "dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:Query", "dynamodb:UpdateItem",
		"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey",
		"s3:DeleteObject", "s3:GetEncryptionConfiguration", "s3:GetObject", "s3:ListBucket", "s3:PutObject",
	}
	if !slices.Equal(actions, want) {
		t.Errorf("actions %v\nwant %v", actions, want)
	}
}

func TestSecrets(t *testing.T) {
	o := options()
	r := kit(t, o)
	var names []string
	got := map[string]string{}
	for _, s := range r.Secrets {
		names = append(names, s.Name)
		got[s.Name] = s.Value
	}
	if !slices.Equal(names, tenantconfig.WorkspaceKeys) {
		t.Errorf("secrets %v, want the keys the server reads from the workspace %v", names, tenantconfig.WorkspaceKeys)
	}
	want := map[string]string{
		"AWS_ROLE_ARN":   "arn:aws:iam::222222222222:role/blue-acme",
		"BLUE_S3_BUCKET": "acme-blue-docs", "BLUE_DYNAMODB_TABLE": "blue-acme", "BLUE_KMS_KEY_ID": o.KMSKeyARN,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if r.RoleARN != want["AWS_ROLE_ARN"] {
		t.Errorf("RoleARN %s", r.RoleARN)
	}
}

var stsCharset = regexp.MustCompile(`^[\w+=,.@:/-]+$`)

func TestExternalID(t *testing.T) {
	a, b := kit(t, options()), kit(t, options())
	for _, r := range []*onboard.Result{a, b} {
		if !r.ExternalIDGenerated || len(r.ExternalID) < 32 || !stsCharset.MatchString(r.ExternalID) {
			t.Errorf("generated ExternalId %q (generated %v): want at least 32 characters of STS's charset", r.ExternalID, r.ExternalIDGenerated)
		}
	}
	if a.ExternalID == b.ExternalID {
		t.Error("two kits got the same ExternalId")
	}
	o := options()
	o.ExternalID = "client-chosen-external-id-0123456789"
	if r := kit(t, o); r.ExternalID != o.ExternalID || r.ExternalIDGenerated {
		t.Errorf("given ExternalId became %q", r.ExternalID)
	}
	if !strings.Contains(kit(t, o).TrustPolicy.JSON(), `"sts:ExternalId": "client-chosen-external-id-0123456789"`) {
		t.Error("the trust policy does not carry the given ExternalId")
	}
}

func TestKitRefusesBadOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*onboard.Options)
		want string
	}{
		{"account root as hop role", func(o *onboard.Options) { o.HopRoleARN = "arn:aws:iam::111111111111:root" }, "hop role ARN"},
		{"assumed-role session as hop role", func(o *onboard.Options) {
			o.HopRoleARN = "arn:aws:sts::111111111111:assumed-role/blue-hop-acme/pod"
		}, "hop role ARN"},
		{"wildcard hop role", func(o *onboard.Options) { o.HopRoleARN = "arn:aws:iam::111111111111:role/*" }, "hop role ARN"},
		{"iso partition", func(o *onboard.Options) { o.HopRoleARN = "arn:aws-iso:iam::111111111111:role/blue-hop" }, "partition aws-iso is not supported"},
		{"short account", func(o *onboard.Options) { o.ClientAccountID = "2222" }, "12 digits"},
		{"Superviber's account as the client's", func(o *onboard.Options) { o.ClientAccountID = "111111111111" }, "Superviber's account"},
		{"bad region", func(o *onboard.Options) { o.Region = "Europe" }, "region"},
		{"bucket with dots", func(o *onboard.Options) { o.BucketName = "acme.blue.docs" }, "bucket name"},
		{"upper-case bucket", func(o *onboard.Options) { o.BucketName = "Acme" }, "bucket name"},
		{"table with spaces", func(o *onboard.Options) { o.TableName = "blue acme" }, "table name"},
		{"KMS alias", func(o *onboard.Options) { o.KMSKeyARN = "arn:aws:kms:eu-west-1:222222222222:alias/blue" }, "not an alias"},
		{"KMS key in another region", func(o *onboard.Options) {
			o.KMSKeyARN = "arn:aws:kms:us-east-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab"
		}, "region us-east-1"},
		{"short ExternalId", func(o *onboard.Options) { o.ExternalID = "abc" }, "external id must be 32"},
		{"ExternalId with a space", func(o *onboard.Options) { o.ExternalID = strings.Repeat("a", 40) + " b" }, "external id"},
		{"tenant not a DNS label", func(o *onboard.Options) { o.Tenant = "Acme_Corp" }, "tenant"},
		{"long role name", func(o *onboard.Options) { o.RoleName = strings.Repeat("r", 65) }, "role name"},
		{"unknown data access", func(o *onboard.Options) { o.DataAccess = "proxy" }, `data access "proxy" must be`},
		{"api mode without Superviber's endpoint", func(o *onboard.Options) { o.DataAccess = onboard.DataAccessAPI }, "VPC endpoint id"},
		{"api mode with a VPC id for an endpoint", func(o *onboard.Options) {
			o.DataAccess, o.SuperviberVPCEndpointID = onboard.DataAccessAPI, "vpc-0123456789abcdef0"
		}, "VPC endpoint id"},
		{"api mode with an upper-case endpoint id", func(o *onboard.Options) {
			o.DataAccess, o.SuperviberVPCEndpointID = onboard.DataAccessAPI, "vpce-0123456789ABCDEF0"
		}, "VPC endpoint id"},
		{"direct mode with an endpoint", func(o *onboard.Options) { o.SuperviberVPCEndpointID = "vpce-0123456789abcdef0" }, "only for data access"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := options()
			tc.mod(&o)
			r, err := onboard.Kit(o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Kit = %v, %v; want an error mentioning %q", r, err, tc.want)
			}
		})
	}
	// All problems at once, so a person fixes them in one go.
	_, err := onboard.Kit(onboard.Options{})
	for _, want := range []string{"tenant", "hop role ARN", "client account id", "region", "bucket name", "table name"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("empty options: %v; want it to mention %q", err, want)
		}
	}
}

func TestKitWithoutKey(t *testing.T) {
	o := options()
	o.KMSKeyARN = ""
	r := kit(t, o)
	if r.KMSKeyARN != "" || r.TerraformVars["kms_key_arn"] != "" {
		t.Errorf("KMS key %q / tfvar %q, want empty (the module creates one)", r.KMSKeyARN, r.TerraformVars["kms_key_arn"])
	}
	pol := r.PermissionPolicy.JSON()
	if !strings.Contains(pol, onboard.KMSKeyPlaceholder) {
		t.Errorf("permission policy does not name the placeholder key:\n%s", pol)
	}
	if strings.Contains(pol, `"arn:aws:kms`) {
		t.Errorf("permission policy names a key ARN it cannot know:\n%s", pol)
	}
	last := r.Secrets[len(r.Secrets)-1]
	if last.Name != tenantconfig.KeyKMSKeyID || last.Value != "" || !strings.Contains(last.Note, "terraform output -raw kms_key_arn") {
		t.Errorf("KMS secret %+v", last)
	}
	if txt := r.Text(); !strings.Contains(txt, "terraform output -raw kms_key_arn") || !strings.Contains(txt, "KMS key with yearly rotation") {
		t.Errorf("text does not say where the key comes from:\n%s", txt)
	}
}

func TestText(t *testing.T) {
	r := kit(t, options())
	txt := r.Text()
	for _, want := range []string{
		r.RoleARN, r.HopRoleARN, r.ExternalID, `"hop_role_arn": "arn:aws:iam::111111111111:role/blue-hop-acme"`,
		`"sts:ExternalId"`, `"kms:ViaService"`, "AWS_REGION=eu-west-1 terraform init && AWS_REGION=eu-west-1 terraform apply",
		"Infisical project id", "blue-mcp export --bucket acme-blue-docs --table blue-acme --region eu-west-1",
	} {
		if !strings.Contains(txt, want) {
			t.Errorf("text lacks %q", want)
		}
	}
	for _, s := range r.Secrets {
		if !regexp.MustCompile(`(?m)^   ` + s.Name + ` +` + regexp.QuoteMeta(s.Value) + `$`).MatchString(txt) {
			t.Errorf("text lacks the secret line for %s", s.Name)
		}
	}
}

func TestRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "kit")
	args := []string{
		"--tenant", "acme", "--hop-role-arn", "arn:aws:iam::111111111111:role/blue-hop-acme", "--account-id", "222222222222",
		"--region", "eu-west-1", "--bucket", "acme-blue-docs", "--table", "blue-acme", "--out", dir,
	}
	var out bytes.Buffer
	if err := onboard.Run(context.Background(), args, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Blue onboarding kit for tenant acme") {
		t.Errorf("output:\n%s", out.String())
	}
	var vars map[string]string
	b, err := os.ReadFile(filepath.Join(dir, onboard.FileTFVars))
	if err != nil || json.Unmarshal(b, &vars) != nil || len(vars["external_id"]) < 32 || vars["bucket_name"] != "acme-blue-docs" {
		t.Fatalf("tfvars %s: %v", b, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, onboard.FileTFVars)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("tfvars mode %v (%v), want 0600: it holds the ExternalId", fi.Mode(), err)
	}
	env, _ := os.ReadFile(filepath.Join(dir, onboard.FileInfisicalEnv))
	if strings.Contains(string(env), "EXTERNAL_ID") || !strings.Contains(string(env), "# BLUE_KMS_KEY_ID:") {
		t.Errorf("infisical.env:\n%s", env)
	}
	trust, _ := os.ReadFile(filepath.Join(dir, onboard.FileTrustPolicy))
	decodePolicy(t, string(trust))
	if !strings.Contains(string(trust), vars["external_id"]) {
		t.Error("trust-policy.json and terraform.tfvars.json carry different ExternalIds")
	}
	// A second run would generate a new ExternalId: it refuses to overwrite.
	if err := onboard.Run(context.Background(), args, &out); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("second run: %v, want a refusal naming --force", err)
	}
	if err := onboard.Run(context.Background(), append(args, "--force"), &out); err != nil {
		t.Errorf("--force: %v", err)
	}
	// JSON output; missing flags named.
	out.Reset()
	if err := onboard.Run(context.Background(), append(args[:len(args)-2], "--json"), &out); err != nil {
		t.Fatal(err)
	}
	var r onboard.Result
	if err := json.Unmarshal(out.Bytes(), &r); err != nil || r.RoleARN != "arn:aws:iam::222222222222:role/blue-acme" || len(r.PermissionPolicy.Statement) != 6 {
		t.Errorf("--json: %v %+v", err, r)
	}
	if err := onboard.Run(context.Background(), []string{"--tenant", "acme"}, &out); err == nil || !strings.Contains(err.Error(), "--hop-role-arn, --account-id, --region, --bucket, --table required") {
		t.Errorf("missing flags: %v", err)
	}
}
