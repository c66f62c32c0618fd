package argocd_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	bluev1 "github.com/superviber/blue-operator/api/v1alpha1"
	"github.com/superviber/blue-operator/controllers"
)

// health is what Argo CD reads from the table a health script returns.
type health struct {
	Status  string
	Message string
}

// Argo CD's health status codes; it turns any other status into Unknown
// ("Lua returned an invalid health status").
var validHealth = map[string]bool{"Healthy": true, "Progressing": true, "Degraded": true, "Suspended": true, "Missing": true, "Unknown": true}

func readHealthLua(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "config", "argocd", "health.lua"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// runHealth runs a health script the way Argo CD runs one from argocd-cm
// (argo-cd util/lua, VM.ExecuteHealthLua): a gopher-lua state without the
// standard libraries except package, base and table (Argo CD also adds a
// reduced os library, which health.lua does not use and which is left out
// here so that using it fails), a one-second deadline, the object as the
// global obj, and the table the script returns read as status and message.
func runHealth(script string, obj map[string]any) (health, error) {
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
	} {
		if err := L.CallByParam(lua.P{Fn: L.NewFunction(lib.open), NRet: 0, Protect: true}, lua.LString(lib.name)); err != nil {
			return health{}, fmt.Errorf("open %s: %w", lib.name, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	L.SetContext(ctx)
	L.SetGlobal("obj", toLua(L, obj))
	if err := L.DoString(script); err != nil {
		return health{}, fmt.Errorf("run script: %w", err)
	}
	ret, ok := L.Get(-1).(*lua.LTable)
	if !ok {
		return health{}, fmt.Errorf("script returned %s; Argo CD expects a table", L.Get(-1).Type())
	}
	if hs, ok := L.GetGlobal("hs").(*lua.LTable); !ok || hs != ret {
		return health{}, fmt.Errorf("script does not return the global hs")
	}
	status, ok := ret.RawGetString("status").(lua.LString)
	if !ok {
		return health{}, fmt.Errorf("hs.status is %s, want a string", ret.RawGetString("status").Type())
	}
	if !validHealth[string(status)] {
		return health{}, fmt.Errorf("hs.status %q is not an Argo CD health status", status)
	}
	h := health{Status: string(status)}
	switch m := ret.RawGetString("message").(type) {
	case lua.LString:
		h.Message = string(m)
	case *lua.LNilType:
	default:
		return health{}, fmt.Errorf("hs.message is %s, want a string", m.Type())
	}
	return h, nil
}

// toLua converts a decoded JSON object to Lua values as Argo CD's decodeValue
// does: objects and arrays become tables, numbers LNumber, null nil.
func toLua(L *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case int32:
		return lua.LNumber(v)
	case int:
		return lua.LNumber(v)
	case json.Number:
		return lua.LString(v)
	case string:
		return lua.LString(v)
	case []any:
		t := L.CreateTable(len(v), 0)
		for _, item := range v {
			t.Append(toLua(L, item))
		}
		return t
	case map[string]any:
		t := L.CreateTable(0, len(v))
		for k, item := range v {
			t.RawSetH(lua.LString(k), toLua(L, item))
		}
		return t
	}
	return lua.LNil
}

func mustHealth(t *testing.T, script string, obj map[string]any) health {
	t.Helper()
	h, err := runHealth(script, obj)
	if err != nil {
		t.Fatalf("health.lua: %v", err)
	}
	return h
}

// The harness is as strict as Argo CD: no string library for argocd-cm
// checks, and a table must come back.
func TestHarnessRefusesWhatArgoCDRefuses(t *testing.T) {
	for name, script := range map[string]string{
		"string library": `hs = {}; hs.status = string.upper("healthy"); return hs`,
		"no table":       `hs = {}; hs.status = "Healthy"; return hs.status`,
		"invalid status": `hs = {}; hs.status = "Fine"; return hs`,
		"no hs":          `return {status = "Healthy"}`,
	} {
		if h, err := runHealth(script, map[string]any{}); err == nil {
			t.Errorf("%s: accepted, got %+v", name, h)
		}
	}
}

func TestHealthEdgeCases(t *testing.T) {
	script := readHealthLua(t)
	const head = "apiVersion: blue.superviber.com/v1alpha1\nkind: BlueTenant\nmetadata: {name: acme, generation: 2}\n"
	cases := []struct {
		name, obj   string
		status, msg string
	}{
		{"no status at all", "spec: {tier: small}", "Progressing", "Waiting for blue-operator to reconcile the tenant"},
		{"empty status", "status: {}", "Progressing", "Waiting for blue-operator to reconcile the tenant"},
		{"status without conditions", "status: {observedGeneration: 2, namespace: blue-acme}", "Progressing", "Waiting for blue-operator to reconcile the tenant"},
		{"empty conditions", "status: {observedGeneration: 2, conditions: []}", "Progressing", "Waiting for blue-operator to reconcile the tenant"},
		{"conditions not a list", "status: {observedGeneration: 2, conditions: {Ready: {status: 'True'}}}", "Progressing", "Waiting for blue-operator to reconcile the tenant"},
		{"only an unknown condition", "status: {observedGeneration: 2, conditions: [{type: Frobnicated, status: 'True', reason: Yes, message: frobnicated}]}",
			"Progressing", "Waiting for the Ready condition"},
		{"Ready Unknown", "status: {observedGeneration: 2, conditions: [{type: Ready, status: Unknown, reason: Reconciling}]}",
			"Progressing", "Waiting for the Ready condition"},
		{"entries that are not conditions are skipped", "status: {observedGeneration: 2, conditions: [Ready, 3, {type: Ready, status: 'True', reason: Available, message: serving}]}",
			"Healthy", "serving"},
		{"observedGeneration behind", "status: {observedGeneration: 1, conditions: [{type: Ready, status: 'True', reason: Available, message: serving}]}",
			"Progressing", "Waiting for blue-operator to observe generation 2"},
		{"no observedGeneration", "status: {conditions: [{type: Ready, status: 'True', reason: Available, message: serving}]}",
			"Progressing", "Waiting for blue-operator to observe generation 2"},
		{"Degraded wins over Ready", "status: {observedGeneration: 2, conditions: [{type: Ready, status: 'True', reason: Available, message: serving}, {type: Degraded, status: 'True', reason: ApplyFailed, message: 'ensure deployment: forbidden'}]}",
			"Degraded", "ensure deployment: forbidden"},
		{"Degraded without a message gives the reason", "status: {observedGeneration: 2, conditions: [{type: Degraded, status: 'True', reason: HopRoleUnset}]}",
			"Degraded", "HopRoleUnset"},
		{"Degraded wins over suspend", "spec: {suspend: true}\nstatus: {observedGeneration: 2, conditions: [{type: Degraded, status: 'True', reason: NamespaceConflict, message: namespace blue-acme exists}]}",
			"Degraded", "namespace blue-acme exists"},
		{"suspended", "spec: {suspend: true}\nstatus: {observedGeneration: 2, conditions: [{type: Ready, status: 'False', reason: Suspended, message: scaled to zero}, {type: Degraded, status: 'False', reason: AsExpected}]}",
			"Suspended", "scaled to zero"},
		{"suspended before the operator said so", "spec: {suspend: true}\nstatus: {observedGeneration: 2, conditions: [{type: Ready, status: 'True', reason: Available, message: serving}]}",
			"Suspended", "spec.suspend is true: the server is scaled to zero"},
		{"suspend not yet observed", "spec: {suspend: true}\nstatus: {observedGeneration: 1, conditions: [{type: Ready, status: 'True', reason: Available, message: serving}]}",
			"Progressing", "Waiting for blue-operator to observe generation 2"},
		{"rolling out", "status: {observedGeneration: 2, conditions: [{type: Ready, status: 'False', reason: DeploymentUnavailable, message: 0/1 replicas available}, {type: Progressing, status: 'True', reason: RollingOut, message: '0/1 replicas updated'}]}",
			"Progressing", "0/1 replicas updated"},
		{"not ready and nothing rolling out", "status: {observedGeneration: 2, conditions: [{type: Ready, status: 'False', reason: DeploymentUnavailable, message: 0/1 replicas available}, {type: Progressing, status: 'False', reason: Available}, {type: Degraded, status: 'False', reason: AsExpected}]}",
			"Degraded", "0/1 replicas available"},
		{"healthy", "status: {observedGeneration: 2, conditions: [{type: Ready, status: 'True', reason: Available, message: 1/1 replicas available}, {type: Progressing, status: 'False', reason: Available}, {type: Degraded, status: 'False', reason: AsExpected}]}",
			"Healthy", "1/1 replicas available"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var obj map[string]any
			if err := yaml.Unmarshal([]byte(head+c.obj), &obj); err != nil {
				t.Fatal(err)
			}
			h := mustHealth(t, script, obj)
			if h.Status != c.status || h.Message != c.msg {
				t.Errorf("got %s %q, want %s %q", h.Status, h.Message, c.status, c.msg)
			}
		})
	}
}

// TestHealthOfReconciledTenants runs health.lua on BlueTenants the real
// reconciler brought into each state, read from the API server as Argo CD
// reads them.
func TestHealthOfReconciledTenants(t *testing.T) {
	script := readHealthLua(t)

	t.Run("Progressing", func(t *testing.T) {
		t.Parallel()
		created := createTenant(t, newTenant("argo-rollout"))
		if _, has := created.Object["status"]; has {
			t.Fatalf("a new tenant already has a status: %v", created.Object["status"])
		}
		if h := mustHealth(t, script, created.Object); h.Status != "Progressing" || h.Message != "Waiting for blue-operator to reconcile the tenant" {
			t.Errorf("just created: %+v, want Progressing, waiting for blue-operator", h)
		}
		// Nobody plays the kubelet here: the pods never run.
		live, bt := waitTenant(t, "argo-rollout", "Progressing=True/RollingOut", func(bt *bluev1.BlueTenant) error {
			return hasCondition(bt, bluev1.ConditionProgressing, metav1.ConditionTrue, bluev1.ReasonRollingOut)
		})
		h := mustHealth(t, script, live.Object)
		want := meta.FindStatusCondition(bt.Status.Conditions, bluev1.ConditionProgressing).Message
		if h.Status != "Progressing" || h.Message != want {
			t.Errorf("pods not running: %+v, want Progressing %q", h, want)
		}
	})

	t.Run("Healthy then Suspended", func(t *testing.T) {
		t.Parallel()
		const name = "argo-serving"
		createTenant(t, newTenant(name))
		live, bt := waitTenant(t, name, "Ready=True/Available", func(bt *bluev1.BlueTenant) error {
			if err := markPodsRunning(context.Background(), controllers.NamespaceFor(name)); err != nil {
				return err
			}
			return hasCondition(bt, bluev1.ConditionReady, metav1.ConditionTrue, bluev1.ReasonAvailable)
		})
		h := mustHealth(t, script, live.Object)
		want := meta.FindStatusCondition(bt.Status.Conditions, bluev1.ConditionReady).Message
		if h.Status != "Healthy" || h.Message != want {
			t.Errorf("pods running: %+v, want Healthy %q", h, want)
		}

		// The object the API server returns for the update has the new
		// generation and the operator's status for the old one.
		var updated *unstructured.Unstructured
		eventually(t, wait, "set spec.suspend", func() error {
			updated = getLive(t, name)
			if err := unstructured.SetNestedField(updated.Object, true, "spec", "suspend"); err != nil {
				return err
			}
			return k8s.Update(context.Background(), updated)
		})
		observed, _, _ := unstructured.NestedInt64(updated.Object, "status", "observedGeneration")
		if observed >= updated.GetGeneration() {
			t.Fatalf("update response: observedGeneration %d, generation %d", observed, updated.GetGeneration())
		}
		if h := mustHealth(t, script, updated.Object); h.Status != "Progressing" || h.Message != fmt.Sprintf("Waiting for blue-operator to observe generation %d", updated.GetGeneration()) {
			t.Errorf("suspend not yet observed: %+v, want Progressing", h)
		}

		live, bt = waitTenant(t, name, "Ready=False/Suspended", func(bt *bluev1.BlueTenant) error {
			return hasCondition(bt, bluev1.ConditionReady, metav1.ConditionFalse, bluev1.ReasonSuspended)
		})
		h = mustHealth(t, script, live.Object)
		want = meta.FindStatusCondition(bt.Status.Conditions, bluev1.ConditionReady).Message
		if h.Status != "Suspended" || h.Message != want {
			t.Errorf("suspended: %+v, want Suspended %q", h, want)
		}
	})

	t.Run("Degraded", func(t *testing.T) {
		t.Parallel()
		const name = "argo-taken"
		ctx := context.Background()
		foreign := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: controllers.NamespaceFor(name), Labels: map[string]string{"team": "someone-else"}}}
		if err := k8s.Create(ctx, foreign); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = k8s.Delete(ctx, foreign) })
		createTenant(t, newTenant(name))
		live, bt := waitTenant(t, name, "Degraded=True/NamespaceConflict", func(bt *bluev1.BlueTenant) error {
			return hasCondition(bt, bluev1.ConditionDegraded, metav1.ConditionTrue, bluev1.ReasonNamespaceConflict)
		})
		h := mustHealth(t, script, live.Object)
		want := meta.FindStatusCondition(bt.Status.Conditions, bluev1.ConditionDegraded).Message
		if h.Status != "Degraded" || h.Message != want {
			t.Errorf("namespace conflict: %+v, want Degraded %q", h, want)
		}
		if !strings.Contains(h.Message, foreign.Name) {
			t.Errorf("message %q does not name namespace %s", h.Message, foreign.Name)
		}
	})
}

