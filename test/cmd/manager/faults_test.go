package manager_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"maps"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/superviber/blue-operator/api/contract"
	bluev1 "github.com/superviber/blue-operator/api/v1alpha1"
	"github.com/superviber/blue-operator/controllers"
	"github.com/superviber/blue-operator/test/testutil"
)

// Control-plane faults (the threat model in docs/security.md): the API
// server restarted mid-run, the operator killed mid-reconcile and started
// again, two replicas handing the lease over. Each test lets the operator
// binary converge a fleet, records every tenant's generated Secrets, brings
// the fault about while tenants are being created and changed, waits until
// every tenant has converged and then checks that no generated Secret was
// made again and nothing exists twice.

const leaseName = "blue-operator.blue.superviber.com"

// leaderElection is how the operator is deployed (config/manager).
var leaderElection = []string{"--leader-elect", "--leader-election-namespace=blue-system"}

// TestAPIServerRestartMidRun stops kube-apiserver while the operator is
// working on new and changed tenants and starts it again on the same etcd
// and port: the operator (with leader election and the default lease, as
// installed) rides out an outage shorter than its renew deadline without
// exiting, its watches come back, and every tenant converges with the
// Secrets and ExternalIds it had.
func TestAPIServerRestartMidRun(t *testing.T) {
	plane, k8s, kubeconfig := startPlane(t)
	op := startOperator(t, "operator", kubeconfig, leaderElection...)

	first := tenantNames("restart", 0, 10)
	createTenants(t, k8s, first)
	waitConverged(t, k8s, first, op)
	before := recordGenerated(t, k8s, first)

	// Work in flight when the API server goes away.
	changeTenants(t, k8s, first[:4])
	during := tenantNames("restart", 10, 5)
	createTenants(t, k8s, during)
	down := time.Now()
	if err := plane.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	if err := plane.StartAPIServer(); err != nil {
		t.Fatal(err)
	}
	outage := time.Since(down)
	t.Logf("kube-apiserver down for %s", outage.Round(time.Millisecond))
	// Whatever the operator made of the batch before the outage.
	made := recordExisting(t, k8s, during)
	// Work that only the operator's renewed watches can see.
	changeTenants(t, k8s, first[4:7])
	after := tenantNames("restart", 15, 3)
	createTenants(t, k8s, after)

	all := slices.Concat(first, during, after)
	testutil.Eventually(t, 90*time.Second, 200*time.Millisecond, "every tenant converged", func() error {
		if !op.alive() {
			// A leader that cannot renew its lease within the renew
			// deadline (10 s) exits, as leader election must; on a slow
			// machine the outage can last that long. Its pod would be
			// restarted: so is the process.
			if outage < 5*time.Second {
				t.Errorf("the operator exited after an outage of %s, well within its renew deadline", outage.Round(time.Millisecond))
			}
			t.Logf("the operator exited (leader election lost); starting it again")
			op = startOperator(t, "operator, started again", kubeconfig, leaderElection...)
		}
		return converged(k8s, all)
	})
	assertGeneratedUnchanged(t, before, recordGenerated(t, k8s, first))
	assertGeneratedUnchanged(t, made, recordGenerated(t, k8s, during))
	assertNothingDuplicated(t, k8s, all)
	assertTokensMadeOnce(t, k8s, all)
}

// TestOperatorKilledMidReconcile SIGKILLs the operator while it is half way
// through a tenant of a batch of new and changed tenants (its token Secret
// made, its Deployment and status not yet), and starts a new process: it
// finishes what the old one left, and the Secrets the old one made are the
// ones the tenant keeps.
func TestOperatorKilledMidReconcile(t *testing.T) {
	_, k8s, kubeconfig := startPlane(t)
	// A client-side rate limit spreads a tenant's writes over about half a
	// second, so the kill can land between two of them.
	flags := []string{"--kube-api-qps=20", "--kube-api-burst=20", "--max-concurrent-reconciles=2"}
	op := startOperator(t, "operator", kubeconfig, flags...)

	first := tenantNames("kill", 0, 6)
	createTenants(t, k8s, first)
	waitConverged(t, k8s, first, op)
	before := recordGenerated(t, k8s, first)

	changeTenants(t, k8s, first[:3])
	batch := tenantNames("kill", 6, 8)
	createTenants(t, k8s, batch)
	var half string
	testutil.Eventually(t, 60*time.Second, 10*time.Millisecond, "a new tenant half made", func() error {
		var err error
		half, err = halfMade(k8s, batch)
		return err
	})
	op.kill()
	made := recordExisting(t, k8s, batch)
	t.Logf("killed the operator half way through tenant %s", half)

	op2 := startOperator(t, "restarted operator", kubeconfig, flags...)
	all := slices.Concat(first, batch)
	waitConverged(t, k8s, all, op2)
	assertGeneratedUnchanged(t, before, recordGenerated(t, k8s, first))
	assertGeneratedUnchanged(t, made, recordGenerated(t, k8s, batch))
	assertNothingDuplicated(t, k8s, all)
	assertTokensMadeOnce(t, k8s, all)
}

