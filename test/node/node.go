// Package node runs a real Kubernetes node on this machine for the tests
// and the local stack: containerd with runc, the CNI bridge, the kubelet,
// kube-proxy and the NetworkPolicy engine kube-network-policies, all built by
// hack/setup-node.sh, registered with a control plane from
// test/controlplane. Pods are real containers with their security context,
// Services work, and NetworkPolicy is enforced.
//
// The node lives in a network namespace of its own (nothing of the machine's
// network is touched) and in a cgroup parent of its own; Stop removes both,
// every process, every mount and the state directory (Leftovers checks).
// Start one node per test package, not per test: a node takes seconds.
package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/superviber/blue-operator/test/controlplane"
)

// Options say what to start.
type Options struct {
	// Plane is the control plane the node registers with. It must have been
	// started with AdvertiseAddress: APIServerIP, so the kubernetes Service
	// leads pods to the API server where the node's network has it.
	Plane *controlplane.Plane
	// Images are OCI archives to load into the node's containerd besides
	// its own (pause, netcheck, kube-network-policies).
	Images []string
	// NetworkPolicy runs kube-network-policies; without it the node
	// enforces no NetworkPolicy.
	NetworkPolicy bool
	// Dir holds the node's state and logs; a temporary directory when
	// empty (removed by Stop).
	Dir string
}

// Node is a running node.
type Node struct {
	// Name is the Node object's name, also the network namespace's and the
	// cgroup parent's.
	Name   string
	Dir    string
	client client.Client
	l      layout
	ownDir bool
	fwd    *forwarder
	// exposed forward the machine's servers into the network (Expose).
	exposed []*forwarder
	procs   []*process
	logs    []*os.File
	// api is the API server's address on this machine.
	api *url.URL
	// policyEngine: kube-network-policies was started.
	policyEngine bool
}

// startStep is one step of Start, named in its error.
type startStep struct {
	name string
	run  func(context.Context, Options) error
}

// tempDirPrefix names the state directories Start makes (short: containerd's
// socket path must fit a sockaddr_un).
const tempDirPrefix = "bn-"

type process struct {
	name   string
	cmd    *exec.Cmd
	exited chan struct{}
	err    error
}

// RequireEnv says which of the variables a suite running a node needs is
// missing: the control plane's binaries (KUBEBUILDER_ASSETS) and the node's
// (BLUE_NODE_BIN), as make test sets them.
func RequireEnv() error {
	for _, v := range []string{"KUBEBUILDER_ASSETS", "BLUE_NODE_BIN"} {
		if os.Getenv(v) == "" {
			return fmt.Errorf("%s is not set: these tests run a real node; run them with `make test` or\n"+
				"  KUBEBUILDER_ASSETS=$(hack/setup-envtest.sh kube-controller-manager kube-scheduler kubelet kube-proxy) BLUE_NODE_BIN=$(hack/setup-node.sh) go test ./<package>", v)
		}
	}
	return nil
}

// Start starts a node and returns once it is Ready. BLUE_NODE_BIN must name
// hack/setup-node.sh's directory.
func Start(ctx context.Context, o Options) (n *Node, err error) {
	bin := os.Getenv("BLUE_NODE_BIN")
	if bin == "" {
		return nil, errors.New("BLUE_NODE_BIN is not set: run through make, or export BLUE_NODE_BIN=$(hack/setup-node.sh)")
	}
	if o.Plane == nil {
		return nil, errors.New("node: Options.Plane is required")
	}
	suffix := make([]byte, 3)
	_, _ = rand.Read(suffix)
	name := "blue-node-" + hex.EncodeToString(suffix)
	nd := &Node{Name: name, Dir: o.Dir}
	n = nd
	defer func() {
		if err != nil {
			err = errors.Join(err, nd.Stop())
			n = nil
		}
	}()
	if n.Dir == "" {
		if n.Dir, err = os.MkdirTemp("", tempDirPrefix); err != nil {
			return nil, fmt.Errorf("node state dir: %w", err)
		}
		n.ownDir = true
	}
	n.l = layout{dir: n.Dir, bin: bin, netns: name, cgroup: "/" + name}
	if n.client, err = client.New(o.Plane.Config, client.Options{}); err != nil {
		return nil, fmt.Errorf("node client: %w", err)
	}
	if n.api, err = url.Parse(o.Plane.Config.Host); err != nil {
		return nil, fmt.Errorf("API server address: %w", err)
	}
	steps := []startStep{
		{"claim", func(context.Context, Options) error { return claim(name, nd.Dir) }},
		{"network namespaces", func(ctx context.Context, _ Options) error { return setupNetNS(ctx, name, nd.l.network()) }},
		{"cgroups", func(context.Context, Options) error { return makeCgroups(n.l.cgroup, "node") }},
		{"API server forwarder", n.forwardAPIServer},
		{"containerd", n.startContainerd},
		{"images", n.importImages},
		{"kubelet", n.startKubelet},
		{"kube-proxy", n.startKubeProxy},
	}
	if o.NetworkPolicy {
		steps = append(steps, startStep{"kube-network-policies", n.startPolicyEngine})
	}
	for _, s := range steps {
		if err := s.run(ctx, o); err != nil {
			return nil, fmt.Errorf("node %s: %s: %w", name, s.name, err)
		}
	}
	return n, nil
}

