package v1alpha1

// Condition types on BlueTenant.status.conditions.
const (
	ConditionReady       = "Ready"
	ConditionProgressing = "Progressing"
	ConditionDegraded    = "Degraded"
	// ConditionClientAccess is the client's side as the tenant's server last
	// found it: True when its Infisical settings, its role's trust and its
	// storage (or API) let the tenant in; False with the reason when the
	// client withdrew or broke something (AccessRevoked, AssumeRoleDenied,
	// StorageMissing, StorageNotEncrypted, APIRefused, ...); Unknown while it
	// cannot be told. The reasons are api/contract's Access* ones, plus
	// NoServerRunning and ReportUnreadable from the operator itself.
	ConditionClientAccess = "ClientAccess"
)

// Condition reasons.
const (
	ReasonAvailable             = "Available"
	ReasonReconciling           = "Reconciling"
	ReasonRollingOut            = "RollingOut"
	ReasonDeploymentUnavailable = "DeploymentUnavailable"
	ReasonSuspended             = "Suspended"
	ReasonNamespaceConflict     = "NamespaceConflict"
	ReasonNamespaceTerminating  = "NamespaceTerminating"
	ReasonHostConflict          = "HostConflict"
	ReasonHopRoleUnset          = "HopRoleUnset"
	ReasonApplyFailed           = "ApplyFailed"
	ReasonAsExpected            = "AsExpected"
	// ClientAccess reasons the operator sets itself.
	ReasonNoServerRunning  = "NoServerRunning"
	ReasonReportUnreadable = "ReportUnreadable"
)