// TestLeaderHandOver runs two replicas with leader election: only the one
// holding the Lease writes; SIGKILLed (so the lease is not released) while
// it works on a batch, the other takes the lease once it expires and
// converges every tenant.
func TestLeaderHandOver(t *testing.T) {
	_, k8s, kubeconfig := startPlane(t)
	ctx := context.Background()
	flags := append(slices.Clone(leaderElection),
		"--leader-elect-lease-duration=4s", "--leader-elect-renew-deadline=3s", "--leader-elect-retry-period=500ms")
	replicas := []*operator{
		startOperator(t, "replica a", kubeconfig, flags...),
		startOperator(t, "replica b", kubeconfig, flags...),
	}
	var leader, standby *operator
	waitFor(t, "one replica leading", func() error {
		var leading []*operator
		for _, o := range replicas {
			if ok, err := o.leading(); err != nil {
				return err
			} else if ok {
				leading = append(leading, o)
			}
		}
		if len(leading) != 1 {
			return fmt.Errorf("%d replicas say they lead", len(leading))
		}
		leader = leading[0]
		standby = replicas[0]
		if leader == standby {
			standby = replicas[1]
		}
		return nil
	})
	var lease coordinationv1.Lease
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: "blue-system", Name: leaseName}, &lease); err != nil {
		t.Fatal(err)
	}
	firstHolder := ptr.Deref(lease.Spec.HolderIdentity, "")
	if firstHolder == "" {
		t.Fatal("a replica leads but the Lease names no holder")
	}

	first := tenantNames("lease", 0, 8)
	createTenants(t, k8s, first)
	waitConverged(t, k8s, first, replicas...)
	before := recordGenerated(t, k8s, first)
	// One writer at a time: the standby has made no successful write at all
	// (its cache watches like the leader's, but it creates, updates, patches
	// and deletes nothing, not even the Lease, which it only reads).
	if n, err := standby.writes(); err != nil || n != 0 {
		t.Errorf("the standby replica wrote %v times (%v) while %s held the lease", n, err, leader.name)
	}

	changeTenants(t, k8s, first[:4])
	batch := tenantNames("lease", 8, 6)
	createTenants(t, k8s, batch)
	waitFor(t, "the leader at work on the batch", func() error {
		_, err := tokenMade(k8s, batch)
		return err
	})
	killed := time.Now()
	leader.kill()
	made := recordExisting(t, k8s, batch)
	waitFor(t, "the standby leading", func() error {
		if ok, err := standby.leading(); err != nil || !ok {
			return fmt.Errorf("not leading (%v)", err)
		}
		return nil
	})
	t.Logf("%s took the lease %s after %s was killed", standby.name, time.Since(killed).Round(100*time.Millisecond), leader.name)
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: "blue-system", Name: leaseName}, &lease); err != nil {
		t.Fatal(err)
	}
	if h := ptr.Deref(lease.Spec.HolderIdentity, ""); h == "" || h == firstHolder {
		t.Errorf("Lease holder %q after the hand-over (was %q)", h, firstHolder)
	}

	all := slices.Concat(first, batch)
	waitConverged(t, k8s, all, standby)
	assertGeneratedUnchanged(t, before, recordGenerated(t, k8s, first))
	assertGeneratedUnchanged(t, made, recordGenerated(t, k8s, batch))
	assertNothingDuplicated(t, k8s, all)
	assertTokensMadeOnce(t, k8s, all)
	if n, err := standby.writes(); err != nil || n == 0 {
		t.Errorf("the new leader reports %v writes (%v): the write count measures nothing", n, err)
	}
}

// operator is one running operator binary.
type operator struct {
	name    string
	cmd     *exec.Cmd
	logs    *testutil.Buffer
	metrics string
	exited  chan struct{}
}

