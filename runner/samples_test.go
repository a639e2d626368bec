package runner_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pysmoke/pysmoke/artifacts"
	"github.com/pysmoke/pysmoke/diff"
	"github.com/pysmoke/pysmoke/internal/expected"
	"github.com/pysmoke/pysmoke/internal/sandboxtest"
	"github.com/pysmoke/pysmoke/internal/testenv"
	"github.com/pysmoke/pysmoke/interpreter"
	"github.com/pysmoke/pysmoke/localindex"
	"github.com/pysmoke/pysmoke/outcome"
	"github.com/pysmoke/pysmoke/runner"
	"github.com/pysmoke/pysmoke/sandbox"
	"github.com/pysmoke/pysmoke/toolchain"
)

// TestSamplesMatchExpected runs the samples on the namespace backend and
// compares each step with the hand-written expected outcomes, and the
// archives and classes between Pythons with expected-diffs.txt and
// expected-classes.txt. make test runs each sample on the Pythons where
// its expected outcomes change (both sides of each change), those its
// expected diffs and classes name, and the oldest and the newest, with
// smokegood on every Python (each interpreter's toolchain building a
// package): about half the matrix, each interpreter still run. make
// test-full runs every sample on every Python.
func TestSamplesMatchExpected(t *testing.T) {
	backend := sandboxtest.Namespace(t)
	ins := testenv.Pythons(t)
	want, err := expected.Load("../testdata/expected-outcomes.txt")
	if err != nil {
		t.Fatal(err)
	}
	var minors []string
	for _, in := range ins {
		minors = append(minors, in.Minor)
	}
	plan := map[string][]string{}
	for _, s := range want.Samples() {
		plan[s] = minors
		if os.Getenv("PYSMOKE_TEST_FULL") == "" && s != "smokegood" {
			plan[s] = namedPythons(t, s, want.Changes(s, minors), minors)
		}
	}
	checkSamples(t, backend, ins, plan, true, testenv.Toolchain(t))
}

// namedPythons adds to some the Pythons that expected-diffs.txt and
// expected-classes.txt name for sample (of all, in all's order).
func namedPythons(t *testing.T, sample string, some, all []string) []string {
	named := map[string]bool{}
	for _, py := range some {
		named[py] = true
	}
	for _, c := range loadExpectedDiffs(t) {
		if c.sample == sample {
			named[c.a], named[c.b] = true, true
		}
	}
	for _, c := range loadExpectedClasses(t) {
		if c.sample == sample {
			named[c.a], named[c.b] = true, true
		}
	}
	var out []string
	for _, py := range all {
		if named[py] {
			out = append(out, py)
		}
	}
	return out
}

// dockerSamples are the samples make test runs on the Docker backend:
// those whose outcome rests on what the sandbox provides or withholds
// (the network, a C compiler and headers, the toolchain's build backends
// and test runners, lib2to3, a removed module, a build requirement not
// to be had).
var dockerSamples = []string{"cext", "flitpkg", "hatchpkg", "phonehome", "pkgtests", "py2only", "scmpkg", "smokegood", "use2to3", "usesimp", "needsbackend"}

// TestSamplesMatchExpectedDocker does the same on the Docker backend: the
// same expected file holds for both, which is the backends' parity. make
// test runs the samples of dockerSamples on the oldest and the newest
// interpreter (no PEP 517 front end on one, no lib2to3 and Debian 13's
// toolchain on the other; each Docker job costs containers and seconds):
// make test-full runs every sample on every interpreter.
func TestSamplesMatchExpectedDocker(t *testing.T) {
	backend := sandboxtest.Docker(t)
	ins := testenv.Pythons(t)
	samples := []string(nil)
	if os.Getenv("PYSMOKE_TEST_FULL") == "" {
		var some []interpreter.Interpreter
		for _, in := range ins {
			if slices.Contains([]string{"2.7", "3.13"}, in.Minor) {
				some = append(some, in)
			}
		}
		if len(some) > 0 {
			ins = some
		}
		samples = dockerSamples
	}
	want, err := expected.Load("../testdata/expected-outcomes.txt")
	if err != nil {
		t.Fatal(err)
	}
	if samples == nil {
		samples = want.Samples()
	}
	plan := map[string][]string{}
	for _, s := range samples {
		for _, in := range ins {
			plan[s] = append(plan[s], in.Minor)
		}
	}
	// The diffs and classes between the oldest and the newest alone would
	// not be the files': checked with every Python only.
	checkSamples(t, backend, ins, plan, os.Getenv("PYSMOKE_TEST_FULL") != "", testenv.Toolchain(t))
}

