package experiment_test

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pysmoke/pysmoke/artifacts"
	"github.com/pysmoke/pysmoke/experiment"
	"github.com/pysmoke/pysmoke/internal/sandboxtest"
	"github.com/pysmoke/pysmoke/internal/testenv"
	"github.com/pysmoke/pysmoke/interpreter"
	"github.com/pysmoke/pysmoke/localindex"
	"github.com/pysmoke/pysmoke/regression"
	"github.com/pysmoke/pysmoke/runner"
	"github.com/pysmoke/pysmoke/toolchain"
)

// truth is one line of testdata/corpus/truths.txt.
type truth struct {
	axis, project string
	// a and b are the two versions (releases) or Pythons (interpreters);
	// version and python the fixed ones.
	a, b, version, python string
	class                 regression.Class
	step                  string
	line                  string
}

func loadTruths(t *testing.T) []truth {
	f, err := os.Open("../testdata/corpus/truths.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []truth
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) == 0 || strings.HasPrefix(fs[0], "#") {
			continue
		}
		tr := truth{axis: fs[0], line: sc.Text()}
		var rest []string
		switch {
		case tr.axis == "releases" && len(fs) >= 6:
			tr.project, tr.a, tr.b, tr.python, rest = fs[1], fs[2], fs[3], fs[4], fs[5:]
		case tr.axis == "interpreters" && len(fs) >= 6:
			tr.project, tr.version, tr.a, tr.b, rest = fs[1], fs[2], fs[3], fs[4], fs[5:]
		case tr.axis == "toolchains" && len(fs) >= 5:
			tr.project, tr.version, tr.python, rest = fs[1], fs[2], fs[3], fs[4:]
		default:
			t.Fatalf("truths.txt: %q", sc.Text())
		}
		if len(rest) > 2 {
			t.Fatalf("truths.txt: %q", sc.Text())
		}
		tr.class = regression.Class(rest[0])
		if len(rest) == 2 {
			tr.step = rest[1]
		}
		out = append(out, tr)
	}
	return out
}

