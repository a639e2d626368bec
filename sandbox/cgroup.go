package sandbox

// Control groups for the namespace backend: one group per step, made
// before the step's first process can fork and removed when Exec returns,
// so that its memory, pids and CPU limits hold for the whole process tree
// and ending the step means ending the group. Both hierarchies are
// supported: cgroup v2 (cgroup.kill, memory.events) where the machine has
// it, cgroup v1 (the freezer, memory.oom_control) where it has only that.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
	// Remove removes the (empty) group.
	Remove() error
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
