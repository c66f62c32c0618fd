package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	bluev1 "github.com/superviber/blue-operator/api/v1alpha1"
	"github.com/superviber/blue-operator/controllers"
)

// cluster is one fresh envtest control plane (etcd and kube-apiserver).
type cluster struct {
	env *envtest.Environment
	// admin is unthrottled: the benchmark's own reads must not queue behind
	// the rate limits it measures.
	admin   *rest.Config
	reader  client.Client
	metrics rest.Interface
}

// startRun starts a fresh cluster for one run and returns it with the kinds
// a tenant owns and the client that creates tenants, as a user would.
func (b *bench) startRun() (*cluster, []schema.GroupVersionKind, client.Client, error) {
	cl, err := startCluster(b.root)
	if err != nil {
		return nil, nil, nil, err
	}
	kinds, err := tenantKinds(b.opts)
	if err != nil {
		cl.stop()
		return nil, nil, nil, err
	}
	user, err := cl.throttledClient(b.qps, b.burst, "bench-operator/user")
	if err != nil {
		cl.stop()
		return nil, nil, nil, err
	}
	return cl, kinds, user, nil
}

func startCluster(root string) (*cluster, error) {
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		Scheme:                scheme,
	}
	// envtest's default Service range is a /24: 254 ClusterIPs, fewer than
	// the tenants' Services, and random allocation collides often when full.
	env.ControlPlane.GetAPIServer().Configure().Set("service-cluster-ip-range", "10.0.0.0/16")
	cfg, err := env.Start()
	if err != nil {
		// Start can fail after etcd and kube-apiserver run (installing the
		// CRDs, say); stop whatever it started.
		_ = env.Stop()
		return nil, fmt.Errorf("start envtest: %w", err)
	}
	c := &cluster{env: env, admin: rest.CopyConfig(cfg)}
	c.admin.QPS, c.admin.Burst = -1, 0 // negative QPS: no client-side limit
	c.admin.UserAgent = "bench-operator/observer"
	if c.reader, err = client.New(c.admin, client.Options{Scheme: scheme}); err != nil {
		c.stop()
		return nil, fmt.Errorf("observer client: %w", err)
	}
	cs, err := kubernetes.NewForConfig(c.admin)
	if err != nil {
		c.stop()
		return nil, fmt.Errorf("metrics client: %w", err)
	}
	c.metrics = cs.Discovery().RESTClient()
	return c, nil
}

func (c *cluster) stop() {
	if err := c.env.Stop(); err != nil {
		progress("stop envtest: %v", err)
	}
}

// throttledClient is a client as the operator's: the same QPS and burst (per
// API group-version-kind, as controller-runtime creates one REST client each).
func (c *cluster) throttledClient(qps float64, burst int, userAgent string) (client.Client, error) {
	cfg := rest.CopyConfig(c.admin)
	cfg.QPS, cfg.Burst = float32(qps), burst
	cfg.UserAgent = userAgent
	cl, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("client %s: %w", userAgent, err)
	}
	return cl, nil
}

// writeKey identifies one series of apiserver_request_total among writes.
type writeKey struct {
	Verb, Group, Resource, Subresource, Code string
}

func (k writeKey) String() string {
	r := k.Resource
	if k.Group != "" {
		r = k.Group + "/" + r
	}
	if k.Subresource != "" {
		r += "/" + k.Subresource
	}
	return k.Verb + " " + r + " " + k.Code
}

// housekeeping marks writes the API server makes on its own: its identity
// lease is renewed every 10 s, and its ClusterIP allocator writes an
// IPAddress for every Service created (more than one when two creates pick
// the same free address and one retries, which differs run to run). The
// operator writes neither: leader election is off in the benchmark, and
// Services are what it writes, counted as such.
func (k writeKey) housekeeping() bool {
	switch {
	case k.Group == "coordination.k8s.io" && k.Resource == "leases":
		return true
	case k.Group == "networking.k8s.io" && k.Resource == "ipaddresses":
		return true
	}
	return false
}

// writeCounts are cumulative write request counts by series.
type writeCounts map[writeKey]float64

// writeVerbs are the verb labels of writes. The API server labels requests by
// HTTP method (POST creates, PUT updates), except server-side apply (APPLY)
// and reads (GET, LIST, WATCH); the rest are there in case that changes.
var writeVerbs = map[string]bool{
	"POST": true, "PUT": true, "PATCH": true, "APPLY": true, "DELETE": true,
	"CREATE": true, "UPDATE": true, "DELETECOLLECTION": true,
}

