package node

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Stop ends the node: first its pods (deleted, so the kubelet stops their
// containers and the runtime tears down their sandboxes and pod networks as
// in a cluster), then its processes (asked, then killed), whatever is still
// in the node's cgroup, every mount under its directory, its network
// namespaces (with them every address, route, bridge and nftables rule the
// node made), its cgroups and its CNI results; it puts back the kernel
// settings the kubelet changed when no other node runs, removes the
// state directory if Start made it, and releases the node. It is safe on a node that started only
// partly.
func (n *Node) Stop() error {
	var errs []error
	if n.kubeletRunning() {
		if err := n.drain(); err != nil {
			errs = append(errs, err)
		}
	}
	// The kubelet first, so it restarts nothing while the rest goes.
	for i := len(n.procs) - 1; i >= 0; i-- {
		p := n.procs[i]
		select {
		case <-p.exited:
			continue // reaped: its process group may be someone else's now
		default:
		}
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.exited
		}
	}
	if n.fwd != nil {
		n.fwd.Close()
	}
	for _, f := range n.exposed {
		f.Close()
	}
	if n.l.cgroup != "" {
		if err := killCgroup(n.l.cgroup); err != nil {
			errs = append(errs, err)
		}
	}
	mountsLeft := false
	if n.Dir != "" {
		if err := unmountUnder(n.Dir); err != nil {
			errs = append(errs, err)
			mountsLeft = true
		}
	}
	if n.l.netns != "" {
		for _, ns := range []string{n.l.netns, n.l.network()} {
			if _, err := os.Stat(filepath.Join(netnsDir, ns)); err == nil {
				if err := ip(context.Background(), "", "netns", "delete", ns); err != nil {
					errs = append(errs, err)
				}
			}
		}
		results, _ := filepath.Glob(filepath.Join(cniResultsDir, n.l.netns+"-*"))
		for _, r := range results {
			if err := os.Remove(r); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, l := range n.logs {
		_ = l.Close()
	}
	// Never remove a directory that may still have something mounted in
	// it: RemoveAll would go through the mount.
	if n.ownDir && n.Dir != "" && !mountsLeft {
		if err := os.RemoveAll(n.Dir); err != nil {
			errs = append(errs, fmt.Errorf("remove node dir: %w", err))
		}
	}
	if n.l.netns != "" {
		if err := release(n.l.netns); err != nil {
			errs = append(errs, fmt.Errorf("release: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("stop node %s: %w", n.Name, err)
	}
	return nil
}

// StopAndCheck ends a suite's node and says what went wrong with it: the
// policy engine having ever failed to program the kernel (then it enforced
// nothing, and every policy test passed on an open network), Stop's errors,
// and anything the node left on the machine.
func (n *Node) StopAndCheck(ctx context.Context) error {
	var errs []error
	if n.policyEngine {
		if lines, err := n.PolicyEngineLog(ctx); err != nil {
			errs = append(errs, fmt.Errorf("kube-network-policies' log: %w", err))
		} else if bad := PolicyErrors(lines); len(bad) > 0 {
			errs = append(errs, fmt.Errorf("kube-network-policies failed to program nftables:\n%s", strings.Join(bad, "\n")))
		}
	}
	if err := n.Stop(); err != nil {
		errs = append(errs, err)
	}
	if left := n.Leftovers(); len(left) > 0 {
		errs = append(errs, fmt.Errorf("the node left behind: %s", strings.Join(left, "; ")))
	}
	return errors.Join(errs...)
}

// cniResultsDir is where libcni, inside containerd, caches each pod
// network's result, under the network's name.
const cniResultsDir = "/var/lib/cni/results"

func (n *Node) kubeletRunning() bool {
	for _, p := range n.procs {
		if p.name == "kubelet" {
			select {
			case <-p.exited:
				return false
			default:
				return true
			}
		}
	}
	return false
}

// drain cordons the node, deletes every pod on it and waits, at most 30 s, until the
// kubelet has stopped them all.
func (n *Node) drain() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Cordoned first, so the pods that controllers make again in place of
	// the deleted ones stay Pending instead of landing here.
	var node corev1.Node
	if err := n.client.Get(ctx, client.ObjectKey{Name: n.Name}, &node); err != nil {
		return fmt.Errorf("drain: %w", err)
	}
	patch := client.MergeFrom(node.DeepCopy())
	node.Spec.Unschedulable = true
	if err := n.client.Patch(ctx, &node, patch); err != nil {
		return fmt.Errorf("drain: cordon: %w", err)
	}
	var pods corev1.PodList
	if err := n.client.List(ctx, &pods, client.MatchingFields{"spec.nodeName": n.Name}); err != nil {
		return fmt.Errorf("drain: list pods: %w", err)
	}
	for i := range pods.Items {
		if err := n.client.Delete(ctx, &pods.Items[i], client.GracePeriodSeconds(1)); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("drain: delete pod %s/%s: %w", pods.Items[i].Namespace, pods.Items[i].Name, err)
		}
	}
	// The kubelet removes a pod once its containers and sandbox are
	// stopped (and the sandbox's network torn down); stopped containers
	// stay in the runtime until its garbage collection, so what counts is
	// that no task runs.
	return n.waitFor(ctx, "the kubelet to stop every pod", 30*time.Second, func(ctx context.Context) (bool, error) {
		var left corev1.PodList
		if err := n.client.List(ctx, &left, client.MatchingFields{"spec.nodeName": n.Name}); err != nil || len(left.Items) > 0 {
			return false, nil
		}
		out, err := n.ctr(ctx, "tasks", "ls")
		return err == nil && !strings.Contains(string(out), "RUNNING"), nil
	})
}

// mountsUnder lists the mount points at or under dir, deepest first.
func mountsUnder(dir string) ([]string, error) {
	mounts, err := mountsOf("self")
	if err != nil {
		return nil, err
	}
	dir = filepath.Clean(dir)
	var points []string
	for _, m := range mounts {
		if m.point == dir || strings.HasPrefix(m.point, dir+"/") {
			points = append(points, m.point)
		}
	}
	slices.SortStableFunc(points, func(a, b string) int { return len(b) - len(a) })
	return points, nil
}

// unmountUnder detaches every mount under dir (pod volumes, container roots,
// the pods' network namespaces), deepest first.
func unmountUnder(dir string) error {
	points, err := mountsUnder(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range points {
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

// Leftovers lists whatever of the node is still on the machine after Stop:
// processes in its cgroup, the cgroup itself, mounts under its directory, its
// network namespace, the directory. Empty after a clean Stop.
func (n *Node) Leftovers() []string {
	var left []string
	if pids, err := cgroupPIDs(n.l.cgroup); err != nil || len(pids) > 0 {
		left = append(left, fmt.Sprintf("processes %v (%v)", pids, err))
	}
	if mounts, err := cgroupMounts(); err == nil {
		for _, m := range mounts {
			if _, err := os.Stat(filepath.Join(m, n.l.cgroup)); err == nil {
				left = append(left, "cgroup "+filepath.Join(m, n.l.cgroup))
			}
		}
	}
	if points, err := mountsUnder(n.Dir); err != nil || len(points) > 0 {
		left = append(left, fmt.Sprintf("mounts %v (%v)", points, err))
	}
	for _, ns := range []string{n.l.netns, n.l.network()} {
		if _, err := os.Stat(filepath.Join(netnsDir, ns)); err == nil {
			left = append(left, "network namespace "+ns)
		}
	}
	if n.ownDir {
		if _, err := os.Stat(n.Dir); err == nil {
			left = append(left, "directory "+n.Dir)
		}
	}
	if results, _ := filepath.Glob(filepath.Join(cniResultsDir, n.l.netns+"-*")); len(results) > 0 {
		left = append(left, fmt.Sprintf("CNI results %v", results))
	}
	return append(left, registryLeftovers(n.l.netns)...)
}
