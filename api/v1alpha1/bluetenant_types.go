package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Tier is a service level: it sets the concurrent MCP sessions, the default
// replicas and resources of the server, and the namespace quota.
// +kubebuilder:validation:Enum=small;medium;enterprise
type Tier string

// The tiers a BlueTenant can have.
const (
	TierSmall      Tier = "small"
	TierMedium     Tier = "medium"
	TierEnterprise Tier = "enterprise"
)

// AuthMode says how MCP clients authenticate to the tenant's endpoint.
// +kubebuilder:validation:Enum=token;oidc
type AuthMode string

// The auth modes a BlueTenant can have.
const (
	AuthModeToken AuthMode = "token"
	AuthModeOIDC  AuthMode = "oidc"
)

// BlueTenantSpec is what a platform team declares for one client.
type BlueTenantSpec struct {
	// DisplayName is the client's name as people read it (dashboards, events).
	// +kubebuilder:validation:MaxLength=128
	// +optional
	DisplayName string `json:"displayName,omitempty"`

	// Tier is the service level: small (2 concurrent sessions), medium (10) or
	// enterprise (unlimited, 2 replicas). It sets resources and the namespace
	// quota; changing it rolls the server pods.
	// +kubebuilder:default=small
	// +optional
	Tier Tier `json:"tier,omitempty"`

	// Endpoint is where the client's Claude Code reaches the server.
	Endpoint EndpointSpec `json:"endpoint"`

	// Auth is how MCP clients authenticate. Defaults to generated bearer tokens.
	// +kubebuilder:default={mode: token}
	// +optional
	Auth AuthSpec `json:"auth,omitempty"`

	// AWS locates the client's AWS resources and the hop role the server pod
	// starts from.
	AWS AWSSpec `json:"aws"`

	// Infisical locates the client's Infisical workspace, which holds the
	// client's role ARN, ExternalId, bucket, table and KMS key.
	Infisical InfisicalSpec `json:"infisical"`

	// Suspend scales the server to zero (a kill switch) without deleting
	// anything. Set it back to false to resume.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// Replicas overrides the tier's server replica count (small and medium: 1,
	// enterprise: 2). A PodDisruptionBudget is created when it is above 1.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=20
	// +optional
	Replicas *int32 `json:"replicas,omitempty"`

	// Resources overrides the tier's container requests and limits. The
	// namespace quota follows the effective values.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`

	// Image overrides the operator's default blue-mcp server image.
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:Pattern=`^[a-zA-Z0-9][a-zA-Z0-9._/:@-]*$`
	// +optional
	Image string `json:"image,omitempty"`
}

// EndpointSpec is the public address of the tenant's MCP server.
type EndpointSpec struct {
	// Host is the DNS name the Ingress serves, e.g. acme.mcp.superviber.com.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\\\\.)+[a-z]([-a-z0-9]{0,61}[a-z0-9])?$')",message="endpoint.host must be a lower-case DNS name such as acme.mcp.superviber.com (no scheme, port or path)"
	Host string `json:"host"`

	// TLSSecretName names the Secret (in the tenant namespace) holding the
	// Ingress certificate. Leave empty when the load balancer terminates TLS
	// with its own certificate (for example ACM on an ALB).
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	// +optional
	TLSSecretName string `json:"tlsSecretName,omitempty"`
}

// AuthSpec says how MCP clients authenticate.
// +kubebuilder:validation:XValidation:rule="self.mode != 'oidc' || has(self.oidc)",message="auth.oidc (issuerURL) is required when auth.mode is oidc"
// +kubebuilder:validation:XValidation:rule="self.mode == 'oidc' || !has(self.oidc)",message="auth.oidc may only be set when auth.mode is oidc"
type AuthSpec struct {
	// Mode is token (bearer tokens the operator generates into the Secret
	// blue-mcp-tokens; the server only sees their hashes) or oidc (JWTs from
	// the client's identity provider).
	// +kubebuilder:default=token
	// +optional
	Mode AuthMode `json:"mode,omitempty"`

	// OIDC configures JWT validation; required when mode is oidc.
	// +optional
	OIDC *OIDCSpec `json:"oidc,omitempty"`
}

