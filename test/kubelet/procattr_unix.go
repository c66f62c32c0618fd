//go:build unix && !linux

package kubelet

import "syscall"

// sysProcAttr puts a container in its own process group, so stopping it
// stops everything it started.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
