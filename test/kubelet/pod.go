package kubelet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// Retry pacing for pod setup (ports annotation, volumes) and status writes.
const (
	setupRetryMin = time.Second
	setupRetryMax = 10 * time.Second
)

// errPodReplaced stops status writes for a pod whose name now belongs to a
// different pod.
var errPodReplaced = errors.New("pod was replaced")

// podWorker runs one pod from first sight until it is deleted, vanishes or
// the kubelet stops.
type podWorker struct {
	k   *kubelet
	uid types.UID
	dir string // StateDir/<pod-uid>
	log *slog.Logger

	mu         sync.Mutex
	pod        *corev1.Pod // latest seen
	containers []*container
	sandbox    bool // ports allocated: the pod has an IP
	terminated bool // stopped for deletion: report a terminal phase
	startTime  metav1.Time

	statusCh chan struct{} // something to report, capacity 1
	deleting chan struct{} // closed once the pod has a deletionTimestamp
	gone     chan struct{} // closed once the pod is gone from the API
	deleted  sync.Once
	vanished sync.Once
	// grace is how long (nanoseconds) containers get between SIGTERM and
	// SIGKILL when they are stopped; set before they are told to stop.
	grace atomic.Int64
	ports []int
}

func newPodWorker(k *kubelet, pod *corev1.Pod) *podWorker {
	w := &podWorker{
		k:         k,
		uid:       pod.UID,
		dir:       filepath.Join(k.o.StateDir, string(pod.UID)),
		log:       k.log.With("pod", pod.Namespace+"/"+pod.Name),
		pod:       pod,
		startTime: metav1.Now(),
		statusCh:  make(chan struct{}, 1),
		deleting:  make(chan struct{}),
		gone:      make(chan struct{}),
	}
	if pod.Status.StartTime != nil {
		w.startTime = *pod.Status.StartTime
	}
	for i := range pod.Spec.Containers {
		c := &container{w: w, spec: pod.Spec.Containers[i]}
		c.state.Waiting = &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
		w.containers = append(w.containers, c)
	}
	if pod.DeletionTimestamp != nil {
		w.deleted.Do(func() { close(w.deleting) })
	}
	return w
}

func (w *podWorker) setPod(pod *corev1.Pod) {
	w.mu.Lock()
	w.pod = pod
	w.mu.Unlock()
	if pod.DeletionTimestamp != nil {
		w.deleted.Do(func() { close(w.deleting) })
	}
	w.notify()
}

func (w *podWorker) markGone() { w.vanished.Do(func() { close(w.gone) }) }

func (w *podWorker) latest() *corev1.Pod {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pod
}

// notify asks the status loop to report.
func (w *podWorker) notify() {
	select {
	case w.statusCh <- struct{}{}:
	default:
	}
}

// sleep waits d; false if the pod must stop first.
func (w *podWorker) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-w.deleting:
	case <-w.gone:
	}
	return false
}

func (w *podWorker) event(eventType, reason, format string, args ...any) {
	w.k.recorder.Eventf(w.latest(), eventType, reason, format, args...)
}

func (w *podWorker) run(ctx context.Context) {
	defer w.cleanup()
	statusCtx, stopStatus := context.WithCancel(ctx)
	statusDone := make(chan struct{})
	go func() {
		defer close(statusDone)
		w.statusLoop(statusCtx)
	}()
	w.notify()

	// Containers outlive ctx on purpose: they are stopped below, with the
	// grace period that fits why they stop.
	containerCtx, stopContainers := context.WithCancel(context.WithoutCancel(ctx))
	defer stopContainers()
	tokenCtx, stopTokens := context.WithCancel(ctx)
	defer stopTokens()
	var runners, refreshers sync.WaitGroup
	started := false
	if rws, tokens, ok := w.prepare(ctx); ok {
		started = true
		pod := w.latest()
		for _, t := range tokens {
			refreshers.Go(func() { w.refreshToken(tokenCtx, pod, t.token, t.next) })
		}
		for i, c := range w.containers {
			runners.Go(func() { c.run(containerCtx, rws[i]) })
		}
	}

	why := "shutdown"
	select {
	case <-ctx.Done():
	case <-w.deleting:
		why = "deleted"
	case <-w.gone:
		why = "gone"
	}
	grace := w.gracePeriod(why == "shutdown")
	w.grace.Store(int64(grace))
	if started {
		w.log.Info("stopping containers", "why", why, "grace", grace)
		if why == "deleted" {
			for _, name := range w.running() {
				w.event(corev1.EventTypeNormal, "Killing", "Stopping container %s", name)
			}
		}
	}
	stopContainers()
	runners.Wait()
	stopTokens()
	refreshers.Wait()
	stopStatus()
	<-statusDone
	if why != "deleted" || ctx.Err() != nil {
		return
	}

	// The kubelet's last words: a terminal status, then the final delete.
	if started {
		w.mu.Lock()
		w.terminated = true
		w.mu.Unlock()
		if err := w.writeStatus(ctx, w.status()); err != nil && !apierrors.IsNotFound(err) && !errors.Is(err, errPodReplaced) {
			w.log.Warn("final status", "err", err)
		}
	}
	pod := w.latest()
	err := w.k.cs.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: ptr.To[int64](0),
		Preconditions:      metav1.NewUIDPreconditions(string(w.uid)),
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		w.log.Warn("delete pod", "err", err)
		return
	}
	w.log.Info("pod deleted")
}

