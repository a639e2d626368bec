package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pysmoke/pysmoke/internal/sandboxtest"
	"github.com/pysmoke/pysmoke/internal/testenv"
	"github.com/pysmoke/pysmoke/store"
)

// writeSleeper writes a project whose one test sleeps for an hour.
func writeSleeper(t *testing.T, dir string) string { return writeSleepingTest(t, dir, "sleeper", 3600) }

// writeSleepingTest writes project name, whose one test sleeps seconds
// and passes.
func writeSleepingTest(t *testing.T, dir, name string, seconds int) string {
	t.Helper()
	src := filepath.Join(dir, name)
	testenv.WriteTree(t, src, map[string]string{
		"setup.py":            fmt.Sprintf("from setuptools import setup\nsetup(name='%s', version='1.0', packages=['%s'])\n", name, name),
		name + "/__init__.py": "",
		"tests/test_sleep.py": fmt.Sprintf("import time, unittest\n\nclass Sleep(unittest.TestCase):\n    def test_sleep(self):\n        time.sleep(%d)\n", seconds),
	})
	return src
}

// stepGroupsOf lists, from outside, the step groups (v1 and v2) the
// sandbox made for process pid, with the processes in each.
func stepGroupsOf(pid int) map[string][]string {
	out := map[string][]string{}
	filepath.WalkDir("/sys/fs/cgroup", func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if strings.HasPrefix(d.Name(), fmt.Sprintf("step-%d-", pid)) {
			b, _ := os.ReadFile(filepath.Join(p, "cgroup.procs"))
			out[p] = strings.Fields(string(b))
			return filepath.SkipDir
		}
		return nil
	})
	return out
}

// TestServeStopMidStep: SIGTERM to the real binary while a step runs
// (sleeper's test): it stops within 30 s and leaves nothing behind, seen
// from outside: no step group, no scratch, no mount, no process of its
// sandboxes.
func TestServeStopMidStep(t *testing.T) {
	sandboxtest.Namespace(t)
	signals := []syscall.Signal{syscall.SIGTERM}
	if os.Getenv("PYSMOKE_TEST_FULL") != "" {
		signals = append(signals, syscall.SIGINT) // handled alike (signal.NotifyContext)
	}
	for _, sig := range signals {
		t.Run(sig.String(), func(t *testing.T) {
			tmp := t.TempDir()
			bin := buildPysmoke(t)
			indexURL, _ := sampleIndex(t, filepath.Join(tmp, "index"), writeSleeper(t, tmp))
			allow := filepath.Join(tmp, "allow.txt")
			os.WriteFile(allow, []byte("sleeper\n"), 0o644)
			data := filepath.Join(tmp, "data")
			cmd := exec.Command(bin, "serve", "--index", indexURL, "--allowlist", allow, "--data", data,
				"--listen", fmt.Sprintf("127.0.0.1:%d", freePort(t)), "--python", "3.12", "--workers", "1",
				"--interval", "2s", "--hint-interval", "1s", "--worker", "w-stop", "--confirm", "0")
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			pid := cmd.Process.Pid
			waitTestStep(t, pid, func() string { return out.String() })
			var procs []string
			for _, ps := range stepGroupsOf(pid) {
				procs = append(procs, ps...)
			}
			cmd.Process.Signal(sig)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Fatalf("not stopped 30 s after %s", sig)
			}
			if g := stepGroupsOf(pid); len(g) != 0 {
				t.Errorf("step groups left: %v", g)
			}
			if left, _ := filepath.Glob(filepath.Join(data, "scratch", "job-*")); len(left) != 0 {
				t.Errorf("scratch left: %v", left)
			}
			if mounts, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mounts), data) {
				t.Errorf("a mount left under %s", data)
			}
			for _, p := range procs {
				// A zombie has ended; whoever inherited it reaps it.
				if b, err := os.ReadFile("/proc/" + p + "/stat"); err == nil && !strings.Contains(string(b), ") Z ") {
					t.Errorf("process %s of a sandbox left: %s", p, b)
				}
			}
		})
	}
}

var (
	builtOnce sync.Once
	builtBin  string
	builtErr  error
)

// startLogged starts bin with args (and env added to the test's), its
// output into the file logPath. When the test ends it is stopped as an
// operator would: SIGTERM, then SIGKILL after 30 s; if the test failed,
// the log's tail is shown.
func startLogged(t testing.TB, logPath string, env []string, bin string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("%s (tail):\n%s", filepath.Base(logPath), tail(string(b), 25))
		}
	})
	return cmd
}

