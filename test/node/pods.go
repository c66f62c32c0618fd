package node

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ContainerPID is the host PID of a running container's main process, read
// from containerd (the kubelet reports only the container's ID).
func (n *Node) ContainerPID(ctx context.Context, pod *corev1.Pod, container string) (int, error) {
	var id string
	for _, s := range pod.Status.ContainerStatuses {
		if s.Name == container && s.State.Running != nil {
			id = strings.TrimPrefix(s.ContainerID, "containerd://")
		}
	}
	if id == "" {
		return 0, fmt.Errorf("pod %s/%s: container %s is not running", pod.Namespace, pod.Name, container)
	}
	out, err := n.ctr(ctx, "tasks", "ls")
	if err != nil {
		return 0, err
	}
	// TASK  PID  STATUS
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == id {
			return strconv.Atoi(f[1])
		}
	}
	return 0, fmt.Errorf("pod %s/%s: containerd has no task %s", pod.Namespace, pod.Name, id)
}

// podNetNS is the path of the pod's network namespace, through its first
// container's process.
func (n *Node) podNetNS(ctx context.Context, pod *corev1.Pod) (string, error) {
	pid, err := n.podPID(ctx, pod)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("/proc/%d/ns/net", pid), nil
}

// ListenOnNetwork opens a listener beyond the node, in the network its
// default route leads to, adding the address there when it has no such
// address yet: how a test stands in for something off the node that pods
// must not reach, such as the cloud's metadata service.
func (n *Node) ListenOnNetwork(ctx context.Context, addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if host != GatewayIP && host != APIServerIP {
		if err := ip(ctx, n.l.network(), "addr", "replace", host+"/32", "dev", "lo"); err != nil {
			return nil, err
		}
	}
	return listenIn(n.l.networkPath(), addr)
}

func (n *Node) podPID(ctx context.Context, pod *corev1.Pod) (int, error) {
	if len(pod.Spec.Containers) == 0 {
		return 0, fmt.Errorf("pod %s/%s has no containers", pod.Namespace, pod.Name)
	}
	var fresh corev1.Pod
	if err := n.client.Get(ctx, client.ObjectKeyFromObject(pod), &fresh); err != nil {
		return 0, err
	}
	return n.ContainerPID(ctx, &fresh, fresh.Spec.Containers[0].Name)
}

// Process is what the kernel says of a running process: the facts a pod's
// security context is meant to produce.
type Process struct {
	UID, GID     []string // real, effective, saved, filesystem
	Groups       []string
	CapEff       uint64
	CapPrm       uint64
	CapBnd       uint64
	NoNewPrivs   bool
	Seccomp      int // 0 none, 1 strict, 2 filter
	RootReadOnly bool
	// Mounts are the process's mount points other than its root and the
	// kernel's own (/proc, /sys, /dev and below).
	Mounts []string
	// MemoryLimit is its memory cgroup's limit in bytes; CPUQuota and
	// CPUPeriod its CFS bandwidth (microseconds of CPU per period).
	MemoryLimit         int64
	CPUQuota, CPUPeriod int64
}

// LockDownFaults lists how p falls short of the lock-down a tenant pod's
// security context asks for: uid and gid 65532 throughout, no capabilities
// in any set, no_new_privs, the runtime's seccomp filter and a read-only
// root. None when it is locked down.
func (p Process) LockDownFaults() []string {
	var faults []string
	for _, id := range slices.Concat(p.UID, p.GID) {
		if id != "65532" {
			faults = append(faults, fmt.Sprintf("uid %v gid %v, want 65532 throughout", p.UID, p.GID))
			break
		}
	}
	if p.CapEff != 0 || p.CapPrm != 0 || p.CapBnd != 0 {
		faults = append(faults, fmt.Sprintf("capabilities eff %x prm %x bnd %x, want none", p.CapEff, p.CapPrm, p.CapBnd))
	}
	if !p.NoNewPrivs {
		faults = append(faults, "no_new_privs is not set: the process could gain privileges")
	}
	if p.Seccomp != 2 {
		faults = append(faults, fmt.Sprintf("seccomp mode %d, want 2 (the runtime's default filter)", p.Seccomp))
	}
	if !p.RootReadOnly {
		faults = append(faults, "the root filesystem is writable")
	}
	return faults
}

