//go:build unix

package lambdarie

import (
	"errors"
	"syscall"
)

// killGroup kills every process of the group pid leads.
func killGroup(pid int) error {
	err := syscall.Kill(-pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}
