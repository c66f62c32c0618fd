package deploy_test

import (
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/superviber/blue-operator/mcpserver/onboard"
)

// request is one call as IAM evaluates it against a policy: who, what, on
// what, and the request's context keys (aws:SourceVpce, aws:PrincipalArn).
type request struct {
	principal, action, resource string
	context                     map[string]string
}

// allows evaluates statements as IAM does for one policy: an explicit Deny
// wins, then any Allow; nothing is allowed by default. It understands the
// condition operators the modules use and fails the test on any other, so a
// new operator cannot slip past it unevaluated.
func allows(t *testing.T, sts []statement, r request) bool {
	t.Helper()
	allowed := false
	for _, st := range sts {
		if !st.applies(t, r) {
			continue
		}
		if st.Effect == "Deny" {
			return false
		}
		allowed = true
	}
	return allowed
}

func (st statement) applies(t *testing.T, r request) bool {
	t.Helper()
	if st.Principal != nil {
		p := st.Principal["AWS"]
		if !slices.Contains(p, "*") && !slices.Contains(p, r.principal) {
			return false
		}
	}
	if !slices.ContainsFunc(st.Action, func(a string) bool { return globMatch(strings.ToLower(a), strings.ToLower(r.action)) }) {
		return false
	}
	if !slices.ContainsFunc(st.Resource, func(p string) bool { return arnMatch(p, r.resource) }) {
		return false
	}
	for op, keys := range st.Condition {
		for key, want := range keys.(map[string]any) {
			var wants []string
			switch w := want.(type) {
			case string:
				wants = []string{w}
			case []any:
				for _, x := range w {
					wants = append(wants, x.(string))
				}
			default:
				t.Fatalf("condition %s %s: value %v", op, key, want)
			}
			got, present := r.context[key]
			var match func(p, v string) bool
			negated := false
			switch op {
			case "StringEquals", "Bool":
				match = func(p, v string) bool { return p == v }
			case "StringNotEquals":
				match, negated = func(p, v string) bool { return p == v }, true
			case "ArnEquals", "ArnLike":
				match = arnMatch
			case "ArnNotEquals", "ArnNotLike":
				match, negated = arnMatch, true
			default:
				t.Fatalf("the test cannot evaluate condition operator %s: teach allows", op)
			}
			hit := present && slices.ContainsFunc(wants, func(w string) bool { return match(w, got) })
			// A negated operator holds when the key is absent.
			if negated == hit {
				return false
			}
		}
	}
	return true
}

// arnMatch matches an ARN against a pattern with * and ?, each of the six
// colon-separated parts on its own as IAM does (a wildcard crosses "/", and
// the colons of the resource part, but no other colon).
func arnMatch(pattern, arn string) bool {
	if pattern == "*" {
		return true
	}
	ps, as := strings.SplitN(pattern, ":", 6), strings.SplitN(arn, ":", 6)
	if len(ps) != len(as) {
		return false
	}
	for i := range ps {
		if !globMatch(ps[i], as[i]) {
			return false
		}
	}
	return true
}

// globMatch matches * (any run, "/" included) and ? (one character).
func globMatch(pattern, s string) bool {
	// path.Match's * stops at "/"; replace "/" by a character IAM ARNs do
	// not hold, so it does not.
	const sep = "\x00"
	ok, err := path.Match(strings.ReplaceAll(pattern, "/", sep), strings.ReplaceAll(s, "/", sep))
	return err == nil && ok
}

// wildcardAllowed are the only statements whose actions may hold a
// wildcard, each for its reason:
//   - the created KMS key's policy lets the account administer the key
//     (kms:*, Resource "*", i.e. this key) and delegates its use to IAM:
//     AWS's default key policy, without which no IAM policy could grant
//     the key and the key could be locked out of its own account; every
//     use is then granted by the roles' policies, only through S3 and
//     DynamoDB;
//   - a bucket's DenyInsecureTransport denies s3:* without TLS: a wildcard
//     in a Deny removes rights, and listing actions would leave new ones
//     open.
func wildcardAllowed(p policyDoc, st statement) bool {
	switch {
	case p.typ == "aws_kms_key" && p.name == "this" && st.Sid == "AccountAdministersKeyAndDelegatesToIAM" && st.Effect == "Allow":
		return slices.Equal(st.Action, []string{"kms:*"})
	case p.typ == "aws_s3_bucket_policy" && st.Sid == "DenyInsecureTransport" && st.Effect == "Deny":
		return slices.Equal(st.Action, []string{"s3:*"})
	}
	return false
}

