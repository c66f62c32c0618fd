//go:build unix

package kubelet

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/superviber/blue-operator/test/controlplane"
	"github.com/superviber/blue-operator/test/testutil"
)

// The test binary doubles as the container program: the kubelet starts it
// with testModeEnv=server (through ExtraEnv; a pod's testModeAnnotation picks
// another mode), and the server starts a child with testModeEnv=sleep to show
// that a container's whole process group goes.
const (
	testModeEnv        = "KUBELET_TEST_MODE"
	testModeAnnotation = "kubelet-test/mode"
	testImage          = "example.com/blue-mcp:test"
	testNS             = "kubelet-test"
	testSA             = "blue-mcp"
	awsAudience        = "sts.amazonaws.com"
	infAudience        = "https://infisical.example.com"
	awsTokenDir        = "/var/run/secrets/eks.amazonaws.com/serviceaccount"
	infTokenDir        = "/var/run/secrets/infisical"
	secretValue        = "s3cret-value"
	waitDeadline       = 60 * time.Second
)

func TestMain(m *testing.M) {
	switch os.Getenv(testModeEnv) {
	case "server":
		serve()
		return
	case "sleep":
		for {
			time.Sleep(time.Hour)
		}
	case "crash":
		fmt.Println("crashing")
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// serve is the container program: it serves /readyz, /healthz, its env
// (/env), a file named by an env var (/file?env=NAME) and its and its
// child's pids (/pid) on $BLUE_LISTEN_ADDR, and /metrics on
// $BLUE_METRICS_ADDR; SIGTERM ends it cleanly.
func serve() {
	child := exec.Command(os.Args[0])
	child.Env = []string{testModeEnv + "=sleep"}
	if err := child.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "start child:", err)
		os.Exit(2)
	}
	mux := http.NewServeMux()
	ok := func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }
	mux.HandleFunc("/readyz", ok)
	mux.HandleFunc("/healthz", ok)
	mux.HandleFunc("/env", func(w http.ResponseWriter, _ *http.Request) {
		env := map[string]string{}
		for _, kv := range os.Environ() {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		_ = json.NewEncoder(w).Encode(env)
	})
	mux.HandleFunc("/file", func(w http.ResponseWriter, r *http.Request) {
		b, err := os.ReadFile(os.Getenv(r.URL.Query().Get("env")))
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		_, _ = w.Write(b)
	})
	mux.HandleFunc("/pid", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(pids{Pid: os.Getpid(), Child: child.Process.Pid})
	})
	main := &http.Server{Addr: os.Getenv("BLUE_LISTEN_ADDR"), Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	metrics := &http.Server{Addr: os.Getenv("BLUE_METRICS_ADDR"), Handler: http.HandlerFunc(ok), ReadHeaderTimeout: 5 * time.Second}
	errs := make(chan error, 2)
	go func() { errs <- main.ListenAndServe() }()
	go func() { errs <- metrics.ListenAndServe() }()
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	select {
	case err := <-errs:
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	case <-term:
		fmt.Println("SIGTERM: shutting down")
		_ = main.Close()
		_ = metrics.Close()
		os.Exit(0)
	}
}

type pids struct {
	Pid   int `json:"pid"`
	Child int `json:"child"`
}

