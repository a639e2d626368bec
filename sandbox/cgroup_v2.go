package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cgroupV2 makes step groups under <the service's group>/pysmoke on the
// unified hierarchy. A service that is not root needs that subtree
// delegated to it (systemd's Delegate=yes). cgroup v2 lets no group both
// hold processes and hand controllers to children, so when the service's
// own group holds processes the service first moves itself into a
// "service" leaf beside the steps' parent.
type cgroupV2 struct {
	parent  string
	missing []string
}

var v2Controllers = []string{"memory", "pids", "cpu"}

func newCgroupV2(mount string) (*cgroupV2, error) {
	own, err := ownCgroups()
	if err != nil {
		return nil, fmt.Errorf("cgroup v2: %w", err)
	}
	base := filepath.Join(mount, own[""])
	if _, err := os.Stat(filepath.Join(base, "cgroup.procs")); err != nil {
		// Not our hierarchy's view (a hybrid machine's unified mount):
		// work at its root.
		base = mount
	}
	avail := strings.Fields(readString(filepath.Join(base, "cgroup.controllers")))
	var enable, missing []string
	for _, c := range v2Controllers {
		if slices.Contains(avail, c) {
			enable = append(enable, "+"+c)
		} else {
			missing = append(missing, c)
		}
	}
	if len(enable) > 0 {
		err := writeFile(filepath.Join(base, "cgroup.subtree_control"), strings.Join(enable, " "))
		if errors.Is(err, syscall.EBUSY) && base != mount {
			leaf := filepath.Join(base, "service")
			if err := os.MkdirAll(leaf, 0o755); err != nil {
				return nil, fmt.Errorf("cgroup v2: %w", err)
			}
			for _, pid := range procsOf(base) {
				writeFile(filepath.Join(leaf, "cgroup.procs"), fmt.Sprint(pid))
			}
			err = writeFile(filepath.Join(base, "cgroup.subtree_control"), strings.Join(enable, " "))
		}
		if err != nil {
			return nil, fmt.Errorf("%w (the service needs root, or a delegated cgroup v2 subtree)", err)
		}
	}
	parent := filepath.Join(base, "pysmoke")
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("cgroup v2: %w (the service needs root, or a delegated cgroup v2 subtree)", err)
	}
	if len(enable) > 0 {
		if err := writeFile(filepath.Join(parent, "cgroup.subtree_control"), strings.Join(enable, " ")); err != nil {
			return nil, err
		}
	}
	if _, err := os.Stat(filepath.Join(parent, "cgroup.freeze")); err != nil {
		return nil, fmt.Errorf("cgroup v2 at %s has no cgroup.freeze (Linux 5.2 or later needed)", mount)
	}
	return &cgroupV2{parent: parent, missing: missing}, nil
}