// running names the containers that have a process now.
func (w *podWorker) running() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var names []string
	for _, c := range w.containers {
		if c.state.Running != nil {
			names = append(names, c.spec.Name)
		}
	}
	return names
}

// gracePeriod is how long containers get to stop: the deletion's grace
// period, else the pod's; at least the kubelet's minimum; capped when the
// kubelet itself shuts down.
func (w *podWorker) gracePeriod(shutdown bool) time.Duration {
	pod := w.latest()
	secs := int64(corev1.DefaultTerminationGracePeriodSeconds)
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		secs = *pod.Spec.TerminationGracePeriodSeconds
	}
	if pod.DeletionGracePeriodSeconds != nil {
		secs = *pod.DeletionGracePeriodSeconds
	}
	d := max(time.Duration(secs)*time.Second, minGrace)
	if shutdown {
		d = min(d, shutdownGrace)
	}
	return d
}

// prepare gives the pod its ports (recorded in the pod annotation) and its
// volumes, retrying until they are in place. It returns each container's
// rewriter and the tokens to refresh; ok is false if the pod was deleted,
// vanished or the kubelet stopped first.
func (w *podWorker) prepare(ctx context.Context) (rws []rewriter, tokens []tokenSchedule, ok bool) {
	pod := w.latest()
	if pod.DeletionTimestamp != nil {
		return nil, nil, false
	}
	ports, annotation := w.k.allocPorts(pod)
	w.ports = nil
	for _, addr := range ports {
		if _, p, err := net.SplitHostPort(addr); err == nil {
			n, _ := strconv.Atoi(p)
			w.ports = append(w.ports, n)
		}
	}
	for delay := setupRetryMin; ; delay = min(2*delay, setupRetryMax) {
		err := w.annotatePorts(ctx, annotation)
		if err == nil {
			break
		}
		w.log.Warn("record ports", "err", err)
		if !w.sleep(ctx, delay) {
			return nil, nil, false
		}
	}
	w.mu.Lock()
	w.sandbox = true
	w.mu.Unlock()
	w.notify()
	w.log.Info("pod starting", "ports", annotation, "dir", w.dir)

	if err := os.MkdirAll(w.dir, 0o700); err != nil {
		w.log.Error("pod directory", "err", err)
		return nil, nil, false
	}
	var dirs map[string]string
	for delay := setupRetryMin; ; delay = min(2*delay, setupRetryMax) {
		var err error
		dirs, tokens, err = w.volumes(ctx, w.latest())
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil, nil, false
		}
		w.log.Warn("volumes", "err", err)
		w.event(corev1.EventTypeWarning, "FailedMount", "MountVolume.SetUp failed: %v", err)
		if !w.sleep(ctx, delay) {
			return nil, nil, false
		}
	}
	for _, c := range pod.Spec.Containers {
		var mounts []mountDir
		for _, m := range c.VolumeMounts {
			dir, ok := dirs[m.Name]
			if !ok {
				continue
			}
			mounts = append(mounts, mountDir{mountPath: path.Clean(m.MountPath), dir: filepath.Join(dir, m.SubPath)})
		}
		rws = append(rws, newRewriter(ports, mounts))
		for _, pr := range []*corev1.Probe{c.ReadinessProbe, c.LivenessProbe, c.StartupProbe} {
			if pr != nil && pr.Exec != nil {
				w.log.Warn("exec probes always succeed here", "container", c.Name)
			}
		}
	}
	return rws, tokens, true
}