// TestCorpusTruths runs the seeded corpus on the real sandbox and
// Pythons and checks that every pair classifies as truths.txt says: no
// false regression, none missed, the flaky sample spurious.
func TestCorpusTruths(t *testing.T) {
	backend := sandboxtest.Namespace(t)
	tc := testenv.Toolchain(t)
	truths := loadTruths(t)
	dir := t.TempDir()
	sdists := map[[2]string]string{}
	sdist := func(project, version string) string {
		k := [2]string{project, version}
		if p, ok := sdists[k]; ok {
			return p
		}
		p, err := localindex.WriteSdist(filepath.Join(dir, "sdists"), filepath.Join("../testdata/corpus", project, version), project, version)
		if err != nil {
			t.Fatal(err)
		}
		sdists[k] = p
		return p
	}
	arts := func(d string) *artifacts.Store {
		s, err := artifacts.Open(experiment.ArtifactsDir(d))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	scratch := filepath.Join(dir, "scratch")
	check := func(tr truth, v regression.Verdict) {
		t.Helper()
		if v.Class != tr.class || (tr.step != "" && v.Step != tr.step) {
			t.Errorf("%s\n  got %s", tr.line, v)
		}
	}

	// Releases: each version run once, each pair classified.
	r := runner.New(runner.Options{Backend: backend, Toolchain: tc, ScratchDir: scratch})
	steps := map[[3]string][]regression.Step{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	for _, tr := range truths {
		if tr.axis != "releases" {
			continue
		}
		for _, v := range []string{tr.a, tr.b} {
			k := [3]string{tr.project, v, tr.python}
			if _, ok := steps[k]; ok {
				continue
			}
			steps[k] = nil
			job := runner.Job{Project: tr.project, Version: v, Sdist: sdist(tr.project, v), Interpreter: testenv.Python(t, tr.python)}
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				res, err := r.Run(context.Background(), job)
				if err != nil {
					t.Error(err)
					return
				}
				var st []regression.Step
				for _, s := range res.Steps {
					st = append(st, regression.Step{Name: s.Name, Status: s.Status, Reason: s.Reason})
				}
				mu.Lock()
				steps[k] = st
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	for _, tr := range truths {
		if tr.axis == "releases" {
			check(tr, regression.Classify(steps[[3]string{tr.project, tr.a, tr.python}], steps[[3]string{tr.project, tr.b, tr.python}]))
		}
	}

	// Interpreters and toolchains: experiments, with their confirmations.
	run := func(name string, pythons []string, releases []experiment.Release, base, cand experiment.Side) *experiment.Report {
		t.Helper()
		d := filepath.Join(dir, name)
		if err := experiment.Create(d, experiment.Spec{Name: name, Pythons: pythons, Releases: releases, Confirm: 3}); err != nil {
			t.Fatal(err)
		}
		rep, err := experiment.Run(context.Background(), experiment.Options{Dir: d, Jobs: 2, Baseline: base, Candidate: cand})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	find := func(rep *experiment.Report, tr truth) regression.Verdict {
		for _, res := range rep.Results {
			if res.Project == tr.project && res.Version == tr.version {
				if res.Class == regression.SpuriousRegressed && res.Flaky != "" {
					t.Logf("%s: %s", tr.line, res.Flaky)
				}
				return regression.Verdict{Class: res.Class, Step: res.Step, Before: res.Before, After: res.After}
			}
		}
		t.Errorf("%s: not in the experiment's report", tr.line)
		return regression.Verdict{}
	}
	releasesOf := func(axis string) []experiment.Release {
		var out []experiment.Release
		for _, tr := range truths {
			if tr.axis == axis {
				out = append(out, experiment.Release{Project: tr.project, Version: tr.version, Sdist: sdist(tr.project, tr.version)})
			}
		}
		return out
	}

	// The interpreters: the candidate is 3.12 where the baseline has
	// 3.11 (every line of truths.txt compares these two).
	d := filepath.Join(dir, "interpreters")
	rn := runner.New(runner.Options{Backend: backend, Toolchain: tc, ScratchDir: scratch, Artifacts: arts(d)})
	py311, py312 := testenv.Python(t, "3.11"), testenv.Python(t, "3.12")
	rep := run("interpreters", []string{"3.12"}, releasesOf("interpreters"),
		experiment.Side{Runner: rn, Interpreters: map[string]interpreter.Interpreter{"3.12": py311}},
		experiment.Side{Runner: rn, Interpreters: map[string]interpreter.Interpreter{"3.12": py312}})
	for _, tr := range truths {
		if tr.axis == "interpreters" {
			if tr.a != "3.11" || tr.b != "3.12" {
				t.Fatalf("%s: the test compares 3.11 with 3.12 only", tr.line)
			}
			check(tr, find(rep, tr))
		}
	}

	// The toolchains: setuptools 56.0.0 against 58.1.0 on 3.8.
	st58, _ := filepath.Glob(filepath.Join(testenv.Python(t, "3.9").Prefix, "lib/python3.9/ensurepip/_bundled/setuptools-58.1.0-*.whl"))
	if len(st58) != 1 {
		t.Fatalf("3.9's ensurepip has no setuptools 58.1.0: %v", st58)
	}
	cand, err := toolchain.Candidate(tc, st58, filepath.Join(dir, "toolchains"))
	if err != nil {
		t.Fatal(err)
	}
	d = filepath.Join(dir, "toolchains")
	py38 := map[string]interpreter.Interpreter{"3.8": testenv.Python(t, "3.8")}
	rep = run("toolchains", []string{"3.8"}, releasesOf("toolchains"),
		experiment.Side{Runner: runner.New(runner.Options{Backend: backend, Toolchain: tc, ScratchDir: scratch, Artifacts: arts(d)}), Interpreters: py38},
		experiment.Side{Runner: runner.New(runner.Options{Backend: backend, Toolchain: cand, ScratchDir: scratch, Artifacts: arts(d)}), Interpreters: py38})
	for _, tr := range truths {
		if tr.axis == "toolchains" {
			check(tr, find(rep, tr))
		}
	}
}
