package main

import "syscall"

// childProcAttr has the kernel kill a child if the benchmark dies without
// cleaning up (best effort: it fires when the starting thread exits).
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
