package runner_test

// Dependencies, for real: a local index over HTTP, the crawler as the
// runner's index (PEP 658 metadata, downloads verified into a mirror), the
// namespace sandbox, the offline toolchain and every interpreter found.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pysmoke/pysmoke/index"
	"github.com/pysmoke/pysmoke/internal/expected"
	"github.com/pysmoke/pysmoke/internal/sandboxtest"
	"github.com/pysmoke/pysmoke/internal/testenv"
	"github.com/pysmoke/pysmoke/interpreter"
	"github.com/pysmoke/pysmoke/localindex"
	"github.com/pysmoke/pysmoke/outcome"
	"github.com/pysmoke/pysmoke/resolver"
	"github.com/pysmoke/pysmoke/runner"
	"github.com/pysmoke/pysmoke/sandbox"
	"github.com/pysmoke/pysmoke/toolchain"
)

// depIndex is a local index served over HTTP, with an index client
// reading it into a mirror: the runner's DependencyIndex, as in the
// service.
type depIndex struct {
	ix     *localindex.Index
	client *index.Client
	mirror string
}

func newDepIndex(t *testing.T) *depIndex {
	t.Helper()
	dir := t.TempDir()
	ix, err := localindex.New(filepath.Join(dir, "index"), localindex.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ix.Handler())
	t.Cleanup(srv.Close)
	d := &depIndex{ix: ix, mirror: filepath.Join(dir, "mirror")}
	d.client, err = index.New(index.Options{URL: srv.URL, MirrorDir: d.mirror, RateLimit: -1,
		MaxRetryWait: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// publish adds a file to the index and returns its sha256.
func (d *depIndex) publish(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.ix.AddFile(filepath.Base(path), b); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// buildWheels builds the wheel of a project of testdata/dependencies on
// each interpreter with the runner (in the sandbox, as any release) and
// returns their paths.
func buildWheels(t *testing.T, r *runner.Runner, sample string, ins []interpreter.Interpreter) []string {
	t.Helper()
	dir := t.TempDir()
	sdist, err := localindex.WriteSdist(filepath.Join(dir, "sdist"), filepath.Join("../testdata/dependencies", sample), sample, "1.0")
	if err != nil {
		t.Fatal(err)
	}
	runAll(t, r, each(ins, runner.Job{Project: sample, Version: "1.0", Sdist: sdist, WheelDir: filepath.Join(dir, "wheels")}), func(job runner.Job, res runner.Result) {
		for _, st := range res.Steps {
			if st.Name == outcome.StepWheel && st.Status != outcome.Passed {
				t.Errorf("%s on %s: wheel %s %s: %s", sample, job.Interpreter.Minor, st.Status, st.Reason, firstLines(st.Log, 5))
			}
		}
	})
	wheels, _ := filepath.Glob(filepath.Join(dir, "wheels", "*.whl"))
	if len(wheels) != len(ins) {
		t.Fatalf("%d wheels of %s for %d interpreters: %v", len(wheels), sample, len(ins), wheels)
	}
	return wheels
}

// runAll runs the jobs, two at a time, and hands each result to check
// (under a lock).
func runAll(t *testing.T, r *runner.Runner, jobs []runner.Job, check func(runner.Job, runner.Result)) {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	for _, job := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			res, err := r.Run(context.Background(), job)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("%s on %s: %v", job.Project, job.Interpreter.Minor, err)
				return
			}
			check(job, res)
		}()
	}
	wg.Wait()
}

// each makes a job of a release for each interpreter.
func each(ins []interpreter.Interpreter, job runner.Job) []runner.Job {
	var jobs []runner.Job
	for _, in := range ins {
		j := job
		j.Interpreter = in
		jobs = append(jobs, j)
	}
	return jobs
}

func testsStep(res runner.Result) runner.StepResult {
	for _, st := range res.Steps {
		if st.Name == outcome.StepTests {
			return st
		}
	}
	return runner.StepResult{}
}

// depSetup is what the dependency tests share: the namespace sandbox, the
// interpreters, the toolchain, the hand-written expected-dependencies.txt
// and a scratch folder. Given samples, make test keeps the interpreters
// where those samples' expected outcomes change (expected.Table.Changes:
// either side of a change, the oldest and the newest); make test-full
// keeps all nine.
func depSetup(t *testing.T, samples ...string) (sandbox.Backend, []interpreter.Interpreter, *toolchain.Wheelhouse, expected.Table, string) {
	t.Helper()
	backend, ins, tc, want, scratch := depSetupAll(t)
	if len(samples) == 0 || os.Getenv("PYSMOKE_TEST_FULL") != "" {
		return backend, ins, tc, want, scratch
	}
	var minors []string
	for _, in := range ins {
		minors = append(minors, in.Minor)
	}
	keep := map[string]bool{}
	for _, s := range samples {
		for _, py := range want.Changes(s, minors) {
			keep[py] = true
		}
	}
	var some []interpreter.Interpreter
	for _, in := range ins {
		if keep[in.Minor] {
			some = append(some, in)
		}
	}
	return backend, some, tc, want, scratch
}

func depSetupAll(t *testing.T) (sandbox.Backend, []interpreter.Interpreter, *toolchain.Wheelhouse, expected.Table, string) {
	t.Helper()
	backend := sandboxtest.Namespace(t)
	ins := testenv.Pythons(t)
	tc := testenv.Toolchain(t)
	want, err := expected.Load("../testdata/expected-dependencies.txt")
	if err != nil {
		t.Fatal(err)
	}
	return backend, ins, tc, want, filepath.Join(t.TempDir(), "scratch")
}

// TestDependencies: depapp needs depcext (a C extension, on the index as
// one wheel per interpreter), depsdist (only an sdist) and pytest-mock
// (a plugin of the toolchain). Its matrix matches the hand-written
// expected-dependencies.txt, every passing cell records what it
// installed, and removing a dependency from the index turns the cells
// that need it into "dependency unavailable" naming it.
func TestDependencies(t *testing.T) {
	backend, ins, tc, want, scratch := depSetup(t, "depapp")
	start := time.Now()
	builder := runner.New(runner.Options{Backend: backend, Toolchain: tc, ScratchDir: scratch})
	d := newDepIndex(t)
	cextHash := map[string]string{} // minor -> sha256 of depcext's wheel for it
	cextFile := map[string]string{} // minor -> its file name
	for _, w := range buildWheels(t, builder, "depcext", ins) {
		sum := d.publish(t, w)
		for _, in := range ins {
			if strings.Contains(filepath.Base(w), "-cp"+strings.ReplaceAll(in.Minor, ".", "")+"-") {
				cextHash[in.Minor], cextFile[in.Minor] = sum, filepath.Base(w)
			}
		}
	}
	sdist, err := localindex.WriteSdist(t.TempDir(), "../testdata/dependencies/depsdist", "depsdist", "1.0")
	if err != nil {
		t.Fatal(err)
	}
	sdistHash := d.publish(t, sdist)
	t.Logf("published depcext's wheels and depsdist's sdist in %s", time.Since(start).Round(time.Second))

	app, err := localindex.WriteSdist(t.TempDir(), "../testdata/samples/depapp", "depapp", "1.0")
	if err != nil {
		t.Fatal(err)
	}
	r := runner.New(runner.Options{Backend: backend, Toolchain: tc, Index: d.client, ScratchDir: scratch})
	job := runner.Job{Project: "depapp", Version: "1.0", Sdist: app}

	t.Run("matrix", func(t *testing.T) {
		start := time.Now()
		got := expected.Table{}
		var pythons []string
		for _, in := range ins {
			pythons = append(pythons, in.Minor)
		}
		runAll(t, r, each(ins, job), func(job runner.Job, res runner.Result) {
			in := job.Interpreter
			for _, st := range res.Steps {
				got[expected.Key{Sample: "depapp", Python: in.Minor, Step: st.Name}] = expected.Outcome{Status: string(st.Status), Reason: st.Reason}
			}
			tests := testsStep(res)
			t.Logf("depapp on %s: tests %s %s %s", in.Minor, tests.Status, tests.Reason, tests.Detail)
			switch tests.Status {
			case outcome.Passed:
				// What was installed, by name, version and the hash of
				// the index's file (written by hand from the samples and
				// the toolchain's recipe).
				var names []string
				for _, p := range res.Dependencies {
					names = append(names, p.Project+" "+p.Version)
					switch p.Project {
					case "depcext":
						if p.SHA256 != cextHash[in.Minor] {
							t.Errorf("%s: depcext pinned %s (%s), want the wheel for %s (%s)", in.Minor, p.Filename, p.SHA256, in.Minor, cextHash[in.Minor])
						}
					case "depsdist":
						if p.Filename != "depsdist-1.0.tar.gz" || p.SHA256 != sdistHash {
							t.Errorf("%s: depsdist pinned %s (%s), want the sdist (%s)", in.Minor, p.Filename, p.SHA256, sdistHash)
						}
					}
				}
				mock := "pytest-mock 3.8.2"
				if in.Minor == "3.12" || in.Minor == "3.13" {
					mock = "pytest-mock 3.14.0"
				}
				if !slices.Contains(names, "depcext 1.0") || !slices.Contains(names, "depsdist 1.0") || !slices.Contains(names, mock) {
					t.Errorf("%s: installed %v, want depcext 1.0, depsdist 1.0 and %s", in.Minor, names, mock)
				}
				if !strings.Contains(string(tests.Log), "test_with_mocker PASSED") {
					t.Errorf("%s: the mocker test did not pass:\n%s", in.Minor, firstLines(tests.Log, 40))
				}
			case outcome.DeclaredUnsupported:
				if !strings.Contains(tests.Detail, "depsdist") || !strings.Contains(tests.Detail, ">=3.6") {
					t.Errorf("%s: %q does not name depsdist and its Requires-Python", in.Minor, tests.Detail)
				}
			case outcome.Machinery:
				if !strings.Contains(tests.Detail, "pytest-mock") {
					t.Errorf("%s: %q does not name pytest-mock", in.Minor, tests.Detail)
				}
			}
		})
		for _, diff := range want.Compare(got, []string{"depapp"}, pythons) {
			t.Error(diff)
		}
		// The mirror holds the closure, and only files the index listed.
		sums := []string{sdistHash}
		for _, in := range ins {
			if want[expected.Key{Sample: "depapp", Python: in.Minor, Step: outcome.StepTests}].Status == string(outcome.Passed) {
				sums = append(sums, cextHash[in.Minor])
			}
		}
		for _, sum := range sums {
			if m, _ := filepath.Glob(filepath.Join(d.mirror, sum[:2], sum, "*")); len(m) == 0 {
				t.Errorf("mirror lacks %s", sum)
			}
		}
		t.Logf("depapp on %d interpreters in %s", len(ins), time.Since(start).Round(time.Second))
	})

	t.Run("removed", func(t *testing.T) {
		// Two interpreters where everything resolved, in one round: the
		// newer one's depcext wheel is removed, and depsdist altogether.
		// depcext is resolved first, so the newer names depcext (the
		// other wheels do not fit it), the older depsdist (gone).
		var two []interpreter.Interpreter
		for _, in := range ins {
			if want[expected.Key{Sample: "depapp", Python: in.Minor, Step: outcome.StepTests}].Status == string(outcome.Passed) {
				two = append(two, in)
			}
		}
		if len(two) < 2 {
			testenv.Require(t, "two interpreters where depapp's tests run", fmt.Errorf("only %d", len(two)))
		}
		two = two[len(two)-2:]
		older, newer := two[0], two[1]
		for _, f := range []string{cextFile[newer.Minor], "depsdist-1.0.tar.gz"} {
			if err := d.ix.Remove(f); err != nil {
				t.Fatal(err)
			}
		}
		wantMissing := map[string]string{older.Minor: "depsdist", newer.Minor: "depcext"}
		runAll(t, r, each(two, job), func(job runner.Job, res runner.Result) {
			in, tests := job.Interpreter, testsStep(res)
			missing := wantMissing[in.Minor]
			if tests.Status != outcome.Machinery || tests.Reason != outcome.ReasonDependencyUnavailable ||
				!strings.HasPrefix(tests.Detail, "dependency unavailable: "+missing) {
				t.Errorf("%s: tests %s %s %q, want machinery-error dependency-unavailable naming %s",
					in.Minor, tests.Status, tests.Reason, tests.Detail, missing)
			}
			if len(res.Dependencies) != 0 {
				t.Errorf("%s: dependencies recorded for an unresolved cell: %v", in.Minor, res.Dependencies)
			}
			t.Logf("%s: %s", in.Minor, tests.Detail)
		})
	})
}

// TestDeclaredTestEnvironments: toxapp and groupapp declare what their
// tests need only in their own files (tox.ini deps through -r
// requirements-dev.txt; a PEP 735 group), never in their metadata. Over a
// local index that holds depsdist (as an sdist and as a wheel), their
// matrices match the hand-written expected-dependencies.txt and each
// passing tests step says where its environment came from; with depsdist
// removed from the index, their tests are dependency-unavailable naming
// it, not failed.
func TestDeclaredTestEnvironments(t *testing.T) {
	backend, ins, tc, want, scratch := depSetup(t, "toxapp", "groupapp")
	d := newDepIndex(t)
	sdist, err := localindex.WriteSdist(t.TempDir(), "../testdata/dependencies/depsdist", "depsdist", "1.0")
	if err != nil {
		t.Fatal(err)
	}
	d.publish(t, sdist)
	newest := ins[len(ins)-1:]
	builder := runner.New(runner.Options{Backend: backend, Toolchain: tc, ScratchDir: scratch})
	wheels := buildWheels(t, builder, "depsdist", newest)
	d.publish(t, wheels[0])
	r := runner.New(runner.Options{Backend: backend, Toolchain: tc, Index: d.client, ScratchDir: scratch})
	samples := map[string]string{"toxapp": "tox.ini [testenv]", "groupapp": "pyproject.toml [dependency-groups] test"}
	jobs := map[string]runner.Job{}
	var all []runner.Job
	for sample := range samples {
		app, err := localindex.WriteSdist(t.TempDir(), "../testdata/samples/"+sample, sample, "1.0")
		if err != nil {
			t.Fatal(err)
		}
		jobs[sample] = runner.Job{Project: sample, Version: "1.0", Sdist: app}
		all = append(all, each(ins, jobs[sample])...)
	}
	var pythons []string
	for _, in := range ins {
		pythons = append(pythons, in.Minor)
	}
	got := expected.Table{}
	var mu sync.Mutex
	runAll(t, r, all, func(job runner.Job, res runner.Result) {
		mu.Lock()
		defer mu.Unlock()
		for _, st := range res.Steps {
			got[expected.Key{Sample: job.Project, Python: job.Interpreter.Minor, Step: st.Name}] = expected.Outcome{Status: string(st.Status), Reason: st.Reason}
		}
		tests := testsStep(res)
		if tests.Status == outcome.Passed {
			from := samples[job.Project]
			if res.TestSource != from || !strings.Contains(string(tests.Log), "the test environment from "+from+": depsdist") {
				t.Errorf("%s on %s: test source %q, want %q; log:\n%s", job.Project, job.Interpreter.Minor, res.TestSource, from, firstLines(tests.Log, 10))
			}
		}
		if job.Project == "toxapp" && tests.Status == outcome.Passed && !strings.Contains(string(tests.Log), "pysmoke: python -m pytest tests") {
			t.Errorf("toxapp on %s: its tox command did not run:\n%s", job.Interpreter.Minor, firstLines(tests.Log, 20))
		}
		if job.Project == "toxapp" && job.Interpreter.Minor == "3.6" && !strings.HasPrefix(tests.Detail, "dependency unavailable: pytest") {
			t.Errorf("toxapp on 3.6: %s %s %q, want pytest named as unavailable", tests.Status, tests.Reason, tests.Detail)
		}
		if tests.Status != outcome.Passed {
			t.Logf("%s on %s: tests %s %s %s", job.Project, job.Interpreter.Minor, tests.Status, tests.Reason, tests.Detail)
		}
	})
	for _, diff := range want.Compare(got, []string{"toxapp", "groupapp"}, pythons) {
		t.Error(diff)
	}

	// depsdist gone from the index: on the newest Python, both samples'
	// tests cannot have their declared environment.
	for _, f := range []string{filepath.Base(sdist), filepath.Base(wheels[0])} {
		if err := d.ix.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	var last []runner.Job
	for _, job := range jobs {
		last = append(last, each(newest, job)...)
	}
	runAll(t, r, last, func(job runner.Job, res runner.Result) {
		tests := testsStep(res)
		if tests.Status != outcome.Machinery || tests.Reason != outcome.ReasonDependencyUnavailable ||
			!strings.HasPrefix(tests.Detail, "dependency unavailable: depsdist") {
			t.Errorf("%s without depsdist: tests %s %s %q, want machinery-error dependency-unavailable naming depsdist",
				job.Project, tests.Status, tests.Reason, tests.Detail)
		}
	})
}

// TestDependencyMetadataInSandbox: markdep, a dependency published only as
// an sdist, leaves a mark in a host folder whenever its setup.py runs
// (the folder is named both in the environment and in a file beside
// setup.py). Resolving and installing markapp, which requires it, leaves
// that folder empty: markdep's metadata was made in the sandbox, with
// either backend. As a control, running the same setup.py on the host does
// leave a mark.
func TestDependencyMetadataInSandbox(t *testing.T) {
	t.Run("namespace", func(t *testing.T) { markdepLeavesNoMark(t, sandboxtest.Namespace(t)) })
	t.Run("docker", func(t *testing.T) { markdepLeavesNoMark(t, sandboxtest.Docker(t)) })
}

func markdepLeavesNoMark(t *testing.T, backend sandbox.Backend) {
	all := testenv.Pythons(t)
	// The oldest and the newest: the point is where setup.py runs, and
	// that the closure installs both into 2.7's user base and into a
	// venv.
	ins := []interpreter.Interpreter{all[0]}
	if len(all) > 1 {
		ins = append(ins, all[len(all)-1])
	}
	tc := testenv.Toolchain(t) // the wheelhouse the other tests use

	marks := t.TempDir()
	src := filepath.Join(t.TempDir(), "markdep")
	if err := os.CopyFS(src, os.DirFS("../testdata/dependencies/markdep")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "MARKDIR"), []byte(marks+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MARKDEP_DIR", marks) // what a process started on the host would inherit
	d := newDepIndex(t)
	sdist, err := localindex.WriteSdist(t.TempDir(), src, "markdep", "1.0")
	if err != nil {
		t.Fatal(err)
	}
	d.publish(t, sdist)
	app, err := localindex.WriteSdist(t.TempDir(), "../testdata/samples/markapp", "markapp", "1.0")
	if err != nil {
		t.Fatal(err)
	}
	r := runner.New(runner.Options{Backend: backend, Toolchain: tc, Index: d.client, ScratchDir: filepath.Join(t.TempDir(), "scratch")})
	runAll(t, r, each(ins, runner.Job{Project: "markapp", Version: "1.0", Sdist: app}), func(job runner.Job, res runner.Result) {
		in, tests := job.Interpreter, testsStep(res)
		if tests.Status != outcome.Passed {
			t.Errorf("markapp on %s: tests %s %s %q\n%s", in.Minor, tests.Status, tests.Reason, tests.Detail, firstLines(tests.Log, 40))
			return
		}
		t.Logf("markapp on %s, tests step:\n%s", in.Minor, firstLines(tests.Log, 30))
		if len(res.Dependencies) != 1 || res.Dependencies[0] != (resolver.Pin{Project: "markdep", Version: "1.0", Filename: "markdep-1.0.tar.gz", SHA256: res.Dependencies[0].SHA256}) {
			t.Errorf("%s: dependencies %+v, want markdep 1.0 from its sdist", in.Minor, res.Dependencies)
		}
		if !strings.Contains(string(tests.Log), "building markdep-1.0.tar.gz into a wheel in the sandbox") {
			t.Errorf("%s: the tests log does not show markdep built in the sandbox:\n%s", in.Minor, firstLines(tests.Log, 20))
		}
	})
	if left, _ := os.ReadDir(marks); len(left) != 0 {
		t.Fatalf("markdep's setup.py ran on the host: %v", left)
	}

	// The control: the mark does appear when setup.py runs on the host
	// (with an interpreter that has setuptools of its own).
	host := all[0]
	for _, in := range all {
		if in.Setuptools != "" {
			host = in
		}
	}
	control := t.TempDir()
	cmd := exec.Command(host.Path, "setup.py", "--name")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "MARKDEP_DIR="+control)
	if err := os.WriteFile(filepath.Join(src, "VERSION"), []byte("1.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("control: setup.py does not run on the host's %s (%v): %s", host.Minor, err, out)
	}
	if left, _ := os.ReadDir(control); len(left) != 1 {
		t.Errorf("control: setup.py run on the host left %d marks, want 1", len(left))
	}
}

// TestDependencyDoesNotBuild: a dependency published only as an sdist
// that fails to build is "dependency unavailable" naming it (the
// machinery's: it cannot be installed), never a failure of the release.
func TestDependencyDoesNotBuild(t *testing.T) {
	backend := sandboxtest.Namespace(t)
	all := testenv.Pythons(t)
	ins := all[len(all)-1:]
	tc := testenv.Toolchain(t) // the wheelhouse the other tests use
	dir := t.TempDir()
	write := func(rel, text string) {
		t.Helper()
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("brokendep/setup.py", "raise SystemExit('brokendep does not build anywhere')\n")
	write("needsbroken/setup.py", "from setuptools import setup\nsetup(name='needsbroken', version='1.0', packages=['needsbroken'], install_requires=['brokendep'])\n")
	write("needsbroken/needsbroken/__init__.py", "")
	write("needsbroken/tests/test_nothing.py", "def test_nothing():\n    pass\n")
	d := newDepIndex(t)
	sdist, err := localindex.WriteSdist(t.TempDir(), filepath.Join(dir, "brokendep"), "brokendep", "1.0")
	if err != nil {
		t.Fatal(err)
	}
	d.publish(t, sdist)
	app, err := localindex.WriteSdist(t.TempDir(), filepath.Join(dir, "needsbroken"), "needsbroken", "1.0")
	if err != nil {
		t.Fatal(err)
	}
	r := runner.New(runner.Options{Backend: backend, Toolchain: tc, Index: d.client, ScratchDir: filepath.Join(t.TempDir(), "scratch")})
	res, err := r.Run(context.Background(), runner.Job{Project: "needsbroken", Version: "1.0", Sdist: app, Interpreter: ins[0]})
	if err != nil {
		t.Fatal(err)
	}
	tests := testsStep(res)
	want := "dependency unavailable: brokendep: its sdist brokendep-1.0.tar.gz does not build on this Python"
	if tests.Status != outcome.Machinery || tests.Reason != outcome.ReasonDependencyUnavailable || !strings.HasPrefix(tests.Detail, want) {
		t.Errorf("tests %s %s %q, want machinery-error dependency-unavailable %q...", tests.Status, tests.Reason, tests.Detail, want)
	}
	if !strings.Contains(string(tests.Log), "brokendep does not build anywhere") {
		t.Errorf("the build's output is not in the log:\n%s", firstLines(tests.Log, 30))
	}
	if res.Status != outcome.Machinery {
		t.Errorf("cell %s, want machinery-error (not the release's failure)", res.Status)
	}
}

// TestBuildRequirementsFromIndex: needsbackend's build requirement
// "pysmoke-sample-absent-backend>=1.0" is resolved like any dependency,
// its version range checked: with only 0.9 on the index the build steps
// are dependency-unavailable saying no version satisfies it; with 1.0
// (an sdist, built in the job's sandbox) every build step passes having
// installed it; with none at all they are dependency-unavailable again,
// naming it. On the oldest and the newest Python.
func TestBuildRequirementsFromIndex(t *testing.T) {
	backend, ins, tc, _, scratch := depSetup(t)
	picks := []interpreter.Interpreter{ins[0], ins[len(ins)-1]}
	d := newDepIndex(t)
	app, err := localindex.WriteSdist(t.TempDir(), "../testdata/samples/needsbackend", "needsbackend", "1.0")
	if err != nil {
		t.Fatal(err)
	}
	r := runner.New(runner.Options{Backend: backend, Toolchain: tc, Index: d.client, ScratchDir: scratch})
	job := runner.Job{Project: "needsbackend", Version: "1.0", Sdist: app}
	published := map[string]string{}
	for _, v := range []string{"0.9", "1.0"} {
		sd, err := localindex.WriteSdist(t.TempDir(), "../testdata/dependencies/absentbackend", "pysmoke-sample-absent-backend", v)
		if err != nil {
			t.Fatal(err)
		}
		published[v] = sd
	}
	buildSteps := []string{outcome.StepSdist, outcome.StepBdist, outcome.StepWheel}
	check := func(phase string, want func(runner.StepResult) string) {
		runAll(t, r, each(picks, job), func(job runner.Job, res runner.Result) {
			for _, st := range res.Steps {
				if !slices.Contains(buildSteps, st.Name) {
					continue
				}
				if problem := want(st); problem != "" {
					t.Errorf("%s, %s on %s: %s %s %q: %s; log:\n%s", phase, st.Name, job.Interpreter.Minor, st.Status, st.Reason, st.Detail, problem, firstLines(st.Log, 12))
				}
			}
		})
	}
	unavailable := func(detail string) func(runner.StepResult) string {
		return func(st runner.StepResult) string {
			if st.Status != outcome.Machinery || st.Reason != outcome.ReasonDependencyUnavailable || !strings.Contains(st.Detail, detail) {
				return "want machinery-error dependency-unavailable saying " + detail
			}
			return ""
		}
	}

	d.publish(t, published["0.9"])
	check("only 0.9 on the index", unavailable("no version of pysmoke-sample-absent-backend satisfies >=1.0"))

	d.publish(t, published["1.0"])
	check("1.0 on the index", func(st runner.StepResult) string {
		switch {
		case st.Status != outcome.Passed:
			return "want passed"
		case st.Name == outcome.StepSdist && !strings.Contains(string(st.Log), "pysmoke: pysmoke-sample-absent-backend 1.0: "):
			return "its log does not say it installed pysmoke-sample-absent-backend 1.0"
		}
		return ""
	})

	for _, f := range published {
		if err := d.ix.Remove(filepath.Base(f)); err != nil {
			t.Fatal(err)
		}
	}
	check("none on the index", unavailable("build requirement unavailable: pysmoke-sample-absent-backend>=1.0: pysmoke-sample-absent-backend is not on the index"))
}
