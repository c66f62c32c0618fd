package kubelet

import "syscall"

// sysProcAttr puts a container in its own process group, so stopping it
// stops everything it started, and has the kernel kill it if the kubelet's
// process dies without cleaning up (best effort: Pdeathsig fires when the
// starting thread exits).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