// newTenant is a valid BlueTenant; tests change what they need.
func newTenant(name string) *bluev1.BlueTenant {
	return &bluev1.BlueTenant{
		TypeMeta:   metav1.TypeMeta{APIVersion: bluev1.GroupVersion.String(), Kind: "BlueTenant"},
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: bluev1.BlueTenantSpec{
			DisplayName: "Test " + name,
			Tier:        bluev1.TierSmall,
			Endpoint:    bluev1.EndpointSpec{Host: name + ".mcp.example.com"},
			AWS:         bluev1.AWSSpec{Region: "eu-west-1", AccountID: "222222222222"},
			Infisical: bluev1.InfisicalSpec{
				ProjectID: "proj-" + name,
				Auth:      bluev1.InfisicalAuth{Kubernetes: &bluev1.InfisicalKubernetesAuth{IdentityID: "id-" + name}},
			},
		},
	}
}

// createTenant creates bt as JSON, as Argo CD would, and returns what the
// API server answered.
func createTenant(t *testing.T, bt *bluev1.BlueTenant) *unstructured.Unstructured {
	t.Helper()
	b, err := json.Marshal(bt)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(b); err != nil {
		t.Fatal(err)
	}
	unstructured.RemoveNestedField(u.Object, "status")
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	if err := k8s.Create(context.Background(), u); err != nil {
		t.Fatalf("create BlueTenant %s: %v", bt.Name, err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), u) })
	return u
}

