//go:build linux

package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// CPU time is a second view of the per-call cost: on a shared machine wall
// time includes waiting for CPUs, CPU time mostly does not.

// cpuTimes is CPU used so far by this process (client, in-process servers,
// STS, Infisical, gofakes3, dynalite's recording proxy) and by dynalite's
// node process.
type cpuTimes struct {
	self, node time.Duration
}

func (a cpuTimes) sub(b cpuTimes) cpuTimes { return cpuTimes{a.self - b.self, a.node - b.node} }

func (a cpuTimes) add(b cpuTimes) cpuTimes { return cpuTimes{a.self + b.self, a.node + b.node} }

// cpuMeter reads cpuTimes; node is found once among this process's children.
type cpuMeter struct{ nodePID int }

func newCPUMeter() *cpuMeter { return &cpuMeter{nodePID: childNamed("node")} }

func (m *cpuMeter) read() cpuTimes {
	var t cpuTimes
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		t.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if m.nodePID > 0 {
		t.node = procCPU(m.nodePID)
	}
	return t
}

// clockTick is USER_HZ, 100 on every Linux architecture Go supports.
const clockTick = 10 * time.Millisecond

// procCPU is utime+stime of a process from /proc/<pid>/stat.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0
	}
	// Fields after the parenthesised command name, which may hold spaces.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64) // utime, field 14
	k, _ := strconv.ParseInt(f[12], 10, 64) // stime, field 15
	return time.Duration(u+k) * clockTick
}

// childNamed finds a child of this process by command name (0 if none).
func childNamed(comm string) int {
	self := strconv.Itoa(os.Getpid())
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || closing < open {
			continue
		}
		f := strings.Fields(s[closing+1:])
		if len(f) > 1 && f[1] == self && s[open+1:closing] == comm {
			return pid
		}
	}
	return 0
}
