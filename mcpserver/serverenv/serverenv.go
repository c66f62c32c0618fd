// Package serverenv names the environment variables that configure the
// blue-mcp server. The operator sets them on the tenant's Deployment and
// cmd/blue-mcp reads them; both import this package so the two never drift.
package serverenv

// Environment variable names.
const (
	Tenant          = "BLUE_TENANT"
	Tier            = "BLUE_TIER"
	MaxSessions     = "BLUE_MAX_SESSIONS"
	ListenAddr      = "BLUE_LISTEN_ADDR"
	MetricsAddr     = "BLUE_METRICS_ADDR"
	PublicURL       = "BLUE_PUBLIC_URL"
	AuthMode        = "BLUE_AUTH_MODE"
	TokenHashes     = "BLUE_TOKEN_SHA256"
	OIDCIssuer      = "BLUE_OIDC_ISSUER"
	OIDCAudience    = "BLUE_OIDC_AUDIENCE"
	InfisicalSite   = "INFISICAL_SITE_URL"
	InfisicalProj   = "INFISICAL_PROJECT_ID"
	InfisicalEnv    = "INFISICAL_ENVIRONMENT"
	InfisicalPath   = "INFISICAL_SECRET_PATH"
	InfisicalMethod = "INFISICAL_AUTH_METHOD"
	InfisicalID     = "INFISICAL_IDENTITY_ID"
	InfisicalToken  = "INFISICAL_TOKEN_FILE"
	InfisicalCID    = "INFISICAL_CLIENT_ID"
	InfisicalSecret = "INFISICAL_CLIENT_SECRET"
)
