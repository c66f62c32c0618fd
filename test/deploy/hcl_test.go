// Package deploy_test tests the Terraform modules in deploy/terraform without
// terraform: each module is parsed with HCL and its expressions evaluated
// with Terraform's functions over stand-ins for what AWS computes (ARNs,
// ids), so the tests see what every resource instance would be created with.
// This file is the harness: loading a module directory, evaluating it with
// count and for_each, and reading resources, blocks and policies.
package deploy_test

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"net/netip"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
	"github.com/zclconf/go-cty/cty/gocty"

	"github.com/superviber/blue-operator/mcpserver/onboard"
)

// module is a parsed module: its top-level blocks by kind and name.
type module struct {
	dir       string
	resources map[string]map[string]*hclsyntax.Body // type → name → body
	data      map[string]map[string]*hclsyntax.Body
	variables map[string]*hclsyntax.Body
	locals    map[string]hclsyntax.Expression
	outputs   map[string]*hclsyntax.Body
	terraform []*hclsyntax.Body
}

// terraformDir is deploy/terraform seen from this package.
var terraformDir = filepath.Join("..", "..", "deploy", "terraform")

// loadModule parses the module in dir, which must hold exactly files (so a
// file added to a module is one the tests know about).
func loadModule(t *testing.T, dir string, files []string) *module {
	t.Helper()
	m := &module{
		dir:       dir,
		resources: map[string]map[string]*hclsyntax.Body{}, data: map[string]map[string]*hclsyntax.Body{},
		variables: map[string]*hclsyntax.Body{}, locals: map[string]hclsyntax.Expression{}, outputs: map[string]*hclsyntax.Body{},
	}
	tfs, _ := filepath.Glob(filepath.Join(dir, "*.tf"))
	for i := range tfs {
		tfs[i] = filepath.Base(tfs[i])
	}
	sort.Strings(tfs)
	want := slices.Clone(files)
	sort.Strings(want)
	if !slices.Equal(tfs, want) {
		t.Fatalf("%s: module files %v, want %v", dir, tfs, want)
	}
	p := hclparse.NewParser()
	for _, name := range files {
		f, diags := p.ParseHCLFile(filepath.Join(dir, name))
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
				if _, ok := b.Body.Attributes["count"]; ok {
					if _, both := b.Body.Attributes["for_each"]; both {
						t.Fatalf("%s: %s.%s has count and for_each", name, b.Labels[0], b.Labels[1])
					}
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

// resourceNames lists every resource the module declares, as type.name.
func (m *module) resourceNames() []string {
	var out []string
	for typ, byName := range m.resources {
		for name := range byName {
			out = append(out, typ+"."+name)
		}
	}
	sort.Strings(out)
	return out
}

// cloud is what AWS would compute: the account, region and partition the
// provider runs in, and the ids AWS gives what the module creates.
type cloud struct {
	partition, dnsSuffix, region, account string
	keyID, restAPIID, vpceID, sgID        string
}

// testCloud is the client's account; platformCloud is Superviber's.
var (
	testCloud = cloud{
		partition: "aws", dnsSuffix: "amazonaws.com", region: "eu-west-1", account: "222222222222",
		keyID: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", restAPIID: "a1b2c3d4e5",
	}
	platformCloud = cloud{
		partition: "aws", dnsSuffix: "amazonaws.com", region: "eu-west-1", account: "111111111111",
		vpceID: "vpce-0a1b2c3d4e5f60718", sgID: "sg-0a1b2c3d4e5f60718",
	}
)

func (c cloud) createdKeyARN() string {
	return "arn:" + c.partition + ":kms:" + c.region + ":" + c.account + ":key/" + c.keyID
}

// lengthFunc is Terraform's length, which takes strings too.
var lengthFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "value", Type: cty.DynamicPseudoType}},
	Type:   function.StaticReturnType(cty.Number),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		if args[0].Type() == cty.String {
			return stdlib.Strlen(args[0])
		}
		return stdlib.Length(args[0])
	},
})

// stringFunc is a Terraform function of strings to a string.
func stringFunc(n int, f func(args []string) (string, error)) function.Function {
	params := make([]function.Parameter, n)
	for i := range params {
		params[i] = function.Parameter{Name: "s" + strconv.Itoa(i), Type: cty.String}
	}
	return function.New(&function.Spec{
		Params: params,
		Type:   function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			ss := make([]string, len(args))
			for i, a := range args {
				ss[i] = a.AsString()
			}
			s, err := f(ss)
			return cty.StringVal(s), err
		},
	})
}

