package controllers

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	bluev1 "github.com/superviber/blue-operator/api/v1alpha1"

	"github.com/superviber/blue-operator/api/contract"
)

// typed turns an apply configuration into the object it describes, so tests
// read plain fields.
func typed[T any](t *testing.T, ac any) *T {
	t.Helper()
	b, err := json.Marshal(ac)
	if err != nil {
		t.Fatal(err)
	}
	out := new(T)
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// testOpts are the operator flags the builder tests run with.
var testOpts = Options{
	DefaultImage:            "blue-mcp:test",
	HopRoleARNTemplate:      "arn:aws:iam::111111111111:role/blue-hop-{tenant}",
	IngressClassName:        "alb",
	IngressAnnotations:      map[string]string{"alb.ingress.kubernetes.io/group.name": "blue"},
	IngressNamespace:        "ingress-system",
	MetricsNamespace:        "monitoring",
	MaxConcurrentReconciles: 4,
}

// unitTenant is a valid BlueTenant with the defaults the API server would
// fill in; tests change what they need.
func unitTenant() *bluev1.BlueTenant {
	bt := &bluev1.BlueTenant{
		ObjectMeta: metav1.ObjectMeta{Name: "acme"},
		Spec: bluev1.BlueTenantSpec{
			DisplayName: "Test acme",
			Tier:        bluev1.TierSmall,
			Endpoint:    bluev1.EndpointSpec{Host: "acme.mcp.example.com", TLSSecretName: "acme-tls"},
			AWS:         bluev1.AWSSpec{Region: "eu-west-1", AccountID: "222222222222"},
			Infisical: bluev1.InfisicalSpec{
				ProjectID: "proj-acme",
				Auth:      bluev1.InfisicalAuth{Kubernetes: &bluev1.InfisicalKubernetesAuth{IdentityID: "id-acme"}},
			},
		},
	}
	bt.UID = "uid-acme"
	bt.Spec.Infisical.SiteURL = "https://app.infisical.com"
	bt.Spec.Infisical.Environment = "prod"
	bt.Spec.Infisical.SecretPath = "/blue"
	return bt
}

func TestDeploymentByTier(t *testing.T) {
	cases := []struct {
		name         string
		mutate       func(*bluev1.BlueTenant)
		replicas     int32
		sessions     string
		cpuLimit     string
		memLimit     string
		quotaPods    int64
		quotaMemLim  string
		pdb, spreads bool
	}{
		{"small", func(*bluev1.BlueTenant) {}, 1, "2", "500m", "128Mi", 2, "256Mi", false, false},
		{"medium", func(b *bluev1.BlueTenant) { b.Spec.Tier = bluev1.TierMedium }, 1, "10", "1", "256Mi", 2, "512Mi", false, false},
		{"enterprise", func(b *bluev1.BlueTenant) { b.Spec.Tier = bluev1.TierEnterprise }, 2, "0", "2", "512Mi", 3, "1536Mi", true, true},
		{"empty tier is small", func(b *bluev1.BlueTenant) { b.Spec.Tier = "" }, 1, "2", "500m", "128Mi", 2, "256Mi", false, false},
		{"replica override", func(b *bluev1.BlueTenant) { b.Spec.Replicas = ptr.To[int32](3) }, 3, "2", "500m", "128Mi", 4, "512Mi", true, true},
		{"suspended keeps quota", func(b *bluev1.BlueTenant) { b.Spec.Suspend = true }, 0, "2", "500m", "128Mi", 2, "256Mi", false, false},
		{"resource override", func(b *bluev1.BlueTenant) {
			b.Spec.Resources = &corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")}}
		}, 1, "2", "500m", "1Gi", 2, "2Gi", false, false},
		{"request above limit raises the limit", func(b *bluev1.BlueTenant) {
			b.Spec.Resources = &corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("750m")}}
		}, 1, "2", "750m", "128Mi", 2, "256Mi", false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bt := unitTenant()
			tc.mutate(bt)
			dep := typed[appsv1.Deployment](t, buildDeployment(bt, testOpts, "sha256:x"))
			c := dep.Spec.Template.Spec.Containers[0]
			if *dep.Spec.Replicas != tc.replicas {
				t.Errorf("replicas %d, want %d", *dep.Spec.Replicas, tc.replicas)
			}
			if got := envOf(c)[contract.EnvMaxSessions].Value; got != tc.sessions {
				t.Errorf("sessions %s, want %s", got, tc.sessions)
			}
			if got := c.Resources.Limits.Cpu().String(); got != tc.cpuLimit {
				t.Errorf("cpu limit %s, want %s", got, tc.cpuLimit)
			}
			if got := c.Resources.Limits.Memory().String(); got != tc.memLimit {
				t.Errorf("memory limit %s, want %s", got, tc.memLimit)
			}
			for name, req := range c.Resources.Requests {
				if lim := c.Resources.Limits[name]; req.Cmp(lim) > 0 {
					t.Errorf("%s request %s above limit %s", name, req.String(), lim.String())
				}
			}
			q := typed[corev1.ResourceQuota](t, buildResourceQuota(bt))
			if pods := q.Spec.Hard[corev1.ResourcePods]; pods.Value() != tc.quotaPods {
				t.Errorf("quota pods %s, want %d", pods.String(), tc.quotaPods)
			}
			if got := q.Spec.Hard["limits.memory"]; got.Cmp(resource.MustParse(tc.quotaMemLim)) != 0 {
				t.Errorf("quota limits.memory %s, want %s", got.String(), tc.quotaMemLim)
			}
			if pvc := q.Spec.Hard[corev1.ResourcePersistentVolumeClaims]; !pvc.IsZero() {
				t.Errorf("quota allows volumes")
			}
			if wantsPDB(bt) != tc.pdb {
				t.Errorf("PDB %v, want %v", wantsPDB(bt), tc.pdb)
			}
			if got := len(dep.Spec.Template.Spec.TopologySpreadConstraints) > 0; got != tc.spreads {
				t.Errorf("spread constraints %v, want %v", got, tc.spreads)
			}
			lr := typed[corev1.LimitRange](t, buildLimitRange(bt))
			if got := lr.Spec.Limits[0].Max.Memory().String(); got != tc.memLimit {
				t.Errorf("limit range max memory %s, want %s", got, tc.memLimit)
			}
		})
	}
}

