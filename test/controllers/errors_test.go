package controllers_test

import (
	"context"
	"fmt"
	"github.com/superviber/blue-operator/controllers"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bluev1 "github.com/superviber/blue-operator/api/v1alpha1"
)

// TestAPIErrorsBecomeADegradedConditionAndAreRetried makes the API server
// refuse one of the tenant's objects (a ValidatingAdmissionPolicy, as a
// cluster's policy engine might), checks the tenant says so, then lifts the
// policy and checks the operator's retries (with backoff) recover.
func TestAPIErrorsBecomeADegradedConditionAndAreRetried(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	policy := &admissionv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "deny-blue-refused-netpol"},
		Spec: admissionv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: ptr.To(admissionv1.Fail),
			MatchConstraints: &admissionv1.MatchResources{ResourceRules: []admissionv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionv1.RuleWithOperations{
					Operations: []admissionv1.OperationType{admissionv1.Create, admissionv1.Update},
					Rule:       admissionv1.Rule{APIGroups: []string{"networking.k8s.io"}, APIVersions: []string{"v1"}, Resources: []string{"networkpolicies"}},
				},
			}}},
			Validations: []admissionv1.Validation{{Expression: "object.metadata.namespace != 'blue-refused' && object.metadata.name != 'policy-probe'", Message: "network policies are frozen in blue-refused"}},
		},
	}
	binding := &admissionv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "deny-blue-refused-netpol"},
		Spec: admissionv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        policy.Name,
			ValidationActions: []admissionv1.ValidationAction{admissionv1.Deny},
		},
	}
	if err := k8s.Create(ctx, policy); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Create(ctx, binding); err != nil {
		t.Fatal(err)
	}
	lifted := false
	lift := func() {
		if !lifted {
			lifted = true
			_ = k8s.Delete(ctx, binding)
			_ = k8s.Delete(ctx, policy)
		}
	}
	t.Cleanup(lift)
	// Policies take effect asynchronously: wait until one refuses.
	eventually(t, wait, "policy in force", func() error {
		probe := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "policy-probe", Namespace: "default"}}
		err := k8s.Create(ctx, probe, client.DryRunAll)
		if err == nil || !strings.Contains(err.Error(), "frozen") {
			return fmt.Errorf("policy not enforced yet: %v", err)
		}
		return nil
	})

	createTenant(t, newTenant("refused"))
	bt := waitCondition(t, "refused", bluev1.ConditionDegraded, metav1.ConditionTrue, bluev1.ReasonApplyFailed)
	msg := condition(bt, bluev1.ConditionDegraded).Message
	if !strings.Contains(msg, "ensure network policy") || !strings.Contains(msg, "frozen") {
		t.Errorf("degraded message %q does not say which object failed and why", msg)
	}
	eventually(t, wait, "ApplyFailed event", func() error { return hasEvent(ctx, bt, bluev1.ReasonApplyFailed) })

	lift()
	waitCondition(t, "refused", bluev1.ConditionDegraded, metav1.ConditionFalse, bluev1.ReasonAsExpected)
	var np networkingv1.NetworkPolicy
	getObj(t, &np, controllers.NamespaceFor("refused"), controllers.ServerName)
}

func TestPrinterColumns(t *testing.T) {
	t.Parallel()
	var crd apiextensionsv1.CustomResourceDefinition
	if err := k8s.Get(context.Background(), key("", "bluetenants.blue.superviber.com"), &crd); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range crd.Spec.Versions[0].AdditionalPrinterColumns {
		if c.Priority == 0 {
			names = append(names, c.Name)
		}
	}
	if got := strings.Join(names, ","); got != "Tier,Endpoint,Ready,Access,Age" {
		t.Errorf("kubectl get bt columns: %s", got)
	}
	if crd.Spec.Names.ShortNames[0] != "bt" || crd.Spec.Scope != apiextensionsv1.ClusterScoped {
		t.Errorf("names %+v scope %s", crd.Spec.Names, crd.Spec.Scope)
	}
}
