package controllers

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	netv1ac "k8s.io/client-go/applyconfigurations/networking/v1"
	policyv1ac "k8s.io/client-go/applyconfigurations/policy/v1"

	"github.com/superviber/blue-operator/api/contract"
	bluev1 "github.com/superviber/blue-operator/api/v1alpha1"
)

// Every builder here is pure: a tenant (and operator options) in, an apply
// configuration out. The reconciler applies them; unit tests check them.

const (
	// IRSA: the same variables EKS's pod identity webhook sets, so the AWS
	// SDK's default chain finds the hop role with or without the webhook.
	awsTokenDir       = "/var/run/secrets/eks.amazonaws.com/serviceaccount"
	infisicalTokenDir = "/var/run/secrets/infisical"
)

func ownerRef(t *bluev1.BlueTenant) *metav1ac.OwnerReferenceApplyConfiguration {
	return metav1ac.OwnerReference().
		WithAPIVersion(bluev1.GroupVersion.String()).
		WithKind("BlueTenant").
		WithName(t.Name).
		WithUID(t.UID).
		WithController(true).
		WithBlockOwnerDeletion(true)
}

// buildNamespace is the tenant namespace, enforcing the restricted Pod
// Security Standard.
func buildNamespace(t *bluev1.BlueTenant) *corev1ac.NamespaceApplyConfiguration {
	labels := tenantLabels(t.Name)
	for _, mode := range []string{"enforce", "audit", "warn"} {
		labels["pod-security.kubernetes.io/"+mode] = "restricted"
		labels["pod-security.kubernetes.io/"+mode+"-version"] = "latest"
	}
	return corev1ac.Namespace(NamespaceFor(t.Name)).
		WithLabels(labels).
		WithOwnerReferences(ownerRef(t))
}

// hopRoleARN is the IRSA role of the tenant's pod; "" when neither the spec
// nor the operator's template gives one.
func hopRoleARN(t *bluev1.BlueTenant, o Options) string {
	if t.Spec.AWS.HopRoleArn != "" {
		return t.Spec.AWS.HopRoleArn
	}
	if o.HopRoleARNTemplate == "" {
		return ""
	}
	return strings.ReplaceAll(o.HopRoleARNTemplate, "{tenant}", t.Name)
}

// buildServiceAccount is the pod's identity: IRSA-annotated, no automounted
// API token (the pod gets only audience-bound projected tokens).
func buildServiceAccount(t *bluev1.BlueTenant, o Options) *corev1ac.ServiceAccountApplyConfiguration {
	return corev1ac.ServiceAccount(ServerName, NamespaceFor(t.Name)).
		WithLabels(tenantLabels(t.Name)).
		WithAnnotations(map[string]string{AnnotationIRSA: hopRoleARN(t, o)}).
		WithOwnerReferences(ownerRef(t)).
		WithAutomountServiceAccountToken(false)
}

// buildTokenSecret is the Secret holding the endpoint's API tokens. It is
// created once and never overwritten: the platform team may add keys (one
// token each) to rotate, and remove old ones.
func buildTokenSecret(t *bluev1.BlueTenant, token string) *corev1.Secret {
	return buildGeneratedSecret(t, TokenSecretName, map[string]string{"token": token})
}

// buildSessionSecret holds the key that signs the server's MCP session ids,
// so every replica, and a restarted one, knows the ids the tenant's servers
// issued. Like the token Secret it is made once and never overwritten.
func buildSessionSecret(t *bluev1.BlueTenant, key string) *corev1.Secret {
	return buildGeneratedSecret(t, contract.SessionSecretName, map[string]string{contract.SessionSecretKey: key})
}

// buildExternalIDSecret holds the tenant's issued ExternalId. Made once and
// never overwritten: the client's trust policy names it.
func buildExternalIDSecret(t *bluev1.BlueTenant, id string) *corev1.Secret {
	return buildGeneratedSecret(t, contract.ExternalIDSecretName, map[string]string{contract.ExternalIDSecretKey: id})
}

