package node

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

const policyName = "kube-network-policies"

// policyObjects are what kube-network-policies runs as, as its own install
// manifest has it (a host-network pod with NET_ADMIN, a service account
// that may list and watch pods, namespaces and NetworkPolicies), on this
// node. Two differences: the pod's API server address is the node's loopback
// forwarder (the engine only knows in-cluster configuration, and the API
// server's certificate names 127.0.0.1, not the kubernetes Service), and its
// token volume is its own (the ServiceAccount admission plugin leaves alone
// a pod that mounts the token's path itself), so the engine runs on a
// control plane with or without that plugin.
func policyObjects(nodeName, apiPort string, caPEM []byte) []client.Object {
	ns := metav1.NamespaceSystem
	meta := metav1.ObjectMeta{Name: policyName, Namespace: ns}
	return []client.Object{
		&corev1.ServiceAccount{ObjectMeta: meta},
		&rbacv1.ClusterRole{
			ObjectMeta: metav1.ObjectMeta{Name: policyName},
			Rules: []rbacv1.PolicyRule{
				{APIGroups: []string{""}, Resources: []string{"pods", "namespaces"}, Verbs: []string{"list", "watch"}},
				{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"networkpolicies"}, Verbs: []string{"list", "watch"}},
			},
		},
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: policyName},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: policyName},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: policyName, Namespace: ns}},
		},
		&corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: policyName + "-ca", Namespace: ns},
			Data:       map[string]string{"ca.crt": string(caPEM)},
		},
		&corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: policyName, Namespace: ns, Labels: map[string]string{"app": policyName}},
			Spec: corev1.PodSpec{
				NodeName:           nodeName,
				HostNetwork:        true,
				ServiceAccountName: policyName,
				PriorityClassName:  "system-node-critical",
				Containers: []corev1.Container{{
					Name:  policyName,
					Image: PolicyImage,
					Args: []string{
						"--hostname-override=" + nodeName,
						"--disable-nri",
						"--metrics-bind-address=127.0.0.1:9080",
						"--v=2",
					},
					Env: []corev1.EnvVar{
						{Name: "KUBERNETES_SERVICE_HOST", Value: "127.0.0.1"},
						{Name: "KUBERNETES_SERVICE_PORT", Value: apiPort},
					},
					SecurityContext: &corev1.SecurityContext{
						RunAsUser:    ptr.To[int64](0),
						RunAsNonRoot: ptr.To(false),
						Privileged:   ptr.To(true),
						Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"NET_ADMIN"}},
					},
					VolumeMounts: []corev1.VolumeMount{{Name: "token", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount", ReadOnly: true}},
				}},
				Volumes: []corev1.Volume{{Name: "token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
					Sources: []corev1.VolumeProjection{
						{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr.To[int64](3600)}},
						{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: policyName + "-ca"}}},
					},
				}}}},
			},
		},
	}
}

// startPolicyEngine runs kube-network-policies on the node and waits until
// it has programmed its rules once.
func (n *Node) startPolicyEngine(ctx context.Context, o Options) error {
	n.policyEngine = true
	for _, obj := range policyObjects(n.Name, n.api.Port(), o.Plane.Config.CAData) {
		if err := n.client.Create(ctx, obj); err != nil {
			return fmt.Errorf("create %T %s: %w", obj, obj.GetName(), err)
		}
	}
	return n.waitFor(ctx, "kube-network-policies to sync", 60*time.Second, func(ctx context.Context) (bool, error) {
		lines, err := n.PolicyEngineLog(ctx)
		if err != nil {
			return false, nil
		}
		if bad := PolicyErrors(lines); len(bad) > 0 {
			return false, fmt.Errorf("kube-network-policies cannot program the kernel: %s", bad[0])
		}
		// The table is written in one batch: there means programmed.
		_, err = n.nft(ctx, "list", "table", "inet", policyName)
		return err == nil, nil
	})
}

// nft runs nft in the node's network namespace.
func (n *Node) nft(ctx context.Context, args ...string) ([]byte, error) {
	out, err := exec.CommandContext(ctx, "nsenter", append([]string{"--net=" + n.l.netnsPath(), "--", "nft"}, args...)...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("nft %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return out, nil
}

// PolicyEngineLog is kube-network-policies' log so far (the kubelet's file
// of the pod's container output).
func (n *Node) PolicyEngineLog(ctx context.Context) ([]string, error) {
	var pod corev1.Pod
	if err := n.client.Get(ctx, client.ObjectKey{Namespace: metav1.NamespaceSystem, Name: policyName}, &pod); err != nil {
		return nil, err
	}
	files, err := filepath.Glob(filepath.Join(n.l.podLogsDir(), fmt.Sprintf("%s_%s_%s", pod.Namespace, pod.Name, pod.UID), policyName, "*.log"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no log for %s yet", policyName)
	}
	var lines []string
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return nil, err
		}
		s := bufio.NewScanner(fh)
		s.Buffer(make([]byte, 64<<10), 1<<20)
		for s.Scan() {
			lines = append(lines, s.Text())
		}
		fh.Close()
	}
	return lines, nil
}

// PolicyErrors are the lines in which the engine says it failed to program
// nftables: on a kernel it cannot queue packets on it logs one on every sync
// and enforces nothing, so a run that sees one must fail, not pass on an
// open network.
func PolicyErrors(lines []string) []string {
	var bad []string
	for _, l := range lines {
		if strings.Contains(l, "syncing nftables rules") && strings.Contains(strings.ToLower(l), "error") ||
			strings.Contains(l, "failed to create kube-network-polic") {
			bad = append(bad, l)
		}
	}
	return bad
}
