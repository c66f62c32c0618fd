// Tests of the client's Terraform module (harness in hcl_test.go), in direct
// mode: the policies (compared with `blue-mcp onboard`'s), the table's schema
// (compared with store.CreateTable on dynalite), encryption, recovery and
// public-access settings, and the variables' validations (compared with the
// onboarding kit's). client_api_test.go covers api mode, trail_test.go the
// CloudTrail trail of both.

package deploy_test

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/superviber/blue-operator/mcpserver/onboard"
	"github.com/superviber/blue-operator/mcpserver/store"
	"github.com/superviber/blue-operator/test/dynamotest"
)

// clientModule is the client's Terraform module as shipped in deploy/.
var clientModule = filepath.Join(terraformDir, "client")

var clientFiles = []string{"main.tf", "api.tf", "trail.tf", "variables.tf", "outputs.tf"}

func load(t *testing.T) *module {
	t.Helper()
	return loadModule(t, clientModule, clientFiles)
}

// baseOptions are valid onboarding options in testCloud's account and region.
func baseOptions() onboard.Options {
	return onboard.Options{
		Tenant: "acme", HopRoleARN: "arn:aws:iam::111111111111:role/blue-hop-acme",
		ClientAccountID: testCloud.account, Region: testCloud.region,
		BucketName: "acme-blue-docs", TableName: "blue-acme", RoleName: "blue-acme",
		ExternalID: strings.Repeat("5f", 24),
	}
}

func varsOf(t *testing.T, r *onboard.Result) map[string]cty.Value {
	t.Helper()
	out := map[string]cty.Value{}
	for k, v := range r.TerraformVars {
		out[k] = cty.StringVal(v)
	}
	return out
}

// apiOptions are baseOptions in api mode, through testPlatform's endpoint.
func apiOptions() onboard.Options {
	o := baseOptions()
	o.DataAccess = onboard.DataAccessAPI
	o.SuperviberVPCEndpointID = platformCloud.vpceID
	return o
}

// The resources of each part of the module: direct mode creates the
// storage, the role and the trail, api mode the API and the Lambda too.
var (
	storageResources = []string{
		"aws_dynamodb_table.this",
		"aws_iam_role.this",
		"aws_iam_role_policy.this",
		"aws_kms_alias.this",
		"aws_kms_key.this",
		"aws_s3_bucket.this",
		"aws_s3_bucket_lifecycle_configuration.this",
		"aws_s3_bucket_ownership_controls.this",
		"aws_s3_bucket_policy.this",
		"aws_s3_bucket_public_access_block.this",
		"aws_s3_bucket_server_side_encryption_configuration.this",
		"aws_s3_bucket_versioning.this",
	}
	trailResources = []string{
		"aws_cloudtrail.this",
		"aws_s3_bucket.trail",
		"aws_s3_bucket_lifecycle_configuration.trail",
		"aws_s3_bucket_ownership_controls.trail",
		"aws_s3_bucket_policy.trail",
		"aws_s3_bucket_public_access_block.trail",
		"aws_s3_bucket_server_side_encryption_configuration.trail",
	}
	apiResources = []string{
		"aws_api_gateway_deployment.this",
		"aws_api_gateway_integration.this",
		"aws_api_gateway_method.this",
		"aws_api_gateway_resource.body",
		"aws_api_gateway_resource.document",
		"aws_api_gateway_resource.documents",
		"aws_api_gateway_resource.kind",
		"aws_api_gateway_resource.lookup",
		"aws_api_gateway_resource.numbers",
		"aws_api_gateway_resource.purge",
		"aws_api_gateway_resource.restore",
		"aws_api_gateway_resource.revision",
		"aws_api_gateway_resource.revision_body",
		"aws_api_gateway_resource.revisions",
		"aws_api_gateway_resource.v1",
		"aws_api_gateway_rest_api.this",
		"aws_api_gateway_rest_api_policy.this",
		"aws_api_gateway_stage.this",
		"aws_cloudwatch_log_group.lambda",
		"aws_iam_role.lambda",
		"aws_iam_role_policy.lambda",
		"aws_lambda_function.data",
		"aws_lambda_permission.api",
	}
)

// created lists the resources an evaluated module creates at least one
// instance of.
func created(e *evaluated) []string {
	var out []string
	for _, rn := range e.m.resourceNames() {
		typ, name, _ := strings.Cut(rn, ".")
		if e.count(typ, name) > 0 {
			out = append(out, rn)
		}
	}
	return out
}

