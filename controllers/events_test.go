package controllers

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	bluev1 "github.com/superviber/blue-operator/api/v1alpha1"
)

func cond(typ string, status metav1.ConditionStatus, reason string) *metav1.Condition {
	return &metav1.Condition{Type: typ, Status: status, Reason: reason}
}

func TestConditionEvent(t *testing.T) {
	const (
		tru = metav1.ConditionTrue
		fls = metav1.ConditionFalse
	)
	for _, tc := range []struct {
		name     string
		old      *metav1.Condition
		next     *metav1.Condition
		wantType string // "" means no event
	}{
		{"unchanged Ready", cond(bluev1.ConditionReady, tru, bluev1.ReasonAvailable), cond(bluev1.ConditionReady, tru, bluev1.ReasonAvailable), ""},
		{"unchanged problem is not repeated", cond(bluev1.ConditionDegraded, tru, bluev1.ReasonApplyFailed), cond(bluev1.ConditionDegraded, tru, bluev1.ReasonApplyFailed), ""},
		{"a rollout starting is noise", cond(bluev1.ConditionProgressing, fls, bluev1.ReasonAvailable), cond(bluev1.ConditionProgressing, tru, bluev1.ReasonRollingOut), ""},
		{"a new tenant's rollout is noise", nil, cond(bluev1.ConditionProgressing, tru, bluev1.ReasonRollingOut), ""},
		{"a new tenant starting up is not news", nil, cond(bluev1.ConditionReady, fls, bluev1.ReasonDeploymentUnavailable), ""},
		{"a new tenant's AsExpected is not news", nil, cond(bluev1.ConditionDegraded, fls, bluev1.ReasonAsExpected), ""},
		{"a problem from the start is", nil, cond(bluev1.ConditionDegraded, tru, bluev1.ReasonNamespaceConflict), corev1.EventTypeWarning},
		{"suspended from the start is", nil, cond(bluev1.ConditionReady, fls, bluev1.ReasonSuspended), corev1.EventTypeNormal},
		{"becoming Ready", cond(bluev1.ConditionReady, fls, bluev1.ReasonDeploymentUnavailable), cond(bluev1.ConditionReady, tru, bluev1.ReasonAvailable), corev1.EventTypeNormal},
		{"losing Ready warns", cond(bluev1.ConditionReady, tru, bluev1.ReasonAvailable), cond(bluev1.ConditionReady, fls, bluev1.ReasonDeploymentUnavailable), corev1.EventTypeWarning},
		{"suspension is not a warning", cond(bluev1.ConditionReady, tru, bluev1.ReasonAvailable), cond(bluev1.ConditionReady, fls, bluev1.ReasonSuspended), corev1.EventTypeNormal},
		{"a new reason while unready is news", cond(bluev1.ConditionReady, fls, bluev1.ReasonDeploymentUnavailable), cond(bluev1.ConditionReady, fls, bluev1.ReasonNamespaceTerminating), corev1.EventTypeWarning},
		{"degraded warns", cond(bluev1.ConditionDegraded, fls, bluev1.ReasonAsExpected), cond(bluev1.ConditionDegraded, tru, bluev1.ReasonApplyFailed), corev1.EventTypeWarning},
		{"recovering is news", cond(bluev1.ConditionDegraded, tru, bluev1.ReasonApplyFailed), cond(bluev1.ConditionDegraded, fls, bluev1.ReasonAsExpected), corev1.EventTypeNormal},
		{"a rollout finishing is news", cond(bluev1.ConditionProgressing, tru, bluev1.ReasonRollingOut), cond(bluev1.ConditionProgressing, fls, bluev1.ReasonAvailable), corev1.EventTypeNormal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gotType, record := conditionEvent(tc.old, *tc.next)
			if record != (tc.wantType != "") || gotType != tc.wantType {
				t.Errorf("conditionEvent = (%q, %v), want (%q, %v)", gotType, record, tc.wantType, tc.wantType != "")
			}
		})
	}
}
