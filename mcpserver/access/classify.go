package access

import (
	"crypto/x509"
	"errors"
	"strings"

	"github.com/aws/smithy-go"

	"github.com/superviber/blue-operator/mcpserver/apigw"
	"github.com/superviber/blue-operator/mcpserver/awscreds"
	"github.com/superviber/blue-operator/mcpserver/tenantconfig"
)

// The verdicts below are pure: an error (and what the check knows) in, a
// report out. Messages are fixed text plus setting names; the errors' own
// text is never copied, since it can carry values from the client's
// workspace or AWS's messages naming Superviber's roles.

// FromSettings is the verdict on the settings source's error (nil: loaded);
// problems are its Problems (key names or account ids).
func FromSettings(err error, problems []string) (Report, bool) {
	switch {
	case err == nil:
		return Report{}, true
	case errors.Is(err, tenantconfig.ErrRevoked):
		return New(ReasonRevoked, "the client's Infisical refused the tenant's identity: access was revoked or the machine identity removed from the project"), false
	case errors.Is(err, tenantconfig.ErrIncomplete):
		return New(ReasonSettingsIncomplete, "the client's Infisical folder lacks "+strings.Join(problems, ", ")), false
	case errors.Is(err, tenantconfig.ErrOutsideAccount):
		return New(ReasonOutsideAccount, "refused settings: "+strings.Join(problems, "; ")), false
	case errors.Is(err, tenantconfig.ErrNotLoaded):
		return New(ReasonSettingsLoading, "the settings have not been read from the client's Infisical yet"), false
	}
	return New(ReasonInfisicalUnreachable, "the client's Infisical has not answered for longer than the grace period"), false
}

// FromAssume is the verdict on a fresh sts:AssumeRole into the client role.
func FromAssume(err error) (Report, bool) {
	if err == nil {
		return Report{}, true
	}
	var ae *awscreds.AssumeError
	if errors.As(err, &ae) {
		switch ae.Outcome {
		case awscreds.OutcomeDenied:
			if ae.SourceIdentityRefused() {
				return New(ReasonAssumeRoleDenied, "the client role's trust policy does not grant sts:SetSourceIdentity to the tenant's hop role"), false
			}
			return New(ReasonAssumeRoleDenied, "the client role refused sts:AssumeRole: its trust policy no longer names the tenant's hop role or no longer requires the issued ExternalId"), false
		case awscreds.OutcomeInvalid:
			return New(ReasonAssumeRoleDenied, "STS refused the request for AWS_ROLE_ARN as invalid"), false
		case awscreds.OutcomeHopCredentials:
			return New(ReasonSTSUnreachable, "the pod's own AWS identity (the hop role) is unavailable or rejected"), false
		}
	}
	if errors.Is(err, awscreds.ErrNotConfigured) {
		return New(ReasonSettingsIncomplete, "the client's Infisical folder lacks AWS_ROLE_ARN"), false
	}
	return New(ReasonSTSUnreachable, "STS did not answer the AssumeRole"), false
}

// FromAPI is the verdict on a signed read of the client's API.
func FromAPI(err error) Report {
	var refused *apigw.RefusedError
	switch {
	case err == nil:
		return New(ReasonGranted, "the client's API answers the signed requests of the client role")
	case errors.As(err, &refused):
		return New(ReasonAPIRefused, "the client's API refused the signed request: its resource policy or the client role's execute-api:Invoke policy does not allow it")
	case errors.As(err, new(x509.UnknownAuthorityError)):
		// Nothing signed was sent: the handshake came first.
		return New(ReasonAPIUnreachable, "the client's API shows a certificate signed by a CA the server does not trust (x509: certificate signed by unknown authority): if a private CA signs it, give that CA in spec.aws.apiCABundle")
	case errors.As(err, new(x509.HostnameError)):
		return New(ReasonAPIUnreachable, "the client's API shows a certificate for another host name than API_ENDPOINT's")
	}
	return New(ReasonAPIUnreachable, "the client's API did not answer the signed request")
}

// Storage is what the check read of the client's storage.
type Storage struct {
	// BucketErr and TableErr are the errors of reading the bucket's
	// encryption and describing the table.
	BucketErr, TableErr error
	// BucketSSE and BucketKey are the bucket's default encryption
	// algorithm and key; TableSSE and TableKey the table's SSE type
	// ("KMS") and key ARN (with TableSSEOn its status ENABLED).
	BucketSSE, BucketKey string
	TableSSE, TableKey   string
	TableSSEOn           bool
	// WantKey is BLUE_KMS_KEY_ID.
	WantKey string
}

// FromStorage is the verdict on the bucket and the table.
func FromStorage(s Storage) Report {
	for _, part := range []struct {
		err        error
		key, thing string
	}{{s.BucketErr, tenantconfig.KeyBucket, "bucket"}, {s.TableErr, tenantconfig.KeyTable, "table"}} {
		if part.err == nil {
			continue
		}
		code := ""
		var api smithy.APIError
		if errors.As(part.err, &api) {
			code = api.ErrorCode()
		}
		switch code {
		case "NoSuchBucket", "ResourceNotFoundException":
			return New(ReasonStorageMissing, "the "+part.thing+" named in "+part.key+" does not exist")
		case "AccessDenied", "AccessDeniedException", "Forbidden":
			return New(ReasonStorageDenied, "the client role may not read the "+part.thing+" named in "+part.key+" (its policy, or the "+part.thing+" belongs to another account)")
		case "ServerSideEncryptionConfigurationNotFoundError":
			return New(ReasonStorageNotEncrypted, "the bucket named in "+tenantconfig.KeyBucket+" has no default encryption")
		}
		return New(ReasonStorageUnreachable, "the "+part.thing+" named in "+part.key+" did not answer")
	}
	if !strings.HasPrefix(s.BucketSSE, "aws:kms") || !SameKey(s.WantKey, s.BucketKey) {
		return New(ReasonStorageNotEncrypted, "the bucket named in "+tenantconfig.KeyBucket+" is not encrypted by default with SSE-KMS under the key in "+tenantconfig.KeyKMSKeyID)
	}
	if !s.TableSSEOn || s.TableSSE != "KMS" || !SameKey(s.WantKey, s.TableKey) {
		return New(ReasonStorageNotEncrypted, "the table named in "+tenantconfig.KeyTable+" is not encrypted with the key in "+tenantconfig.KeyKMSKeyID)
	}
	return New(ReasonGranted, "the client role reaches the bucket and table, both encrypted under the client's key")
}

// SameKey reports whether two references name the same KMS key: equal, or
// a key ARN and its key id.
func SameKey(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	id := func(s string) string {
		if i := strings.LastIndex(s, ":key/"); i >= 0 {
			return s[i+len(":key/"):]
		}
		return s
	}
	return a == b || id(a) == id(b)
}