func sortedUnion(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	sort.Strings(out)
	return slices.Compact(out)
}

func TestModuleDeclaresTheResources(t *testing.T) {
	m := load(t)
	if got, want := m.resourceNames(), sortedUnion(storageResources, trailResources, apiResources); !slices.Equal(got, want) {
		t.Errorf("resources\n%v\nwant\n%v", got, want)
	}
	// What each mode creates. The direct mode's resources have neither count
	// nor for_each, so their addresses are those of the module before api
	// mode existed: an upgrade replaces nothing.
	for _, rn := range storageResources {
		typ, name, _ := strings.Cut(rn, ".")
		if rn == "aws_kms_key.this" || rn == "aws_kms_alias.this" {
			continue
		}
		if body := m.resources[typ][name]; has(body, "count") || has(body, "for_each") {
			t.Errorf("%s has count or for_each: its address changed", rn)
		}
	}
	for _, tc := range []struct {
		name string
		o    onboard.Options
		want []string
	}{
		{"direct", baseOptions(), sortedUnion(storageResources, trailResources)},
		{"api", apiOptions(), sortedUnion(storageResources, trailResources, apiResources)},
	} {
		kit, err := onboard.Kit(tc.o)
		if err != nil {
			t.Fatal(err)
		}
		vars := varsOf(t, kit)
		vars["kms_key_arn"] = cty.StringVal("") // the module creates the key
		if got := created(evaluate(t, m, vars, testCloud)); !slices.Equal(got, tc.want) {
			t.Errorf("%s mode creates\n%v\nwant\n%v", tc.name, got, tc.want)
		}
	}
	// The provider: hashicorp/aws 6 or later (data.aws_region.current.region).
	if len(m.terraform) != 1 {
		t.Fatalf("%d terraform blocks", len(m.terraform))
	}
	e := &evaluated{t: t, m: m, ctx: &hcl.EvalContext{}}
	rp := e.block(m.terraform[0], "required_providers")
	aws := e.attr(rp, "aws")
	if aws.GetAttr("source").AsString() != "hashicorp/aws" || !strings.HasPrefix(aws.GetAttr("version").AsString(), ">= 6") {
		t.Errorf("required aws provider %#v, want hashicorp/aws >= 6", aws)
	}
	// Every input of `blue-mcp onboard` is a variable, and every variable
	// without a default is one of its inputs.
	r, err := onboard.Kit(baseOptions())
	if err != nil {
		t.Fatal(err)
	}
	for k := range r.TerraformVars {
		if _, ok := m.variables[k]; !ok {
			t.Errorf("the kit's terraform var %s is not a variable of the module", k)
		}
	}
	for name, body := range m.variables {
		if _, hasDefault := body.Attributes["default"]; !hasDefault {
			if _, ok := r.TerraformVars[name]; !ok {
				t.Errorf("required variable %s is not among the kit's terraform vars", name)
			}
		}
	}
	if !m.variables["external_id"].Attributes["sensitive"].Expr.(*hclsyntax.LiteralValueExpr).Val.True() {
		t.Error("variable external_id is not sensitive")
	}
}

