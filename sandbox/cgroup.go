package sandbox

// Control groups for the namespace backend: each step runs in a group of
// its own, entered before the step's first process can fork and emptied
// when Exec returns, so that its memory, pids and CPU limits hold for the
// whole process tree and ending the step means ending the group. Both
// hierarchies are supported: cgroup v2 (cgroup.kill, memory.events) where
// the machine has it, cgroup v1 (the freezer, memory.oom_control) where it
// has only that.
//
// Groups are pooled (groupPool): an emptied group is reset (its peak and
// its event counts taken afresh) and kept for the next step of any
// sandbox, instead of being removed. A removed memory group lingers in the
// kernel as long as pages or dentries stay charged to it, and on cgroup v1
// hundreds of lingering groups slowed every later step: a service that
// runs for weeks must not grow them with every job. The pool holds as many
// groups as steps ever ran (or waited to run) at once.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// cgroupDriver makes one control group per step.
type cgroupDriver interface {
	// Version is 1 or 2.
	Version() int
	// Check returns nil when every limit of Limits can be enforced, else
	// what is missing.
	Check() error
	// New makes an empty group with the limits set.
	New(name string, lim Limits) (stepCgroup, error)
	// Parents are the folders the groups are made in (one per v1
	// controller, one on v2).
	Parents() []string
	// Adopt returns the existing group name (one another process made),
	// to end and remove what it holds.
	Adopt(name string) stepCgroup
}

// stepCgroup is one step's group.
type stepCgroup interface {
	// Add moves a process (and so its future children) into the group.
	Add(pid int) error
	// Kill ends every process in the group and waits until it is empty.
	Kill() error
	// Empty reports whether no process is left.
	Empty() bool
	// OOMKills is how many processes the OOM killer ended in the group.
	OOMKills() int64
	// MemoryPeak is the group's peak memory use (0 when unknown).
	MemoryPeak() int64
	// PidsRefused reports whether a fork failed on the pids limit.
	PidsRefused() bool
	// Reset readies an empty group for another step: its limits set to
	// lim, its peak and its event counts (OOM kills, refused forks) taken
	// afresh. An error means the group cannot be reused (it is then
	// removed).
	Reset(lim Limits) error
	// Remove removes the (empty) group.
	Remove() error
	// Path names the group (its folder; on v1 the freezer's).
	Path() string
}

// groupPool hands out step groups, reusing emptied ones. Safe for
// concurrent use.
type groupPool struct {
	d     cgroupDriver
	mu    sync.Mutex
	idle  []stepCgroup
	out   map[stepCgroup]bool // handed out, not given back yet
	made  int                 // groups made, pooled or not, still existing
	swept bool
}

var (
	poolsMu sync.Mutex
	pools   = map[string]*groupPool{} // by the driver's parent folders
	// groupSeq numbers the groups of this process, whichever pool makes
	// them.
	groupSeq atomic.Int64
)

// poolFor returns the process's pool of groups in d's folders: one for
// every backend made on the same hierarchy.
func poolFor(d cgroupDriver) *groupPool {
	key := strings.Join(d.Parents(), "\x00")
	poolsMu.Lock()
	defer poolsMu.Unlock()
	p, ok := pools[key]
	if !ok {
		p = &groupPool{d: d, out: map[stepCgroup]bool{}}
		pools[key] = p
	}
	return p
}

// get returns an empty group with the limits set.
func (p *groupPool) get(lim Limits) (stepCgroup, error) {
	p.mu.Lock()
	if !p.swept {
		p.swept = true
		sweepGroups(p.d)
	}
	for len(p.idle) > 0 {
		g := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if err := g.Reset(lim); err != nil {
			g.Remove()
			p.made--
			continue
		}
		p.out[g] = true
		p.mu.Unlock()
		return g, nil
	}
	name := fmt.Sprintf("step-%d-%d", os.Getpid(), groupSeq.Add(1))
	p.mu.Unlock()
	g, err := p.d.New(name, lim)
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	if err := g.Reset(lim); err != nil {
		g.Remove()
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	p.mu.Lock()
	p.out[g] = true
	p.made++
	p.mu.Unlock()
	return g, nil
}

// put gives back a group whose step has ended: killed and empty, it is
// kept for the next step; a group that could not be emptied is removed
// (and left to the kernel if it cannot be).
func (p *groupPool) put(g stepCgroup) {
	err := g.Kill()
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.out, g)
	if err != nil || !g.Empty() {
		g.Remove()
		p.made--
		return
	}
	p.idle = append(p.idle, g)
}

// release removes the idle groups (a group still handed out stays: its
// step has not ended).
func (p *groupPool) release() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	for _, g := range p.idle {
		if err := g.Remove(); err != nil {
			errs = append(errs, err)
		}
		p.made--
	}
	p.idle = nil
	return errors.Join(errs...)
}

