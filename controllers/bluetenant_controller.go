package controllers

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	bluev1 "github.com/superviber/blue-operator/api/v1alpha1"

	"github.com/superviber/blue-operator/api/contract"
)

// BlueTenantReconciler turns a BlueTenant into its namespace and objects.
type BlueTenantReconciler struct {
	// Client reads from the label-filtered cache and writes to the API server.
	Client client.Client
	// APIReader reads past the cache: for objects the cache does not hold,
	// such as a namespace someone else made.
	APIReader client.Reader
	Recorder  events.EventRecorder
	Options   Options
	// access holds the servers' client-access reports; nil leaves the
	// ClientAccess condition out.
	access *accessPoller
	// apiServers remembers the API server's recent addresses, which every
	// tenant's NetworkPolicy denies.
	apiServers apiServerMemory
	// statuses remembers the status last written per tenant, which the
	// cache may not show yet.
	statuses statusMemory
}

// errConflict stops a reconcile without retrying: a person must act.
var errConflict = errors.New("namespace conflict")

// requeueWhileTerminating is how soon to look again at a namespace that is
// still being deleted (an earlier tenant of the same name).
const requeueWhileTerminating = 5 * time.Second

// +kubebuilder:rbac:groups=blue.superviber.com,resources=bluetenants,verbs=get;list;watch
// +kubebuilder:rbac:groups=blue.superviber.com,resources=bluetenants/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=blue.superviber.com,resources=bluetenants/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=namespaces;serviceaccounts;services;resourcequotas;limitranges,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=networking.k8s.io,resources=ingresses;networkpolicies,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch
// The API server's own EndpointSlice (kubernetes, in default) and no other:
// a Role in default, not a ClusterRole.
// +kubebuilder:rbac:groups=discovery.k8s.io,resources=endpointslices,verbs=get;list;watch,namespace=default

// Reconcile brings one tenant's objects to what its spec asks and reports
// what it sees in the status.
func (r *BlueTenantReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	logger := log.FromContext(ctx).WithValues("tenant", req.Name)
	ctx = log.IntoContext(ctx, logger)

	var tenant bluev1.BlueTenant
	if err := r.Client.Get(ctx, req.NamespacedName, &tenant); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(req.Name)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if last, ok := r.statuses.lastWritten(req.Name); readPastCache(tenant.Status, last, ok) {
		var live bluev1.BlueTenant
		if err := r.APIReader.Get(ctx, req.NamespacedName, &live); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(fmt.Errorf("read the tenant past the cache: %w", err))
		}
		tenant = live
	}
	if !tenant.DeletionTimestamp.IsZero() {
		// The garbage collector removes what the tenant owns.
		r.forget(req.Name)
		return ctrl.Result{}, nil
	}

	st := newStatus(&tenant)
	result, err := r.ensureAll(ctx, &tenant, st)
	if err != nil && !errors.Is(err, errConflict) {
		st.degraded(bluev1.ReasonApplyFailed, err.Error())
	}
	r.reconcileClientAccess(&tenant, st)
	if serr := r.writeStatus(ctx, &tenant, st); serr != nil {
		return ctrl.Result{}, errors.Join(err, serr)
	}
	if errors.Is(err, errConflict) {
		return result, nil
	}
	return result, err
}

// forget drops what the operator keeps in memory about a deleted tenant.
func (r *BlueTenantReconciler) forget(tenant string) {
	forgetTenant(tenant)
	r.statuses.forget(tenant)
	if r.access != nil {
		r.access.forget(tenant)
	}
}

// reconcileClientAccess sets ClientAccess from the servers' last reports,
// once the poller has looked at the tenant.
func (r *BlueTenantReconciler) reconcileClientAccess(t *bluev1.BlueTenant, st *statusBuilder) {
	if r.access == nil {
		return
	}
	o, ok := r.access.observation(t.Name)
	if !ok {
		return
	}
	status, reason, msg := clientAccessCondition(t.Spec.Suspend, o)
	st.set(bluev1.ConditionClientAccess, status, reason, msg)
}