func startOperator(t *testing.T, name, kubeconfig string, args ...string) *operator {
	t.Helper()
	o := &operator{name: name, logs: &testutil.Buffer{}, metrics: freePort(t), exited: make(chan struct{})}
	o.cmd = runManager(context.Background(), nil, append([]string{
		"--kubeconfig=" + kubeconfig,
		"--metrics-bind-address=" + o.metrics,
		"--health-probe-bind-address=" + freePort(t),
		"--hop-role-arn-template=arn:aws:iam::111111111111:role/blue-hop-{tenant}",
	}, args...)...)
	o.cmd.Stdout, o.cmd.Stderr = o.logs, o.logs
	if err := o.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = o.cmd.Wait()
		close(o.exited)
	}()
	t.Cleanup(func() {
		o.kill()
		if t.Failed() {
			t.Logf("%s output:\n%s", o.name, o.logs.String())
		}
	})
	return o
}

// kill is SIGKILL: no deferred clean-up, no lease released, requests cut
// where they are.
func (o *operator) kill() {
	if o.alive() {
		_ = o.cmd.Process.Kill()
	}
	<-o.exited
}

func (o *operator) alive() bool {
	select {
	case <-o.exited:
		return false
	default:
		return true
	}
}

// leading is what the replica's leader_election_master_status gauge says.
func (o *operator) leading() (bool, error) {
	v, err := o.metric("leader_election_master_status", func(l string) bool { return strings.Contains(l, `name="`+leaseName+`"`) })
	return v == 1, err
}

// writes counts the replica's successful creates, updates, patches and
// deletes (client-go's rest_client_requests_total).
func (o *operator) writes() (float64, error) {
	return o.metric("rest_client_requests_total", func(l string) bool {
		ok := strings.Contains(l, `code="2`)
		return ok && slices.ContainsFunc([]string{"POST", "PUT", "PATCH", "DELETE"}, func(m string) bool {
			return strings.Contains(l, `method="`+m+`"`)
		})
	})
}

// metric sums the samples of one metric whose labels match.
func (o *operator) metric(name string, match func(labels string) bool) (float64, error) {
	code, body, err := get("http://" + o.metrics + "/metrics")
	if err != nil || code != 200 {
		return 0, fmt.Errorf("%s metrics: %d %v", o.name, code, err)
	}
	sum := 0.0
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, name)
		if !ok || rest == "" || (rest[0] != '{' && rest[0] != ' ') {
			continue
		}
		i := strings.LastIndexByte(rest, ' ')
		if !match(rest[:i]) {
			continue
		}
		v, err := strconv.ParseFloat(rest[i+1:], 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %q: %w", o.name, line, err)
		}
		sum += v
	}
	return sum, nil
}

func tenantNames(prefix string, from, n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("%s-%02d", prefix, from+i)
	}
	return names
}

// createTenants creates valid tenants of every tier (enterprise ones get a
// PodDisruptionBudget).
func createTenants(t *testing.T, k8s client.Client, names []string) {
	t.Helper()
	tiers := []bluev1.Tier{bluev1.TierSmall, bluev1.TierMedium, bluev1.TierEnterprise}
	for i, name := range names {
		bt := &bluev1.BlueTenant{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: bluev1.BlueTenantSpec{
				DisplayName: "Fault " + name,
				Tier:        tiers[i%len(tiers)],
				Endpoint:    bluev1.EndpointSpec{Host: name + ".mcp.example.com"},
				AWS:         bluev1.AWSSpec{Region: "eu-west-1", AccountID: "222222222222"},
				Infisical: bluev1.InfisicalSpec{ProjectID: "proj-" + name, Auth: bluev1.InfisicalAuth{
					Kubernetes: &bluev1.InfisicalKubernetesAuth{IdentityID: "id-" + name}}},
			},
		}
		if err := k8s.Create(context.Background(), bt); err != nil {
			t.Fatalf("create BlueTenant %s: %v", name, err)
		}
	}
}

// changeTenants gives tenants 3 replicas: the Deployment scales and a
// PodDisruptionBudget appears where there was none.
func changeTenants(t *testing.T, k8s client.Client, names []string) {
	t.Helper()
	for _, name := range names {
		bt := &bluev1.BlueTenant{ObjectMeta: metav1.ObjectMeta{Name: name}}
		patch := client.RawPatch(types.MergePatchType, []byte(`{"spec":{"replicas":3}}`))
		if err := k8s.Patch(context.Background(), bt, patch); err != nil {
			t.Fatalf("change BlueTenant %s: %v", name, err)
		}
	}
}

