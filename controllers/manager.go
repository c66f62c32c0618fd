package controllers

import (
	"fmt"
	"time"

	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	bluev1 "github.com/superviber/blue-operator/api/v1alpha1"
)

// How the reconciler is put into a controller-runtime manager. cmd/manager,
// the integration tests and the Argo CD tests all go through NewManager, so
// they run the operator exactly as it ships.

// EventSource names the operator in the events it records.
const EventSource = "blue-operator"

// NewManager creates a manager on cfg with the operator's cache (see
// CacheOptions) and the BlueTenant reconciler set up in it. mo carries what
// differs between callers (scheme, metrics and probe addresses, leader
// election); its Cache is replaced, keeping only SyncPeriod.
func NewManager(cfg *rest.Config, mo ctrl.Options, o Options) (ctrl.Manager, error) {
	cacheOpts := CacheOptions()
	cacheOpts.SyncPeriod = mo.Cache.SyncPeriod
	mo.Cache = cacheOpts
	mgr, err := ctrl.NewManager(cfg, mo)
	if err != nil {
		return nil, fmt.Errorf("create manager: %w", err)
	}
	r := &BlueTenantReconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Recorder:  mgr.GetEventRecorder(EventSource),
		Options:   o,
		access:    newAccessPoller(mgr.GetClient(), o),
	}
	if err := mgr.Add(r.access); err != nil {
		return nil, fmt.Errorf("add the client-access poller: %w", err)
	}
	if err := r.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("set up reconciler: %w", err)
	}
	return mgr, nil
}

// CacheOptions make the operator cache only what it manages: objects labelled
// managed-by=blue-operator, plus every BlueTenant. Managed fields are dropped
// from cached objects; the operator never reads them. Without this the
// operator would hold every Secret and Deployment of the cluster in memory.
func CacheOptions() cache.Options {
	managed, _ := labels.NewRequirement(LabelManagedBy, selection.Equals, []string{ManagedByValue})
	return cache.Options{
		DefaultLabelSelector: labels.NewSelector().Add(*managed),
		DefaultTransform:     slimForCache,
		ByObject: map[client.Object]cache.ByObject{
			&bluev1.BlueTenant{}: {Label: labels.Everything()},
			// The access poller reads only where a server pod answers.
			&corev1.Pod{}: {Transform: podAddressOnly},
			// The API server's addresses, which every tenant's
			// NetworkPolicy denies; no other Service's endpoints.
			// Only the slice the API server writes for itself.
			&discoveryv1.EndpointSlice{}: {Namespaces: map[string]cache.Config{
				kubernetesService.namespace: {
					LabelSelector: labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: kubernetesService.name}),
					FieldSelector: fields.OneTermEqualSelector("metadata.name", kubernetesService.name),
				},
			}},
		},
	}
}

// slimForCache drops what the operator never reads from cached objects:
// managed fields everywhere, and of the metadata-only objects (the owned
// kinds it only watches for drift) and the generated Secrets everything but
// what maps an event to its tenant and what the reconciler checks: name,
// namespace, uid, resourceVersion, generation, ownerReferences and
// deletionTimestamp (and a Secret's data).
func slimForCache(obj any) (any, error) {
	switch o := obj.(type) {
	case *metav1.PartialObjectMetadata:
		m := identity(o.ObjectMeta)
		m.Generation = o.Generation
		return &metav1.PartialObjectMetadata{TypeMeta: o.TypeMeta, ObjectMeta: m}, nil
	case *corev1.Secret:
		// The reconciler reads only a generated Secret's data (the token
		// hashes, the ExternalId) and whether it exists.
		return &corev1.Secret{TypeMeta: o.TypeMeta, ObjectMeta: identity(o.ObjectMeta), Type: o.Type, Data: o.Data}, nil
	}
	return cache.TransformStripManagedFields()(obj)
}

// identity is what every slimmed cache entry keeps of its metadata: what
// names it, versions it, ties it to its tenant and says it is going away.
func identity(m metav1.ObjectMeta) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion,
		OwnerReferences: m.OwnerReferences, DeletionTimestamp: m.DeletionTimestamp,
	}
}

// podAddressOnly keeps of a cached pod what the access poller reads: its
// identity, labels, annotations (the local stack's ports), phase and IP.
// Specs and container statuses would otherwise be most of the cache at
// scale.
func podAddressOnly(obj any) (any, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	m := identity(p.ObjectMeta)
	m.Labels, m.Annotations = p.Labels, p.Annotations
	return &corev1.Pod{
		TypeMeta:   p.TypeMeta,
		ObjectMeta: m,
		Status:     corev1.PodStatus{Phase: p.Status.Phase, PodIP: p.Status.PodIP},
	}, nil
}

// maxRetryDelay caps the backoff of a tenant whose reconcile keeps failing.
// controller-runtime's default grows to 1000 s: after an API server restart
// (refused connections, then Forbidden until its RBAC cache has synced) a
// tenant that failed a dozen times in a row waited minutes after the API
// server was healthy again (test/cmd/manager TestAPIServerRestartMidRun).
const maxRetryDelay = 30 * time.Second

func controllerOptions(o Options) controller.Options {
	return controller.Options{
		MaxConcurrentReconciles: o.MaxConcurrentReconciles,
		// The default limiter with the per-item backoff capped.
		RateLimiter: workqueue.NewTypedMaxOfRateLimiter(
			workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](5*time.Millisecond, maxRetryDelay),
			&workqueue.TypedBucketRateLimiter[reconcile.Request]{Limiter: rate.NewLimiter(rate.Limit(10), 100)},
		),
	}
}
