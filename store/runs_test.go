package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pysmoke/pysmoke/outcome"
)

func addRelease(t *testing.T, s *Store, project, version string) {
	t.Helper()
	if _, err := s.AddRelease(context.Background(), Release{Project: project, Version: version, DisplayName: project,
		SdistFile: project + "-" + version + ".tar.gz", SdistSHA256: "ab"}); err != nil {
		t.Fatal(err)
	}
}

// describe is a run as the assertions below read it.
func describe(c Cell) string {
	s := fmt.Sprintf("%s/%s/%s", c.Cause, c.State, c.Status)
	if c.Current {
		s += "/current"
	}
	return s
}

func describeRuns(t *testing.T, s *Store, project, version, python string) string {
	t.Helper()
	runs, err := s.Runs(context.Background(), project, version, python)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range runs {
		out = append(out, describe(r))
	}
	return strings.Join(out, " ")
}

// Every execution of a cell is a run of its own; the cell shows its latest
// complete run; a run that never ended is kept, interrupted, never current.
func TestRuns(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	addRelease(t, s, "foo", "1.0")
	t0 := time.UnixMilli(1_000_000).UTC()
	cell := func(st outcome.Status, log string) (Cell, map[string][]byte) {
		return Cell{Project: "foo", Version: "1.0", Python: "3.12", Status: st, Backend: "namespace", StartedAt: t0, FinishedAt: t0.Add(time.Second),
			Steps: []Step{{Name: "tests", Status: st}}}, map[string][]byte{"tests": []byte(log)}
	}

	first, err := s.BeginRun(ctx, RunStart{Project: "foo", Version: "1.0", Python: "3.12", Cause: outcome.CauseNew, Worker: "w1", StartedAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	// Running: no outcome to show yet.
	if cells, err := s.Cells(ctx, "foo", "1.0"); err != nil || len(cells) != 0 {
		t.Fatalf("cells while the first run runs: %+v, %v", cells, err)
	}
	c, logs := cell(outcome.Failed, "first log")
	if err := s.FinishRun(ctx, first, c, logs); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishRun(ctx, first, c, logs); err == nil {
		t.Error("a run finished twice")
	}

	// A rerun that the worker's stop interrupts.
	second, _ := s.BeginRun(ctx, RunStart{Project: "foo", Version: "1.0", Python: "3.12", Cause: outcome.CauseProvenance, Worker: "w1", StartedAt: t0})
	if err := s.EndRun(ctx, second, "the service stopped"); err != nil {
		t.Fatal(err)
	}
	// One left running by a worker that died; another worker's run is not
	// that worker's to end.
	third, _ := s.BeginRun(ctx, RunStart{Project: "foo", Version: "1.0", Python: "3.12", Cause: outcome.CauseRetry, Worker: "w1", StartedAt: t0})
	addRelease(t, s, "bar", "2.0")
	other, _ := s.BeginRun(ctx, RunStart{Project: "bar", Version: "2.0", Python: "3.12", Cause: outcome.CauseNew, Worker: "w2", StartedAt: t0})
	if n, err := s.InterruptRuns(ctx, "w1", "the worker restarted"); err != nil || n != 1 {
		t.Fatalf("InterruptRuns = %d, %v; want the one w1 left running", n, err)
	}
	c, logs = cell(outcome.Passed, "third log")
	if err := s.FinishRun(ctx, third, c, logs); err == nil {
		t.Error("an interrupted run was finished")
	}
	if got, want := describeRuns(t, s, "foo", "1.0", "3.12"), "retry/interrupted/ provenance/interrupted/ new/complete/failed/current"; got != want {
		t.Errorf("runs %q, want %q", got, want)
	}
	if got, want := describeRuns(t, s, "bar", "2.0", "3.12"), "new/running/"; got != want {
		t.Errorf("w2's run %q, want %q", got, want)
	}
	runs, _ := s.Runs(ctx, "foo", "1.0", "3.12")
	if runs[1].StateDetail != "the service stopped" || runs[1].Worker != "w1" || runs[0].StateDetail != "the worker restarted" {
		t.Errorf("interrupted runs say %q (%q) and %q", runs[1].StateDetail, runs[1].Worker, runs[0].StateDetail)
	}

	// A run that completes becomes current; the earlier one stays, with
	// its log.
	fourth, _ := s.BeginRun(ctx, RunStart{Project: "foo", Version: "1.0", Python: "3.12", Cause: outcome.CauseAdmin, Worker: "w1", StartedAt: t0})
	if err := s.FinishRun(ctx, fourth, c, logs); err != nil {
		t.Fatal(err)
	}
	if got, want := describeRuns(t, s, "foo", "1.0", "3.12"), "admin/complete/passed/current retry/interrupted/ provenance/interrupted/ new/complete/failed"; got != want {
		t.Errorf("runs %q, want %q", got, want)
	}
	cells, err := s.Cells(ctx, "foo", "1.0")
	if err != nil || len(cells) != 1 || cells[0].RunID != fourth || !cells[0].Current || cells[0].Status != outcome.Passed {
		t.Fatalf("cells %+v, %v; want run %d, passed", cells, err, fourth)
	}
	if l, err := s.StepLog(ctx, "foo", "1.0", "3.12", "tests", true); err != nil || whole(t, l) != "third log" {
		t.Errorf("current log %q, %v", l.Tail, err)
	}
	if l, err := s.RunStepLog(ctx, first, "tests", true); err != nil || whole(t, l) != "first log" {
		t.Errorf("first run's log %q, %v", l.Tail, err)
	}
	if _, err := s.RunStepLog(ctx, second, "tests", false); err == nil {
		t.Error("an interrupted run has a log")
	}
	if r, err := s.Run(ctx, first); err != nil || describe(r) != "new/complete/failed" || len(r.Steps) != 1 {
		t.Errorf("Run(first) = %+v, %v", r, err)
	}
	if _, err := s.Run(ctx, 999); err == nil {
		t.Error("Run of an unknown id")
	}
	// A run of a cell must match it.
	if err := s.FinishRun(ctx, other, Cell{Project: "foo", Version: "1.0", Python: "3.12", Status: outcome.Passed}, nil); err == nil {
		t.Error("bar's run finished as foo's")
	}
	if _, err := s.BeginRun(ctx, RunStart{Project: "foo", Version: "1.0", Python: "3.12"}); err == nil {
		t.Error("a run without a cause")
	}
}

// The schema before runs (written out by hand here, as it was), with a
// cell, its steps and logs, provenance and dependencies: opening the
// database carries every cell over as a complete run of cause migrated.
func TestRunsMigration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	// The five migrations before the runs', as the released pysmoke ran
	// them.
	for i, m := range migrations[:5] {
		if _, err := db.ExecContext(ctx, m); err != nil {
			t.Fatalf("old migration %d: %v", i+1, err)
		}
	}
	for _, q := range []string{
		`PRAGMA user_version = 5`,
		`INSERT INTO releases (project, version, display_name, discovered_at) VALUES ('foo', '1.0', 'Foo', 1)`,
		`INSERT INTO releases (project, version, display_name, discovered_at) VALUES ('foo', '1.1', 'Foo', 2)`,
		`INSERT INTO cells (project, version, python, interpreter, full_version, backend, status, reason, started_at, finished_at)
			VALUES ('foo', '1.0', '2.7', '/py/2.7/bin/python', '2.7.18', 'namespace', 'failed', 'syntax-error', 10, 20)`,
		`INSERT INTO cells (project, version, python, interpreter, full_version, backend, status, reason, started_at, finished_at)
			VALUES ('foo', '1.0', '3.12', '/py/3.12/bin/python', '3.12.1', 'docker', 'passed', '', 30, 40)`,
		`INSERT INTO cells (project, version, python, status) VALUES ('foo', '1.1', '3.12', 'machinery-error')`,
		`INSERT INTO steps (project, version, python, seq, name, status, reason, detail, exit_code, duration_ms, log, artifacts, memory_peak)
			VALUES ('foo', '1.0', '2.7', 0, 'sdist', 'passed', '', '', 0, 1200, 'sdist log', '[{"path":"foo-1.0.tar.gz","size":9,"sha256":"cd"}]', 4096)`,
		`INSERT INTO steps (project, version, python, seq, name, status, reason, detail, exit_code, duration_ms, log)
			VALUES ('foo', '1.0', '2.7', 1, 'tests', 'failed', 'syntax-error', 'print x', 1, 300, 'tests log')`,
		`INSERT INTO steps (project, version, python, seq, name, status, log) VALUES ('foo', '1.0', '3.12', 0, 'sdist', 'passed', '3.12 log')`,
		`INSERT INTO cell_provenance VALUES ('foo', '1.0', '3.12', 'd312', '{"backend":"docker"}')`,
		`INSERT INTO cell_dependencies VALUES ('foo', '1.0', '3.12', 'six', '1.16.0', 'six-1.16.0-py2.py3-none-any.whl', 'ef')`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cells, err := s.Cells(ctx, "foo", "1.0")
	if err != nil || len(cells) != 2 {
		t.Fatalf("cells %+v, %v", cells, err)
	}
	py27, py312 := cells[0], cells[1]
	if describe(py27) != "migrated/complete/failed/current" || py27.Reason != "syntax-error" || py27.Interpreter != "/py/2.7/bin/python" ||
		py27.FullVersion != "2.7.18" || py27.Backend != "namespace" || py27.StartedAt.UnixMilli() != 10 || py27.FinishedAt.UnixMilli() != 20 {
		t.Errorf("2.7 cell %+v", py27)
	}
	if len(py27.Steps) != 2 || py27.Steps[0].Name != "sdist" || py27.Steps[0].Duration != 1200*time.Millisecond ||
		py27.Steps[0].MemoryPeak != 4096 || len(py27.Steps[0].Artifacts) != 1 || py27.Steps[0].Artifacts[0].SHA256 != "cd" ||
		py27.Steps[1].Detail != "print x" || py27.Steps[1].ExitCode != 1 {
		t.Errorf("2.7 steps %+v", py27.Steps)
	}
	if py312.ProvenanceDigest != "d312" || py312.Provenance != `{"backend":"docker"}` || len(py312.Dependencies) != 1 ||
		py312.Dependencies[0] != (Dependency{Name: "six", Version: "1.16.0", Filename: "six-1.16.0-py2.py3-none-any.whl", SHA256: "ef"}) {
		t.Errorf("3.12 cell %+v", py312)
	}
	if py27.ProvenanceDigest != "" {
		t.Errorf("2.7 had no provenance, got %q", py27.ProvenanceDigest)
	}
	for _, want := range []struct{ py, step, log string }{{"2.7", "sdist", "sdist log"}, {"2.7", "tests", "tests log"}, {"3.12", "sdist", "3.12 log"}} {
		// Logs kept before whole logs were: raw, without a tail.
		if l, err := s.StepLog(ctx, "foo", "1.0", want.py, want.step, true); err != nil || whole(t, l) != want.log || string(l.Tail) != want.log || l.Size != int64(len(want.log)) {
			t.Errorf("log of %s %s: %q, %v", want.py, want.step, l.Tail, err)
		}
	}
	if c, err := s.Cells(ctx, "foo", "1.1"); err != nil || len(c) != 1 || describe(c[0]) != "migrated/complete/machinery-error/current" {
		t.Errorf("1.1 cells %+v, %v", c, err)
	}
	// A cell without provenance is stale to every digest; one with it to
	// the others.
	if stale, err := s.StaleCells(ctx, "3.12", "d312"); err != nil || len(stale) != 1 || stale[0].Version != "1.1" {
		t.Errorf("stale on 3.12: %+v, %v", stale, err)
	}
	// Runs go on from there.
	if err := s.SaveCell(ctx, Cell{Project: "foo", Version: "1.0", Python: "2.7", Status: outcome.Passed, Cause: outcome.CauseProvenance}, nil); err != nil {
		t.Fatal(err)
	}
	if got, want := describeRuns(t, s, "foo", "1.0", "2.7"), "provenance/complete/passed/current migrated/complete/failed"; got != want {
		t.Errorf("runs after a rerun %q, want %q", got, want)
	}
}

// Retention keeps what the runs of each project's latest releases
// recorded, every run of them (an earlier toolchain's too).
func TestArtifactsInUse(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	save := func(project, version string, cause outcome.Cause, sums ...string) {
		t.Helper()
		var arts []Artifact
		for _, sum := range sums {
			arts = append(arts, Artifact{Path: sum + ".whl", SHA256: sum})
		}
		if err := s.SaveCell(ctx, Cell{Project: project, Version: version, Python: "3.12", Status: outcome.Passed, Cause: cause,
			Steps: []Step{{Name: "wheel", Status: outcome.Passed, Artifacts: arts}, {Name: "tests", Status: outcome.Passed}}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range []string{"1.0", "1.1", "1.2", "1.10"} {
		addRelease(t, s, "foo", v)
	}
	addRelease(t, s, "bar", "0.1")
	save("foo", "1.0", outcome.CauseNew, "a10")
	save("foo", "1.1", outcome.CauseNew, "a11", "shared")
	save("foo", "1.2", outcome.CauseNew, "a12")
	save("foo", "1.10", outcome.CauseNew, "a110-old-toolchain")
	save("foo", "1.10", outcome.CauseProvenance, "a110")
	save("bar", "0.1", outcome.CauseNew, "shared", "b01")
	got, err := s.ArtifactsInUse(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	// 1.10, 1.2 and 1.1 are foo's latest three (PEP 440 order); 1.0 goes.
	want := []string{"a11", "shared", "a12", "a110-old-toolchain", "a110", "b01"}
	if len(got) != len(want) {
		t.Errorf("in use %v, want %v", got, want)
	}
	for _, w := range want {
		if !got[w] {
			t.Errorf("%s not in use; in use: %v", w, got)
		}
	}
}

// A cell is stale on its dependencies when a newer release of one its
// current run installed appeared after that run finished; its rerun,
// whatever it resolves, is not stale again.
func TestDependencyStaleCells(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	addRelease(t, s, "app", "1.0")
	t1 := time.UnixMilli(1_000_000)
	save := func(python string, finished time.Time, deps ...Dependency) {
		t.Helper()
		if err := s.SaveCell(ctx, Cell{Project: "app", Version: "1.0", Python: python, Status: outcome.Passed,
			StartedAt: finished, FinishedAt: finished, Dependencies: deps}, nil); err != nil {
			t.Fatal(err)
		}
	}
	lib10 := Dependency{Name: "lib", Version: "1.0", Filename: "lib-1.0-py3-none-any.whl", SHA256: "aa"}
	lib11 := Dependency{Name: "lib", Version: "1.1", Filename: "lib-1.1-py3-none-any.whl", SHA256: "bb"}
	six := Dependency{Name: "six", Version: "1.16.0", Filename: "six-1.16.0-py2.py3-none-any.whl", SHA256: "cc"}
	save("3.11", t1, lib10, six)
	save("3.12", t1, six)
	names, err := s.DependencyNames(ctx)
	if err != nil || strings.Join(names, " ") != "lib six" {
		t.Fatalf("names %v, %v", names, err)
	}
	// First seen: lib 1.0 and six 1.16.0 are the newest, nothing stale.
	for _, n := range []struct{ name, newest string }{{"lib", "1.0"}, {"six", "1.16.0"}} {
		if news, err := s.NoteDependencyRelease(ctx, n.name, n.newest, t1.Add(time.Minute)); err != nil || !news {
			t.Fatalf("first note of %s: %v %v", n.name, news, err)
		}
	}
	if news, _ := s.NoteDependencyRelease(ctx, "lib", "1.0", t1.Add(2*time.Minute)); news {
		t.Error("the same newest release is news")
	}
	if stale, err := s.DependencyStaleCells(ctx); err != nil || len(stale) != 0 {
		t.Fatalf("stale %+v, %v; want none", stale, err)
	}
	// lib 1.1 appears: the 3.11 cell, which installed lib 1.0, is stale.
	if news, _ := s.NoteDependencyRelease(ctx, "lib", "1.1", t1.Add(time.Hour)); !news {
		t.Error("lib 1.1 is not news")
	}
	stale, err := s.DependencyStaleCells(ctx)
	if err != nil || len(stale) != 1 || stale[0].Python != "3.11" || stale[0].Dependency != "lib" || stale[0].Used != "1.0" ||
		stale[0].Newest != "1.1" || stale[0].Release.SdistFile != "app-1.0.tar.gz" {
		t.Fatalf("stale %+v, %v; want app 1.0 on 3.11 (lib 1.0, newest 1.1)", stale, err)
	}
	// Rerun: with lib 1.1, or still with 1.0 (it could not take 1.1):
	// either way it is not stale any more.
	save("3.11", t1.Add(2*time.Hour), lib10, six)
	if stale, _ := s.DependencyStaleCells(ctx); len(stale) != 0 {
		t.Errorf("stale after the rerun: %+v", stale)
	}
	save("3.11", t1.Add(3*time.Hour), lib11, six)
	if stale, _ := s.DependencyStaleCells(ctx); len(stale) != 0 {
		t.Errorf("stale after a rerun with lib 1.1: %+v", stale)
	}
}

// A cell's confirmation is kept through its confirmation's reruns and
// starts afresh with any other run.
func TestConfirmationKept(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	addRelease(t, s, "foo", "1.0")
	save := func(cause outcome.Cause) {
		t.Helper()
		if err := s.SaveCell(ctx, Cell{Project: "foo", Version: "1.0", Python: "3.12", Status: outcome.Failed, Cause: cause}, nil); err != nil {
			t.Fatal(err)
		}
	}
	confirmation := func() Confirmation {
		t.Helper()
		cs, err := s.Cells(ctx, "foo", "1.0")
		if err != nil || len(cs) != 1 {
			t.Fatalf("cells %+v, %v", cs, err)
		}
		c, err := s.CellConfirmation(ctx, "foo", "1.0", "3.12")
		if err != nil || c != cs[0].Confirmation {
			t.Fatalf("CellConfirmation %+v, %v; Cells says %+v", c, err, cs[0].Confirmation)
		}
		return c
	}
	if err := s.SetConfirmation(ctx, "foo", "1.0", "3.12", Confirmation{State: Confirming, Of: 3}); !errors.Is(err, ErrNotFound) {
		t.Errorf("confirmation of a cell not recorded: %v", err)
	}
	save(outcome.CauseNew)
	if c := confirmation(); c != (Confirmation{}) {
		t.Errorf("a new cell's confirmation %+v", c)
	}
	for i, st := range []ConfirmState{Confirming, Confirming, Confirmed} {
		if err := s.SetConfirmation(ctx, "foo", "1.0", "3.12", Confirmation{State: st, Runs: i, Of: 2}); err != nil {
			t.Fatal(err)
		}
		save(outcome.CauseConfirm)
		if c := confirmation(); c.State != st || c.Runs != i {
			t.Errorf("after confirmation rerun %d: %+v", i+1, c)
		}
		// What a starting service resumes.
		cc, err := s.ConfirmingCells(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st == Confirming && (len(cc) != 1 || cc[0].Python != "3.12" || cc[0].Release.SdistFile != "foo-1.0.tar.gz" || cc[0].Confirmation.Runs != i) {
			t.Errorf("confirming cells %+v", cc)
		}
		if st != Confirming && len(cc) != 0 {
			t.Errorf("confirming cells %+v once %s", cc, st)
		}
		// Only the current run carries the cell's confirmation.
		runs, err := s.Runs(ctx, "foo", "1.0", "3.12")
		if err != nil || !runs[0].Current || runs[0].Confirmation.State != st || runs[1].Current || runs[1].Confirmation != (Confirmation{}) {
			t.Errorf("runs: %v; current %v %+v, the one before %v %+v", err, runs[0].Current, runs[0].Confirmation, runs[1].Current, runs[1].Confirmation)
		}
	}
	save(outcome.CauseProvenance)
	if c := confirmation(); c != (Confirmation{}) {
		t.Errorf("after another run, confirmation %+v; want it afresh", c)
	}
}

// A run keeps what the release claims; a run without claims reads none.
func TestRunClaims(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	addRelease(t, s, "foo", "1.0")
	t0 := time.UnixMilli(1_000_000).UTC()
	claims := outcome.Claims{RequiresPython: ">=3.8", Classifiers: []string{"3.8", "3.12"}}
	for _, c := range []Cell{
		{Project: "foo", Version: "1.0", Python: "3.12", Status: outcome.Passed, StartedAt: t0, FinishedAt: t0, Claims: claims},
		{Project: "foo", Version: "1.0", Python: "3.13", Status: outcome.Passed, StartedAt: t0, FinishedAt: t0},
	} {
		if err := s.SaveCell(ctx, c, nil); err != nil {
			t.Fatal(err)
		}
	}
	cells, err := s.Cells(ctx, "foo", "1.0")
	if err != nil || len(cells) != 2 {
		t.Fatalf("%+v, %v", cells, err)
	}
	got := map[string]outcome.Claims{}
	for _, c := range cells {
		got[c.Python] = c.Claims
	}
	if g := got["3.12"]; g.RequiresPython != ">=3.8" || strings.Join(g.Classifiers, ",") != "3.8,3.12" || !got["3.13"].Empty() {
		t.Errorf("claims read back: %+v", got)
	}
}

// RecentCells lists the cells' current runs, the latest finished first: a
// cell's earlier run is not listed, nor one still running or interrupted.
func TestRecentCells(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	addRelease(t, s, "foo", "1.0")
	addRelease(t, s, "foo", "1.1")
	addRelease(t, s, "bar", "2.0")
	t0 := time.UnixMilli(1_000_000).UTC()
	save := func(project, version, python string, st outcome.Status, finished time.Duration) {
		t.Helper()
		c := Cell{Project: project, Version: version, Python: python, Status: st, Backend: "namespace", StartedAt: t0,
			FinishedAt: t0.Add(finished), Steps: []Step{{Name: "tests", Status: st}}}
		if err := s.SaveCell(ctx, c, nil); err != nil {
			t.Fatal(err)
		}
	}
	save("foo", "1.0", "3.12", outcome.Passed, 1*time.Minute)
	save("bar", "2.0", "3.12", outcome.Failed, 2*time.Minute)
	save("foo", "1.1", "3.12", outcome.Failed, 3*time.Minute)
	save("foo", "1.0", "3.12", outcome.Failed, 4*time.Minute) // a rerun: the passed run is no longer current
	if _, err := s.BeginRun(ctx, RunStart{Project: "bar", Version: "2.0", Python: "2.7", Cause: outcome.CauseNew, Worker: "w1", StartedAt: t0}); err != nil {
		t.Fatal(err)
	}
	var got []string
	cells, err := s.RecentCells(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cells {
		got = append(got, fmt.Sprintf("%s %s %s %s", c.Project, c.Version, c.Python, c.Status))
	}
	want := "foo 1.0 3.12 failed, foo 1.1 3.12 failed, bar 2.0 3.12 failed"
	if strings.Join(got, ", ") != want {
		t.Errorf("recent cells: %s\nwant %s", strings.Join(got, ", "), want)
	}
	if cells, _ := s.RecentCells(ctx, 1); len(cells) != 1 || cells[0].Version != "1.0" {
		t.Errorf("the latest one: %+v", cells)
	}
}
