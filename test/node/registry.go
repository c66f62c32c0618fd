package node

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// The registry is the machine-wide record of the test nodes: one owner file
// per node under /run/blue-node/owners (cleared at boot, as everything a node
// leaves is), holding the test process's ID and the node's directory, and a
// lock. A node is claimed before anything of it exists and released after
// everything is gone, both under the lock, so whatever carries a node's name
// without a live owner is the remains of a test binary that was killed before
// its Stop: the next node to start removes it (sweepStale).
var registryDir = "/run/blue-node"

func ownerPath(node string) string { return filepath.Join(registryDir, "owners", node) }

// withRegistry runs f holding the registry's lock.
func withRegistry(f func() error) error {
	if err := os.MkdirAll(filepath.Join(registryDir, "owners"), 0o700); err != nil {
		return err
	}
	lock, err := os.OpenFile(filepath.Join(registryDir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	defer func() { _ = syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) }()
	return f()
}

// owner is what an owner file says.
type owner struct {
	pid int
	dir string
}

func readOwner(node string) (owner, bool) {
	b, err := os.ReadFile(ownerPath(node))
	if err != nil {
		return owner{}, false
	}
	pidText, dir, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(pidText))
	return owner{pid: pid, dir: strings.TrimSpace(dir)}, err == nil
}

func (o owner) alive() bool { return o.pid > 0 && syscall.Kill(o.pid, 0) != syscall.ESRCH }

// claim registers a new node (before anything of it exists), after removing
// what dead nodes left, and saves the machine's kernel settings if no other
// node runs.
func claim(node, dir string) error {
	return withRegistry(func() error {
		if err := sweepStale(); err != nil {
			return fmt.Errorf("remove what killed test nodes left: %w", err)
		}
		if err := saveSysctlsIfFirst(); err != nil {
			return err
		}
		return os.WriteFile(ownerPath(node), []byte(fmt.Sprintf("%d\n%s\n", os.Getpid(), dir)), 0o600)
	})
}

// release drops a stopped node and, when no node is left, puts the kernel
// settings back.
func release(node string) error {
	return withRegistry(func() error {
		_ = os.Remove(ownerPath(node))
		if err := sweepStale(); err != nil {
			return err
		}
		if live, _ := os.ReadDir(filepath.Join(registryDir, "owners")); len(live) > 0 {
			return nil
		}
		return restoreSysctls()
	})
}

// sweepStale removes every node whose owner is gone or that has no owner
// file: its processes (by its cgroup), network namespaces, cgroups, CNI
// results, mounts and temporary directory. Called under the lock.
func sweepStale() error {
	names := map[string]bool{}
	if ents, err := os.ReadDir(netnsDir); err == nil {
		for _, e := range ents {
			if n := strings.TrimSuffix(e.Name(), "-net"); strings.HasPrefix(n, "blue-node-") {
				names[n] = true
			}
		}
	}
	if mounts, err := cgroupMounts(); err == nil {
		for _, m := range mounts {
			ents, _ := os.ReadDir(m)
			for _, e := range ents {
				if e.IsDir() && strings.HasPrefix(e.Name(), "blue-node-") {
					names[e.Name()] = true
				}
			}
		}
	}
	if ents, err := os.ReadDir(filepath.Join(registryDir, "owners")); err == nil {
		for _, e := range ents {
			names[e.Name()] = true
		}
	}
	var errs []error
	for name := range names {
		o, ok := readOwner(name)
		if ok && o.alive() {
			continue
		}
		if err := removeRemains(name, o.dir); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		_ = os.Remove(ownerPath(name))
	}
	return errors.Join(errs...)
}

// removeRemains removes what a dead node left.
func removeRemains(name, dir string) error {
	var errs []error
	if err := killCgroup("/" + name); err != nil {
		errs = append(errs, err)
	}
	if dir != "" {
		if err := unmountUnder(dir); err != nil {
			errs = append(errs, err)
		} else if strings.HasPrefix(filepath.Base(dir), tempDirPrefix) {
			_ = os.RemoveAll(dir)
		}
	}
	for _, ns := range []string{name, name + "-net"} {
		if _, err := os.Stat(filepath.Join(netnsDir, ns)); err == nil {
			if err := ip(context.Background(), "", "netns", "delete", ns); err != nil {
				errs = append(errs, err)
			}
		}
	}
	results, _ := filepath.Glob(filepath.Join(cniResultsDir, name+"-*"))
	for _, r := range results {
		_ = os.Remove(r)
	}
	return errors.Join(errs...)
}
