package controllers

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	bluev1 "github.com/superviber/blue-operator/api/v1alpha1"
)

// conditionEvent decides whether a condition written by a reconcile is news
// worth an event on the BlueTenant, and of which type. old is the condition
// as the status held it before (nil when it is new), next as it will be.
//
// The rule: a change of status or reason is news, with three exceptions a
// person reading `kubectl describe` would not want: a rollout starting
// (every spec change rolls out), and a new tenant's conditions appearing
// while it starts up. A problem (Degraded=True) or a suspension is news even
// on a new tenant; so is the client's side refusing the tenant
// (ClientAccess=False). Problems, and a Ready tenant going unready for any
// reason but a suspension, are warnings.
func conditionEvent(old *metav1.Condition, next metav1.Condition) (eventType string, record bool) {
	if old != nil && old.Status == next.Status && old.Reason == next.Reason {
		return "", false
	}
	if next.Type == bluev1.ConditionProgressing && next.Status == metav1.ConditionTrue {
		return "", false
	}
	problem := next.Type == bluev1.ConditionDegraded && next.Status == metav1.ConditionTrue ||
		next.Type == bluev1.ConditionClientAccess && next.Status == metav1.ConditionFalse
	suspended := next.Reason == bluev1.ReasonSuspended
	if old == nil && !problem && !suspended {
		return "", false
	}
	lostReady := next.Type == bluev1.ConditionReady && next.Status == metav1.ConditionFalse && !suspended && old != nil
	if problem || lostReady {
		return corev1.EventTypeWarning, true
	}
	return corev1.EventTypeNormal, true
}
