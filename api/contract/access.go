package contract

import "time"

// The client-access report: each server checks its client's side (the
// Infisical settings, a fresh AssumeRole into the client role, the bucket and
// table or the client's API) and serves the verdict as JSON at AccessPath on
// the metrics port; the operator reads it into the BlueTenant's ClientAccess
// condition. Its message is fixed text and setting names, never a value.

// AccessPath is where the report is served on PortMetrics.
const AccessPath = "/access"

// AccessStatus is a report's verdict, as a Kubernetes condition status.
type AccessStatus string

// The statuses: True, the client lets the tenant in; False, the client's
// side refuses or lacks something; Unknown, it could not be told.
const (
	AccessTrue    AccessStatus = "True"
	AccessFalse   AccessStatus = "False"
	AccessUnknown AccessStatus = "Unknown"
)

// The reasons, one word each: the condition's reason and the column of
// kubectl get bluetenants.
const (
	AccessGranted              = "AccessGranted"
	AccessSettingsLoading      = "SettingsLoading"
	AccessInfisicalUnreachable = "InfisicalUnreachable"
	AccessRevoked              = "AccessRevoked"
	AccessSettingsIncomplete   = "SettingsIncomplete"
	AccessOutsideAccount       = "SettingsOutsideAccount"
	AccessAssumeRoleDenied     = "AssumeRoleDenied"
	AccessSTSUnreachable       = "STSUnreachable"
	AccessStorageMissing       = "StorageMissing"
	AccessStorageNotEncrypted  = "StorageNotEncrypted"
	AccessStorageDenied        = "StorageDenied"
	AccessStorageUnreachable   = "StorageUnreachable"
	AccessAPIRefused           = "APIRefused"
	AccessAPIUnreachable       = "APIUnreachable"
)

// AccessReasons maps every reason to the status it comes with.
var AccessReasons = map[string]AccessStatus{
	AccessGranted: AccessTrue, AccessSettingsLoading: AccessUnknown, AccessInfisicalUnreachable: AccessUnknown,
	AccessRevoked: AccessFalse, AccessSettingsIncomplete: AccessFalse, AccessOutsideAccount: AccessFalse,
	AccessAssumeRoleDenied: AccessFalse, AccessSTSUnreachable: AccessUnknown,
	AccessStorageMissing: AccessFalse, AccessStorageNotEncrypted: AccessFalse, AccessStorageDenied: AccessFalse, AccessStorageUnreachable: AccessUnknown,
	AccessAPIRefused: AccessFalse, AccessAPIUnreachable: AccessUnknown,
}

// The data modes a report names.
const (
	AccessModeDirect = "direct" // the server reads the client's bucket and table
	AccessModeAPI    = "api"    // the server calls the client's API Gateway
)

// AccessReport is the answer of one check.
type AccessReport struct {
	Status  AccessStatus `json:"status"`
	Reason  string       `json:"reason"`
	Message string       `json:"message"`
	// Mode is the data mode the settings chose, once they were read.
	Mode      string    `json:"mode,omitempty"`
	CheckedAt time.Time `json:"checkedAt"`
}

// MaxAccessMessage bounds the message the operator copies into a condition.
const MaxAccessMessage = 512