// functions are the Terraform functions the modules may use.
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
	"flatten":    stdlib.FlattenFunc,
	"keys":       stdlib.KeysFunc,
	"values":     stdlib.ValuesFunc,
	"distinct":   stdlib.DistinctFunc,
	"sort":       stdlib.SortFunc,
	"split":      stdlib.SplitFunc,
	"substr":     stdlib.SubstrFunc,
	// Terraform's replace also takes /regex/; the modules replace literals.
	"replace": stdlib.ReplaceFunc,
	"length":  lengthFunc,
	"endswith": function.New(&function.Spec{
		Params: []function.Parameter{{Name: "s", Type: cty.String}, {Name: "suffix", Type: cty.String}},
		Type:   function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			return cty.BoolVal(strings.HasSuffix(args[0].AsString(), args[1].AsString())), nil
		},
	}),
	"sha1": stringFunc(1, func(a []string) (string, error) {
		sum := sha1.Sum([]byte(a[0]))
		return hex.EncodeToString(sum[:]), nil
	}),
	// The zip is built by `make lambda`; its hash is a stand-in, as the
	// ids AWS computes are.
	"filebase64sha256": stringFunc(1, func(a []string) (string, error) {
		sum := sha256.Sum256([]byte("stand-in for the contents of " + a[0]))
		return base64.StdEncoding.EncodeToString(sum[:]), nil
	}),
	// Terraform's cidrhost: the address of host number n in an IPv4 or IPv6
	// prefix; an error for anything that is not a prefix.
	"cidrhost": function.New(&function.Spec{
		Params: []function.Parameter{{Name: "prefix", Type: cty.String}, {Name: "hostnum", Type: cty.Number}},
		Type:   function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			p, err := netip.ParsePrefix(args[0].AsString())
			if err != nil {
				return cty.NilVal, fmt.Errorf("invalid CIDR expression: %w", err)
			}
			var n int64
			if err := gocty.FromCtyValue(args[1], &n); err != nil {
				return cty.NilVal, err
			}
			addr := p.Masked().Addr()
			for range n {
				addr = addr.Next()
			}
			if !p.Contains(addr) {
				return cty.NilVal, fmt.Errorf("host number %d does not fit in %s", n, p)
			}
			return cty.StringVal(addr.String()), nil
		},
	}),
}

// metaArgs are evaluated by Terraform itself, not passed to the provider.
var metaArgs = map[string]bool{"count": true, "for_each": true, "depends_on": true, "provider": true}

// evaluated is the module evaluated for some variables in some cloud. ctx
// is the module's scope; the copies instances returns carry each.key and
// each.value in theirs.
type evaluated struct {
	t         *testing.T
	m         *module
	c         cloud
	ctx       *hcl.EvalContext
	resources map[string]map[string]cty.Value
	// key is the instance key of a copy from instances ("" otherwise).
	key string
}

// dataStandIns are the data sources the modules read, as the provider would
// give them in c.
func dataStandIns(c cloud) map[string]map[string]cty.Value {
	return map[string]map[string]cty.Value{
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
}

// evaluate resolves locals and resource attributes until nothing changes,
// then checks that every expression of every created resource instance,
// local and output evaluates without error.
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
	standIns := dataStandIns(c)
	data := map[string]cty.Value{}
	for typ, byName := range m.data {
		vals := map[string]cty.Value{}
		for name := range byName {
			v, ok := standIns[typ][name]
			if !ok {
				t.Fatalf("data %s.%s: the test has no stand-in for it; add one", typ, name)
			}
			vals[name] = v
		}
		data[typ] = cty.ObjectVal(vals)
	}
	e := &evaluated{t: t, m: m, c: c, resources: map[string]map[string]cty.Value{}}
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
	// Each round resolves what the last one made known; a module's longest
	// chain of references bounds the rounds it needs.
	settled := false
	for range 64 {
		ctx := build()
		before := ctx.Variables
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
		if after := build().Variables; sameVars(before, after) {
			settled = true
			break
		}
	}
	if !settled {
		t.Fatal("the module's values did not settle in 64 rounds: a reference cycle?")
	}
	e.ctx = build()
	// Strict: everything Terraform would evaluate must evaluate.
	for name, expr := range m.locals {
		e.value(expr, "local."+name)
	}
	for typ, byName := range m.resources {
		for name, body := range byName {
			for key, in := range e.instances(typ, name) {
				in.checkBody(body, typ+"."+name+key)
			}
		}
	}
	for name, body := range m.outputs {
		e.value(body.Attributes["value"].Expr, "output."+name)
	}
	return e
}