// ensureAll applies every owned object in dependency order.
func (r *BlueTenantReconciler) ensureAll(ctx context.Context, t *bluev1.BlueTenant, st *statusBuilder) (ctrl.Result, error) {
	if err := r.checkHost(ctx, t, st); err != nil {
		return ctrl.Result{}, err
	}
	if res, err := r.ensureNamespace(ctx, t, st); err != nil || !res.IsZero() {
		return res, err
	}
	if hopRoleARN(t, r.Options) == "" {
		st.degraded(bluev1.ReasonHopRoleUnset, "spec.aws.hopRoleArn is empty and the operator has no --hop-role-arn-template")
		return ctrl.Result{}, errConflict
	}
	steps := []struct {
		name string
		fn   func(context.Context, *bluev1.BlueTenant) error
	}{
		{"ensure service account", r.ensureServiceAccount},
		{"ensure resource quota", r.ensureResourceQuota},
		{"ensure limit range", r.ensureLimitRange},
		{"ensure network policy", r.ensureNetworkPolicy},
		{"ensure service", r.ensureService},
		{"ensure ingress", r.ensureIngress},
		{"ensure pod disruption budget", r.ensurePodDisruptionBudget},
	}
	for _, s := range steps {
		if err := s.fn(ctx, t); err != nil {
			return ctrl.Result{}, errorf(s.name, err)
		}
	}
	hashes, err := r.ensureTokenSecret(ctx, t, st.namespaceCreated)
	if err != nil {
		return ctrl.Result{}, errorf("ensure token secret", err)
	}
	if err := r.ensureSessionSecret(ctx, t); err != nil {
		return ctrl.Result{}, errorf("ensure session secret", err)
	}
	externalID, err := r.ensureExternalID(ctx, t)
	if err != nil {
		return ctrl.Result{}, errorf("ensure external id", err)
	}
	st.next.ExternalID = externalID
	dep, err := r.ensureDeployment(ctx, t, hashes)
	if err != nil {
		return ctrl.Result{}, errorf("ensure deployment", err)
	}
	st.fromDeployment(dep)
	return ctrl.Result{}, nil
}

func (r *BlueTenantReconciler) apply(ctx context.Context, ac interface {
	IsApplyConfiguration()
}) error {
	return r.Client.Apply(ctx, ac, client.FieldOwner(FieldManager), client.ForceOwnership)
}

// checkHost refuses a tenant whose endpoint host an older BlueTenant has:
// its Ingress would take over that client's endpoint.
func (r *BlueTenantReconciler) checkHost(ctx context.Context, t *bluev1.BlueTenant, st *statusBuilder) error {
	same, err := r.tenantsNaming(ctx, t.Spec.Endpoint.Host)
	if err != nil {
		return errorf("list tenants", err)
	}
	if owner := hostOwner(t, same); owner != nil {
		st.hostConflict(fmt.Sprintf("endpoint.host %s belongs to BlueTenant %s; give this tenant another host", t.Spec.Endpoint.Host, owner.Name))
		return errConflict
	}
	return nil
}

// sameHost maps a change of one tenant to the others naming its host, so a
// refused tenant starts as soon as the owner lets the host go.
func (r *BlueTenantReconciler) sameHost(ctx context.Context, o client.Object) []reconcile.Request {
	t, ok := o.(*bluev1.BlueTenant)
	if !ok {
		return nil
	}
	same, err := r.tenantsNaming(ctx, t.Spec.Endpoint.Host)
	if err != nil {
		return nil
	}
	var reqs []reconcile.Request
	for _, other := range same {
		if other.Name != t.Name {
			reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Name: other.Name}})
		}
	}
	return reqs
}

// hostIndex indexes BlueTenants by endpoint host (lower case), so that a
// reconcile reads only the tenants naming its host, not the whole fleet.
const hostIndex = "spec.endpoint.host"

func indexHost(o client.Object) []string {
	t, ok := o.(*bluev1.BlueTenant)
	if !ok || t.Spec.Endpoint.Host == "" {
		return nil
	}
	return []string{strings.ToLower(t.Spec.Endpoint.Host)}
}

// tenantsNaming lists the tenants whose endpoint host is host.
func (r *BlueTenantReconciler) tenantsNaming(ctx context.Context, host string) ([]bluev1.BlueTenant, error) {
	var same bluev1.BlueTenantList
	if err := r.Client.List(ctx, &same, client.MatchingFields{hostIndex: strings.ToLower(host)}); err != nil {
		return nil, err
	}
	return same.Items, nil
}

