// Package controlplane runs a real Kubernetes control plane on this machine:
// etcd and kube-apiserver through envtest, plus kube-controller-manager as a
// process, all built from their Go modules by hack/setup-envtest.sh. Tests and
// the local stack share it.
package controlplane

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// DefaultControllers are the kube-controller-manager controllers a cluster
// without kubelets can run and the operator relies on: garbage collection,
// namespace deletion, Deployments and ReplicaSets, quota accounting and
// disruption budgets.
var DefaultControllers = []string{
	"garbage-collector-controller", "namespace-controller", "deployment-controller",
	"replicaset-controller", "resourcequota-controller", "disruption-controller",
}

// NodeControllers are DefaultControllers and what a real node relies on
// besides: EndpointSlices for Services, the node lifecycle (it lifts the
// not-ready taint a kubelet registers with), each namespace's default
// ServiceAccount, and the cluster's CA in each namespace (ConfigMap
// kube-root-ca.crt, which every pod with a service-account token mounts).
var NodeControllers = slices.Concat(DefaultControllers,
	[]string{"endpointslice-controller", "node-lifecycle-controller"}, serviceAccountControllers)

// serviceAccountControllers make what ServiceAccount admission admits pods
// with: each namespace's default ServiceAccount, and the CA its tokens come
// with (kube-root-ca.crt).
var serviceAccountControllers = []string{"serviceaccount-controller", "root-ca-certificate-publisher-controller"}

// Options say what to start.
type Options struct {
	// CRDDirs are installed before Start returns.
	CRDDirs []string
	// Controllers run in kube-controller-manager; none means no
	// kube-controller-manager.
	Controllers []string
	// Scheduler also runs kube-scheduler, so pods get bound to nodes.
	Scheduler bool
	// Dir holds kubeconfigs and logs; a temporary directory when empty.
	Dir string
	// ServiceAccountAdmission admits pods as a cluster's API server does
	// (envtest turns it off): a pod without a ServiceAccount gets its
	// namespace's default, one naming a ServiceAccount that does not exist
	// is refused, and unless it opts out its container gets that account's
	// token and the cluster's CA. The controllers that make those accounts
	// and CAs run with it (NodeControllers has them).
	ServiceAccountAdmission bool
	// AdvertiseAddress is the address the API server gives as the kubernetes
	// Service's endpoint: test/node's APIServerIP, where the node's network
	// forwards to the API server, for a plane with a real node. Its serving
	// certificate then names that address and the kubernetes Service
	// (KubernetesServiceIP, kubernetes.default.svc, ...), so in-cluster
	// clients in pods verify it. Empty: envtest's 127.0.0.1.
	AdvertiseAddress string
}

// Plane is a running control plane.
type Plane struct {
	Env *envtest.Environment
	// Config is an admin client configuration.
	Config *rest.Config
	Dir    string
	ownDir bool
	// certDir holds the API server's serving certificate and service-account
	// keys. It is the plane's, not envtest's (which would remove it when the
	// API server stops), so StopAPIServer and StartAPIServer keep them:
	// clients and issued tokens stay valid across a restart.
	certDir string
	procs   []*proc
	logs    []*os.File
}

type proc struct {
	cmd    *exec.Cmd
	exited chan error
}

// Start runs etcd, kube-apiserver and, if asked, kube-controller-manager.
// KUBEBUILDER_ASSETS must name the binaries (hack/setup-envtest.sh prints it).
func Start(o Options) (p *Plane, err error) {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		return nil, errors.New("KUBEBUILDER_ASSETS is not set: run through make, or export KUBEBUILDER_ASSETS=$(hack/setup-envtest.sh kube-controller-manager)")
	}
	p = &Plane{Dir: o.Dir}
	if p.Dir == "" {
		if p.Dir, err = os.MkdirTemp("", "blue-controlplane-"); err != nil {
			return nil, fmt.Errorf("state dir: %w", err)
		}
		p.ownDir = true
	} else if err := os.MkdirAll(p.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	defer func() {
		if err != nil {
			_ = p.Stop()
		}
	}()
	if p.certDir, err = os.MkdirTemp("", "blue-apiserver-"); err != nil {
		return nil, fmt.Errorf("API server cert dir: %w", err)
	}
	apiLog, err := os.Create(filepath.Join(p.Dir, "kube-apiserver.log"))
	if err != nil {
		return nil, err
	}
	p.logs = append(p.logs, apiLog)
	p.Env = &envtest.Environment{CRDDirectoryPaths: o.CRDDirs, ErrorIfCRDPathMissing: len(o.CRDDirs) > 0}
	p.Env.ControlPlane.APIServer = &envtest.APIServer{CertDir: p.certDir, Out: apiLog, Err: apiLog}
	// On SIGTERM, drain in-flight requests (answering new ones 429 with
	// Retry-After) and stop within seconds. Without it kube-apiserver waits
	// up to its request timeout for its clients' connections, about 10 s
	// with an operator attached.
	p.Env.ControlPlane.APIServer.Configure().Set("shutdown-send-retry-after", "true")
	if o.AdvertiseAddress != "" {
		p.Env.ControlPlane.APIServer.Configure().Set("advertise-address", o.AdvertiseAddress)
		// Pods reach this server as a cluster's: its certificate names
		// the kubernetes Service and the advertised address too.
		ca, err := writeClusterCerts(p.certDir, o.AdvertiseAddress)
		if err != nil {
			return nil, fmt.Errorf("API server certificates: %w", err)
		}
		p.Env.ControlPlane.APIServer.SecureServing.CA = ca
	}
	if o.ServiceAccountAdmission {
		p.Env.ControlPlane.APIServer.Configure().Disable("disable-admission-plugins")
	}
	if p.Config, err = p.Env.Start(); err != nil {
		return nil, fmt.Errorf("start etcd and kube-apiserver: %w", err)
	}
	controllers := o.Controllers
	if o.ServiceAccountAdmission {
		for _, c := range serviceAccountControllers {
			if !slices.Contains(controllers, c) {
				controllers = append(slices.Clone(controllers), c)
			}
		}
	}
	if len(controllers) > 0 {
		if err := p.startControllerManager(assets, controllers); err != nil {
			return nil, fmt.Errorf("start kube-controller-manager: %w", err)
		}
	}
	if o.Scheduler {
		kubeconfig, err := p.Kubeconfig("kube-scheduler.kubeconfig", "system:kube-scheduler", "system:masters")
		if err != nil {
			return nil, err
		}
		if err := p.run(filepath.Join(assets, "kube-scheduler"), "kube-scheduler.log",
			"--kubeconfig="+kubeconfig, "--leader-elect=false", "--secure-port=0"); err != nil {
			return nil, fmt.Errorf("start kube-scheduler: %w", err)
		}
	}
	return p, nil
}