// ReleaseCgroups removes the step groups this process keeps for reuse: a
// service calls it as it stops, once no step runs, so that it leaves no
// group behind.
func ReleaseCgroups() error {
	poolsMu.Lock()
	defer poolsMu.Unlock()
	var errs []error
	for _, p := range pools {
		if err := p.release(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// leftovers names the groups handed out, and the idle ones that hold a
// process (none should).
func (p *groupPool) leftovers() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var left []string
	for g := range p.out {
		left = append(left, g.Path()+" (handed out)")
	}
	for _, g := range p.idle {
		if !g.Empty() {
			left = append(left, g.Path()+" (idle, holding processes)")
		}
	}
	sort.Strings(left)
	return left
}

// size is how many groups the pool has made that still exist.
func (p *groupPool) size() int { p.mu.Lock(); defer p.mu.Unlock(); return p.made }

// sweepGroups ends and removes the step groups of processes that are gone:
// a service killed with SIGKILL leaves its pool behind, and a step it was
// ending may still hold processes, frozen ones included (a frozen process
// takes no SIGKILL: those trees would stay, in state D, forever). Each
// such group is frozen, its processes killed, thawed and removed.
func sweepGroups(d cgroupDriver) {
	seen := map[string]bool{}
	for _, parent := range d.Parents() {
		dirs, _ := filepath.Glob(filepath.Join(parent, "step-*-*"))
		for _, dir := range dirs {
			name := filepath.Base(dir)
			var pid, n int
			if _, err := fmt.Sscanf(name, "step-%d-%d", &pid, &n); err != nil || pid == os.Getpid() || seen[name] {
				continue
			}
			seen[name] = true
			if syscall.Kill(pid, 0) == nil {
				continue // its service still runs
			}
			g := d.Adopt(name)
			if !g.Empty() {
				g.Kill()
			}
			g.Remove()
		}
	}
}

// SweepCgroups ends and removes what dead services left in the step
// groups (sweepGroups), at once: a service calls it at start, before it
// takes new jobs (a pool sweeps too, when it first makes a group).
func SweepCgroups() error {
	d, err := detectCgroups()
	if err != nil {
		return err
	}
	sweepGroups(d)
	return nil
}

// cgroupMount is where the hierarchies are mounted; tests change it.
const cgroupMount = "/sys/fs/cgroup"

// detectCgroups returns the driver for this machine: v2 when
// /sys/fs/cgroup is a cgroup v2 mount (the unified mode of current
// distributions), else v1 when its controllers are mounted.
func detectCgroups() (cgroupDriver, error) {
	if _, err := os.Stat(filepath.Join(cgroupMount, "cgroup.controllers")); err == nil {
		return newCgroupV2(cgroupMount)
	}
	if _, err := os.Stat(filepath.Join(cgroupMount, "memory", "memory.limit_in_bytes")); err == nil {
		return newCgroupV1(cgroupMount)
	}
	return nil, fmt.Errorf("no cgroup hierarchy under %s (mount cgroup2 there, or the v1 memory, pids, cpu and freezer controllers)", cgroupMount)
}

// ownCgroups reads /proc/self/cgroup: controller (or "" for v2) -> path.
func ownCgroups() (map[string]string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	own := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[1] == "" {
			own[""] = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			own[c] = parts[2]
		}
	}
	return own, nil
}

func writeFile(p, v string) error {
	if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
		return fmt.Errorf("cgroup: write %q to %s: %w", v, p, err)
	}
	return nil
}

func readInt(p string) int64 {
	b, err := os.ReadFile(p)
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return n
}

// readKey reads "key value" lines (memory.events, memory.oom_control).
func readKey(p, key string) int64 {
	b, err := os.ReadFile(p)
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, " "); ok && k == key {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}

func procsOf(dir string) []int {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			pids = append(pids, n)
		}
	}
	return pids
}

// waitEmpty polls dir's cgroup.procs until it is empty.
func waitEmpty(dir string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for len(procsOf(dir)) > 0 {
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroup: %s still holds processes %v after %s", dir, procsOf(dir), d)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

// rmdir removes a group, retrying while the kernel finishes tearing its
// last processes down.
func rmdir(dir string) error {
	var err error
	for i := 0; i < 100; i++ {
		err = syscall.Rmdir(dir)
		if err == nil || errors.Is(err, syscall.ENOENT) {
			return nil
		}
		if !errors.Is(err, syscall.EBUSY) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("cgroup: remove %s: %w", dir, err)
}

func cpuQuota(cpus float64) (quota, period int64) {
	period = 100000
	return int64(cpus * float64(period)), period
}

func dirExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
