package lambdarie

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
)

// sysProcAttr puts the emulator in a process group of its own and has the
// kernel kill it if the process that started it dies without stopping it
// (best effort: Pdeathsig fires when the starting thread exits). The
// function then loses its Runtime API and exits too.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// childrenOf lists the processes whose parent is pid.
func childrenOf(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	want := []byte(strconv.Itoa(pid))
	var out []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if fields := statFields(child); len(fields) >= 2 && bytes.Equal(fields[1], want) {
			out = append(out, child)
		}
	}
	return out
}

// running reports whether pid is a live process (a zombie is not: nothing
// of it runs, and its parent or init reaps it).
func running(pid int) bool {
	fields := statFields(pid)
	return len(fields) >= 1 && !bytes.Equal(fields[0], []byte("Z"))
}

// statFields are the fields of /proc/<pid>/stat after "pid (comm)": state,
// ppid, pgrp, ...
func statFields(pid int) [][]byte {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	// comm may hold spaces and parentheses.
	return bytes.Fields(stat[bytes.LastIndexByte(stat, ')')+1:])
}
