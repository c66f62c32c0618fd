package controllers

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"

	bluev1 "github.com/superviber/blue-operator/api/v1alpha1"
)

// deployment is the server Deployment as the API server reports it.
func deployment(gen, observed int64, replicas, updated, available int32, availableCond bool) *appsv1ac.DeploymentApplyConfiguration {
	st := appsv1ac.DeploymentStatus().WithObservedGeneration(observed).
		WithReplicas(replicas).WithUpdatedReplicas(updated).WithAvailableReplicas(available)
	if availableCond {
		st = st.WithConditions(appsv1ac.DeploymentCondition().WithType(appsv1.DeploymentAvailable).WithStatus(corev1.ConditionTrue))
	}
	dep := appsv1ac.Deployment(ServerName, "blue-acme").WithStatus(st)
	dep.Generation = &gen
	return dep
}

// want is one condition's expected status and reason.
type want struct {
	status metav1.ConditionStatus
	reason string
}

func TestStatusBuilder(t *testing.T) {
	ready := []metav1.Condition{{Type: bluev1.ConditionReady, Status: metav1.ConditionTrue, Reason: bluev1.ReasonAvailable}}
	for _, tc := range []struct {
		name      string
		mutate    func(*bluev1.BlueTenant)
		before    []metav1.Condition
		apply     func(*statusBuilder)
		wantReady int32
		want      map[string]want
	}{
		{
			name:      "every replica available",
			apply:     func(s *statusBuilder) { s.fromDeployment(deployment(2, 2, 1, 1, 1, true)) },
			wantReady: 1,
			want: map[string]want{
				bluev1.ConditionReady:       {metav1.ConditionTrue, bluev1.ReasonAvailable},
				bluev1.ConditionProgressing: {metav1.ConditionFalse, bluev1.ReasonAvailable},
				bluev1.ConditionDegraded:    {metav1.ConditionFalse, bluev1.ReasonAsExpected},
			},
		},
		{
			name:  "rolling out: old generation not yet observed",
			apply: func(s *statusBuilder) { s.fromDeployment(deployment(3, 2, 1, 1, 1, true)) },
			// Still serving from the old pods.
			wantReady: 1,
			want: map[string]want{
				bluev1.ConditionReady:       {metav1.ConditionTrue, bluev1.ReasonAvailable},
				bluev1.ConditionProgressing: {metav1.ConditionTrue, bluev1.ReasonRollingOut},
			},
		},
		{
			name:  "rolling out: a surge pod still counted",
			apply: func(s *statusBuilder) { s.fromDeployment(deployment(2, 2, 2, 1, 1, true)) },
			// One updated, but two pods exist: the old one is not gone yet.
			wantReady: 1,
			want: map[string]want{
				bluev1.ConditionProgressing: {metav1.ConditionTrue, bluev1.ReasonRollingOut},
			},
		},
		{
			name:      "no replica available",
			apply:     func(s *statusBuilder) { s.fromDeployment(deployment(1, 1, 1, 1, 0, false)) },
			wantReady: 0,
			want: map[string]want{
				bluev1.ConditionReady:       {metav1.ConditionFalse, bluev1.ReasonDeploymentUnavailable},
				bluev1.ConditionProgressing: {metav1.ConditionTrue, bluev1.ReasonRollingOut},
			},
		},
		{
			name:      "a Deployment with no status yet",
			apply:     func(s *statusBuilder) { s.fromDeployment(appsv1ac.Deployment(ServerName, "blue-acme")) },
			wantReady: 0,
			want: map[string]want{
				bluev1.ConditionReady:       {metav1.ConditionFalse, bluev1.ReasonDeploymentUnavailable},
				bluev1.ConditionProgressing: {metav1.ConditionTrue, bluev1.ReasonRollingOut},
			},
		},
		{
			name:      "suspended",
			mutate:    func(bt *bluev1.BlueTenant) { bt.Spec.Suspend = true },
			apply:     func(s *statusBuilder) { s.fromDeployment(deployment(2, 2, 1, 1, 1, true)) },
			wantReady: 0,
			want: map[string]want{
				bluev1.ConditionReady:       {metav1.ConditionFalse, bluev1.ReasonSuspended},
				bluev1.ConditionProgressing: {metav1.ConditionFalse, bluev1.ReasonSuspended},
				bluev1.ConditionDegraded:    {metav1.ConditionFalse, bluev1.ReasonAsExpected},
			},
		},
		{
			name:  "namespace conflict",
			apply: func(s *statusBuilder) { s.conflict("namespace blue-acme exists") },
			want: map[string]want{
				bluev1.ConditionReady:       {metav1.ConditionFalse, bluev1.ReasonNamespaceConflict},
				bluev1.ConditionProgressing: {metav1.ConditionFalse, bluev1.ReasonNamespaceConflict},
				bluev1.ConditionDegraded:    {metav1.ConditionTrue, bluev1.ReasonNamespaceConflict},
			},
		},
		{
			name:   "degraded keeps what Ready last said",
			before: ready,
			apply:  func(s *statusBuilder) { s.degraded(bluev1.ReasonApplyFailed, "apply Deployment: forbidden") },
			want: map[string]want{
				bluev1.ConditionReady:       {metav1.ConditionTrue, bluev1.ReasonAvailable},
				bluev1.ConditionProgressing: {metav1.ConditionFalse, bluev1.ReasonApplyFailed},
				bluev1.ConditionDegraded:    {metav1.ConditionTrue, bluev1.ReasonApplyFailed},
			},
		},
		{
			name:  "degraded before Ready was ever set",
			apply: func(s *statusBuilder) { s.degraded(bluev1.ReasonHopRoleUnset, "no hop role") },
			want: map[string]want{
				bluev1.ConditionReady:    {metav1.ConditionFalse, bluev1.ReasonHopRoleUnset},
				bluev1.ConditionDegraded: {metav1.ConditionTrue, bluev1.ReasonHopRoleUnset},
			},
		},
		{
			name:   "progressing while the namespace terminates",
			before: ready,
			apply:  func(s *statusBuilder) { s.progressing(bluev1.ReasonNamespaceTerminating, "waiting") },
			want: map[string]want{
				bluev1.ConditionReady:       {metav1.ConditionFalse, bluev1.ReasonNamespaceTerminating},
				bluev1.ConditionProgressing: {metav1.ConditionTrue, bluev1.ReasonNamespaceTerminating},
				bluev1.ConditionDegraded:    {metav1.ConditionFalse, bluev1.ReasonAsExpected},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bt := unitTenant()
			bt.Generation = 7
			bt.Status.Conditions = tc.before
			if tc.mutate != nil {
				tc.mutate(bt)
			}
			s := newStatus(bt)
			tc.apply(s)
			got := s.build()
			if got.ObservedGeneration != 7 || got.Namespace != "blue-acme" || got.Endpoint != "https://acme.mcp.example.com/mcp" {
				t.Errorf("observedGeneration %d, namespace %q, endpoint %q", got.ObservedGeneration, got.Namespace, got.Endpoint)
			}
			if got.ReadyReplicas != tc.wantReady {
				t.Errorf("readyReplicas = %d, want %d", got.ReadyReplicas, tc.wantReady)
			}
			for typ, w := range tc.want {
				c := meta.FindStatusCondition(got.Conditions, typ)
				if c == nil {
					t.Errorf("no %s condition", typ)
					continue
				}
				if c.Status != w.status || c.Reason != w.reason {
					t.Errorf("%s = %s/%s, want %s/%s", typ, c.Status, c.Reason, w.status, w.reason)
				}
				wantGen := int64(7)
				if kept := meta.FindStatusCondition(tc.before, typ); kept != nil && kept.Status == c.Status && kept.Reason == c.Reason {
					wantGen = kept.ObservedGeneration // untouched: as the last reconcile wrote it
				}
				if c.ObservedGeneration != wantGen {
					t.Errorf("%s observedGeneration = %d, want %d", typ, c.ObservedGeneration, wantGen)
				}
			}
		})
	}
}

