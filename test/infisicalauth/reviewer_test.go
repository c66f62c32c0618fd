// Package infisicalauth_test checks config/infisical-auth on a real control
// plane: applied as shipped, the cluster's token controller fills the
// reviewer's long-lived token, with which a TokenReview (the request
// Infisical's Kubernetes auth makes, audience included) authenticates a
// tenant pod's token as system:serviceaccount:blue-<tenant>:blue-mcp; the
// reviewer can do nothing else of note; deleting its Secret revokes it.
package infisicalauth_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/superviber/blue-operator/api/contract"
	"github.com/superviber/blue-operator/controllers"
	"github.com/superviber/blue-operator/hack/manifests"
	"github.com/superviber/blue-operator/test/controlplane"
	"github.com/superviber/blue-operator/test/testutil"
)

const (
	reviewerNamespace = "blue-system"
	reviewerName      = "infisical-token-reviewer"
	reviewerSecret    = "infisical-token-reviewer-token"
	tenant            = "acme"
)

var (
	plane *controlplane.Plane
	admin kubernetes.Interface
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		fmt.Fprintln(os.Stderr, "KUBEBUILDER_ASSETS is not set: these tests apply config/infisical-auth to a real control plane; run them with `make test` or\n"+
			"  KUBEBUILDER_ASSETS=$(hack/setup-envtest.sh kube-controller-manager) go test ./test/infisicalauth/")
		return 1
	}
	var err error
	if plane, err = controlplane.Start(controlplane.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = plane.Stop() }()
	stop, err := startTokenController(plane)
	if err != nil {
		fmt.Fprintln(os.Stderr, "token controller:", err)
		return 1
	}
	defer stop()
	if admin, err = kubernetes.NewForConfig(plane.Config); err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		return 1
	}
	return m.Run()
}

// startTokenController runs kube-controller-manager's service-account token
// controller, which fills kubernetes.io/service-account-token Secrets, as
// every cluster's does. It needs the key the API server verifies legacy
// tokens with, which the plane's own kube-controller-manager is not given.
func startTokenController(p *controlplane.Plane) (func(), error) {
	kubeconfig, err := p.Kubeconfig("token-controller.kubeconfig", "system:kube-controller-manager", "system:masters")
	if err != nil {
		return nil, err
	}
	log, err := os.Create(filepath.Join(p.Dir, "token-controller.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kube-controller-manager"),
		"--kubeconfig="+kubeconfig,
		"--controllers=serviceaccount-token-controller",
		"--service-account-private-key-file="+filepath.Join(p.Env.ControlPlane.APIServer.CertDir, "sa-signer.key"),
		"--use-service-account-credentials=false",
		"--leader-elect=false",
		"--secure-port=0",
	)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		_ = log.Close()
		return nil, err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	return func() {
		_ = cmd.Process.Kill()
		<-done
		_ = log.Close()
	}, nil
}

func eventually(t *testing.T, what string, cond func() error) {
	t.Helper()
	testutil.Eventually(t, 30*time.Second, 100*time.Millisecond, what, cond)
}

// render is config/infisical-auth as `kubectl apply -k` sees it, checked:
// the reviewer ServiceAccount (no automounted token), its binding to
// system:auth-delegator and nothing else, and its long-lived token Secret.
func render(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	objs, err := manifests.Render(filepath.Join("..", "..", "config", "infisical-auth"))
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, o := range objs {
		kinds = append(kinds, o.GetKind()+"/"+o.GetName())
	}
	sort.Strings(kinds)
	want := []string{"ClusterRoleBinding/" + reviewerName, "Secret/" + reviewerSecret, "ServiceAccount/" + reviewerName}
	if !slices.Equal(kinds, want) {
		t.Fatalf("config/infisical-auth renders %v, want %v", kinds, want)
	}
	for _, o := range objs {
		switch o.GetKind() {
		case "ServiceAccount":
			var sa corev1.ServiceAccount
			fromUnstructured(t, o.Object, &sa)
			if sa.Namespace != reviewerNamespace || sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
				t.Errorf("ServiceAccount %s/%s automount %v: want %s with no automounted token", sa.Namespace, sa.Name, sa.AutomountServiceAccountToken, reviewerNamespace)
			}
		case "ClusterRoleBinding":
			var crb rbacv1.ClusterRoleBinding
			fromUnstructured(t, o.Object, &crb)
			wantSubjects := []rbacv1.Subject{{Kind: "ServiceAccount", Name: reviewerName, Namespace: reviewerNamespace}}
			if crb.RoleRef != (rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "system:auth-delegator"}) ||
				!slices.Equal(crb.Subjects, wantSubjects) {
				t.Errorf("ClusterRoleBinding %+v %+v: want system:auth-delegator for the reviewer only", crb.RoleRef, crb.Subjects)
			}
		case "Secret":
			var s corev1.Secret
			fromUnstructured(t, o.Object, &s)
			if s.Type != corev1.SecretTypeServiceAccountToken || s.Namespace != reviewerNamespace ||
				s.Annotations[corev1.ServiceAccountNameKey] != reviewerName || len(s.Data)+len(s.StringData) != 0 {
				t.Errorf("Secret %s/%s type %s annotations %v: want an empty service-account-token Secret of the reviewer", s.Namespace, s.Name, s.Type, s.Annotations)
			}
		}
	}
	return objs
}