// The table the module creates has exactly the schema store.CreateTable
// gives dynalite.
func TestModuleTableMatchesStoreSchema(t *testing.T) {
	m := load(t)
	r, err := onboard.Kit(baseOptions())
	if err != nil {
		t.Fatal(err)
	}
	e := evaluate(t, m, varsOf(t, r), testCloud)
	tb := e.resource("aws_dynamodb_table", "this")

	type index struct{ Hash, Range, Projection string }
	type schema struct {
		Billing, Hash, Range string
		Attrs                map[string]string
		GSIs                 map[string]index
	}
	declared := schema{
		Billing: e.str(tb, "billing_mode"), Hash: e.str(tb, "hash_key"), Range: e.str(tb, "range_key"),
		Attrs: map[string]string{}, GSIs: map[string]index{},
	}
	for _, a := range e.blocks(tb, "attribute") {
		declared.Attrs[e.str(a, "name")] = e.str(a, "type")
	}
	for _, g := range e.blocks(tb, "global_secondary_index") {
		declared.GSIs[e.str(g, "name")] = index{e.str(g, "hash_key"), e.str(g, "range_key"), e.str(g, "projection_type")}
	}
	if n := len(e.blocks(tb, "local_secondary_index")); n != 0 {
		t.Errorf("%d local secondary indexes; the store has none", n)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv := dynamotest.New(t)
	ddb := srv.Client("", "")
	if err := store.CreateTable(ctx, ddb, "schema"); err != nil {
		t.Fatal(err)
	}
	out, err := ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("schema")})
	if err != nil {
		t.Fatal(err)
	}
	d := out.Table
	keys := func(ks []dynamodbKey) (h, r string) {
		for _, k := range ks {
			switch k.typ {
			case "HASH":
				h = k.name
			case "RANGE":
				r = k.name
			}
		}
		return h, r
	}
	if d.BillingModeSummary == nil {
		t.Fatal("DescribeTable has no billing mode")
	}
	want := schema{Attrs: map[string]string{}, GSIs: map[string]index{}, Billing: string(d.BillingModeSummary.BillingMode)}
	want.Hash, want.Range = keys(keyList(d.KeySchema))
	for _, a := range d.AttributeDefinitions {
		want.Attrs[aws.ToString(a.AttributeName)] = string(a.AttributeType)
	}
	for _, g := range d.GlobalSecondaryIndexes {
		h, r := keys(keyList(g.KeySchema))
		want.GSIs[aws.ToString(g.IndexName)] = index{h, r, string(g.Projection.ProjectionType)}
	}
	if len(d.LocalSecondaryIndexes) != 0 {
		t.Errorf("the store's table has local indexes: the module must declare them")
	}
	if !reflect.DeepEqual(declared, want) {
		t.Errorf("the module's table\n%+v\nstore.CreateTable's (dynalite DescribeTable)\n%+v", declared, want)
	}
	// And it names the store's index names, which the policy grants.
	for _, ix := range []string{store.IndexByKind, store.IndexByKindStatus} {
		if _, ok := declared.GSIs[ix]; !ok {
			t.Errorf("no index %s", ix)
		}
	}
}

type dynamodbKey struct{ name, typ string }

func keyList(ks []ddbtypes.KeySchemaElement) []dynamodbKey {
	var out []dynamodbKey
	for _, k := range ks {
		out = append(out, dynamodbKey{aws.ToString(k.AttributeName), string(k.KeyType)})
	}
	return out
}

