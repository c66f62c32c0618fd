// Tests of the client module in api mode: the API's resources and methods
// are the contract (apigw.Routes) for every stored kind
// (tools.StoredKinds), IAM-authorized, each a Lambda proxy integration; the
// policies are the kit's; the role may only invoke the routes, the API
// admits only that role through Superviber's endpoint, and the Lambda's role
// is the only principal with storage rights.

package deploy_test

import (
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/superviber/blue-operator/mcpserver/apigw"
	"github.com/superviber/blue-operator/mcpserver/onboard"
	"github.com/superviber/blue-operator/mcpserver/tools"
)

// apiModule is the client module evaluated in api mode for the kit of o.
func apiModule(t *testing.T, o onboard.Options) (*evaluated, *onboard.Result) {
	t.Helper()
	kit, err := onboard.Kit(o)
	if err != nil {
		t.Fatal(err)
	}
	return evaluate(t, load(t), varsOf(t, kit), testCloud), kit
}

// withAPIID is a kit's policy with the API the module creates in place of
// the placeholder (and the created key in place of its placeholder).
func withAPIID(t *testing.T, p *onboard.Policy) any {
	t.Helper()
	if p == nil {
		t.Fatal("the kit has no such policy")
	}
	s := strings.ReplaceAll(p.JSON(), onboard.RestAPIIDPlaceholder, testCloud.restAPIID)
	return decode(t, strings.ReplaceAll(s, onboard.KMSKeyPlaceholder, testCloud.createdKeyARN()))
}