func TestKubelet(t *testing.T) {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run `make test`, or\n" +
			"  KUBEBUILDER_ASSETS=$(hack/setup-envtest.sh kube-controller-manager kube-scheduler) go test ./test/kubelet")
	}
	if _, err := os.Stat(filepath.Join(assets, "kube-scheduler")); err != nil {
		t.Fatalf("no kube-scheduler in KUBEBUILDER_ASSETS (%v): build it with hack/setup-envtest.sh kube-controller-manager kube-scheduler", err)
	}
	plane, err := controlplane.Start(controlplane.Options{Controllers: controlplane.DefaultControllers, Scheduler: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := plane.Stop(); err != nil {
			t.Errorf("stop control plane: %v", err)
		}
	})
	schedulerLog := filepath.Join(plane.Dir, "kube-scheduler.log")
	cs, err := kubernetes.NewForConfig(plane.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()

	// What the operator would have created for a tenant.
	mustCreate(t, func() error {
		_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: testNS}}, metav1.CreateOptions{})
		return err
	})
	mustCreate(t, func() error {
		_, err := cs.CoreV1().ServiceAccounts(testNS).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: testSA}}, metav1.CreateOptions{})
		return err
	})
	mustCreate(t, func() error {
		_, err := cs.CoreV1().Secrets(testNS).Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "creds"},
			Data:       map[string][]byte{"clientSecret": []byte(secretValue)},
		}, metav1.CreateOptions{})
		return err
	})

	// The kubelet, with the test binary as the program of testImage.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBELET_TEST_MUST_NOT_LEAK", "leaked")
	stateDir := filepath.Join(t.TempDir(), "state")
	kctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() {
		done <- Run(kctx, Options{
			Config: plane.Config,
			Binary: func(image string) (string, error) {
				if image == testImage {
					return self, nil
				}
				return "", fmt.Errorf("no local program for %s", image)
			},
			ExtraEnv: func(pod *corev1.Pod) map[string]string {
				mode := pod.Annotations[testModeAnnotation]
				if mode == "" {
					mode = "server"
				}
				return map[string]string{testModeEnv: mode, "FROM_RUNNER": "pod " + pod.Name}
			},
			StateDir: stateDir,
			Log:      slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		})
	}()
	stopped := false
	defer func() {
		if !stopped {
			stop()
			<-done
		}
	}()
	defer func() {
		if t.Failed() {
			dumpLogs(t, stateDir, schedulerLog)
		}
	}()

	waitFor(t, "node local-node Ready and untainted", func() (bool, string) {
		n, err := cs.CoreV1().Nodes().Get(ctx, "local-node", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue && len(n.Spec.Taints) == 0 {
				return true, ""
			}
		}
		return false, fmt.Sprintf("conditions %v taints %v", n.Status.Conditions, n.Spec.Taints)
	})
	waitFor(t, "node lease held", func() (bool, string) {
		l, err := cs.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, "local-node", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return l.Spec.RenewTime != nil && ptr.Deref(l.Spec.HolderIdentity, "") == "local-node", fmt.Sprintf("%+v", l.Spec)
	})

	// A tenant-like Deployment: scheduled, running, ready by its probe,
	// available by the deployment controller.
	deployments := cs.AppsV1().Deployments(testNS)
	if _, err := deployments.Create(ctx, testDeployment("echo"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := waitPod(t, cs, "echo", func(p *corev1.Pod) (bool, string) { return podReady(p), podSummary(p) })
	if pod.Spec.NodeName != "local-node" || pod.Status.PodIP != "127.0.0.1" || pod.Status.HostIP != "127.0.0.1" || pod.Status.StartTime == nil {
		t.Errorf("pod placement/status: node %q podIP %q hostIP %q startTime %v", pod.Spec.NodeName, pod.Status.PodIP, pod.Status.HostIP, pod.Status.StartTime)
	}
	if cs := pod.Status.ContainerStatuses; len(cs) != 1 || cs[0].State.Running == nil || !ptr.Deref(cs[0].Started, false) || cs[0].RestartCount != 0 {
		t.Errorf("container status: %+v", cs)
	}
	for _, ct := range []corev1.PodConditionType{corev1.PodScheduled, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady} {
		if !conditionTrue(pod.Status.Conditions, ct) {
			t.Errorf("pod condition %s not True: %v", ct, pod.Status.Conditions)
		}
	}
	waitFor(t, "deployment echo Available", func() (bool, string) {
		d, err := deployments.Get(ctx, "echo", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		for _, c := range d.Status.Conditions {
			if c.Type == appsv1.DeploymentAvailable && c.Status == corev1.ConditionTrue && d.Status.AvailableReplicas == 1 {
				return true, ""
			}
		}
		return false, fmt.Sprintf("available %d conditions %v", d.Status.AvailableReplicas, d.Status.Conditions)
	})

	// The environment, as the process sees it.
	httpAddr, ok := Endpoint(pod, "http")
	if !ok {
		t.Fatalf("no http endpoint in annotation %q", pod.Annotations[PortsAnnotation])
	}
	metricsAddr, ok := Endpoint(pod, "metrics")
	if !ok {
		t.Fatalf("no metrics endpoint in annotation %q", pod.Annotations[PortsAnnotation])
	}
	var env map[string]string
	getJSON(t, "http://"+httpAddr+"/env", &env)
	podDir := filepath.Join(stateDir, string(pod.UID))
	for k, want := range map[string]string{
		"BLUE_LISTEN_ADDR":            httpAddr,
		"BLUE_METRICS_ADDR":           metricsAddr,
		"INFISICAL_CLIENT_SECRET":     secretValue,
		"POD_NAME":                    pod.Name,
		"POD_NAMESPACE":               testNS,
		"POD_IP":                      "127.0.0.1",
		"GOMEMLIMIT":                  "268435456",
		"CPU_MILLIS":                  "500",
		"GREETING":                    "hello " + pod.Name,
		"AWS_WEB_IDENTITY_TOKEN_FILE": filepath.Join(podDir, "aws-iam-token", "token"),
		"INFISICAL_TOKEN_FILE":        filepath.Join(podDir, "infisical-token", "token"),
		"FROM_RUNNER":                 "pod " + pod.Name,
		"PATH":                        os.Getenv("PATH"),
		"HOME":                        os.Getenv("HOME"),
		"KUBELET_TEST_MUST_NOT_LEAK":  "",
	} {
		if env[k] != want {
			t.Errorf("env %s = %q, want %q", k, env[k], want)
		}
	}
	if resp, err := http.Get("http://" + metricsAddr + "/metrics"); err != nil {
		t.Errorf("metrics port: %v", err)
	} else {
		_ = resp.Body.Close()
	}

	// Projected tokens: pod-bound JWTs for the volume's audience.
	for _, tc := range []struct{ env, audience, sub string }{
		{"AWS_WEB_IDENTITY_TOKEN_FILE", awsAudience, "aws-iam-token"},
		{"INFISICAL_TOKEN_FILE", infAudience, "infisical-token"},
	} {
		if fi, err := os.Stat(env[tc.env]); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: stat %v, mode %v; want 0600", tc.env, err, fi)
		}
		token := getText(t, "http://"+httpAddr+"/file?env="+tc.env)
		claims := jwtClaims(t, token)
		if !slices.Contains(claims.Aud, tc.audience) {
			t.Errorf("%s: audiences %v, want %s", tc.env, claims.Aud, tc.audience)
		}
		if claims.K8s.Pod.Name != pod.Name || claims.K8s.Pod.UID != string(pod.UID) || claims.K8s.ServiceAccount.Name != testSA {
			t.Errorf("%s: token bound to %+v, want pod %s/%s, service account %s", tc.env, claims.K8s, pod.Name, pod.UID, testSA)
		}
		review, err := cs.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{
			Spec: authenticationv1.TokenReviewSpec{Token: token, Audiences: []string{tc.audience}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("%s: token review: %v", tc.env, err)
		}
		if wantUser := "system:serviceaccount:" + testNS + ":" + testSA; !review.Status.Authenticated || review.Status.User.Username != wantUser {
			t.Errorf("%s: token review %+v, want authenticated as %s", tc.env, review.Status, wantUser)
		}
	}

	// A crash: the kubelet restarts the container (and kills what it left).
	var before pids
	getJSON(t, "http://"+httpAddr+"/pid", &before)
	if err := syscall.Kill(before.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	pod = waitPod(t, cs, "echo", func(p *corev1.Pod) (bool, string) {
		s := p.Status.ContainerStatuses
		return len(s) == 1 && s[0].RestartCount == 1 && podReady(p), podSummary(p)
	})
	if last := pod.Status.ContainerStatuses[0].LastTerminationState.Terminated; last == nil || last.ExitCode != 137 {
		t.Errorf("last termination state %+v, want exit code 137", last)
	}
	var after pids
	getJSON(t, "http://"+httpAddr+"/pid", &after)
	if after.Pid == before.Pid {
		t.Errorf("same pid %d after restart", after.Pid)
	}
	waitGone(t, before.Child)

	// A container that keeps crashing backs off, and a pod deleted meanwhile
	// still goes away.
	pods := cs.CoreV1().Pods(testNS)
	if _, err := pods.Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "crash", Annotations: map[string]string{testModeAnnotation: "crash"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: testImage}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "crash in CrashLoopBackOff", func() (bool, string) {
		p, err := pods.Get(ctx, "crash", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		s := p.Status.ContainerStatuses
		return p.Status.Phase == corev1.PodRunning && !conditionTrue(p.Status.Conditions, corev1.PodReady) &&
			len(s) == 1 && s[0].RestartCount == 1 && s[0].State.Waiting != nil && s[0].State.Waiting.Reason == "CrashLoopBackOff" &&
			s[0].LastTerminationState.Terminated != nil && s[0].LastTerminationState.Terminated.ExitCode == 1, podSummary(p)
	})
	if err := pods.Delete(ctx, "crash", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "crash pod deleted", func() (bool, string) {
		_, err := pods.Get(ctx, "crash", metav1.GetOptions{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})

	// Deleting the Deployment stops the process and the pod goes away.
	if err := deployments.Delete(ctx, "echo", metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "echo pods deleted", func() (bool, string) {
		l, err := cs.CoreV1().Pods(testNS).List(ctx, metav1.ListOptions{LabelSelector: "app=echo"})
		if err != nil {
			return false, err.Error()
		}
		var s []string
		for i := range l.Items {
			s = append(s, podSummary(&l.Items[i]))
		}
		return len(l.Items) == 0, strings.Join(s, "; ")
	})
	waitGone(t, after.Pid)
	waitGone(t, after.Child)
	if _, err := os.Stat(filepath.Join(podDir, "aws-iam-token")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("token volume of a deleted pod still there: %v", err)
	}

	// Stopping the kubelet stops every process and clears the state dir.
	if _, err := deployments.Create(ctx, testDeployment("last"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod = waitPod(t, cs, "last", func(p *corev1.Pod) (bool, string) { return podReady(p), podSummary(p) })
	lastAddr, _ := Endpoint(pod, "http")
	var last pids
	getJSON(t, "http://"+lastAddr+"/pid", &last)
	stop()
	select {
	case err := <-done:
		stopped = true
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(waitDeadline):
		t.Fatal("Run did not return after its context ended")
	}
	for _, pid := range []int{last.Pid, last.Child} {
		if alive(pid) {
			t.Errorf("process %d still running after Run returned", pid)
		}
	}
	if entries, err := os.ReadDir(stateDir); err != nil || len(entries) != 0 {
		t.Errorf("state dir after Run: %v entries, err %v", len(entries), err)
	}
}

func testDeployment(name string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	probe := func(path string, period int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString("http")}},
			PeriodSeconds: period, FailureThreshold: 2, TimeoutSeconds: 2,
		}
	}
	token := func(name, audience string, seconds int64) corev1.Volume {
		return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
			Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{
				Path: "token", Audience: audience, ExpirationSeconds: ptr.To(seconds),
			}}},
		}}}
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
				MaxSurge: ptr.To(intstr.FromInt32(1)), MaxUnavailable: ptr.To(intstr.FromInt32(0)),
			}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					ServiceAccountName:            testSA,
					AutomountServiceAccountToken:  ptr.To(false),
					EnableServiceLinks:            ptr.To(false),
					TerminationGracePeriodSeconds: ptr.To[int64](30),
					Volumes:                       []corev1.Volume{token("aws-iam-token", awsAudience, 86400), token("infisical-token", infAudience, 3600)},
					Containers: []corev1.Container{{
						Name:  "blue-mcp",
						Image: testImage,
						Ports: []corev1.ContainerPort{
							{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP},
							{Name: "metrics", ContainerPort: 9090, Protocol: corev1.ProtocolTCP},
						},
						Env: []corev1.EnvVar{
							{Name: "BLUE_LISTEN_ADDR", Value: ":8080"},
							{Name: "BLUE_METRICS_ADDR", Value: "0.0.0.0:9090"},
							{Name: "AWS_WEB_IDENTITY_TOKEN_FILE", Value: awsTokenDir + "/token"},
							{Name: "INFISICAL_TOKEN_FILE", Value: infTokenDir + "/token"},
							{Name: "INFISICAL_CLIENT_SECRET", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
								LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}, Key: "clientSecret"}}},
							{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
							{Name: "POD_NAMESPACE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
							{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
							{Name: "GREETING", Value: "hello $(POD_NAME)"},
							{Name: "GOMEMLIMIT", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{
								ContainerName: "blue-mcp", Resource: "limits.memory"}}},
							{Name: "CPU_MILLIS", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{
								Resource: "limits.cpu", Divisor: resource.MustParse("1m")}}},
						},
						Resources: corev1.ResourceRequirements{
							Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
							Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("256Mi")},
						},
						VolumeMounts: []corev1.VolumeMount{
							{Name: "aws-iam-token", MountPath: awsTokenDir, ReadOnly: true},
							{Name: "infisical-token", MountPath: infTokenDir, ReadOnly: true},
						},
						ReadinessProbe: probe("/readyz", 1),
						LivenessProbe:  probe("/healthz", 10),
					}},
				},
			},
		},
	}
}

