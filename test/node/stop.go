package node

import (
	"bufio"
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
)

// Stop ends the node: its processes (asked first, then killed), every
// container and shim (everything in the node's cgroup), every mount under its
// directory, its network namespace (with it every address, route, bridge and
// nftables rule the node made) and its cgroups, then the state directory if
// Start made it. It is safe on a node that started only partly.
func (n *Node) Stop() error {
	var errs []error
	// The kubelet first, so it restarts nothing while the rest goes.
	for i := len(n.procs) - 1; i >= 0; i-- {
		p := n.procs[i]
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
	if n.l.cgroup != "" {
		if err := killCgroup(n.l.cgroup); err != nil {
			errs = append(errs, err)
		}
	}
	if n.Dir != "" {
		if err := unmountUnder(n.Dir); err != nil {
			errs = append(errs, err)
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
	}
	for _, l := range n.logs {
		_ = l.Close()
	}
	if n.ownDir && n.Dir != "" {
		if err := os.RemoveAll(n.Dir); err != nil {
			errs = append(errs, fmt.Errorf("remove node dir: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("stop node %s: %w", n.Name, err)
	}
	return nil
}

// mountsUnder lists the mount points at or under dir, deepest first.
func mountsUnder(dir string) ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dir = filepath.Clean(dir)
	var points []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) < 5 {
			continue
		}
		// Spaces and the like are octal-escaped in mountinfo; the node's
		// paths have none.
		p := fields[4]
		if p == dir || strings.HasPrefix(p, dir+"/") {
			points = append(points, p)
		}
	}
	slices.SortFunc(points, func(a, b string) int { return len(b) - len(a) })
	return slices.Compact(points), s.Err()
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
	return left
}