// ensureNamespace creates the tenant namespace, refusing to adopt one that
// exists and is not this tenant's.
func (r *BlueTenantReconciler) ensureNamespace(ctx context.Context, t *bluev1.BlueTenant, st *statusBuilder) (ctrl.Result, error) {
	name := NamespaceFor(t.Name)
	// Metadata is all the check reads, and all the cache holds of namespaces.
	ns := metadataOf(corev1.SchemeGroupVersion.WithKind("Namespace"))
	err := r.Client.Get(ctx, types.NamespacedName{Name: name}, ns)
	if apierrors.IsNotFound(err) {
		// Not in the label-filtered cache: absent, someone else's, or this
		// tenant's and not in the cache yet (the reconcile before made it
		// and its watch event is late, as after an API server restart).
		// Only someone else's is a conflict: calling our own one foreign
		// would stop the tenant and ask a person to delete its namespace,
		// and with it the token and ExternalId.
		err = r.APIReader.Get(ctx, types.NamespacedName{Name: name}, ns)
		if err == nil && !metav1.IsControlledBy(ns, t) {
			st.conflict(fmt.Sprintf("namespace %s exists and was not made by blue-operator for this tenant; delete or rename it", name))
			return ctrl.Result{}, errConflict
		}
	}
	created := false
	switch {
	case apierrors.IsNotFound(err):
		created = true
	case err != nil:
		return ctrl.Result{}, errorf("get namespace", err)
	case !metav1.IsControlledBy(ns, t):
		if !ns.DeletionTimestamp.IsZero() {
			st.progressing(bluev1.ReasonNamespaceTerminating, fmt.Sprintf("namespace %s of an earlier tenant is still being deleted", name))
			return ctrl.Result{RequeueAfter: requeueWhileTerminating}, nil
		}
		st.conflict(fmt.Sprintf("namespace %s belongs to another BlueTenant object (uid %s); delete it to let this tenant use the name", name, controllerUID(ns)))
		return ctrl.Result{}, errConflict
	}
	if err := r.apply(ctx, buildNamespace(t)); err != nil {
		return ctrl.Result{}, errorf("ensure namespace", err)
	}
	// The event comes with the token's (ensureTokenSecret): one event for a
	// new tenant, not one per thing made.
	st.namespaceCreated = created
	return ctrl.Result{}, nil
}

// metadataOf is an empty metadata-only object of a kind, for reads the
// metadata cache answers.
func metadataOf(gvk schema.GroupVersionKind) *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(gvk)
	return m
}

func controllerUID(o metav1.Object) types.UID {
	if ref := metav1.GetControllerOf(o); ref != nil {
		return ref.UID
	}
	return "none"
}

func (r *BlueTenantReconciler) ensureServiceAccount(ctx context.Context, t *bluev1.BlueTenant) error {
	return r.apply(ctx, buildServiceAccount(t, r.Options))
}

func (r *BlueTenantReconciler) ensureResourceQuota(ctx context.Context, t *bluev1.BlueTenant) error {
	return r.apply(ctx, buildResourceQuota(t))
}

func (r *BlueTenantReconciler) ensureLimitRange(ctx context.Context, t *bluev1.BlueTenant) error {
	return r.apply(ctx, buildLimitRange(t))
}

func (r *BlueTenantReconciler) ensureNetworkPolicy(ctx context.Context, t *bluev1.BlueTenant) error {
	denied, err := r.deniedEgress(ctx)
	if err != nil {
		return err
	}
	return r.apply(ctx, buildNetworkPolicy(t, r.Options, denied))
}

func (r *BlueTenantReconciler) ensureService(ctx context.Context, t *bluev1.BlueTenant) error {
	return r.apply(ctx, buildService(t))
}

func (r *BlueTenantReconciler) ensureIngress(ctx context.Context, t *bluev1.BlueTenant) error {
	return r.apply(ctx, buildIngress(t, r.Options))
}

// ensurePodDisruptionBudget keeps a budget only while there is more than one
// replica.
func (r *BlueTenantReconciler) ensurePodDisruptionBudget(ctx context.Context, t *bluev1.BlueTenant) error {
	if wantsPDB(t) {
		return r.apply(ctx, buildPodDisruptionBudget(t))
	}
	pdb := metadataOf(policyv1.SchemeGroupVersion.WithKind("PodDisruptionBudget"))
	err := r.Client.Get(ctx, types.NamespacedName{Namespace: NamespaceFor(t.Name), Name: ServerName}, pdb)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	return client.IgnoreNotFound(r.Client.Delete(ctx, pdb))
}

