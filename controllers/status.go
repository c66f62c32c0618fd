package controllers

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"

	bluev1 "github.com/superviber/blue-operator/api/v1alpha1"
)

// statusBuilder collects what one reconcile learnt and turns it into a
// status, keeping transition times of conditions that did not change.
type statusBuilder struct {
	tenant *bluev1.BlueTenant
	next   bluev1.BlueTenantStatus
	// namespaceCreated: this reconcile made the tenant's namespace.
	namespaceCreated bool
}

func newStatus(t *bluev1.BlueTenant) *statusBuilder {
	next := bluev1.BlueTenantStatus{
		ObservedGeneration: t.Generation,
		Namespace:          NamespaceFor(t.Name),
		Endpoint:           EndpointURL(t),
		Replicas:           effectiveFor(t).Running,
		ReadyReplicas:      t.Status.ReadyReplicas,
	}
	for _, c := range t.Status.Conditions {
		next.Conditions = append(next.Conditions, *c.DeepCopy())
	}
	return &statusBuilder{tenant: t, next: next}
}

func (s *statusBuilder) set(condType string, status metav1.ConditionStatus, reason, msg string) {
	meta.SetStatusCondition(&s.next.Conditions, metav1.Condition{
		Type: condType, Status: status, Reason: reason, Message: msg,
		ObservedGeneration: s.tenant.Generation,
	})
}

// conflict: a person must act before the tenant can run.
func (s *statusBuilder) conflict(msg string) {
	s.set(bluev1.ConditionDegraded, metav1.ConditionTrue, bluev1.ReasonNamespaceConflict, msg)
	s.set(bluev1.ConditionReady, metav1.ConditionFalse, bluev1.ReasonNamespaceConflict, msg)
	s.set(bluev1.ConditionProgressing, metav1.ConditionFalse, bluev1.ReasonNamespaceConflict, msg)
}

// hostConflict: another BlueTenant owns the endpoint host; this one does
// not run until a person changes one of them.
func (s *statusBuilder) hostConflict(msg string) {
	s.set(bluev1.ConditionDegraded, metav1.ConditionTrue, bluev1.ReasonHostConflict, msg)
	s.set(bluev1.ConditionReady, metav1.ConditionFalse, bluev1.ReasonHostConflict, msg)
	s.set(bluev1.ConditionProgressing, metav1.ConditionFalse, bluev1.ReasonHostConflict, msg)
}

// degraded: the operator could not do what the spec asks. Ready keeps what it
// last said (the server may well still serve) unless it was never set.
func (s *statusBuilder) degraded(reason, msg string) {
	s.set(bluev1.ConditionDegraded, metav1.ConditionTrue, reason, msg)
	s.set(bluev1.ConditionProgressing, metav1.ConditionFalse, reason, msg)
	if meta.FindStatusCondition(s.next.Conditions, bluev1.ConditionReady) == nil {
		s.set(bluev1.ConditionReady, metav1.ConditionFalse, reason, msg)
	}
}

func (s *statusBuilder) progressing(reason, msg string) {
	s.set(bluev1.ConditionProgressing, metav1.ConditionTrue, reason, msg)
	s.set(bluev1.ConditionReady, metav1.ConditionFalse, reason, msg)
	s.set(bluev1.ConditionDegraded, metav1.ConditionFalse, bluev1.ReasonAsExpected, "")
}

// fromDeployment derives Ready and Progressing from the server Deployment as
// the API server last reported it. Ready follows the Deployment's Available
// condition: with maxUnavailable 0 that means every replica serves.
func (s *statusBuilder) fromDeployment(dep *appsv1ac.DeploymentApplyConfiguration) {
	s.set(bluev1.ConditionDegraded, metav1.ConditionFalse, bluev1.ReasonAsExpected, "")
	if s.tenant.Spec.Suspend {
		msg := "spec.suspend is true: the server is scaled to zero"
		s.next.ReadyReplicas = 0
		s.set(bluev1.ConditionReady, metav1.ConditionFalse, bluev1.ReasonSuspended, msg)
		s.set(bluev1.ConditionProgressing, metav1.ConditionFalse, bluev1.ReasonSuspended, msg)
		return
	}
	want := s.next.Replicas
	var st appsv1ac.DeploymentStatusApplyConfiguration
	if dep.Status != nil {
		st = *dep.Status
	}
	gen := int64(0)
	if dep.Generation != nil {
		gen = *dep.Generation
	}
	observed := st.ObservedGeneration != nil && *st.ObservedGeneration >= gen
	available, updated := deref(st.AvailableReplicas), deref(st.UpdatedReplicas)
	s.next.ReadyReplicas = available

	availableCond := false
	for _, c := range st.Conditions {
		if c.Type != nil && *c.Type == appsv1.DeploymentAvailable && c.Status != nil && *c.Status == corev1.ConditionTrue {
			availableCond = true
		}
	}
	counts := fmt.Sprintf("%d/%d replicas available", available, want)
	if availableCond && available > 0 {
		s.set(bluev1.ConditionReady, metav1.ConditionTrue, bluev1.ReasonAvailable, counts+" at "+EndpointURL(s.tenant))
	} else {
		s.set(bluev1.ConditionReady, metav1.ConditionFalse, bluev1.ReasonDeploymentUnavailable, counts)
	}
	if observed && updated >= want && available >= want && deref(st.Replicas) == want {
		s.set(bluev1.ConditionProgressing, metav1.ConditionFalse, bluev1.ReasonAvailable, "rollout complete")
	} else {
		s.set(bluev1.ConditionProgressing, metav1.ConditionTrue, bluev1.ReasonRollingOut,
			fmt.Sprintf("%d/%d replicas updated, %s", updated, want, counts))
	}
}

func deref(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}

func (s *statusBuilder) build() bluev1.BlueTenantStatus { return s.next }

// statusEqual compares statuses; conditions that kept their status keep their
// transition time, so an unchanged world compares equal.
func statusEqual(a, b bluev1.BlueTenantStatus) bool { return equality.Semantic.DeepEqual(a, b) }
