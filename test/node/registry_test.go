package node

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// A test binary killed before its Stop leaves a node behind: processes in
// its cgroup, mounts, network namespaces, its directory, its owner file. The
// next node's claim removes all of it, and nothing of a live node (this
// package's own, started by TestMain).
func TestSweepRemovesWhatAKilledTestLeft(t *testing.T) {
	ctx := context.Background()
	name := "blue-node-5ee9ed"
	liveBefore := liveOwners(t)

	// A process that is gone, as the killed test binary is.
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	// Made under the registry's lock, so that another package's node
	// starting meanwhile does not sweep them half made.
	var dir string
	orphan := exec.Command("sleep", "600")
	reaped := make(chan struct{})
	err := withRegistry(func() error {
		var err error
		if dir, err = os.MkdirTemp("", tempDirPrefix); err != nil {
			return err
		}
		mnt := filepath.Join(dir, "kubelet", "pods", "volume")
		if err := os.MkdirAll(mnt, 0o700); err != nil {
			return err
		}
		if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=1m"); err != nil {
			return err
		}
		for _, ns := range []string{name, name + "-net"} {
			if err := ip(ctx, "", "netns", "add", ns); err != nil {
				return err
			}
		}
		if err := makeCgroups("/"+name, "node"); err != nil {
			return err
		}
		// A container's process, still running in the dead node's cgroup.
		if err := orphan.Start(); err != nil {
			return err
		}
		go func() { _ = orphan.Wait(); close(reaped) }()
		if err := joinCgroups("/"+name+"/node", orphan.Process.Pid); err != nil {
			return err
		}
		return os.WriteFile(ownerPath(name), []byte(strconv.Itoa(gone.Process.Pid)+"\n"+dir+"\n"), 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}

	if err := withRegistry(sweepStale); err != nil {
		t.Fatal(err)
	}

	<-reaped // killed, or this waits until the test's deadline
	if ws, ok := orphan.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Errorf("the orphan ended with %v, want SIGKILL", orphan.ProcessState)
	}
	for _, ns := range []string{name, name + "-net"} {
		if _, err := os.Stat(filepath.Join(netnsDir, ns)); err == nil {
			t.Errorf("network namespace %s left", ns)
		}
	}
	if mounts, _ := cgroupMounts(); len(mounts) > 0 {
		for _, m := range mounts {
			if _, err := os.Stat(filepath.Join(m, name)); err == nil {
				t.Errorf("cgroup %s left", filepath.Join(m, name))
			}
		}
	}
	if points, _ := mountsUnder(dir); len(points) > 0 {
		t.Errorf("mounts left: %v", points)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("directory %s left", dir)
	}
	if _, err := os.Stat(ownerPath(name)); err == nil {
		t.Error("owner file left")
	}
	for _, live := range liveBefore {
		if _, err := os.Stat(ownerPath(live)); err != nil {
			t.Errorf("the sweep removed live node %s", live)
		}
		if _, err := os.Stat(filepath.Join(netnsDir, live)); err != nil {
			t.Errorf("the sweep removed live node %s's network namespace", live)
		}
	}
}

// liveOwners are the nodes running now (this package's, and any other
// package's running beside it).
func liveOwners(t *testing.T) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(registryDir, "owners"))
	if err != nil {
		t.Fatal(err)
	}
	var live []string
	for _, e := range ents {
		if o, ok := readOwner(e.Name()); ok && o.alive() {
			live = append(live, e.Name())
		}
	}
	if len(live) == 0 {
		t.Fatal("no live node: TestMain's should be one")
	}
	return live
}
