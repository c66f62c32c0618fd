package controllers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/superviber/blue-operator/api/contract"
	bluev1 "github.com/superviber/blue-operator/api/v1alpha1"
	"github.com/superviber/blue-operator/controllers"
)

// metricsPort stands in for a tenant pod's metrics port: it serves whatever
// report the test sets.
type metricsPort struct {
	mu     sync.Mutex
	report any
	*httptest.Server
}

func newMetricsPort(t *testing.T) *metricsPort {
	m := &metricsPort{}
	m.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != contract.AccessPath {
			http.NotFound(w, r)
			return
		}
		m.mu.Lock()
		rep := m.report
		m.mu.Unlock()
		_ = json.NewEncoder(w).Encode(rep)
	}))
	t.Cleanup(m.Close)
	return m
}

func (m *metricsPort) set(rep any) {
	m.mu.Lock()
	m.report = rep
	m.mu.Unlock()
}

// pointPods makes the tenant's pods' metrics port the test server.
func pointPods(t *testing.T, tenant, addr string) {
	t.Helper()
	ctx := context.Background()
	var pods corev1.PodList
	if err := k8s.List(ctx, &pods, client.InNamespace(controllers.NamespaceFor(tenant))); err != nil || len(pods.Items) == 0 {
		t.Fatalf("pods of %s: %d (%v)", tenant, len(pods.Items), err)
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		base := p.DeepCopy()
		if p.Annotations == nil {
			p.Annotations = map[string]string{}
		}
		p.Annotations[testPortsAnnotation] = "http=127.0.0.1:1,metrics=" + addr
		if err := k8s.Patch(ctx, p, client.MergeFrom(base)); err != nil {
			t.Fatal(err)
		}
	}
}

// The operator reads each server's client-access report into the
// ClientAccess condition, with an event when it changes, and trusts the
// report only as far as the contract goes.
func TestClientAccessCondition(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	port := newMetricsPort(t)
	port.set(contract.AccessReport{Status: contract.AccessTrue, Reason: contract.AccessGranted, Message: "the client role reaches the bucket and table"})
	bt := createTenant(t, newTenant("access"))
	// Before a pod runs: nothing to ask.
	waitCondition(t, "access", bluev1.ConditionClientAccess, metav1.ConditionUnknown, bluev1.ReasonNoServerRunning)
	runUntilReady(t, "access")
	pointPods(t, "access", strings.TrimPrefix(port.URL, "http://"))
	waitCondition(t, "access", bluev1.ConditionClientAccess, metav1.ConditionTrue, contract.AccessGranted)

	// The client removes the trust policy: False with the server's reason,
	// and a warning event.
	port.set(contract.AccessReport{Status: contract.AccessFalse, Reason: contract.AccessAssumeRoleDenied, Message: "the client role refused sts:AssumeRole"})
	got := waitCondition(t, "access", bluev1.ConditionClientAccess, metav1.ConditionFalse, contract.AccessAssumeRoleDenied)
	if c := condition(got, bluev1.ConditionClientAccess); c.Message != "the client role refused sts:AssumeRole" {
		t.Errorf("message %q", c.Message)
	}
	eventually(t, wait, "AssumeRoleDenied event", func() error { return hasEvent(ctx, bt, contract.AccessAssumeRoleDenied) })
	// Ready is the Deployment's business, not the client's.
	if c := condition(got, bluev1.ConditionReady); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("Ready %+v", c)
	}
	port.set(contract.AccessReport{Status: contract.AccessTrue, Reason: contract.AccessGranted, Message: "ok"})
	waitCondition(t, "access", bluev1.ConditionClientAccess, metav1.ConditionTrue, contract.AccessGranted)
	eventually(t, wait, "AccessGranted event", func() error { return hasEvent(ctx, bt, contract.AccessGranted) })

	// A pod that does not follow the contract writes nothing of its own.
	port.set(map[string]any{"status": "True", "reason": "TotallyFine", "message": strings.Repeat("x", 100_000)})
	waitCondition(t, "access", bluev1.ConditionClientAccess, metav1.ConditionUnknown, bluev1.ReasonReportUnreadable)
	port.set(contract.AccessReport{Status: contract.AccessFalse, Reason: contract.AccessRevoked, Message: strings.Repeat("y", 10_000) + "\x1b[2J"})
	got = waitCondition(t, "access", bluev1.ConditionClientAccess, metav1.ConditionFalse, contract.AccessRevoked)
	if c := condition(got, bluev1.ConditionClientAccess); len(c.Message) > contract.MaxAccessMessage || strings.Contains(c.Message, "\x1b") {
		t.Errorf("message of %d bytes kept", len(c.Message))
	}
	port.set("not a report")
	waitCondition(t, "access", bluev1.ConditionClientAccess, metav1.ConditionUnknown, bluev1.ReasonReportUnreadable)

	// Suspended: no server asks the client's side.
	patchTenant(t, "access", func(bt *bluev1.BlueTenant) { bt.Spec.Suspend = true })
	waitCondition(t, "access", bluev1.ConditionClientAccess, metav1.ConditionUnknown, bluev1.ReasonSuspended)
}

// The metrics port, where the report is, admits the scraper and the
// operator, and nobody else.
func TestMetricsPortAdmitsTheOperator(t *testing.T) {
	t.Parallel()
	createTenant(t, newTenant("metricsport"))
	var np networkingv1.NetworkPolicy
	getObj(t, &np, controllers.NamespaceFor("metricsport"), controllers.ServerName)
	var from []string
	for _, rule := range np.Spec.Ingress {
		for _, p := range rule.Ports {
			if p.Port != nil && *p.Port == intstr.FromInt32(contract.PortMetrics) {
				for _, peer := range rule.From {
					if peer.NamespaceSelector == nil || peer.PodSelector != nil || peer.IPBlock != nil {
						t.Errorf("metrics peer %+v", peer)
						continue
					}
					from = append(from, peer.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"])
				}
			}
		}
	}
	if got := fmt.Sprint(from); got != "[monitoring blue-system]" {
		t.Errorf("metrics port admits %s", got)
	}
}
