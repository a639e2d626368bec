package sandbox

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pysmoke/pysmoke/internal/testenv"
)

// requireCgroupV1 and requireCgroupV2 return the drivers of this machine's
// hierarchies: cgroup v1 controllers, and the v2 hierarchy, mounted at
// /sys/fs/cgroup itself or (on a hybrid machine like CI's) at
// /sys/fs/cgroup/unified.
func requireCgroupV1(t *testing.T) *cgroupV1 {
	t.Helper()
	d, err := newCgroupV1(cgroupMount)
	testenv.Require(t, "cgroup v1", err)
	return d
}

func requireCgroupV2(t *testing.T) *cgroupV2 {
	t.Helper()
	mount := cgroupMount
	if _, err := os.Stat(filepath.Join(mount, "cgroup.controllers")); err != nil {
		mount = filepath.Join(cgroupMount, "unified")
	}
	d, err := newCgroupV2(mount)
	testenv.Require(t, "cgroup v2", err)
	return d
}

// gated starts a shell that waits on its stdin, puts it in g, lets it
// run script, and waits until n processes are in the group.
func gated(t *testing.T, g stepCgroup, procs func() int, n int, script string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", `read -r _ && exec /bin/sh -c "$0"`, script)
	w, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if err := g.Add(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("go\n"))
	w.Close()
	deadline := time.Now().Add(5 * time.Second)
	for procs() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d processes in the group; want %d", procs(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return cmd
}

func TestCgroupV1LimitsAndKill(t *testing.T) {
	d := requireCgroupV1(t)
	if err := d.Check(); err != nil {
		t.Errorf("Check: %v", err)
	}
	lim := Limits{Memory: 300 << 20, Pids: 77, CPUs: 0.5}.withDefaults()
	g, err := d.New("test-"+testenv.Marker(t), lim)
	if err != nil {
		t.Fatal(err)
	}
	v1 := g.(*v1Group)
	defer g.Remove()
	for file, want := range map[string]string{
		"memory/memory.limit_in_bytes": "314572800",
		"pids/pids.max":                "77",
		"cpu/cpu.cfs_quota_us":         "50000",
		"cpu/cpu.cfs_period_us":        "100000",
	} {
		ctrl, name, _ := strings.Cut(file, "/")
		b, _ := os.ReadFile(filepath.Join(v1.dirs[ctrl], name))
		if strings.TrimSpace(string(b)) != want {
			t.Errorf("%s = %q; want %s", file, b, want)
		}
	}
	// A process tree that keeps forking: the freezer stops it, then
	// every process dies.
	gated(t, g, func() int { return len(procsOf(v1.dirs["freezer"])) }, 4,
		`sleep 600 & sleep 600 & (while :; do sleep 0.01 & wait; done) & wait`)
	if err := g.Kill(); err != nil {
		t.Fatal(err)
	}
	if !g.Empty() {
		t.Errorf("processes left: %v", procsOf(v1.dirs["freezer"]))
	}
	if err := g.Remove(); err != nil {
		t.Errorf("Remove: %v", err)
	}
	for _, dir := range v1.dirs {
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("%s still exists", dir)
		}
	}
}