// buildGeneratedSecret is a Secret of values the operator generated, owned by
// the tenant. It is created, not applied: nobody's later edit is reverted.
func buildGeneratedSecret(t *bluev1.BlueTenant, name string, data map[string]string) *corev1.Secret {
	s := &corev1.Secret{}
	s.Name = name
	s.Namespace = NamespaceFor(t.Name)
	s.Labels = tenantLabels(t.Name)
	s.Type = corev1.SecretTypeOpaque
	s.StringData = data
	ctrl, block := true, true
	s.OwnerReferences = []metav1.OwnerReference{{
		APIVersion: bluev1.GroupVersion.String(), Kind: "BlueTenant", Name: t.Name, UID: t.UID,
		Controller: &ctrl, BlockOwnerDeletion: &block,
	}}
	return s
}

// tokenHashes hashes every value of the token Secret, sorted so the result
// (and the pod template) is stable.
func tokenHashes(data map[string][]byte) string {
	hashes := make([]string, 0, len(data))
	for _, v := range data {
		tok := strings.TrimSpace(string(v))
		if tok != "" {
			hashes = append(hashes, contract.TokenHash(tok))
		}
	}
	sort.Strings(hashes)
	return strings.Join(hashes, ",")
}

func envVar(name, value string) *corev1ac.EnvVarApplyConfiguration {
	return corev1ac.EnvVar().WithName(name).WithValue(value)
}

func secretEnv(name, secret, key string) *corev1ac.EnvVarApplyConfiguration {
	return corev1ac.EnvVar().WithName(name).WithValueFrom(corev1ac.EnvVarSource().
		WithSecretKeyRef(corev1ac.SecretKeySelector().WithName(secret).WithKey(key)))
}

