// Tests of the client's Terraform module, without terraform: the module is
// parsed with HCL and its expressions evaluated with Terraform's functions
// over stand-ins for what AWS computes (ARNs, ids), so the tests see what
// each resource would be created with: the policies (compared with
// `blue-mcp onboard`'s), the table's schema (compared with store.CreateTable
// on dynalite), encryption, recovery and public-access settings, and the
// variables' validations (compared with the onboarding kit's).
package deploy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
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
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
	"github.com/zclconf/go-cty/cty/gocty"

	"github.com/superviber/blue-operator/mcpserver/onboard"
	"github.com/superviber/blue-operator/mcpserver/store"
	"github.com/superviber/blue-operator/test/dynamotest"
)

// module is the parsed module: its top-level blocks by kind and name.
type module struct {
	resources map[string]map[string]*hclsyntax.Body // type → name → body
	data      map[string]map[string]*hclsyntax.Body
	variables map[string]*hclsyntax.Body
	locals    map[string]hclsyntax.Expression
	outputs   map[string]*hclsyntax.Body
	terraform []*hclsyntax.Body
}

// clientModule is the client's Terraform module as shipped in deploy/.
var clientModule = filepath.Join("..", "..", "deploy", "terraform", "client")

var moduleFiles = []string{"main.tf", "variables.tf", "outputs.tf"}

func load(t *testing.T) *module {
	t.Helper()
	m := &module{
		resources: map[string]map[string]*hclsyntax.Body{}, data: map[string]map[string]*hclsyntax.Body{},
		variables: map[string]*hclsyntax.Body{}, locals: map[string]hclsyntax.Expression{}, outputs: map[string]*hclsyntax.Body{},
	}
	tfs, _ := filepath.Glob(filepath.Join(clientModule, "*.tf"))
	for i := range tfs {
		tfs[i] = filepath.Base(tfs[i])
	}
	sort.Strings(tfs)
	want := slices.Clone(moduleFiles)
	sort.Strings(want)
	if !slices.Equal(tfs, want) {
		t.Fatalf("module files %v, want %v", tfs, want)
	}
	p := hclparse.NewParser()
	for _, name := range moduleFiles {
		f, diags := p.ParseHCLFile(filepath.Join(clientModule, name))
		if diags.HasErrors() {
			t.Fatalf("%s: %s", name, diags.Error())
		}
		for _, b := range f.Body.(*hclsyntax.Body).Blocks {
			switch b.Type {
			case "resource", "data":
				if len(b.Labels) != 2 {
					t.Fatalf("%s: %s block with labels %v", name, b.Type, b.Labels)
				}
				into := m.resources
				if b.Type == "data" {
					into = m.data
				}
				if into[b.Labels[0]] == nil {
					into[b.Labels[0]] = map[string]*hclsyntax.Body{}
				}
				if _, dup := into[b.Labels[0]][b.Labels[1]]; dup {
					t.Fatalf("%s: %s %s.%s declared twice", name, b.Type, b.Labels[0], b.Labels[1])
				}
				into[b.Labels[0]][b.Labels[1]] = b.Body
			case "variable", "output":
				into := m.variables
				if b.Type == "output" {
					into = m.outputs
				}
				if _, dup := into[b.Labels[0]]; dup {
					t.Fatalf("%s: %s %s declared twice", name, b.Type, b.Labels[0])
				}
				into[b.Labels[0]] = b.Body
			case "locals":
				for n, a := range b.Body.Attributes {
					if _, dup := m.locals[n]; dup {
						t.Fatalf("%s: local %s declared twice", name, n)
					}
					m.locals[n] = a.Expr
				}
			case "terraform":
				m.terraform = append(m.terraform, b.Body)
			default:
				t.Fatalf("%s: unexpected top-level block %q", name, b.Type)
			}
		}
	}
	return m
}

// cloud is what AWS would compute: the account, region and partition the
// provider runs in, and the id of a key the module creates.
type cloud struct {
	partition, dnsSuffix, region, account, keyID string
}

