package runner_test

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pysmoke/pysmoke/artifacts"
	"github.com/pysmoke/pysmoke/diff"
	"github.com/pysmoke/pysmoke/internal/sandboxtest"
	"github.com/pysmoke/pysmoke/internal/testenv"
	"github.com/pysmoke/pysmoke/interpreter"
	"github.com/pysmoke/pysmoke/localindex"
	"github.com/pysmoke/pysmoke/outcome"
	"github.com/pysmoke/pysmoke/runner"
)

// diffCase is one (sample, step, a, b) of testdata/expected-diffs.txt and
// the lines it expects ("added PATH", "field FILE NAME", ...).
type diffCase struct {
	sample, step, a, b string
	want               []string
}

func loadExpectedDiffs(t *testing.T) []*diffCase {
	f, err := os.Open("../testdata/expected-diffs.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []*diffCase
	by := map[[4]string]*diffCase{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) == 0 || strings.HasPrefix(fs[0], "#") {
			continue
		}
		if len(fs) < 5 {
			t.Fatalf("expected-diffs.txt: %q: too few fields", sc.Text())
		}
		k := [4]string{fs[0], fs[1], fs[2], fs[3]}
		c := by[k]
		if c == nil {
			c = &diffCase{sample: fs[0], step: fs[1], a: fs[2], b: fs[3]}
			by[k] = c
			cases = append(cases, c)
		}
		if fs[4] != "none" {
			c.want = append(c.want, strings.Join(fs[4:], " "))
		}
	}
	return cases
}

// observed is a report as the file's lines: what remains that is not the
// toolchain's.
func observed(r diff.Report) []string {
	var out []string
	for _, p := range r.Added {
		out = append(out, "added "+p)
	}
	for _, p := range r.Missing {
		out = append(out, "missing "+p)
	}
	for _, c := range r.Changed {
		out = append(out, "changed "+c.Path)
	}
	for _, f := range r.Metadata {
		if !f.Toolchain {
			out = append(out, "field "+f.File+" "+f.Name)
		}
	}
	slices.Sort(out)
	return out
}

// TestSampleDiffs builds the samples of testdata/expected-diffs.txt on the
// Pythons it names, keeping their artifacts, and checks each diff against
// the hand-written expectation: a data file only 3.12 builds ship, a
// requirement only older Pythons' builds declare, a C extension's wheels,
// and the noise floor of a pure project across every Python and built
// twice on one.
func TestSampleDiffs(t *testing.T) {
	backend := sandboxtest.Namespace(t)
	ins := testenv.Pythons(t)
	tc := testenv.Toolchain(t)
	store, err := artifacts.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r := runner.New(runner.Options{Backend: backend, Toolchain: tc, ScratchDir: filepath.Join(t.TempDir(), "scratch"), Artifacts: store})
	byMinor := map[string]interpreter.Interpreter{}
	var minors []string
	for _, in := range ins {
		byMinor[in.Minor] = in
		minors = append(minors, in.Minor)
	}
	cases := loadExpectedDiffs(t)

	// What to build: each sample on each Python its cases name (every
	// Python for "each"), and once more where a case compares a Python
	// with itself.
	times := map[[2]string]int{} // (sample, minor) -> how many builds
	want := func(sample, minor string, n int) {
		k := [2]string{sample, minor}
		times[k] = max(times[k], n)
	}
	for _, c := range cases {
		if c.a == "each" {
			for _, m := range minors {
				want(c.sample, m, 1)
			}
			continue
		}
		for _, m := range []string{c.a, c.b} {
			if _, ok := byMinor[m]; !ok {
				t.Fatalf("expected-diffs.txt names Python %s, which this machine lacks", m)
			}
		}
		want(c.sample, c.a, 1)
		if c.a == c.b {
			want(c.sample, c.a, 2)
		} else {
			want(c.sample, c.b, 1)
		}
	}
	sdists := map[string]string{}
	var jobs []runner.Job
	for k, n := range times {
		sample, minor := k[0], k[1]
		if sdists[sample] == "" {
			sd, err := localindex.WriteSdist(t.TempDir(), "../testdata/samples/"+sample, sample, "1.0")
			if err != nil {
				t.Fatal(err)
			}
			sdists[sample] = sd
		}
		for range n {
			jobs = append(jobs, runner.Job{Project: sample, Version: "1.0", Sdist: sdists[sample], Interpreter: byMinor[minor]})
		}
	}
	// The artifact of each step of each build.
	type built struct{ sample, minor, step string }
	var mu sync.Mutex
	arts := map[built][]diff.Side{}
	runAll(t, r, jobs, func(j runner.Job, res runner.Result) {
		mu.Lock()
		defer mu.Unlock()
		for _, st := range res.Steps {
			if st.Name != outcome.StepSdist && st.Name != outcome.StepBdist && st.Name != outcome.StepWheel {
				continue
			}
			if st.Status != outcome.Passed || len(st.Artifacts) != 1 {
				t.Errorf("%s on %s: %s %s %s, %d artifacts", j.Project, j.Interpreter.Minor, st.Name, st.Status, st.Reason, len(st.Artifacts))
				continue
			}
			a := st.Artifacts[0]
			p, err := store.Path(a.SHA256)
			if err != nil {
				t.Errorf("%s on %s: %s's artifact was not kept: %v", j.Project, j.Interpreter.Minor, st.Name, err)
				continue
			}
			set, _ := tc.For(j.Interpreter.Minor)
			k := built{j.Project, j.Interpreter.Minor, st.Name}
			arts[k] = append(arts[k], diff.Side{Label: j.Interpreter.Minor, Path: p, Name: filepath.Base(a.Path),
				Python: j.Interpreter.Version, Tools: set.BuildTools()})
		}
	})

	check := func(c *diffCase, a, b diff.Side) {
		rep, err := diff.Archives(a, b)
		if err != nil {
			t.Errorf("%s %s %s -> %s: %v", c.sample, c.step, a.Label, b.Label, err)
			return
		}
		want := slices.Clone(c.want)
		slices.Sort(want)
		if got := observed(rep); !slices.Equal(got, want) {
			t.Errorf("%s %s %s -> %s:\n got %q\nwant %q\nreport:\n%s", c.sample, c.step, a.Label, b.Label, got, want, rep)
		}
		for _, f := range rep.Metadata {
			if f.Toolchain && rep.Toolchain == "" {
				t.Errorf("%s %s %s -> %s: %s labelled the toolchain's with no tools named", c.sample, c.step, a.Label, b.Label, f.Name)
			}
		}
	}
	for _, c := range cases {
		if c.a == "each" {
			for i := 1; i < len(minors); i++ {
				sa, sb := arts[built{c.sample, minors[i-1], c.step}], arts[built{c.sample, minors[i], c.step}]
				if len(sa) > 0 && len(sb) > 0 {
					check(c, sa[0], sb[0])
				}
			}
			continue
		}
		sa, sb := arts[built{c.sample, c.a, c.step}], arts[built{c.sample, c.b, c.step}]
		if c.a == c.b {
			if len(sa) != 2 {
				t.Errorf("%s %s on %s: built %d times, want twice", c.sample, c.step, c.a, len(sa))
				continue
			}
			sa, sb = sa[:1], sa[1:]
		}
		if len(sa) == 0 || len(sb) == 0 {
			continue // reported above
		}
		check(c, sa[0], sb[0])
	}
	u, err := store.Usage()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("artifact store: %d files, %d bytes", u.Files, u.Bytes)
}
