package v1alpha1

// Condition types on BlueTenant.status.conditions.
const (
	ConditionReady       = "Ready"
	ConditionProgressing = "Progressing"
	ConditionDegraded    = "Degraded"
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
)
