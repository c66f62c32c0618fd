//go:build !unix

package kubelet

import (
	"os"
	"syscall"
)

// Without process groups, stopping a container kills its main process only.

func sysProcAttr() *syscall.SysProcAttr { return nil }

func signalGroup(pid int, _ syscall.Signal) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return nil
	}
	return p.Kill()
}

func exitCode(ps *os.ProcessState) int { return ps.ExitCode() }

func groupAlive(int) bool { return false }
