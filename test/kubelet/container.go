package kubelet

import (
	"context"
	"crypto/tls"
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

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Restart pacing, as the kubelet's: the first restart is immediate, then
// 10s, 20s, ... up to 5m; a container that ran 10 minutes starts over.
const (
	crashBackoffInitial = 10 * time.Second
	crashBackoffMax     = 5 * time.Minute
	crashBackoffReset   = 10 * time.Minute
	// readinessFastPoll paces readiness probes from a container's start to
	// its first success, so a local pod turns ready as soon as it serves
	// rather than a probe period later; afterwards probes follow the period.
	readinessFastPoll = 200 * time.Millisecond
)

// container is one container of a pod and its current process. Its status
// fields are guarded by the pod worker's mutex.
type container struct {
	w    *podWorker
	spec corev1.Container
	rw   rewriter

	state    corev1.ContainerState
	last     corev1.ContainerState
	restarts int32
	ready    bool
	started  bool
	ran      bool // a process has been started
	id       string
	imageID  string
}

// update changes status fields and has the status reported. f runs under
// the pod worker's mutex: it must not call methods that take it.
func (c *container) update(f func()) {
	c.w.mu.Lock()
	f()
	c.w.mu.Unlock()
	c.w.notify()
}

// run keeps the container running as the pod's restart policy says until
// ctx ends; then it stops the process within the pod worker's grace period.
func (c *container) run(ctx context.Context, rw rewriter) {
	c.rw = rw
	var crash, setup time.Duration
	var lastErr string
	for {
		if ctx.Err() != nil {
			c.settle()
			return
		}
		p, reason, err := c.start(ctx)
		if err != nil {
			if ctx.Err() != nil {
				c.settle()
				return
			}
			setup = min(max(2*setup, setupRetryMin), setupRetryMax)
			if msg := err.Error(); msg != lastErr {
				c.w.log.Warn("start container", "container", c.spec.Name, "reason", reason, "err", err)
				lastErr = msg
			}
			c.w.event(corev1.EventTypeWarning, "Failed", "Error: %v", err)
			c.update(func() { c.state = waiting(reason, err.Error()) })
			if !sleepCtx(ctx, setup) {
				c.settle()
				return
			}
			continue
		}
		setup, lastErr = 0, ""
		code := c.supervise(ctx, p)
		term := &corev1.ContainerStateTerminated{
			ExitCode:    int32(code),
			Reason:      "Completed",
			StartedAt:   metav1.NewTime(p.started),
			FinishedAt:  metav1.NewTime(p.finished),
			ContainerID: c.id,
		}
		if code != 0 {
			term.Reason = "Error"
		}
		if ctx.Err() != nil {
			c.update(func() { c.state, c.ready, c.started = corev1.ContainerState{Terminated: term}, false, false })
			return
		}
		policy := c.w.latest().Spec.RestartPolicy
		if policy == corev1.RestartPolicyNever || policy == corev1.RestartPolicyOnFailure && code == 0 {
			c.w.log.Info("container exited", "container", c.spec.Name, "code", code)
			c.update(func() { c.state, c.ready, c.started = corev1.ContainerState{Terminated: term}, false, false })
			return
		}
		// Restart: immediately the first time, then with growing delays.
		if p.finished.Sub(p.started) >= crashBackoffReset {
			crash = 0
		}
		delay := crash
		crash = min(max(2*crash, crashBackoffInitial), crashBackoffMax)
		c.w.log.Warn("container exited; restarting", "container", c.spec.Name, "code", code, "delay", delay)
		next := waiting("ContainerCreating", "")
		if delay > 0 {
			pod := c.w.latest()
			next = waiting("CrashLoopBackOff", fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)",
				delay, c.spec.Name, pod.Name, pod.Namespace, pod.UID))
		}
		c.update(func() {
			c.last = corev1.ContainerState{Terminated: term}
			c.state = next
			c.ready, c.started = false, false
		})
		if delay > 0 {
			c.w.event(corev1.EventTypeWarning, "BackOff", "Back-off restarting failed container %s", c.spec.Name)
		}
		if !sleepCtx(ctx, delay) {
			c.settle()
			return
		}
	}
}

// settle reports a container that is stopped for good while it was not
// running: its last run, if any, is its final state.
func (c *container) settle() {
	c.update(func() {
		if c.state.Running == nil && c.last.Terminated != nil {
			c.state = c.last
		}
		c.ready, c.started = false, false
	})
}

func waiting(reason, message string) corev1.ContainerState {
	return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: message}}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// start resolves the container's environment and program and starts it; on