var testCloud = cloud{partition: "aws", dnsSuffix: "amazonaws.com", region: "eu-west-1", account: "222222222222", keyID: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"}

func (c cloud) createdKeyARN() string {
	return "arn:" + c.partition + ":kms:" + c.region + ":" + c.account + ":key/" + c.keyID
}

// functions are the Terraform functions the module may use.
var functions = map[string]function.Function{
	"jsonencode": stdlib.JSONEncodeFunc,
	"can":        tryfunc.CanFunc,
	"try":        tryfunc.TryFunc,
	"regex":      stdlib.RegexFunc,
	"coalesce":   stdlib.CoalesceFunc,
	"concat":     stdlib.ConcatFunc,
	"merge":      stdlib.MergeFunc,
	"format":     stdlib.FormatFunc,
	"lower":      stdlib.LowerFunc,
	"upper":      stdlib.UpperFunc,
	"contains":   stdlib.ContainsFunc,
	// Terraform's length takes strings too.
	"length": function.New(&function.Spec{
		Params: []function.Parameter{{Name: "value", Type: cty.DynamicPseudoType}},
		Type:   function.StaticReturnType(cty.Number),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if args[0].Type() == cty.String {
				return stdlib.Strlen(args[0])
			}
			return stdlib.Length(args[0])
		},
	}),
}

// metaArgs are evaluated by Terraform itself, not passed to the provider.
var metaArgs = map[string]bool{"count": true, "for_each": true, "depends_on": true, "provider": true}

// evaluated is the module evaluated for some variables in some cloud.
type evaluated struct {
	t         *testing.T
	m         *module
	ctx       *hcl.EvalContext
	resources map[string]map[string]cty.Value
}

// evaluate resolves locals and resource attributes until nothing changes,
// then checks that every expression of every created resource, local and
// output evaluates without error.
func evaluate(t *testing.T, m *module, vars map[string]cty.Value, c cloud) *evaluated {
	t.Helper()
	all := map[string]cty.Value{}
	for name, body := range m.variables {
		if v, ok := vars[name]; ok {
			all[name] = v
			continue
		}
		d, ok := body.Attributes["default"]
		if !ok {
			t.Fatalf("variable %s has no default and no value", name)
		}
		v, diags := d.Expr.Value(nil)
		if diags.HasErrors() {
			t.Fatalf("variable %s default: %s", name, diags.Error())
		}
		all[name] = v
	}
	for name := range vars {
		if _, ok := m.variables[name]; !ok {
			t.Fatalf("value for undeclared variable %s", name)
		}
	}
	dataVals := map[string]map[string]cty.Value{
		"aws_caller_identity": {"current": cty.ObjectVal(map[string]cty.Value{
			"account_id": cty.StringVal(c.account), "id": cty.StringVal(c.account),
			"arn": cty.StringVal("arn:" + c.partition + ":iam::" + c.account + ":user/terraform"),
		})},
		"aws_partition": {"current": cty.ObjectVal(map[string]cty.Value{
			"partition": cty.StringVal(c.partition), "dns_suffix": cty.StringVal(c.dnsSuffix), "id": cty.StringVal(c.partition),
		})},
		"aws_region": {"current": cty.ObjectVal(map[string]cty.Value{
			"region": cty.StringVal(c.region), "id": cty.StringVal(c.region),
		})},
	}
	data := map[string]cty.Value{}
	for typ, byName := range m.data {
		vals := map[string]cty.Value{}
		for name := range byName {
			v, ok := dataVals[typ][name]
			if !ok {
				t.Fatalf("data %s.%s: the test has no stand-in for it; add one", typ, name)
			}
			vals[name] = v
		}
		data[typ] = cty.ObjectVal(vals)
	}
	e := &evaluated{t: t, m: m, resources: map[string]map[string]cty.Value{}}
	locals := map[string]cty.Value{}
	build := func() *hcl.EvalContext {
		v := map[string]cty.Value{
			"var": cty.ObjectVal(all), "local": cty.ObjectVal(locals), "data": cty.ObjectVal(data),
		}
		for typ, byName := range e.resources {
			v[typ] = cty.ObjectVal(byName)
		}
		return &hcl.EvalContext{Variables: v, Functions: functions}
	}
	for range 8 {
		ctx := build()
		for name, expr := range m.locals {
			if v, diags := expr.Value(ctx); !diags.HasErrors() && v.IsWhollyKnown() {
				locals[name] = v
			}
		}
		for typ, byName := range m.resources {
			if e.resources[typ] == nil {
				e.resources[typ] = map[string]cty.Value{}
			}
			for name, body := range byName {
				e.resources[typ][name] = resourceValue(ctx, typ, name, body, c)
			}
		}
	}
	e.ctx = build()
	// Strict: everything Terraform would evaluate must evaluate.
	for name, expr := range m.locals {
		e.value(expr, "local."+name)
	}
	for typ, byName := range m.resources {
		for name, body := range byName {
			if e.count(typ, name) > 0 {
				e.checkBody(body, typ+"."+name)
			}
		}
	}
	for name, body := range m.outputs {
		e.value(body.Attributes["value"].Expr, "output."+name)
	}
	return e
}

