package controllers

import (
	bluev1 "github.com/superviber/blue-operator/api/v1alpha1"
)

// Names and labels shared by every object of a tenant.
const (
	LabelManagedBy   = "app.kubernetes.io/managed-by"
	LabelName        = "app.kubernetes.io/name"
	LabelTenant      = "blue.superviber.com/tenant"
	ManagedByValue   = "blue-operator"
	ServerName       = "blue-mcp"
	TokenSecretName  = "blue-mcp-tokens"
	AnnotationConfig = "blue.superviber.com/config-hash"
	AnnotationIRSA   = "eks.amazonaws.com/role-arn"
)

// NamespaceFor is the namespace that holds a tenant's objects.
func NamespaceFor(tenant string) string { return "blue-" + tenant }

// EndpointURL is the MCP URL a tenant's clients connect to.
func EndpointURL(t *bluev1.BlueTenant) string { return "https://" + t.Spec.Endpoint.Host + "/mcp" }

// tenantLabels are on every object the operator writes for a tenant.
func tenantLabels(tenant string) map[string]string {
	return map[string]string{LabelManagedBy: ManagedByValue, LabelTenant: tenant}
}

// podLabels select the tenant's server pods.
func podLabels(tenant string) map[string]string {
	return map[string]string{LabelManagedBy: ManagedByValue, LabelTenant: tenant, LabelName: ServerName}
}
