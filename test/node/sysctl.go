package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// The kubelet sets a few machine-wide kernel settings at start (it can only
// modify them or refuse to start, never leave them alone): overcommit,
// panic on oops, reboot 10 s after a panic, the root keyring's quotas. They
// are not per network namespace, so a test node changes the machine: the
// first node to be claimed saves the machine's values, and the last one
// released puts them back (registry.go).
var kubeletSysctls = []string{
	"vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops",
	"kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes",
}

func savedSysctlsPath() string { return filepath.Join(registryDir, "saved-sysctls.json") }

// saveSysctlsIfFirst saves the machine's values unless a node already did.
// Called under the registry's lock.
func saveSysctlsIfFirst() error {
	if _, err := os.Stat(savedSysctlsPath()); !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	vals := map[string]string{}
	for _, k := range kubeletSysctls {
		b, err := os.ReadFile(filepath.Join("/proc/sys", k))
		if err != nil {
			return fmt.Errorf("kernel setting %s: %w", k, err)
		}
		vals[k] = strings.TrimSpace(string(b))
	}
	b, _ := json.Marshal(vals)
	return os.WriteFile(savedSysctlsPath(), b, 0o600)
}

// restoreSysctls puts the saved values back. Called under the registry's
// lock when no node is left.
func restoreSysctls() error {
	b, err := os.ReadFile(savedSysctlsPath())
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
			return fmt.Errorf("restore kernel setting %s: %w", k, err)
		}
	}
	return os.Remove(savedSysctlsPath())
}

// registryLeftovers says what of a stopped node the registry still holds:
// its owner file, or, with no node left, kernel settings not put back.
func registryLeftovers(node string) []string {
	var left []string
	if _, err := os.Stat(ownerPath(node)); err == nil {
		left = append(left, "registry entry "+ownerPath(node))
	}
	owners, _ := os.ReadDir(filepath.Join(registryDir, "owners"))
	if _, err := os.Stat(savedSysctlsPath()); err == nil && len(owners) == 0 {
		left = append(left, "kernel settings the kubelet changed, not restored")
	}
	return left
}
