package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pysmoke/pysmoke/internal/expected"
	"github.com/pysmoke/pysmoke/internal/sandboxtest"
	"github.com/pysmoke/pysmoke/internal/testenv"
	"github.com/pysmoke/pysmoke/localindex"
	"github.com/pysmoke/pysmoke/store"
)

// The crash test: the real binaries work through a backfill of samples
// while they are stopped at random moments, each restarted at once, and
// everything is checked from outside at the end. See TestCrashes.

// life is one run of a process: its pid, when it started and when it was
// stopped (zero while it runs), and the processes its sandboxes had just
// before it was stopped.
type life struct {
	pid           int
	started, shot time.Time
	sandboxed     []procID
}

// procID names a process beyond pid reuse: its pid and its start time
// (field 22 of /proc/PID/stat, in clock ticks since boot).
type procID struct {
	pid   int
	start string
}

func procIDOf(pid int) (procID, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procID{}, false
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 20 {
		return procID{}, false
	}
	return procID{pid, fields[19]}, true
}

// alive: the process still exists and has not ended (a zombie has).
func (p procID) alive() bool {
	now, ok := procIDOf(p.pid)
	if !ok || now.start != p.start {
		return false
	}
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.pid))
	s := string(b)
	return !strings.HasPrefix(strings.TrimSpace(s[strings.LastIndexByte(s, ')')+1:]), "Z")
}

// crashProc is one of the test's processes (the service or a worker):
// started again after each stop, with every life's output appended to one
// log.
type crashProc struct {
	name, worker, logPath string
	bin                   string
	args, env             []string
	cmd                   *exec.Cmd
	logf                  *os.File
	lives                 []life
}

func (p *crashProc) start(t *testing.T) {
	t.Helper()
	f, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "=== life %d, %s\n", len(p.lives)+1, time.Now().Format(time.StampMilli))
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.cmd, p.logf = cmd, f
	p.lives = append(p.lives, life{pid: cmd.Process.Pid, started: time.Now()})
}

// stop sends sig and waits for the process to end (a graceful stop has
// 60 s; more is an error, and then it is killed).
func (p *crashProc) stop(t *testing.T, sig syscall.Signal) {
	t.Helper()
	l := &p.lives[len(p.lives)-1]
	for _, procs := range stepGroupsOf(l.pid) {
		for _, s := range procs {
			pid, _ := strconv.Atoi(s)
			if id, ok := procIDOf(pid); ok {
				l.sandboxed = append(l.sandboxed, id)
			}
		}
	}
	l.shot = time.Now()
	p.cmd.Process.Signal(sig)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Errorf("%s (pid %d) did not stop within a minute of %s", p.name, l.pid, sig)
		p.cmd.Process.Kill()
		<-done
	}
	p.logf.Close()
	p.cmd = nil
}

func (p *crashProc) log() string {
	b, _ := os.ReadFile(p.logPath)
	return string(b)
}

// crashSamples are the samples of the crash test's backfill: quick ones,
// with passing and failing cells. Each is published at three versions,
// the backfill's three latest releases. Beside them, slowtest 1.0, whose
// test takes 6 s: longer than a graceful stop waits for a build here
// (--stop-grace 3s), so that SIGTERMs cut builds short too.
var crashSamples = []string{"smokegood", "py2only", "usesimp"}

var crashVersions = []string{"1.0", "1.1", "1.2"}

