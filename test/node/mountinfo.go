package node

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strings"
)

// mount is one line of a process's /proc/<pid>/mountinfo.
type mount struct {
	point   string   // where it is mounted (octal escapes left as they are: the node's paths have none)
	options []string // per-mount options, "ro" or "rw" first
	fsType  string
	// superOptions are the filesystem's options (a cgroup v1 hierarchy's
	// controllers among them).
	superOptions []string
}

// mountsOf reads /proc/<pid>/mountinfo; pid "self" for this process.
// Its lines are: ID parent major:minor root mountpoint options [optional
// fields...] - fstype source superoptions.
func mountsOf(pid string) ([]mount, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%s/mountinfo", pid))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []mount
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		sep := slices.Index(fields, "-")
		if len(fields) < 6 || sep < 6 || sep+1 >= len(fields) {
			continue
		}
		m := mount{point: fields[4], options: strings.Split(fields[5], ","), fsType: fields[sep+1]}
		// fstype source superoptions; an empty source leaves one field
		// fewer, and the super options are always last.
		if len(fields) > sep+2 {
			m.superOptions = strings.Split(fields[len(fields)-1], ",")
		}
		out = append(out, m)
	}
	return out, s.Err()
}