func mustCreate(t *testing.T, create func() error) {
	t.Helper()
	if err := create(); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds, failing the test with cond's last
// explanation after waitDeadline.
func waitFor(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	testutil.Eventually(t, waitDeadline, 100*time.Millisecond, what, func() error {
		if ok, why := cond(); !ok {
			return errors.New(why)
		}
		return nil
	})
}

// waitPod waits until the Deployment's only pod satisfies cond.
func waitPod(t *testing.T, cs kubernetes.Interface, app string, cond func(*corev1.Pod) (bool, string)) *corev1.Pod {
	t.Helper()
	var pod *corev1.Pod
	waitFor(t, "pod of "+app, func() (bool, string) {
		l, err := cs.CoreV1().Pods(testNS).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
		if err != nil {
			return false, err.Error()
		}
		if len(l.Items) != 1 {
			return false, fmt.Sprintf("%d pods", len(l.Items))
		}
		pod = &l.Items[0]
		return cond(pod)
	})
	return pod
}

func podReady(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodRunning && conditionTrue(p.Status.Conditions, corev1.PodReady)
}

func podSummary(p *corev1.Pod) string {
	b, _ := json.Marshal(p.Status)
	return fmt.Sprintf("%s node=%q deleting=%v status=%s", p.Name, p.Spec.NodeName, p.DeletionTimestamp != nil, b)
}

// alive says whether pid is a live process (a zombie nobody reaps is not).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return !errors.Is(err, os.ErrNotExist)
	}
	// pid (comm) state ...; comm may contain spaces and parentheses.
	rest := string(stat[strings.LastIndexByte(string(stat), ')')+1:])
	return !strings.HasPrefix(strings.TrimSpace(rest), "Z")
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("process %d to end", pid), func() (bool, string) { return !alive(pid), "still running" })
}

