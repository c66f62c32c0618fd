package kubelet

import (
	"bytes"
	"os"
	"strconv"
)

// groupAlive reports whether any process of group pgid is still running.
// Zombies don't count: their parent, or init, reaps them.
func groupAlive(pgid int) bool {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return false
	}
	want := []byte(strconv.Itoa(pgid))
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // it ended while we looked
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses.
		fields := bytes.Fields(stat[bytes.LastIndexByte(stat, ')')+1:])
		if len(fields) >= 3 && bytes.Equal(fields[2], want) && !bytes.Equal(fields[0], []byte("Z")) {
			return true
		}
	}
	return false
}