// writes scrapes the API server's request counter: it counts every request
// it served, whoever made it, so it sees the operator's writes without
// instrumenting the operator.
func (c *cluster) writes(ctx context.Context) (writeCounts, error) {
	body, err := c.metrics.Get().AbsPath("/metrics").SetHeader("Accept", "text/plain").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("scrape API server metrics: %w", err)
	}
	return parseWrites(body)
}

const requestMetric = "apiserver_request_total{"

// parseWrites reads the write series of apiserver_request_total from the
// Prometheus text format.
func parseWrites(body []byte) (writeCounts, error) {
	out := writeCounts{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, requestMetric) {
			continue
		}
		end := strings.LastIndexByte(line, '}')
		if end < 0 {
			return nil, fmt.Errorf("malformed metric line %q", line)
		}
		labels, err := parseLabels(line[len(requestMetric):end])
		if err != nil {
			return nil, fmt.Errorf("metric line %q: %w", line, err)
		}
		if !writeVerbs[labels["verb"]] {
			continue
		}
		fields := strings.Fields(line[end+1:])
		if len(fields) == 0 {
			return nil, fmt.Errorf("metric line %q has no value", line)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return nil, fmt.Errorf("metric line %q: %w", line, err)
		}
		k := writeKey{labels["verb"], labels["group"], labels["resource"], labels["subresource"], labels["code"]}
		out[k] += v // series differing only in labels we drop (scope, version) add up
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read metrics: %w", err)
	}
	return out, nil
}

// parseLabels parses `a="x",b="y\"z"`.
func parseLabels(s string) (map[string]string, error) {
	out := map[string]string{}
	for len(s) > 0 {
		eq := strings.IndexByte(s, '=')
		if eq < 0 || len(s) < eq+2 || s[eq+1] != '"' {
			return nil, fmt.Errorf("bad label set near %q", s)
		}
		name := s[:eq]
		var val strings.Builder
		i := eq + 2
		for ; i < len(s) && s[i] != '"'; i++ {
			if s[i] == '\\' && i+1 < len(s) {
				i++
				if s[i] == 'n' {
					val.WriteByte('\n')
					continue
				}
			}
			val.WriteByte(s[i])
		}
		if i >= len(s) {
			return nil, fmt.Errorf("unterminated label value near %q", s)
		}
		out[name] = val.String()
		s = strings.TrimPrefix(s[i+1:], ",")
	}
	return out, nil
}

// writeDelta is what happened between two scrapes.
type writeDelta struct {
	// Total excludes the API server's own housekeeping.
	Total        int            `json:"total"`
	Housekeeping int            `json:"housekeeping"`
	BySeries     map[string]int `json:"bySeries,omitempty"`
}

func diffWrites(after, before writeCounts) writeDelta {
	d := writeDelta{BySeries: map[string]int{}}
	for k, v := range after {
		n := int(v - before[k] + 0.5)
		if n <= 0 {
			continue
		}
		if k.housekeeping() {
			d.Housekeeping += n
			continue
		}
		d.Total += n
		d.BySeries[k.String()] += n
	}
	return d
}

// quiesce waits until a whole interval passes without writes (beyond
// housekeeping), at most limit, and returns the last scrape and when the last
// writes were seen (from if none came after it). It tells the trailing writes
// of a converging operator apart from idle writes.
func (c *cluster) quiesce(ctx context.Context, from writeCounts, fromAt time.Time, interval, limit time.Duration) (writeCounts, time.Time, error) {
	deadline := time.Now().Add(limit)
	last, busyAt := from, fromAt
	for {
		select {
		case <-ctx.Done():
			return nil, busyAt, ctx.Err()
		case <-time.After(interval):
		}
		now, err := c.writes(ctx)
		if err != nil {
			return nil, busyAt, err
		}
		if diffWrites(now, last).Total == 0 {
			return now, busyAt, nil
		}
		busyAt = time.Now()
		if busyAt.After(deadline) {
			return now, busyAt, nil
		}
		last = now
	}
}