// The module's api-mode policies are the kit's: the role's trust and its
// invoke-only policy, the Lambda role's trust and storage policy, and the
// API's resource policy; with a key the module creates and the client's own.
func TestAPIModuleMatchesKit(t *testing.T) {
	for _, tc := range []struct {
		name, keyARN, wantKey string
	}{
		{"module creates the key", "", testCloud.createdKeyARN()},
		{"client's own key", "arn:aws:kms:eu-west-1:333333333333:key/mrk-0123456789abcdef", "arn:aws:kms:eu-west-1:333333333333:key/mrk-0123456789abcdef"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := apiOptions()
			o.KMSKeyARN = tc.keyARN
			e, kit := apiModule(t, o)
			exec := onboard.ExecutionARN("aws", testCloud.region, testCloud.account, testCloud.restAPIID)

			role := e.resource("aws_iam_role", "this")
			if got, want := e.jsonOf(role, "assume_role_policy"), decode(t, kit.TrustPolicy.JSON()); !reflect.DeepEqual(got, want) {
				t.Errorf("trust policy\n%s\nkit's\n%s", pretty(got), pretty(want))
			}
			pol := e.resource("aws_iam_role_policy", "this")
			if e.str(pol, "role") != kit.RoleName || e.str(pol, "name") != "blue-api" {
				t.Errorf("role policy %q on %q", e.str(pol, "name"), e.str(pol, "role"))
			}
			if got, want := e.jsonOf(pol, "policy"), withAPIID(t, &kit.PermissionPolicy); !reflect.DeepEqual(got, want) {
				t.Errorf("role policy\n%s\nkit's\n%s", pretty(got), pretty(want))
			}

			lrole := e.resource("aws_iam_role", "lambda")
			if n := e.str(lrole, "name"); n != kit.LambdaRoleName {
				t.Errorf("Lambda role %q, the kit's %q", n, kit.LambdaRoleName)
			}
			if got, want := e.jsonOf(lrole, "assume_role_policy"), withAPIID(t, kit.LambdaTrustPolicy); !reflect.DeepEqual(got, want) {
				t.Errorf("Lambda trust policy\n%s\nkit's\n%s", pretty(got), pretty(want))
			}
			lpol := e.resource("aws_iam_role_policy", "lambda")
			if e.str(lpol, "role") != kit.LambdaRoleName {
				t.Errorf("Lambda policy attached to %q", e.str(lpol, "role"))
			}
			if got, want := e.jsonOf(lpol, "policy"), withAPIID(t, kit.LambdaPolicy); !reflect.DeepEqual(got, want) {
				t.Errorf("Lambda policy\n%s\nkit's\n%s", pretty(got), pretty(want))
			}
			rp := e.resource("aws_api_gateway_rest_api_policy", "this")
			if e.str(rp, "rest_api_id") != testCloud.restAPIID {
				t.Errorf("resource policy on API %q", e.str(rp, "rest_api_id"))
			}
			if got, want := e.jsonOf(rp, "policy"), withAPIID(t, kit.APIResourcePolicy); !reflect.DeepEqual(got, want) {
				t.Errorf("resource policy\n%s\nkit's\n%s", pretty(got), pretty(want))
			}

			// The function: the zip, the runtime, its role, its storage.
			fn := e.resource("aws_lambda_function", "data")
			for arg, want := range map[string]string{
				"function_name": kit.LambdaFunctionName, "runtime": "provided.al2023", "handler": "bootstrap",
				"filename": "blue-data-lambda.zip", "role": "arn:aws:iam::222222222222:role/" + kit.LambdaRoleName,
			} {
				if got := e.str(fn, arg); got != want {
					t.Errorf("Lambda %s %q, want %q", arg, got, want)
				}
			}
			if e.str(fn, "source_code_hash") == "" {
				t.Error("no source_code_hash: a new zip would not be deployed")
			}
			if a := e.strs(fn, "architectures"); !slices.Equal(a, []string{"x86_64"}) {
				t.Errorf("architectures %v, want make lambda's default x86_64", a)
			}
			if d := e.number(fn, "timeout"); d < 1 || d > 29 {
				t.Errorf("timeout %d s: API Gateway gives up after 29 s", d)
			}
			env := e.strMap(e.block(fn, "environment"), "variables")
			// cmd/blue-data-lambda's Env* names (package main, so written here).
			wantEnv := map[string]string{
				"BLUE_BUCKET": o.BucketName, "BLUE_TABLE": o.TableName, "BLUE_KMS_KEY_ARN": tc.wantKey, "BLUE_ACCOUNT_ID": testCloud.account,
			}
			if !reflect.DeepEqual(env, wantEnv) {
				t.Errorf("Lambda environment %v, want %v", env, wantEnv)
			}
			lg := e.resource("aws_cloudwatch_log_group", "lambda")
			if n := e.str(lg, "name"); n != "/aws/lambda/"+kit.LambdaFunctionName {
				t.Errorf("log group %q is not the function's", n)
			}
			perm := e.resource("aws_lambda_permission", "api")
			for arg, want := range map[string]string{
				"action": "lambda:InvokeFunction", "principal": "apigateway.amazonaws.com",
				"function_name": kit.LambdaFunctionName, "source_arn": exec + "/" + onboard.APIStageName + "/*",
			} {
				if got := e.str(perm, arg); got != want {
					t.Errorf("Lambda permission %s %q, want %q", arg, got, want)
				}
			}

			// The API: private, one stage, deployed again when it changes.
			api := e.resource("aws_api_gateway_rest_api", "this")
			if ty := e.strs(e.block(api, "endpoint_configuration"), "types"); !slices.Equal(ty, []string{"PRIVATE"}) {
				t.Errorf("endpoint types %v, want PRIVATE", ty)
			}
			if pcs := e.preconditions(api); len(pcs) == 0 || slices.Contains(pcs, false) {
				t.Errorf("the API's preconditions %v", pcs)
			}
			stage := e.resource("aws_api_gateway_stage", "this")
			if e.str(stage, "stage_name") != onboard.APIStageName || e.str(stage, "rest_api_id") != testCloud.restAPIID ||
				e.str(stage, "deployment_id") != e.computed("aws_api_gateway_deployment", "this", "[0]", "id") {
				t.Errorf("stage %q of %q on deployment %q", e.str(stage, "stage_name"), e.str(stage, "rest_api_id"), e.str(stage, "deployment_id"))
			}
			dep := e.resource("aws_api_gateway_deployment", "this")
			if len(e.strMap(dep, "triggers")) == 0 || !e.boolean(e.block(dep, "lifecycle"), "create_before_destroy") {
				t.Error("the deployment has no redeployment trigger or is destroyed before its replacement exists")
			}

			// Outputs: API_ENDPOINT is the stage's invoke URL; no storage names.
			endpoint := "https://" + testCloud.restAPIID + ".execute-api.eu-west-1.amazonaws.com/" + onboard.APIStageName
			got := stringMap(t, e.output("infisical_secrets"), "output.infisical_secrets")
			want := map[string]string{}
			for _, s := range kit.Secrets {
				want[s.Name] = s.Value
			}
			want["API_ENDPOINT"] = endpoint
			if !reflect.DeepEqual(got, want) {
				t.Errorf("infisical_secrets %v, want %v", got, want)
			}
			for k, v := range map[string]string{"api_endpoint": endpoint, "rest_api_id": testCloud.restAPIID, "role_arn": kit.RoleARN} {
				if got := e.output(k).AsString(); got != v {
					t.Errorf("output %s %q, want %q", k, got, v)
				}
			}
		})
	}
}

