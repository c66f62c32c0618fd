package controllers

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// tenantCondition is 1 for each tenant's current condition status, so
// dashboards can count Ready, Degraded and suspended tenants:
//
//	sum(blue_operator_tenant_condition{condition="Ready",status="True"})
var tenantCondition = prometheus.NewGaugeVec(prometheus.GaugeOpts{
	Name: "blue_operator_tenant_condition",
	Help: "1 for each BlueTenant condition's current status and reason.",
}, []string{"tenant", "condition", "status", "reason"})

func init() {
	metrics.Registry.MustRegister(tenantCondition)
}

// recordConditions replaces a tenant's series with its current conditions.
func recordConditions(tenant string, conds []conditionView) {
	tenantCondition.DeletePartialMatch(prometheus.Labels{"tenant": tenant})
	for _, c := range conds {
		tenantCondition.WithLabelValues(tenant, c.Type, c.Status, c.Reason).Set(1)
	}
}

type conditionView struct{ Type, Status, Reason string }

// forgetTenant drops a deleted tenant's series.
func forgetTenant(tenant string) {
	tenantCondition.DeletePartialMatch(prometheus.Labels{"tenant": tenant})
}
