// Package contract is what the operator and the blue-mcp server agree on:
// the environment the operator gives the server container, the two ports it
// serves, and how an API token is handed over as a hash. cmd/manager (through
// controllers) and cmd/blue-mcp both import it, so the two can never drift;
// it imports nothing of either.
package contract

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// The environment of the server container.
const (
	EnvTenant       = "BLUE_TENANT"
	EnvTier         = "BLUE_TIER"
	EnvMaxSessions  = "BLUE_MAX_SESSIONS"
	EnvListenAddr   = "BLUE_LISTEN_ADDR"
	EnvMetricsAddr  = "BLUE_METRICS_ADDR"
	EnvPublicURL    = "BLUE_PUBLIC_URL"
	EnvAuthMode     = "BLUE_AUTH_MODE"
	EnvTokenHashes  = "BLUE_TOKEN_SHA256"
	EnvOIDCIssuer   = "BLUE_OIDC_ISSUER"
	EnvOIDCAudience = "BLUE_OIDC_AUDIENCE"
	// The OIDC allow-lists (spec.auth.oidc.allowed*), comma-separated; unset
	// or empty admits any caller the identity provider vouches for.
	EnvOIDCAllowedSubjects     = "BLUE_OIDC_ALLOWED_SUBJECTS"
	EnvOIDCAllowedGroups       = "BLUE_OIDC_ALLOWED_GROUPS"
	EnvOIDCAllowedEmailDomains = "BLUE_OIDC_ALLOWED_EMAIL_DOMAINS"
	// EnvClientAccount is the client's AWS account (spec.aws.accountId): the
	// server acts in no other.
	EnvClientAccount = "BLUE_CLIENT_ACCOUNT_ID"
	// EnvSessionKey signs MCP session ids, so that every replica knows the
	// ones the tenant's servers issued (from the Secret SessionSecretName).
	EnvSessionKey = "BLUE_SESSION_KEY"
	// EnvExternalID is the sts:ExternalId the server presents when it
	// assumes the client's role: issued by the operator, one per tenant
	// (from the Secret ExternalIDSecretName), never the client's choice.
	EnvExternalID = "BLUE_EXTERNAL_ID"

	EnvInfisicalSite = "INFISICAL_SITE_URL"
	// EnvInfisicalCA is PEM (spec.infisical.caBundle): the CAs of a
	// self-hosted Infisical, trusted for it besides the system's.
	EnvInfisicalCA     = "INFISICAL_CA_CERTIFICATE"
	EnvInfisicalProj   = "INFISICAL_PROJECT_ID"
	EnvInfisicalEnv    = "INFISICAL_ENVIRONMENT"
	EnvInfisicalPath   = "INFISICAL_SECRET_PATH"
	EnvInfisicalMethod = "INFISICAL_AUTH_METHOD"
	EnvInfisicalID     = "INFISICAL_IDENTITY_ID"
	EnvInfisicalToken  = "INFISICAL_TOKEN_FILE"
	EnvInfisicalCID    = "INFISICAL_CLIENT_ID"
	EnvInfisicalSecret = "INFISICAL_CLIENT_SECRET"

	// The AWS endpoints every tenant pod uses in place of AWS's regional
	// public ones (the operator's --aws-*-endpoint): VPC interface
	// endpoints, FIPS endpoints, or the local stack's test servers.
	EnvSTSEndpoint      = "BLUE_STS_ENDPOINT"
	EnvS3Endpoint       = "BLUE_S3_ENDPOINT"
	EnvDynamoDBEndpoint = "BLUE_DYNAMODB_ENDPOINT"
	// EnvAPICA is PEM (spec.aws.apiCABundle): the CAs that sign the TLS
	// certificate of the client's API (API_ENDPOINT), trusted for that API
	// only, besides the system's.
	EnvAPICA = "BLUE_API_CA_CERTIFICATE"

	// EnvInfisicalRefresh is how often the server re-reads the client's
	// Infisical settings: a revocation or rotation takes effect within it
	// (the operator's --tenant-infisical-refresh).
	EnvInfisicalRefresh = "BLUE_INFISICAL_REFRESH"
	// EnvAccessCheckInterval is how often the server checks the client's
	// side for its client-access report (--tenant-access-check-interval).
	EnvAccessCheckInterval = "BLUE_ACCESS_CHECK_INTERVAL"
)

// InfisicalAudience is the default audience of the projected token the pod
// presents to Infisical: a dedicated one, so that token is no use to the
// Kubernetes API server.
const InfisicalAudience = "infisical"

// SessionSecretName is the Secret in the tenant's namespace that holds the
// session key (key SessionSecretKey): made once by the operator, never
// overwritten.
const (
	SessionSecretName = "blue-mcp-session"
	SessionSecretKey  = "key"
)

// ExternalIDSecretName is the Secret in the tenant's namespace holding the
// tenant's issued ExternalId (key ExternalIDSecretKey): made once by the
// operator, never overwritten.
const (
	ExternalIDSecretName = "blue-mcp-external-id"
	ExternalIDSecretKey  = "external-id"
)

// The server's ports: PortHTTP serves /mcp, /healthz and /readyz; PortMetrics
// serves /metrics, on a port of its own so the NetworkPolicy can admit the
// scraper to it alone.
const (
	PortHTTP    = 8080
	PortMetrics = 9090
)

// ListenAddr and MetricsAddr are the server's default listen addresses, on
// all interfaces at the two ports.
var (
	ListenAddr  = ":" + strconv.Itoa(PortHTTP)
	MetricsAddr = ":" + strconv.Itoa(PortMetrics)
)

const tokenHashPrefix = "sha256:"

// TokenHash is how the operator hands a token to the server:
// "sha256:<64 hex digits>". The server is never given the token itself.
func TokenHash(token string) string {
	return tokenHashPrefix + hex.EncodeToString(TokenDigest(token))
}

// TokenDigest is the SHA-256 digest a token is known by; the server compares
// it, in constant time, with the digests of ParseTokenHash.
func TokenDigest(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// ParseTokenHash reads a hash written by TokenHash and returns its digest.
func ParseTokenHash(h string) ([]byte, error) {
	hexSum, found := strings.CutPrefix(strings.TrimSpace(h), tokenHashPrefix)
	if !found {
		return nil, fmt.Errorf("want %s<64 hex digits>", tokenHashPrefix)
	}
	sum, err := hex.DecodeString(hexSum)
	if err != nil || len(sum) != sha256.Size {
		return nil, fmt.Errorf("want %s<64 hex digits>", tokenHashPrefix)
	}
	return sum, nil
}

// MaxExternalIDLen is STS's limit on an sts:ExternalId.
const MaxExternalIDLen = 1224

// ExternalIDChars reports whether id holds only what STS accepts in an
// ExternalId: letters, digits and +=,.@:/_- (the server's settings, the
// onboarding kit and the Terraform module apply their own minimum lengths).
func ExternalIDChars(id string) bool {
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_+=,.@:/-", r)) {
			return false
		}
	}
	return true
}
