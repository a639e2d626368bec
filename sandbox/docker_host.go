package sandbox

// The Docker backend's view of a container from the engine's host, when
// pysmoke runs there: the container's cgroups under /sys/fs/cgroup. After
// a step, the sweep (an exec in the container, about 170 ms of engine
// round trips) is needed only when the step left a process behind; the
// cgroup lists the container's processes and keeps its memory and pids
// counters, so one look from outside tells whether the sweep can be
// skipped, without any trust in what ran inside. Without such a view (a
// remote engine, another cgroup namespace, no permission) every step is
// swept from inside, as before.

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

type dockerHostView struct {
	// procs is the cgroup.procs file listing the container's processes.
	procs string
	// files hold the counters sweepScript prints, by the name it prints
	// them under (oom_kill, pids_max, peak).
	oomFile, pidsEventsFile, peakFile string
	// keeperUID is the host uid of the container's init and keep-alive:
	// any other process in the container is a step's.
	keeperUID string
}

// newDockerHostView finds the cgroups of the container whose init has host
// pid pid; nil when they cannot be read from here.
func newDockerHostView(pid int) *dockerHostView {
	if pid <= 0 {
		return nil
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return nil
	}
	keeper := procUID(pid)
	if keeper == "" {
		return nil
	}
	var v dockerHostView
	paths := map[string]string{} // controller -> path
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(l, ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			paths[c] = parts[2]
		}
	}
	const root = "/sys/fs/cgroup"
	if _, err := os.Stat(filepath.Join(root, "cgroup.controllers")); err == nil {
		p, ok := paths[""]
		if !ok {
			return nil
		}
		dir := filepath.Join(root, p)
		v = dockerHostView{procs: filepath.Join(dir, "cgroup.procs"), oomFile: filepath.Join(dir, "memory.events"),
			pidsEventsFile: filepath.Join(dir, "pids.events"), peakFile: filepath.Join(dir, "memory.peak")}
	} else {
		pp, ok1 := paths["pids"]
		mp, ok2 := paths["memory"]
		if !ok1 || !ok2 {
			return nil
		}
		pids, mem := filepath.Join(root, "pids", pp), filepath.Join(root, "memory", mp)
		v = dockerHostView{procs: filepath.Join(pids, "cgroup.procs"), oomFile: filepath.Join(mem, "memory.oom_control"),
			pidsEventsFile: filepath.Join(pids, "pids.events"), peakFile: filepath.Join(mem, "memory.max_usage_in_bytes")}
	}
	v.keeperUID = keeper
	// The view is right only if it sees the init where it should be (the
	// same cgroup namespace as the engine's) and can read every counter.
	pids, err := v.pids()
	if err != nil || !slices.Contains(pids, pid) {
		return nil
	}
	for _, f := range []string{v.oomFile, v.pidsEventsFile, v.peakFile} {
		if _, err := os.Stat(f); err != nil {
			return nil
		}
	}
	return &v
}

func (v *dockerHostView) pids() ([]int, error) {
	b, err := os.ReadFile(v.procs)
	if err != nil {
		return nil, err
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out, nil
}

// clean reports whether only the container's own keepers are left in it.
// A process it cannot account for (a zombie not reaped yet, one that ends
// while it looks) counts as left: the sweep then runs, which costs time,
// never safety.
func (v *dockerHostView) clean() bool {
	pids, err := v.pids()
	if err != nil {
		return false
	}
	for _, p := range pids {
		if procUID(p) != v.keeperUID {
			return false
		}
	}
	return true
}

// stats reads the counters the sweep prints, from the host's side.
func (v *dockerHostView) stats() sweepStats {
	return sweepStats{oomKills: readKey(v.oomFile, "oom_kill"), pidsMax: readKey(v.pidsEventsFile, "max"), peak: readInt(v.peakFile)}
}

// procUID is the real uid of host process pid, "" when it is gone.
func procUID(pid int) string {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "Uid:"); ok {
			if fs := strings.Fields(rest); len(fs) > 0 {
				return fs[0]
			}
		}
	}
	return ""
}