// failure it returns the waiting reason the kubelet would show.
func (c *container) start(ctx context.Context) (*process, string, error) {
	pod := c.w.latest()
	var extra map[string]string
	if c.w.k.o.ExtraEnv != nil {
		extra = c.w.k.o.ExtraEnv(pod)
	}
	env, vars, err := c.w.containerEnv(ctx, pod, &c.spec, c.rw, extra)
	if err != nil {
		return nil, "CreateContainerConfigError", err
	}
	bin, err := c.w.k.o.Binary(c.spec.Image)
	if err != nil {
		return nil, "ErrImagePull", fmt.Errorf("image %q: %w", c.spec.Image, err)
	}
	var args []string
	if len(c.spec.Command) > 1 {
		args = append(args, c.spec.Command[1:]...)
	}
	args = append(args, c.spec.Args...)
	for i, a := range args {
		args[i] = c.rw.value(expand(a, vars))
	}
	logFile, err := os.OpenFile(filepath.Join(c.w.dir, c.spec.Name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, "RunContainerError", err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Dir = c.w.dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, "RunContainerError", err
	}
	p := &process{cmd: cmd, pid: cmd.Process.Pid, program: bin, started: time.Now(), done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		p.finished = time.Now()
		p.code = exitCode(cmd.ProcessState)
		// Like a container runtime: when the main process ends, so does
		// everything else in the container, before the container counts as
		// stopped (SIGKILL is delivered asynchronously).
		_ = signalGroup(p.pid, syscall.SIGKILL)
		waitGroupGone(p.pid, groupGoneLimit)
		_ = logFile.Close()
		close(p.done)
	}()
	c.w.log.Info("container started", "container", c.spec.Name, "pid", p.pid, "program", bin)
	return p, "", nil
}

// groupGoneLimit bounds the wait for a killed container's other processes.
const groupGoneLimit = 5 * time.Second

// waitGroupGone waits until no process of group pgid is running, at most limit.
func waitGroupGone(pgid int, limit time.Duration) {
	deadline := time.Now().Add(limit)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for groupAlive(pgid) && time.Now().Before(deadline) {
		<-tick.C
	}
}

// process is one run of a container: a process group led by pid.
type process struct {
	cmd               *exec.Cmd
	pid               int
	program           string
	started, finished time.Time
	code              int
	done              chan struct{}
}

// stop sends SIGTERM to the process group, and SIGKILL after grace; once
// hurry closes (the kubelet is stopping) it waits at most shutdownGrace more.
func (p *process) stop(grace time.Duration, hurry <-chan struct{}) {
	_ = signalGroup(p.pid, syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	t := time.NewTimer(grace)
	defer t.Stop()
	for killed := false; !killed; {
		select {
		case <-p.done:
			return
		case <-t.C:
			killed = true
		case <-hurry:
			hurry = nil
			t.Reset(min(time.Until(deadline), shutdownGrace))
		}
	}
	_ = signalGroup(p.pid, syscall.SIGKILL)
	<-p.done
}

// supervise reports the process running, probes it, and returns its exit
// code once it exits, fails its liveness or startup probe, or ctx ends.
func (c *container) supervise(ctx context.Context, p *process) int {
	c.update(func() {
		if c.ran {
			c.restarts++
		}
		c.ran = true
		c.id = "local://" + strconv.Itoa(p.pid)
		c.imageID = "local://" + p.program
		c.state = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(p.started)}}
		c.ready = false
		c.started = c.spec.StartupProbe == nil
	})
	c.w.event(corev1.EventTypeNormal, "Started", "Started container %s", c.spec.Name)

	probeCtx, stopProbes := context.WithCancel(ctx)
	var probes sync.WaitGroup
	defer probes.Wait()
	defer stopProbes()
	kill := make(chan string, 2)
	started := make(chan struct{})
	if s := c.spec.StartupProbe; s != nil {
		probes.Go(func() { c.startupLoop(probeCtx, s, p, started, kill) })
	} else {
		close(started)
	}
	probes.Go(func() { c.readinessLoop(probeCtx, p, started) })
	if l := c.spec.LivenessProbe; l != nil {
		probes.Go(func() { c.livenessLoop(probeCtx, l, p, started, kill) })
	}

	select {
	case <-p.done:
	case why := <-kill:
		c.w.event(corev1.EventTypeNormal, "Killing", "Container %s %s, will be restarted", c.spec.Name, why)
		c.w.log.Warn("killing container", "container", c.spec.Name, "why", why)
		p.stop(c.probeGrace(), c.w.k.ctx.Done())
	case <-ctx.Done():
		p.stop(time.Duration(c.w.grace.Load()), c.w.k.ctx.Done())
	}
	<-p.done
	return p.code
}

func (c *container) probeGrace() time.Duration {
	if l := c.spec.LivenessProbe; l != nil && l.TerminationGracePeriodSeconds != nil {
		return max(time.Duration(*l.TerminationGracePeriodSeconds)*time.Second, minGrace)
	}
	return c.w.gracePeriod(false)
}

// waitDelay waits until the probe's initial delay after the process start.
func waitDelay(ctx context.Context, pr *corev1.Probe, p *process) bool {
	return sleepCtx(ctx, time.Until(p.started.Add(time.Duration(pr.InitialDelaySeconds)*time.Second)))
}

func period(pr *corev1.Probe) time.Duration {
	return time.Duration(max(pr.PeriodSeconds, 1)) * time.Second
}