// serverEnv is the server's whole configuration. Secrets appear only as
// references (universal-auth credentials) or hashes (API tokens).
func serverEnv(t *bluev1.BlueTenant, o Options, e effective, hashes string) []*corev1ac.EnvVarApplyConfiguration {
	inf := t.Spec.Infisical
	env := []*corev1ac.EnvVarApplyConfiguration{
		envVar(contract.EnvTenant, t.Name),
		envVar(contract.EnvTier, string(tierOf(t))),
		envVar(contract.EnvMaxSessions, strconv.Itoa(int(e.MaxSessions))),
		envVar(contract.EnvListenAddr, contract.ListenAddr),
		envVar(contract.EnvMetricsAddr, contract.MetricsAddr),
		envVar(contract.EnvPublicURL, EndpointURL(t)),
		secretEnv(contract.EnvSessionKey, contract.SessionSecretName, contract.SessionSecretKey),
		secretEnv(contract.EnvExternalID, contract.ExternalIDSecretName, contract.ExternalIDSecretKey),
		envVar("AWS_REGION", t.Spec.AWS.Region),
		envVar(contract.EnvClientAccount, t.Spec.AWS.AccountID),
		envVar("AWS_DEFAULT_REGION", t.Spec.AWS.Region),
		envVar("AWS_STS_REGIONAL_ENDPOINTS", "regional"),
		envVar("AWS_ROLE_ARN", hopRoleARN(t, o)),
		envVar("AWS_WEB_IDENTITY_TOKEN_FILE", awsTokenDir+"/token"),
		envVar(contract.EnvInfisicalSite, inf.SiteURL),
		envVar(contract.EnvInfisicalProj, inf.ProjectID),
		envVar(contract.EnvInfisicalEnv, inf.Environment),
		envVar(contract.EnvInfisicalPath, inf.SecretPath),
	}
	if inf.CABundle != "" {
		env = append(env, envVar(contract.EnvInfisicalCA, inf.CABundle))
	}
	if ca := t.Spec.AWS.APICABundle; ca != "" {
		env = append(env, envVar(contract.EnvAPICA, ca))
	}
	// The operator's AWS endpoints, the same for every tenant: only the
	// platform chooses where the pods' AWS calls go, never a BlueTenant.
	for _, ep := range o.AWSEndpoints.list() {
		if ep.url != "" {
			env = append(env, envVar(ep.env, strings.ReplaceAll(ep.url, RegionPlaceholder, t.Spec.AWS.Region)))
		}
	}
	switch {
	case inf.Auth.Kubernetes != nil:
		env = append(env,
			envVar(contract.EnvInfisicalMethod, "kubernetes"),
			envVar(contract.EnvInfisicalID, inf.Auth.Kubernetes.IdentityID),
			envVar(contract.EnvInfisicalToken, infisicalTokenDir+"/token"))
	case inf.Auth.UniversalAuth != nil:
		name := inf.Auth.UniversalAuth.CredentialsSecretName
		env = append(env,
			envVar(contract.EnvInfisicalMethod, "universal"),
			secretEnv(contract.EnvInfisicalCID, name, "clientId"),
			secretEnv(contract.EnvInfisicalSecret, name, "clientSecret"))
	}
	if t.Spec.Auth.Mode == bluev1.AuthModeOIDC && t.Spec.Auth.OIDC != nil {
		aud := t.Spec.Auth.OIDC.Audience
		if aud == "" {
			aud = EndpointURL(t)
		}
		env = append(env,
			envVar(contract.EnvAuthMode, string(bluev1.AuthModeOIDC)),
			envVar(contract.EnvOIDCIssuer, t.Spec.Auth.OIDC.IssuerURL),
			envVar(contract.EnvOIDCAudience, aud))
		// The allow-lists only when set (in a fixed order: the env is hashed):
		// an absent one admits any caller the identity provider vouches for.
		for _, l := range []struct {
			name string
			list []string
		}{
			{contract.EnvOIDCAllowedSubjects, t.Spec.Auth.OIDC.AllowedSubjects},
			{contract.EnvOIDCAllowedGroups, t.Spec.Auth.OIDC.AllowedGroups},
			{contract.EnvOIDCAllowedEmailDomains, t.Spec.Auth.OIDC.AllowedEmailDomains},
		} {
			if len(l.list) > 0 {
				env = append(env, envVar(l.name, strings.Join(l.list, ",")))
			}
		}
	} else {
		env = append(env, envVar(contract.EnvAuthMode, string(bluev1.AuthModeToken)), envVar(contract.EnvTokenHashes, hashes))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{contract.EnvInfisicalRefresh, o.InfisicalRefresh}, {contract.EnvAccessCheckInterval, o.AccessCheckInterval}} {
		if d.v > 0 {
			env = append(env, envVar(d.name, d.v.String()))
		}
	}
	// Let the Go runtime see the memory limit, so it collects before the
	// kernel kills.
	env = append(env, corev1ac.EnvVar().WithName("GOMEMLIMIT").WithValueFrom(corev1ac.EnvVarSource().
		WithResourceFieldRef(corev1ac.ResourceFieldSelector().WithContainerName(ServerName).WithResource("limits.memory"))))
	return env
}

func tierOf(t *bluev1.BlueTenant) bluev1.Tier {
	if t.Spec.Tier == "" {
		return bluev1.TierSmall
	}
	return t.Spec.Tier
}

func imageOf(t *bluev1.BlueTenant, o Options) string {
	if t.Spec.Image != "" {
		return t.Spec.Image
	}
	return o.DefaultImage
}

func projectedToken(name, audience string, seconds int64) *corev1ac.VolumeApplyConfiguration {
	tok := corev1ac.ServiceAccountTokenProjection().WithPath("token").WithExpirationSeconds(seconds)
	if audience != "" {
		tok = tok.WithAudience(audience)
	}
	return corev1ac.Volume().WithName(name).WithProjected(corev1ac.ProjectedVolumeSource().
		WithSources(corev1ac.VolumeProjection().WithServiceAccountToken(tok)))
}