// The role's trust and permission policies are exactly the kit's, and the
// storage is created encrypted, recoverable and private; with a key of the
// client's own and with one the module creates.
func TestModuleMatchesKit(t *testing.T) {
	m := load(t)
	for _, tc := range []struct {
		name    string
		keyARN  string // the kit's --kms-key-arn
		wantKey string // the key everything must use
		created int    // keys (and aliases) the module creates
	}{
		{"module creates the key", "", testCloud.createdKeyARN(), 1},
		{"client's own key", "arn:aws:kms:eu-west-1:333333333333:key/mrk-0123456789abcdef", "arn:aws:kms:eu-west-1:333333333333:key/mrk-0123456789abcdef", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := baseOptions()
			o.KMSKeyARN = tc.keyARN
			kit, err := onboard.Kit(o)
			if err != nil {
				t.Fatal(err)
			}
			e := evaluate(t, m, varsOf(t, kit), testCloud)

			// Key.
			if n := e.count("aws_kms_key", "this"); n != tc.created {
				t.Errorf("%d keys created, want %d", n, tc.created)
			}
			if n := e.count("aws_kms_alias", "this"); n != tc.created {
				t.Errorf("%d key aliases created, want %d", n, tc.created)
			}
			if tc.created == 1 {
				key := e.resource("aws_kms_key", "this")
				if !e.boolean(key, "enable_key_rotation") {
					t.Error("key rotation is off")
				}
				if d := e.number(key, "deletion_window_in_days"); d < 7 || d > 30 {
					t.Errorf("deletion window %d days", d)
				}
				kp := e.jsonOf(key, "policy")
				want := decode(t, `{"Version":"2012-10-17","Statement":[{"Sid":"AccountAdministersKeyAndDelegatesToIAM","Effect":"Allow",
					"Principal":{"AWS":"arn:aws:iam::222222222222:root"},"Action":"kms:*","Resource":"*"}]}`)
				if !reflect.DeepEqual(kp, want) {
					t.Errorf("key policy %s", pretty(kp))
				}
				if !e.boolean(e.block(key, "lifecycle"), "prevent_destroy") {
					t.Error("the key may be destroyed by terraform")
				}
			}

			// Role: trust and permissions are the kit's, byte for byte in meaning.
			role := e.resource("aws_iam_role", "this")
			trust := e.jsonOf(role, "assume_role_policy")
			if want := decode(t, kit.TrustPolicy.JSON()); !reflect.DeepEqual(trust, want) {
				t.Errorf("trust policy\n%s\nkit's\n%s", pretty(trust), pretty(want))
			}
			if got := dig(trust, "Statement", 0, "Condition", "StringEquals", "sts:ExternalId"); got != kit.ExternalID {
				t.Errorf("trust policy ExternalId condition %v, want %q", got, kit.ExternalID)
			}
			if got := dig(trust, "Statement", 0, "Principal", "AWS"); got != o.HopRoleARN || strings.HasSuffix(fmt.Sprint(got), ":root") {
				t.Errorf("trust policy principal %v, want the hop role %s", got, o.HopRoleARN)
			}
			if d := e.number(role, "max_session_duration"); d != 3600 {
				t.Errorf("max_session_duration %d, want 3600 (role chaining caps sessions at 1 h)", d)
			}
			if e.str(role, "name") != kit.RoleName {
				t.Errorf("role name %q, want %q", e.str(role, "name"), kit.RoleName)
			}
			pol := e.resource("aws_iam_role_policy", "this")
			if e.str(pol, "role") != kit.RoleName {
				t.Errorf("policy attached to %q", e.str(pol, "role"))
			}
			wantPerm := kit.PermissionPolicy
			if tc.keyARN == "" {
				wantPerm = onboard.PermissionPolicy(onboard.Grants{
					Partition: "aws", Region: o.Region, AccountID: o.ClientAccountID,
					BucketName: o.BucketName, TableName: o.TableName, KMSKeyARN: tc.wantKey,
				})
			}
			if got, want := e.jsonOf(pol, "policy"), decode(t, wantPerm.JSON()); !reflect.DeepEqual(got, want) {
				t.Errorf("permission policy\n%s\nkit's\n%s", pretty(got), pretty(want))
			}

			// Bucket.
			bucket := e.resource("aws_s3_bucket", "this")
			if e.str(bucket, "bucket") != o.BucketName {
				t.Errorf("bucket %q", e.str(bucket, "bucket"))
			}
			lc := e.block(bucket, "lifecycle")
			if !e.boolean(lc, "prevent_destroy") {
				t.Error("the bucket may be destroyed by terraform")
			}
			if !e.boolean(e.block(lc, "precondition"), "condition") {
				t.Error("the region precondition fails in the right region")
			}
			for _, typ := range []string{
				"aws_s3_bucket_public_access_block", "aws_s3_bucket_versioning", "aws_s3_bucket_server_side_encryption_configuration",
				"aws_s3_bucket_ownership_controls", "aws_s3_bucket_policy", "aws_s3_bucket_lifecycle_configuration",
			} {
				if got := e.str(e.resource(typ, "this"), "bucket"); got != o.BucketName {
					t.Errorf("%s applies to bucket %q", typ, got)
				}
			}
			pab := e.resource("aws_s3_bucket_public_access_block", "this")
			for _, a := range []string{"block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"} {
				if !e.boolean(pab, a) {
					t.Errorf("public access block: %s is not true", a)
				}
			}
			if s := e.str(e.block(e.resource("aws_s3_bucket_versioning", "this"), "versioning_configuration"), "status"); s != "Enabled" {
				t.Errorf("versioning %q", s)
			}
			sse := e.block(e.resource("aws_s3_bucket_server_side_encryption_configuration", "this"), "rule")
			def := e.block(sse, "apply_server_side_encryption_by_default")
			if e.str(def, "sse_algorithm") != "aws:kms" || e.str(def, "kms_master_key_id") != tc.wantKey {
				t.Errorf("default encryption %s with %s, want aws:kms with %s", e.str(def, "sse_algorithm"), e.str(def, "kms_master_key_id"), tc.wantKey)
			}
			if !e.boolean(sse, "bucket_key_enabled") {
				t.Error("no S3 bucket key")
			}
			if s := e.str(e.block(e.resource("aws_s3_bucket_ownership_controls", "this"), "rule"), "object_ownership"); s != "BucketOwnerEnforced" {
				t.Errorf("object ownership %q", s)
			}
			bp := e.jsonOf(e.resource("aws_s3_bucket_policy", "this"), "policy")
			wantBP := decode(t, `{"Version":"2012-10-17","Statement":[{"Sid":"DenyInsecureTransport","Effect":"Deny","Principal":"*","Action":"s3:*",
				"Resource":["arn:aws:s3:::acme-blue-docs","arn:aws:s3:::acme-blue-docs/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`)
			if !reflect.DeepEqual(bp, wantBP) {
				t.Errorf("bucket policy %s", pretty(bp))
			}
			nv := e.block(e.block(e.resource("aws_s3_bucket_lifecycle_configuration", "this"), "rule"), "noncurrent_version_expiration")
			if d := e.number(nv, "noncurrent_days"); d != 30 {
				t.Errorf("noncurrent versions kept %d days, want the default 30", d)
			}

			// Table.
			tb := e.resource("aws_dynamodb_table", "this")
			if e.str(tb, "name") != o.TableName || e.str(tb, "billing_mode") != "PAY_PER_REQUEST" {
				t.Errorf("table %q billing %q", e.str(tb, "name"), e.str(tb, "billing_mode"))
			}
			if !e.boolean(e.block(tb, "point_in_time_recovery"), "enabled") {
				t.Error("point-in-time recovery is off")
			}
			tsse := e.block(tb, "server_side_encryption")
			if !e.boolean(tsse, "enabled") || e.str(tsse, "kms_key_arn") != tc.wantKey {
				t.Errorf("table encryption %v with %s, want %s", e.boolean(tsse, "enabled"), e.str(tsse, "kms_key_arn"), tc.wantKey)
			}
			if !e.boolean(tb, "deletion_protection_enabled") || !e.boolean(e.block(tb, "lifecycle"), "prevent_destroy") {
				t.Error("the table is not protected from deletion")
			}

			// Outputs: the Infisical secrets are the kit's.
			out := e.value(m.outputs["infisical_secrets"].Attributes["value"].Expr, "output.infisical_secrets")
			if !e.boolean(m.outputs["infisical_secrets"], "sensitive") {
				t.Error("output infisical_secrets is not sensitive")
			}
			got := map[string]string{}
			for k, v := range out.AsValueMap() {
				got[k] = v.AsString()
			}
			want := map[string]string{}
			for _, s := range kit.Secrets {
				want[s.Name] = s.Value
			}
			want["BLUE_KMS_KEY_ID"] = tc.wantKey
			if !reflect.DeepEqual(got, want) {
				t.Errorf("infisical_secrets output %v, want %v", got, want)
			}
			if v := e.value(m.outputs["role_arn"].Attributes["value"].Expr, "output.role_arn").AsString(); v != kit.RoleARN {
				t.Errorf("role_arn output %s, want %s", v, kit.RoleARN)
			}
			if v := e.value(m.outputs["kms_key_arn"].Attributes["value"].Expr, "output.kms_key_arn").AsString(); v != tc.wantKey {
				t.Errorf("kms_key_arn output %s, want %s", v, tc.wantKey)
			}
		})
	}
}