func sameVars(a, b map[string]cty.Value) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || !v.RawEquals(w) {
			return false
		}
	}
	return true
}

// resourceValue is a resource as other expressions see it: one instance
// (no count or for_each), a tuple of them (count) or an object of them by
// key (for_each), each with its arguments that evaluate so far plus what AWS
// computes. Unknown while count or for_each is.
func resourceValue(ctx *hcl.EvalContext, typ, name string, body *hclsyntax.Body, c cloud) cty.Value {
	if fa, ok := body.Attributes["for_each"]; ok {
		fv, diags := fa.Expr.Value(ctx)
		if diags.HasErrors() || !fv.IsWhollyKnown() {
			return cty.DynamicVal
		}
		each, err := forEachValues(fv)
		if err != nil {
			return cty.DynamicVal
		}
		if len(each) == 0 {
			return cty.EmptyObjectVal
		}
		out := map[string]cty.Value{}
		for k, v := range each {
			out[k] = instanceValue(eachContext(ctx, k, v), typ, name, fmt.Sprintf("[%q]", k), body, c)
		}
		return cty.ObjectVal(out)
	}
	obj := instanceValue(ctx, typ, name, "", body, c)
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

// forEachValues reads a for_each value as Terraform does: a map or object
// (each.key and each.value) or a set of strings (both the string).
func forEachValues(v cty.Value) (map[string]cty.Value, error) {
	ty := v.Type()
	out := map[string]cty.Value{}
	switch {
	case v.IsNull():
		return nil, fmt.Errorf("for_each is null")
	case ty.IsMapType() || ty.IsObjectType():
		for it := v.ElementIterator(); it.Next(); {
			k, ev := it.Element()
			out[k.AsString()] = ev
		}
	case ty.IsSetType() && ty.ElementType() == cty.String:
		for it := v.ElementIterator(); it.Next(); {
			_, ev := it.Element()
			out[ev.AsString()] = ev
		}
	default:
		return nil, fmt.Errorf("for_each is a %s, not a map or a set of strings", ty.FriendlyName())
	}
	return out, nil
}

func eachContext(ctx *hcl.EvalContext, key string, value cty.Value) *hcl.EvalContext {
	child := ctx.NewChild()
	child.Variables = map[string]cty.Value{"each": cty.ObjectVal(map[string]cty.Value{
		"key": cty.StringVal(key), "value": value,
	})}
	return child
}

// instanceValue is one instance: its arguments that evaluate so far, plus
// stand-ins for what AWS computes. key tells apart the ids of a for_each's
// instances.
func instanceValue(ctx *hcl.EvalContext, typ, name, key string, body *hclsyntax.Body, c cloud) cty.Value {
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
	arn := func(service, resource string) string {
		return "arn:" + c.partition + ":" + service + ":" + c.region + ":" + c.account + ":" + resource
	}
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
	case "aws_api_gateway_rest_api":
		set("id", c.restAPIID)
		set("root_resource_id", "root000000")
		set("execution_arn", onboard.ExecutionARN(c.partition, c.region, c.account, c.restAPIID))
		set("arn", "arn:"+c.partition+":apigateway:"+c.region+"::/restapis/"+c.restAPIID)
	case "aws_api_gateway_stage":
		api, ok1 := str("rest_api_id")
		stage, ok2 := str("stage_name")
		if ok1 && ok2 {
			set("id", "ags-"+api+"-"+stage)
			set("invoke_url", "https://"+api+".execute-api."+c.region+"."+c.dnsSuffix+"/"+stage)
			set("execution_arn", onboard.ExecutionARN(c.partition, c.region, c.account, api)+"/"+stage)
		}
	case "aws_lambda_function":
		if n, ok := str("function_name"); ok {
			fn := arn("lambda", "function:"+n)
			set("id", n)
			set("arn", fn)
			set("invoke_arn", "arn:"+c.partition+":apigateway:"+c.region+":lambda:path/2015-03-31/functions/"+fn+"/invocations")
		}
	case "aws_cloudwatch_log_group":
		if n, ok := str("name"); ok {
			set("id", n)
			set("arn", arn("logs", "log-group:"+n))
		}
	case "aws_cloudtrail":
		if n, ok := str("name"); ok {
			set("id", n)
			set("arn", arn("cloudtrail", "trail/"+n))
		}
	case "aws_vpc_endpoint":
		set("id", c.vpceID)
		set("arn", arn("ec2", "vpc-endpoint/"+c.vpceID))
	case "aws_security_group":
		set("id", c.sgID)
		set("arn", arn("ec2", "security-group/"+c.sgID))
	default:
		set("id", typ+"."+name+key)
	}
	return cty.ObjectVal(attrs)
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

// count is how many instances of a resource the module creates (by count or
// for_each).
func (e *evaluated) count(typ, name string) int {
	e.t.Helper()
	return len(e.instances(typ, name))
}

// instances are the instances of a resource the module creates, by their
// address suffix ("" without count or for_each, "[0]" with count,
// `["key"]` with for_each), each the module seen from that instance:
// with for_each, each.key and each.value are in its scope.
func (e *evaluated) instances(typ, name string) map[string]*evaluated {
	e.t.Helper()
	body := e.resource(typ, name)
	out := map[string]*evaluated{}
	if fa, ok := body.Attributes["for_each"]; ok {
		each, err := forEachValues(e.value(fa.Expr, typ+"."+name+".for_each"))
		if err != nil {
			e.t.Fatalf("%s.%s.for_each: %v", typ, name, err)
		}
		for k, v := range each {
			in := *e
			in.ctx, in.key = eachContext(e.ctx, k, v), k
			out[fmt.Sprintf("[%q]", k)] = &in
		}
		return out
	}
	a, ok := body.Attributes["count"]
	if !ok {
		out[""] = e
		return out
	}
	var n int
	if err := gocty.FromCtyValue(e.value(a.Expr, typ+"."+name+".count"), &n); err != nil {
		e.t.Fatalf("%s.%s.count: %v", typ, name, err)
	}
	for i := range n {
		out[fmt.Sprintf("[%d]", i)] = e
	}
	return out
}

// each is the instances of a for_each resource by key.
func (e *evaluated) each(typ, name string) map[string]*evaluated {
	e.t.Helper()
	if _, ok := e.resource(typ, name).Attributes["for_each"]; !ok {
		e.t.Fatalf("%s.%s has no for_each", typ, name)
	}
	out := map[string]*evaluated{}
	for _, in := range e.instances(typ, name) {
		out[in.key] = in
	}
	return out
}

// computed is an attribute of a created resource as other expressions see
// it, AWS's stand-ins included; instance is the instance suffix
// (`["acme"]`, "[0]" or "").
func (e *evaluated) computed(typ, name, instance, attr string) string {
	e.t.Helper()
	expr, diags := hclsyntax.ParseExpression([]byte(typ+"."+name+instance+"."+attr), "computed", hcl.InitialPos)
	if diags.HasErrors() {
		e.t.Fatal(diags.Error())
	}
	v := e.value(expr, typ+"."+name+instance+"."+attr)
	if v.Type() != cty.String {
		e.t.Fatalf("%s.%s%s.%s is %s, want a string", typ, name, instance, attr, v.Type().FriendlyName())
	}
	return v.AsString()
}

func (e *evaluated) resource(typ, name string) *hclsyntax.Body {
	e.t.Helper()
	b, ok := e.m.resources[typ][name]
	if !ok {
		e.t.Fatalf("the module declares no resource %s.%s", typ, name)
	}
	return b
}

// output evaluates an output's value.
func (e *evaluated) output(name string) cty.Value {
	e.t.Helper()
	o, ok := e.m.outputs[name]
	if !ok {
		e.t.Fatalf("the module has no output %s", name)
	}
	return e.value(o.Attributes["value"].Expr, "output."+name)
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

// has reports whether an argument is set.
func has(body *hclsyntax.Body, name string) bool {
	_, ok := body.Attributes[name]
	return ok
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

// strs evaluates an argument holding a list, tuple or set of strings.
func (e *evaluated) strs(body *hclsyntax.Body, name string) []string {
	e.t.Helper()
	v := e.attr(body, name)
	if !v.CanIterateElements() {
		e.t.Fatalf("%s is %s, want a list of strings", name, v.Type().FriendlyName())
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, ev := it.Element()
		if ev.Type() != cty.String {
			e.t.Fatalf("%s holds a %s", name, ev.Type().FriendlyName())
		}
		out = append(out, ev.AsString())
	}
	return out
}

// strMap evaluates an argument holding a map or object of strings.
func (e *evaluated) strMap(body *hclsyntax.Body, name string) map[string]string {
	e.t.Helper()
	return stringMap(e.t, e.attr(body, name), name)
}

func stringMap(t *testing.T, v cty.Value, what string) map[string]string {
	t.Helper()
	if !v.Type().IsMapType() && !v.Type().IsObjectType() {
		t.Fatalf("%s is %s, want a map of strings", what, v.Type().FriendlyName())
	}
	out := map[string]string{}
	for k, ev := range v.AsValueMap() {
		if ev.Type() != cty.String {
			t.Fatalf("%s.%s is %s, want a string", what, k, ev.Type().FriendlyName())
		}
		out[k] = ev.AsString()
	}
	return out
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

// preconditions evaluates every precondition of a resource instance.
func (e *evaluated) preconditions(body *hclsyntax.Body) []bool {
	e.t.Helper()
	var out []bool
	for _, lc := range e.blocks(body, "lifecycle") {
		for _, pc := range e.blocks(lc, "precondition") {
			out = append(out, e.boolean(pc, "condition"))
		}
	}
	return out
}

// validates evaluates a variable's validations for a value, the other
// variables as given: true when every one holds.
func validates(t *testing.T, m *module, variable string, vars map[string]cty.Value) bool {
	t.Helper()
	body, ok := m.variables[variable]
	if !ok {
		t.Fatalf("no variable %s", variable)
	}
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{"var": cty.ObjectVal(vars)}, Functions: functions}
	n, okAll := 0, true
	for _, b := range body.Blocks {
		if b.Type != "validation" {
			continue
		}
		n++
		v, diags := b.Body.Attributes["condition"].Expr.Value(ctx)
		if diags.HasErrors() {
			t.Fatalf("%s: validation: %s", variable, diags.Error())
		}
		okAll = okAll && v.True()
	}
	if n == 0 {
		t.Fatalf("variable %s has no validation", variable)
	}
	return okAll
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

// ---------------------------------------------------------------- policies

// policyDoc is one policy a created resource instance carries.
type policyDoc struct {
	// where is the resource instance and argument, e.g.
	// aws_iam_role.lambda[0].assume_role_policy.
	where    string
	typ      string // the resource type
	name     string // the resource name
	instance string // the instance suffix
	doc      any
}

// statement is a policy statement read generically, as IAM reads it: Action
// and Resource always lists, Principal "*" as {"AWS": ["*"]}.
type statement struct {
	Sid, Effect string
	Principal   map[string][]string
	Action      []string
	Resource    []string
	Condition   map[string]any
}

// policyArgs are the arguments that hold IAM policy documents.
var policyArgs = []string{"policy", "assume_role_policy"}

// policies are every policy document of every resource instance the module
// creates.
func (e *evaluated) policies() []policyDoc {
	e.t.Helper()
	var out []policyDoc
	for _, rn := range e.m.resourceNames() {
		typ, name, _ := strings.Cut(rn, ".")
		body := e.resource(typ, name)
		for key, in := range e.instances(typ, name) {
			for _, arg := range policyArgs {
				if !has(body, arg) {
					continue
				}
				out = append(out, policyDoc{
					where: rn + key + "." + arg, typ: typ, name: name, instance: key, doc: in.jsonOf(body, arg),
				})
			}
		}
	}
	return out
}

// statements reads a policy document's statements.
func statements(t *testing.T, p policyDoc) []statement {
	t.Helper()
	list := func(v any, what string) []string {
		switch x := v.(type) {
		case nil:
			return nil
		case string:
			return []string{x}
		case []any:
			var out []string
			for _, e := range x {
				s, ok := e.(string)
				if !ok {
					t.Fatalf("%s: %s holds %v", p.where, what, e)
				}
				out = append(out, s)
			}
			return out
		}
		t.Fatalf("%s: %s is %v", p.where, what, v)
		return nil
	}
	raw, ok := dig(p.doc, "Statement").([]any)
	if !ok || len(raw) == 0 {
		t.Fatalf("%s: no Statement list", p.where)
	}
	var out []statement
	for _, r := range raw {
		m, _ := r.(map[string]any)
		st := statement{Action: list(m["Action"], "Action"), Resource: list(m["Resource"], "Resource")}
		st.Sid, _ = m["Sid"].(string)
		st.Effect, _ = m["Effect"].(string)
		switch pr := m["Principal"].(type) {
		case nil:
		case string:
			st.Principal = map[string][]string{"AWS": {pr}}
		case map[string]any:
			st.Principal = map[string][]string{}
			for k, v := range pr {
				st.Principal[k] = list(v, "Principal."+k)
			}
		default:
			t.Fatalf("%s: Principal %v", p.where, pr)
		}
		st.Condition, _ = m["Condition"].(map[string]any)
		for _, k := range []string{"NotAction", "NotResource", "NotPrincipal"} {
			if _, has := m[k]; has {
				t.Errorf("%s: statement %q uses %s: grants by exclusion are never used", p.where, st.Sid, k)
			}
		}
		out = append(out, st)
	}
	return out
}
