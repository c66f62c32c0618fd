package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/superviber/blue-operator/api/contract"
	bluev1 "github.com/superviber/blue-operator/api/v1alpha1"
	"github.com/superviber/blue-operator/controllers"
)

// phaseResult is what one phase (baseline or operator) measured.
type phaseResult struct {
	Seconds float64 `json:"seconds"`
	// Writes are every API write until the phase settled (tenant creation
	// included), beyond the API server's own housekeeping.
	Writes          writeDelta `json:"writes"`
	WritesPerTenant float64    `json:"writesPerTenant"`
	// Missing lists kinds with fewer objects than tenants once done.
	Missing []string `json:"missing,omitempty"`
}

// newTenant is a valid small-tier BlueTenant, as test/controllers/suite_test.go
// makes them.
func newTenant(i int) *bluev1.BlueTenant {
	name := fmt.Sprintf("bench-%05d", i)
	return &bluev1.BlueTenant{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: bluev1.BlueTenantSpec{
			DisplayName: "Bench " + name,
			Tier:        bluev1.TierSmall,
			Endpoint:    bluev1.EndpointSpec{Host: name + ".mcp.example.com", TLSSecretName: name + "-tls"},
			AWS:         bluev1.AWSSpec{Region: "eu-west-1", AccountID: "222222222222"},
			Infisical: bluev1.InfisicalSpec{
				ProjectID: "proj-" + name,
				Auth:      bluev1.InfisicalAuth{Kubernetes: &bluev1.InfisicalKubernetesAuth{IdentityID: "id-" + name}},
			},
		},
	}
}

// runBaseline writes, for n tenants, what the operator writes: the
// BlueTenant (as a user would), its objects by server-side apply in the
// reconciler's order with the token Secret created just before the
// Deployment, and one status patch. Nothing is read back.
func (b *bench) runBaseline(ctx context.Context, n int) (phaseResult, error) {
	var res phaseResult
	cl, kinds, user, err := b.startRun()
	if err != nil {
		return res, err
	}
	defer cl.stop()
	// Two clients, as in the operator run: tenants come from a user, the rest
	// from the operator, each with its own rate limits.
	op, err := cl.throttledClient(b.qps, b.burst, "bench-operator/baseline")
	if err != nil {
		return res, err
	}
	if err := warm(user, tenantGVK); err != nil {
		return res, err
	}
	if err := warm(op, append(kinds, tenantGVK)...); err != nil {
		return res, err
	}

	if err := cl.settle(ctx, kinds); err != nil {
		return res, err
	}
	before, err := cl.writes(ctx)
	if err != nil {
		return res, err
	}
	start := time.Now()
	err = forEach(ctx, n, b.concurrency, func(ctx context.Context, i int) error {
		return b.baselineTenant(ctx, user, op, newTenant(i))
	})
	res.Seconds = time.Since(start).Seconds()
	if err != nil {
		return res, err
	}
	after, err := cl.writes(ctx)
	if err != nil {
		return res, err
	}
	res.Writes = diffWrites(after, before)
	res.WritesPerTenant = float64(res.Writes.Total) / float64(n)
	snap, err := cl.snapshot(ctx, kinds)
	if err != nil {
		return res, err
	}
	res.Missing = missingObjects(snap, kinds, n)
	progress("N=%d: baseline %.2fs, %.1f writes/tenant", n, res.Seconds, res.WritesPerTenant)
	return res, nil
}

func (b *bench) baselineTenant(ctx context.Context, user, op client.Client, t *bluev1.BlueTenant) error {
	if err := user.Create(ctx, t); err != nil {
		return fmt.Errorf("create BlueTenant %s: %w", t.Name, err)
	}
	token, err := newToken()
	if err != nil {
		return err
	}
	objs := controllers.DesiredObjects(t, b.opts, contract.TokenHash(token))
	var replicas int32
	for _, ac := range objs {
		if dep, ok := ac.(*appsv1ac.DeploymentApplyConfiguration); ok {
			// The Deployment's pod template carries the token hashes, so
			// the Secret comes first, as in the reconciler.
			if err := op.Create(ctx, controllers.TokenSecret(t, token), client.FieldOwner(controllers.FieldManager)); err != nil {
				return fmt.Errorf("create token Secret of %s: %w", t.Name, err)
			}
			if err := op.Create(ctx, controllers.SessionSecret(t, token), client.FieldOwner(controllers.FieldManager)); err != nil {
				return fmt.Errorf("create session Secret of %s: %w", t.Name, err)
			}
			if err := op.Create(ctx, controllers.ExternalIDSecret(t, "blue-"+t.Name+"-"+token), client.FieldOwner(controllers.FieldManager)); err != nil {
				return fmt.Errorf("create ExternalId Secret of %s: %w", t.Name, err)
			}
			if dep.Spec != nil && dep.Spec.Replicas != nil {
				replicas = *dep.Spec.Replicas
			}
		}
		if err := op.Apply(ctx, ac, client.FieldOwner(controllers.FieldManager), client.ForceOwnership); err != nil {
			return fmt.Errorf("apply %s of %s: %w", kindOf(ac), t.Name, err)
		}
	}
	base := t.DeepCopy()
	t.Status = baselineStatus(t, replicas)
	if err := op.Status().Patch(ctx, t, client.MergeFrom(base)); err != nil {
		return fmt.Errorf("patch status of %s: %w", t.Name, err)
	}
	return nil
}

// baselineStatus is the status the operator writes for a tenant whose
// Deployment has no pods yet (envtest runs no controllers, so it never will).
func baselineStatus(t *bluev1.BlueTenant, replicas int32) bluev1.BlueTenantStatus {
	st := bluev1.BlueTenantStatus{
		ObservedGeneration: t.Generation,
		Namespace:          controllers.NamespaceFor(t.Name),
		Endpoint:           controllers.EndpointURL(t),
		Replicas:           replicas,
	}
	counts := fmt.Sprintf("0/%d replicas available", replicas)
	for _, c := range []metav1.Condition{
		{Type: bluev1.ConditionDegraded, Status: metav1.ConditionFalse, Reason: bluev1.ReasonAsExpected},
		{Type: bluev1.ConditionReady, Status: metav1.ConditionFalse, Reason: bluev1.ReasonDeploymentUnavailable, Message: counts},
		{Type: bluev1.ConditionProgressing, Status: metav1.ConditionTrue, Reason: bluev1.ReasonRollingOut,
			Message: fmt.Sprintf("0/%d replicas updated, %s", replicas, counts)},
	} {
		c.ObservedGeneration = t.Generation
		meta.SetStatusCondition(&st.Conditions, c)
	}
	return st
}

// newToken is a token as the operator generates them: 32 random bytes.
func newToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate token: %w", err)
	}
	return "blue_" + base64.RawURLEncoding.EncodeToString(b), nil
}

func kindOf(ac runtime.ApplyConfiguration) string {
	if k, ok := ac.(interface{ GetKind() *string }); ok && k.GetKind() != nil {
		return *k.GetKind()
	}
	return fmt.Sprintf("%T", ac)
}

// forEach calls fn for 0..n-1 from workers goroutines and returns the first
// error; after one, no new calls start.
func forEach(ctx context.Context, n, workers int, fn func(context.Context, int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(ctx, i); err != nil {
					once.Do(func() { firstErr = err; cancel() })
				}
			}
		}()
	}
feed:
	for i := 0; i < n; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}