func httpProbe(path string, period, failures int32) *corev1ac.ProbeApplyConfiguration {
	return corev1ac.Probe().
		WithHTTPGet(corev1ac.HTTPGetAction().WithPath(path).WithPort(intstr.FromString("http"))).
		WithPeriodSeconds(period).WithFailureThreshold(failures).WithTimeoutSeconds(2)
}

// buildDeployment is the tenant's MCP server: one hardened container, no
// sidecars, nothing writable on disk.
func buildDeployment(t *bluev1.BlueTenant, o Options, hashes string) *appsv1ac.DeploymentApplyConfiguration {
	e := effectiveFor(t)
	ns := NamespaceFor(t.Name)
	nonRoot := int64(65532)

	volumes := []*corev1ac.VolumeApplyConfiguration{projectedToken("aws-iam-token", "sts.amazonaws.com", 86400)}
	mounts := []*corev1ac.VolumeMountApplyConfiguration{
		corev1ac.VolumeMount().WithName("aws-iam-token").WithMountPath(awsTokenDir).WithReadOnly(true),
	}
	if k := t.Spec.Infisical.Auth.Kubernetes; k != nil {
		aud := k.Audience
		if aud == "" {
			aud = contract.InfisicalAudience
		}
		volumes = append(volumes, projectedToken("infisical-token", aud, 3600))
		mounts = append(mounts, corev1ac.VolumeMount().WithName("infisical-token").WithMountPath(infisicalTokenDir).WithReadOnly(true))
	}

	container := corev1ac.Container().
		WithName(ServerName).
		WithImage(imageOf(t, o)).
		WithImagePullPolicy(corev1.PullIfNotPresent).
		WithPorts(
			corev1ac.ContainerPort().WithName("http").WithContainerPort(contract.PortHTTP).WithProtocol(corev1.ProtocolTCP),
			corev1ac.ContainerPort().WithName("metrics").WithContainerPort(contract.PortMetrics).WithProtocol(corev1.ProtocolTCP),
		).
		WithEnv(serverEnv(t, o, e, hashes)...).
		WithResources(corev1ac.ResourceRequirements().WithRequests(e.Requests).WithLimits(e.Limits)).
		WithVolumeMounts(mounts...).
		WithReadinessProbe(httpProbe("/readyz", 5, 2)).
		WithLivenessProbe(httpProbe("/healthz", 10, 3)).
		WithSecurityContext(corev1ac.SecurityContext().
			WithRunAsNonRoot(true).
			WithRunAsUser(nonRoot).
			WithRunAsGroup(nonRoot).
			WithAllowPrivilegeEscalation(false).
			WithReadOnlyRootFilesystem(true).
			WithPrivileged(false).
			WithCapabilities(corev1ac.Capabilities().WithDrop("ALL")).
			WithSeccompProfile(corev1ac.SeccompProfile().WithType(corev1.SeccompProfileTypeRuntimeDefault)))

	pod := corev1ac.PodSpec().
		WithServiceAccountName(ServerName).
		WithAutomountServiceAccountToken(false).
		WithEnableServiceLinks(false).
		WithTerminationGracePeriodSeconds(30).
		WithSecurityContext(corev1ac.PodSecurityContext().
			WithRunAsNonRoot(true).
			WithRunAsUser(nonRoot).
			WithRunAsGroup(nonRoot).
			WithFSGroup(nonRoot). // projected tokens readable by the non-root user
			WithSeccompProfile(corev1ac.SeccompProfile().WithType(corev1.SeccompProfileTypeRuntimeDefault))).
		WithVolumes(volumes...).
		WithContainers(container)
	if e.Replicas > 1 {
		// Spread replicas over nodes so one node's loss keeps the endpoint up.
		pod = pod.WithTopologySpreadConstraints(corev1ac.TopologySpreadConstraint().
			WithMaxSkew(1).
			WithTopologyKey("kubernetes.io/hostname").
			WithWhenUnsatisfiable(corev1.ScheduleAnyway).
			WithLabelSelector(metav1ac.LabelSelector().WithMatchLabels(podLabels(t.Name))))
	}

	template := corev1ac.PodTemplateSpec().
		WithLabels(podLabels(t.Name)).
		WithSpec(pod)
	template = template.WithAnnotations(map[string]string{AnnotationConfig: configHash(template)})

	return appsv1ac.Deployment(ServerName, ns).
		WithLabels(tenantLabels(t.Name)).
		WithOwnerReferences(ownerRef(t)).
		WithSpec(appsv1ac.DeploymentSpec().
			WithReplicas(e.Running).
			WithRevisionHistoryLimit(3).
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(podLabels(t.Name))).
			WithStrategy(appsv1ac.DeploymentStrategy().
				WithType("RollingUpdate").
				WithRollingUpdate(appsv1ac.RollingUpdateDeployment().
					WithMaxSurge(intstr.FromInt32(1)).
					WithMaxUnavailable(intstr.FromInt32(0)))).
			WithTemplate(template))
}

