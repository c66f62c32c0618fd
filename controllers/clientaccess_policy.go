package controllers

import (
	"strings"
	"unicode"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/superviber/blue-operator/api/contract"
	bluev1 "github.com/superviber/blue-operator/api/v1alpha1"
)

// accessObservation is what the access poller last saw of one tenant's
// servers.
type accessObservation struct {
	// Pods is how many server pods had an address to read.
	Pods int
	// Report is the worst report read from them (False before Unknown
	// before True); nil when none could be read.
	Report *contract.AccessReport
	// ReadErr says why no report could be read (the operator's own words:
	// an HTTP status or a connection error, never the pod's answer).
	ReadErr string
}

// clientAccessCondition is the ClientAccess condition for what the poller
// saw. The server's report is trusted only as far as the contract goes: an
// unknown reason, or a status that is not the reason's, makes the condition
// Unknown, and the message is cut to contract.MaxAccessMessage printable
// characters, so a misbehaving pod cannot write arbitrary text into the
// tenant's status or events.
func clientAccessCondition(suspended bool, o accessObservation) (metav1.ConditionStatus, string, string) {
	switch {
	case suspended:
		return metav1.ConditionUnknown, bluev1.ReasonSuspended, "spec.suspend is true: no server checks the client's side"
	case o.Pods == 0:
		return metav1.ConditionUnknown, bluev1.ReasonNoServerRunning, "no server pod is running to check the client's side"
	case o.Report == nil:
		return metav1.ConditionUnknown, bluev1.ReasonReportUnreadable, "the server's client-access report could not be read: " + o.ReadErr
	}
	want, known := contract.AccessReasons[o.Report.Reason]
	if !known || want != o.Report.Status {
		return metav1.ConditionUnknown, bluev1.ReasonReportUnreadable, "the server's client-access report does not follow the contract"
	}
	return metav1.ConditionStatus(o.Report.Status), o.Report.Reason, cleanMessage(o.Report.Message)
}

// cleanMessage keeps printable characters and cuts at the contract's bound.
func cleanMessage(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return ' '
	}, s)
	if len(s) > contract.MaxAccessMessage {
		// A cut inside a multi-byte rune leaves invalid bytes: drop them.
		s = strings.ToValidUTF8(s[:contract.MaxAccessMessage], "")
	}
	return s
}

// accessRank orders reports worst first: a False from any pod wins.
func accessRank(s contract.AccessStatus) int {
	switch s {
	case contract.AccessFalse:
		return 0
	case contract.AccessUnknown:
		return 1
	}
	return 2
}
