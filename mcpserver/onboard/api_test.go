package onboard_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/superviber/blue-operator/mcpserver/apigw"
	"github.com/superviber/blue-operator/mcpserver/onboard"
	"github.com/superviber/blue-operator/mcpserver/tenantconfig"
)

// routeARNs are the execute-api ARNs of the contract's routes in the API's
// stage, written out here from apigw.Routes rather than by the package.
func routeARNs(apiID string) []string {
	var out []string
	for _, r := range apigw.Routes {
		p := strings.ReplaceAll(strings.ReplaceAll(r.Path, "{id}", "*"), "{version}", "*")
		out = append(out, "arn:aws:execute-api:eu-west-1:222222222222:"+apiID+"/blue/"+r.Method+"/v1/*"+p)
	}
	return out
}

// In api mode the client role may invoke the API's routes and nothing else:
// no storage action at all, one statement, every route of the contract in
// the API's stage with its own method (reads GET), and no other method or
// path.
func TestAPIModeRoleOnlyInvokesTheRoutes(t *testing.T) {
	r := kit(t, apiOptions())
	if r.DataAccess != onboard.DataAccessAPI {
		t.Fatalf("DataAccess %q", r.DataAccess)
	}
	sts := decodePolicy(t, r.PermissionPolicy.JSON())
	if len(sts) != 1 {
		t.Fatalf("%d statements, want 1", len(sts))
	}
	st := sts[0]
	if st["Effect"] != "Allow" || !slices.Equal(strs(t, st["Action"]), []string{"execute-api:Invoke"}) {
		t.Errorf("statement %v: want Allow execute-api:Invoke only", st)
	}
	for _, k := range []string{"Principal", "Condition"} {
		if _, has := st[k]; has {
			t.Errorf("the role's policy has a %s", k)
		}
	}
	got := strs(t, st["Resource"])
	if want := routeARNs(onboard.RestAPIIDPlaceholder); !slices.Equal(got, want) {
		t.Errorf("resources\n%s\nwant the contract's routes\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for i, rt := range apigw.Routes {
		if rt.Read && !strings.Contains(got[i], "/blue/GET/v1/") {
			t.Errorf("read route %s is granted as %s, not GET", rt.Op, got[i])
		}
	}
	for _, svc := range []string{"s3:", "dynamodb:", "kms:"} {
		if strings.Contains(r.PermissionPolicy.JSON(), `"`+svc) {
			t.Errorf("the role's api-mode policy grants %s actions", svc)
		}
	}
}

// The data Lambda's role holds exactly the storage statements the role holds
// in direct mode (the Lambda runs the same store; the access check is the
// server's, not the Lambda's) plus writing its own log streams, and only
// Lambda may assume it.
func TestAPIModeLambdaHoldsTheStorage(t *testing.T) {
	api, direct := kit(t, apiOptions()), kit(t, options())
	if api.LambdaPolicy == nil || api.LambdaTrustPolicy == nil || api.APIResourcePolicy == nil {
		t.Fatal("api mode kit lacks the Lambda's policies or the API's resource policy")
	}
	if direct.LambdaPolicy != nil || direct.LambdaTrustPolicy != nil || direct.APIResourcePolicy != nil || direct.LambdaFunctionName != "" {
		t.Error("a direct mode kit has api mode parts")
	}
	lp := api.LambdaPolicy.Statement
	var storage []onboard.Statement
	for _, st := range direct.PermissionPolicy.Statement {
		if st.Sid != "BlueAccessCheck" {
			storage = append(storage, st)
		}
	}
	if len(storage) != len(direct.PermissionPolicy.Statement)-1 {
		t.Fatalf("direct mode's role policy has no BlueAccessCheck statement:\n%s", direct.PermissionPolicy.JSON())
	}
	if len(lp) != len(storage)+1 {
		t.Fatalf("%d statements, want the %d storage statements and the logs", len(lp), len(storage))
	}
	if !reflect.DeepEqual(lp[:len(lp)-1], storage) {
		t.Errorf("Lambda storage statements\n%s\ndiffer from direct mode's role policy\n%s", api.LambdaPolicy.JSON(), direct.PermissionPolicy.JSON())
	}
	if strings.Contains(api.LambdaPolicy.JSON(), "DescribeTable") || strings.Contains(api.LambdaPolicy.JSON(), "GetEncryptionConfiguration") {
		t.Error("the Lambda holds the server's access-check actions")
	}
	logs := lp[len(lp)-1]
	if !slices.Equal(logs.Action, []string{"logs:CreateLogStream", "logs:PutLogEvents"}) ||
		!slices.Equal(logs.Resource, []string{"arn:aws:logs:eu-west-1:222222222222:log-group:/aws/lambda/blue-acme:*"}) || logs.Condition != nil {
		t.Errorf("logs statement %+v: want its own log group's streams only", logs)
	}
	decodePolicy(t, api.LambdaPolicy.JSON())
	trust := decodePolicy(t, api.LambdaTrustPolicy.JSON())
	if len(trust) != 1 || !reflect.DeepEqual(trust[0]["Principal"], map[string]any{"Service": "lambda.amazonaws.com"}) ||
		!slices.Equal(strs(t, trust[0]["Action"]), []string{"sts:AssumeRole"}) {
		t.Errorf("Lambda trust policy %s", api.LambdaTrustPolicy.JSON())
	}
	if api.LambdaFunctionName != "blue-acme" || api.LambdaRoleName != "blue-acme-data" {
		t.Errorf("Lambda %q role %q", api.LambdaFunctionName, api.LambdaRoleName)
	}
	o := apiOptions()
	o.RoleName = strings.Repeat("r", 64)
	if n := kit(t, o).LambdaRoleName; len(n) != 64 || !strings.HasSuffix(n, "-data") {
		t.Errorf("Lambda role name %q for a 64-character role name: want 64 characters ending in -data", n)
	}
}

// The API's resource policy refuses whatever does not come through
// Superviber's VPC endpoint and every principal but the client role, and
// allows that role the routes; it allows no one else.
func TestAPIModeResourcePolicy(t *testing.T) {
	r := kit(t, apiOptions())
	sts := decodePolicy(t, r.APIResourcePolicy.JSON())
	if len(sts) != 3 {
		t.Fatalf("%d statements, want 3", len(sts))
	}
	all := []string{"arn:aws:execute-api:eu-west-1:222222222222:" + onboard.RestAPIIDPlaceholder + "/*"}
	for i, want := range []struct {
		effect, principal string
		cond              map[string]any
		res               []string
	}{
		{"Deny", "*", map[string]any{"StringNotEquals": map[string]any{"aws:SourceVpce": "vpce-0123456789abcdef0"}}, all},
		{"Deny", "*", map[string]any{"ArnNotEquals": map[string]any{"aws:PrincipalArn": r.RoleARN}}, all},
		{"Allow", r.RoleARN, nil, routeARNs(onboard.RestAPIIDPlaceholder)},
	} {
		st := sts[i]
		var cond map[string]any
		if c, ok := st["Condition"].(map[string]any); ok {
			cond = c
		}
		if st["Effect"] != want.effect || !reflect.DeepEqual(st["Principal"], map[string]any{"AWS": want.principal}) ||
			!slices.Equal(strs(t, st["Action"]), []string{"execute-api:Invoke"}) || !reflect.DeepEqual(cond, want.cond) ||
			!slices.Equal(strs(t, st["Resource"]), want.res) {
			t.Errorf("statement %d\n%v\nwant %s by %s on %v when %v", i, st, want.effect, want.principal, want.res, want.cond)
		}
	}
}

// In api mode the server is given the role and the API, not the storage.
func TestAPIModeSecretsAndVars(t *testing.T) {
	r := kit(t, apiOptions())
	var names []string
	for _, s := range r.Secrets {
		names = append(names, s.Name)
	}
	if !slices.Equal(names, []string{tenantconfig.KeyRoleARN, tenantconfig.KeyAPIEndpoint}) {
		t.Errorf("secrets %v, want AWS_ROLE_ARN and API_ENDPOINT only", names)
	}
	if r.Secrets[0].Value != "arn:aws:iam::222222222222:role/blue-acme" || r.Secrets[1].Value != "" ||
		!strings.Contains(r.Secrets[1].Note, "terraform output -raw api_endpoint") {
		t.Errorf("secrets %+v", r.Secrets)
	}
	if r.TerraformVars["data_access"] != "api" || r.TerraformVars["superviber_vpc_endpoint_id"] != "vpce-0123456789abcdef0" {
		t.Errorf("terraform vars %v", r.TerraformVars)
	}
	if d := kit(t, options()).TerraformVars; d["data_access"] != "direct" {
		t.Errorf("direct mode terraform vars %v", d)
	} else if _, has := d["superviber_vpc_endpoint_id"]; has {
		t.Errorf("direct mode terraform vars name a VPC endpoint: %v", d)
	}
}

func TestAPIModeText(t *testing.T) {
	r := kit(t, apiOptions())
	txt := r.Text()
	for _, want := range []string{
		"vpce-0123456789abcdef0", "blue-data-lambda.zip", "make lambda", `"execute-api:Invoke"`, `"aws:SourceVpce"`,
		`"logs:PutLogEvents"`, `"kms:ViaService"`, onboard.RestAPIIDPlaceholder, "Lambda blue-acme with its own role blue-acme-data",
		`"data_access": "api"`, "terraform output -raw api_endpoint",
	} {
		if !strings.Contains(txt, want) {
			t.Errorf("text lacks %q", want)
		}
	}
	if strings.Contains(txt, "BLUE_S3_BUCKET ") {
		t.Error("api mode text asks for BLUE_S3_BUCKET in Infisical")
	}
}

func TestRunAPIMode(t *testing.T) {
	base := []string{
		"--tenant", "acme", "--hop-role-arn", "arn:aws:iam::111111111111:role/blue-hop-acme", "--account-id", "222222222222",
		"--region", "eu-west-1", "--bucket", "acme-blue-docs", "--table", "blue-acme",
	}
	apiFiles := []string{onboard.FileLambdaTrustPolicy, onboard.FileLambdaPolicy, onboard.FileAPIResourcePolicy}
	for _, tc := range []struct {
		name  string
		args  []string
		files bool
	}{
		{"api", []string{"--data-access", "api", "--superviber-vpc-endpoint-id", "vpce-0123456789abcdef0"}, true},
		{"direct", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var out bytes.Buffer
			if err := onboard.Run(context.Background(), append(append(slices.Clone(base), tc.args...), "--out", dir), &out); err != nil {
				t.Fatal(err)
			}
			for _, f := range apiFiles {
				b, err := os.ReadFile(filepath.Join(dir, f))
				if (err == nil) != tc.files {
					t.Errorf("%s: %v (want it written: %v)", f, err, tc.files)
				}
				if err == nil {
					decodePolicy(t, string(b))
				}
				if strings.Contains(out.String(), f) != tc.files {
					t.Errorf("the output's list of files written and %s disagree:\n%s", f, out.String())
				}
			}
			env, _ := os.ReadFile(filepath.Join(dir, onboard.FileInfisicalEnv))
			if tc.files && (strings.Contains(string(env), "BLUE_S3_BUCKET") || !strings.Contains(string(env), "# API_ENDPOINT:")) {
				t.Errorf("api mode infisical.env:\n%s", env)
			}
		})
	}
	var out bytes.Buffer
	if err := onboard.Run(context.Background(), append(slices.Clone(base), "--data-access", "api"), &out); err == nil || !strings.Contains(err.Error(), "VPC endpoint") {
		t.Errorf("api mode without --superviber-vpc-endpoint-id: %v", err)
	}
}