// annotatePorts records where the pod's ports are served.
func (w *podWorker) annotatePorts(ctx context.Context, annotation string) error {
	pod := w.latest()
	if pod.Annotations[PortsAnnotation] == annotation {
		return nil
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"uid":         w.uid, // precondition: this very pod
		"annotations": map[string]string{PortsAnnotation: annotation},
	}})
	if err != nil {
		return err
	}
	_, err = w.k.cs.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	return err
}

// allocPorts gives every declared container port a free loopback port,
// keeping the ones a previous run recorded when they are still free. It
// returns containerPort -> address and the PortsAnnotation value.
func (k *kubelet) allocPorts(pod *corev1.Pod) (map[int32]string, string) {
	prev := parsePorts(pod.Annotations[PortsAnnotation])
	k.mu.Lock()
	defer k.mu.Unlock()
	ports := map[int32]string{}
	var entries []string
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			key := p.Name
			if key == "" {
				key = strconv.Itoa(int(p.ContainerPort))
			}
			if addr, ok := ports[p.ContainerPort]; ok {
				entries = append(entries, key+"="+addr)
				continue
			}
			port := 0
			if _, s, err := net.SplitHostPort(prev[key]); err == nil {
				if n, _ := strconv.Atoi(s); n > 0 && !k.ports[n] && portFree(n) {
					port = n
				}
			}
			for port == 0 || k.ports[port] {
				port = freePort()
			}
			k.ports[port] = true
			addr := net.JoinHostPort(localIP, strconv.Itoa(port))
			ports[p.ContainerPort] = addr
			entries = append(entries, key+"="+addr)
		}
	}
	return ports, strings.Join(entries, ",")
}

func (k *kubelet) releasePorts(ports []int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, p := range ports {
		delete(k.ports, p)
	}
}

