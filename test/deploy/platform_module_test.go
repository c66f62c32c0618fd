// Tests of Superviber's platform module (deploy/terraform/platform): every
// tenant's hop role is the one the operator's own builders and default
// template give its ServiceAccount, trusts only that ServiceAccount's token
// for STS, and may only assume that tenant's client role; the execute-api
// endpoint takes HTTPS from the cluster only and lets only the tenants'
// client roles invoke the clients' APIs.

package deploy_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	bluev1 "github.com/superviber/blue-operator/api/v1alpha1"
	"github.com/superviber/blue-operator/controllers"
	"github.com/superviber/blue-operator/mcpserver/onboard"
)

var platformModule = filepath.Join(terraformDir, "platform")

func loadPlatform(t *testing.T) *module {
	t.Helper()
	return loadModule(t, platformModule, []string{"main.tf", "variables.tf", "outputs.tf"})
}

const (
	oidcIssuer   = "oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
	oidcProvider = "arn:aws:iam::111111111111:oidc-provider/" + oidcIssuer
)

// platformTenants are the tenants platformVars gives: name → client role
// and account. acme's client role is the one the client module creates for
// baseOptions.
var platformTenants = map[string][2]string{
	"acme":   {"arn:aws:iam::222222222222:role/blue-acme", "222222222222"},
	"globex": {"arn:aws:iam::333333333333:role/blue-globex", "333333333333"},
}

func tenantsValue(ts map[string][2]string) cty.Value {
	if len(ts) == 0 {
		return cty.MapValEmpty(cty.Object(map[string]cty.Type{"client_role_arn": cty.String, "client_account_id": cty.String}))
	}
	m := map[string]cty.Value{}
	for name, v := range ts {
		m[name] = cty.ObjectVal(map[string]cty.Value{"client_role_arn": cty.StringVal(v[0]), "client_account_id": cty.StringVal(v[1])})
	}
	return cty.MapVal(m)
}

// platformVars are valid inputs in platformCloud.
func platformVars() map[string]cty.Value {
	return map[string]cty.Value{
		"tenants":           tenantsValue(platformTenants),
		"oidc_provider_arn": cty.StringVal(oidcProvider),
		"oidc_issuer":       cty.StringVal(oidcIssuer),
		"vpc_id":            cty.StringVal("vpc-0123456789abcdef0"),
		"subnet_ids":        ctyStrings("subnet-0123456789abcdef0", "subnet-0123456789abcdef1"),
		"cluster_cidrs":     ctyStrings("10.0.0.0/16", "100.64.0.0/16"),
	}
}