func TestServerEnvByAuth(t *testing.T) {
	cases := []struct {
		name    string
		mutate  func(*bluev1.BlueTenant)
		want    map[string]string
		absent  []string
		secrets map[string]string // env -> secret/key
		volumes int
	}{
		{
			name:    "token auth, kubernetes login",
			mutate:  func(*bluev1.BlueTenant) {},
			want:    map[string]string{contract.EnvAuthMode: "token", contract.EnvTokenHashes: "sha256:x", contract.EnvInfisicalMethod: "kubernetes", contract.EnvInfisicalID: "id-acme", contract.EnvInfisicalToken: infisicalTokenDir + "/token", contract.EnvInfisicalPath: "/blue", "AWS_ROLE_ARN": "arn:aws:iam::111111111111:role/blue-hop-acme"},
			absent:  []string{contract.EnvOIDCIssuer, contract.EnvInfisicalCID},
			secrets: map[string]string{contract.EnvSessionKey: contract.SessionSecretName + "/" + contract.SessionSecretKey},
			volumes: 2,
		},
		{
			name: "oidc auth, universal login",
			mutate: func(b *bluev1.BlueTenant) {
				b.Spec.Auth = bluev1.AuthSpec{Mode: bluev1.AuthModeOIDC, OIDC: &bluev1.OIDCSpec{IssuerURL: "https://idp.acme.com"}}
				b.Spec.Infisical.Auth = bluev1.InfisicalAuth{UniversalAuth: &bluev1.InfisicalUniversalAuth{CredentialsSecretName: "acme-infisical"}}
			},
			want:    map[string]string{contract.EnvAuthMode: "oidc", contract.EnvOIDCIssuer: "https://idp.acme.com", contract.EnvOIDCAudience: "https://acme.mcp.example.com/mcp", contract.EnvInfisicalMethod: "universal"},
			absent:  []string{contract.EnvTokenHashes, contract.EnvInfisicalID, contract.EnvInfisicalToken, contract.EnvOIDCAllowedSubjects, contract.EnvOIDCAllowedGroups, contract.EnvOIDCAllowedEmailDomains},
			secrets: map[string]string{contract.EnvInfisicalCID: "acme-infisical/clientId", contract.EnvInfisicalSecret: "acme-infisical/clientSecret"},
			volumes: 1,
		},
		{
			name: "explicit hop role and oidc audience",
			mutate: func(b *bluev1.BlueTenant) {
				b.Spec.AWS.HopRoleArn = "arn:aws:iam::222222222222:role/custom"
				b.Spec.Auth = bluev1.AuthSpec{Mode: bluev1.AuthModeOIDC, OIDC: &bluev1.OIDCSpec{IssuerURL: "https://idp", Audience: "blue"}}
			},
			want:    map[string]string{"AWS_ROLE_ARN": "arn:aws:iam::222222222222:role/custom", contract.EnvOIDCAudience: "blue"},
			volumes: 2,
		},
		{
			name: "oidc allow-lists",
			mutate: func(b *bluev1.BlueTenant) {
				b.Spec.Auth = bluev1.AuthSpec{Mode: bluev1.AuthModeOIDC, OIDC: &bluev1.OIDCSpec{
					IssuerURL:           "https://idp.acme.com",
					AllowedSubjects:     []string{"auth0|1", "auth0|2"},
					AllowedGroups:       []string{"blue users"},
					AllowedEmailDomains: []string{"acme.com", "acme.co.uk"},
				}}
			},
			want: map[string]string{contract.EnvOIDCAllowedSubjects: "auth0|1,auth0|2", contract.EnvOIDCAllowedGroups: "blue users",
				contract.EnvOIDCAllowedEmailDomains: "acme.com,acme.co.uk"},
			volumes: 2,
		},
		{
			name: "one oidc allow-list, the others unset",
			mutate: func(b *bluev1.BlueTenant) {
				b.Spec.Auth = bluev1.AuthSpec{Mode: bluev1.AuthModeOIDC, OIDC: &bluev1.OIDCSpec{IssuerURL: "https://idp.acme.com", AllowedGroups: []string{"blue"}}}
			},
			want:    map[string]string{contract.EnvOIDCAllowedGroups: "blue"},
			absent:  []string{contract.EnvOIDCAllowedSubjects, contract.EnvOIDCAllowedEmailDomains},
			volumes: 2,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bt := unitTenant()
			tc.mutate(bt)
			dep := typed[appsv1.Deployment](t, buildDeployment(bt, testOpts, "sha256:x"))
			env := envOf(dep.Spec.Template.Spec.Containers[0])
			for k, v := range tc.want {
				if env[k].Value != v {
					t.Errorf("%s=%q, want %q", k, env[k].Value, v)
				}
			}
			for _, k := range tc.absent {
				if _, ok := env[k]; ok {
					t.Errorf("%s set, want absent", k)
				}
			}
			if ref := env["GOMEMLIMIT"].ValueFrom; ref == nil || ref.ResourceFieldRef == nil || ref.ResourceFieldRef.Resource != "limits.memory" || ref.ResourceFieldRef.ContainerName != ServerName {
				t.Errorf("GOMEMLIMIT: %+v", env["GOMEMLIMIT"])
			}
			for k, ref := range tc.secrets {
				sel := env[k].ValueFrom
				if sel == nil || sel.SecretKeyRef == nil || sel.SecretKeyRef.Name+"/"+sel.SecretKeyRef.Key != ref || env[k].Value != "" {
					t.Errorf("%s: want a reference to %s, got %+v", k, ref, env[k])
				}
			}
			if got := len(dep.Spec.Template.Spec.Volumes); got != tc.volumes {
				t.Errorf("%d volumes, want %d", got, tc.volumes)
			}
			for _, v := range dep.Spec.Template.Spec.Volumes {
				if v.Projected == nil || v.Projected.Sources[0].ServiceAccountToken == nil {
					t.Errorf("volume %s is not a projected token: the pod writes nothing to disk", v.Name)
				}
			}
			if dep.Spec.Template.Spec.Volumes[0].Projected.Sources[0].ServiceAccountToken.Audience != "sts.amazonaws.com" {
				t.Errorf("IRSA token audience is not sts.amazonaws.com")
			}
		})
	}
}

