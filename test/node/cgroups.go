package node

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cgroupMounts are the machine's cgroup hierarchies, one directory per
// mounted controller set: the v1 ones the kubelet and runc use through
// cgroupfs, and the unified (v2) one, where runc also places containers on
// a hybrid machine like this one.
func cgroupMounts() ([]string, error) {
	mounts, err := mountsOf("self")
	if err != nil {
		return nil, err
	}
	var dirs []string
	for _, m := range mounts {
		if m.fsType == "cgroup" || m.fsType == "cgroup2" {
			dirs = append(dirs, m.point)
		}
	}
	return dirs, nil
}

// makeCgroups creates the node's cgroup parent, and a child for the node's
// own processes, in every hierarchy (the kubelet refuses a cgroup root that
// is missing from one).
func makeCgroups(parent, child string) error {
	mounts, err := cgroupMounts()
	if err != nil {
		return fmt.Errorf("cgroup mounts: %w", err)
	}
	for _, m := range mounts {
		dir := m
		for _, part := range []string{strings.TrimPrefix(parent, "/"), child} {
			up := dir
			dir = filepath.Join(dir, part)
			if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
			if err := inheritCpuset(up, dir); err != nil {
				return err
			}
		}
	}
	return nil
}

// inheritCpuset gives a new cpuset cgroup its parent's CPUs and memory
// nodes: a v1 cpuset cgroup starts with none, and no process may join it
// until it has both.
func inheritCpuset(parent, dir string) error {
	for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
		v, err := os.ReadFile(filepath.Join(parent, f))
		if errors.Is(err, fs.ErrNotExist) {
			return nil // not the cpuset hierarchy
		}
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, f), v, 0o644); err != nil {
			return fmt.Errorf("%s: %w", filepath.Join(dir, f), err)
		}
	}
	return nil
}

// cgroupProcsFiles are the cgroup.procs files of the cgroup, one per
// hierarchy: writing a process ID into each moves that process into it.
func cgroupProcsFiles(cgroup string) ([]string, error) {
	mounts, err := cgroupMounts()
	if err != nil {
		return nil, err
	}
	files := make([]string, 0, len(mounts))
	for _, m := range mounts {
		files = append(files, filepath.Join(m, cgroup, "cgroup.procs"))
	}
	return files, nil
}

// joinCgroups moves pid into the cgroup in every hierarchy.
func joinCgroups(cgroup string, pid int) error {
	files, err := cgroupProcsFiles(cgroup)
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := os.WriteFile(f, []byte(strconv.Itoa(pid)), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// cgroupPIDs lists every process in the cgroup and its children, in every
// hierarchy.
func cgroupPIDs(cgroup string) ([]int, error) {
	mounts, err := cgroupMounts()
	if err != nil {
		return nil, err
	}
	seen := map[int]bool{}
	for _, m := range mounts {
		root := filepath.Join(m, cgroup)
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			if d.IsDir() || d.Name() != "cgroup.procs" {
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return nil // the cgroup went meanwhile
			}
			for _, f := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(f); err == nil {
					seen[pid] = true
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	pids := make([]int, 0, len(seen))
	for p := range seen {
		pids = append(pids, p)
	}
	slices.Sort(pids)
	return pids, nil
}

// killCgroup kills every process in the cgroup tree until none is left,
// then removes the tree, deepest first.
func killCgroup(cgroup string) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		pids, err := cgroupPIDs(cgroup)
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v in %s survive SIGKILL", pids, cgroup)
		}
		for _, p := range pids {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
		time.Sleep(50 * time.Millisecond) // the kernel reaps asynchronously; poll again
	}
	mounts, err := cgroupMounts()
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range mounts {
		root := filepath.Join(m, cgroup)
		var dirs []string
		_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, path)
			}
			return nil
		})
		// Children before parents: WalkDir lists parents first. Each
		// directory gets its own few seconds, so one slow to empty does
		// not leave the rest behind.
		for i := len(dirs) - 1; i >= 0; i-- {
			if err := rmdirRetry(dirs[i], time.Now().Add(5*time.Second)); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// rmdirRetry removes an empty cgroup; the kernel answers EBUSY for a moment
// after its last process ends.
func rmdirRetry(dir string, deadline time.Time) error {
	for {
		err := syscall.Rmdir(dir)
		if err == nil || errors.Is(err, syscall.ENOENT) {
			return nil
		}
		if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
			return fmt.Errorf("remove cgroup %s: %w", dir, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
