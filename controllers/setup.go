package controllers

import (
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"

	bluev1 "github.com/superviber/blue-operator/api/v1alpha1"
)

// CacheOptions make the operator cache only what it manages: objects labelled
// managed-by=blue-operator, plus every BlueTenant. Managed fields are dropped
// from cached objects; the operator never reads them. Without this the
// operator would hold every Secret and Deployment of the cluster in memory.
func CacheOptions() cache.Options {
	managed, _ := labels.NewRequirement(LabelManagedBy, selection.Equals, []string{ManagedByValue})
	return cache.Options{
		DefaultLabelSelector: labels.NewSelector().Add(*managed),
		DefaultTransform:     cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{
			&bluev1.BlueTenant{}: {Label: labels.Everything()},
		},
	}
}

func controllerOptions(o Options) controller.Options {
	return controller.Options{MaxConcurrentReconciles: o.MaxConcurrentReconciles}
}
