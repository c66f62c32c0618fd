package node

import (
	"strings"
	"testing"
)

func TestLockDownFaults(t *testing.T) {
	locked := Process{
		UID: []string{"65532", "65532", "65532", "65532"}, GID: []string{"65532", "65532", "65532", "65532"},
		NoNewPrivs: true, Seccomp: 2, RootReadOnly: true,
	}
	cases := []struct {
		name   string
		change func(*Process)
		want   string // a fault that names it; "" for none
	}{
		{"locked down", func(*Process) {}, ""},
		{"saved uid root", func(p *Process) { p.UID = []string{"65532", "65532", "0", "65532"} }, "want 65532"},
		{"a gid other", func(p *Process) { p.GID = []string{"65532", "1000", "65532", "65532"} }, "want 65532"},
		{"bounding capabilities", func(p *Process) { p.CapBnd = 1 << 21 }, "capabilities"},
		{"privileges may grow", func(p *Process) { p.NoNewPrivs = false }, "no_new_privs"},
		{"no seccomp", func(p *Process) { p.Seccomp = 0 }, "seccomp"},
		{"writable root", func(p *Process) { p.RootReadOnly = false }, "writable"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := locked
			p.UID, p.GID = append([]string(nil), locked.UID...), append([]string(nil), locked.GID...)
			c.change(&p)
			got := p.LockDownFaults()
			switch {
			case c.want == "" && len(got) != 0:
				t.Errorf("faults %q, want none", got)
			case c.want != "" && (len(got) != 1 || !strings.Contains(got[0], c.want)):
				t.Errorf("faults %q, want one naming %q", got, c.want)
			}
		})
	}
}