func TestConfigHashFollowsConfig(t *testing.T) {
	hash := func(mutate func(*bluev1.BlueTenant), hashes string) string {
		bt := unitTenant()
		mutate(bt)
		return typed[appsv1.Deployment](t, buildDeployment(bt, testOpts, hashes)).Spec.Template.Annotations[AnnotationConfig]
	}
	base := hash(func(*bluev1.BlueTenant) {}, "sha256:a")
	if again := hash(func(*bluev1.BlueTenant) {}, "sha256:a"); again != base {
		t.Fatalf("hash is not stable: %s vs %s", base, again)
	}
	for name, h := range map[string]string{
		"token rotated": hash(func(*bluev1.BlueTenant) {}, "sha256:b"),
		"tier":          hash(func(b *bluev1.BlueTenant) { b.Spec.Tier = bluev1.TierMedium }, "sha256:a"),
		"image":         hash(func(b *bluev1.BlueTenant) { b.Spec.Image = "blue-mcp:v2" }, "sha256:a"),
		"secret path":   hash(func(b *bluev1.BlueTenant) { b.Spec.Infisical.SecretPath = "/other" }, "sha256:a"),
	} {
		if h == base {
			t.Errorf("%s did not change the config hash", name)
		}
	}
	// Narrowing who may call rolls the pods too.
	oidc := func(groups ...string) func(*bluev1.BlueTenant) {
		return func(b *bluev1.BlueTenant) {
			b.Spec.Auth = bluev1.AuthSpec{Mode: bluev1.AuthModeOIDC, OIDC: &bluev1.OIDCSpec{IssuerURL: "https://idp", AllowedGroups: groups}}
		}
	}
	if open, narrowed := hash(oidc(), "sha256:a"), hash(oidc("blue"), "sha256:a"); open == narrowed {
		t.Errorf("an OIDC allow-list did not change the config hash")
	}
}

