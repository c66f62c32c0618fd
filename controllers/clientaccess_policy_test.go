package controllers

import (
	"strings"
	"testing"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/superviber/blue-operator/api/contract"
	bluev1 "github.com/superviber/blue-operator/api/v1alpha1"
)

func TestClientAccessCondition(t *testing.T) {
	report := func(st contract.AccessStatus, reason, msg string) *contract.AccessReport {
		return &contract.AccessReport{Status: st, Reason: reason, Message: msg}
	}
	cases := []struct {
		name      string
		suspended bool
		o         accessObservation
		status    metav1.ConditionStatus
		reason    string
		msg       string // contained in the message
	}{
		{"granted", false, accessObservation{Pods: 1, Report: report(contract.AccessTrue, contract.AccessGranted, "ok")}, metav1.ConditionTrue, contract.AccessGranted, "ok"},
		{"revoked", false, accessObservation{Pods: 2, Report: report(contract.AccessFalse, contract.AccessRevoked, "Infisical refused")}, metav1.ConditionFalse, contract.AccessRevoked, "Infisical refused"},
		{"trust removed", false, accessObservation{Pods: 1, Report: report(contract.AccessFalse, contract.AccessAssumeRoleDenied, "trust policy")}, metav1.ConditionFalse, contract.AccessAssumeRoleDenied, "trust policy"},
		{"loading", false, accessObservation{Pods: 1, Report: report(contract.AccessUnknown, contract.AccessSettingsLoading, "")}, metav1.ConditionUnknown, contract.AccessSettingsLoading, ""},
		{"suspended wins", true, accessObservation{Pods: 1, Report: report(contract.AccessFalse, contract.AccessRevoked, "")}, metav1.ConditionUnknown, bluev1.ReasonSuspended, "spec.suspend"},
		{"no pod", false, accessObservation{}, metav1.ConditionUnknown, bluev1.ReasonNoServerRunning, "no server pod"},
		{"unreadable", false, accessObservation{Pods: 1, ReadErr: "the metrics port answered HTTP 404"}, metav1.ConditionUnknown, bluev1.ReasonReportUnreadable, "HTTP 404"},
		// A pod that does not follow the contract cannot set any reason or
		// a status its reason does not have.
		{"made-up reason", false, accessObservation{Pods: 1, Report: report(contract.AccessTrue, "AllGoodTrustMe", "")}, metav1.ConditionUnknown, bluev1.ReasonReportUnreadable, "contract"},
		{"status not the reason's", false, accessObservation{Pods: 1, Report: report(contract.AccessTrue, contract.AccessRevoked, "")}, metav1.ConditionUnknown, bluev1.ReasonReportUnreadable, "contract"},
		{"bad status", false, accessObservation{Pods: 1, Report: report("Maybe", contract.AccessGranted, "")}, metav1.ConditionUnknown, bluev1.ReasonReportUnreadable, "contract"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, reason, msg := clientAccessCondition(c.suspended, c.o)
			if st != c.status || reason != c.reason || !strings.Contains(msg, c.msg) {
				t.Errorf("got %s %s %q, want %s %s containing %q", st, reason, msg, c.status, c.reason, c.msg)
			}
		})
	}
}

// A pod's message is cut and cleaned before it reaches the status.
func TestClientAccessMessageIsBounded(t *testing.T) {
	long := strings.Repeat("é", contract.MaxAccessMessage) + "\x1b[31m\n"
	_, _, msg := clientAccessCondition(false, accessObservation{Pods: 1, Report: &contract.AccessReport{Status: contract.AccessTrue, Reason: contract.AccessGranted, Message: long}})
	if len(msg) > contract.MaxAccessMessage || !utf8.ValidString(msg) || strings.ContainsAny(msg, "\x1b\n") {
		t.Errorf("message of %d bytes, valid %v: %q", len(msg), utf8.ValidString(msg), msg[:20])
	}
	if got := cleanMessage("a\tb\x00c"); got != "a b c" {
		t.Errorf("cleanMessage = %q", got)
	}
}

func TestAccessRankPrefersTheWorst(t *testing.T) {
	if !(accessRank(contract.AccessFalse) < accessRank(contract.AccessUnknown) && accessRank(contract.AccessUnknown) < accessRank(contract.AccessTrue)) {
		t.Error("False < Unknown < True does not hold")
	}
}

// The poller wakes a reconcile only when the condition would change; a new
// tenant without a server is left to its next reconcile.
func TestNeedsReconcile(t *testing.T) {
	granted := accessObservation{Pods: 1, Report: &contract.AccessReport{Status: contract.AccessTrue, Reason: contract.AccessGranted, Message: "ok"}}
	with := func(conds ...metav1.Condition) *bluev1.BlueTenant {
		return &bluev1.BlueTenant{Status: bluev1.BlueTenantStatus{Conditions: conds}}
	}
	cond := func(st metav1.ConditionStatus, reason, msg string) metav1.Condition {
		return metav1.Condition{Type: bluev1.ConditionClientAccess, Status: st, Reason: reason, Message: msg}
	}
	cases := []struct {
		name string
		t    *bluev1.BlueTenant
		o    accessObservation
		want bool
	}{
		{"new tenant, no pod yet", with(), accessObservation{}, false},
		{"new tenant, first report", with(), granted, true},
		{"unchanged", with(cond(metav1.ConditionTrue, contract.AccessGranted, "ok")), granted, false},
		{"message changed", with(cond(metav1.ConditionTrue, contract.AccessGranted, "before")), granted, true},
		{"revoked", with(cond(metav1.ConditionTrue, contract.AccessGranted, "ok")), accessObservation{Pods: 1, Report: &contract.AccessReport{Status: contract.AccessFalse, Reason: contract.AccessRevoked}}, true},
		{"server gone", with(cond(metav1.ConditionTrue, contract.AccessGranted, "ok")), accessObservation{}, true},
	}
	for _, c := range cases {
		if got := needsReconcile(c.t, c.o); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
