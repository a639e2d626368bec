package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pysmoke/pysmoke/internal/sandboxtest"
	"github.com/pysmoke/pysmoke/internal/testenv"
	"github.com/pysmoke/pysmoke/localindex"
	"github.com/pysmoke/pysmoke/outcome"
	"github.com/pysmoke/pysmoke/store"
)

// testenv.LogBuffer is a log sink safe for the service's goroutines.

// TestServeRestartLosesNothing stops the service while builds are queued
// and running, starts it again on the same data folder, and checks that
// every cell ends up recorded exactly once. One project, sleeper, has a
// test that sleeps for an hour: whenever the first life stops, sleeper's
// cells cannot have finished, so there is always something left for the
// second life, which gives sleeper's tests a 2 s timeout in the allowlist
// (read as each build runs) so that they end, as resource-limit cells.
func TestServeRestartLosesNothing(t *testing.T) {
	sandboxtest.Namespace(t)
	tmp := t.TempDir()
	sleeper := writeSleeper(t, tmp)
	samples := []string{"smokegood", "py2only", "usesimp", "phonehome"}
	srcs := []string{sleeper}
	for _, s := range samples {
		srcs = append(srcs, "samples/"+s)
	}
	projects := append(samples, "sleeper")
	indexURL, _ := sampleIndex(t, filepath.Join(tmp, "index"), srcs...)
	allow := filepath.Join(tmp, "allow.txt")
	if err := os.WriteFile(allow, []byte(strings.Join(projects, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(tmp, "data")
	// make test: 3.12 only (TestCrashes stops and restarts the service
	// far more, on two Pythons); make test-full: 2.7 too.
	pythons := []string{"3.12"}
	if os.Getenv("PYSMOKE_TEST_FULL") != "" {
		pythons = []string{"2.7", "3.12"}
	}
	all := len(projects) * len(pythons)
	args := func(port int) []string {
		return []string{"serve", "--index", indexURL, "--allowlist", allow, "--data", data,
			"--listen", fmt.Sprintf("127.0.0.1:%d", port), "--python", strings.Join(pythons, ","), "--workers", "2",
			"--interval", "2s", "--hint-interval", "1s", "--worker", "w-restart", "--confirm", "0",
			// The stop cuts the running builds short at once, instead of
			// letting a quick one finish within the default 10 s.
			"--stop-grace", "1ms"}
	}
	withStore := func(f func(*store.Store)) {
		st, err := store.Open(context.Background(), filepath.Join(data, "pysmoke.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		f(st)
	}
	// runs gives every run of projects' cells by state.
	runs := func(projects ...string) map[store.RunState][]store.Cell {
		out := map[store.RunState][]store.Cell{}
		st, err := store.Open(context.Background(), filepath.Join(data, "pysmoke.db"))
		if err != nil {
			return out
		}
		defer st.Close()
		for _, s := range projects {
			for _, py := range pythons {
				rs, _ := st.Runs(context.Background(), s, "1.0", py)
				for _, r := range rs {
					out[r.State] = append(out[r.State], r)
				}
			}
		}
		return out
	}
	cells := func(projects ...string) int {
		st, err := store.Open(context.Background(), filepath.Join(data, "pysmoke.db"))
		if err != nil {
			return 0
		}
		defer st.Close()
		n := 0
		for _, s := range projects {
			cs, _ := st.Cells(context.Background(), s, "1.0")
			n += len(cs)
		}
		return n
	}
	run := func(stopWhen func() bool) string {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var logs testenv.LogBuffer
		done := make(chan error, 1)
		go func() { done <- dispatch(ctx, args(freePort(t)), &logs, &logs) }()
		// Each job makes its build and test environments from the offline
		// toolchain: 10 jobs on two workers take minutes on a busy machine.
		deadline := time.Now().Add(8 * time.Minute)
		for !stopWhen() {
			if time.Now().After(deadline) {
				cancel()
				<-done
				t.Fatalf("service did not get there; log:\n%s", tail(logs.String(), 30))
			}
			time.Sleep(100 * time.Millisecond)
		}
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("serve returned %v; log:\n%s", err, tail(logs.String(), 30))
			}
		case <-time.After(30 * time.Second):
			t.Fatal("serve did not stop within 30 s of being told to")
		}
		return logs.String()
	}
	// First life: stop as soon as the first cell is in and another build
	// runs, with the rest queued.
	run(func() bool { return cells(projects...) >= 1 && len(runs(projects...)[store.RunRunning]) >= 1 })
	if n := cells("sleeper"); n != 0 {
		t.Fatalf("%d of sleeper's cells finished in the first life; its tests sleep for an hour", n)
	}
	// The builds the stop cut short are kept as interrupted runs.
	cut := runs(projects...)[store.RunInterrupted]
	if len(cut) == 0 || len(runs(projects...)[store.RunRunning]) != 0 {
		t.Fatalf("after the stop: %d interrupted runs, %d running; want the running ones interrupted", len(cut), len(runs(projects...)[store.RunRunning]))
	}
	// A run as a worker that died would leave it: the worker marks it
	// interrupted as it starts again.
	var crashed int64
	withStore(func(st *store.Store) {
		var err error
		crashed, err = st.BeginRun(context.Background(), store.RunStart{Project: "py2only", Version: "1.0", Python: "3.12",
			Cause: outcome.CauseNew, Worker: "w-restart", StartedAt: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
	})
	// Second life: everything is finished, nothing twice.
	if err := os.WriteFile(allow, []byte(strings.Join(samples, "\n")+"\nsleeper timeout.tests=2s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	logs := run(func() bool { return cells(projects...) == all })
	if n := cells(projects...); n != all {
		t.Fatalf("%d cells, want %d", n, all)
	}
	if strings.Contains(logs, "level=ERROR") {
		t.Errorf("errors logged on restart:\n%s", logs)
	}
	// Every cell has one current run, complete; the interrupted runs are
	// kept and current nowhere, and a build the stop cut short ran again
	// as the same attempt, with its cause (a retry would mean the stop
	// spent an attempt, as it did before 121251e).
	byState := runs(projects...)
	if n := len(byState[store.RunRunning]); n != 0 {
		t.Errorf("%d runs still running", n)
	}
	current := 0
	for _, r := range byState[store.RunComplete] {
		if r.Current {
			current++
		}
	}
	if current != all {
		t.Errorf("%d current runs, want one per cell (%d)", current, all)
	}
	interrupted := map[int64]store.Cell{}
	for _, r := range byState[store.RunInterrupted] {
		interrupted[r.RunID] = r
		if r.Current {
			t.Errorf("interrupted run %d of %s %s is current", r.RunID, r.Project, r.Python)
		}
	}
	for _, r := range cut {
		if _, ok := interrupted[r.RunID]; !ok {
			t.Errorf("run %d of %s %s, interrupted by the stop, is no longer kept as interrupted", r.RunID, r.Project, r.Python)
		}
		withStore(func(st *store.Store) {
			cs, _ := st.Cells(context.Background(), r.Project, "1.0")
			for _, c := range cs {
				if c.Python == r.Python && (c.Cause != r.Cause || c.RunID <= r.RunID) {
					t.Errorf("%s %s: current run %d has cause %q; want a later run of interrupted run %d's build, cause %q (the stop spent no attempt: no retry)",
						r.Project, r.Python, c.RunID, c.Cause, r.RunID, r.Cause)
				}
			}
		})
	}
	if r, ok := interrupted[crashed]; !ok || r.StateDetail != "the worker stopped while it ran" {
		t.Errorf("the run a dead worker left: %+v; want interrupted by the restart", r)
	}
}

// TestServeAllowlistOptions checks that the service applies a project's
// allowlist options to its builds: a skipped Python records the reason
// given instead of a result, the test command replaces the default one,
// and a step's own timeout ends it.
func TestServeAllowlistOptions(t *testing.T) {
	sandboxtest.Namespace(t)
	tmp := t.TempDir()
	indexURL, _ := sampleIndex(t, filepath.Join(tmp, "index"), "samples/smokegood")
	allow := filepath.Join(tmp, "allow.txt")
	// The command sleeps far past its 3 s limit: only the allowlist's
	// command and timeout can give "resource-limit timeout" here, since
	// smokegood's own tests pass.
	line := `SmokeGood skip=3.12:"waiting for a fix upstream" test="python -c 'import time; time.sleep(120)'" timeout.tests=3s` + "\n"
	if err := os.WriteFile(allow, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	cells, _ := serveUntil(t, indexURL, allow, filepath.Join(tmp, "data"), "3.11,3.12", "smokegood", 2)
	by := map[string]store.Cell{}
	for _, c := range cells {
		by[c.Python] = c
	}
	skipped := by["3.12"]
	if skipped.Status != "not-available" || skipped.Reason != "skipped" {
		t.Errorf("3.12: %s/%s, want not-available/skipped", skipped.Status, skipped.Reason)
	}
	for _, s := range skipped.Steps {
		if !strings.Contains(s.Detail, "waiting for a fix upstream") {
			t.Errorf("3.12 step %s: detail %q does not give the allowlist's reason", s.Name, s.Detail)
		}
	}
	ran := by["3.11"]
	if ran.Status != "resource-limit" || ran.Reason != "timeout" {
		t.Errorf("3.11: %s/%s, want resource-limit/timeout (the allowlist's test command and limit)", ran.Status, ran.Reason)
	}
	for _, s := range ran.Steps {
		want := "passed"
		if s.Name == "tests" {
			want = "resource-limit"
		}
		if string(s.Status) != want {
			t.Errorf("3.11 step %s: %s (%s), want %s", s.Name, s.Status, s.Detail, want)
		}
	}
}

// serveUntil runs pysmoke serve (one worker, polling every 2 s) on the
// given Pythons until n cells of version 1.0 of project are recorded in
// data, stops it, and returns them with the service's log.
func serveUntil(t *testing.T, indexURL, allow, data, pythons, project string, n int) ([]store.Cell, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs testenv.LogBuffer
	done := make(chan error, 1)
	go func() {
		done <- dispatch(ctx, []string{"serve", "--index", indexURL, "--allowlist", allow, "--data", data,
			"--listen", fmt.Sprintf("127.0.0.1:%d", freePort(t)), "--python", pythons, "--workers", "1",
			"--interval", "2s", "--hint-interval", "1s", "--confirm", "0"}, &logs, &logs)
	}()
	var cells []store.Cell
	deadline := time.Now().Add(4 * time.Minute)
	for len(cells) < n {
		if time.Now().After(deadline) {
			cancel()
			<-done
			t.Fatalf("%d cells of %s not recorded in time; log:\n%s", n, project, tail(logs.String(), 30))
		}
		time.Sleep(200 * time.Millisecond)
		st, err := store.Open(ctx, filepath.Join(data, "pysmoke.db"))
		if err != nil {
			continue
		}
		cells, _ = st.Cells(ctx, project, "1.0")
		st.Close()
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	return cells, logs.String()
}

// sampleIndex serves a local index, over HTTP until the test ends, of the
// sdists (version 1.0) of projects in testdata ("samples/smokegood",
// "dependencies/depcext") or at absolute paths, written into dir; it returns the index's URL
// and each sdist's path by file name.
func sampleIndex(t *testing.T, dir string, projects ...string) (string, map[string]string) {
	t.Helper()
	ix, err := localindex.New(dir, localindex.Options{})
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]string{}
	for _, s := range projects {
		src := s
		if !filepath.IsAbs(s) {
			src = filepath.Join("../../testdata", s)
		}
		p, err := localindex.WriteSdist(dir, src, filepath.Base(s), "1.0")
		if err != nil {
			t.Fatal(err)
		}
		paths[filepath.Base(p)] = p
	}
	if err := ix.Rescan(); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ix.Handler())
	t.Cleanup(srv.Close)
	return srv.URL + "/", paths
}