// ensureTokenSecret creates the token Secret once (in token auth mode) and
// returns the hashes of the tokens it holds. Existing Secrets are never
// overwritten: they may hold rotated tokens.
func (r *BlueTenantReconciler) ensureTokenSecret(ctx context.Context, t *bluev1.BlueTenant, namespaceCreated bool) (string, error) {
	ns := NamespaceFor(t.Name)
	if t.Spec.Auth.Mode == bluev1.AuthModeOIDC {
		if namespaceCreated {
			r.event(t, corev1.EventTypeNormal, "Created", "CreateNamespace", "created namespace %s for the tenant's MCP server", ns)
		}
		return "", nil
	}
	data, created, err := r.ensureGenerated(ctx, t, TokenSecretName, func() (*corev1.Secret, error) {
		token, err := newToken()
		if err != nil {
			return nil, err
		}
		return buildTokenSecret(t, token), nil
	})
	if err != nil {
		return "", err
	}
	switch {
	case created && namespaceCreated:
		r.event(t, corev1.EventTypeNormal, "TokenCreated", "CreateToken", "created namespace %s for the tenant's MCP server and generated its API token in Secret %s/%s", ns, ns, TokenSecretName)
	case created:
		r.event(t, corev1.EventTypeNormal, "TokenCreated", "CreateToken", "generated an API token in Secret %s/%s", ns, TokenSecretName)
	}
	return tokenHashes(data), nil
}

func (r *BlueTenantReconciler) ensureSessionSecret(ctx context.Context, t *bluev1.BlueTenant) error {
	_, _, err := r.ensureGenerated(ctx, t, contract.SessionSecretName, func() (*corev1.Secret, error) {
		key, err := randomString()
		if err != nil {
			return nil, err
		}
		return buildSessionSecret(t, key), nil
	})
	return err
}

// ensureExternalID issues the tenant's sts:ExternalId once and returns it.
// It is Superviber's, not the client's: "blue-<tenant>-" and 256 random
// bits, so it is unique to the tenant and no client can guess or choose
// another's (AWS's confused-deputy guidance).
func (r *BlueTenantReconciler) ensureExternalID(ctx context.Context, t *bluev1.BlueTenant) (string, error) {
	data, _, err := r.ensureGenerated(ctx, t, contract.ExternalIDSecretName, func() (*corev1.Secret, error) {
		b, err := randomString()
		if err != nil {
			return nil, err
		}
		return buildExternalIDSecret(t, "blue-"+t.Name+"-"+b), nil
	})
	if err != nil {
		return "", err
	}
	id := strings.TrimSpace(string(data[contract.ExternalIDSecretKey]))
	if id == "" {
		return "", fmt.Errorf("Secret %s/%s has no key %q: delete the Secret to have a new ExternalId issued (the client's trust policy must then name the new one)", NamespaceFor(t.Name), contract.ExternalIDSecretName, contract.ExternalIDSecretKey)
	}
	return id, nil
}

// ensureGenerated creates a Secret of generated values once and never
// overwrites it; it returns the Secret's data and whether this call made it.
func (r *BlueTenantReconciler) ensureGenerated(ctx context.Context, t *bluev1.BlueTenant, name string, build func() (*corev1.Secret, error)) (map[string][]byte, bool, error) {
	var s corev1.Secret
	key := types.NamespacedName{Namespace: NamespaceFor(t.Name), Name: name}
	err := r.Client.Get(ctx, key, &s)
	if err == nil {
		return s.Data, false, nil
	}
	if !apierrors.IsNotFound(err) {
		return nil, false, err
	}
	want, err := build()
	if err != nil {
		return nil, false, err
	}
	// Create answers with the stored object, which has no StringData.
	data := map[string][]byte{}
	for k, v := range want.StringData {
		data[k] = []byte(v)
	}
	err = r.Client.Create(ctx, want, client.FieldOwner(FieldManager))
	if apierrors.IsAlreadyExists(err) {
		// The cache lagged behind an earlier create: read the real one.
		if err := r.APIReader.Get(ctx, key, &s); err != nil {
			return nil, false, err
		}
		return s.Data, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return data, true, nil
}

// newToken is 32 random bytes, URL-safe, with a prefix secret scanners know.
func newToken() (string, error) {
	b, err := randomString()
	return "blue_" + b, err
}

// randomString is 32 random bytes, URL-safe base64 (43 characters).
func randomString() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate a secret: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// ensureDeployment applies the server Deployment and returns it as the API
// server answered, status included.
func (r *BlueTenantReconciler) ensureDeployment(ctx context.Context, t *bluev1.BlueTenant, hashes string) (*appsv1ac.DeploymentApplyConfiguration, error) {
	dep := buildDeployment(t, r.Options, hashes)
	if err := r.apply(ctx, dep); err != nil {
		return nil, err
	}
	return dep, nil
}

func (r *BlueTenantReconciler) event(t *bluev1.BlueTenant, eventType, reason, action, note string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(t, nil, eventType, reason, action, note, args...)
	}
}

