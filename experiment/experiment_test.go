package experiment

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pysmoke/pysmoke/interpreter"
	"github.com/pysmoke/pysmoke/outcome"
	"github.com/pysmoke/pysmoke/regression"
	"github.com/pysmoke/pysmoke/runner"
)

// fakeRunner answers each job by a function of its project, side and run
// id, and counts the jobs it ran, by run id.
type fakeRunner struct {
	side   string
	answer func(side, project string, runID int64) (outcome.Status, string, string)
	mu     sync.Mutex
	calls  map[int64]int
	// stopAfter, when positive, cancels stop after that many jobs: the
	// experiment's process ends mid-way.
	stopAfter int
	stop      context.CancelFunc
}

func (f *fakeRunner) Run(ctx context.Context, j runner.Job) (runner.Result, error) {
	f.mu.Lock()
	f.calls[j.RunID]++
	n := 0
	for _, c := range f.calls {
		n += c
	}
	if f.stopAfter > 0 && n >= f.stopAfter {
		f.stop()
	}
	f.mu.Unlock()
	st, reason, log := f.answer(f.side, j.Project, j.RunID)
	steps := []runner.StepResult{{Name: outcome.StepSdist, Status: outcome.Passed, Log: []byte("built\n")}}
	steps = append(steps, runner.StepResult{Name: outcome.StepTests, Status: st, Reason: reason, Log: []byte(log)})
	return runner.Result{Status: st, Reason: reason, Steps: steps, Backend: "fake"}, nil
}

// rerun is the attempt a run id belongs to, for the fake's answers.
func attemptOf(side, project string, id int64) int {
	for a := 0; a < 10; a++ {
		if (key{side, project, "1.0", "3.8", a}).id() == id {
			return a
		}
	}
	return -1
}