// Applying with the provider in another region than the tenant's fails.
func TestModuleRefusesAnotherRegion(t *testing.T) {
	m := load(t)
	kit, err := onboard.Kit(baseOptions())
	if err != nil {
		t.Fatal(err)
	}
	other := testCloud
	other.region = "us-east-1"
	e := evaluate(t, m, varsOf(t, kit), other)
	if e.boolean(e.block(e.block(e.resource("aws_s3_bucket", "this"), "lifecycle"), "precondition"), "condition") {
		t.Error("the region precondition passes with the provider in us-east-1 and var.region eu-west-1")
	}
}

// The module's variable validations accept and refuse what the kit does.
func TestModuleValidationMatchesKit(t *testing.T) {
	m := load(t)
	type tcase struct {
		variable, value string
		set             func(*onboard.Options, string)
		api             bool // compared in api mode
	}
	var cases []tcase
	add := func(variable string, set func(*onboard.Options, string), values ...string) {
		for _, v := range values {
			cases = append(cases, tcase{variable: variable, value: v, set: set})
		}
	}
	addAPI := func(variable string, set func(*onboard.Options, string), values ...string) {
		for _, v := range values {
			cases = append(cases, tcase{variable: variable, value: v, set: set, api: true})
		}
	}
	add("tenant", func(o *onboard.Options, v string) { o.Tenant = v },
		"acme", "a", "acme-2", strings.Repeat("a", 58), strings.Repeat("a", 59), "Acme", "-acme", "acme-", "ac_me", "")
	add("region", func(o *onboard.Options, v string) { o.Region = v },
		"eu-west-1", "us-gov-west-1", "ap-southeast-3", "EU-WEST-1", "eu-west", "euwest1", "")
	add("hop_role_arn", func(o *onboard.Options, v string) { o.HopRoleARN = v },
		"arn:aws:iam::111111111111:role/blue-hop-acme",
		"arn:aws:iam::111111111111:role/service/blue-hop-acme",
		"arn:aws-us-gov:iam::111111111111:role/blue-hop-acme",
		"arn:aws:iam::111111111111:root",
		"arn:aws:iam::111111111111:user/blue",
		"arn:aws:sts::111111111111:assumed-role/blue-hop-acme/session",
		"arn:aws:iam::1111:role/x",
		"arn:aws:iam::111111111111:role/*",
		"*", "")
	add("external_id", func(o *onboard.Options, v string) { o.ExternalID = v },
		strings.Repeat("a", 32), strings.Repeat("7", 48), "ab+=,.@:/_-"+strings.Repeat("z", 21), strings.Repeat("x", 1224),
		strings.Repeat("a", 31), strings.Repeat("x", 1225), strings.Repeat("a", 31)+" ", strings.Repeat("a", 31)+"é", strings.Repeat("a", 31)+"*")
	add("role_name", func(o *onboard.Options, v string) { o.RoleName = v },
		"blue-acme", "Blue_Access+1", strings.Repeat("r", 64), strings.Repeat("r", 65), "a/b", "a b")
	add("bucket_name", func(o *onboard.Options, v string) { o.BucketName = v },
		"acme-blue-docs", "abc", strings.Repeat("b", 63), strings.Repeat("b", 64), "ab", "Acme", "a.b.c", "-abc", "abc-", "a_bc")
	add("table_name", func(o *onboard.Options, v string) { o.TableName = v },
		"blue-acme", "Blue.Acme_1", "abc", "ab", "a b c", "a/b/c")
	add("kms_key_arn", func(o *onboard.Options, v string) { o.KMSKeyARN = v },
		"", "arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab", "arn:aws:kms:eu-west-1:333333333333:key/mrk-1",
		"alias/blue", "arn:aws:kms:eu-west-1:222222222222:alias/blue", "1234abcd-12ab-34cd-56ef-1234567890ab", "arn:aws:kms:eu-west-1:2222:key/x")
	add("data_access", func(o *onboard.Options, v string) {
		o.DataAccess = v
		if v == onboard.DataAccessAPI {
			o.SuperviberVPCEndpointID = platformCloud.vpceID
		}
	}, "direct", "api", "API", "proxy", " api")
	// An empty endpoint in api mode is the rest_api's precondition's
	// (TestAPIModuleNeedsSuperviberEndpoint), not a validation's.
	addAPI("superviber_vpc_endpoint_id", func(o *onboard.Options, v string) { o.SuperviberVPCEndpointID = v },
		"vpce-0123456789abcdef0", "vpce-01234567", "vpce-0123456789ABCDEF0", "vpc-0123456789abcdef0", "vpce-0123", "vpce-0123456789abcdef01", "vpce-*")

	base, err := onboard.Kit(baseOptions())
	if err != nil {
		t.Fatal(err)
	}
	baseAPI, err := onboard.Kit(apiOptions())
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	for _, tc := range cases {
		covered[tc.variable] = true
		kit, o := base, baseOptions()
		if tc.api {
			kit, o = baseAPI, apiOptions()
		}
		vars := map[string]cty.Value{}
		for k, v := range kit.TerraformVars {
			vars[k] = cty.StringVal(v)
		}
		vars[tc.variable] = cty.StringVal(tc.value)
		tfOK := validates(t, m, tc.variable, vars)
		tc.set(&o, tc.value)
		_, kitErr := onboard.Kit(o)
		kitOK := kitErr == nil
		if tc.variable == "external_id" && tc.value == "" {
			kitOK = false // the kit generates one; terraform must be given it
		}
		if tfOK != kitOK {
			t.Errorf("%s = %q: terraform accepts: %v, the kit accepts: %v (%v)", tc.variable, tc.value, tfOK, kitOK, kitErr)
		}
	}
	for name, body := range m.variables {
		hasValidation := slices.ContainsFunc(body.Blocks, func(b *hclsyntax.Block) bool { return b.Type == "validation" })
		_, isKitVar := base.TerraformVars[name]
		_, isAPIKitVar := baseAPI.TerraformVars[name]
		if (isKitVar || isAPIKitVar) && !covered[name] {
			t.Errorf("variable %s is not covered by this test", name)
		}
		if (isKitVar || isAPIKitVar) && !hasValidation {
			t.Errorf("variable %s has no validation", name)
		}
	}
}