// checkSamples runs each sample of plan on its Pythons (of ins) with
// backend, two jobs at once, and reports every step that differs from
// expected-outcomes.txt; with between, also every diff and class between
// the Pythons each sample ran on that differs from expected-diffs.txt and
// expected-classes.txt.
func checkSamples(t *testing.T, backend sandbox.Backend, ins []interpreter.Interpreter, plan map[string][]string, between bool, tc *toolchain.Wheelhouse) {
	want, err := expected.Load("../testdata/expected-outcomes.txt")
	if err != nil {
		t.Fatal(err)
	}
	var samples []string
	for s := range plan {
		if !slices.Contains(want.Samples(), s) {
			t.Fatalf("sample %s is not in expected-outcomes.txt", s)
		}
		samples = append(samples, s)
	}
	slices.Sort(samples)
	dir := t.TempDir()
	// Every archive is kept, as the service will: the store's size
	// against the sum of the files is docs/benchmarks.md's figure.
	store, err := artifacts.Open(filepath.Join(dir, "artifacts"))
	if err != nil {
		t.Fatal(err)
	}
	r := runner.New(runner.Options{Backend: backend, Toolchain: tc, ScratchDir: filepath.Join(dir, "scratch"), Artifacts: store})
	var files int
	var sum int64
	sides := diffSides{}
	runs := sampleRuns{}
	got := expected.Table{}
	var jobs []runner.Job
	for _, sample := range samples {
		sdist, err := localindex.WriteSdist(filepath.Join(dir, "sdists"), filepath.Join("../testdata/samples", sample), sample, "1.0")
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range ins {
			if slices.Contains(plan[sample], in.Minor) {
				jobs = append(jobs, runner.Job{Project: sample, Version: "1.0", Sdist: sdist, Interpreter: in})
			}
		}
	}
	t.Logf("%s: %d jobs of %d samples on up to %d Pythons", backend.Name(), len(jobs), len(samples), len(ins))
	// What the tests step's detail must say where its reason alone does
	// not tell enough (written by hand from the samples).
	wantDetail := map[[2]string]string{
		{"undeclared", outcome.StepTests}:   "no module named freezegun: undeclared test dependency",
		{"missingdep", outcome.StepTests}:   "dependency unavailable: pysmoke-sample-absent",
		{"needsbackend", outcome.StepSdist}: "build requirement unavailable: pysmoke-sample-absent-backend>=1.0",
		{"needsbackend", outcome.StepWheel}: "build requirement unavailable: pysmoke-sample-absent-backend>=1.0",
	}
	runAll(t, r, jobs, func(job runner.Job, res runner.Result) {
		runs.add(job, res)
		for _, st := range res.Steps {
			if d, ok := wantDetail[[2]string{job.Project, st.Name}]; ok && !strings.HasPrefix(st.Detail, d) {
				t.Errorf("%s %s tests: detail %q, want it to start with %q", job.Project, job.Interpreter.Minor, st.Detail, d)
			}
			got[expected.Key{Sample: job.Project, Python: job.Interpreter.Minor, Step: st.Name}] = expected.Outcome{Status: string(st.Status), Reason: st.Reason}
			for _, a := range st.Artifacts {
				if _, err := store.Path(a.SHA256); err == nil {
					files++
					sum += a.Size
				}
			}
			sides.add(store, tc, job, st)
			if st.Status != outcome.Passed && st.Status != outcome.NotAvailable {
				t.Logf("%s %s %s: %s %s: %s", job.Project, job.Interpreter.Minor, st.Name, st.Status, st.Reason, firstLines(st.Log, 3))
			}
		}
	})
	for _, s := range samples {
		for _, d := range want.Compare(got, []string{s}, plan[s]) {
			t.Errorf("%s: %s", backend.Name(), d)
		}
	}
	if u, err := store.Usage(); err == nil {
		t.Logf("%s: artifact store: %d files, %d bytes, for %d archives of %d bytes", backend.Name(), u.Files, u.Bytes, files, sum)
	}
	// The diffs of testdata/expected-diffs.txt, from the artifacts this
	// run kept, and the classes of testdata/expected-classes.txt from its
	// outcomes, between the Pythons each sample ran on.
	if between {
		checkDiffs(t, sides, plan)
		checkClasses(t, runs, plan)
	}
	// Every job removed its scratch.
	left, _ := os.ReadDir(filepath.Join(dir, "scratch"))
	if len(left) != 0 {
		t.Errorf("scratch left behind: %d entries", len(left))
	}
}