func readString(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

func (d *cgroupV2) Version() int { return 2 }

func (d *cgroupV2) Check() error {
	if len(d.missing) > 0 {
		return fmt.Errorf("cgroup v2 controllers not available to pysmoke's group: %s", strings.Join(d.missing, ", "))
	}
	return nil
}

func (d *cgroupV2) Parents() []string { return []string{d.parent} }

func (d *cgroupV2) New(name string, lim Limits) (stepCgroup, error) {
	g := &v2Group{dir: filepath.Join(d.parent, name), fresh: true}
	if err := os.Mkdir(g.dir, 0o755); err != nil {
		return nil, fmt.Errorf("cgroup v2: %w", err)
	}
	if err := g.configure(lim); err != nil {
		g.Remove()
		return nil, err
	}
	return g, nil
}

func (d *cgroupV2) Adopt(name string) stepCgroup {
	return &v2Group{dir: filepath.Join(d.parent, name)}
}

// configure sets the group's limits.
func (g *v2Group) configure(lim Limits) error {
	quota, period := cpuQuota(lim.CPUs)
	for _, w := range [][2]string{
		{"memory.max", fmt.Sprint(lim.Memory)},
		{"memory.swap.max", "0"},
		{"pids.max", fmt.Sprint(lim.Pids)},
		{"cpu.max", fmt.Sprintf("%d %d", quota, period)},
	} {
		p := filepath.Join(g.dir, w[0])
		if _, err := os.Stat(p); err != nil {
			continue // controller not available: Check says so
		}
		if err := writeFile(p, w[1]); err != nil {
			return err
		}
	}
	return nil
}

type v2Group struct {
	dir   string
	fresh bool // never reset: its peak and counts start from nothing
	// peak is memory.peak opened and reset (Linux 6.12): reading this
	// descriptor gives the peak since the reset, not since the group was
	// made.
	peak *os.File
	// Counts at the last Reset: the group's events are the growth since.
	oomBase, pidsBase int64
}

// Reset implements stepCgroup. A used group's peak can be reset only on
// Linux 6.12 and later (writing to memory.peak); before that it cannot be
// reused, and the pool makes a fresh one instead.
func (g *v2Group) Reset(lim Limits) error {
	if err := g.configure(lim); err != nil {
		return err
	}
	g.oomBase = readKey(filepath.Join(g.dir, "memory.events"), "oom_kill")
	g.pidsBase = readKey(filepath.Join(g.dir, "pids.events"), "max")
	if g.fresh {
		g.fresh = false
		return nil
	}
	if g.peak != nil {
		g.peak.Close()
		g.peak = nil
	}
	f, err := os.OpenFile(filepath.Join(g.dir, "memory.peak"), os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("cgroup v2: memory.peak: %w", err)
	}
	if _, err := f.WriteString("reset\n"); err != nil {
		f.Close()
		return fmt.Errorf("cgroup v2: memory.peak cannot be reset (Linux 6.12 or later): %w", err)
	}
	g.peak = f
	return nil
}

func (g *v2Group) Add(pid int) error {
	return writeFile(filepath.Join(g.dir, "cgroup.procs"), fmt.Sprint(pid))
}

// Kill writes cgroup.kill (Linux 5.14), which kills every process of the
// group at once; before 5.14, freeze, kill each, thaw.
func (g *v2Group) Kill() error {
	if _, err := os.Stat(filepath.Join(g.dir, "cgroup.kill")); err == nil {
		if err := writeFile(filepath.Join(g.dir, "cgroup.kill"), "1"); err != nil {
			return err
		}
		return waitEmpty(g.dir, 5*time.Second)
	}
	return g.freezeKill()
}

// freezeKill is Kill without cgroup.kill: freeze, kill each, thaw.
func (g *v2Group) freezeKill() error {
	if err := writeFile(filepath.Join(g.dir, "cgroup.freeze"), "1"); err != nil {
		return err
	}
	deadline := time.Now().Add(2 * time.Second)
	for readKey(filepath.Join(g.dir, "cgroup.events"), "frozen") != 1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	for _, pid := range procsOf(g.dir) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	if err := writeFile(filepath.Join(g.dir, "cgroup.freeze"), "0"); err != nil {
		return err
	}
	return waitEmpty(g.dir, 5*time.Second)
}

func (g *v2Group) Path() string { return g.dir }

func (g *v2Group) Empty() bool { return len(procsOf(g.dir)) == 0 }

func (g *v2Group) OOMKills() int64 {
	return readKey(filepath.Join(g.dir, "memory.events"), "oom_kill") - g.oomBase
}

func (g *v2Group) MemoryPeak() int64 {
	if g.peak == nil {
		return readInt(filepath.Join(g.dir, "memory.peak"))
	}
	b := make([]byte, 32)
	n, _ := g.peak.ReadAt(b, 0)
	v, _ := strconv.ParseInt(strings.TrimSpace(string(b[:n])), 10, 64)
	return v
}

func (g *v2Group) PidsRefused() bool {
	return readKey(filepath.Join(g.dir, "pids.events"), "max") > g.pidsBase
}

func (g *v2Group) Remove() error {
	if g.peak != nil {
		g.peak.Close()
		g.peak = nil
	}
	return rmdir(g.dir)
}
