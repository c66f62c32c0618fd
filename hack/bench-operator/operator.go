package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	bluev1 "github.com/superviber/blue-operator/api/v1alpha1"
)

// operatorResult adds to a phase what only the operator has.
type operatorResult struct {
	phaseResult
	// SettleWrites are the writes after the last tenant converged and before
	// the API server saw a quiet interval; they are part of Writes.
	SettleWrites int `json:"settleWrites"`
	// BusySeconds is when the API server last saw writes after convergence
	// (at most settleInterval late): the end of the operator's work.
	BusySeconds float64 `json:"busySeconds"`
	// RSS and peak RSS (VmHWM) of the manager process once converged, and
	// its RSS after the idle window.
	RSSMiB     float64 `json:"rssMiB"`
	PeakRSSMiB float64 `json:"peakRssMiB"`
	IdleRSSMiB float64 `json:"idleRssMiB"`
	// AnonMiB is the anonymous part of RSS once converged (heap, stacks:
	// what grows with the tenants), the rest being the binary's pages.
	AnonMiB     float64 `json:"anonMiB"`
	IdleSeconds float64 `json:"idleSeconds"`
	// IdleWrites are API writes during the idle window, IdleChanges the
	// objects (tenants and owned objects) whose resourceVersion changed.
	IdleWrites  writeDelta     `json:"idleWrites"`
	IdleChanges map[string]int `json:"idleChanges"`
	// LogErrors counts error-level lines the manager logged; FirstLogError
	// is the first one.
	LogErrors     int    `json:"logErrors"`
	FirstLogError string `json:"firstLogError,omitempty"`
}

// settle bounds the wait for the operator's trailing writes.
const (
	settleInterval = time.Second
	settleLimit    = 5 * time.Minute
)

// runOperator runs the real manager binary against a fresh API server,
// creates n tenants and measures until every tenant's status says its
// objects were applied, then watches the idle operator.
func (b *bench) runOperator(ctx context.Context, n int) (res operatorResult, err error) {
	cl, kinds, user, err := b.startRun()
	if err != nil {
		return res, err
	}
	defer cl.stop()
	if err := warm(user, tenantGVK); err != nil {
		return res, err
	}

	kubeconfig := filepath.Join(b.tmp, fmt.Sprintf("kubeconfig-%d", n))
	if err := cl.writeKubeconfig(kubeconfig); err != nil {
		return res, err
	}
	pprofAddr := ""
	if b.heapProfile != "" {
		if pprofAddr, err = freeLoopbackAddr(); err != nil {
			return res, err
		}
	}
	mgr, err := startManager(b.managerBin, kubeconfig, filepath.Join(b.tmp, fmt.Sprintf("manager-%d.log", n)), []string{
		"--metrics-bind-address=0",
		"--health-probe-bind-address=0",
		"--pprof-bind-address=" + pprofAddr,
		"--hop-role-arn-template=" + hopRoleTemplate,
		"--max-concurrent-reconciles=" + strconv.Itoa(b.concurrency),
		"--kube-api-qps=" + strconv.FormatFloat(b.qps, 'f', -1, 64),
		"--kube-api-burst=" + strconv.Itoa(b.burst),
	})
	if err != nil {
		return res, err
	}
	defer func() {
		mgr.stop()
		res.LogErrors, res.FirstLogError = mgr.log.errorCount()
		if err != nil && ctx.Err() == nil {
			progress("manager log tail:\n%s", mgr.log.tail())
		}
	}()
	if err := mgr.waitReady(ctx, time.Minute); err != nil {
		return res, err
	}

	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	conv, err := watchConvergence(watchCtx, cl, n)
	if err != nil {
		return res, err
	}

	if err := cl.settle(ctx, kinds); err != nil {
		return res, err
	}
	before, err := cl.writes(ctx)
	if err != nil {
		return res, err
	}
	start := time.Now()
	if err := forEach(ctx, n, b.concurrency, func(ctx context.Context, i int) error {
		t := newTenant(i)
		if err := user.Create(ctx, t); err != nil {
			return fmt.Errorf("create BlueTenant %s: %w", t.Name, err)
		}
		return nil
	}); err != nil {
		return res, err
	}
	doneAt, err := conv.wait(ctx, mgr, b.timeout)
	res.Seconds = doneAt.Sub(start).Seconds()
	if err != nil {
		return res, err
	}
	atConv, err := cl.writes(ctx)
	if err != nil {
		return res, err
	}
	settled, busyAt, err := cl.quiesce(ctx, atConv, doneAt, settleInterval, settleLimit)
	if err != nil {
		return res, err
	}
	res.BusySeconds = busyAt.Sub(start).Seconds()
	res.Writes = diffWrites(settled, before)
	res.SettleWrites = diffWrites(settled, atConv).Total
	res.WritesPerTenant = float64(res.Writes.Total) / float64(n)
	if res.RSSMiB, res.PeakRSSMiB, res.AnonMiB, err = procMemory(mgr.cmd.Process.Pid); err != nil {
		return res, err
	}
	progress("N=%d: operator %.2fs (writing until %.1fs), %.1f writes/tenant (%d after the last status), RSS %.1f MiB",
		n, res.Seconds, res.BusySeconds, res.WritesPerTenant, res.SettleWrites, res.RSSMiB)

	snapBefore, err := cl.snapshot(ctx, kinds)
	if err != nil {
		return res, err
	}
	res.Missing = missingObjects(snapBefore, kinds, n)
	if b.idle == 0 {
		return res, nil
	}
	progress("N=%d: idle for %s", n, b.idle)
	idleFrom, err := cl.writes(ctx)
	if err != nil {
		return res, err
	}
	idleStart := time.Now()
	select {
	case <-ctx.Done():
		return res, ctx.Err()
	case <-mgr.exited:
		return res, fmt.Errorf("manager exited while idle: %v", mgr.waitErr)
	case <-time.After(b.idle):
	}
	idleTo, err := cl.writes(ctx)
	if err != nil {
		return res, err
	}
	res.IdleSeconds = time.Since(idleStart).Seconds()
	snapAfter, err := cl.snapshot(ctx, kinds)
	if err != nil {
		return res, err
	}
	res.IdleWrites = diffWrites(idleTo, idleFrom)
	res.IdleChanges = changedObjects(snapBefore, snapAfter)
	if res.IdleRSSMiB, _, _, err = procMemory(mgr.cmd.Process.Pid); err != nil {
		return res, err
	}
	if b.heapProfile != "" {
		if err := saveHeapProfile(ctx, pprofAddr, profilePath(b.heapProfile, n)); err != nil {
			return res, err
		}
	}
	return res, nil
}