func getText(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %q %v", url, resp.Status, b, err)
	}
	return string(b)
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(getText(t, url)), v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

type claims struct {
	Aud audiences `json:"aud"`
	K8s struct {
		Pod struct {
			Name string `json:"name"`
			UID  string `json:"uid"`
		} `json:"pod"`
		ServiceAccount struct {
			Name string `json:"name"`
		} `json:"serviceaccount"`
	} `json:"kubernetes.io"`
}

// audiences is a JWT "aud": a string or a list of strings.
type audiences []string

func (a *audiences) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*a = audiences{one}
		return nil
	}
	return json.Unmarshal(b, (*[]string)(a))
}

func jwtClaims(t *testing.T, token string) claims {
	t.Helper()
	parts := strings.Split(strings.TrimSpace(token), ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %d parts", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("JWT payload: %v", err)
	}
	var c claims
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatalf("JWT claims: %v", err)
	}
	return c
}

// dumpLogs shows container and scheduler logs of a failed run.
func dumpLogs(t *testing.T, stateDir, schedulerLog string) {
	logs, _ := filepath.Glob(filepath.Join(stateDir, "*", "*.log"))
	for _, f := range append(logs, schedulerLog) {
		b, _ := os.ReadFile(f)
		if len(b) > 4000 {
			b = b[len(b)-4000:]
		}
		t.Logf("--- %s (tail)\n%s", f, b)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