func TestTokenHashesAreSortedAndSkipEmpty(t *testing.T) {
	got := tokenHashes(map[string][]byte{"b": []byte("two"), "a": []byte("one\n"), "empty": []byte("  ")})
	want := []string{contract.TokenHash("one"), contract.TokenHash("two")}
	if want[0] > want[1] {
		want[0], want[1] = want[1], want[0]
	}
	if got != strings.Join(want, ",") {
		t.Errorf("got %q, want %q", got, strings.Join(want, ","))
	}
	tok, err := newToken()
	if err != nil || !strings.HasPrefix(tok, "blue_") || len(tok) != len("blue_")+43 {
		t.Errorf("token %q, %v", tok, err)
	}
	if other, _ := newToken(); other == tok {
		t.Errorf("two tokens alike")
	}
}

func TestNetworkPolicyAdmitsOnlyConfiguredPeers(t *testing.T) {
	cases := []struct {
		name      string
		opts      func(*Options)
		httpPeers int
		cidr      string
		metrics   bool
	}{
		{"ingress namespace and scraper", func(*Options) {}, 1, "", true},
		{"plus ALB CIDR", func(o *Options) { o.IngressCIDRs = []string{"10.0.0.0/16"} }, 2, "10.0.0.0/16", true},
		{"no scraper", func(o *Options) { o.MetricsNamespace = "" }, 1, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := testOpts
			tc.opts(&o)
			np := typed[networkingv1.NetworkPolicy](t, buildNetworkPolicy(unitTenant(), o, nil))
			http := np.Spec.Ingress[0]
			if len(http.From) != tc.httpPeers || http.Ports[0].Port.IntVal != contract.PortHTTP {
				t.Errorf("MCP port rule %+v", http)
			}
			if http.From[0].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != o.IngressNamespace {
				t.Errorf("MCP port open to %+v", http.From[0])
			}
			if tc.cidr != "" && http.From[1].IPBlock.CIDR != tc.cidr {
				t.Errorf("CIDR peer %+v", http.From[1])
			}
			if got := len(np.Spec.Ingress) == 2; got != tc.metrics {
				t.Errorf("metrics rule present %v, want %v", got, tc.metrics)
			}
			var egressPorts []int32
			for i, r := range np.Spec.Egress {
				// DNS anywhere; HTTPS anywhere but the denied addresses
				// (TestEgressPeers).
				if wantPeers := map[int]int{0: 0, 1: 2}[i]; len(r.To) != wantPeers {
					t.Errorf("egress rule %d has %d peers, want %d: %+v", i, len(r.To), wantPeers, r)
				}
				for _, p := range r.Ports {
					egressPorts = append(egressPorts, p.Port.IntVal)
				}
			}
			if len(egressPorts) != 3 || egressPorts[0] != 53 || egressPorts[1] != 53 || egressPorts[2] != 443 {
				t.Errorf("egress ports %v, want DNS (udp, tcp) and 443", egressPorts)
			}
		})
	}
}