func freePort() int {
	l, err := net.Listen("tcp", net.JoinHostPort(localIP, "0"))
	if err != nil {
		return 0
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort(localIP, strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

// cleanup removes the pod's volumes (tokens must not outlive the pod) and
// frees its ports; container logs stay until the kubelet stops.
func (w *podWorker) cleanup() {
	w.k.releasePorts(w.ports)
	for _, v := range w.latest().Spec.Volumes {
		if v.HostPath == nil {
			_ = os.RemoveAll(filepath.Join(w.dir, v.Name))
		}
	}
}

// statusLoop reports the pod status whenever it changes.
func (w *podWorker) statusLoop(ctx context.Context) {
	var last *corev1.PodStatus
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.statusCh:
		}
		for delay := setupRetryMin; ; delay = min(2*delay, setupRetryMax) {
			st := w.status()
			if last != nil && equality.Semantic.DeepEqual(*last, st) {
				break
			}
			err := w.writeStatus(ctx, st)
			if err == nil {
				last = &st
				break
			}
			if ctx.Err() != nil || apierrors.IsNotFound(err) || errors.Is(err, errPodReplaced) {
				return
			}
			w.log.Warn("update pod status", "err", err)
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}
}

// status is the pod status the kubelet would report now; conditions carry
// no timestamps (writeStatus adds them).
func (w *podWorker) status() corev1.PodStatus {
	w.mu.Lock()
	defer w.mu.Unlock()
	pod := w.pod
	st := corev1.PodStatus{
		HostIP:             localIP,
		HostIPs:            []corev1.HostIP{{IP: localIP}},
		StartTime:          ptr.To(w.startTime),
		ObservedGeneration: pod.Generation,
	}
	if w.sandbox {
		st.PodIP = localIP
		st.PodIPs = []corev1.PodIP{{IP: localIP}}
	}
	var notReady []string
	pending, running, failed := 0, 0, 0
	for _, c := range w.containers {
		cs := corev1.ContainerStatus{
			Name:                 c.spec.Name,
			State:                c.state,
			LastTerminationState: c.last,
			Ready:                c.ready,
			RestartCount:         c.restarts,
			Image:                c.spec.Image,
			ImageID:              c.imageID,
			ContainerID:          c.id,
			Started:              ptr.To(c.started),
		}
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
		if !c.ready {
			notReady = append(notReady, c.spec.Name)
		}
		switch {
		case c.state.Running != nil:
			running++
		case c.state.Terminated != nil:
			if c.state.Terminated.ExitCode != 0 {
				failed++
			}
		case c.last.Terminated != nil:
			running++ // restarting
		default:
			pending++
		}
	}
	switch {
	case w.terminated || running == 0 && pending == 0:
		// Everything stopped (for deletion, or it ran to completion).
		if failed > 0 || pending > 0 {
			st.Phase = corev1.PodFailed
		} else {
			st.Phase = corev1.PodSucceeded
		}
	case pending > 0:
		st.Phase = corev1.PodPending
	default:
		st.Phase = corev1.PodRunning
	}

	cond := func(t corev1.PodConditionType, ok bool, reason, message string) {
		c := corev1.PodCondition{Type: t, Status: corev1.ConditionFalse, ObservedGeneration: pod.Generation}
		if ok {
			c.Status = corev1.ConditionTrue
		} else {
			c.Reason, c.Message = reason, message
		}
		st.Conditions = append(st.Conditions, c)
	}
	terminal := st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed
	ready := len(notReady) == 0 && !terminal
	reason, message := "ContainersNotReady", fmt.Sprintf("containers with unready status: [%s]", strings.Join(notReady, " "))
	if terminal {
		reason, message = "PodCompleted", ""
	}
	cond(corev1.PodReadyToStartContainers, w.sandbox && !terminal, "", "")
	cond(corev1.PodInitialized, true, "", "")
	cond(corev1.ContainersReady, ready, reason, message)
	var gates []string
	for _, g := range pod.Spec.ReadinessGates {
		if !conditionTrue(pod.Status.Conditions, g.ConditionType) {
			gates = append(gates, string(g.ConditionType))
		}
	}
	switch {
	case !ready:
		cond(corev1.PodReady, false, reason, message)
	case len(gates) > 0:
		cond(corev1.PodReady, false, "ReadinessGatesNotReady", fmt.Sprintf("corresponding condition of pod readiness gate %q does not exist or is not True", strings.Join(gates, ", ")))
	default:
		cond(corev1.PodReady, true, "", "")
	}
	return st
}

func conditionTrue(conds []corev1.PodCondition, t corev1.PodConditionType) bool {
	for _, c := range conds {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// writeStatus merges st into the pod's status (other writers' conditions,
// such as PodScheduled, stay) and updates it, retrying on conflicts.
func (w *podWorker) writeStatus(ctx context.Context, st corev1.PodStatus) error {
	pods := w.k.cs.CoreV1().Pods(w.latest().Namespace)
	pod := w.latest().DeepCopy()
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			fresh, err := pods.Get(ctx, pod.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			pod = fresh
		}
		if pod.UID != w.uid {
			return errPodReplaced
		}
		mergeStatus(&pod.Status, st, metav1.Now())
		_, err := pods.UpdateStatus(ctx, pod, metav1.UpdateOptions{})
		if !apierrors.IsConflict(err) || attempt == 10 {
			return err
		}
	}
}

func mergeStatus(out *corev1.PodStatus, st corev1.PodStatus, now metav1.Time) {
	out.Phase = st.Phase
	out.HostIP, out.HostIPs = st.HostIP, st.HostIPs
	out.PodIP, out.PodIPs = st.PodIP, st.PodIPs
	if out.StartTime == nil {
		out.StartTime = st.StartTime
	}
	out.ObservedGeneration = st.ObservedGeneration
	out.ContainerStatuses = st.ContainerStatuses
	out.Reason, out.Message = "", ""
	for _, c := range st.Conditions {
		c.LastTransitionTime = now
		i := 0
		for ; i < len(out.Conditions); i++ {
			if out.Conditions[i].Type == c.Type {
				break
			}
		}
		if i == len(out.Conditions) {
			out.Conditions = append(out.Conditions, c)
			continue
		}
		if out.Conditions[i].Status == c.Status {
			c.LastTransitionTime = out.Conditions[i].LastTransitionTime
		}
		out.Conditions[i] = c
	}
}
