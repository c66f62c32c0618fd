// Package access tells whether the client still lets its tenant in, and why
// not: the settings in the client's Infisical workspace, the client role's
// trust (a fresh sts:AssumeRole with the ExternalId), and the client's
// storage (bucket and table present and encrypted under the client's key) or
// its API (answering the signed request). A Checker runs the check on an
// interval and whenever the settings change, and serves the last report as
// JSON at /access on the metrics port, where the operator reads it into the
// BlueTenant's ClientAccess condition.
//
// A report holds a status, a reason word and a message built from fixed
// text and setting names only: never a secret, a setting's value or document
// content, since it ends up in the BlueTenant's status and events.
package access

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/superviber/blue-operator/api/contract"
)

// Report is the answer of one check (the wire type the operator reads).
type Report = contract.AccessReport

// Status is a report's verdict.
type Status = contract.AccessStatus

// The statuses and reasons, re-exported from the contract for the server's
// code.
const (
	True    = contract.AccessTrue
	False   = contract.AccessFalse
	Unknown = contract.AccessUnknown

	ReasonGranted              = contract.AccessGranted
	ReasonSettingsLoading      = contract.AccessSettingsLoading
	ReasonInfisicalUnreachable = contract.AccessInfisicalUnreachable
	ReasonRevoked              = contract.AccessRevoked
	ReasonSettingsIncomplete   = contract.AccessSettingsIncomplete
	ReasonOutsideAccount       = contract.AccessOutsideAccount
	ReasonAssumeRoleDenied     = contract.AccessAssumeRoleDenied
	ReasonSTSUnreachable       = contract.AccessSTSUnreachable
	ReasonStorageMissing       = contract.AccessStorageMissing
	ReasonStorageNotEncrypted  = contract.AccessStorageNotEncrypted
	ReasonStorageDenied        = contract.AccessStorageDenied
	ReasonStorageUnreachable   = contract.AccessStorageUnreachable
	ReasonAPIRefused           = contract.AccessAPIRefused
	ReasonAPIUnreachable       = contract.AccessAPIUnreachable

	ModeDirect = contract.AccessModeDirect
	ModeAPI    = contract.AccessModeAPI

	Path = contract.AccessPath
)

// Reasons maps every reason to its status.
var Reasons = contract.AccessReasons

// New makes a report of reason (its status from Reasons) and message.
func New(reason, message string) Report {
	st, ok := Reasons[reason]
	if !ok {
		st = Unknown
	}
	return Report{Status: st, Reason: reason, Message: message}
}

// DefaultInterval is how often the check runs.
const DefaultInterval = 30 * time.Second

// checkTimeout bounds one check, every call in it.
const checkTimeout = 30 * time.Second

// Checker runs a check and keeps its last report.
type Checker struct {
	check    func(context.Context) Report
	interval time.Duration
	log      *slog.Logger
	now      func() time.Time
	gauge    *prometheus.GaugeVec
	trigger  chan struct{}

	// checking serialises checks (the check may rely on it).
	checking sync.Mutex

	mu   sync.RWMutex
	last Report
	runs int
}

// NewChecker returns a Checker that runs check every interval
// (DefaultInterval when zero) once Run is called. Its gauge
// blue_client_access{status,reason} is registered on reg (nil: none).
func NewChecker(check func(context.Context) Report, interval time.Duration, log *slog.Logger, reg prometheus.Registerer) (*Checker, error) {
	if interval <= 0 {
		interval = DefaultInterval
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Checker{
		check: check, interval: interval, log: log, now: time.Now, trigger: make(chan struct{}, 1),
		last: New(ReasonSettingsLoading, "the first check has not run yet"),
		gauge: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "blue_client_access",
			Help: "1 for the client-access verdict of the last check (status True, False or Unknown, and its reason), 0 for the others.",
		}, []string{"status", "reason"}),
	}
	if reg != nil {
		if err := reg.Register(c.gauge); err != nil {
			return nil, err
		}
	}
	c.setGauge(c.last)
	return c, nil
}

// Run checks at once, then every interval and on Trigger, until ctx ends.
func (c *Checker) Run(ctx context.Context) {
	t := time.NewTicker(c.interval)
	defer t.Stop()
	for {
		c.CheckNow(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-c.trigger:
		}
	}
}

// Trigger asks Run for a check now (the settings changed); it never blocks.
func (c *Checker) Trigger() {
	select {
	case c.trigger <- struct{}{}:
	default:
	}
}

// CheckNow runs one check and records its report; checks run one at a
// time.
func (c *Checker) CheckNow(ctx context.Context) Report {
	c.checking.Lock()
	defer c.checking.Unlock()
	cctx, cancel := context.WithTimeout(ctx, checkTimeout)
	r := c.check(cctx)
	cancel()
	if ctx.Err() != nil {
		return c.Last()
	}
	r.CheckedAt = c.now().UTC().Truncate(time.Second)
	c.mu.Lock()
	prev := c.last
	c.last = r
	c.runs++
	c.mu.Unlock()
	c.setGauge(r)
	if prev.Status != r.Status || prev.Reason != r.Reason {
		lvl := slog.LevelInfo
		if r.Status != True {
			lvl = slog.LevelWarn
		}
		c.log.Log(ctx, lvl, "client access changed", "event", "client_access", "status", string(r.Status), "reason", r.Reason,
			"previous_reason", prev.Reason, "message", r.Message)
	}
	return r
}

// Last is the last report.
func (c *Checker) Last() Report {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.last
}

func (c *Checker) setGauge(r Report) {
	c.gauge.Reset()
	c.gauge.WithLabelValues(string(r.Status), r.Reason).Set(1)
}

// ServeHTTP answers GET with the last report as JSON.
func (c *Checker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(c.Last())
}