// resourceValue is a resource as other expressions see it: its arguments that
// evaluate so far, plus what AWS computes.
func resourceValue(ctx *hcl.EvalContext, typ, name string, body *hclsyntax.Body, c cloud) cty.Value {
	attrs := map[string]cty.Value{}
	for n, a := range body.Attributes {
		if metaArgs[n] {
			continue
		}
		if v, diags := a.Expr.Value(ctx); !diags.HasErrors() && v.IsWhollyKnown() {
			attrs[n] = v
		}
	}
	str := func(k string) (string, bool) {
		v, ok := attrs[k]
		if !ok || v.Type() != cty.String {
			return "", false
		}
		return v.AsString(), true
	}
	set := func(k, v string) { attrs[k] = cty.StringVal(v) }
	switch typ {
	case "aws_s3_bucket":
		if b, ok := str("bucket"); ok {
			set("id", b)
			set("arn", onboard.BucketARN(c.partition, b))
		}
	case "aws_dynamodb_table":
		if n, ok := str("name"); ok {
			set("id", n)
			set("arn", onboard.TableARN(c.partition, c.region, c.account, n))
		}
	case "aws_kms_key":
		set("key_id", c.keyID)
		set("id", c.keyID)
		set("arn", c.createdKeyARN())
	case "aws_iam_role":
		if n, ok := str("name"); ok {
			set("id", n)
			set("arn", "arn:"+c.partition+":iam::"+c.account+":role/"+n)
		}
	default:
		set("id", typ+"."+name)
	}
	obj := cty.ObjectVal(attrs)
	ca, ok := body.Attributes["count"]
	if !ok {
		return obj
	}
	cv, diags := ca.Expr.Value(ctx)
	if diags.HasErrors() || !cv.IsWhollyKnown() {
		return cty.DynamicVal
	}
	var n int
	if err := gocty.FromCtyValue(cv, &n); err != nil {
		return cty.DynamicVal
	}
	if n == 0 {
		return cty.EmptyTupleVal
	}
	elems := make([]cty.Value, n)
	for i := range elems {
		elems[i] = obj
	}
	return cty.TupleVal(elems)
}

func (e *evaluated) value(expr hclsyntax.Expression, what string) cty.Value {
	e.t.Helper()
	v, diags := expr.Value(e.ctx)
	if diags.HasErrors() {
		e.t.Fatalf("%s: %s", what, diags.Error())
	}
	if !v.IsWhollyKnown() {
		e.t.Fatalf("%s is not known", what)
	}
	return v
}

// checkBody evaluates every argument of a resource body and its nested
// blocks (lifecycle's prevent_destroy and depends_on are not values).
func (e *evaluated) checkBody(body *hclsyntax.Body, what string) {
	e.t.Helper()
	for n, a := range body.Attributes {
		if n == "depends_on" {
			continue
		}
		e.value(a.Expr, what+"."+n)
	}
	for _, b := range body.Blocks {
		e.checkBody(b.Body, what+"."+b.Type)
	}
}

// count is how many instances of a resource the module creates.
func (e *evaluated) count(typ, name string) int {
	e.t.Helper()
	body := e.resource(typ, name)
	a, ok := body.Attributes["count"]
	if !ok {
		return 1
	}
	var n int
	if err := gocty.FromCtyValue(e.value(a.Expr, typ+"."+name+".count"), &n); err != nil {
		e.t.Fatalf("%s.%s.count: %v", typ, name, err)
	}
	return n
}

func (e *evaluated) resource(typ, name string) *hclsyntax.Body {
	e.t.Helper()
	b, ok := e.m.resources[typ][name]
	if !ok {
		e.t.Fatalf("the module declares no resource %s.%s", typ, name)
	}
	return b
}

