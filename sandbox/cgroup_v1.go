package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// cgroupV1 makes step groups in each v1 controller it needs, under the
// service's own group of that controller: memory, pids and cpu for the
// limits, freezer to end a step without racing its forks.
type cgroupV1 struct {
	parents map[string]string // controller -> the service's own group + "/pysmoke"
	missing []string
}

var v1Controllers = []string{"memory", "pids", "cpu", "freezer"}

func newCgroupV1(mount string) (*cgroupV1, error) {
	own, err := ownCgroups()
	if err != nil {
		return nil, fmt.Errorf("cgroup v1: %w", err)
	}
	d := &cgroupV1{parents: map[string]string{}}
	for _, c := range v1Controllers {
		base := filepath.Join(mount, c)
		if _, err := os.Stat(filepath.Join(base, "cgroup.procs")); err != nil {
			d.missing = append(d.missing, c)
			continue
		}
		p := filepath.Join(base, own[c], "pysmoke")
		if err := os.MkdirAll(p, 0o755); err != nil {
			return nil, fmt.Errorf("cgroup v1: %w (the service needs root, or write access to its own %s group)", err, c)
		}
		d.parents[c] = p
	}
	if _, ok := d.parents["freezer"]; !ok {
		return nil, fmt.Errorf("cgroup v1: no freezer controller under %s: a step could not be ended without racing its forks", mount)
	}
	return d, nil
}

func (d *cgroupV1) Version() int { return 1 }

func (d *cgroupV1) Check() error {
	if len(d.missing) > 0 {
		return fmt.Errorf("cgroup v1 controllers not mounted: %s", strings.Join(d.missing, ", "))
	}
	return nil
}

func (d *cgroupV1) Parents() []string {
	var out []string
	for _, p := range d.parents {
		out = append(out, p)
	}
	return out
}

func (d *cgroupV1) New(name string, lim Limits) (stepCgroup, error) {
	g := &v1Group{dirs: map[string]string{}}
	for c, p := range d.parents {
		dir := filepath.Join(p, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			g.Remove()
			return nil, fmt.Errorf("cgroup v1: %w", err)
		}
		g.dirs[c] = dir
	}
	if err := g.configure(lim); err != nil {
		g.Remove()
		return nil, err
	}
	return g, nil
}

func (d *cgroupV1) Adopt(name string) stepCgroup {
	g := &v1Group{dirs: map[string]string{}}
	for c, p := range d.parents {
		if dir := filepath.Join(p, name); dirExists(dir) {
			g.dirs[c] = dir
		}
	}
	return g
}

// configure sets the group's limits.
func (g *v1Group) configure(lim Limits) error {
	set := func(c, file, v string) error {
		if dir, ok := g.dirs[c]; ok {
			return writeFile(filepath.Join(dir, file), v)
		}
		return nil
	}
	quota, period := cpuQuota(lim.CPUs)
	// No swap either: memory+swap capped at the same figure, where the
	// kernel accounts swap. memsw must never be below the memory limit,
	// so which is written first depends on whether the limit grows.
	memsw := ""
	if dir, ok := g.dirs["memory"]; ok {
		if _, err := os.Stat(filepath.Join(dir, "memory.memsw.limit_in_bytes")); err == nil {
			memsw = "memory.memsw.limit_in_bytes"
		}
	}
	writes := [][3]string{
		{"memory", "memory.limit_in_bytes", fmt.Sprint(lim.Memory)},
		{"pids", "pids.max", fmt.Sprint(lim.Pids)},
		{"cpu", "cpu.cfs_period_us", fmt.Sprint(period)},
		{"cpu", "cpu.cfs_quota_us", fmt.Sprint(quota)},
	}
	if memsw != "" {
		sw := [3]string{"memory", memsw, fmt.Sprint(lim.Memory)}
		if dir := g.dirs["memory"]; readInt(filepath.Join(dir, "memory.limit_in_bytes")) < lim.Memory {
			writes = append([][3]string{sw}, writes...) // raise memsw first
		} else {
			writes = append(writes, sw)
		}
	}
	for _, w := range writes {
		if err := set(w[0], w[1], w[2]); err != nil {
			return err
		}
	}
	return nil
}

type v1Group struct {
	dirs map[string]string
	// Counts at the last Reset: the group's events are the growth since.
	oomBase  int64
	pidsBase int64
}

// Reset implements stepCgroup: max_usage_in_bytes is reset by writing 0.
func (g *v1Group) Reset(lim Limits) error {
	if err := g.configure(lim); err != nil {
		return err
	}
	if dir, ok := g.dirs["memory"]; ok {
		if err := writeFile(filepath.Join(dir, "memory.max_usage_in_bytes"), "0"); err != nil {
			return err
		}
		g.oomBase = readKey(filepath.Join(dir, "memory.oom_control"), "oom_kill")
	}
	if dir, ok := g.dirs["pids"]; ok {
		g.pidsBase = readKey(filepath.Join(dir, "pids.events"), "max")
	}
	return nil
}

func (g *v1Group) Add(pid int) error {
	for _, dir := range g.dirs {
		if err := writeFile(filepath.Join(dir, "cgroup.procs"), fmt.Sprint(pid)); err != nil {
			return err
		}
	}
	return nil
}

// Kill freezes the group, so that nothing in it can fork, kills every
// process, thaws it so that the kills are delivered, and waits for it to
// empty.
func (g *v1Group) Kill() error {
	fz, ok := g.dirs["freezer"]
	if !ok {
		// Never write "freezer.state" relative to the working folder.
		return fmt.Errorf("cgroup v1: group has no freezer")
	}
	state := filepath.Join(fz, "freezer.state")
	if err := writeFile(state, "FROZEN"); err != nil {
		return err
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		b, _ := os.ReadFile(state)
		if strings.TrimSpace(string(b)) == "FROZEN" || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	for _, pid := range procsOf(fz) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	if err := writeFile(state, "THAWED"); err != nil {
		return err
	}
	return waitEmpty(fz, 5*time.Second)
}

func (g *v1Group) Path() string { return g.dirs["freezer"] }

func (g *v1Group) Empty() bool { return len(procsOf(g.dirs["freezer"])) == 0 }

func (g *v1Group) OOMKills() int64 {
	if dir, ok := g.dirs["memory"]; ok {
		return readKey(filepath.Join(dir, "memory.oom_control"), "oom_kill") - g.oomBase
	}
	return 0
}

func (g *v1Group) MemoryPeak() int64 {
	if dir, ok := g.dirs["memory"]; ok {
		return readInt(filepath.Join(dir, "memory.max_usage_in_bytes"))
	}
	return 0
}

func (g *v1Group) PidsRefused() bool {
	if dir, ok := g.dirs["pids"]; ok {
		return readKey(filepath.Join(dir, "pids.events"), "max") > g.pidsBase
	}
	return false
}

func (g *v1Group) Remove() error {
	var first error
	for _, dir := range g.dirs {
		if err := rmdir(dir); err != nil && first == nil {
			first = err
		}
	}
	return first
}
