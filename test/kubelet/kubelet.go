// Package kubelet is a small kubelet for one node that runs each container of
// the pods bound to it as a local process instead of in a container runtime.
// The real kube-scheduler binds pods to the node and the real controllers
// (ReplicaSets, Deployments, the operator) see the pod status it reports, so
// availability and readiness come from the same code paths as in a cluster.
//
// What a container becomes here:
//   - the program Options.Binary returns for its image, started in its own
//     process group with the container's args (command[0] names the image's
//     entrypoint, which the program replaces; command[1:] and args follow);
//   - its environment only (plus PATH and HOME of the runner and HOSTNAME);
//     values that bind a declared container port (":8080", "0.0.0.0:8080")
//     become a free loopback port, recorded in the pod annotation
//     PortsAnnotation, and values that point into a volume mount point into
//     the volume's directory under Options.StateDir;
//   - volumes are directories: projected service account tokens come from the
//     TokenRequest API (bound to the pod, refreshed at 80% of their lifetime),
//     secrets, config maps and the downward API are written once, emptyDir is
//     empty and hostPath is the host path;
//   - readiness, liveness and startup probes (httpGet, tcpSocket; gRPC probes
//     only check the port accepts connections, exec probes always succeed).
//
// Not modelled: init and ephemeral containers, lifecycle hooks, resource
// enforcement, image pulls, service links, kubectl logs/exec.
package kubelet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
)

// PortsAnnotation lists where a pod's container ports are served on this
// machine: "name=127.0.0.1:port,..." (the port number stands in for the name
// of an unnamed port).
const PortsAnnotation = "local.blue.superviber.com/ports"

// Options configure Run.
type Options struct {
	// Config reaches the API server; it must be allowed to manage nodes,
	// leases, pods and pod status, read secrets and config maps, request
	// service account tokens and write events.
	Config *rest.Config
	// NodeName is the node to register; "local-node" when empty.
	NodeName string
	// Binary returns the local program that stands in for a container image.
	Binary func(image string) (string, error)
	// ExtraEnv, if set, is added to every container's environment (overriding
	// the container's own values), e.g. to point a server at local endpoints.
	ExtraEnv func(pod *corev1.Pod) map[string]string
	// StateDir holds a directory per pod (volumes and container logs:
	// <pod-uid>/<volume>/..., <pod-uid>/<container>.log). Its contents are
	// removed when Run returns; a temporary directory when empty.
	StateDir string
	// Log receives what the kubelet does; slog.Default() when nil.
	Log *slog.Logger
}

// Node shape and timing. Capacity is large enough for any local stack.
var nodeCapacity = corev1.ResourceList{
	corev1.ResourceCPU:              resource.MustParse("8"),
	corev1.ResourceMemory:           resource.MustParse("32Gi"),
	corev1.ResourcePods:             resource.MustParse("110"),
	corev1.ResourceEphemeralStorage: resource.MustParse("100Gi"),
}

const (
	defaultNodeName    = "local-node"
	leaseNamespace     = corev1.NamespaceNodeLease
	leaseDuration      = 40 * time.Second
	leaseRenewInterval = 10 * time.Second
	nodeStatusInterval = 20 * time.Second
	// shutdownGrace caps the termination grace period when Run's context
	// ends: the caller is going away and wants its processes gone quickly.
	shutdownGrace = 5 * time.Second
	// minGrace is the kubelet's minimum termination grace period.
	minGrace = 2 * time.Second
	localIP  = "127.0.0.1"
)

type kubelet struct {
	o        Options
	cs       kubernetes.Interface
	log      *slog.Logger
	recorder record.EventRecorder
	version  string

	// ctx is Run's context; workers stop when it ends.
	ctx context.Context

	mu      sync.Mutex // guards the fields below
	nodeUID types.UID
	closed  bool
	workers map[types.UID]*podWorker
	ports   map[int]bool // loopback ports handed out to live pods
	wg      sync.WaitGroup
}