// StopAPIServer stops kube-apiserver as a restart or upgrade of the control
// plane does (SIGTERM: in-flight requests drain, then every connection and
// watch is closed), leaving etcd and every other process running; until
// StartAPIServer its clients' connections are refused.
func (p *Plane) StopAPIServer() error {
	if err := p.Env.ControlPlane.APIServer.Stop(); err != nil {
		return fmt.Errorf("stop kube-apiserver: %w", err)
	}
	return nil
}

// StartAPIServer starts kube-apiserver again after StopAPIServer, on the same
// etcd, address, certificates and service-account keys, so Config, every
// kubeconfig written by Kubeconfig and every token issued before still work.
// It returns once the API server answers /healthz.
func (p *Plane) StartAPIServer() error {
	if err := p.Env.ControlPlane.APIServer.Start(); err != nil {
		return fmt.Errorf("start kube-apiserver again: %w", err)
	}
	return nil
}

// Kubeconfig writes a kubeconfig for a user (authenticated by a client
// certificate) into the state directory and returns its path.
func (p *Plane) Kubeconfig(file, user string, groups ...string) (string, error) {
	u, err := p.Env.ControlPlane.AddUser(envtest.User{Name: user, Groups: groups}, nil)
	if err != nil {
		return "", fmt.Errorf("add user %s: %w", user, err)
	}
	b, err := u.KubeConfig()
	if err != nil {
		return "", fmt.Errorf("kubeconfig for %s: %w", user, err)
	}
	path := filepath.Join(p.Dir, file)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return "", fmt.Errorf("write kubeconfig: %w", err)
	}
	return path, nil
}

func (p *Plane) startControllerManager(assets string, controllers []string) error {
	kubeconfig, err := p.Kubeconfig("kube-controller-manager.kubeconfig", "system:kube-controller-manager", "system:masters")
	if err != nil {
		return err
	}
	// The root CA publisher copies the API server's CA into every
	// namespace.
	caFile := filepath.Join(p.Dir, "ca.crt")
	if err := os.WriteFile(caFile, p.Config.CAData, 0o600); err != nil {
		return fmt.Errorf("write the API server's CA: %w", err)
	}
	return p.run(filepath.Join(assets, "kube-controller-manager"), "kube-controller-manager.log",
		"--kubeconfig="+kubeconfig,
		"--root-ca-file="+caFile,
		"--controllers="+strings.Join(controllers, ","),
		"--leader-elect=false",
		"--use-service-account-credentials=false",
		"--secure-port=0",
		"--concurrent-gc-syncs=5",
		"--namespace-sync-period=10s",
	)
}

// run starts a control-plane process logging into the state directory.
func (p *Plane) run(bin, logName string, args ...string) error {
	log, err := os.Create(filepath.Join(p.Dir, logName))
	if err != nil {
		return err
	}
	p.logs = append(p.logs, log)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return err
	}
	pr := &proc{cmd: cmd, exited: make(chan error, 1)}
	go func() { pr.exited <- cmd.Wait() }()
	p.procs = append(p.procs, pr)
	return nil
}

// Stop ends every process and removes a temporary state directory.
func (p *Plane) Stop() error {
	var errs []error
	for _, pr := range p.procs {
		_ = pr.cmd.Process.Kill()
		<-pr.exited
	}
	if p.Env != nil && p.Config != nil {
		if err := p.Env.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("stop envtest: %w", err))
		}
	}
	for _, l := range p.logs {
		_ = l.Close()
	}
	if p.ownDir {
		_ = os.RemoveAll(p.Dir)
	}
	if p.certDir != "" {
		_ = os.RemoveAll(p.certDir)
	}
	return errors.Join(errs...)
}
