package node

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
)

// The node's addresses. Each node has a network namespace of its own, so
// every node can use the same ones.
const (
	// NodeIP is the node's address (the kubelet's --node-ip).
	NodeIP = "10.77.0.2"
	// GatewayIP is the network's end of the node's link, its default route.
	GatewayIP = "10.77.0.1"
	// APIServerIP is where the API server is, off the node as a managed
	// control plane is: its advertised address (the kubernetes Service's
	// endpoint) at its own port, and at 443 as a cloud's API endpoint is.
	APIServerIP = "10.77.0.10"
	// PodCIDR is where the CNI bridge gives pods their addresses.
	PodCIDR = "10.244.0.0/24"
	// ServiceCIDR is the API server's service range (envtest's default).
	ServiceCIDR = "10.0.0.0/24"
	// DNSServiceIP is the cluster DNS address the kubelet writes into
	// pods' resolv.conf; a suite that needs DNS gives a Service this
	// ClusterIP (kube-dns, as clusters name it).
	DNSServiceIP = "10.0.0.10"
	// SandboxImage is the pause image containerd is pinned to.
	SandboxImage = "docker.io/superviber/pause:node"
	// NetcheckImage runs hack/node/netcheck: it answers TCP connections on
	// the ports in its -ports flag with a line naming its pod.
	NetcheckImage = "docker.io/superviber/netcheck:node"
	// PolicyImage runs kube-network-policies, the NetworkPolicy engine.
	PolicyImage = "docker.io/superviber/kube-network-policies:node"
)

// layout is where one node keeps its state, all under one directory.
type layout struct {
	dir    string // the node's state directory
	bin    string // hack/setup-node.sh's directory
	netns  string // network namespace name
	cgroup string // cgroup parent of everything the node runs, e.g. /blue-node-1a2b3c
}

func (l layout) socket() string         { return filepath.Join(l.dir, "containerd.sock") }
func (l layout) containerdConf() string { return filepath.Join(l.dir, "containerd.toml") }
func (l layout) kubeletConf() string    { return filepath.Join(l.dir, "kubelet.yaml") }
func (l layout) cniConfDir() string     { return filepath.Join(l.dir, "cni", "net.d") }
func (l layout) netnsPath() string      { return filepath.Join(netnsDir, l.netns) }
func (l layout) network() string        { return l.netns + "-net" }
func (l layout) networkPath() string    { return filepath.Join(netnsDir, l.network()) }
func (l layout) podLogsDir() string     { return filepath.Join(l.dir, "pod-logs") }

// containerdConfig is containerd's configuration: every path under the
// node's directory (the pods' network namespaces too), the native
// snapshotter (images here are a few megabytes), runc as the runtime, the
// sandbox image pinned (no registry is reachable), and oom_score_adj
// restricted to what this process may set, without which runc fails every
// sandbox here (the pause container asks for -998 and root lacks
// CAP_SYS_RESOURCE).
func containerdConfig(l layout) string {
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	return strings.Join([]string{
		`version = 3`,
		`root = ` + q(filepath.Join(l.dir, "containerd", "root")),
		`state = ` + q(filepath.Join(l.dir, "containerd", "state")),
		`disabled_plugins = ["io.containerd.nri.v1.nri", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]`,
		``,
		`[grpc]`,
		`  address = ` + q(l.socket()),
		``,
		`[plugins."io.containerd.internal.v1.opt"]`,
		`  path = ` + q(filepath.Join(l.dir, "containerd", "opt")),
		``,
		`[plugins."io.containerd.cri.v1.images"]`,
		`  snapshotter = "native"`,
		`  [plugins."io.containerd.cri.v1.images".pinned_images]`,
		`    sandbox = ` + q(SandboxImage),
		``,
		`[plugins."io.containerd.cri.v1.runtime"]`,
		`  restrict_oom_score_adj = true`,
		`  netns_mounts_under_state_dir = true`,
		`  enable_cdi = false`,
		`  [plugins."io.containerd.cri.v1.runtime".cni]`,
		`    bin_dirs = [` + q(filepath.Join(l.bin, "cni")) + `]`,
		`    conf_dir = ` + q(l.cniConfDir()),
		`  [plugins."io.containerd.cri.v1.runtime".containerd]`,
		`    default_runtime_name = "runc"`,
		`    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]`,
		`      runtime_type = "io.containerd.runc.v2"`,
		`      snapshotter = "native"`,
		`      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]`,
		`        SystemdCgroup = false`,
		`        Root = ` + q(filepath.Join(l.dir, "runc")),
		``,
		`[plugins."io.containerd.grpc.v1.cri"]`,
		`  stream_server_address = "127.0.0.1"`,
		`  stream_server_port = "0"`,
		``,
	}, "\n")
}

// cniConfig is the pod network: one bridge with the node as gateway,
// addresses from PodCIDR kept under the node's directory, no masquerading
// (the network routes the pod range back to the node), and hairpin so a
// pod reaches itself through its Service. The network is named after the
// node: libcni keeps its results in the machine's /var/lib/cni/results under
// that name, so Stop finds this node's.
func cniConfig(l layout) string {
	conf := map[string]any{
		"cniVersion": "1.0.0",
		"name":       l.netns,
		"plugins": []any{map[string]any{
			"type":        "bridge",
			"bridge":      "cni0",
			"isGateway":   true,
			"ipMasq":      false,
			"hairpinMode": true,
			"ipam": map[string]any{
				"type":    "host-local",
				"ranges":  [][]map[string]string{{{"subnet": PodCIDR}}},
				"routes":  []map[string]string{{"dst": "0.0.0.0/0"}},
				"dataDir": filepath.Join(l.dir, "cni", "ipam"),
			},
		}},
	}
	b, _ := json.MarshalIndent(conf, "", "  ")
	return string(b)
}

// kubeletConfig is the kubelet's configuration for this machine: cgroup v1
// through cgroupfs under the node's own cgroup parent, swap tolerated,
// eviction thresholds low enough that a shared disk never marks the node
// under pressure, and the kubelet's API open to nothing but loopback.
func kubeletConfig(l layout) string {
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: %s
cgroupsPerQOS: true
failSwapOn: false
containerRuntimeEndpoint: unix://%s
address: 127.0.0.1
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: false
authorization:
  mode: AlwaysAllow
registerNode: true
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 50Mi
  nodefs.available: 1%%
  imagefs.available: 1%%
  nodefs.inodesFree: 1%%
localStorageCapacityIsolation: true
resolvConf: /etc/resolv.conf
clusterDNS:
- %s
clusterDomain: cluster.local
podLogsDir: %s
syncFrequency: 5s
nodeStatusUpdateFrequency: 5s
fileCheckFrequency: 5s
`, l.cgroup, l.socket(), DNSServiceIP, l.podLogsDir())
}
