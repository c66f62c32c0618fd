//go:build !linux

package main

import "syscall"

// childProcAttr: only Linux can tie the manager's life to the benchmark's.
func childProcAttr() *syscall.SysProcAttr { return nil }