// block returns the only nested block at path (e.g. "rule",
// "apply_server_side_encryption_by_default").
func (e *evaluated) block(body *hclsyntax.Body, path ...string) *hclsyntax.Body {
	e.t.Helper()
	for _, typ := range path {
		var found []*hclsyntax.Block
		for _, b := range body.Blocks {
			if b.Type == typ {
				found = append(found, b)
			}
		}
		if len(found) != 1 {
			e.t.Fatalf("want exactly one %q block, found %d", typ, len(found))
		}
		body = found[0].Body
	}
	return body
}

func (e *evaluated) blocks(body *hclsyntax.Body, typ string) []*hclsyntax.Body {
	var out []*hclsyntax.Body
	for _, b := range body.Blocks {
		if b.Type == typ {
			out = append(out, b.Body)
		}
	}
	return out
}

// attr evaluates an argument of body.
func (e *evaluated) attr(body *hclsyntax.Body, name string) cty.Value {
	e.t.Helper()
	a, ok := body.Attributes[name]
	if !ok {
		e.t.Fatalf("argument %q is not set", name)
	}
	return e.value(a.Expr, name)
}

func (e *evaluated) str(body *hclsyntax.Body, name string) string {
	e.t.Helper()
	v := e.attr(body, name)
	if v.Type() != cty.String {
		e.t.Fatalf("%s is %s, want a string", name, v.Type().FriendlyName())
	}
	return v.AsString()
}

func (e *evaluated) boolean(body *hclsyntax.Body, name string) bool {
	e.t.Helper()
	v := e.attr(body, name)
	if v.Type() != cty.Bool {
		e.t.Fatalf("%s is %s, want a bool", name, v.Type().FriendlyName())
	}
	return v.True()
}

func (e *evaluated) number(body *hclsyntax.Body, name string) int64 {
	e.t.Helper()
	v := e.attr(body, name)
	if v.Type() != cty.Number {
		e.t.Fatalf("%s is %s, want a number", name, v.Type().FriendlyName())
	}
	i, acc := v.AsBigFloat().Int64()
	if acc != big.Exact {
		e.t.Fatalf("%s is not a whole number", name)
	}
	return i
}

// jsonOf evaluates an argument holding JSON and decodes it.
func (e *evaluated) jsonOf(body *hclsyntax.Body, name string) any {
	e.t.Helper()
	var v any
	if err := json.Unmarshal([]byte(e.str(body, name)), &v); err != nil {
		e.t.Fatalf("%s: %v", name, err)
	}
	return v
}

func decode(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// dig walks decoded JSON by keys and indexes; nil where there is nothing.
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func pretty(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
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

func TestModuleDeclaresTheResources(t *testing.T) {
	m := load(t)
	var got []string
	for typ, byName := range m.resources {
		for name := range byName {
			got = append(got, typ+"."+name)
		}
	}
	sort.Strings(got)
	want := []string{
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
	if !slices.Equal(got, want) {
		t.Errorf("resources\n%v\nwant\n%v", got, want)
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
	}
	var cases []tcase
	add := func(variable string, set func(*onboard.Options, string), values ...string) {
		for _, v := range values {
			cases = append(cases, tcase{variable, v, set})
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

	base, err := onboard.Kit(baseOptions())
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	for _, tc := range cases {
		covered[tc.variable] = true
		body, ok := m.variables[tc.variable]
		if !ok {
			t.Fatalf("no variable %s", tc.variable)
		}
		vars := map[string]cty.Value{}
		for k, v := range base.TerraformVars {
			vars[k] = cty.StringVal(v)
		}
		vars[tc.variable] = cty.StringVal(tc.value)
		ctx := &hcl.EvalContext{Variables: map[string]cty.Value{"var": cty.ObjectVal(vars)}, Functions: functions}
		tfOK := true
		validations := 0
		for _, b := range body.Blocks {
			if b.Type != "validation" {
				continue
			}
			validations++
			v, diags := b.Body.Attributes["condition"].Expr.Value(ctx)
			if diags.HasErrors() {
				t.Fatalf("%s = %q: validation: %s", tc.variable, tc.value, diags.Error())
			}
			tfOK = tfOK && v.True()
		}
		if validations == 0 {
			t.Fatalf("variable %s has no validation", tc.variable)
		}
		o := baseOptions()
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
		if _, isKitVar := base.TerraformVars[name]; isKitVar && !covered[name] {
			t.Errorf("variable %s is not covered by this test", name)
		}
		if _, isKitVar := base.TerraformVars[name]; isKitVar && !hasValidation {
			t.Errorf("variable %s has no validation", name)
		}
	}
}