// apiPaths are the API's resources as full paths, by id, from each
// resource's parent and path part (the root is "/").
func apiPaths(t *testing.T, e *evaluated) map[string]string {
	t.Helper()
	type node struct{ parent, part string }
	nodes := map[string]node{}
	for _, rn := range e.m.resourceNames() {
		typ, name, _ := strings.Cut(rn, ".")
		if typ != "aws_api_gateway_resource" {
			continue
		}
		for key, in := range e.instances(typ, name) {
			b := e.resource(typ, name)
			if in.str(b, "rest_api_id") != testCloud.restAPIID {
				t.Errorf("%s%s is in API %q", rn, key, in.str(b, "rest_api_id"))
			}
			nodes[e.computed(typ, name, key, "id")] = node{in.str(b, "parent_id"), in.str(b, "path_part")}
		}
	}
	root := e.computed("aws_api_gateway_rest_api", "this", "[0]", "root_resource_id")
	paths := map[string]string{root: "/"}
	var resolve func(id string, depth int) string
	resolve = func(id string, depth int) string {
		if p, ok := paths[id]; ok {
			return p
		}
		n, ok := nodes[id]
		if !ok || depth > len(nodes) {
			t.Fatalf("resource %q hangs from nothing in the API", id)
		}
		p := strings.TrimSuffix(resolve(n.parent, depth+1), "/") + "/" + n.part
		paths[id] = p
		return p
	}
	for id := range nodes {
		resolve(id, 0)
	}
	return paths
}

// The API's tree is exactly the contract for every stored kind: the
// methods are apigw.Routes × tools.StoredKinds(), each on its own path,
// IAM-authorized (reads as GET), each with a Lambda proxy integration to the
// data Lambda; the resources are exactly those paths and their parents.
func TestAPIModuleResourceTreeIsTheContract(t *testing.T) {
	e, _ := apiModule(t, apiOptions())
	paths := apiPaths(t, e)
	type route struct{ method, path string }
	want := map[route]apigw.Route{}
	wantResources := map[string]bool{"/": true}
	for _, kind := range tools.StoredKinds() {
		for _, r := range apigw.Routes {
			p := "/v1/" + kind + r.Path
			want[route{r.Method, p}] = r
			for i := 1; i < len(p); i++ {
				if p[i] == '/' {
					wantResources[p[:i]] = true
				}
			}
			wantResources[p] = true
		}
	}
	var gotResources []string
	for _, p := range paths {
		gotResources = append(gotResources, p)
	}
	sort.Strings(gotResources)
	var wantList []string
	for p := range wantResources {
		wantList = append(wantList, p)
	}
	sort.Strings(wantList)
	if !slices.Equal(gotResources, wantList) {
		t.Errorf("API resources\n%s\nwant\n%s", strings.Join(gotResources, "\n"), strings.Join(wantList, "\n"))
	}

	invoke := e.computed("aws_lambda_function", "data", "[0]", "invoke_arn")
	methods := e.instances("aws_api_gateway_method", "this")
	integrations := e.instances("aws_api_gateway_integration", "this")
	got := map[route]bool{}
	for key, in := range methods {
		b := in.resource("aws_api_gateway_method", "this")
		rt := route{in.str(b, "http_method"), paths[in.str(b, "resource_id")]}
		if got[rt] {
			t.Errorf("%s %s declared twice", rt.method, rt.path)
		}
		got[rt] = true
		contract, ok := want[rt]
		if !ok {
			t.Errorf("method %s %s (%s) is not in the contract", rt.method, rt.path, key)
			continue
		}
		if a := in.str(b, "authorization"); a != "AWS_IAM" {
			t.Errorf("%s %s: authorization %q, want AWS_IAM", rt.method, rt.path, a)
		}
		if has(b, "authorizer_id") || has(b, "api_key_required") && in.boolean(b, "api_key_required") {
			t.Errorf("%s %s has another authorizer or an API key", rt.method, rt.path)
		}
		if contract.Read && rt.method != "GET" {
			t.Errorf("read %s is %s", contract.Op, rt.method)
		}
		ig, ok := integrations[key]
		if !ok {
			t.Errorf("%s %s has no integration", rt.method, rt.path)
			continue
		}
		ib := ig.resource("aws_api_gateway_integration", "this")
		if ig.str(ib, "type") != "AWS_PROXY" || ig.str(ib, "integration_http_method") != "POST" || ig.str(ib, "uri") != invoke ||
			ig.str(ib, "http_method") != rt.method || paths[ig.str(ib, "resource_id")] != rt.path || ig.str(ib, "rest_api_id") != testCloud.restAPIID {
			t.Errorf("%s %s: integration %s %s %s on %s, want a Lambda proxy (POST) to the data Lambda on the method's own resource",
				rt.method, rt.path, ig.str(ib, "type"), ig.str(ib, "integration_http_method"), ig.str(ib, "uri"), paths[ig.str(ib, "resource_id")])
		}
	}
	for rt := range want {
		if !got[rt] {
			t.Errorf("contract route %s %s has no method", rt.method, rt.path)
		}
	}
	if len(integrations) != len(methods) {
		t.Errorf("%d integrations for %d methods", len(integrations), len(methods))
	}
}