// operatorTemplate is the operator's default --hop-role-arn-template, as
// config/manager passes it; the Helm chart's default must be the same.
func operatorTemplate(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "config", "manager", "manager.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`--hop-role-arn-template=(\S+)`).FindSubmatch(b)
	if m == nil {
		t.Fatal("config/manager/manager.yaml passes no --hop-role-arn-template")
	}
	tmpl := string(m[1])
	var values struct {
		Tenants struct {
			HopRoleArnTemplate string `json:"hopRoleArnTemplate"`
		} `json:"tenants"`
	}
	vb, err := os.ReadFile(filepath.Join("..", "..", "deploy", "helm", "blue-operator", "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(vb, &values); err != nil {
		t.Fatal(err)
	}
	if values.Tenants.HopRoleArnTemplate != tmpl {
		t.Errorf("the Helm chart's tenants.hopRoleArnTemplate %q is not config/manager's %q", values.Tenants.HopRoleArnTemplate, tmpl)
	}
	return tmpl
}

// operatorServiceAccount is the ServiceAccount the operator's builders make
// for a tenant without spec.aws.hopRoleArn, under the default template.
func operatorServiceAccount(t *testing.T, tenant, tmpl string) *corev1ac.ServiceAccountApplyConfiguration {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "config", "samples", "blue_v1alpha1_bluetenant.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var bt bluev1.BlueTenant
	if err := yaml.Unmarshal(b, &bt); err != nil {
		t.Fatal(err)
	}
	bt.Name = tenant
	bt.Spec.AWS.HopRoleArn = "" // the template decides
	bt.Spec.Endpoint.Host = tenant + ".mcp.superviber.com"
	opts := controllers.DefaultOptions()
	opts.HopRoleARNTemplate = tmpl
	if err := opts.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, obj := range controllers.DesiredObjects(&bt, opts, "sha256:0") {
		if sa, ok := obj.(*corev1ac.ServiceAccountApplyConfiguration); ok {
			return sa
		}
	}
	t.Fatal("the operator builds no ServiceAccount")
	return nil
}

func TestPlatformDeclaresTheResources(t *testing.T) {
	m := loadPlatform(t)
	want := []string{
		"aws_iam_role.hop",
		"aws_iam_role_policy.hop",
		"aws_security_group.execute_api",
		"aws_vpc_endpoint.execute_api",
		"aws_vpc_security_group_ingress_rule.execute_api",
	}
	if got := m.resourceNames(); !slices.Equal(got, want) {
		t.Errorf("resources\n%v\nwant\n%v", got, want)
	}
	if len(m.terraform) != 1 {
		t.Fatalf("%d terraform blocks", len(m.terraform))
	}
	e := evaluate(t, m, platformVars(), platformCloud)
	aws := e.attr(e.block(m.terraform[0], "required_providers"), "aws")
	if aws.GetAttr("source").AsString() != "hashicorp/aws" || !strings.HasPrefix(aws.GetAttr("version").AsString(), ">= 6") {
		t.Errorf("required aws provider %#v, want hashicorp/aws >= 6", aws)
	}
}

// Each tenant's hop role is named by the one rule, is the role the
// operator's ServiceAccount for that tenant names (its default template,
// its builders), trusts only that ServiceAccount's tokens for STS, and may
// assume only that tenant's client role.
func TestPlatformHopRoles(t *testing.T) {
	e := evaluate(t, loadPlatform(t), platformVars(), platformCloud)
	tmpl := operatorTemplate(t)
	if got := e.output("hop_role_arn_template").AsString(); got != tmpl {
		t.Errorf("output hop_role_arn_template %q, want the operator's default %q", got, tmpl)
	}
	roles, policies := e.each("aws_iam_role", "hop"), e.each("aws_iam_role_policy", "hop")
	var names []string
	for name := range roles {
		names = append(names, name)
	}
	sort.Strings(names)
	var want []string
	for name := range platformTenants {
		want = append(want, name)
	}
	sort.Strings(want)
	if !slices.Equal(names, want) || len(policies) != len(roles) {
		t.Fatalf("hop roles %v and %d policies, want one each for %v", names, len(policies), want)
	}
	arns := stringMap(t, e.output("hop_role_arns"), "output.hop_role_arns")
	for _, tenant := range names {
		t.Run(tenant, func(t *testing.T) {
			sa := operatorServiceAccount(t, tenant, tmpl)
			irsa := sa.Annotations[controllers.AnnotationIRSA]
			role, pol := roles[tenant], policies[tenant]
			rb, pb := role.resource("aws_iam_role", "hop"), pol.resource("aws_iam_role_policy", "hop")
			if n := role.str(rb, "name"); n != "blue-hop-"+tenant {
				t.Errorf("hop role name %q, want blue-hop-%s", n, tenant)
			}
			arn := e.computed("aws_iam_role", "hop", `["`+tenant+`"]`, "arn")
			if arn != irsa || arns[tenant] != irsa {
				t.Errorf("hop role %s (output %s), but the operator's ServiceAccount names %s", arn, arns[tenant], irsa)
			}
			if d := role.number(rb, "max_session_duration"); d != 3600 {
				t.Errorf("max_session_duration %d", d)
			}
			for i, ok := range role.preconditions(rb) {
				if !ok {
					t.Errorf("precondition %d fails with the right provider", i)
				}
			}

			// Trust: exactly the tenant's ServiceAccount, exactly for STS.
			trust := statements(t, policyDoc{where: "trust", doc: role.jsonOf(rb, "assume_role_policy")})
			if len(trust) != 1 {
				t.Fatalf("%d trust statements, want 1", len(trust))
			}
			st := trust[0]
			subject := "system:serviceaccount:" + *sa.Namespace + ":" + *sa.Name
			wantCond := map[string]any{"StringEquals": map[string]any{
				oidcIssuer + ":sub": subject,
				oidcIssuer + ":aud": "sts.amazonaws.com",
			}}
			if st.Effect != "Allow" || !slices.Equal(st.Action, []string{"sts:AssumeRoleWithWebIdentity"}) ||
				len(st.Principal) != 1 || !slices.Equal(st.Principal["Federated"], []string{oidcProvider}) || st.Resource != nil {
				t.Errorf("trust statement %+v: want Allow sts:AssumeRoleWithWebIdentity by the cluster's OIDC provider only", st)
			}
			if pretty(st.Condition) != pretty(wantCond) {
				t.Errorf("trust condition\n%s\nwant exactly\n%s", pretty(st.Condition), pretty(wantCond))
			}
			if subject != "system:serviceaccount:blue-"+tenant+":blue-mcp" {
				t.Errorf("the operator's ServiceAccount is %s: the naming rule in docs/onboarding.md is out of date", subject)
			}

			// Permission: that tenant's client role, nothing else.
			if r := pol.str(pb, "role"); r != e.computed("aws_iam_role", "hop", `["`+tenant+`"]`, "id") {
				t.Errorf("policy attached to %q, not the tenant's hop role", r)
			}
			doc := policyDoc{where: "aws_iam_role_policy.hop[" + tenant + "]", doc: pol.jsonOf(pb, "policy")}
			perm := statements(t, doc)
			if len(perm) != 1 || perm[0].Effect != "Allow" || perm[0].Principal != nil || perm[0].Condition != nil ||
				!slices.Equal(perm[0].Action, []string{"sts:AssumeRole", "sts:SetSourceIdentity"}) ||
				!slices.Equal(perm[0].Resource, []string{platformTenants[tenant][0]}) {
				t.Errorf("hop role policy %s: want Allow sts:AssumeRole and sts:SetSourceIdentity on %s only", pretty(doc.doc), platformTenants[tenant][0])
			}
			for other, v := range platformTenants {
				if other != tenant && strings.Contains(pretty(doc.doc), v[0]) {
					t.Errorf("%s's hop role policy names %s's client role", tenant, other)
				}
			}
		})
	}
}

// A provider of another account, or for another issuer, fails the hop
// roles' precondition.
func TestPlatformRefusesAnotherOIDCProvider(t *testing.T) {
	m := loadPlatform(t)
	for _, provider := range []string{
		"arn:aws:iam::999999999999:oidc-provider/" + oidcIssuer,
		"arn:aws:iam::111111111111:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/OTHER",
	} {
		vars := platformVars()
		vars["oidc_provider_arn"] = cty.StringVal(provider)
		e := evaluate(t, m, vars, platformCloud)
		for name, in := range e.each("aws_iam_role", "hop") {
			if pcs := in.preconditions(in.resource("aws_iam_role", "hop")); !slices.Contains(pcs, false) {
				t.Errorf("provider %s: %s's hop role has no failing precondition", provider, name)
			}
		}
	}
}

// The endpoint: execute-api in the provider's region, an interface with
// private DNS in the given subnets, HTTPS from the cluster's CIDRs only, and
// a policy letting only the tenants' client roles invoke APIs of the
// clients' accounts.
func TestPlatformVPCEndpoint(t *testing.T) {
	e := evaluate(t, loadPlatform(t), platformVars(), platformCloud)
	ep := e.resource("aws_vpc_endpoint", "execute_api")
	if s := e.str(ep, "service_name"); s != "com.amazonaws.eu-west-1.execute-api" {
		t.Errorf("service %q", s)
	}
	if e.str(ep, "vpc_endpoint_type") != "Interface" || !e.boolean(ep, "private_dns_enabled") {
		t.Errorf("endpoint type %q private DNS %v: want an Interface endpoint with private DNS (API_ENDPOINT is the stage's own URL)",
			e.str(ep, "vpc_endpoint_type"), e.boolean(ep, "private_dns_enabled"))
	}
	if e.str(ep, "vpc_id") != "vpc-0123456789abcdef0" || !slices.Equal(e.strs(ep, "subnet_ids"), []string{"subnet-0123456789abcdef0", "subnet-0123456789abcdef1"}) {
		t.Errorf("endpoint in %s %v", e.str(ep, "vpc_id"), e.strs(ep, "subnet_ids"))
	}
	if sgs := e.strs(ep, "security_group_ids"); !slices.Equal(sgs, []string{platformCloud.sgID}) {
		t.Errorf("security groups %v, want only the module's", sgs)
	}
	if got := e.output("vpc_endpoint_id").AsString(); got != platformCloud.vpceID {
		t.Errorf("output vpc_endpoint_id %q, want the endpoint's id", got)
	}

	// Security group: no inline rules, no egress, 443/tcp from each CIDR.
	sg := e.resource("aws_security_group", "execute_api")
	if e.str(sg, "vpc_id") != "vpc-0123456789abcdef0" || has(sg, "ingress") || has(sg, "egress") || len(sg.Blocks) != 0 {
		t.Error("the security group has inline rules or is in another VPC")
	}
	rules := e.each("aws_vpc_security_group_ingress_rule", "execute_api")
	var cidrs []string
	for _, in := range rules {
		b := in.resource("aws_vpc_security_group_ingress_rule", "execute_api")
		cidrs = append(cidrs, in.str(b, "cidr_ipv4"))
		if in.str(b, "security_group_id") != platformCloud.sgID || in.str(b, "ip_protocol") != "tcp" ||
			in.number(b, "from_port") != 443 || in.number(b, "to_port") != 443 || has(b, "cidr_ipv6") || has(b, "referenced_security_group_id") {
			t.Errorf("ingress rule %s: want 443/tcp from it into the endpoint's group only", in.key)
		}
	}
	sort.Strings(cidrs)
	if !slices.Equal(cidrs, []string{"10.0.0.0/16", "100.64.0.0/16"}) {
		t.Errorf("ingress from %v, want the cluster's CIDRs", cidrs)
	}

	// Policy, by what it lets through.
	sts := statements(t, policyDoc{where: "endpoint policy", doc: e.jsonOf(ep, "policy")})
	for _, st := range sts {
		if !slices.Equal(st.Action, []string{"execute-api:Invoke"}) {
			t.Errorf("endpoint policy statement %s allows %v", st.Sid, st.Action)
		}
	}
	api := func(account string) string {
		return "arn:aws:execute-api:eu-west-1:" + account + ":a1b2c3d4e5/blue/GET/v1/rfc/documents"
	}
	for _, tc := range []struct {
		what, principal, resource string
		want                      bool
	}{
		{"acme's client role, acme's API", platformTenants["acme"][0], api("222222222222"), true},
		{"globex's client role, globex's API", platformTenants["globex"][0], api("333333333333"), true},
		{"acme's client role, an API of no client", platformTenants["acme"][0], api("444444444444"), false},
		{"another role of acme's account", "arn:aws:iam::222222222222:role/admin", api("222222222222"), false},
		{"a hop role itself", "arn:aws:iam::111111111111:role/blue-hop-acme", api("222222222222"), false},
	} {
		r := request{principal: tc.principal, action: "execute-api:Invoke", resource: tc.resource,
			context: map[string]string{"aws:PrincipalArn": tc.principal}}
		if got := allows(t, sts, r); got != tc.want {
			t.Errorf("%s: endpoint policy allows %v, want %v", tc.what, got, tc.want)
		}
	}
}

// The two modules meet: the client's trust policy names the platform's hop
// role for the tenant, the hop role's policy names the client module's
// role, and the client module takes the platform's endpoint id.
func TestPlatformAndClientAgree(t *testing.T) {
	platform := evaluate(t, loadPlatform(t), platformVars(), platformCloud)
	kit, err := onboard.Kit(apiOptions())
	if err != nil {
		t.Fatal(err)
	}
	client := evaluate(t, load(t), varsOf(t, kit), testCloud)
	hop := stringMap(t, platform.output("hop_role_arns"), "hop_role_arns")["acme"]
	trust := client.jsonOf(client.resource("aws_iam_role", "this"), "assume_role_policy")
	for i := range 2 {
		if got := dig(trust, "Statement", i, "Principal", "AWS"); got != hop {
			t.Errorf("the client role's trust statement %d names %v, the platform's hop role for acme is %s", i, got, hop)
		}
	}
	if got, want := client.output("role_arn").AsString(), platformTenants["acme"][0]; got != want {
		t.Errorf("the client module's role %s, the platform's tenants map says %s", got, want)
	}
	vpce := platform.output("vpc_endpoint_id").AsString()
	vars := varsOf(t, kit)
	vars["superviber_vpc_endpoint_id"] = cty.StringVal(vpce)
	if !validates(t, load(t), "superviber_vpc_endpoint_id", vars) {
		t.Errorf("the client module refuses the platform's endpoint id %s", vpce)
	}
	rp := client.jsonOf(client.resource("aws_api_gateway_rest_api_policy", "this"), "policy")
	if got := dig(rp, "Statement", 0, "Condition", "StringNotEquals", "aws:SourceVpce"); got != vpce {
		t.Errorf("the client API admits endpoint %v, the platform's is %s", got, vpce)
	}
}

// The variables refuse what cannot work.
func TestPlatformValidation(t *testing.T) {
	m := loadPlatform(t)
	long := strings.Repeat("a", 55)
	for _, tc := range []struct {
		variable string
		value    cty.Value
		ok       bool
	}{
		{"tenants", tenantsValue(platformTenants), true},
		{"tenants", tenantsValue(map[string][2]string{long: {"arn:aws:iam::222222222222:role/r", "222222222222"}}), true},
		{"tenants", tenantsValue(map[string][2]string{long + "a": {"arn:aws:iam::222222222222:role/r", "222222222222"}}), false},
		{"tenants", tenantsValue(map[string][2]string{"Acme": {"arn:aws:iam::222222222222:role/r", "222222222222"}}), false},
		{"tenants", tenantsValue(map[string][2]string{"acme-": {"arn:aws:iam::222222222222:role/r", "222222222222"}}), false},
		{"tenants", tenantsValue(map[string][2]string{"acme": {"arn:aws:iam::222222222222:user/r", "222222222222"}}), false},
		{"tenants", tenantsValue(map[string][2]string{"acme": {"arn:aws:iam::222222222222:root", "222222222222"}}), false},
		{"tenants", tenantsValue(map[string][2]string{"acme": {"arn:aws:iam::222222222222:role/*", "222222222222"}}), false},
		{"tenants", tenantsValue(map[string][2]string{"acme": {"arn:aws:iam::222222222222:role/r", "333333333333"}}), false},
		{"tenants", tenantsValue(map[string][2]string{"acme": {"arn:aws:iam::222222222222:role/r", "2222"}}), false},
		{"tenants", tenantsValue(nil), false},
		{"oidc_provider_arn", cty.StringVal(oidcProvider), true},
		{"oidc_provider_arn", cty.StringVal("arn:aws:iam::111111111111:role/x"), false},
		{"oidc_provider_arn", cty.StringVal("arn:aws:iam::111111111111:oidc-provider/*"), false},
		{"oidc_issuer", cty.StringVal(oidcIssuer), true},
		{"oidc_issuer", cty.StringVal("https://" + oidcIssuer), false},
		{"oidc_issuer", cty.StringVal(oidcIssuer + "/"), false},
		{"vpc_id", cty.StringVal("vpc-0123456789abcdef0"), true},
		{"vpc_id", cty.StringVal("vpce-0123456789abcdef0"), false},
		{"subnet_ids", ctyStrings("subnet-01234567"), true},
		{"subnet_ids", ctyStrings(), false},
		{"subnet_ids", ctyStrings("subnet-0123456789abcdef0", "sg-0123456789abcdef0"), false},
		{"cluster_cidrs", ctyStrings("10.0.0.0/16"), true},
		{"cluster_cidrs", ctyStrings("10.0.0.0/16", "192.168.0.0/24"), true},
		{"cluster_cidrs", ctyStrings(), false},
		{"cluster_cidrs", ctyStrings("0.0.0.0/0"), false},
		{"cluster_cidrs", ctyStrings("10.0.0.0"), false},
		{"cluster_cidrs", ctyStrings("10.0.0.300/16"), false},
		{"cluster_cidrs", ctyStrings("fd00::/8"), false},
	} {
		vars := platformVars()
		vars["tags"] = cty.MapValEmpty(cty.String)
		vars[tc.variable] = tc.value
		if got := validates(t, m, tc.variable, vars); got != tc.ok {
			t.Errorf("%s = %s: accepted %v, want %v", tc.variable, pretty(ctyJSON(t, tc.value)), got, tc.ok)
		}
	}
	for name, body := range m.variables {
		if name != "tags" && !slices.ContainsFunc(body.Blocks, func(b *hclsyntax.Block) bool { return b.Type == "validation" }) {
			t.Errorf("variable %s has no validation", name)
		}
	}
}

func ctyJSON(t *testing.T, v cty.Value) any {
	t.Helper()
	b, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, string(b))
}
