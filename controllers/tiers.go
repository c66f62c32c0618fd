package controllers

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	bluev1 "github.com/superviber/blue-operator/api/v1alpha1"
)

// tierProfile is what a tier buys: concurrent MCP sessions, replicas and the
// server container's resources.
type tierProfile struct {
	// MaxSessions is the concurrent MCP session limit; 0 means unlimited.
	MaxSessions int32
	Replicas    int32
	Requests    corev1.ResourceList
	Limits      corev1.ResourceList
}

func resources(cpu, mem string) corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse(cpu),
		corev1.ResourceMemory: resource.MustParse(mem),
	}
}

// profileFor returns the tier's profile; an unknown tier (the API server
// refuses those) falls back to small, the least privileged.
func profileFor(t bluev1.Tier) tierProfile {
	switch t {
	case bluev1.TierMedium:
		return tierProfile{MaxSessions: 10, Replicas: 1, Requests: resources("250m", "128Mi"), Limits: resources("1", "256Mi")}
	case bluev1.TierEnterprise:
		return tierProfile{MaxSessions: 0, Replicas: 2, Requests: resources("500m", "256Mi"), Limits: resources("2", "512Mi")}
	default:
		return tierProfile{MaxSessions: 2, Replicas: 1, Requests: resources("100m", "64Mi"), Limits: resources("500m", "128Mi")}
	}
}

// effective is a tenant's tier profile with the spec's overrides applied.
type effective struct {
	tierProfile
	// Running is the replica count the Deployment gets now: 0 while suspended.
	Running int32
}

func effectiveFor(t *bluev1.BlueTenant) effective {
	p := profileFor(t.Spec.Tier)
	if t.Spec.Replicas != nil {
		p.Replicas = *t.Spec.Replicas
	}
	if r := t.Spec.Resources; r != nil {
		p.Requests = mergeResources(p.Requests, r.Requests)
		p.Limits = mergeResources(p.Limits, r.Limits)
	}
	// A request above its limit is refused by the API server; raise the limit.
	for name, req := range p.Requests {
		if lim, ok := p.Limits[name]; ok && req.Cmp(lim) > 0 {
			p.Limits[name] = req.DeepCopy()
		}
	}
	e := effective{tierProfile: p, Running: p.Replicas}
	if t.Spec.Suspend {
		e.Running = 0
	}
	return e
}

func mergeResources(base, over corev1.ResourceList) corev1.ResourceList {
	out := base.DeepCopy()
	for k, v := range over {
		out[k] = v.DeepCopy()
	}
	return out
}

// quotaPods is how many pods the namespace may hold: the replicas plus one
// surge pod for a rolling update.
func (e effective) quotaPods() int64 { return int64(e.Replicas) + 1 }

// times multiplies every quantity in l by n.
func times(l corev1.ResourceList, n int64) corev1.ResourceList {
	out := corev1.ResourceList{}
	for k, v := range l {
		if k == corev1.ResourceCPU {
			out[k] = *resource.NewMilliQuantity(v.MilliValue()*n, resource.DecimalSI)
			continue
		}
		out[k] = *resource.NewQuantity(v.Value()*n, v.Format)
	}
	return out
}