// Run registers the node, keeps it ready and runs the pods bound to it until
// ctx ends; then it stops every process, removes the contents of StateDir
// and returns nil. It returns an error only if it cannot start: bad options,
// an unreachable API server, a node it may not register.
func Run(ctx context.Context, o Options) error {
	if o.Config == nil {
		return errors.New("kubelet: Options.Config is required")
	}
	if o.Binary == nil {
		return errors.New("kubelet: Options.Binary is required")
	}
	if o.NodeName == "" {
		o.NodeName = defaultNodeName
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	ownDir := false
	if o.StateDir == "" {
		d, err := os.MkdirTemp("", "blue-kubelet-")
		if err != nil {
			return fmt.Errorf("kubelet: state dir: %w", err)
		}
		o.StateDir, ownDir = d, true
	} else if err := os.MkdirAll(o.StateDir, 0o700); err != nil {
		return fmt.Errorf("kubelet: state dir: %w", err)
	}
	if abs, err := filepath.Abs(o.StateDir); err == nil {
		o.StateDir = abs
	}
	defer func() {
		if ownDir {
			_ = os.RemoveAll(o.StateDir)
			return
		}
		entries, _ := os.ReadDir(o.StateDir)
		for _, e := range entries {
			_ = os.RemoveAll(filepath.Join(o.StateDir, e.Name()))
		}
	}()

	cs, err := kubernetes.NewForConfig(o.Config)
	if err != nil {
		return fmt.Errorf("kubelet: client: %w", err)
	}
	k := &kubelet{
		o:       o,
		cs:      cs,
		log:     o.Log.With("node", o.NodeName),
		ctx:     ctx,
		workers: map[types.UID]*podWorker{},
		ports:   map[int]bool{},
	}
	broadcaster := record.NewBroadcaster()
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: cs.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	k.recorder = broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "kubelet", Host: o.NodeName})

	v, err := cs.Discovery().ServerVersion()
	if err != nil {
		return fmt.Errorf("kubelet: server version: %w", err)
	}
	k.version = v.GitVersion
	if err := k.register(ctx); err != nil {
		return fmt.Errorf("kubelet: register node %s: %w", o.NodeName, err)
	}
	k.log.Info("node registered", "state_dir", o.StateDir)

	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0,
		informers.WithTweakListOptions(func(lo *metav1.ListOptions) {
			lo.FieldSelector = "spec.nodeName=" + o.NodeName
		}))
	podInformer := factory.Core().V1().Pods().Informer()
	if _, err := podInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { k.podChanged(obj) },
		UpdateFunc: func(_, obj any) { k.podChanged(obj) },
		DeleteFunc: k.podDeleted,
	}); err != nil {
		return fmt.Errorf("kubelet: pod informer: %w", err)
	}
	var loops sync.WaitGroup
	loops.Go(func() { k.every(ctx, leaseRenewInterval, "renew lease", k.renewLease) })
	loops.Go(func() { k.every(ctx, nodeStatusInterval, "update node status", k.heartbeat) })
	factory.Start(ctx.Done())

	<-ctx.Done()
	k.mu.Lock()
	k.closed = true
	k.mu.Unlock()
	factory.Shutdown()
	k.wg.Wait() // every worker has stopped its processes
	loops.Wait()
	k.log.Info("stopped")
	return nil
}

// every runs f now and then every interval until ctx ends.
func (k *kubelet) every(ctx context.Context, interval time.Duration, what string, f func(context.Context) error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := f(ctx); err != nil && ctx.Err() == nil {
			k.log.Warn(what, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// register creates (or adopts) the node, takes its lease, reports it ready
// and clears the not-ready taint that the API server puts on new nodes (the
// node lifecycle controller's job, which a local control plane may not run).
func (k *kubelet) register(ctx context.Context) error {
	nodes := k.cs.CoreV1().Nodes()
	want := k.nodeObject()
	node, err := nodes.Create(ctx, want, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
			n, err := nodes.Get(ctx, k.o.NodeName, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if n.Labels == nil {
				n.Labels = map[string]string{}
			}
			for l, v := range want.Labels {
				n.Labels[l] = v
			}
			node, err = nodes.Update(ctx, n, metav1.UpdateOptions{})
			return err
		})
	}
	if err != nil {
		return err
	}
	k.mu.Lock()
	k.nodeUID = node.UID
	k.mu.Unlock()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: leaseNamespace}}
	if _, err := k.cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("namespace %s: %w", leaseNamespace, err)
	}
	if err := k.renewLease(ctx); err != nil {
		return fmt.Errorf("lease: %w", err)
	}
	if err := k.heartbeat(ctx); err != nil {
		return err
	}
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err := nodes.Get(ctx, k.o.NodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		var keep []corev1.Taint
		for _, t := range n.Spec.Taints {
			if t.Key != corev1.TaintNodeNotReady && t.Key != corev1.TaintNodeUnreachable {
				keep = append(keep, t)
			}
		}
		if len(keep) == len(n.Spec.Taints) {
			return nil
		}
		k.log.Info("clearing taints the node lifecycle controller would remove", "taints", n.Spec.Taints)
		n.Spec.Taints = keep
		_, err = nodes.Update(ctx, n, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("clear not-ready taint: %w", err)
	}
	return nil
}

func (k *kubelet) nodeObject() *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name: k.o.NodeName,
		Labels: map[string]string{
			corev1.LabelHostname:   k.o.NodeName,
			corev1.LabelOSStable:   runtime.GOOS,
			corev1.LabelArchStable: runtime.GOARCH,
		},
	}}
	k.setNodeStatus(n, metav1.Now())
	return n
}