// OIDCSpec is the client's OpenID Connect provider.
type OIDCSpec struct {
	// IssuerURL is the provider's issuer; its discovery document and JWKS are
	// read from there.
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:Pattern=`^https://[^\s]+$`
	IssuerURL string `json:"issuerURL"`

	// Audience the tokens must carry. Defaults to the endpoint URL
	// (https://<host>/mcp), as the MCP authorization spec asks.
	// +kubebuilder:validation:MaxLength=512
	// +optional
	Audience string `json:"audience,omitempty"`

	// AllowedSubjects admits only tokens whose sub claim is one of these
	// (exact match). Empty: any subject the provider vouches for. When more
	// than one allow-list is set, a caller must pass each of them.
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=255
	// +kubebuilder:validation:XValidation:rule="self.all(s, !s.contains(',') && s.trim() == s)",message="auth.oidc.allowedSubjects entries must not contain commas or leading or trailing spaces"
	// +listType=set
	// +optional
	AllowedSubjects []string `json:"allowedSubjects,omitempty"`

	// AllowedGroups admits only tokens whose groups claim names at least one
	// of these groups (exact match). Empty: any group, or none.
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="self.all(g, !g.contains(',') && g.trim() == g)",message="auth.oidc.allowedGroups entries must not contain commas or leading or trailing spaces"
	// +listType=set
	// +optional
	AllowedGroups []string `json:"allowedGroups,omitempty"`

	// AllowedEmailDomains admits only tokens whose email claim is at one of
	// these domains (exact match: acme.com does not admit eng.acme.com), and
	// only with email_verified true. Empty: any email, or none.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.all(d, d.matches('^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\\\\.)+[a-z]([-a-z0-9]{0,61}[a-z0-9])?$'))",message="auth.oidc.allowedEmailDomains entries must be lower-case domain names such as acme.com (no @, scheme or wildcard)"
	// +listType=set
	// +optional
	AllowedEmailDomains []string `json:"allowedEmailDomains,omitempty"`
}

// AWSSpec locates the AWS side of the tenant.
type AWSSpec struct {
	// Region of the client's bucket and table, e.g. eu-west-1. Immutable: the
	// client's data lives there.
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]+$')",message="aws.region must be an AWS region such as eu-west-1"
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="aws.region is immutable: the client's data lives in that region; create a new BlueTenant to move it"
	Region string `json:"region"`

	// AccountID is the client's AWS account, the only one the tenant's server
	// acts in: the role, table and key it is given in Infisical must be in
	// it (anything else is refused), and every S3 call says it expects the
	// bucket to be owned by it. Immutable: it binds the tenant to the
	// client's data.
	// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9]{12}$')",message="aws.accountId must be the client's 12-digit AWS account id, such as 222222222222"
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="aws.accountId is immutable: it binds the tenant to the client's data; create a new BlueTenant for another account"
	AccountID string `json:"accountId"`

	// HopRoleArn is the IAM role in Superviber's account that the server pod
	// gets through IRSA; the client's role trusts it. Defaults to the
	// operator's --hop-role-arn-template.
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.matches('^arn:aws(-cn|-us-gov|-iso|-iso-b)?:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$')",message="aws.hopRoleArn must be an IAM role ARN such as arn:aws:iam::111111111111:role/blue-hop-acme"
	// +optional
	HopRoleArn string `json:"hopRoleArn,omitempty"`

	// APICABundle is PEM: the certificates of the CAs that sign the TLS
	// certificate of the client's API (the API_ENDPOINT in its Infisical
	// folder), when a private CA signs it, as for a private API Gateway
	// behind the client's own domain. The server trusts them for that API
	// only, besides the public CAs it ships with. Certificates only: a
	// private key is refused.
	// +kubebuilder:validation:MaxLength=16384
	// +kubebuilder:validation:XValidation:rule="!self.contains('PRIVATE KEY')",message="aws.apiCABundle holds a private key: give only the CA certificates, and rotate that key"
	// +kubebuilder:validation:XValidation:rule="self == '' || self.matches('^(\\\\s*-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\\\\s]+-----END CERTIFICATE-----)+\\\\s*$')",message="aws.apiCABundle must be PEM certificates only (each from -----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----): no other blocks, no other text"
	// +optional
	APICABundle string `json:"apiCABundle,omitempty"`
}