func fromUnstructured(t *testing.T, obj map[string]any, into any) {
	t.Helper()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj, into); err != nil {
		t.Fatal(err)
	}
}

// reviewerClient is what Infisical holds: the API server's address, the
// Secret's ca.crt and token.
func reviewerClient(t *testing.T, secret *corev1.Secret) kubernetes.Interface {
	t.Helper()
	cfg := &rest.Config{
		Host:            plane.Config.Host,
		BearerToken:     string(secret.Data[corev1.ServiceAccountTokenKey]),
		TLSClientConfig: rest.TLSClientConfig{CAData: secret.Data[corev1.ServiceAccountRootCAKey]},
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func TestTokenReviewerAuthenticatesTenantPods(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// The operator's install has made blue-system; the reviewer goes into it.
	if _, err := admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: reviewerNamespace}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(plane.Config, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := manifests.Apply(ctx, c, render(t), false); err != nil {
		t.Fatal(err)
	}

	// The token controller fills the Secret.
	var secret *corev1.Secret
	eventually(t, "the reviewer's token Secret to be filled", func() error {
		s, err := admin.CoreV1().Secrets(reviewerNamespace).Get(ctx, reviewerSecret, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if len(s.Data[corev1.ServiceAccountTokenKey]) == 0 || len(s.Data[corev1.ServiceAccountRootCAKey]) == 0 {
			return fmt.Errorf("data has %d keys", len(s.Data))
		}
		secret = s
		return nil
	})
	reviewer := reviewerClient(t, secret)

	// A tenant pod's token: the operator's namespace and ServiceAccount, the
	// projected token's Infisical audience.
	ns, sa := controllers.NamespaceFor(tenant), controllers.ServerName
	if _, err := admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	token := func(audience string) string {
		t.Helper()
		seconds := int64(600)
		tr, err := admin.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authnv1.TokenRequest{
			Spec: authnv1.TokenRequestSpec{Audiences: []string{audience}, ExpirationSeconds: &seconds},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return tr.Status.Token
	}
	podToken := token(contract.InfisicalAudience)

	// What Infisical sends: the pod's token and its allowed audience.
	review := func(cs kubernetes.Interface, tok string, audiences []string) (*authnv1.TokenReview, error) {
		return cs.AuthenticationV1().TokenReviews().Create(ctx, &authnv1.TokenReview{
			Spec: authnv1.TokenReviewSpec{Token: tok, Audiences: audiences},
		}, metav1.CreateOptions{})
	}
	rv, err := review(reviewer, podToken, []string{contract.InfisicalAudience})
	if err != nil {
		t.Fatalf("the reviewer cannot create a TokenReview: %v", err)
	}
	if want := "system:serviceaccount:" + ns + ":" + sa; !rv.Status.Authenticated || rv.Status.User.Username != want ||
		!slices.Contains(rv.Status.Audiences, contract.InfisicalAudience) {
		t.Errorf("review: authenticated %v as %q for %v (%s), want %s for %q", rv.Status.Authenticated, rv.Status.User.Username,
			rv.Status.Audiences, rv.Status.Error, want, contract.InfisicalAudience)
	}
	// The audience is checked: a token for STS (the IRSA token) is not one
	// for Infisical, and the pod's token is not one for the API server.
	for _, tc := range []struct {
		what      string
		tok       string
		audiences []string
	}{
		{"the pod's STS token for Infisical's audience", token("sts.amazonaws.com"), []string{contract.InfisicalAudience}},
		{"the pod's Infisical token for the API server's audience", podToken, nil},
		{"a forged token", podToken[:len(podToken)-4] + "AAAA", []string{contract.InfisicalAudience}},
	} {
		rv, err := review(reviewer, tc.tok, tc.audiences)
		if err != nil {
			t.Fatalf("%s: %v", tc.what, err)
		}
		if rv.Status.Authenticated {
			t.Errorf("%s is authenticated as %s", tc.what, rv.Status.User.Username)
		}
	}

	// Nothing else of note: no object of the cluster, no tokens of others,
	// no impersonation. Each is a real request, refused with 403.
	refused := map[string]func() error{
		"get the tenant's Secrets": func() error {
			_, err := reviewer.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
			return err
		},
		"list Secrets in every namespace": func() error {
			_, err := reviewer.CoreV1().Secrets("").List(ctx, metav1.ListOptions{})
			return err
		},
		"read its own token Secret": func() error {
			_, err := reviewer.CoreV1().Secrets(reviewerNamespace).Get(ctx, reviewerSecret, metav1.GetOptions{})
			return err
		},
		"issue a token for the tenant's ServiceAccount": func() error {
			_, err := reviewer.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authnv1.TokenRequest{
				Spec: authnv1.TokenRequestSpec{Audiences: []string{contract.InfisicalAudience}},
			}, metav1.CreateOptions{})
			return err
		},
		"list pods": func() error {
			_, err := reviewer.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
			return err
		},
		"list namespaces": func() error {
			_, err := reviewer.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
			return err
		},
		"create a pod": func() error {
			_, err := reviewer.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: "x"},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "x", Image: "x"}}},
			}, metav1.CreateOptions{})
			return err
		},
		"bind itself a role": func() error {
			_, err := reviewer.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
				ObjectMeta: metav1.ObjectMeta{Name: "x"},
				RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "cluster-admin"},
				Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: reviewerName, Namespace: reviewerNamespace}},
			}, metav1.CreateOptions{})
			return err
		},
	}
	for what, do := range refused {
		if err := do(); !apierrors.IsForbidden(err) {
			t.Errorf("the reviewer may %s: %v, want 403", what, err)
		}
	}
	impersonating := rest.CopyConfig(plane.Config)
	impersonating.BearerToken = string(secret.Data[corev1.ServiceAccountTokenKey])
	impersonating.CertData, impersonating.KeyData, impersonating.CertFile, impersonating.KeyFile = nil, nil, "", ""
	impersonating.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:" + ns + ":" + sa}
	if cs, err := kubernetes.NewForConfig(impersonating); err != nil {
		t.Fatal(err)
	} else if _, err := cs.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("the reviewer may impersonate the tenant's ServiceAccount: %v, want 403", err)
	}

	// And all it may do, as the API server lists it: review tokens and
	// access (system:auth-delegator), ask about itself (system:basic-user),
	// and read the cluster's public trust bundles (every authenticated
	// user may), in the tenant's namespace as everywhere.
	rules, err := reviewer.AuthorizationV1().SelfSubjectRulesReviews().Create(ctx, &authzv1.SelfSubjectRulesReview{
		Spec: authzv1.SelfSubjectRulesReviewSpec{Namespace: ns},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string]bool{
		"authentication.k8s.io/tokenreviews:create":            true,
		"authorization.k8s.io/subjectaccessreviews:create":     true,
		"authorization.k8s.io/selfsubjectaccessreviews:create": true,
		"authorization.k8s.io/selfsubjectrulesreviews:create":  true,
		"authentication.k8s.io/selfsubjectreviews:create":      true,
		"certificates.k8s.io/clustertrustbundles:get":          true,
		"certificates.k8s.io/clustertrustbundles:list":         true,
		"certificates.k8s.io/clustertrustbundles:watch":        true,
	}
	var got []string
	for _, r := range rules.Status.ResourceRules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					rule := g + "/" + res + ":" + v
					got = append(got, rule)
					if !allowed[rule] || len(r.ResourceNames) != 0 {
						t.Errorf("the reviewer may %s", rule)
					}
				}
			}
		}
	}
	if !slices.Contains(got, "authentication.k8s.io/tokenreviews:create") {
		t.Errorf("the rules review lists %v, without tokenreviews create: the test proves nothing", got)
	}
	for _, r := range rules.Status.NonResourceRules {
		for _, v := range r.Verbs {
			if v != "get" {
				t.Errorf("the reviewer may %s %v", v, r.NonResourceURLs)
			}
		}
		for _, u := range r.NonResourceURLs {
			if !strings.HasPrefix(u, "/api") && !strings.HasPrefix(u, "/version") && !strings.HasPrefix(u, "/healthz") &&
				!strings.HasPrefix(u, "/livez") && !strings.HasPrefix(u, "/readyz") && !strings.HasPrefix(u, "/openapi") &&
				!strings.HasPrefix(u, "/.well-known/openid-configuration") && !strings.HasPrefix(u, "/openid/v1/jwks") {
				t.Errorf("the reviewer may get %s", u)
			}
		}
	}

	// Deleting the Secret revokes the reviewer: Infisical's reviews fail.
	if err := admin.CoreV1().Secrets(reviewerNamespace).Delete(ctx, reviewerSecret, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the deleted Secret's token to be refused", func() error {
		_, err := review(reviewer, podToken, []string{contract.InfisicalAudience})
		if apierrors.IsUnauthorized(err) {
			return nil
		}
		return fmt.Errorf("review after deleting the Secret: %v, want 401", err)
	})
}