func TestIngressAndService(t *testing.T) {
	bt := unitTenant()
	ing := typed[networkingv1.Ingress](t, buildIngress(bt, testOpts))
	if ing.Spec.Rules[0].Host != "acme.mcp.example.com" || ing.Spec.TLS[0].SecretName != "acme-tls" ||
		ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Port.Name != "http" {
		t.Errorf("ingress %+v", ing.Spec)
	}
	bt.Spec.Endpoint.TLSSecretName = ""
	o := testOpts
	o.IngressAnnotations = nil
	o.IngressClassName = ""
	ing = typed[networkingv1.Ingress](t, buildIngress(bt, o))
	if len(ing.Spec.TLS) != 0 || ing.Spec.IngressClassName != nil || len(ing.Annotations) != 0 {
		t.Errorf("ingress without TLS secret or class: %+v", ing)
	}
	svc := typed[corev1.Service](t, buildService(bt))
	if svc.Spec.Type != corev1.ServiceTypeClusterIP || svc.Spec.Selector[LabelTenant] != "acme" || len(svc.Spec.Ports) != 2 {
		t.Errorf("service %+v", svc.Spec)
	}
}

func TestOptionsValidate(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Options)
		want   string
	}{
		{"defaults", func(*Options) {}, ""},
		{"no image", func(o *Options) { o.DefaultImage = "" }, "--default-image"},
		{"template without placeholder", func(o *Options) { o.HopRoleARNTemplate = "arn:aws:iam::1:role/x" }, "{tenant}"},
		{"bad cidr", func(o *Options) { o.IngressCIDRs = []string{"10.0.0.0/33"} }, "--ingress-cidr"},
		{"bad denied cidr", func(o *Options) { o.EgressDeniedCIDRs = []string{"10.0.0.7"} }, "--egress-denied-cidr"},
		{"denied cidr of a whole family", func(o *Options) { o.EgressDeniedCIDRs = []string{"::/0"} }, "would deny all HTTPS egress"},
		{"denied cidr IPv4-mapped", func(o *Options) { o.EgressDeniedCIDRs = []string{"::ffff:10.0.0.0/104"} }, "as IPv4"},
		{"denied cidr", func(o *Options) { o.EgressDeniedCIDRs = []string{"10.0.0.0/16", "fd00::/8"} }, ""},
		{"nothing may reach the server", func(o *Options) { o.IngressNamespace = "" }, "--ingress-namespace"},
		{"cidr instead of namespace", func(o *Options) { o.IngressNamespace = ""; o.IngressCIDRs = []string{"10.0.0.0/8"} }, ""},
		{"zero workers", func(o *Options) { o.MaxConcurrentReconciles = 0 }, "--max-concurrent-reconciles"},
		{"AWS endpoints", func(o *Options) {
			o.AWSEndpoints = AWSEndpoints{STS: "https://vpce-1.sts.{region}.vpce.amazonaws.com", S3: "https://bucket.vpce-2.s3.eu-west-1.vpce.amazonaws.com:443", DynamoDB: "http://10.0.0.5:443"}
		}, ""},
		{"AWS endpoint on a port the pods may not send to", func(o *Options) { o.AWSEndpoints.DynamoDB = "https://10.0.0.5:8000" }, "port 443"},
		{"plain http AWS endpoint on port 80", func(o *Options) { o.AWSEndpoints.STS = "http://sts.internal" }, "port 443"},
		{"Infisical refresh under a second", func(o *Options) { o.InfisicalRefresh = 500 * time.Millisecond }, "--tenant-infisical-refresh"},
		{"access check under a second", func(o *Options) { o.AccessCheckInterval = time.Millisecond }, "--tenant-access-check-interval"},
		{"Infisical refresh beyond the grace period", func(o *Options) { o.InfisicalRefresh = 6 * time.Minute }, "at most 5m0s"},
		{"server intervals", func(o *Options) { o.InfisicalRefresh, o.AccessCheckInterval = 5*time.Second, time.Minute }, ""},
		{"AWS endpoint without a host", func(o *Options) { o.AWSEndpoints.S3 = "https://:443" }, "no host"},
		{"AWS endpoint without scheme", func(o *Options) { o.AWSEndpoints.STS = "sts.eu-west-1.amazonaws.com" }, "--aws-sts-endpoint"},
		{"AWS endpoint with credentials", func(o *Options) { o.AWSEndpoints.S3 = "https://u:p@s3.example" }, "--aws-s3-endpoint"},
		{"AWS endpoint with a query", func(o *Options) { o.AWSEndpoints.DynamoDB = "https://ddb.example/?x=1" }, "--aws-dynamodb-endpoint"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := DefaultOptions()
			tc.mutate(&o)
			err := o.Validate()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Validate() = %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := ParseAnnotations([]string{"novalue"}); err == nil {
		t.Errorf("annotation without = accepted")
	}
	got, err := ParseAnnotations([]string{"a=b=c", "x="})
	if err != nil || got["a"] != "b=c" || got["x"] != "" {
		t.Errorf("ParseAnnotations: %v %v", got, err)
	}
}

// envOf indexes a container's environment by name.
func envOf(c corev1.Container) map[string]corev1.EnvVar {
	out := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		out[e.Name] = e
	}
	return out
}