// getLive reads a BlueTenant as Argo CD's cache holds it: unstructured JSON.
func getLive(t *testing.T, name string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(bluev1.GroupVersion.WithKind("BlueTenant"))
	if err := k8s.Get(context.Background(), client.ObjectKey{Name: name}, u); err != nil {
		t.Fatalf("get BlueTenant %s: %v", name, err)
	}
	return u
}

// waitTenant waits until the operator has written a status for the current
// generation that satisfies cond, and returns the object as read and typed.
func waitTenant(t *testing.T, name, what string, cond func(*bluev1.BlueTenant) error) (*unstructured.Unstructured, *bluev1.BlueTenant) {
	t.Helper()
	var live *unstructured.Unstructured
	var bt bluev1.BlueTenant
	eventually(t, wait, name+" "+what, func() error {
		live = getLive(t, name)
		bt = bluev1.BlueTenant{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(live.Object, &bt); err != nil {
			return err
		}
		if bt.Status.ObservedGeneration != bt.Generation {
			return fmt.Errorf("observedGeneration %d, generation %d", bt.Status.ObservedGeneration, bt.Generation)
		}
		return cond(&bt)
	})
	return live, &bt
}

func hasCondition(bt *bluev1.BlueTenant, typ string, status metav1.ConditionStatus, reason string) error {
	c := meta.FindStatusCondition(bt.Status.Conditions, typ)
	if c == nil || c.Status != status || c.Reason != reason {
		return fmt.Errorf("%s is %+v, want %s/%s", typ, c, status, reason)
	}
	return nil
}
