package runner_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pysmoke/pysmoke/internal/expected"
	"github.com/pysmoke/pysmoke/localindex"
	"github.com/pysmoke/pysmoke/runner"
	"github.com/pysmoke/pysmoke/toolchain"
)

func requirePythons(t testing.TB) []runner.Interpreter {
	t.Helper()
	ins, problems := runner.Discover(context.Background(), runner.DiscoverOptions{})
	for _, p := range problems {
		t.Log(p)
	}
	if len(ins) == 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("no Python interpreters found in CI")
		}
		t.Skip("no Python interpreters found")
	}
	return ins
}

// requireToolchain returns the offline wheelhouse for ins, built into the
// user's cache on first use (a fresh machine needs Debian's mirror once).
// Under CI a toolchain that cannot be built is a failure, never a skip.
//
// It is always the wheelhouse of every interpreter found, whichever ins
// a test runs on: the one make toolchain built, not one per subset.
func requireToolchain(t testing.TB, ins []runner.Interpreter) *toolchain.Wheelhouse {
	t.Helper()
	all, _ := runner.Discover(context.Background(), runner.DiscoverOptions{})
	var pys []toolchain.Python
	for _, in := range append(all, ins...) {
		if slices.ContainsFunc(pys, func(p toolchain.Python) bool { return p.Minor == in.Minor }) {
			continue
		}
		pys = append(pys, toolchain.Python{Minor: in.Minor, Prefix: in.Prefix})
	}
	w, err := toolchain.Ensure(context.Background(), toolchain.Options{Pythons: pys})
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("offline toolchain: %v", err)
		}
		t.Skipf("offline toolchain: %v", err)
	}
	return w
}

// TestSamplesMatchExpected runs every sample on every interpreter on the
// namespace backend and compares each step with the hand-written expected
// outcomes.
func TestSamplesMatchExpected(t *testing.T) {
	backend := runner.RequireNamespace(t)
	ins := requirePythons(t)
	checkSamples(t, backend, ins, requireToolchain(t, ins))
}

// TestSamplesMatchExpectedDocker does the same on the Docker backend: the
// same expected file holds for both, which is the backends' parity. make
// test runs the oldest and the newest interpreter (no PEP 517 front end on
// one, no lib2to3 and Debian 13's toolchain on the other; each Docker job
// costs a container and seconds): make test-full runs them all.
func TestSamplesMatchExpectedDocker(t *testing.T) {
	backend := runner.RequireDocker(t)
	ins := requirePythons(t)
	if os.Getenv("PYSMOKE_TEST_FULL") == "" {
		var some []runner.Interpreter
		for _, in := range ins {
			if slices.Contains([]string{"2.7", "3.13"}, in.Minor) {
				some = append(some, in)
			}
		}
		if len(some) > 0 {
			ins = some
		}
	}
	checkSamples(t, backend, ins, requireToolchain(t, ins))
}

// checkSamples runs every sample of the expected file on ins with backend,
// two jobs at once, and reports every step that differs from the file.
func checkSamples(t *testing.T, backend runner.Backend, ins []runner.Interpreter, tc *toolchain.Wheelhouse) {
	want, err := expected.Load("../testdata/expected-outcomes.txt")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	r := runner.New(runner.Options{Backend: backend, Toolchain: tc, ScratchDir: filepath.Join(dir, "scratch")})
	got := expected.Table{}
	var pythons []string
	for _, in := range ins {
		pythons = append(pythons, in.Minor)
	}
	var jobs []runner.Job
	for _, sample := range want.Samples() {
		sdist, err := localindex.WriteSdist(filepath.Join(dir, "sdists"), filepath.Join("../testdata/samples", sample), sample, "1.0")
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range ins {
			jobs = append(jobs, runner.Job{Project: sample, Version: "1.0", Sdist: sdist, Interpreter: in})
		}
	}
	runAll(t, r, jobs, func(job runner.Job, res runner.Result) {
		for _, st := range res.Steps {
			got[expected.Key{Sample: job.Project, Python: job.Interpreter.Minor, Step: st.Name}] = expected.Outcome{Status: string(st.Status), Reason: st.Reason}
			if st.Status != runner.Passed && st.Status != runner.NotAvailable {
				t.Logf("%s %s %s: %s %s: %s", job.Project, job.Interpreter.Minor, st.Name, st.Status, st.Reason, firstLines(st.Log, 3))
			}
		}
	})
	for _, d := range want.Compare(got, want.Samples(), pythons) {
		t.Errorf("%s: %s", backend.Name(), d)
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
	backend := runner.RequireNamespace(t)
	ins := requirePythons(t)
	r := runner.New(runner.Options{Backend: backend, Toolchain: requireToolchain(t, ins), ScratchDir: filepath.Join(t.TempDir(), "scratch")})
	sdist, err := localindex.WriteSdist(t.TempDir(), "../testdata/samples/smokegood", "smokegood", "1.0")
	if err != nil {
		t.Fatal(err)
	}
	picks := []runner.Interpreter{ins[0]}
	if len(ins) > 1 {
		picks = append(picks, ins[len(ins)-1])
	}
	for _, in := range picks {
		var runs [2]map[string][]runner.Artifact
		for i := range runs {
			res, err := r.Run(context.Background(), runner.Job{Project: "smokegood", Version: "1.0", Sdist: sdist, Interpreter: in})
			if err != nil {
				t.Fatal(err)
			}
			runs[i] = map[string][]runner.Artifact{}
			for _, st := range res.Steps {
				if st.Name == runner.StepSdist || st.Name == runner.StepBdist || st.Name == runner.StepWheel {
					if st.Status != runner.Passed || len(st.Artifacts) == 0 {
						t.Fatalf("%s %s: %s %s, %d artifacts: %s", in.Minor, st.Name, st.Status, st.Reason, len(st.Artifacts), firstLines(st.Log, 5))
					}
					runs[i][st.Name] = st.Artifacts
				}
			}
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