// By evaluation rather than by shape: the role's policy and the API's
// resource policy let the role invoke every contract route of every kind
// through Superviber's endpoint, and refuse other methods, stages, APIs,
// endpoints and principals.
func TestAPIModuleAdmitsOnlyTheRoleThroughTheEndpoint(t *testing.T) {
	e, kit := apiModule(t, apiOptions())
	exec := onboard.ExecutionARN("aws", testCloud.region, testCloud.account, testCloud.restAPIID)
	idPol := statements(t, policyDoc{where: "role policy", doc: e.jsonOf(e.resource("aws_iam_role_policy", "this"), "policy")})
	resPol := statements(t, policyDoc{where: "resource policy", doc: e.jsonOf(e.resource("aws_api_gateway_rest_api_policy", "this"), "policy")})
	arn := func(stage, method, path string) string {
		return exec + "/" + stage + "/" + method + path
	}
	call := func(principal, vpce, resource string) request {
		ctx := map[string]string{"aws:PrincipalArn": principal}
		if vpce != "" {
			ctx["aws:SourceVpce"] = vpce
		}
		return request{principal: principal, action: "execute-api:Invoke", resource: resource, context: ctx}
	}
	for _, kind := range tools.StoredKinds() {
		for _, r := range apigw.Routes {
			p := "/v1/" + kind + strings.NewReplacer("{id}", "0001", "{version}", "3").Replace(r.Path)
			req := call(kit.RoleARN, platformCloud.vpceID, arn(onboard.APIStageName, r.Method, p))
			if !allows(t, idPol, req) || !allows(t, resPol, req) {
				t.Errorf("the role may not %s %s through Superviber's endpoint", r.Method, p)
			}
		}
	}
	list := arn(onboard.APIStageName, "GET", "/v1/rfc/documents")
	for _, tc := range []struct {
		what string
		r    request
	}{
		{"another endpoint", call(kit.RoleARN, "vpce-0123456789abcdef0", list)},
		{"no endpoint (public internet or the account's own VPC)", call(kit.RoleARN, "", list)},
		{"another role of the account", call("arn:aws:iam::222222222222:role/admin", platformCloud.vpceID, list)},
		{"the Lambda's role", call("arn:aws:iam::222222222222:role/"+kit.LambdaRoleName, platformCloud.vpceID, list)},
		{"Superviber's hop role", call(kit.HopRoleARN, platformCloud.vpceID, list)},
	} {
		if allows(t, resPol, tc.r) {
			t.Errorf("the resource policy admits %s", tc.what)
		}
	}
	for _, tc := range []struct{ what, resource string }{
		{"another method", arn(onboard.APIStageName, "PATCH", "/v1/rfc/documents/0001")},
		{"another stage", arn("prod", "GET", "/v1/rfc/documents")},
		{"a path outside the contract", arn(onboard.APIStageName, "GET", "/v2/rfc/documents")},
		{"another API", onboard.ExecutionARN("aws", testCloud.region, testCloud.account, "zzzzzzzzzz") + "/blue/GET/v1/rfc/documents"},
	} {
		r := call(kit.RoleARN, platformCloud.vpceID, tc.resource)
		if allows(t, idPol, r) || allows(t, resPol, r) {
			t.Errorf("%s is allowed: %s", tc.what, tc.resource)
		}
	}
}