// wantReplicas is the replica count a tenant's spec asks for.
func wantReplicas(bt *bluev1.BlueTenant) int32 {
	if bt.Spec.Replicas != nil {
		return *bt.Spec.Replicas
	}
	if bt.Spec.Tier == bluev1.TierEnterprise {
		return 2
	}
	return 1
}

// waitConverged waits until every tenant of names has converged, failing at
// once when no operator of ops is left running.
func waitConverged(t *testing.T, k8s client.Client, names []string, ops ...*operator) {
	t.Helper()
	testutil.Eventually(t, 90*time.Second, 200*time.Millisecond, "every tenant converged", func() error {
		if len(ops) > 0 && !slices.ContainsFunc(ops, (*operator).alive) {
			t.Fatalf("no operator is running: %s exited", ops[0].name)
		}
		return converged(k8s, names)
	})
}

// converged says which tenant has not converged yet: each must report the
// status of its current generation (Degraded=False, a Ready condition, the
// issued ExternalId) and have a Deployment of the replicas its spec asks for.
// The rig has no kubelet and no controller manager, so no pod ever runs and
// Ready is False with reason DeploymentUnavailable, as in TestOperatorProcess.
func converged(k8s client.Client, names []string) error {
	ctx := context.Background()
	var tenants bluev1.BlueTenantList
	if err := k8s.List(ctx, &tenants); err != nil {
		return err
	}
	var deps appsv1.DeploymentList
	if err := k8s.List(ctx, &deps, client.MatchingLabels{controllers.LabelManagedBy: controllers.ManagedByValue}); err != nil {
		return err
	}
	byName := map[string]*bluev1.BlueTenant{}
	for i := range tenants.Items {
		byName[tenants.Items[i].Name] = &tenants.Items[i]
	}
	depIn := map[string]*appsv1.Deployment{}
	for i := range deps.Items {
		depIn[deps.Items[i].Namespace] = &deps.Items[i]
	}
	var errs []error
	for _, name := range names {
		bt := byName[name]
		if bt == nil {
			errs = append(errs, fmt.Errorf("%s: no BlueTenant", name))
			continue
		}
		gen := bt.Generation
		degraded := meta.FindStatusCondition(bt.Status.Conditions, bluev1.ConditionDegraded)
		ready := meta.FindStatusCondition(bt.Status.Conditions, bluev1.ConditionReady)
		dep := depIn[controllers.NamespaceFor(name)]
		switch {
		case bt.Status.ObservedGeneration != gen:
			errs = append(errs, fmt.Errorf("%s: observed generation %d of %d", name, bt.Status.ObservedGeneration, gen))
		case degraded == nil || degraded.Status != metav1.ConditionFalse || degraded.ObservedGeneration != gen:
			errs = append(errs, fmt.Errorf("%s: Degraded %+v", name, degraded))
		case ready == nil || ready.ObservedGeneration != gen || (ready.Reason != bluev1.ReasonDeploymentUnavailable && ready.Reason != bluev1.ReasonAvailable):
			errs = append(errs, fmt.Errorf("%s: Ready %+v", name, ready))
		case !strings.HasPrefix(bt.Status.ExternalID, "blue-"+name+"-"):
			errs = append(errs, fmt.Errorf("%s: status.externalID %q", name, bt.Status.ExternalID))
		case bt.Status.Replicas != wantReplicas(bt):
			errs = append(errs, fmt.Errorf("%s: status.replicas %d, spec asks %d", name, bt.Status.Replicas, wantReplicas(bt)))
		case dep == nil:
			errs = append(errs, fmt.Errorf("%s: no Deployment", name))
		case ptr.Deref(dep.Spec.Replicas, 1) != wantReplicas(bt):
			errs = append(errs, fmt.Errorf("%s: Deployment has %d replicas, spec asks %d", name, ptr.Deref(dep.Spec.Replicas, 1), wantReplicas(bt)))
		}
	}
	return errors.Join(errs...)
}