func firstLines(b []byte, n int) string {
	lines := strings.SplitN(strings.TrimSpace(string(b)), "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, " | ")
}

// TestBuildTwiceSameManifests builds one release twice on the oldest and
// the newest interpreter: every archive the build steps produce lists the
// same members (path, size, mode, sha256) both times.
func TestBuildTwiceSameManifests(t *testing.T) {
	backend := sandboxtest.Namespace(t)
	ins := testenv.Pythons(t)
	tc := testenv.Toolchain(t)
	store, err := artifacts.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r := runner.New(runner.Options{Backend: backend, Toolchain: tc, ScratchDir: filepath.Join(t.TempDir(), "scratch"), Artifacts: store})
	sdist, err := localindex.WriteSdist(t.TempDir(), "../testdata/samples/smokegood", "smokegood", "1.0")
	if err != nil {
		t.Fatal(err)
	}
	picks := []interpreter.Interpreter{ins[0]}
	if len(ins) > 1 {
		picks = append(picks, ins[len(ins)-1])
	}
	for _, in := range picks {
		var runs [2]map[string][]outcome.Artifact
		var kept [2]diffSides
		for i := range runs {
			kept[i] = diffSides{}
			res, err := r.Run(context.Background(), runner.Job{Project: "smokegood", Version: "1.0", Sdist: sdist, Interpreter: in})
			if err != nil {
				t.Fatal(err)
			}
			runs[i] = map[string][]outcome.Artifact{}
			for _, st := range res.Steps {
				if st.Name == outcome.StepSdist || st.Name == outcome.StepBdist || st.Name == outcome.StepWheel {
					if st.Status != outcome.Passed || len(st.Artifacts) == 0 {
						t.Fatalf("%s %s: %s %s, %d artifacts: %s", in.Minor, st.Name, st.Status, st.Reason, len(st.Artifacts), firstLines(st.Log, 5))
					}
					runs[i][st.Name] = st.Artifacts
					kept[i].add(store, tc, runner.Job{Project: "smokegood", Interpreter: in}, st)
				}
			}
		}
		// And diffed: nothing differs, nothing needed normalising but
		// what is never compared (testdata/expected-diffs.txt).
		for k, a := range kept[0] {
			rep, err := diff.Archives(a, kept[1][k])
			if err != nil || !rep.Empty() || rep.Toolchain != "" || len(rep.Normalised) != 1 {
				t.Errorf("%s %s built twice: %v\n%s", in.Minor, k[2], err, rep)
			}
		}
		if len(kept[0]) != 3 {
			t.Errorf("%s: %d archives kept, want the sdist, bdist and wheel", in.Minor, len(kept[0]))
		}
		for step, arts := range runs[0] {
			again := runs[1][step]
			if len(arts) != len(again) {
				t.Errorf("%s %s: %d then %d artifacts", in.Minor, step, len(arts), len(again))
				continue
			}
			for j, a := range arts {
				b := again[j]
				if a.Path != b.Path || len(a.Members) == 0 || a.MembersError != "" {
					t.Errorf("%s %s: %s (%d members, %q) then %s", in.Minor, step, a.Path, len(a.Members), a.MembersError, b.Path)
					continue
				}
				if !slices.Equal(a.Members, b.Members) {
					for k := range a.Members {
						if k < len(b.Members) && a.Members[k] != b.Members[k] {
							t.Errorf("%s %s %s: member %+v then %+v", in.Minor, step, a.Path, a.Members[k], b.Members[k])
						}
					}
					if len(a.Members) != len(b.Members) {
						t.Errorf("%s %s %s: %d then %d members", in.Minor, step, a.Path, len(a.Members), len(b.Members))
					}
				}
				t.Logf("%s %s %s: %d members identical; archive sha256 %s then %s", in.Minor, step, a.Path, len(a.Members), a.SHA256[:12], b.SHA256[:12])
			}
		}
	}
}
