package awscreds

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// maxSessionNameLen is STS's limit on RoleSessionName.
const maxSessionNameLen = 64

// hashHexLen is how much of the SHA-256 of the raw name is appended when the
// name had to be altered: 64 bits, enough that two callers cannot be made to
// share a CloudTrail session name.
const hashHexLen = 16

// SessionName returns the RoleSessionName for a caller of a tenant:
// "blue-<tenant>-<caller>", or "blue-<tenant>" when caller is empty.
//
// The result always satisfies STS's rules (2 to 64 characters from
// [\w+=,.@-]) and is deterministic. Names that fit unchanged (most emails do)
// are kept verbatim so they read well in the client's CloudTrail. Otherwise
// every disallowed character becomes '_', the name is cut to fit, and a hash of
// the original is appended, so that callers that differ only in dropped or
// replaced characters (OIDC subjects such as "auth0|123", unicode names,
// long labels) still get distinct session names.
func SessionName(tenant, caller string) string {
	raw := "blue-" + tenant
	if caller != "" {
		raw += "-" + caller
	}
	return fit(raw)
}

// SourceIdentity returns the sts:SourceIdentity for a caller of a tenant: the
// caller itself (an engineer's email or OIDC subject), or "blue-<tenant>"
// for the server's own calls. Unlike the session name it stays on every
// session chained from this one and the client can write IAM conditions on
// it (sts:SourceIdentity, aws:SourceIdentity), so it names only the caller.
// The same rules as SessionName make it fit STS's (2 to 64 characters of
// [\w+=,.@-]); a caller STS would read as reserved ("aws:" prefix) cannot
// occur, since ':' is replaced.
func SourceIdentity(tenant, caller string) string {
	if caller == "" {
		return fit("blue-" + tenant)
	}
	if len(caller) < 2 {
		return fit("caller-" + caller)
	}
	return fit(caller)
}

// fit makes raw an STS name, keeping it verbatim when it already is one.
func fit(raw string) string {
	clean := sanitize(raw)
	if clean == raw && len(clean) <= maxSessionNameLen {
		return clean
	}
	sum := sha256.Sum256([]byte(raw))
	suffix := "-" + hex.EncodeToString(sum[:])[:hashHexLen]
	if keep := maxSessionNameLen - len(suffix); len(clean) > keep {
		clean = clean[:keep]
	}
	return clean + suffix
}

// sanitize replaces every rune outside STS's session-name alphabet with '_'.
// The result is ASCII, so byte slicing it is safe.
func sanitize(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if sessionNameRune(r) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

func sessionNameRune(r rune) bool {
	switch {
	case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
		return true
	}
	return strings.ContainsRune("_+=,.@-", r)
}