// halfMade finds a tenant of names the operator is half way through: its
// token Secret is made, its Deployment is not (nor, as it comes after the
// Deployment, its status with the ExternalId).
func halfMade(k8s client.Client, names []string) (string, error) {
	ctx := context.Background()
	managed := client.MatchingLabels{controllers.LabelManagedBy: controllers.ManagedByValue}
	var deps appsv1.DeploymentList
	if err := k8s.List(ctx, &deps, managed); err != nil {
		return "", err
	}
	withToken, err := tokenMade(k8s, names)
	if err != nil {
		return "", err
	}
	for _, name := range withToken {
		if !slices.ContainsFunc(deps.Items, func(d appsv1.Deployment) bool { return d.Namespace == controllers.NamespaceFor(name) }) {
			return name, nil
		}
	}
	return "", errors.New("no tenant half made")
}

// tokenMade lists the tenants of names whose token Secret is made.
func tokenMade(k8s client.Client, names []string) ([]string, error) {
	var secrets corev1.SecretList
	if err := k8s.List(context.Background(), &secrets, client.MatchingLabels{controllers.LabelManagedBy: controllers.ManagedByValue}); err != nil {
		return nil, err
	}
	var made []string
	for _, name := range names {
		if slices.ContainsFunc(secrets.Items, func(s corev1.Secret) bool {
			return s.Namespace == controllers.NamespaceFor(name) && s.Name == controllers.TokenSecretName
		}) {
			made = append(made, name)
		}
	}
	if len(made) == 0 {
		return nil, errors.New("no tenant has its token Secret yet")
	}
	return made, nil
}

// generatedSecretNames are the Secrets the operator makes once and never
// again.
var generatedSecretNames = []string{controllers.TokenSecretName, contract.SessionSecretName, contract.ExternalIDSecretName}

// generated is what a tenant's made-once values were at one moment.
type generated struct {
	secrets    map[string]corev1.Secret // by name
	externalID string                   // status.externalID
}

// recordGenerated records converged tenants: every generated Secret exists
// and status.externalID is the issued one.
func recordGenerated(t *testing.T, k8s client.Client, names []string) map[string]generated {
	t.Helper()
	out := record(t, k8s, names)
	for _, name := range names {
		g := out[name]
		if len(g.secrets) != len(generatedSecretNames) {
			t.Fatalf("%s: generated Secrets %v", name, slices.Collect(maps.Keys(g.secrets)))
		}
		if got := string(g.secrets[contract.ExternalIDSecretName].Data[contract.ExternalIDSecretKey]); got != g.externalID {
			t.Errorf("%s: status.externalID %q, Secret %q", name, g.externalID, got)
		}
	}
	return out
}

// recordExisting records whatever generated Secrets and ExternalIds tenants
// have so far (a batch a fault interrupted): from then on they must stay.
func recordExisting(t *testing.T, k8s client.Client, names []string) map[string]generated {
	t.Helper()
	out := record(t, k8s, names)
	n := 0
	for _, g := range out {
		n += len(g.secrets)
	}
	t.Logf("%d generated Secrets of the interrupted batch exist", n)
	return out
}