// An unchanged world builds an equal status, transition times included, so
// an idle operator writes nothing.
func TestStatusUnchangedWorldIsEqual(t *testing.T) {
	bt := unitTenant()
	dep := deployment(1, 1, 1, 1, 1, true)
	first := newStatus(bt)
	first.fromDeployment(dep)
	bt.Status = first.build()
	past := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	for i := range bt.Status.Conditions {
		bt.Status.Conditions[i].LastTransitionTime = past
	}

	again := newStatus(bt)
	again.fromDeployment(dep)
	if !statusEqual(bt.Status, again.build()) {
		t.Fatalf("status changed in an unchanged world:\n%+v\n%+v", bt.Status, again.build())
	}

	changed := newStatus(bt)
	changed.fromDeployment(deployment(1, 1, 1, 1, 0, false))
	next := changed.build()
	if statusEqual(bt.Status, next) {
		t.Fatal("losing the replica did not change the status")
	}
	if c := meta.FindStatusCondition(next.Conditions, bluev1.ConditionReady); c.LastTransitionTime.Equal(&past) {
		t.Error("Ready changed but kept its old transition time")
	}
	if c := meta.FindStatusCondition(next.Conditions, bluev1.ConditionDegraded); !c.LastTransitionTime.Equal(&past) {
		t.Error("Degraded did not change but got a new transition time")
	}
}

