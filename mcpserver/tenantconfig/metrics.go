package tenantconfig

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Source's Prometheus metrics. The process serves one tenant,
// so there is no tenant label; labels never carry values.
type metrics struct {
	refreshes *prometheus.CounterVec
	logins    *prometheus.CounterVec
	state     *prometheus.GaugeVec
	age       prometheus.GaugeFunc
}

func newMetrics(reg prometheus.Registerer, age func() float64) (*metrics, error) {
	m := &metrics{
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "blue_infisical_refresh_total",
			Help: "Refreshes of the tenant config from Infisical, by outcome (ok, revoked, unreachable, incomplete).",
		}, []string{"outcome"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "blue_infisical_login_total",
			Help: "Logins to Infisical, by outcome (ok, rejected, failed).",
		}, []string{"outcome"}),
		state: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "blue_infisical_config_state",
			Help: "1 for the tenant config's current state (loading, ok, stale, revoked, incomplete, unavailable), 0 for the others.",
		}, []string{"state"}),
		age: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "blue_infisical_last_success_age_seconds",
			Help: "Seconds since the last successful refresh of the tenant config (since start if none).",
		}, age),
	}
	// Every label value exists from the start, so rate() and alerts work
	// before the first failure.
	for _, o := range []string{outcomeOK, outcomeRevoked, outcomeUnreachable, outcomeIncomplete, outcomeOutside} {
		m.refreshes.WithLabelValues(o)
	}
	for _, o := range []string{"ok", "rejected", "failed"} {
		m.logins.WithLabelValues(o)
	}
	if reg == nil {
		return m, nil
	}
	var done []prometheus.Collector
	for _, c := range []prometheus.Collector{m.refreshes, m.logins, m.state, m.age} {
		if err := reg.Register(c); err != nil {
			// Leave the registry as it was, so a retry can succeed.
			for _, d := range done {
				reg.Unregister(d)
			}
			return nil, fmt.Errorf("tenantconfig: register metrics: %w", err)
		}
		done = append(done, c)
	}
	return m, nil
}

func (m *metrics) setState(st state) {
	for i, name := range stateNames {
		v := 0.0
		if state(i) == st {
			v = 1
		}
		m.state.WithLabelValues(name).Set(v)
	}
}