// profilePath puts -N before path's extension (".pb.gz" counting as one).
func profilePath(path string, n int) string {
	ext := filepath.Ext(path)
	if strings.HasSuffix(path, ".pb.gz") {
		ext = ".pb.gz"
	}
	return strings.TrimSuffix(path, ext) + "-" + strconv.Itoa(n) + ext
}

// saveHeapProfile fetches the manager's heap profile (after a GC) to path.
func saveHeapProfile(ctx context.Context, addr, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/debug/pprof/heap?gc=1", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("heap profile: HTTP %d", resp.StatusCode)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return err
	}
	progress("heap profile written to %s", path)
	return f.Close()
}

func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().String(), nil
}

// convergence tracks, from a watch, which tenants have the status of a
// finished reconcile: observedGeneration current and the three conditions
// set, Ready false for want of pods (nothing runs pods in envtest). The
// reconciler writes that status only after applying every object.
type convergence struct {
	mu     sync.Mutex
	want   int
	ok     map[string]bool
	count  int
	doneAt time.Time
	done   chan struct{}
}

// watchConvergence watches BlueTenants through an informer: one watch
// stream costs the API server far less than listing N tenants every few
// hundred milliseconds, and it timestamps the last convergence exactly.
func watchConvergence(ctx context.Context, cl *cluster, n int) (*convergence, error) {
	c := &convergence{want: n, ok: map[string]bool{}, done: make(chan struct{})}
	ca, err := cache.New(cl.admin, cache.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("observer cache: %w", err)
	}
	inf, err := ca.GetInformer(ctx, &bluev1.BlueTenant{})
	if err != nil {
		return nil, fmt.Errorf("BlueTenant informer: %w", err)
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    c.observe,
		UpdateFunc: func(_, obj any) { c.observe(obj) },
	}); err != nil {
		return nil, fmt.Errorf("watch BlueTenants: %w", err)
	}
	go func() {
		if err := ca.Start(ctx); err != nil {
			progress("observer cache stopped: %v", err)
		}
	}()
	if !ca.WaitForCacheSync(ctx) {
		return nil, errors.New("observer cache did not sync")
	}
	return c, nil
}

func (c *convergence) observe(obj any) {
	t, ok := obj.(*bluev1.BlueTenant)
	if !ok {
		return
	}
	now := converged(t)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ok[t.Name] == now {
		return
	}
	c.ok[t.Name] = now
	if now {
		c.count++
	} else {
		c.count--
	}
	if c.count == c.want && c.doneAt.IsZero() {
		c.doneAt = time.Now()
		close(c.done)
	}
}