// ProcessOf reads /proc for pid.
func ProcessOf(pid int) (Process, error) {
	var p Process
	status, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return p, err
	}
	defer status.Close()
	s := bufio.NewScanner(status)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "Uid":
			p.UID = strings.Fields(v)
		case "Gid":
			p.GID = strings.Fields(v)
		case "Groups":
			p.Groups = strings.Fields(v)
		case "CapEff":
			p.CapEff, _ = strconv.ParseUint(v, 16, 64)
		case "CapPrm":
			p.CapPrm, _ = strconv.ParseUint(v, 16, 64)
		case "CapBnd":
			p.CapBnd, _ = strconv.ParseUint(v, 16, 64)
		case "NoNewPrivs":
			p.NoNewPrivs = v == "1"
		case "Seccomp":
			p.Seccomp, _ = strconv.Atoi(v)
		}
	}
	if err := s.Err(); err != nil {
		return p, err
	}
	if err := p.readLimits(pid); err != nil {
		return p, err
	}
	mounts, err := mountsOf(strconv.Itoa(pid))
	if err != nil {
		return p, err
	}
	for _, m := range mounts {
		switch {
		case m.point == "/":
			p.RootReadOnly = m.options[0] == "ro"
		case kernelMount(m.point):
		default:
			p.Mounts = append(p.Mounts, m.point)
		}
	}
	return p, nil
}

func kernelMount(point string) bool {
	for _, k := range []string{"/proc", "/sys", "/dev"} {
		if point == k || strings.HasPrefix(point, k+"/") {
			return true
		}
	}
	return false
}

// readLimits reads the process's cgroup v1 memory and CPU limits, as the
// kubelet and runc set them from the container's resources, from wherever
// this machine mounts those controllers.
func (p *Process) readLimits(pid int) error {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return err
	}
	mounts, err := mountsOf("self")
	if err != nil {
		return err
	}
	hierarchy := func(controller string) (string, error) {
		for _, m := range mounts {
			if m.fsType == "cgroup" && slices.Contains(m.superOptions, controller) {
				return m.point, nil
			}
		}
		return "", fmt.Errorf("no cgroup v1 hierarchy has the %s controller (the test node runs on cgroup v1)", controller)
	}
	read := func(path string) (int64, error) {
		v, err := os.ReadFile(path)
		if err != nil {
			return 0, err
		}
		return strconv.ParseInt(strings.TrimSpace(string(v)), 10, 64)
	}
	found := 0
	// Lines are "ID:controllers:path".
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, ctrl := range strings.Split(parts[1], ",") {
			if ctrl != "memory" && ctrl != "cpu" {
				continue
			}
			root, err := hierarchy(ctrl)
			if err != nil {
				return err
			}
			dir := filepath.Join(root, parts[2])
			if ctrl == "memory" {
				p.MemoryLimit, err = read(filepath.Join(dir, "memory.limit_in_bytes"))
			} else if p.CPUQuota, err = read(filepath.Join(dir, "cpu.cfs_quota_us")); err == nil {
				p.CPUPeriod, err = read(filepath.Join(dir, "cpu.cfs_period_us"))
			}
			if err != nil {
				return fmt.Errorf("cgroup limits of %d: %w", pid, err)
			}
			found++
		}
	}
	if found != 2 {
		return fmt.Errorf("process %d is not in both a memory and a cpu cgroup:\n%s", pid, b)
	}
	return nil
}

// HTTPClient is an HTTP client whose connections are made from inside the
// pod's network namespace (addresses must be IPs), for talking to a server
// as another pod would, through whatever NetworkPolicy stands between.
func (n *Node) HTTPClient(ctx context.Context, from *corev1.Pod) (*http.Client, error) {
	netns, err := n.podNetNS(ctx, from)
	if err != nil {
		return nil, err
	}
	return &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) { return dialIn(ctx, netns, addr) },
			// One connection per request: a kept-alive one would outlive
			// a change of policy.
			DisableKeepAlives: true,
		},
	}, nil
}

// Resolver resolves names through the nameserver in the pod's own
// /etc/resolv.conf (the kubelet's clusterDNS), which it also returns, from
// inside the pod's network namespace, so the query goes through kube-proxy
// and the pod's NetworkPolicy as a query from the pod does. (Search domains
// and options are this machine's: ask for fully qualified names.)
func (n *Node) Resolver(ctx context.Context, pod *corev1.Pod) (*net.Resolver, string, error) {
	pid, err := n.podPID(ctx, pod)
	if err != nil {
		return nil, "", err
	}
	conf, err := os.ReadFile(fmt.Sprintf("/proc/%d/root/etc/resolv.conf", pid))
	if err != nil {
		return nil, "", fmt.Errorf("the pod's resolv.conf: %w", err)
	}
	var server string
	for _, line := range strings.Split(string(conf), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "nameserver" {
			server = f[1]
			break
		}
	}
	if net.ParseIP(server) == nil {
		return nil, "", fmt.Errorf("no nameserver in the pod's resolv.conf:\n%s", conf)
	}
	netns := fmt.Sprintf("/proc/%d/ns/net", pid)
	return &net.Resolver{
		PreferGo: true,
		// The Go resolver would ask this machine's nameserver; the pod's
		// is asked instead.
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return dialNetIn(ctx, netns, network, net.JoinHostPort(server, "53"))
		},
	}, server, nil
}