// configHash names the server configuration a pod runs, so `kubectl get
// pods -o yaml` shows at a glance which pods run the same settings.
func configHash(tpl *corev1ac.PodTemplateSpecApplyConfiguration) string {
	b, err := json.Marshal(tpl)
	if err != nil {
		// Apply configurations are plain data; this cannot fail.
		return "unhashable"
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// buildService fronts the server pods inside the cluster.
func buildService(t *bluev1.BlueTenant) *corev1ac.ServiceApplyConfiguration {
	return corev1ac.Service(ServerName, NamespaceFor(t.Name)).
		WithLabels(tenantLabels(t.Name)).
		WithOwnerReferences(ownerRef(t)).
		WithSpec(corev1ac.ServiceSpec().
			WithType(corev1.ServiceTypeClusterIP).
			WithSelector(podLabels(t.Name)).
			WithPorts(
				corev1ac.ServicePort().WithName("http").WithPort(80).WithTargetPort(intstr.FromString("http")).WithProtocol(corev1.ProtocolTCP),
				corev1ac.ServicePort().WithName("metrics").WithPort(contract.PortMetrics).WithTargetPort(intstr.FromString("metrics")).WithProtocol(corev1.ProtocolTCP),
			))
}

// buildIngress publishes the endpoint host. Class and annotations come from
// the operator so every tenant can share one load balancer.
func buildIngress(t *bluev1.BlueTenant, o Options) *netv1ac.IngressApplyConfiguration {
	ing := netv1ac.Ingress(ServerName, NamespaceFor(t.Name)).
		WithLabels(tenantLabels(t.Name)).
		WithOwnerReferences(ownerRef(t))
	if len(o.IngressAnnotations) > 0 {
		ing = ing.WithAnnotations(o.IngressAnnotations)
	}
	spec := netv1ac.IngressSpec().
		WithRules(netv1ac.IngressRule().
			WithHost(t.Spec.Endpoint.Host).
			WithHTTP(netv1ac.HTTPIngressRuleValue().WithPaths(netv1ac.HTTPIngressPath().
				WithPath("/").
				WithPathType(networkingv1.PathTypePrefix).
				WithBackend(netv1ac.IngressBackend().WithService(netv1ac.IngressServiceBackend().
					WithName(ServerName).
					WithPort(netv1ac.ServiceBackendPort().WithName("http")))))))
	if o.IngressClassName != "" {
		spec = spec.WithIngressClassName(o.IngressClassName)
	}
	if t.Spec.Endpoint.TLSSecretName != "" {
		spec = spec.WithTLS(netv1ac.IngressTLS().WithHosts(t.Spec.Endpoint.Host).WithSecretName(t.Spec.Endpoint.TLSSecretName))
	}
	return ing.WithSpec(spec)
}

func namespacePeer(name string) *netv1ac.NetworkPolicyPeerApplyConfiguration {
	return netv1ac.NetworkPolicyPeer().WithNamespaceSelector(metav1ac.LabelSelector().
		WithMatchLabels(map[string]string{"kubernetes.io/metadata.name": name}))
}

func tcpPort(p int32) *netv1ac.NetworkPolicyPortApplyConfiguration {
	return netv1ac.NetworkPolicyPort().WithProtocol(corev1.ProtocolTCP).WithPort(intstr.FromInt32(p))
}

// buildNetworkPolicy denies everything but: the ingress controller to the MCP
// port, the metrics scraper and the operator to the metrics port, and egress
// to DNS and to HTTPS anywhere but the denied addresses (egressPeers:
// link-local, where the metadata service is, and denied, the operator's
// --egress-denied-cidr and the API server's addresses).
func buildNetworkPolicy(t *bluev1.BlueTenant, o Options, denied []string) *netv1ac.NetworkPolicyApplyConfiguration {
	var fromIngress []*netv1ac.NetworkPolicyPeerApplyConfiguration
	if o.IngressNamespace != "" {
		fromIngress = append(fromIngress, namespacePeer(o.IngressNamespace))
	}
	for _, cidr := range o.IngressCIDRs {
		fromIngress = append(fromIngress, netv1ac.NetworkPolicyPeer().WithIPBlock(netv1ac.IPBlock().WithCIDR(cidr)))
	}
	ingress := []*netv1ac.NetworkPolicyIngressRuleApplyConfiguration{
		netv1ac.NetworkPolicyIngressRule().WithFrom(fromIngress...).WithPorts(tcpPort(contract.PortHTTP)),
	}
	// The metrics port serves /metrics and the client-access report: the
	// scraper and the operator may read it, nobody else.
	var fromMetrics []*netv1ac.NetworkPolicyPeerApplyConfiguration
	var seen []string
	for _, ns := range []string{o.MetricsNamespace, o.OperatorNamespace} {
		if ns != "" && !slices.Contains(seen, ns) {
			seen = append(seen, ns)
			fromMetrics = append(fromMetrics, namespacePeer(ns))
		}
	}
	if len(fromMetrics) > 0 {
		ingress = append(ingress, netv1ac.NetworkPolicyIngressRule().
			WithFrom(fromMetrics...).WithPorts(tcpPort(contract.PortMetrics)))
	}
	return netv1ac.NetworkPolicy(ServerName, NamespaceFor(t.Name)).
		WithLabels(tenantLabels(t.Name)).
		WithOwnerReferences(ownerRef(t)).
		WithSpec(netv1ac.NetworkPolicySpec().
			WithPodSelector(metav1ac.LabelSelector()). // every pod in the namespace
			WithPolicyTypes(networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress).
			WithIngress(ingress...).
			WithEgress(
				netv1ac.NetworkPolicyEgressRule().WithPorts(
					netv1ac.NetworkPolicyPort().WithProtocol(corev1.ProtocolUDP).WithPort(intstr.FromInt32(53)),
					tcpPort(53)),
				netv1ac.NetworkPolicyEgressRule().WithTo(egressPeers(denied)...).WithPorts(tcpPort(443)),
			))
}

// buildResourceQuota caps the namespace at the tenant's replicas plus one
// rolling-update surge pod, and forbids what a tenant never needs: volumes
// (no data on our disks), load balancers and node ports.
func buildResourceQuota(t *bluev1.BlueTenant) *corev1ac.ResourceQuotaApplyConfiguration {
	e := effectiveFor(t)
	pods := e.quotaPods()
	hard := corev1.ResourceList{
		corev1.ResourcePods:                   *resource.NewQuantity(pods, resource.DecimalSI),
		corev1.ResourcePersistentVolumeClaims: *resource.NewQuantity(0, resource.DecimalSI),
		corev1.ResourceServicesLoadBalancers:  *resource.NewQuantity(0, resource.DecimalSI),
		corev1.ResourceServicesNodePorts:      *resource.NewQuantity(0, resource.DecimalSI),
	}
	for k, v := range times(e.Requests, pods) {
		hard[corev1.ResourceName("requests."+string(k))] = v
	}
	for k, v := range times(e.Limits, pods) {
		hard[corev1.ResourceName("limits."+string(k))] = v
	}
	return corev1ac.ResourceQuota(ServerName, NamespaceFor(t.Name)).
		WithLabels(tenantLabels(t.Name)).
		WithOwnerReferences(ownerRef(t)).
		WithSpec(corev1ac.ResourceQuotaSpec().WithHard(hard))
}

// buildLimitRange gives any container the tier's defaults and caps it at the
// tier's limits.
func buildLimitRange(t *bluev1.BlueTenant) *corev1ac.LimitRangeApplyConfiguration {
	e := effectiveFor(t)
	return corev1ac.LimitRange(ServerName, NamespaceFor(t.Name)).
		WithLabels(tenantLabels(t.Name)).
		WithOwnerReferences(ownerRef(t)).
		WithSpec(corev1ac.LimitRangeSpec().WithLimits(corev1ac.LimitRangeItem().
			WithType(corev1.LimitTypeContainer).
			WithDefault(e.Limits).
			WithDefaultRequest(e.Requests).
			WithMax(e.Limits)))
}

// wantsPDB: a budget only means something with more than one replica.
func wantsPDB(t *bluev1.BlueTenant) bool { return effectiveFor(t).Replicas > 1 }

// buildPodDisruptionBudget keeps all but one replica up through voluntary
// disruptions such as node drains.
func buildPodDisruptionBudget(t *bluev1.BlueTenant) *policyv1ac.PodDisruptionBudgetApplyConfiguration {
	return policyv1ac.PodDisruptionBudget(ServerName, NamespaceFor(t.Name)).
		WithLabels(tenantLabels(t.Name)).
		WithOwnerReferences(ownerRef(t)).
		WithSpec(policyv1ac.PodDisruptionBudgetSpec().
			WithMaxUnavailable(intstr.FromInt32(1)).
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(podLabels(t.Name))))
}

// errorf keeps wrapped errors uniform across ensure functions.
func errorf(step string, err error) error { return fmt.Errorf("%s: %w", step, err) }

// DesiredObjects is every object the reconciler applies for a tenant (all but
// the token and session Secrets, which are created once), in the order it
// applies them; the NetworkPolicy without the API server's addresses, which
// the reconciler reads from the cluster.
// Benchmarks use it to apply the same objects without the operator.
func DesiredObjects(t *bluev1.BlueTenant, o Options, tokenHashes string) []runtime.ApplyConfiguration {
	objs := []runtime.ApplyConfiguration{
		buildNamespace(t),
		buildServiceAccount(t, o),
		buildResourceQuota(t),
		buildLimitRange(t),
		buildNetworkPolicy(t, o, o.EgressDeniedCIDRs),
		buildService(t),
		buildIngress(t, o),
	}
	if wantsPDB(t) {
		objs = append(objs, buildPodDisruptionBudget(t))
	}
	return append(objs, buildDeployment(t, o, tokenHashes))
}

// SessionSecret is the session-key Secret the reconciler creates for a tenant.
func SessionSecret(t *bluev1.BlueTenant, key string) *corev1.Secret {
	return buildSessionSecret(t, key)
}

// ExternalIDSecret is the ExternalId Secret the reconciler creates for a
// tenant.
func ExternalIDSecret(t *bluev1.BlueTenant, id string) *corev1.Secret {
	return buildExternalIDSecret(t, id)
}

// TokenSecret is the token Secret the reconciler creates for a tenant.
func TokenSecret(t *bluev1.BlueTenant, token string) *corev1.Secret {
	return buildTokenSecret(t, token)
}