// In api mode the cross-account role holds only execute-api:Invoke, and
// the Lambda's role is the only principal given S3, DynamoDB or KMS actions
// (the created key's policy delegates the key to IAM: wildcardAllowed). The
// trail's bucket policy lets CloudTrail write logs, on that bucket only.
func TestAPIModuleOnlyTheLambdaTouchesTheStorage(t *testing.T) {
	e, kit := apiModule(t, apiOptions())
	bucket, table := onboard.BucketARN("aws", kit.BucketName), onboard.TableARN("aws", testCloud.region, testCloud.account, kit.TableName)
	storage := func(a string) bool {
		return strings.HasPrefix(a, "s3:") || strings.HasPrefix(a, "dynamodb:") || strings.HasPrefix(a, "kms:")
	}
	var holders []string
	for _, p := range e.policies() {
		for _, st := range statements(t, p) {
			if st.Effect != "Allow" || !slices.ContainsFunc(st.Action, storage) {
				continue
			}
			switch {
			case p.typ == "aws_iam_role_policy":
				if !slices.Contains(holders, p.where) {
					holders = append(holders, p.where)
				}
			case wildcardAllowed(p, st):
				// The key's administration by the account, delegated to IAM.
			case p.typ == "aws_s3_bucket_policy" && p.name == "trail":
				for _, r := range st.Resource {
					if r == bucket || strings.HasPrefix(r, bucket+"/") || r == table || strings.HasPrefix(r, table+"/") {
						t.Errorf("%s: statement %s grants on the Blue bucket or table", p.where, st.Sid)
					}
				}
				if !slices.Equal(st.Principal["Service"], []string{"cloudtrail.amazonaws.com"}) || len(st.Principal) != 1 {
					t.Errorf("%s: statement %s grants to %v, not CloudTrail", p.where, st.Sid, st.Principal)
				}
			default:
				t.Errorf("%s: statement %s grants storage actions %v", p.where, st.Sid, st.Action)
			}
		}
	}
	if !slices.Equal(holders, []string{"aws_iam_role_policy.lambda[0].policy"}) {
		t.Errorf("storage actions are granted by %v, want only the Lambda role's policy", holders)
	}
	role := statements(t, policyDoc{where: "role", doc: e.jsonOf(e.resource("aws_iam_role_policy", "this"), "policy")})
	for _, st := range role {
		if st.Effect != "Allow" || !slices.Equal(st.Action, []string{"execute-api:Invoke"}) {
			t.Errorf("the cross-account role's statement %s allows %v", st.Sid, st.Action)
		}
		for _, r := range st.Resource {
			if !strings.HasPrefix(r, onboard.ExecutionARN("aws", testCloud.region, testCloud.account, testCloud.restAPIID)+"/"+onboard.APIStageName+"/") {
				t.Errorf("the cross-account role may invoke %s, outside the API's stage", r)
			}
		}
	}
}

// api mode without Superviber's endpoint stops at the API's precondition;
// direct mode creates none of the API and its role keeps the storage.
func TestAPIModuleNeedsSuperviberEndpoint(t *testing.T) {
	m := load(t)
	kit, err := onboard.Kit(apiOptions())
	if err != nil {
		t.Fatal(err)
	}
	vars := varsOf(t, kit)
	vars["superviber_vpc_endpoint_id"] = cty.StringVal("")
	e := evaluate(t, m, vars, testCloud)
	if pcs := e.preconditions(e.resource("aws_api_gateway_rest_api", "this")); !slices.Contains(pcs, false) {
		t.Error("api mode without superviber_vpc_endpoint_id passes every precondition")
	}
	direct, err := onboard.Kit(baseOptions())
	if err != nil {
		t.Fatal(err)
	}
	d := evaluate(t, m, varsOf(t, direct), testCloud)
	for _, rn := range apiResources {
		typ, name, _ := strings.Cut(rn, ".")
		if n := d.count(typ, name); n != 0 {
			t.Errorf("direct mode creates %d of %s", n, rn)
		}
	}
	if n := d.str(d.resource("aws_iam_role_policy", "this"), "name"); n != "blue-storage" {
		t.Errorf("direct mode's role policy is %q", n)
	}
	for _, out := range []string{"api_endpoint", "rest_api_id", "lambda_role_arn"} {
		if !d.output(out).IsNull() {
			t.Errorf("direct mode's output %s is %#v, want null", out, d.output(out))
		}
	}
}
