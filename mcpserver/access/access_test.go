package access

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestCheckerServesTheLastReportAndLogsChanges(t *testing.T) {
	var reason atomic.Value
	reason.Store(ReasonGranted)
	var runs atomic.Int32
	var logs strings.Builder
	reg := prometheus.NewRegistry()
	c, err := NewChecker(func(context.Context) Report {
		runs.Add(1)
		return New(reason.Load().(string), "m")
	}, time.Hour, slog.New(slog.NewJSONHandler(&logs, nil)), reg)
	if err != nil {
		t.Fatal(err)
	}
	if r := c.Last(); r.Reason != ReasonSettingsLoading || r.Status != Unknown {
		t.Errorf("before the first check: %+v", r)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	waitRuns := func(n int32) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for runs.Load() < n || c.Last().Reason == ReasonSettingsLoading {
			if time.Now().After(deadline) {
				t.Fatalf("%d runs, want %d", runs.Load(), n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitRuns(1)
	// A trigger (the settings changed) checks again without waiting an hour.
	reason.Store(ReasonRevoked)
	c.Trigger()
	waitRuns(2)
	for c.Last().Reason != ReasonRevoked {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done

	rec := httptest.NewRecorder()
	c.ServeHTTP(rec, httptest.NewRequest("GET", Path, nil))
	var r Report
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil || r.Status != False || r.Reason != ReasonRevoked || r.CheckedAt.IsZero() {
		t.Errorf("GET: %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	c.ServeHTTP(rec, httptest.NewRequest("POST", Path, nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", rec.Code)
	}
	if n := strings.Count(logs.String(), `"event":"client_access"`); n != 2 {
		t.Errorf("%d change lines, want 2 (granted, revoked):\n%s", n, logs.String())
	}
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 1 || len(mfs[0].GetMetric()) != 1 {
		t.Fatalf("gathered %v (%v), want one series", mfs, err)
	}
	m := mfs[0].GetMetric()[0]
	if m.GetGauge().GetValue() != 1 || m.GetLabel()[0].GetValue() != ReasonRevoked || m.GetLabel()[1].GetValue() != string(False) {
		t.Errorf("series %v", m)
	}
}
