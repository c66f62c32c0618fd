package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// The kubelet sets a few machine-wide kernel settings at start (it can only
// modify them or refuse to start, never leave them alone): overcommit,
// panic on oops, reboot 10 s after a panic, the root keyring's quotas. They
// are not per network namespace, so a test node changes the machine. The
// first node to start saves the machine's values, and the last one to stop
// puts them back; nodes of several test packages at once, and nodes whose
// test binary was killed, are accounted for by an owner file per node
// holding its process ID.
var kubeletSysctls = []string{
	"vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops",
	"kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes",
}

// sysctlState is where the saved values and the owners are; /run is cleared
// at boot, as the settings are.
var sysctlState = "/run/blue-node"

func readSysctls() (map[string]string, error) {
	vals := map[string]string{}
	for _, k := range kubeletSysctls {
		b, err := os.ReadFile(filepath.Join("/proc/sys", k))
		if err != nil {
			return nil, err
		}
		vals[k] = strings.TrimSpace(string(b))
	}
	return vals, nil
}

// withSysctlLock runs f holding the machine-wide lock, after forgetting
// owners whose process is gone.
func withSysctlLock(f func() error) error {
	if err := os.MkdirAll(filepath.Join(sysctlState, "owners"), 0o700); err != nil {
		return err
	}
	lock, err := os.OpenFile(filepath.Join(sysctlState, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	defer func() { _ = syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) }()
	owners, _ := os.ReadDir(filepath.Join(sysctlState, "owners"))
	for _, o := range owners {
		p := filepath.Join(sysctlState, "owners", o.Name())
		b, err := os.ReadFile(p)
		pid, perr := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || perr != nil || syscall.Kill(pid, 0) == syscall.ESRCH {
			_ = os.Remove(p)
		}
	}
	return f()
}

// holdSysctls records node as an owner, saving the machine's values if it
// is the first.
func holdSysctls(node string) error {
	return withSysctlLock(func() error {
		saved := filepath.Join(sysctlState, "saved.json")
		if _, err := os.Stat(saved); errors.Is(err, fs.ErrNotExist) {
			vals, err := readSysctls()
			if err != nil {
				return err
			}
			b, _ := json.Marshal(vals)
			if err := os.WriteFile(saved, b, 0o600); err != nil {
				return err
			}
		}
		return os.WriteFile(filepath.Join(sysctlState, "owners", node), []byte(strconv.Itoa(os.Getpid())), 0o600)
	})
}

// releaseSysctls drops node as an owner and, when no node is left, puts
// the machine's values back.
func releaseSysctls(node string) error {
	return withSysctlLock(func() error {
		_ = os.Remove(filepath.Join(sysctlState, "owners", node))
		if owners, _ := os.ReadDir(filepath.Join(sysctlState, "owners")); len(owners) > 0 {
			return nil
		}
		saved := filepath.Join(sysctlState, "saved.json")
		b, err := os.ReadFile(saved)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		var vals map[string]string
		if err := json.Unmarshal(b, &vals); err != nil {
			return fmt.Errorf("saved kernel settings: %w", err)
		}
		for k, v := range vals {
			if err := os.WriteFile(filepath.Join("/proc/sys", k), []byte(v), 0o644); err != nil {
				return fmt.Errorf("restore %s: %w", k, err)
			}
		}
		return os.Remove(saved)
	})
}

// sysctlLeftovers says what of the kernel settings' accounting a stopped
// node left: its owner file, or, with no owner left, saved values not put
// back.
func sysctlLeftovers(node string) []string {
	var left []string
	if _, err := os.Stat(filepath.Join(sysctlState, "owners", node)); err == nil {
		left = append(left, "kernel settings still held by "+node)
	}
	owners, _ := os.ReadDir(filepath.Join(sysctlState, "owners"))
	if _, err := os.Stat(filepath.Join(sysctlState, "saved.json")); err == nil && len(owners) == 0 {
		left = append(left, "kernel settings changed by the kubelet not restored")
	}
	return left
}