// TestCrashes: during a backfill of the samples (three releases each, and
// slowtest, on 2.7 and 3.12), the processes that run builds are stopped at 20 random
// moments, each restarted at once, with SIGKILL or SIGTERM (make test: each
// stop's signal at random; make test-full: a backfill of each). On Postgres the service runs builds (namespace sandbox)
// beside a pysmoke worker (Docker sandbox, when the engine answers), and
// either is the one stopped; on SQLite the service alone (make test-full).
// At the end of each:
//   - every expected cell has exactly one complete current run, every
//     other run of it interrupted, with the hand-written expected outcomes
//     (slowtest passes everywhere); some run was interrupted;
//   - every interrupted run was run again within a minute of its
//     process's restart (a crashed build is taken back at once, before the
//     builds queued since);
//   - no process of any stopped life's sandboxes remains (their pids
//     recorded from the step groups just before the signal), no step
//     group (cgroup, v1 or v2) of any life, no mount or scratch folder
//     under the test's folders, no process whose command line names them
//     (ps), and no container of theirs (docker ps -a).
//
// The seed of the random moments is logged; PYSMOKE_CRASH_SEED replays it.
func TestCrashes(t *testing.T) {
	sandboxtest.Namespace(t)
	testenv.Python(t, "2.7")
	testenv.Python(t, "3.12")
	type variant struct {
		name     string
		postgres bool
		sig      syscall.Signal
	}
	// make test: one backfill on Postgres, each stop a SIGKILL or a
	// SIGTERM at random (the two backfills took about five minutes of its
	// thirty); make test-full: a backfill of each signal on each database.
	variants := []variant{{"postgres/mixed", true, 0}}
	if os.Getenv("PYSMOKE_TEST_FULL") != "" {
		variants = []variant{
			{"postgres/SIGKILL", true, syscall.SIGKILL}, {"postgres/SIGTERM", true, syscall.SIGTERM},
			{"sqlite/SIGKILL", false, syscall.SIGKILL}, {"sqlite/SIGTERM", false, syscall.SIGTERM},
		}
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) { crashBackfill(t, v.postgres, v.sig) })
	}
}