func (c *container) startupLoop(ctx context.Context, pr *corev1.Probe, p *process, started chan<- struct{}, kill chan<- string) {
	if !waitDelay(ctx, pr, p) {
		return
	}
	for failures := int32(0); ; {
		ok, msg := c.probe(ctx, pr)
		if ctx.Err() != nil {
			return
		}
		if ok {
			c.update(func() { c.started = true })
			close(started)
			return
		}
		if failures++; failures >= max(pr.FailureThreshold, 1) {
			c.w.event(corev1.EventTypeWarning, "Unhealthy", "Startup probe failed: %s", msg)
			kill <- "failed startup probe"
			return
		}
		if !sleepCtx(ctx, period(pr)) {
			return
		}
	}
}

func (c *container) readinessLoop(ctx context.Context, p *process, started <-chan struct{}) {
	select {
	case <-ctx.Done():
		return
	case <-started:
	}
	pr := c.spec.ReadinessProbe
	if pr == nil {
		c.update(func() { c.ready = true })
		return
	}
	if !waitDelay(ctx, pr, p) {
		return
	}
	ready, everReady := false, false
	var successes, failures int32
	for {
		ok, msg := c.probe(ctx, pr)
		if ctx.Err() != nil {
			return
		}
		if ok {
			failures = 0
			if successes++; !ready && successes >= max(pr.SuccessThreshold, 1) {
				ready, everReady = true, true
				c.update(func() { c.ready = true })
			}
		} else {
			successes = 0
			if failures++; ready && failures >= max(pr.FailureThreshold, 1) {
				ready = false
				c.w.event(corev1.EventTypeWarning, "Unhealthy", "Readiness probe failed: %s", msg)
				c.update(func() { c.ready = false })
			}
		}
		next := period(pr)
		if !everReady {
			next = min(next, readinessFastPoll)
		}
		if !sleepCtx(ctx, next) {
			return
		}
	}
}

func (c *container) livenessLoop(ctx context.Context, pr *corev1.Probe, p *process, started <-chan struct{}, kill chan<- string) {
	select {
	case <-ctx.Done():
		return
	case <-started:
	}
	if !waitDelay(ctx, pr, p) {
		return
	}
	for failures := int32(0); ; {
		ok, msg := c.probe(ctx, pr)
		if ctx.Err() != nil {
			return
		}
		if ok {
			failures = 0
		} else if failures++; failures >= max(pr.FailureThreshold, 1) {
			c.w.event(corev1.EventTypeWarning, "Unhealthy", "Liveness probe failed: %s", msg)
			kill <- "failed liveness probe"
			return
		}
		if !sleepCtx(ctx, period(pr)) {
			return
		}
	}
}

var probeClient = &http.Client{
	Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // the kubelet does not verify probe certificates either
		DisableKeepAlives: true,
	},
	// 3xx counts as success, like a redirect to another host for the kubelet.
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// probe runs one probe against the container's loopback ports.
func (c *container) probe(ctx context.Context, pr *corev1.Probe) (bool, string) {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(max(pr.TimeoutSeconds, 1))*time.Second)
	defer cancel()
	switch {
	case pr.HTTPGet != nil:
		g := pr.HTTPGet
		addr, err := c.probeAddr(g.Port)
		if err != nil {
			return false, err.Error()
		}
		scheme := strings.ToLower(string(g.Scheme))
		if scheme == "" {
			scheme = "http"
		}
		p := g.Path
		if !strings.HasPrefix(p, "/") {
			p = "/" + p
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+addr+p, nil)
		if err != nil {
			return false, err.Error()
		}
		req.Header.Set("User-Agent", "kube-probe/"+strings.TrimPrefix(c.w.k.version, "v"))
		for _, h := range g.HTTPHeaders {
			if strings.EqualFold(h.Name, "Host") {
				req.Host = h.Value
			} else {
				req.Header.Add(h.Name, h.Value)
			}
		}
		resp, err := probeClient.Do(req)
		if err != nil {
			return false, err.Error()
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 10<<10))
		_ = resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode >= 400 {
			return false, "HTTP probe failed with statuscode: " + strconv.Itoa(resp.StatusCode)
		}
		return true, ""
	case pr.TCPSocket != nil, pr.GRPC != nil:
		port := intstr.FromInt32(0)
		if pr.TCPSocket != nil {
			port = pr.TCPSocket.Port
		} else {
			port = intstr.FromInt32(pr.GRPC.Port)
		}
		addr, err := c.probeAddr(port)
		if err != nil {
			return false, err.Error()
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return false, err.Error()
		}
		_ = conn.Close()
		return true, ""
	}
	return true, "" // exec probes cannot run here
}

// probeAddr finds where a probed port is served: a declared container port
// (by name or number) at its loopback address, any other number as is.
func (c *container) probeAddr(port intstr.IntOrString) (string, error) {
	n := port.IntVal
	if port.Type == intstr.String {
		n = 0
		for _, p := range c.spec.Ports {
			if p.Name == port.StrVal {
				n = p.ContainerPort
			}
		}
		if n == 0 {
			return "", errors.New("no container port named " + port.StrVal)
		}
	}
	if addr, ok := c.rw.ports[n]; ok {
		return addr, nil
	}
	return net.JoinHostPort(localIP, strconv.Itoa(int(n))), nil
}