// settle readies a fresh API server before a phase's clock starts. It reads
// every kind the phase writes: the API server builds a custom resource's
// handler (schemas, CEL validators) on first use, which takes seconds, and
// the operator's informers have always paid for that before its workers
// start. Then it waits for the API server's own start-up writes (bootstrap
// RBAC, priority levels and the like) to end.
func (c *cluster) settle(ctx context.Context, kinds []schema.GroupVersionKind) error {
	if _, err := c.snapshot(ctx, kinds); err != nil {
		return err
	}
	from, err := c.writes(ctx)
	if err != nil {
		return err
	}
	_, _, err = c.quiesce(ctx, from, time.Now(), time.Second, 30*time.Second)
	return err
}

// warm resolves the REST mapping of every kind a client will use, which
// also opens its connection: the operator's client has done both by the time
// its workers start, so a cold client would put API discovery on the
// baseline's clock.
func warm(cl client.Client, gvks ...schema.GroupVersionKind) error {
	for _, gvk := range gvks {
		if _, err := cl.RESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
			return fmt.Errorf("resolve %s: %w", gvk, err)
		}
	}
	return nil
}

var tenantGVK = bluev1.GroupVersion.WithKind("BlueTenant")

// objKey names one object in a snapshot.
type objKey struct{ Kind, Namespace, Name string }

// tenantKinds are the kinds of every object a tenant gets: those the
// reconciler applies (as DesiredObjects lists them) plus the token Secret.
func tenantKinds(opts controllers.Options) ([]schema.GroupVersionKind, error) {
	sample := newTenant(0)
	sample.UID = "00000000-0000-0000-0000-000000000000"
	kinds := []schema.GroupVersionKind{
		{Version: "v1", Kind: "Secret"},
	}
	for _, ac := range controllers.DesiredObjects(sample, opts, "sha256:0") {
		tm, ok := ac.(interface {
			GetAPIVersion() *string
			GetKind() *string
		})
		if !ok || tm.GetAPIVersion() == nil || tm.GetKind() == nil {
			return nil, fmt.Errorf("apply configuration %T names no kind", ac)
		}
		kinds = append(kinds, schema.FromAPIVersionAndKind(*tm.GetAPIVersion(), *tm.GetKind()))
	}
	return kinds, nil
}

// snapshot lists the metadata of every BlueTenant and every object the
// operator labels as its own, keyed to their resourceVersion. Metadata-only
// lists keep it cheap.
func (c *cluster) snapshot(ctx context.Context, kinds []schema.GroupVersionKind) (map[objKey]string, error) {
	out := map[objKey]string{}
	list := func(gvk schema.GroupVersionKind, opts ...client.ListOption) error {
		var l metav1.PartialObjectMetadataList
		l.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := c.reader.List(ctx, &l, opts...); err != nil {
			return fmt.Errorf("list %s: %w", gvk.Kind, err)
		}
		for _, o := range l.Items {
			out[objKey{gvk.Kind, o.Namespace, o.Name}] = o.ResourceVersion
		}
		return nil
	}
	if err := list(tenantGVK); err != nil {
		return nil, err
	}
	for _, gvk := range kinds {
		if err := list(gvk, client.MatchingLabels{controllers.LabelManagedBy: controllers.ManagedByValue}); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// missingObjects says which kinds have fewer than n objects in a snapshot,
// e.g. "Deployment 998/1000"; empty when every tenant has all its objects.
func missingObjects(snap map[objKey]string, kinds []schema.GroupVersionKind, n int) []string {
	count := map[string]int{}
	for k := range snap {
		count[k.Kind]++
	}
	var missing []string
	for _, gvk := range append([]schema.GroupVersionKind{{Kind: "BlueTenant"}}, kinds...) {
		if count[gvk.Kind] < n {
			missing = append(missing, fmt.Sprintf("%s %d/%d", gvk.Kind, count[gvk.Kind], n))
		}
	}
	sort.Strings(missing)
	return missing
}

// changedObjects counts objects whose resourceVersion changed, appeared or
// vanished between two snapshots, by kind.
func changedObjects(before, after map[objKey]string) map[string]int {
	out := map[string]int{}
	for k, rv := range after {
		if before[k] != rv {
			out[k.Kind]++
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			out[k.Kind]++
		}
	}
	return out
}

// writeKubeconfig gives the operator its own user, in system:masters as the
// benchmark is about speed, not RBAC.
func (c *cluster) writeKubeconfig(path string) error {
	user, err := c.env.AddUser(envtest.User{Name: "blue-operator-bench", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("add operator user: %w", err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return fmt.Errorf("operator kubeconfig: %w", err)
	}
	if err := os.WriteFile(path, kc, 0o600); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	return nil
}