func TestCgroupV2KillAndFreeze(t *testing.T) {
	d := requireCgroupV2(t)
	// This machine's v2 hierarchy has no memory, pids or cpu controller:
	// Check must say which are missing, so that auto never picks v2 here.
	if err := d.Check(); err != nil {
		t.Logf("Check: %v", err)
		if !strings.Contains(err.Error(), "memory") {
			t.Errorf("Check: %v; want the missing controllers named", err)
		}
	}
	for _, how := range []string{"cgroup.kill", "freeze"} {
		t.Run(how, func(t *testing.T) {
			g, err := d.New("test-"+testenv.Marker(t), DefaultLimits)
			if err != nil {
				t.Fatal(err)
			}
			v2 := g.(*v2Group)
			defer g.Remove()
			for _, f := range []string{"cgroup.kill", "cgroup.freeze"} {
				if _, err := os.Stat(filepath.Join(v2.dir, f)); err != nil {
					t.Fatalf("%s: %v", f, err)
				}
			}
			gated(t, g, func() int { return len(procsOf(v2.dir)) }, 4,
				`sleep 600 & sleep 600 & (while :; do sleep 0.01 & wait; done) & wait`)
			if how == "freeze" {
				err = v2.freezeKill()
			} else {
				err = g.Kill()
			}
			if err != nil {
				t.Fatal(err)
			}
			if !g.Empty() {
				t.Errorf("processes left: %v", procsOf(v2.dir))
			}
			if err := g.Remove(); err != nil {
				t.Errorf("Remove: %v", err)
			}
		})
	}
}

// TestNamespaceOnCgroupV2 runs steps of the namespace backend on the v2
// driver: a daemon the step leaves is ended with the step's group.
func TestNamespaceOnCgroupV2(t *testing.T) {
	requireNamespace(t)
	d := requireCgroupV2(t)
	n := &Namespace{cgroups: d}
	in := sandboxPython(t)
	sb, err := n.Open(context.Background(), Spec{Scratch: testScratch(t, n), ReadOnly: []string{in.Prefix}})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	marker := testenv.Marker(t)
	res, err := sb.Exec(context.Background(), Command{Argv: []string{in.Path, "-c", daemonPayload, "detach", marker}, Env: []string{"PATH=/usr/bin:/bin"}, Timeout: time.Minute})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("exit %d, %v: %s", res.ExitCode, err, res.Log)
	}
	testenv.NoProcs(t, marker)
	// At most one group: the next step's, made ready in advance.
	if left := n.Leftovers(); len(left) > 1 {
		t.Errorf("step groups left: %v", left)
	}
	res, err = sb.Exec(context.Background(), Command{Argv: []string{"/bin/sh", "-c", "sleep 600", marker}, Env: []string{"PATH=/usr/bin:/bin"}, Timeout: 500 * time.Millisecond})
	if err != nil || !res.TimedOut || res.LimitHit != LimitTimeout {
		t.Errorf("timeout on v2: %+v %v", res, err)
	}
	testenv.NoProcs(t, marker)
	sb.Close()
	if left := n.Leftovers(); len(left) != 0 {
		t.Errorf("step groups left after Close: %v", left)
	}
}

func TestLimitsDefaults(t *testing.T) {
	got := Limits{Memory: 1 << 20}.withDefaults()
	want := DefaultLimits
	want.Memory = 1 << 20
	if got != want {
		t.Errorf("withDefaults = %+v; want %+v", got, want)
	}
}