func converged(t *bluev1.BlueTenant) bool {
	if t.Generation == 0 || t.Status.ObservedGeneration != t.Generation {
		return false
	}
	ready := meta.FindStatusCondition(t.Status.Conditions, bluev1.ConditionReady)
	degraded := meta.FindStatusCondition(t.Status.Conditions, bluev1.ConditionDegraded)
	return ready != nil && ready.Reason == bluev1.ReasonDeploymentUnavailable &&
		degraded != nil && degraded.Status == metav1.ConditionFalse &&
		meta.FindStatusCondition(t.Status.Conditions, bluev1.ConditionProgressing) != nil
}

func (c *convergence) converged() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.count
}

// wait returns when every tenant converged, printing progress every 10 s.
func (c *convergence) wait(ctx context.Context, mgr *manager, timeout time.Duration) (time.Time, error) {
	deadline := time.After(timeout)
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-c.done:
			return c.doneAt, nil
		case <-tick.C:
			progress("  %d/%d tenants converged", c.converged(), c.want)
		case <-mgr.exited:
			return time.Now(), fmt.Errorf("manager exited: %v", mgr.waitErr)
		case <-deadline:
			return time.Now(), fmt.Errorf("timed out after %s: %d/%d tenants converged", timeout, c.converged(), c.want)
		case <-ctx.Done():
			return time.Now(), ctx.Err()
		}
	}
}

// manager is the operator process.
type manager struct {
	cmd     *exec.Cmd
	log     *lineLog
	exited  chan struct{}
	waitErr error
}

// startManager runs the manager binary with its own kubeconfig, its output
// going to logPath.
func startManager(bin, kubeconfig, logPath string, args []string) (*manager, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("manager log: %w", err)
	}
	lw := newLineLog(f, `"Starting workers"`)
	cmd := exec.Command(bin, args...)
	// cmd/manager reads its kubeconfig as controller-runtime does; it has no
	// --kubeconfig flag of its own.
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	cmd.Stdout, cmd.Stderr = lw, lw
	cmd.SysProcAttr = childProcAttr()
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("start manager: %w", err)
	}
	m := &manager{cmd: cmd, log: lw, exited: make(chan struct{})}
	go func() {
		m.waitErr = cmd.Wait()
		_ = f.Close()
		close(m.exited)
	}()
	return m, nil
}

// waitReady waits for the controller's workers to start: its caches have
// synced, so the clock measures reconciling, not start-up.
func (m *manager) waitReady(ctx context.Context, timeout time.Duration) error {
	select {
	case <-m.log.found:
		return nil
	case <-m.exited:
		return fmt.Errorf("manager exited before starting its workers: %v", m.waitErr)
	case <-time.After(timeout):
		return fmt.Errorf("manager did not start its workers within %s", timeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stop asks the manager to shut down and kills it if it lingers.
func (m *manager) stop() {
	select {
	case <-m.exited:
		return
	default:
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.exited:
	case <-time.After(15 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.exited
	}
}

// lineLog copies the manager's output to a file and watches it line by
// line: for the readiness marker and for error-level lines.
type lineLog struct {
	mu       sync.Mutex
	out      *os.File
	partial  []byte
	marker   string
	found    chan struct{}
	seen     bool
	errors   int
	firstErr string
	last     []string
}

const tailLines = 20

func newLineLog(out *os.File, marker string) *lineLog {
	return &lineLog{out: out, marker: marker, found: make(chan struct{})}
}

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.out.Write(p); err != nil {
		return 0, err
	}
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.line(string(l.partial[:i]))
		l.partial = l.partial[i+1:]
	}
	return len(p), nil
}

func (l *lineLog) line(s string) {
	if !l.seen && strings.Contains(s, l.marker) {
		l.seen = true
		close(l.found)
	}
	if strings.Contains(s, `"level":"error"`) {
		l.errors++
		if l.firstErr == "" {
			l.firstErr = s
		}
	}
	l.last = append(l.last, s)
	if len(l.last) > tailLines {
		l.last = l.last[1:]
	}
}

func (l *lineLog) errorCount() (int, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.errors, l.firstErr
}

func (l *lineLog) tail() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.last, "\n")
}

// procMemory reads a process's resident set size and its peak, in MiB.
func procMemory(pid int) (rss, peak, anon float64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, 0, fmt.Errorf("read manager memory: %w", err)
	}
	defer func() { _ = f.Close() }()
	into := map[string]*float64{"VmRSS:": &rss, "VmHWM:": &peak, "RssAnon:": &anon}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || into[fields[0]] == nil {
			continue
		}
		kb, err := strconv.ParseFloat(fields[1], 64)
		if err != nil {
			return 0, 0, 0, fmt.Errorf("parse %s: %w", sc.Text(), err)
		}
		*into[fields[0]] = kb / 1024
	}
	if err := sc.Err(); err != nil {
		return 0, 0, 0, fmt.Errorf("read manager memory: %w", err)
	}
	return rss, peak, anon, nil
}