func (k *kubelet) setNodeStatus(n *corev1.Node, now metav1.Time) {
	n.Status.Capacity = nodeCapacity.DeepCopy()
	n.Status.Allocatable = nodeCapacity.DeepCopy()
	n.Status.Phase = corev1.NodeRunning
	n.Status.Addresses = []corev1.NodeAddress{
		{Type: corev1.NodeInternalIP, Address: localIP},
		{Type: corev1.NodeHostName, Address: k.o.NodeName},
	}
	n.Status.NodeInfo = corev1.NodeSystemInfo{
		MachineID:               "local",
		SystemUUID:              "local",
		BootID:                  "local",
		KernelVersion:           runtime.GOOS,
		OSImage:                 "local processes (test/kubelet)",
		ContainerRuntimeVersion: "local://" + runtime.Version(),
		KubeletVersion:          k.version,
		OperatingSystem:         runtime.GOOS,
		Architecture:            runtime.GOARCH,
	}
	conds := []corev1.NodeCondition{
		{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientMemory", Message: "kubelet has sufficient memory available"},
		{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasNoDiskPressure", Message: "kubelet has no disk pressure"},
		{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientPID", Message: "kubelet has sufficient PID available"},
		{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "kubelet is posting ready status"},
	}
	for _, c := range conds {
		c.LastHeartbeatTime, c.LastTransitionTime = now, now
		for _, old := range n.Status.Conditions {
			if old.Type == c.Type && old.Status == c.Status {
				c.LastTransitionTime = old.LastTransitionTime
			}
		}
		setNodeCondition(n, c)
	}
}

func setNodeCondition(n *corev1.Node, c corev1.NodeCondition) {
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == c.Type {
			n.Status.Conditions[i] = c
			return
		}
	}
	n.Status.Conditions = append(n.Status.Conditions, c)
}

// heartbeat posts the node status with fresh condition heartbeats; a node
// deleted behind our back is registered again.
func (k *kubelet) heartbeat(ctx context.Context) error {
	nodes := k.cs.CoreV1().Nodes()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err := nodes.Get(ctx, k.o.NodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		k.setNodeStatus(n, metav1.Now())
		_, err = nodes.UpdateStatus(ctx, n, metav1.UpdateOptions{})
		return err
	})
	if apierrors.IsNotFound(err) && k.registered() {
		k.log.Warn("node was deleted; registering again")
		return k.register(ctx)
	}
	return err
}

func (k *kubelet) registered() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.nodeUID != ""
}

// renewLease keeps the node's lease in kube-node-lease fresh, which is what
// the node lifecycle controller watches.
func (k *kubelet) renewLease(ctx context.Context) error {
	leases := k.cs.CoordinationV1().Leases(leaseNamespace)
	now := metav1.NewMicroTime(time.Now())
	spec := coordinationv1.LeaseSpec{
		HolderIdentity:       ptr.To(k.o.NodeName),
		LeaseDurationSeconds: ptr.To(int32(leaseDuration / time.Second)),
		RenewTime:            &now,
	}
	k.mu.Lock()
	owner := metav1.OwnerReference{APIVersion: "v1", Kind: "Node", Name: k.o.NodeName, UID: k.nodeUID}
	k.mu.Unlock()
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		l, err := leases.Get(ctx, k.o.NodeName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			l = &coordinationv1.Lease{
				ObjectMeta: metav1.ObjectMeta{Name: k.o.NodeName, Namespace: leaseNamespace, OwnerReferences: []metav1.OwnerReference{owner}},
				Spec:       spec,
			}
			_, err = leases.Create(ctx, l, metav1.CreateOptions{})
			return err
		}
		if err != nil {
			return err
		}
		l.Spec.HolderIdentity, l.Spec.LeaseDurationSeconds, l.Spec.RenewTime = spec.HolderIdentity, spec.LeaseDurationSeconds, spec.RenewTime
		_, err = leases.Update(ctx, l, metav1.UpdateOptions{})
		return err
	})
}

// podChanged hands a pod to its worker, starting one for a pod not seen
// before. Pods that already finished are left alone unless being deleted.
func (k *kubelet) podChanged(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return
	}
	if w := k.workers[pod.UID]; w != nil {
		w.setPod(pod)
		return
	}
	terminal := pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
	if terminal && pod.DeletionTimestamp == nil {
		return
	}
	w := newPodWorker(k, pod)
	k.workers[pod.UID] = w
	k.wg.Go(func() { w.run(k.ctx) })
}

// podDeleted tells a pod's worker that the pod is gone from the API.
func (k *kubelet) podDeleted(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	k.mu.Lock()
	w := k.workers[pod.UID]
	delete(k.workers, pod.UID)
	k.mu.Unlock()
	if w != nil {
		w.markGone()
	}
}

// Endpoint returns the "127.0.0.1:<port>" that serves a pod's container port
// here, by port name (or number, for an unnamed port), read from the
// PortsAnnotation the kubelet writes before it starts the pod's containers.
func Endpoint(pod *corev1.Pod, portName string) (string, bool) {
	ports := parsePorts(pod.Annotations[PortsAnnotation])
	addr, ok := ports[portName]
	return addr, ok
}

func parsePorts(s string) map[string]string {
	m := map[string]string{}
	for kv := range strings.SplitSeq(s, ",") {
		if name, addr, ok := strings.Cut(strings.TrimSpace(kv), "="); ok && name != "" && addr != "" {
			m[name] = addr
		}
	}
	return m
}