// TestGroupsAreReused: a sandbox's steps reuse the pool's groups, so that
// however many steps run the process keeps as many groups as ran at once
// (a step and the next one's launch), and each step's peak memory and
// limit events are its own: a 200 MiB step, then a small one, then a step
// the OOM killer ends, then a small one again.
func TestGroupsAreReused(t *testing.T) {
	n := requireNamespace(t)
	in := sandboxPython(t)
	sb, err := n.Open(context.Background(), Spec{Scratch: testScratch(t, n), ReadOnly: []string{in.Prefix}, Limits: Limits{Memory: 256 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	env := []string{"PATH=/usr/bin:/bin"}
	step := func(code string) ExecResult {
		t.Helper()
		res, err := sb.Exec(context.Background(), Command{Argv: []string{in.Path, "-c", code}, Env: env, Timeout: time.Minute})
		if err != nil {
			t.Fatalf("Exec: %v", err)
		}
		return res
	}
	before := n.Groups()
	big := step("b = bytearray(200 << 20); b[::4096] = b'x' * (len(b) // 4096)")
	small := step("pass")
	small2 := step("pass") // in the big step's group again (launches alternate)
	oom := step("b = bytearray(1 << 30); b[::4096] = b'x' * (len(b) // 4096)")
	after := step("pass")
	after2 := step("pass")
	if big.ExitCode != 0 || big.MemoryPeak < 200<<20 {
		t.Errorf("the 200 MiB step: exit %d, peak %d MiB", big.ExitCode, big.MemoryPeak>>20)
	}
	for i, s := range []ExecResult{small, small2} {
		if s.ExitCode != 0 || s.MemoryPeak == 0 || s.MemoryPeak > 100<<20 {
			t.Errorf("small step %d after it: exit %d, peak %d MiB; want its own peak, not an earlier step's", i+1, s.ExitCode, s.MemoryPeak>>20)
		}
	}
	if oom.LimitHit != LimitMemory {
		t.Errorf("the 1 GiB step under 256 MiB: limit %q, exit %d", oom.LimitHit, oom.ExitCode)
	}
	for i, s := range []ExecResult{after, after2} {
		if s.ExitCode != 0 || s.LimitHit != "" {
			t.Errorf("step %d after the OOM kill: exit %d, limit %q; want none of an earlier step's events", i+1, s.ExitCode, s.LimitHit)
		}
	}
	for i := 0; i < 40; i++ {
		if res, err := sb.Exec(context.Background(), Command{Argv: []string{"/bin/true"}, Env: env, Timeout: time.Minute}); err != nil || res.ExitCode != 0 {
			t.Fatalf("step %d: %v %+v", i, err, res)
		}
	}
	// The groups this test made: a step's and the next launch's.
	if made := n.Groups() - before; made > 2 {
		t.Errorf("46 steps made %d new groups; want at most 2, reused", made)
	}
}

// A service killed while it ended a step leaves the step's group frozen
// with its processes in it: the sweep of the next service kills them and
// removes the group; a live service's group is left alone. On v1 (a
// frozen process takes no SIGKILL until thawed) and on v2.
func TestSweepEndsFrozenGroupsOfDeadServices(t *testing.T) {
	t.Run("v1", func(t *testing.T) {
		d := requireCgroupV1(t)
		checkSweep(t, d, func(g stepCgroup) []string { return slices.Collect(maps.Values(g.(*v1Group).dirs)) },
			func(g stepCgroup) error { return writeFile(filepath.Join(g.Path(), "freezer.state"), "FROZEN") })
	})
	t.Run("v2", func(t *testing.T) {
		d := requireCgroupV2(t)
		checkSweep(t, d, func(g stepCgroup) []string { return []string{g.Path()} },
			func(g stepCgroup) error { return writeFile(filepath.Join(g.Path(), "cgroup.freeze"), "1") })
	})
}

func checkSweep(t *testing.T, d cgroupDriver, dirsOf func(stepCgroup) []string, freeze func(stepCgroup) error) {
	gone := exec.Command("/bin/true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	dead := gone.Process.Pid // a service that is no more
	lim := Limits{}.withDefaults()
	g, err := d.New(fmt.Sprintf("step-%d-%d", dead, os.Getpid()), lim)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Remove()
	gated(t, g, func() int { return len(procsOf(g.Path())) }, 3, `sleep 600 & sleep 600 & wait`)
	pids := procsOf(g.Path())
	if err := freeze(g); err != nil {
		t.Fatal(err)
	}
	// A group of a service that runs (pid 1 always does).
	live, err := d.New(fmt.Sprintf("step-1-%d", os.Getpid()), lim)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Remove()

	sweepGroups(d)
	for _, dir := range dirsOf(g) {
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("%s still exists", dir)
		}
	}
	for _, pid := range pids {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil && !strings.Contains(string(b), ") Z ") {
			t.Errorf("process %d of the dead service's group still runs: %s", pid, b)
		}
	}
	for _, dir := range dirsOf(live) {
		if _, err := os.Stat(dir); err != nil {
			t.Errorf("a live service's group was removed: %v", err)
		}
	}
}