// InfisicalSpec locates the client's Infisical secrets.
type InfisicalSpec struct {
	// SiteURL is the Infisical instance, e.g. https://app.infisical.com. It
	// must use https (the login sends credentials); plain http is allowed
	// only for a loopback address, as in the local stack.
	// +kubebuilder:default="https://app.infisical.com"
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:Pattern=`^https?://[^\s/]+(/[^\s]*)?$`
	// +kubebuilder:validation:XValidation:rule="self.startsWith('https://') || self.matches('^http://(127\\\\.0\\\\.0\\\\.1|localhost|\\\\[::1\\\\])(:[0-9]+)?(/.*)?$')",message="infisical.siteURL must use https:// (plain http only for a loopback address such as http://127.0.0.1:8080)"
	// +optional
	SiteURL string `json:"siteURL,omitempty"`

	// CABundle is PEM: the certificates of the CAs that sign a self-hosted
	// Infisical's TLS certificate (or that certificate itself, if
	// self-signed). The server trusts them for Infisical only, besides the
	// public CAs it ships with. Certificates only: a private key is refused.
	// +kubebuilder:validation:MaxLength=16384
	// +kubebuilder:validation:XValidation:rule="!self.contains('PRIVATE KEY')",message="infisical.caBundle holds a private key: give only the CA certificates, and rotate that key"
	// +kubebuilder:validation:XValidation:rule="self == '' || self.matches('^(\\\\s*-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\\\\s]+-----END CERTIFICATE-----)+\\\\s*$')",message="infisical.caBundle must be PEM certificates only (each from -----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----): no other blocks, no other text"
	// +optional
	CABundle string `json:"caBundle,omitempty"`

	// ProjectID is the client's Infisical project (workspace). Immutable: it
	// is what ties this tenant to the client's data.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="infisical.projectId is immutable: it ties the tenant to the client's data; create a new BlueTenant for another workspace"
	ProjectID string `json:"projectId"`

	// Environment slug in that project, e.g. prod.
	// +kubebuilder:default=prod
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9_-]+$`
	// +optional
	Environment string `json:"environment,omitempty"`

	// SecretPath is the folder holding AWS_ROLE_ARN, EXTERNAL_ID,
	// BLUE_S3_BUCKET, BLUE_DYNAMODB_TABLE, BLUE_KMS_KEY_ID and API_ENDPOINT.
	// +kubebuilder:default="/"
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:Pattern=`^/[A-Za-z0-9_/-]*$`
	// +optional
	SecretPath string `json:"secretPath,omitempty"`

	// Auth is how the server logs in to Infisical: exactly one of kubernetes
	// or universalAuth.
	Auth InfisicalAuth `json:"auth"`
}

// InfisicalAuth is the machine identity the server logs in with.
// +kubebuilder:validation:XValidation:rule="has(self.kubernetes) != has(self.universalAuth)",message="infisical.auth needs exactly one of kubernetes or universalAuth"
type InfisicalAuth struct {
	// Kubernetes logs in with the pod's projected service-account token.
	// +optional
	Kubernetes *InfisicalKubernetesAuth `json:"kubernetes,omitempty"`

	// UniversalAuth logs in with a client ID and secret.
	// +optional
	UniversalAuth *InfisicalUniversalAuth `json:"universalAuth,omitempty"`
}

// InfisicalKubernetesAuth is Infisical's Kubernetes auth method.
type InfisicalKubernetesAuth struct {
	// IdentityID is the Infisical machine identity's ID.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	IdentityID string `json:"identityId"`

	// Audience of the projected token the pod presents to Infisical; the
	// identity's "allowed audience" in Infisical must be the same. Defaults
	// to "infisical": a dedicated audience, so that the token Infisical sees
	// is not also a token the Kubernetes API server accepts.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Audience string `json:"audience,omitempty"`
}

// InfisicalUniversalAuth is Infisical's universal (client credentials) auth.
type InfisicalUniversalAuth struct {
	// CredentialsSecretName names a Secret in the tenant namespace
	// (blue-<tenant>) with the keys clientId and clientSecret. The operator
	// never reads it; the pod gets it as environment.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	CredentialsSecretName string `json:"credentialsSecretName"`
}

// BlueTenantStatus is what the operator observed.
type BlueTenantStatus struct {
	// ObservedGeneration is the generation the conditions describe.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Namespace holding the tenant's objects.
	// +optional
	Namespace string `json:"namespace,omitempty"`

	// Endpoint is the MCP URL to give the client.
	// +optional
	Endpoint string `json:"endpoint,omitempty"`

	// ExternalID is the sts:ExternalId the tenant's server presents when it
	// assumes the client's role: issued by the operator when the tenant is
	// created, unique to this tenant, kept in the Secret
	// blue-mcp-external-id of its namespace. Give it to the client for its
	// role's trust policy (blue-mcp onboard --external-id prints the
	// policy). AWS does not treat it as a secret; what matters is that the
	// client cannot choose it, so no client can present another's.
	// +optional
	ExternalID string `json:"externalID,omitempty"`

	// Replicas is the server pods' desired count; ReadyReplicas how many are
	// available.
	// +optional
	Replicas int32 `json:"replicas,omitempty"`
	// +optional
	ReadyReplicas int32 `json:"readyReplicas,omitempty"`

	// Conditions: Ready (the endpoint serves), Progressing (a change is
	// rolling out) and Degraded (the operator cannot do what the spec asks;
	// the reason says why).
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// BlueTenant is one client's hosted Blue MCP server: a namespace blue-<name>
// with the server Deployment, Service, Ingress, NetworkPolicy, IRSA
// ServiceAccount and quotas. Client data stays in the client's AWS account.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=bt,categories=blue
// +kubebuilder:printcolumn:name="Tier",type=string,JSONPath=`.spec.tier`
// +kubebuilder:printcolumn:name="Endpoint",type=string,JSONPath=`.status.endpoint`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Access",type=string,JSONPath=`.status.conditions[?(@.type=="ClientAccess")].reason`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 58",message="BlueTenant name must be at most 58 characters: the namespace is blue-<name>"
// +kubebuilder:validation:XValidation:rule="self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="BlueTenant name must be a DNS label (lower-case letters, digits and '-'): it becomes the namespace blue-<name>"
type BlueTenant struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired tenant.
	Spec BlueTenantSpec `json:"spec"`

	// Status is the observed state.
	// +optional
	Status BlueTenantStatus `json:"status,omitempty"`
}

// BlueTenantList is a list of BlueTenants.
//
// +kubebuilder:object:root=true
type BlueTenantList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []BlueTenant `json:"items"`
}

func init() {
	SchemeBuilder.Register(&BlueTenant{}, &BlueTenantList{})
}
