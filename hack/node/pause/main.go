// Command pause is the test node's sandbox (pause) container: it holds a
// pod's namespaces open until it is told to stop, and reaps the zombies of
// processes that end up its children (it is PID 1 when the pod shares its
// PID namespace). No registry is reachable here, so hack/setup-node.sh builds
// it into the sandbox image the node's containerd is pinned to.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range sig {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		// Reap every child that has ended; -1: any child, WNOHANG: don't
		// wait for those still running.
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
