package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Probe describes a netcheck pod: a stand-in that answers on its ports,
// placed where a test needs a peer (another tenant, the ingress controller,
// the metrics scraper, DNS).
type Probe struct {
	Namespace, Name string
	// Ports it answers on; 8080 when empty.
	Ports []int32
	// Root runs it as root, to listen on a port below 1024 (DNS).
	Root bool
	// Labels besides app=<Name>.
	Labels map[string]string
	// DNSAnswer, when set, makes it answer DNS A questions on UDP 53 with
	// this address (standing in for the cluster's DNS).
	DNSAnswer string
	// SecurityContext replaces the probe's own (no privilege escalation, no
	// capabilities; root with NET_BIND_SERVICE when Root is set).
	SecurityContext *corev1.SecurityContext
	// ServiceAccountToken mounts the namespace's default ServiceAccount
	// token and the cluster's CA, as a workload that talks to the API server
	// has them; probes have none otherwise.
	ServiceAccountToken bool
}

// RunProbe creates the probe pod and returns it once Ready.
func (n *Node) RunProbe(ctx context.Context, p Probe) (*corev1.Pod, error) {
	ports := p.Ports
	if len(ports) == 0 {
		ports = []int32{8080}
	}
	var list []string
	var cports []corev1.ContainerPort
	for _, port := range ports {
		list = append(list, fmt.Sprint(port))
		cports = append(cports, corev1.ContainerPort{ContainerPort: port})
	}
	args := []string{"-ports=" + strings.Join(list, ",")}
	if p.DNSAnswer != "" {
		args = append(args, "-dns="+p.DNSAnswer)
	}
	labels := map[string]string{"app": p.Name}
	for k, v := range p.Labels {
		labels[k] = v
	}
	sc := &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false), Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}
	if p.Root {
		sc.RunAsUser = ptr.To[int64](0)
		sc.Capabilities.Add = []corev1.Capability{"NET_BIND_SERVICE"}
	}
	if p.SecurityContext != nil {
		sc = p.SecurityContext
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: p.Name, Labels: labels},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name: "netcheck", Image: NetcheckImage, Args: args, Ports: cports,
				SecurityContext: sc,
				ReadinessProbe: &corev1.Probe{
					ProbeHandler:  corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(ports[0])}},
					PeriodSeconds: 1,
				},
			}},
			TerminationGracePeriodSeconds: ptr.To[int64](0),
			AutomountServiceAccountToken:  ptr.To(p.ServiceAccountToken),
		},
	}
	if err := n.createPod(ctx, pod); err != nil {
		return nil, fmt.Errorf("create probe %s/%s: %w", p.Namespace, p.Name, err)
	}
	return pod, n.WaitPodReady(ctx, pod)
}

// createPod creates pod, waiting (up to 30 s) for its namespace's default
// ServiceAccount where the API server admits pods as a cluster's does: the
// controller-manager makes it a moment after the namespace, and until then
// the pod is refused, as a ReplicaSet's would be and retried.
func (n *Node) createPod(ctx context.Context, pod *corev1.Pod) error {
	var err error
	_ = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		err = n.client.Create(ctx, pod)
		return err == nil || !noServiceAccountYet(err), nil
	})
	return err
}

// noServiceAccountYet is the API server's refusal of a pod whose
// ServiceAccount does not exist (yet).
func noServiceAccountYet(err error) bool {
	return apierrors.IsForbidden(err) && strings.Contains(err.Error(), "error looking up service account")
}

// WaitPodReady waits up to a minute for the pod to be Ready, and refreshes
// it (its IP, its containers' IDs).
func (n *Node) WaitPodReady(ctx context.Context, pod *corev1.Pod) error {
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		if err := n.client.Get(ctx, client.ObjectKeyFromObject(pod), pod); err != nil {
			return false, nil
		}
		for _, c := range pod.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("pod %s/%s not Ready (phase %s, conditions %+v): %w", pod.Namespace, pod.Name, pod.Status.Phase, pod.Status.Conditions, err)
	}
	return nil
}

// ErrDropped is Answer's error for a connection attempt that got no answer
// at all within its time: the SYN was dropped, as a NetworkPolicy engine
// drops what a policy denies.
var ErrDropped = errors.New("dropped: no answer to the connection attempt")

// Answer connects from inside pod to addr (an IP and port) and returns
// what answered: a netcheck probe's "netcheck <pod> <port>", or "" for any
// other server that accepted the connection. A connection attempt that
// times out (two seconds) is ErrDropped; any other failure (a reset, the
// pod gone) is returned as itself, so a test can tell a policy's drop from
// something else going wrong.
func (n *Node) Answer(ctx context.Context, from *corev1.Pod, addr string) (string, error) {
	netns, err := n.podNetNS(ctx, from)
	if err != nil {
		return "", err
	}
	dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c, err := dialIn(dctx, netns, addr)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() && ctx.Err() == nil {
			return "", fmt.Errorf("%s: %w", addr, ErrDropped)
		}
		return "", err
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	b, err := io.ReadAll(c)
	var ne net.Error
	if err != nil && !(errors.As(err, &ne) && ne.Timeout()) {
		return "", err
	}
	_, body, _ := strings.Cut(string(b), "\r\n\r\n")
	return strings.TrimSpace(body), nil
}

// PodAddr is the pod's IP with port.
func PodAddr(pod *corev1.Pod, port int32) string {
	return net.JoinHostPort(pod.Status.PodIP, fmt.Sprint(port))
}