// buildPysmoke builds the binary once per test process, into a folder
// TestMain removes.
func buildPysmoke(t testing.TB) string {
	t.Helper()
	builtOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pysmoke-bin-")
		if err != nil {
			builtErr = err
			return
		}
		builtBin = filepath.Join(dir, "pysmoke")
		if out, err := exec.Command("go", "build", "-o", builtBin, ".").CombinedOutput(); err != nil {
			builtErr = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if builtErr != nil {
		t.Fatal(builtErr)
	}
	return builtBin
}

// waitTestStep waits until a sandbox of process pid runs a test runner.
func waitTestStep(t *testing.T, pid int, log func() string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		for _, procs := range stepGroupsOf(pid) {
			for _, p := range procs {
				if b, _ := os.ReadFile("/proc/" + p + "/cmdline"); strings.Contains(string(b), "pytest") || strings.Contains(string(b), "unittest") {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("sleeper's tests never ran; log:\n%s", tail(log(), 30))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestServeAfterKill9: the real binary is killed with SIGKILL while a
// step runs (sleeper's test, which sleeps for an hour). Checked from
// outside, it leaves its step groups and the job's scratch behind. The
// next start (the same worker) removes them before it takes a job, runs
// the killed build again at once, not after River's hour, and the cell
// ends with one complete current run, the killed one kept as
// interrupted.
func TestServeAfterKill9(t *testing.T) {
	sandboxtest.Namespace(t)
	tmp := t.TempDir()
	bin := buildPysmoke(t)
	indexURL, _ := sampleIndex(t, filepath.Join(tmp, "index"), writeSleeper(t, tmp))
	allow := filepath.Join(tmp, "allow.txt")
	os.WriteFile(allow, []byte("sleeper\n"), 0o644)
	data := filepath.Join(tmp, "data")
	start := func(name string) *exec.Cmd {
		return startLogged(t, filepath.Join(tmp, name+".log"), nil, bin, "serve", "--index", indexURL, "--allowlist", allow, "--data", data,
			"--listen", fmt.Sprintf("127.0.0.1:%d", freePort(t)), "--python", "3.12", "--workers", "1",
			"--interval", "2s", "--hint-interval", "1s", "--worker", "w-crash", "--confirm", "0")
	}
	logOf := func(name string) string { b, _ := os.ReadFile(filepath.Join(tmp, name+".log")); return string(b) }
	runsOf := func() []store.Cell {
		st, err := store.Open(context.Background(), filepath.Join(data, "pysmoke.db"))
		if err != nil {
			return nil
		}
		defer st.Close()
		rs, _ := st.Runs(context.Background(), "sleeper", "1.0", "3.12")
		return rs
	}

	// First life: killed once the test step runs.
	first := start("first")
	waitTestStep(t, first.Process.Pid, func() string { return logOf("first") })
	dead := first.Process.Pid
	first.Process.Signal(syscall.SIGKILL)
	first.Wait()
	leftGroups := stepGroupsOf(dead)
	leftScratch, _ := filepath.Glob(filepath.Join(data, "scratch", "job-*"))
	if len(leftGroups) == 0 || len(leftScratch) == 0 {
		t.Fatalf("the killed service left no step group (%v) or no scratch (%v): nothing to check", leftGroups, leftScratch)
	}
	t.Logf("killed %d, which left %d step groups and %v", dead, len(leftGroups), leftScratch)

	// Second life: sleeper's tests get 2 s, so that its build ends.
	os.WriteFile(allow, []byte("sleeper timeout.tests=2s\n"), 0o644)
	restarted := time.Now()
	second := start("second")
	var rerun time.Duration
	deadline := time.Now().Add(5 * time.Minute)
	for {
		rs := runsOf()
		if rerun == 0 && len(rs) >= 2 {
			rerun = time.Since(restarted)
		}
		if len(rs) >= 2 && rs[0].State == store.RunComplete {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the killed build was not run again; runs %+v; log:\n%s", rs, tail(logOf("second"), 30))
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("the killed build ran again %s after the restart", rerun.Round(100*time.Millisecond))
	if rerun > time.Minute {
		t.Errorf("the killed build waited %s to be taken back", rerun)
	}
	if g := stepGroupsOf(dead); len(g) != 0 {
		t.Errorf("the killed service's step groups remain: %v", g)
	}
	for _, s := range leftScratch {
		if _, err := os.Lstat(s); err == nil {
			t.Errorf("the killed service's scratch remains: %s", s)
		}
	}
	if mounts, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mounts), filepath.Join(data, "scratch")) &&
		len(stepGroupsOf(second.Process.Pid)) == 0 {
		t.Errorf("a scratch is still mounted though no job runs")
	}
	rs := runsOf()
	var complete, current, interrupted int
	for _, r := range rs {
		switch {
		case r.State == store.RunComplete:
			complete++
		case r.State == store.RunInterrupted:
			interrupted++
		}
		if r.Current {
			current++
		}
	}
	if complete != 1 || current != 1 || !rs[0].Current || interrupted != len(rs)-1 || rs[0].Status != "resource-limit" {
		t.Errorf("runs after the crash: %d complete, %d current, %d interrupted of %d; newest %s %s",
			complete, current, interrupted, len(rs), rs[0].State, rs[0].Status)
	}
	second.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- second.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Errorf("the second life did not stop within 30 s of SIGTERM")
	}
	if !strings.Contains(logOf("second"), "taken back") {
		t.Errorf("the second life did not say it took the build back:\n%s", tail(logOf("second"), 20))
	}
}

// TestMain removes the binary buildPysmoke built.
func TestMain(m *testing.M) {
	code := m.Run()
	if builtBin != "" {
		os.RemoveAll(filepath.Dir(builtBin))
	}
	os.Exit(code)
}