// Client is an admin client of the node's control plane.
func (n *Node) Client() client.Client { return n.client }

// forwardAPIServer makes the API server reachable: on the node's loopback
// at its own port, for the node's components (their kubeconfigs name
// 127.0.0.1, which the API server's certificate is for), and in the
// network at APIServerIP, at its own port (the kubernetes Service's
// endpoint) and at 443 (a cloud's API endpoint).
func (n *Node) forwardAPIServer(context.Context, Options) error {
	u := n.api
	n.fwd = newForwarder(u.Host)
	for _, at := range []struct{ ns, addr string }{
		{n.l.netnsPath(), net.JoinHostPort("127.0.0.1", u.Port())},
		{n.l.networkPath(), net.JoinHostPort(APIServerIP, u.Port())},
		{n.l.networkPath(), net.JoinHostPort(APIServerIP, "443")},
	} {
		l, err := listenIn(at.ns, at.addr)
		if err != nil {
			return err
		}
		n.fwd.serve(l)
	}
	return nil
}

func (n *Node) startContainerd(ctx context.Context, _ Options) error {
	if err := writeFiles(map[string]string{
		n.l.containerdConf(): containerdConfig(n.l),
		filepath.Join(n.l.cniConfDir(), "10-bridge.conflist"): cniConfig(n.l),
	}); err != nil {
		return err
	}
	if err := n.run("containerd", filepath.Join(n.l.bin, "containerd"), "--config", n.l.containerdConf()); err != nil {
		return err
	}
	return n.waitFor(ctx, "containerd's socket", 30*time.Second, func(context.Context) (bool, error) {
		_, err := os.Stat(n.l.socket())
		return err == nil, nil
	})
}

// ctr runs containerd's client against this node's containerd, in the
// namespace the kubelet's containers live in.
func (n *Node) ctr(ctx context.Context, args ...string) ([]byte, error) {
	args = append([]string{"--address", n.l.socket(), "--namespace", "k8s.io"}, args...)
	out, err := exec.CommandContext(ctx, filepath.Join(n.l.bin, "ctr"), args...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("ctr %s: %w: %s", strings.Join(args[4:], " "), err, strings.TrimSpace(string(out)))
	}
	return out, nil
}

