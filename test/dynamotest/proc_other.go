//go:build !unix

package dynamotest

import (
	"os/exec"
	"syscall"
)

// procAttr: no process groups here; Close kills the node process itself.
func procAttr() *syscall.SysProcAttr { return nil }

func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = cmd.Process.Kill()
	}
}