// writeStatus patches the status only when it changed, so an idle operator
// writes nothing, and records an event for each condition that changed.
func (r *BlueTenantReconciler) writeStatus(ctx context.Context, t *bluev1.BlueTenant, st *statusBuilder) error {
	next := st.build()
	views := make([]conditionView, 0, len(next.Conditions))
	for _, c := range next.Conditions {
		views = append(views, conditionView{Type: c.Type, Status: string(c.Status), Reason: c.Reason})
	}
	recordConditions(t.Name, views)
	if statusEqual(t.Status, next) {
		// t is what the server holds, as far as the operator knows
		// (Reconcile read it past the cache when the cache disagreed).
		r.statuses.wrote(t.Name, next)
		return nil
	}
	for _, c := range next.Conditions {
		if eventType, ok := conditionEvent(meta.FindStatusCondition(t.Status.Conditions, c.Type), c); ok {
			r.event(t, eventType, c.Reason, "Reconcile", "%s=%s: %s", c.Type, c.Status, c.Message)
		}
	}
	base := t.DeepCopy()
	t.Status = next
	if err := r.Client.Status().Patch(ctx, t, client.MergeFrom(base)); err != nil {
		return fmt.Errorf("write status: %w", err)
	}
	r.statuses.wrote(t.Name, next)
	return nil
}

// accessSource wakes a tenant's reconcile when its servers' client-access
// report changes.
func (r *BlueTenantReconciler) accessSource() source.TypedSource[reconcile.Request] {
	ch := make(chan event.TypedGenericEvent[*bluev1.BlueTenant])
	if r.access != nil {
		ch = r.access.changed
	}
	return source.Channel(ch, &handler.TypedEnqueueRequestForObject[*bluev1.BlueTenant]{})
}

// SetupWithManager registers the reconciler and what it watches: the tenants
// and every kind of object it owns, so drift is repaired.
func (r *BlueTenantReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &bluev1.BlueTenant{}, hostIndex, indexHost); err != nil {
		return fmt.Errorf("index tenants by host: %w", err)
	}
	// Owned objects matter when they change or go away, not when they
	// appear: the reconciler just made them. Skipping creates saves a full
	// second reconcile per new tenant (measured by make bench-operator).
	owned := builder.WithPredicates(predicate.Funcs{CreateFunc: func(event.CreateEvent) bool { return false }})
	return ctrl.NewControllerManagedBy(mgr).
		// Status writes (our own included) do not change the generation.
		For(&bluev1.BlueTenant{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		// A tenant's host going away (deletion, a new host) frees it for the
		// next one that asked for it. A host changes only with the spec.
		Watches(&bluev1.BlueTenant{}, handler.EnqueueRequestsFromMapFunc(r.sameHost),
			builder.WithPredicates(predicate.Funcs{
				CreateFunc:  func(event.CreateEvent) bool { return false },
				UpdateFunc:  func(e event.UpdateEvent) bool { return e.ObjectNew.GetGeneration() != e.ObjectOld.GetGeneration() },
				DeleteFunc:  func(event.DeleteEvent) bool { return true },
				GenericFunc: func(event.GenericEvent) bool { return false },
			})).
		// Drift in any owned object brings a reconcile, which applies the
		// whole desired state: the watches need only metadata (an update
		// bumps the resourceVersion whatever changed), so the cache holds
		// no specs. Secrets are read (the token hashes, the ExternalId) and
		// are cached whole.
		Owns(&corev1.Secret{}, owned).
		Owns(&corev1.Namespace{}, owned, builder.OnlyMetadata).
		Owns(&corev1.ServiceAccount{}, owned, builder.OnlyMetadata).
		Owns(&corev1.Service{}, owned, builder.OnlyMetadata).
		Owns(&corev1.ResourceQuota{}, owned, builder.OnlyMetadata).
		Owns(&corev1.LimitRange{}, owned, builder.OnlyMetadata).
		Owns(&appsv1.Deployment{}, owned, builder.OnlyMetadata).
		Owns(&networkingv1.Ingress{}, owned, builder.OnlyMetadata).
		Owns(&networkingv1.NetworkPolicy{}, owned, builder.OnlyMetadata).
		Owns(&policyv1.PodDisruptionBudget{}, owned, builder.OnlyMetadata).
		// The servers' client-access reports, as the poller sees them change.
		WatchesRawSource(r.accessSource()).
		// Every tenant's NetworkPolicy denies the API server's addresses:
		// when they move (an upgrade of a managed control plane), every
		// policy follows.
		Watches(&discoveryv1.EndpointSlice{}, handler.EnqueueRequestsFromMapFunc(r.apiServerMoved)).
		WithOptions(controllerOptions(r.Options)).
		Named("bluetenant").
		Complete(r)
}