// evaluatedModules are the modules in every shape the tests know: the
// client's in both modes (trail on, key created) and the platform's.
func evaluatedModules(t *testing.T) map[string]*evaluated {
	t.Helper()
	out := map[string]*evaluated{}
	client := load(t)
	for name, o := range map[string]onboard.Options{"client direct": baseOptions(), "client api": apiOptions()} {
		kit, err := onboard.Kit(o)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = evaluate(t, client, varsOf(t, kit), testCloud)
	}
	out["platform"] = evaluate(t, loadPlatform(t), platformVars(), platformCloud)
	return out
}

// No policy of either module grants by wildcard: no action is "*" or
// "service:*" and no Allow's resource is "*", but for wildcardAllowed's two
// reasoned statements; and every policy statement names its Sid.
func TestNoWildcardActions(t *testing.T) {
	for name, e := range evaluatedModules(t) {
		t.Run(name, func(t *testing.T) {
			ps := e.policies()
			if len(ps) == 0 {
				t.Fatal("no policies found")
			}
			for _, p := range ps {
				for _, st := range statements(t, p) {
					if st.Sid == "" {
						t.Errorf("%s: a statement without a Sid", p.where)
					}
					if wildcardAllowed(p, st) {
						continue
					}
					for _, a := range st.Action {
						if strings.Contains(a, "*") || strings.Contains(a, "?") {
							t.Errorf("%s: statement %s has the wildcard action %q", p.where, st.Sid, a)
						}
					}
					if st.Effect == "Allow" && slices.Contains(st.Resource, "*") {
						t.Errorf("%s: statement %s allows on every resource", p.where, st.Sid)
					}
				}
			}
		})
	}
}

// The policy evaluator itself: a Deny wins, negated conditions hold when
// the key is absent, wildcards cross "/" but not the ARN's parts.
func TestAllowsEvaluatesLikeIAM(t *testing.T) {
	sts := []statement{
		{Sid: "A", Effect: "Allow", Principal: map[string][]string{"AWS": {"arn:aws:iam::1:role/r"}}, Action: []string{"execute-api:Invoke"},
			Resource: []string{"arn:aws:execute-api:eu-west-1:1:api/blue/GET/v1/*/documents"}},
		{Sid: "D", Effect: "Deny", Principal: map[string][]string{"AWS": {"*"}}, Action: []string{"execute-api:Invoke"},
			Resource: []string{"arn:aws:execute-api:eu-west-1:1:api/*"}, Condition: map[string]any{"StringNotEquals": map[string]any{"aws:SourceVpce": "vpce-1"}}},
	}
	in := func(res string, ctx map[string]string) request {
		return request{principal: "arn:aws:iam::1:role/r", action: "execute-api:Invoke", resource: res, context: ctx}
	}
	list := "arn:aws:execute-api:eu-west-1:1:api/blue/GET/v1/rfc/documents"
	for _, tc := range []struct {
		r    request
		want bool
	}{
		{in(list, map[string]string{"aws:SourceVpce": "vpce-1"}), true},
		{in(list, map[string]string{"aws:SourceVpce": "vpce-2"}), false},
		{in(list, nil), false},
		{in("arn:aws:execute-api:eu-west-1:1:api/blue/GET/v1/a/b/documents", map[string]string{"aws:SourceVpce": "vpce-1"}), true},
		{in("arn:aws:execute-api:eu-west-1:1:api/blue/POST/v1/rfc/documents", map[string]string{"aws:SourceVpce": "vpce-1"}), false},
		{in("arn:aws:execute-api:eu-west-2:1:api/blue/GET/v1/rfc/documents", map[string]string{"aws:SourceVpce": "vpce-1"}), false},
	} {
		if got := allows(t, sts, tc.r); got != tc.want {
			t.Errorf("%s with %v: allowed %v, want %v", tc.r.resource, tc.r.context, got, tc.want)
		}
	}
	if arnMatch("arn:aws:s3*", "arn:aws:s3:::b") || !arnMatch("arn:aws:logs:r:1:log-group:g:*", "arn:aws:logs:r:1:log-group:g:log-stream:s") {
		t.Error("wildcards must match within each of an ARN's six parts, the last one's colons included")
	}
}

// ctyStrings is a list value of strings.
func ctyStrings(ss ...string) cty.Value {
	if len(ss) == 0 {
		return cty.ListValEmpty(cty.String)
	}
	vs := make([]cty.Value, len(ss))
	for i, s := range ss {
		vs[i] = cty.StringVal(s)
	}
	return cty.ListVal(vs)
}
