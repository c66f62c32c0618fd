//go:build unix

package dynamotest

import (
	"os/exec"
	"syscall"
)

// procAttr puts dynalite in its own process group so Close can kill node and
// anything it started in one signal.
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

func killGroup(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}
