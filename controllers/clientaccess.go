package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/superviber/blue-operator/api/contract"
	bluev1 "github.com/superviber/blue-operator/api/v1alpha1"
)

// The access poller reads every tenant server's client-access report
// (contract.AccessPath on the metrics port) on an interval and keeps the
// last observation per tenant. When one changes it wakes the tenant's
// reconcile, which turns the observation into the ClientAccess condition
// (clientAccessCondition): the reconciler stays the only writer of the
// status, and an unchanged report costs no write.

// DefaultAccessInterval is how often the operator reads the reports.
const DefaultAccessInterval = 30 * time.Second

// accessReadTimeout bounds one report read.
const accessReadTimeout = 5 * time.Second

// accessWorkers bounds the reads in flight.
const accessWorkers = 16

type accessPoller struct {
	reader   client.Reader
	http     *http.Client
	interval time.Duration
	// portsAnnotation, when set, names a pod annotation mapping container
	// port names to addresses ("metrics=127.0.0.1:40123,..."), for tests
	// whose pods run nowhere (Options.PodPortsAnnotation).
	portsAnnotation string

	mu   sync.Mutex
	seen map[string]accessObservation
	// changed wakes the reconcile of a tenant whose observation changed.
	changed chan event.TypedGenericEvent[*bluev1.BlueTenant]
}

func newAccessPoller(reader client.Reader, o Options) *accessPoller {
	interval := o.AccessInterval
	if interval <= 0 {
		interval = DefaultAccessInterval
	}
	return &accessPoller{
		reader: reader, interval: interval, portsAnnotation: o.PodPortsAnnotation,
		http: &http.Client{Timeout: accessReadTimeout, Transport: &http.Transport{
			MaxIdleConnsPerHost: 1, IdleConnTimeout: 2 * interval, DisableCompression: true,
		}},
		seen:    map[string]accessObservation{},
		changed: make(chan event.TypedGenericEvent[*bluev1.BlueTenant], 1024),
	}
}

// observation is the last observation of a tenant; ok is false before the
// first poll of it, when the condition is left as it was.
func (p *accessPoller) observation(tenant string) (accessObservation, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	o, ok := p.seen[tenant]
	return o, ok
}

// forget drops a deleted tenant.
func (p *accessPoller) forget(tenant string) {
	p.mu.Lock()
	delete(p.seen, tenant)
	p.mu.Unlock()
}

// Start implements manager.Runnable; it runs on the leader only (the
// default for runnables), like the reconciler it feeds.
func (p *accessPoller) Start(ctx context.Context) error {
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		p.pollAll(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// pollAll reads every tenant's servers, accessWorkers at a time.
func (p *accessPoller) pollAll(ctx context.Context) {
	var tenants bluev1.BlueTenantList
	if err := p.reader.List(ctx, &tenants); err != nil {
		log.FromContext(ctx).Error(err, "list tenants for client access")
		return
	}
	sem := make(chan struct{}, accessWorkers)
	var wg sync.WaitGroup
	for i := range tenants.Items {
		t := &tenants.Items[i]
		if !t.DeletionTimestamp.IsZero() {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			o := p.poll(ctx, t)
			if ctx.Err() != nil {
				return
			}
			p.mu.Lock()
			p.seen[t.Name] = o
			p.mu.Unlock()
			if needsReconcile(t, o) {
				select {
				case p.changed <- event.TypedGenericEvent[*bluev1.BlueTenant]{Object: t}:
				case <-ctx.Done():
				}
			}
		}()
	}
	wg.Wait()
}

// needsReconcile: the condition the observation makes differs from the one
// the tenant's status holds. A tenant that has none yet and no server pod
// waits for its next reconcile (its Deployment becoming available brings
// one): waking every new tenant only to say "no server yet" would double
// the reconciles of a fleet being created.
func needsReconcile(t *bluev1.BlueTenant, o accessObservation) bool {
	status, reason, msg := clientAccessCondition(t.Spec.Suspend, o)
	cur := meta.FindStatusCondition(t.Status.Conditions, bluev1.ConditionClientAccess)
	if cur == nil {
		return reason != bluev1.ReasonNoServerRunning
	}
	return cur.Status != status || cur.Reason != reason || cur.Message != msg
}

// poll reads the reports of a tenant's server pods and keeps the worst.
// Pods that are not ready are read too: a server whose client revoked
// access fails its readiness probe, and that is exactly when its report
// matters.
func (p *accessPoller) poll(ctx context.Context, t *bluev1.BlueTenant) accessObservation {
	var pods corev1.PodList
	if err := p.reader.List(ctx, &pods, client.InNamespace(NamespaceFor(t.Name)), client.MatchingLabels(podLabels(t.Name))); err != nil {
		return accessObservation{ReadErr: "listing the server pods failed"}
	}
	var o accessObservation
	for i := range pods.Items {
		pod := &pods.Items[i]
		if pod.Status.Phase != corev1.PodRunning || !pod.DeletionTimestamp.IsZero() {
			continue
		}
		addr, ok := p.address(pod)
		if !ok {
			continue
		}
		o.Pods++
		r, err := p.read(ctx, addr)
		if err != nil {
			if o.Report == nil {
				o.ReadErr = err.Error()
			}
			continue
		}
		if o.Report == nil || accessRank(r.Status) < accessRank(o.Report.Status) {
			o.Report, o.ReadErr = r, ""
		}
	}
	return o
}

// address is where a pod serves its metrics port.
func (p *accessPoller) address(pod *corev1.Pod) (string, bool) {
	if p.portsAnnotation != "" {
		for kv := range strings.SplitSeq(pod.Annotations[p.portsAnnotation], ",") {
			if name, addr, ok := strings.Cut(strings.TrimSpace(kv), "="); ok && name == "metrics" && addr != "" {
				return addr, true
			}
		}
		return "", false
	}
	if pod.Status.PodIP == "" {
		return "", false
	}
	return net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(contract.PortMetrics)), true
}

// read fetches one report; its errors are the operator's own words.
func (p *accessPoller) read(ctx context.Context, addr string) (*contract.AccessReport, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+contract.AccessPath, nil)
	if err != nil {
		return nil, fmt.Errorf("bad pod address")
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("the metrics port did not answer")
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("the metrics port answered HTTP %d", resp.StatusCode)
	}
	var r contract.AccessReport
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<10)).Decode(&r); err != nil {
		return nil, fmt.Errorf("the report is not JSON")
	}
	return &r, nil
}