func (n *Node) importImages(ctx context.Context, o Options) error {
	own, err := filepath.Glob(filepath.Join(n.l.bin, "images", "current", "*.oci.tar"))
	if err != nil || len(own) == 0 {
		return fmt.Errorf("no images under %s (run hack/setup-node.sh)", filepath.Join(n.l.bin, "images"))
	}
	for _, img := range append(own, o.Images...) {
		out, err := n.ctr(ctx, "images", "import", "--local", img)
		if err != nil {
			return err
		}
		// ctr names an image after its archive's ref.name as it stands
		// ("superviber/pause:node"); the kubelet asks for the normalized
		// name ("docker.io/superviber/pause:node").
		for _, name := range importedNames(string(out)) {
			if full := normalizedName(name); full != name {
				if _, err := n.ctr(ctx, "images", "tag", "--force", name, full); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// importedNames reads ctr import's "unpacking NAME (sha256:...)...done"
// lines.
func importedNames(out string) []string {
	var names []string
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "unpacking "); ok {
			if name, _, ok := strings.Cut(rest, " "); ok {
				names = append(names, name)
			}
		}
	}
	return names
}

// normalizedName is an image reference as the CRI resolves it: Docker Hub's
// domain, and library/ for a one-part name.
func normalizedName(name string) string {
	first, _, found := strings.Cut(name, "/")
	if found && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return name
	}
	if !found {
		name = "library/" + name
	}
	return "docker.io/" + name
}

func (n *Node) startKubelet(ctx context.Context, o Options) error {
	kubeconfig, err := o.Plane.Kubeconfig(n.Name+"-kubelet.kubeconfig", "system:node:"+n.Name, "system:nodes", "system:masters")
	if err != nil {
		return err
	}
	if err := writeFiles(map[string]string{n.l.kubeletConf(): kubeletConfig(n.l)}); err != nil {
		return err
	}
	if err := n.run("kubelet", filepath.Join(n.l.bin, "kubelet"),
		"--config="+n.l.kubeletConf(),
		"--kubeconfig="+kubeconfig,
		"--hostname-override="+n.Name,
		"--node-ip="+NodeIP,
		"--root-dir="+filepath.Join(n.Dir, "kubelet"),
		"--cert-dir="+filepath.Join(n.Dir, "kubelet", "pki"),
		"--v=1",
	); err != nil {
		return err
	}
	return n.waitFor(ctx, "node Ready", 60*time.Second, func(ctx context.Context) (bool, error) {
		var node corev1.Node
		if err := n.client.Get(ctx, client.ObjectKey{Name: n.Name}, &node); err != nil {
			return false, nil
		}
		for _, c := range node.Status.Conditions {
			if c.Type == corev1.NodeReady {
				return c.Status == corev1.ConditionTrue, nil
			}
		}
		return false, nil
	})
}

func (n *Node) startKubeProxy(_ context.Context, o Options) error {
	kubeconfig, err := o.Plane.Kubeconfig(n.Name+"-kube-proxy.kubeconfig", "system:kube-proxy", "system:node-proxier", "system:masters")
	if err != nil {
		return err
	}
	return n.run("kube-proxy", filepath.Join(n.l.bin, "kube-proxy"),
		"--kubeconfig="+kubeconfig,
		"--proxy-mode=nftables",
		"--hostname-override="+n.Name,
		"--cluster-cidr="+PodCIDR,
		"--metrics-bind-address=127.0.0.1:10249",
		"--healthz-bind-address=127.0.0.1:10256",
		// Leave conntrack's sysctls alone: they are the machine's.
		"--conntrack-max-per-core=0",
		"--conntrack-tcp-timeout-established=0",
		"--conntrack-tcp-timeout-close-wait=0",
		"--v=1",
	)
}

// run starts one of the node's processes inside its network namespace and
// cgroup, logging into the state directory.
func (n *Node) run(name, bin string, args ...string) error {
	log, err := os.Create(filepath.Join(n.Dir, name+".log"))
	if err != nil {
		return err
	}
	n.logs = append(n.logs, log)
	// nsenter switches the network namespace only: the node's mounts (pod
	// volumes, container roots) are made in the machine's mount namespace,
	// where the kubelet, containerd and runc all see them, and Stop
	// removes them.
	procs, err := cgroupProcsFiles(n.l.cgroup + "/node")
	if err != nil {
		return err
	}
	// A shell joins the node's cgroup and then becomes nsenter, which
	// becomes the command: so the command is in the cgroup before it runs,
	// and so is everything it ever starts (containerd's shims, and through
	// them the containers' processes until runc moves them further down),
	// which is how Stop finds them all.
	argv := append([]string{"-c", `while [ "$1" != -- ]; do echo $$ >"$1" || exit 1; shift; done; shift; exec "$@"`, "sh"}, procs...)
	argv = append(argv, "--", "nsenter", "--net="+n.l.netnsPath(), "--", bin)
	cmd := exec.Command("/bin/sh", append(argv, args...)...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Env = append(os.Environ(), "PATH="+n.l.bin+":"+os.Getenv("PATH"))
	// Its own process group, so Stop signals all of it; and killed with the
	// test binary, should that die before Stop (the shell and nsenter exec,
	// and the death signal survives exec).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, exited: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.exited) }()
	n.procs = append(n.procs, p)
	return nil
}

// waitFor polls cond until it holds, a node process has exited, or the
// timeout passes; the error names what it waited for and the process logs'
// last lines.
func (n *Node) waitFor(ctx context.Context, what string, timeout time.Duration, cond func(context.Context) (bool, error)) error {
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		for _, p := range n.procs {
			select {
			case <-p.exited:
				return false, fmt.Errorf("%s exited: %v\n%s", p.name, p.err, n.tail(p.name))
			default:
			}
		}
		return cond(ctx)
	})
	if err != nil {
		return fmt.Errorf("waiting for %s: %w", what, err)
	}
	return nil
}

// tail is the end of one process's log, for error messages.
func (n *Node) tail(name string) string {
	b, _ := os.ReadFile(filepath.Join(n.Dir, name+".log"))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return strings.Join(lines, "\n")
}

func writeFiles(files map[string]string) error {
	for path, content := range files {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// PodLogsDir is where the kubelet writes every container's log
// (<namespace>_<pod>_<uid>/<container>/<restart>.log).
func (n *Node) PodLogsDir() string { return n.l.podLogsDir() }