// crashBackfill runs one backfill with its stops, each with sig (0: SIGKILL
// or SIGTERM at random).
func crashBackfill(t *testing.T, postgres bool, sig syscall.Signal) {
	const stops = 20
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("PYSMOKE_CRASH_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("PYSMOKE_CRASH_SEED: %v", err)
		}
	}
	t.Logf("seed %d (PYSMOKE_CRASH_SEED replays it)", seed)
	rng := rand.New(rand.NewPCG(seed, seed))

	want, err := expected.Load("../../testdata/expected-outcomes.txt")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	bin := buildPysmoke(t)
	indexDir := filepath.Join(tmp, "index")
	ix, err := localindex.New(indexDir, localindex.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range crashSamples {
		for _, v := range crashVersions {
			if _, err := localindex.WriteSdist(indexDir, filepath.Join("../../testdata/samples", s), s, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := localindex.WriteSdist(indexDir, writeSleepingTest(t, tmp, "slowtest", 6), "slowtest", "1.0"); err != nil {
		t.Fatal(err)
	}
	if err := ix.Rescan(); err != nil {
		t.Fatal(err)
	}
	httpSrv := httptest.NewServer(ix.Handler())
	t.Cleanup(httpSrv.Close)
	srv := httpSrv.URL + "/"
	allow := filepath.Join(tmp, "allow.txt")
	os.WriteFile(allow, []byte(strings.Join(crashSamples, "\n")+"\nslowtest\n"), 0o644)
	pythons := []string{"2.7", "3.12"}

	common := []string{"--index", srv, "--allowlist", allow, "--python", strings.Join(pythons, ","),
		"--workers", "1", "--confirm", "0", "--stop-grace", "3s"}
	database := filepath.Join(tmp, "service", "pysmoke.db")
	var env []string
	if postgres {
		database = testenv.Postgres(t)
		env = []string{"PYSMOKE_DATABASE=" + database}
	}
	procs := []*crashProc{{
		name: "service", worker: "w-service", bin: bin, env: env, logPath: filepath.Join(tmp, "service.log"),
		args: append([]string{"serve", "--data", filepath.Join(tmp, "service"), "--worker", "w-service",
			"--listen", fmt.Sprintf("127.0.0.1:%d", freePort(t)), "--interval", "2s", "--hint-interval", "1s"}, common...),
	}}
	docker := false
	if postgres {
		// The worker uses the other backend, so that both are stopped
		// mid-build: its containers must not outlive it either.
		box := "namespace"
		if os.Getenv("PYSMOKE_CRASH_NAMESPACE_ONLY") == "" {
			sandboxtest.Docker(t)
			box, docker = "docker", true
		}
		procs = append(procs, &crashProc{
			name: "worker", worker: "w-" + box, bin: bin, env: env, logPath: filepath.Join(tmp, "worker.log"),
			args: append([]string{"worker", "--data", filepath.Join(tmp, "worker"), "--worker", "w-" + box, "--sandbox", box}, common...),
		})
	}
	for _, p := range procs {
		p.start(t)
	}
	t.Cleanup(func() {
		for _, p := range procs {
			if p.cmd != nil {
				p.stop(t, syscall.SIGTERM)
			}
			if t.Failed() {
				t.Logf("%s's log (tail):\n%s", p.name, tail(p.log(), 40))
			}
		}
	})

	ctx := context.Background()
	openStore := func() *store.Store {
		st, err := store.Open(ctx, database)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	// complete counts the cells with a complete current run.
	complete := func() int {
		st := openStore()
		defer st.Close()
		n := 0
		for _, s := range crashSamples {
			for _, v := range crashVersions {
				cells, _ := st.Cells(ctx, s, v)
				n += len(cells)
			}
		}
		slow, _ := st.Cells(ctx, "slowtest", "1.0")
		return n + len(slow)
	}
	cells := (len(crashSamples)*len(crashVersions) + 1) * len(pythons)

	// The stops: each at a random moment of a life of a random process,
	// between 0.3 s (mid-start) and 6 s after the last stop.
	var midStep int
	signals := map[syscall.Signal]int{}
	for i := range stops {
		time.Sleep(300*time.Millisecond + time.Duration(rng.Int64N(int64(5700*time.Millisecond))))
		if n := complete(); n == cells {
			t.Fatalf("the backfill ended after %d stops of %d: too small a backfill to test them", i, stops)
		}
		p := procs[rng.IntN(len(procs))]
		s := sig
		if s == 0 {
			s = []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM}[rng.IntN(2)]
		}
		signals[s]++
		p.stop(t, s)
		l := p.lives[len(p.lives)-1]
		if len(l.sandboxed) > 0 {
			midStep++
		}
		if s != syscall.SIGKILL {
			// A graceful stop leaves nothing, even before the next start.
			checkLifeLeftNothing(t, p, l)
		}
		p.start(t)
	}
	t.Logf("%d stops (SIGKILL %d, SIGTERM %d), %d of them while a step ran", stops, signals[syscall.SIGKILL], signals[syscall.SIGTERM], midStep)
	for _, p := range procs {
		var lives []string
		for _, l := range p.lives[:len(p.lives)-1] {
			lives = append(lives, l.started.Format("15:04:05.000")+"-"+l.shot.Format("15:04:05.000"))
		}
		t.Logf("%s's stopped lives: %s", p.name, strings.Join(lives, " "))
	}

	deadline := time.Now().Add(10 * time.Minute)
	for complete() < cells {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d cells complete 10 minutes after the last stop", complete(), cells)
		}
		time.Sleep(time.Second)
	}
	for _, p := range procs {
		p.stop(t, syscall.SIGTERM)
	}

	// Every expected cell: one complete current run, the rest interrupted;
	// each interrupted run run again within a minute of its worker's
	// restart.
	st := openStore()
	defer st.Close()
	byWorker := map[string]*crashProc{}
	for _, p := range procs {
		byWorker[p.worker] = p
	}
	var interrupted int
	var longest time.Duration
	// current checks the runs of one cell and returns its current run.
	current := func(s, v, py string) (cur store.Cell) {
		runs, err := st.Runs(ctx, s, v, py)
		if err != nil {
			t.Fatal(err)
		}
		slices.Reverse(runs) // oldest first
		var done, currents int
		for i, r := range runs {
			switch r.State {
			case store.RunComplete:
				done++
				if r.Current {
					currents++
					cur = r
				}
			case store.RunInterrupted:
				interrupted++
				if r.Current {
					t.Errorf("%s %s on %s: interrupted run %d is current", s, v, py, r.RunID)
				}
				if i+1 == len(runs) {
					t.Errorf("%s %s on %s: interrupted run %d was never run again", s, v, py, r.RunID)
					continue
				}
				wait, err := rescueWait(byWorker[r.Worker], r.StartedAt, runs[i+1].StartedAt)
				if err != nil {
					t.Errorf("%s %s on %s: run %d by %s: %v", s, v, py, r.RunID, r.Worker, err)
				}
				if wait > time.Minute {
					t.Errorf("%s %s on %s: run %d by %s (%s), begun %s, waited %s after its worker's restart to be run again at %s", s, v, py, r.RunID,
						r.Worker, r.StateDetail, r.StartedAt.Format(time.StampMilli), wait, runs[i+1].StartedAt.Format(time.StampMilli))
				}
				longest = max(longest, wait)
			default:
				t.Errorf("%s %s on %s: run %d is %s after every process stopped", s, v, py, r.RunID, r.State)
			}
		}
		if done != 1 || currents != 1 {
			t.Errorf("%s %s on %s: %d complete runs, %d current of them, of %d runs; want one complete current run",
				s, v, py, done, currents, len(runs))
		}
		return cur
	}
	for _, s := range crashSamples {
		for _, v := range crashVersions {
			got := expected.Table{}
			for _, py := range pythons {
				for _, step := range current(s, v, py).Steps {
					got[expected.Key{Sample: s, Python: py, Step: step.Name}] = expected.Outcome{Status: string(step.Status), Reason: step.Reason}
				}
			}
			for _, d := range want.Compare(got, []string{s}, pythons) {
				t.Errorf("%s %s: %s", s, v, d)
			}
		}
	}
	for _, py := range pythons {
		if c := current("slowtest", "1.0", py); c.Status != "passed" {
			t.Errorf("slowtest on %s: %s %s; want passed", py, c.Status, c.Reason)
		}
	}
	t.Logf("%d runs interrupted, each run again at most %s after its worker's restart", interrupted, longest.Round(100*time.Millisecond))
	if interrupted == 0 {
		t.Errorf("no run was interrupted: the stops tested nothing")
	}

	// Nothing of any life remains, seen from outside.
	for _, p := range procs {
		for _, l := range p.lives {
			checkLifeLeftNothing(t, p, l)
		}
	}
	for _, dir := range []string{"service", "worker"} {
		if left, _ := filepath.Glob(filepath.Join(tmp, dir, "scratch", "job-*")); len(left) != 0 {
			t.Errorf("scratch left: %v", left)
		}
	}
	if mounts, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mounts), tmp) {
		t.Errorf("a mount left under %s", tmp)
	}
	if out, err := exec.Command("ps", "-eo", "pid=,stat=,args=").Output(); err != nil {
		t.Errorf("ps: %v", err)
	} else {
		for _, line := range strings.Split(string(out), "\n") {
			if f := strings.Fields(line); len(f) > 2 && !strings.HasPrefix(f[1], "Z") && strings.Contains(line, tmp) {
				t.Errorf("a process left: %s", line)
			}
		}
	}
	if docker {
		out, err := exec.Command("docker", "ps", "-a", "--filter", "label=pysmoke.scratch", "--format", `{{.ID}} {{.Label "pysmoke.scratch"}}`).Output()
		if err != nil {
			t.Errorf("docker ps -a: %v", err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if strings.Contains(line, tmp) {
				t.Errorf("a container left: %s", line)
			}
		}
	}
}

// checkLifeLeftNothing: no step group of the life's pid remains, and no
// process its sandboxes had when it was stopped.
func checkLifeLeftNothing(t *testing.T, p *crashProc, l life) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second) // a pid namespace is torn down asynchronously
	for {
		groups := stepGroupsOf(l.pid)
		var alive []procID
		for _, id := range l.sandboxed {
			if id.alive() {
				alive = append(alive, id)
			}
		}
		if len(groups) == 0 && len(alive) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s's life as pid %d left step groups %v and processes %v", p.name, l.pid, groups, alive)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// rescueWait is how long a run of p interrupted by a stop waited to be run
// again: from the start of the first life of p after the one that ran it
// to the next run's start.
func rescueWait(p *crashProc, started, next time.Time) (time.Duration, error) {
	if p == nil {
		return 0, fmt.Errorf("ran on a worker the test did not start")
	}
	for i, l := range p.lives {
		if !l.started.After(started) && (l.shot.IsZero() || l.shot.After(started)) {
			if l.shot.IsZero() || i+1 == len(p.lives) {
				return 0, fmt.Errorf("interrupted in life %d, which was never stopped", i+1)
			}
			return next.Sub(p.lives[i+1].started), nil
		}
	}
	return 0, fmt.Errorf("started at %s, in no life of %s", started.Format(time.StampMilli), p.name)
}