func TestExperiment(t *testing.T) {
	answer := func(side, project string, id int64) (outcome.Status, string, string) {
		a := attemptOf(side, project, id)
		switch {
		case project == "breaks" && side == Candidate:
			return outcome.Failed, outcome.ReasonTestFailure, "Traceback (most recent call last):\nValueError: bad value 42\n"
		case project == "breaks2" && side == Candidate:
			return outcome.Failed, outcome.ReasonTestFailure, "Traceback (most recent call last):\nValueError: bad value 7\n"
		case project == "flaky" && side == Candidate && (a == 0 || a == 1):
			return outcome.Failed, outcome.ReasonTestFailure, "AssertionError: flake\n"
		case project == "fixed" && side == Baseline:
			return outcome.Failed, outcome.ReasonTestFailure, "AssertionError: old bug\n"
		case project == "infra" && side == Candidate:
			return outcome.Machinery, outcome.ReasonDependencyUnavailable, "no such wheel\n"
		case project == "both":
			return outcome.Failed, outcome.ReasonTestFailure, "AssertionError: always\n"
		}
		return outcome.Passed, "", "ok\n"
	}
	projects := []string{"good", "breaks", "breaks2", "flaky", "fixed", "infra", "both"}
	dir := t.TempDir()
	spec := Spec{Name: "unit", Pythons: []string{"3.8"}, Confirm: 3,
		Baseline: SideSpec{Label: "setuptools 56.0.0"}, Candidate: SideSpec{Label: "setuptools 58.1.0"}}
	for _, p := range projects {
		spec.Releases = append(spec.Releases, Release{Project: p, Version: "1.0", Sdist: "/nonexistent/" + p + "-1.0.tar.gz"})
	}
	if err := Create(dir, spec); err != nil {
		t.Fatal(err)
	}
	if err := Create(dir, spec); err == nil {
		t.Error("a second Create in the same folder was allowed")
	}
	ins := map[string]interpreter.Interpreter{"3.8": {Minor: "3.8", Version: "3.8.18", Path: "/py/3.8/bin/python3.8"}}
	base := &fakeRunner{side: Baseline, answer: answer, calls: map[int64]int{}}
	cand := &fakeRunner{side: Candidate, answer: answer, calls: map[int64]int{}}

	// The first life stops after five jobs.
	ctx, cancel := context.WithCancel(context.Background())
	base.stopAfter, base.stop = 3, cancel
	var progress []Progress
	var mu sync.Mutex
	opts := Options{Dir: dir, Baseline: Side{Runner: base, Interpreters: ins}, Candidate: Side{Runner: cand, Interpreters: ins},
		Progress: func(p Progress) { mu.Lock(); progress = append(progress, p); mu.Unlock() }}
	if _, err := Run(ctx, opts); !errors.Is(err, context.Canceled) {
		t.Fatalf("first life: %v, want it cancelled", err)
	}
	cancel()
	recorded, _ := journal(dir)
	if len(recorded) == 0 || len(recorded) >= 2*len(projects) {
		t.Fatalf("first life recorded %d runs; want some, not all", len(recorded))
	}
	// The second life goes on: nothing recorded is run again.
	base.stopAfter = 0
	progress = nil
	rep, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []*fakeRunner{base, cand} {
		for id, n := range f.calls {
			if n > 1 && !wasCutShort(recorded, id) {
				t.Errorf("%s run %d ran %d times", f.side, id, n)
			}
		}
	}
	if len(progress) == 0 || progress[len(progress)-1].Remaining() != 0 {
		t.Errorf("progress: %+v", progress)
	}

	want := map[string]regression.Class{
		"good": regression.SamePass, "breaks": regression.Regressed, "breaks2": regression.Regressed,
		"flaky": regression.SpuriousRegressed, "fixed": regression.Fixed, "infra": regression.SpuriousRegressed,
		"both": regression.SameFailure,
	}
	if rep.Complete != len(projects) || rep.Pairs != len(projects) {
		t.Errorf("%d of %d pairs complete, want %d", rep.Complete, rep.Pairs, len(projects))
	}
	for _, r := range rep.Results {
		if r.Class != want[r.Project] {
			t.Errorf("%s: %s, want %s", r.Project, r.Class, want[r.Project])
		}
		switch r.Project {
		case "breaks":
			if r.Reruns != 3 || r.ConfirmedSide != Candidate || r.Step != outcome.StepTests || !strings.Contains(r.Candidate.LogTail, "bad value 42") {
				t.Errorf("breaks: %+v", r)
			}
		case "flaky":
			// Failed first and on rerun 1, passed on rerun 2: no third.
			if r.Reruns != 2 || !strings.Contains(r.Flaky, "rerun 2 of 2") {
				t.Errorf("flaky: %d reruns, %q", r.Reruns, r.Flaky)
			}
		case "fixed":
			if r.ConfirmedSide != Baseline || r.Reruns != 3 {
				t.Errorf("fixed: confirmed %q %d times", r.ConfirmedSide, r.Reruns)
			}
		case "infra", "good", "both":
			if r.Reruns != 0 {
				t.Errorf("%s: %d reruns, want none", r.Project, r.Reruns)
			}
		}
	}
	// breaks and breaks2 fail the same way, numbers aside: one bin.
	if len(rep.Bins) != 1 || len(rep.Bins[0].Results) != 2 || !strings.Contains(string(rep.Bins[0].Signature), "ValueError") {
		t.Fatalf("bins: %+v", rep.Bins)
	}
	bug := rep.Bins[0].BugReport
	for _, s := range []string{"setuptools 58.1.0 breaks 2 release(s)", "breaks 1.0 on Python 3.8", "breaks2 1.0 on Python 3.8", "bad value"} {
		if !strings.Contains(bug, s) {
			t.Errorf("bug report lacks %q:\n%s", s, bug)
		}
	}
	if rep.Count(regression.Regressed) != 2 || rep.Count(regression.SpuriousRegressed) != 2 {
		t.Errorf("counts %+v", rep.Counts)
	}

	// The files: JSON that reads back, HTML that names the bin.
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil || back.Schema != Schema || len(back.Results) != len(projects) {
		t.Errorf("report.json: %v, %+v", err, back)
	}
	html, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	if !strings.Contains(string(html), "breaks 1.0 on 3.8") || !strings.Contains(string(html), "bad value 42") {
		t.Errorf("report.html lacks the regression")
	}
}

// wasCutShort reports whether a run id is one the first life started but
// did not record (it ran again in the second life, rightly).
func wasCutShort(recorded map[key]*Record, id int64) bool {
	for _, r := range recorded {
		if r.ID == id {
			return false
		}
	}
	return true
}

func TestRunIDsAreStable(t *testing.T) {
	// zlib.crc32(b"candidate/flaky/1.0/3.8/0") + 1 in Python: 3866389919.
	k := key{Candidate, "flaky", "1.0", "3.8", 0}
	if got := k.id(); got != 3866389919 {
		t.Errorf("id %d", got)
	}
}