func record(t *testing.T, k8s client.Client, names []string) map[string]generated {
	t.Helper()
	ctx := context.Background()
	out := map[string]generated{}
	for _, name := range names {
		var bt bluev1.BlueTenant
		if err := k8s.Get(ctx, client.ObjectKey{Name: name}, &bt); err != nil {
			t.Fatal(err)
		}
		g := generated{secrets: map[string]corev1.Secret{}, externalID: bt.Status.ExternalID}
		for _, s := range generatedSecretNames {
			var sec corev1.Secret
			err := k8s.Get(ctx, client.ObjectKey{Namespace: controllers.NamespaceFor(name), Name: s}, &sec)
			if apierrors.IsNotFound(err) {
				continue
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			g.secrets[s] = sec
		}
		out[name] = g
	}
	return out
}

// assertGeneratedUnchanged: the same Secret objects (never deleted and made
// again) with the same data, and the same status.externalID.
func assertGeneratedUnchanged(t *testing.T, before, after map[string]generated) {
	t.Helper()
	for name, b := range before {
		a := after[name]
		if b.externalID != "" && a.externalID != b.externalID {
			t.Errorf("%s: status.externalID changed from %q to %q", name, b.externalID, a.externalID)
		}
		for s, bs := range b.secrets {
			as := a.secrets[s]
			if as.UID != bs.UID {
				t.Errorf("%s: Secret %s was made again (uid %s, was %s)", name, s, as.UID, bs.UID)
			}
			if !maps.EqualFunc(as.Data, bs.Data, func(x, y []byte) bool { return string(x) == string(y) }) {
				t.Errorf("%s: Secret %s has other data than before the fault", name, s)
			}
		}
	}
}

// assertNothingDuplicated: each tenant has exactly one namespace and in it
// exactly one object of each kind the operator makes, by its fixed name,
// controlled by the tenant; no object with the operator's label is anywhere
// else.
func assertNothingDuplicated(t *testing.T, k8s client.Client, names []string) {
	t.Helper()
	ctx := context.Background()
	tenants := map[string]*bluev1.BlueTenant{} // by namespace
	for _, name := range names {
		var bt bluev1.BlueTenant
		if err := k8s.Get(ctx, client.ObjectKey{Name: name}, &bt); err != nil {
			t.Fatal(err)
		}
		tenants[controllers.NamespaceFor(name)] = &bt
	}
	one := func(*bluev1.BlueTenant) []string { return []string{controllers.ServerName} }
	kinds := []struct {
		kind string
		list client.ObjectList
		want func(*bluev1.BlueTenant) []string
	}{
		{"ServiceAccount", &corev1.ServiceAccountList{}, one},
		{"Secret", &corev1.SecretList{}, func(*bluev1.BlueTenant) []string { return slices.Sorted(slices.Values(generatedSecretNames)) }},
		{"Service", &corev1.ServiceList{}, one},
		{"ResourceQuota", &corev1.ResourceQuotaList{}, one},
		{"LimitRange", &corev1.LimitRangeList{}, one},
		{"Deployment", &appsv1.DeploymentList{}, one},
		{"Ingress", &networkingv1.IngressList{}, one},
		{"NetworkPolicy", &networkingv1.NetworkPolicyList{}, one},
		{"PodDisruptionBudget", &policyv1.PodDisruptionBudgetList{}, func(bt *bluev1.BlueTenant) []string {
			if wantReplicas(bt) > 1 {
				return []string{controllers.ServerName}
			}
			return nil
		}},
	}
	managed := client.MatchingLabels{controllers.LabelManagedBy: controllers.ManagedByValue}

	var nss corev1.NamespaceList
	if err := k8s.List(ctx, &nss, managed); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, ns := range nss.Items {
		bt := tenants[ns.Name]
		if bt == nil {
			t.Errorf("namespace %s has the operator's label and belongs to no tenant of the test", ns.Name)
			continue
		}
		seen[ns.Name]++
		if !metav1.IsControlledBy(&ns, bt) {
			t.Errorf("namespace %s is not controlled by its BlueTenant", ns.Name)
		}
	}
	for ns := range tenants {
		if seen[ns] != 1 {
			t.Errorf("%d namespaces %s", seen[ns], ns)
		}
	}

	for _, k := range kinds {
		if err := k8s.List(ctx, k.list, managed); err != nil {
			t.Fatal(err)
		}
		items, err := meta.ExtractList(k.list)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string][]string{} // namespace → names
		for _, item := range items {
			o := item.(client.Object)
			bt := tenants[o.GetNamespace()]
			if bt == nil {
				t.Errorf("%s %s/%s has the operator's label outside the tenants' namespaces", k.kind, o.GetNamespace(), o.GetName())
				continue
			}
			if !metav1.IsControlledBy(o, bt) {
				t.Errorf("%s %s/%s is not controlled by its BlueTenant", k.kind, o.GetNamespace(), o.GetName())
			}
			got[o.GetNamespace()] = append(got[o.GetNamespace()], o.GetName())
		}
		for ns, bt := range tenants {
			names := slices.Sorted(slices.Values(got[ns]))
			if want := k.want(bt); !slices.Equal(names, want) {
				t.Errorf("%s in %s: %v, want %v", k.kind, ns, names, want)
			}
		}
	}
}

// assertTokensMadeOnce: the operator records a TokenCreated event each time
// it generates a tenant's token. A process killed before its event was sent
// loses it, so the test asks for at most one, counting a series as its
// count.
func assertTokensMadeOnce(t *testing.T, k8s client.Client, names []string) {
	t.Helper()
	var evs eventsv1.EventList
	if err := k8s.List(context.Background(), &evs); err != nil {
		t.Fatal(err)
	}
	made := map[string]int32{}
	for _, e := range evs.Items {
		if e.Regarding.Kind != "BlueTenant" || e.Reason != "TokenCreated" {
			continue
		}
		n := int32(1)
		if e.Series != nil {
			n = e.Series.Count
		}
		made[e.Regarding.Name] += n
	}
	for _, name := range names {
		if made[name] > 1 {
			t.Errorf("%s: the token was generated %d times", name, made[name])
		}
	}
}