// The operator's AWS endpoints and server intervals reach every tenant's
// server, and a tenant's Infisical and API CAs only its own; unset, the
// environment names none of them (and existing Deployments keep their hash).
func TestServerEnvEndpointsAndCAs(t *testing.T) {
	names := []string{contract.EnvSTSEndpoint, contract.EnvS3Endpoint, contract.EnvDynamoDBEndpoint, contract.EnvInfisicalCA, contract.EnvAPICA,
		contract.EnvInfisicalRefresh, contract.EnvAccessCheckInterval}
	plain := envOf(typed[appsv1.Deployment](t, buildDeployment(unitTenant(), testOpts, "sha256:x")).Spec.Template.Spec.Containers[0])
	for _, n := range names {
		if _, ok := plain[n]; ok {
			t.Errorf("%s set without being configured", n)
		}
	}
	o := testOpts
	o.AWSEndpoints = AWSEndpoints{STS: "https://sts.{region}.vpce", S3: "https://s3.vpce", DynamoDB: "https://ddb.vpce"}
	o.InfisicalRefresh, o.AccessCheckInterval = 5*time.Second, 90*time.Second
	bt := unitTenant()
	bt.Spec.Infisical.CABundle = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
	bt.Spec.AWS.APICABundle = "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n"
	env := envOf(typed[appsv1.Deployment](t, buildDeployment(bt, o, "sha256:x")).Spec.Template.Spec.Containers[0])
	for n, want := range map[string]string{
		contract.EnvSTSEndpoint: "https://sts." + bt.Spec.AWS.Region + ".vpce", contract.EnvS3Endpoint: "https://s3.vpce", contract.EnvDynamoDBEndpoint: "https://ddb.vpce",
		contract.EnvInfisicalCA:      bt.Spec.Infisical.CABundle,
		contract.EnvAPICA:            bt.Spec.AWS.APICABundle,
		contract.EnvInfisicalRefresh: "5s", contract.EnvAccessCheckInterval: "1m30s",
	} {
		if got := env[n].Value; got != want {
			t.Errorf("%s = %q, want %q", n, got, want)
		}
	}
}

// The token the pod shows Infisical has an audience of its own, so it is no
// use to the API server (test/controllers proves the API server refuses it).
func TestInfisicalTokenHasItsOwnAudience(t *testing.T) {
	for _, tc := range []struct{ set, want string }{{"", contract.InfisicalAudience}, {"https://infisical.acme.com", "https://infisical.acme.com"}} {
		bt := unitTenant()
		bt.Spec.Infisical.Auth.Kubernetes.Audience = tc.set
		dep := typed[appsv1.Deployment](t, buildDeployment(bt, testOpts, "sha256:x"))
		found := false
		for _, v := range dep.Spec.Template.Spec.Volumes {
			if v.Name == "infisical-token" {
				found = true
				if aud := v.Projected.Sources[0].ServiceAccountToken.Audience; aud != tc.want {
					t.Errorf("audience %q set: token for %q, want %q", tc.set, aud, tc.want)
				}
			}
		}
		if !found {
			t.Fatal("no infisical-token volume")
		}
	}
}
