package deploy_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/superviber/blue-operator/mcpserver/onboard"
)

// selector is an advanced event selector: field → operator → values.
type selector map[string]map[string][]string

func (e *evaluated) selectors(trail *hclsyntax.Body) []selector {
	e.t.Helper()
	var out []selector
	for _, s := range e.blocks(trail, "advanced_event_selector") {
		sel := selector{}
		for _, fs := range e.blocks(s, "field_selector") {
			field := e.str(fs, "field")
			if sel[field] != nil {
				e.t.Errorf("field %s selected twice in one selector", field)
			}
			sel[field] = map[string][]string{}
			for _, op := range []string{"equals", "not_equals", "starts_with", "not_starts_with", "ends_with", "not_ends_with"} {
				if has(fs, op) {
					sel[field][op] = e.strs(fs, op)
				}
			}
		}
		out = append(out, sel)
	}
	return out
}

// The trail records, in both modes, the data events of every object of the
// Blue bucket and of the table (reads and writes: no readOnly or
// eventName filter), with log file validation, into a bucket of its own
// that is private, encrypted, TLS only and writable only by this trail;
// cloudtrail_data_events = false creates none of it.
func TestModuleRecordsDataEvents(t *testing.T) {
	m := load(t)
	for _, o := range []onboard.Options{baseOptions(), apiOptions()} {
		t.Run(o.DataAccess, func(t *testing.T) {
			kit, err := onboard.Kit(o)
			if err != nil {
				t.Fatal(err)
			}
			e := evaluate(t, m, varsOf(t, kit), testCloud)
			if n := e.count("aws_cloudtrail", "this"); n != 1 {
				t.Fatalf("%d trails, want 1 by default", n)
			}
			tr := e.resource("aws_cloudtrail", "this")
			bucketARN := onboard.BucketARN("aws", kit.BucketName)
			tableARN := onboard.TableARN("aws", testCloud.region, testCloud.account, kit.TableName)
			wantSel := []selector{
				{
					"eventCategory":  {"equals": {"Data"}},
					"resources.type": {"equals": {"AWS::S3::Object"}},
					"resources.ARN":  {"starts_with": {bucketARN + "/"}},
				},
				{
					"eventCategory":  {"equals": {"Data"}},
					"resources.type": {"equals": {"AWS::DynamoDB::Table"}},
					"resources.ARN":  {"equals": {tableARN}},
				},
			}
			if got := e.selectors(tr); !reflect.DeepEqual(got, wantSel) {
				t.Errorf("event selectors\n%v\nwant every object of %s and the table %s\n%v", got, kit.BucketName, kit.TableName, wantSel)
			}
			if len(e.blocks(tr, "event_selector")) != 0 {
				t.Error("basic event_selector blocks alongside the advanced ones")
			}
			if !e.boolean(tr, "enable_log_file_validation") {
				t.Error("log file validation is off: the client cannot prove the logs untouched")
			}
			trailBucket := e.str(tr, "s3_bucket_name")
			if trailBucket == kit.BucketName || trailBucket != e.computed("aws_s3_bucket", "trail", "[0]", "id") {
				t.Errorf("the trail writes to %q, want its own bucket", trailBucket)
			}
			if n := len(trailBucket); n < 3 || n > 63 {
				t.Errorf("trail bucket name %q is %d characters", trailBucket, n)
			}
			for _, typ := range []string{
				"aws_s3_bucket_public_access_block", "aws_s3_bucket_server_side_encryption_configuration",
				"aws_s3_bucket_ownership_controls", "aws_s3_bucket_policy", "aws_s3_bucket_lifecycle_configuration",
			} {
				if got := e.str(e.resource(typ, "trail"), "bucket"); got != trailBucket {
					t.Errorf("%s.trail applies to %q", typ, got)
				}
			}
			pab := e.resource("aws_s3_bucket_public_access_block", "trail")
			for _, a := range []string{"block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"} {
				if !e.boolean(pab, a) {
					t.Errorf("trail bucket public access block: %s is not true", a)
				}
			}
			if s := e.str(e.block(e.resource("aws_s3_bucket_ownership_controls", "trail"), "rule"), "object_ownership"); s != "BucketOwnerEnforced" {
				t.Errorf("trail bucket object ownership %q", s)
			}
			sse := e.block(e.resource("aws_s3_bucket_server_side_encryption_configuration", "trail"), "rule", "apply_server_side_encryption_by_default")
			if a := e.str(sse, "sse_algorithm"); a != "AES256" && a != "aws:kms" {
				t.Errorf("trail bucket encryption %q", a)
			}
			if has(e.resource("aws_s3_bucket", "trail"), "force_destroy") && e.boolean(e.resource("aws_s3_bucket", "trail"), "force_destroy") {
				t.Error("terraform may delete the trail's logs with their bucket")
			}

			// Its policy: CloudTrail, for this trail only, under AWSLogs/<account>/; TLS only.
			trailARN := e.computed("aws_cloudtrail", "this", "[0]", "arn")
			bucket := onboard.BucketARN("aws", trailBucket)
			bp := e.jsonOf(e.resource("aws_s3_bucket_policy", "trail"), "policy")
			wantBP := decode(t, `{"Version":"2012-10-17","Statement":[
				{"Sid":"CloudTrailAclCheck","Effect":"Allow","Principal":{"Service":"cloudtrail.amazonaws.com"},"Action":["s3:GetBucketAcl"],
				 "Resource":["`+bucket+`"],"Condition":{"StringEquals":{"aws:SourceArn":"`+trailARN+`"}}},
				{"Sid":"CloudTrailWrite","Effect":"Allow","Principal":{"Service":"cloudtrail.amazonaws.com"},"Action":["s3:PutObject"],
				 "Resource":["`+bucket+`/AWSLogs/222222222222/*"],
				 "Condition":{"StringEquals":{"aws:SourceArn":"`+trailARN+`","s3:x-amz-acl":"bucket-owner-full-control"}}},
				{"Sid":"DenyInsecureTransport","Effect":"Deny","Principal":"*","Action":"s3:*",
				 "Resource":["`+bucket+`","`+bucket+`/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`)
			if !reflect.DeepEqual(bp, wantBP) {
				t.Errorf("trail bucket policy\n%s\nwant\n%s", pretty(bp), pretty(wantBP))
			}
			if got := e.output("cloudtrail_trail_arn").AsString(); got != trailARN {
				t.Errorf("output cloudtrail_trail_arn %q", got)
			}
		})
	}

	kit, err := onboard.Kit(baseOptions())
	if err != nil {
		t.Fatal(err)
	}
	vars := varsOf(t, kit)
	vars["cloudtrail_data_events"] = cty.False
	off := evaluate(t, m, vars, testCloud)
	for _, rn := range trailResources {
		typ, name, _ := strings.Cut(rn, ".")
		if n := off.count(typ, name); n != 0 {
			t.Errorf("cloudtrail_data_events = false creates %d of %s", n, rn)
		}
	}
	if !off.output("cloudtrail_trail_arn").IsNull() {
		t.Error("output cloudtrail_trail_arn is set without a trail")
	}
	if d := m.variables["cloudtrail_data_events"].Attributes["default"]; d == nil {
		t.Error("cloudtrail_data_events has no default")
	} else if v, _ := d.Expr.Value(nil); !v.True() {
		t.Error("cloudtrail_data_events is off by default")
	}
}
