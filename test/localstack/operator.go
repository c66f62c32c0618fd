package localstack

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/superviber/blue-operator/hack/manifests"
)

// operatorDeployment is the operator's Deployment in config/default.
const operatorDeployment = "blue-operator"

// operatorArgs are the operator's flags in the local stack: the shipped
// defaults of config/manager, with the local images, Traefik, the local
// internet's AWS endpoints, and every interval short so that a change on
// a client's side shows in its BlueTenant within about 1.5 s (the server
// re-reads its settings and checks the client's side every second, the
// operator reads the report twice as often).
func (s *Stack) operatorArgs() []string {
	return []string{
		"--leader-elect",
		"--metrics-bind-address=:8080",
		"--health-probe-bind-address=:8081",
		"--default-image=" + serverImage.Ref(),
		"--hop-role-arn-template=" + HopRoleTemplate,
		"--ingress-class=" + ingressClass,
		"--ingress-namespace=" + IngressNamespace,
		"--metrics-namespace=" + MetricsNamespace,
		"--aws-sts-endpoint=" + s.Internet.STSURL,
		"--aws-s3-endpoint=" + s.Internet.S3URL,
		"--aws-dynamodb-endpoint=" + s.Internet.DynamoDBURL,
		"--client-access-interval=500ms",
		"--tenant-infisical-refresh=1s",
		"--tenant-access-check-interval=1s",
		"--zap-log-level=info",
		"--zap-encoder=json",
	}
}

// installOperator applies config/default as a platform team does, with the
// operator's image and flags for this machine and one replica, and waits
// for it to be available: it runs on the node under its own ServiceAccount
// and ClusterRole, reaching the API server through the kubernetes Service.
func (s *Stack) installOperator(ctx context.Context) error {
	objs, err := manifests.Render(filepath.Join(s.o.Root, "config", "default"))
	if err != nil {
		return err
	}
	found := false
	for i, o := range objs {
		if o.GetKind() != "Deployment" || o.GetName() != operatorDeployment {
			continue
		}
		found = true
		var d appsv1.Deployment
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &d); err != nil {
			return err
		}
		d.Spec.Replicas = ptr.To[int32](1)
		c := &d.Spec.Template.Spec.Containers[0]
		c.Image = operatorImage.Ref()
		c.Args = s.operatorArgs()
		u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&d)
		if err != nil {
			return err
		}
		objs[i] = &unstructured.Unstructured{Object: u}
		objs[i].SetAPIVersion("apps/v1")
		objs[i].SetKind("Deployment")
		unstructured.RemoveNestedField(objs[i].Object, "status")
		unstructured.RemoveNestedField(objs[i].Object, "metadata", "creationTimestamp")
		unstructured.RemoveNestedField(objs[i].Object, "spec", "template", "metadata", "creationTimestamp")
	}
	if !found {
		return fmt.Errorf("config/default has no Deployment %s", operatorDeployment)
	}
	if err := manifests.Apply(ctx, s.Client, objs, false); err != nil {
		return err
	}
	return s.waitAvailable(ctx, OperatorNamespace, operatorDeployment, 2*time.Minute)
}

// waitAvailable waits for a Deployment's replicas to be available.
func (s *Stack) waitAvailable(ctx context.Context, ns, name string, timeout time.Duration) error {
	var last string
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		var d appsv1.Deployment
		if err := s.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &d); err != nil {
			last = err.Error()
			return false, nil
		}
		want := ptr.Deref(d.Spec.Replicas, 1)
		last = fmt.Sprintf("%d of %d available", d.Status.AvailableReplicas, want)
		return d.Status.ObservedGeneration == d.Generation && d.Status.AvailableReplicas == want, nil
	})
	if err != nil {
		return fmt.Errorf("deployment %s/%s (%s; its pods' logs are under %s): %w", ns, name, last, s.Node.PodLogsDir(), err)
	}
	return nil
}
