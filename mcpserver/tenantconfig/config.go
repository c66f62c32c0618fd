package tenantconfig

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// Names of the secrets in the client's Infisical workspace.
const (
	KeyRoleARN     = "AWS_ROLE_ARN"
	KeyExternalID  = "EXTERNAL_ID"
	KeyBucket      = "BLUE_S3_BUCKET"
	KeyTable       = "BLUE_DYNAMODB_TABLE"
	KeyKMSKeyID    = "BLUE_KMS_KEY_ID"
	KeyAPIEndpoint = "API_ENDPOINT"
)

// RequiredKeys are the secrets a config cannot do without, in the order
// error messages list them; with API_ENDPOINT set only AWS_ROLE_ARN (and
// EXTERNAL_ID without an issued one) of them. With an issued ExternalId (Settings.ExternalID,
// always the case under the operator) EXTERNAL_ID is not among them: the
// client's workspace holds WorkspaceKeys.
var RequiredKeys = []string{KeyRoleARN, KeyExternalID, KeyBucket, KeyTable, KeyKMSKeyID}

// WorkspaceKeys are the secrets the client keeps in its workspace for a
// server the operator runs.
var WorkspaceKeys = []string{KeyRoleARN, KeyBucket, KeyTable, KeyKMSKeyID}

// Sentinel errors of Current, Ready and Refresh; test with errors.Is. The
// returned errors wrap them with what happened, never with secret values.
var (
	// ErrRevoked: Infisical refused our identity (401/403 at login or when
	// listing, or the project is gone), so the client has withdrawn access.
	ErrRevoked = errors.New("access revoked by the client")
	// ErrUnavailable: no config loaded yet, or Infisical has been unreachable
	// for longer than the grace period.
	ErrUnavailable = errors.New("tenant config unavailable")
	// ErrNotLoaded: ErrUnavailable before any config was ever loaded (it
	// wraps both).
	ErrNotLoaded = errors.New("not loaded yet")
	// ErrIncomplete: a required secret is missing or empty; the message
	// names which.
	ErrIncomplete = errors.New("tenant config incomplete")
	// ErrOutsideAccount: a setting points outside the client's AWS account;
	// nothing is served until the client fixes it.
	ErrOutsideAccount = errors.New("tenant config points outside the client's AWS account")
)

// Config is the tenant's config as held in the client's Infisical workspace.
// Its String, GoString and LogValue methods hide the values, so printing or
// logging a Config by mistake leaks nothing.
type Config struct {
	RoleARN     string // AWS_ROLE_ARN: role in the client's account to assume
	ExternalID  string // EXTERNAL_ID: sts:ExternalId the role's trust policy requires
	Bucket      string // BLUE_S3_BUCKET
	Table       string // BLUE_DYNAMODB_TABLE
	KMSKeyID    string // BLUE_KMS_KEY_ID
	APIEndpoint string // API_ENDPOINT, optional
}

// parseConfig builds a Config from listed secrets and names the required
// keys that are missing or blank. Values are trimmed: a value pasted with a
// trailing newline must not break an AssumeRole. An issued ExternalId (see
// Settings.ExternalID) takes the place of the workspace's, which is then
// neither required nor read.
func parseConfig(values map[string]string, issuedExternalID string) (Config, []string) {
	get := func(k string) string { return strings.TrimSpace(values[k]) }
	c := Config{
		RoleARN:     get(KeyRoleARN),
		ExternalID:  get(KeyExternalID),
		Bucket:      get(KeyBucket),
		Table:       get(KeyTable),
		KMSKeyID:    get(KeyKMSKeyID),
		APIEndpoint: get(KeyAPIEndpoint),
	}
	if issuedExternalID != "" {
		c.ExternalID = issuedExternalID
	}
	var missing []string
	for _, k := range RequiredKeys {
		if c.value(k) == "" && (c.APIEndpoint == "" || !apiModeOptional(k)) {
			missing = append(missing, k)
		}
	}
	return c, missing
}

// apiModeOptional: with API_ENDPOINT the client's API reaches the storage,
// so the server needs neither its names nor its key.
func apiModeOptional(key string) bool {
	return key == KeyBucket || key == KeyTable || key == KeyKMSKeyID
}

func (c Config) value(key string) string {
	switch key {
	case KeyRoleARN:
		return c.RoleARN
	case KeyExternalID:
		return c.ExternalID
	case KeyBucket:
		return c.Bucket
	case KeyTable:
		return c.Table
	case KeyKMSKeyID:
		return c.KMSKeyID
	case KeyAPIEndpoint:
		return c.APIEndpoint
	}
	return ""
}

// changedKeys names the secrets whose values differ between a and b.
func changedKeys(a, b Config) []string {
	var out []string
	for _, k := range append(append([]string{}, RequiredKeys...), KeyAPIEndpoint) {
		if a.value(k) != b.value(k) {
			out = append(out, k)
		}
	}
	return out
}

func (c Config) setKeys() []string {
	var out []string
	for _, k := range append(append([]string{}, RequiredKeys...), KeyAPIEndpoint) {
		if c.value(k) != "" {
			out = append(out, k)
		}
	}
	return out
}

// IsZero reports whether c is the zero Config (no config held).
func (c Config) IsZero() bool { return c == Config{} }

// String names the keys that are set, never their values.
func (c Config) String() string {
	return fmt.Sprintf("Config{set: %s}", strings.Join(c.setKeys(), ","))
}

// GoString keeps %#v from printing values.
func (c Config) GoString() string { return c.String() }

// LogValue keeps slog from printing values.
func (c Config) LogValue() slog.Value {
	return slog.StringValue(c.String())
}

// accountOf reads the account id of an ARN ("arn:partition:service:region:
// account:resource"); ok is false for anything that is not an ARN.
func accountOf(arn string) (account string, ok bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return "", false
	}
	return parts[4], true
}

// outsideAccount names the settings that point outside the client's
// account: a role elsewhere (another client's, or Superviber's own), or a
// table or key given as an ARN in another account. A table or key given by
// name, or a key by alias or id, resolves in the assumed role's account,
// which the role check has pinned; a bucket's name says nothing of its
// owner, so the store sends ExpectedBucketOwner on every S3 call instead.
// It never quotes a value.
func (c Config) outsideAccount(account string) []string {
	var bad []string
	if a, ok := accountOf(c.RoleARN); !ok || a != account || !strings.Contains(c.RoleARN, ":iam::") || !strings.Contains(c.RoleARN, ":role/") {
		bad = append(bad, KeyRoleARN+" is not a role in the tenant's account "+account)
	}
	for _, kv := range []struct{ key, v string }{{KeyTable, c.Table}, {KeyKMSKeyID, c.KMSKeyID}} {
		if a, isARN := accountOf(kv.v); isARN && a != account {
			bad = append(bad, kv.key+" is in another account than the tenant's "+account)
		}
	}
	return bad
}