func TestReadPastCache(t *testing.T) {
	at := metav1.NewTime(time.Date(2026, 12, 2, 1, 33, 6, 0, time.UTC))
	ready := bluev1.BlueTenantStatus{ObservedGeneration: 2, Conditions: []metav1.Condition{
		{Type: bluev1.ConditionReady, Status: metav1.ConditionTrue, Reason: bluev1.ReasonAsExpected, LastTransitionTime: at}}}
	degraded := bluev1.BlueTenantStatus{ObservedGeneration: 2, Conditions: []metav1.Condition{
		{Type: bluev1.ConditionDegraded, Status: metav1.ConditionTrue, Reason: bluev1.ReasonApplyFailed, LastTransitionTime: at}}}
	// Sub-second times are not stored: what the server gives back matches
	// what was written.
	readyNanos := *ready.DeepCopy()
	readyNanos.Conditions[0].LastTransitionTime = metav1.NewTime(at.Add(123 * time.Millisecond))
	cases := []struct {
		name        string
		cached      bluev1.BlueTenantStatus
		lastWritten *bluev1.BlueTenantStatus
		want        bool
	}{
		{"nothing written since start: the cache is all there is", ready, nil, false},
		{"the cache holds the last write", ready, &ready, false},
		{"the last write as the server stores it", ready, &readyNanos, false},
		{"the cache is behind a write (watch down)", ready, &degraded, true},
		{"someone else wrote the status", degraded, &ready, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var last uint64
			if c.lastWritten != nil {
				last = statusFingerprint(*c.lastWritten)
			}
			if got := readPastCache(c.cached, last, c.lastWritten != nil); got != c.want {
				t.Errorf("readPastCache = %v, want %v", got, c.want)
			}
		})
	}
}

func TestStatusMemory(t *testing.T) {
	var m statusMemory
	s := bluev1.BlueTenantStatus{ObservedGeneration: 3}
	if _, ok := m.lastWritten("a"); ok {
		t.Fatal("a fresh memory has a write")
	}
	m.wrote("a", s)
	if f, ok := m.lastWritten("a"); !ok || f != statusFingerprint(s) {
		t.Errorf("lastWritten = %d, %v", f, ok)
	}
	m.forget("a")
	if _, ok := m.lastWritten("a"); ok {
		t.Error("a forgotten tenant still has a write")
	}
}
