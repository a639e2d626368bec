package runner_test

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pysmoke/pysmoke/artifacts"
	"github.com/pysmoke/pysmoke/diff"
	"github.com/pysmoke/pysmoke/outcome"
	"github.com/pysmoke/pysmoke/runner"
	"github.com/pysmoke/pysmoke/toolchain"
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

// diffSides are the archives a run of the samples kept: by sample, Python
// and step, each as a side of a diff.
type diffSides map[[3]string]diff.Side

// add records a step's archive, when it passed with one that was kept.
func (d diffSides) add(store *artifacts.Store, tc *toolchain.Wheelhouse, j runner.Job, st runner.StepResult) {
	if st.Name != outcome.StepSdist && st.Name != outcome.StepBdist && st.Name != outcome.StepWheel && st.Name != outcome.Step2to3 {
		return
	}
	if st.Status != outcome.Passed || len(st.Artifacts) != 1 {
		return
	}
	a := st.Artifacts[0]
	p, err := store.Path(a.SHA256)
	if err != nil {
		return
	}
	set, _ := tc.For(j.Interpreter.Minor)
	d[[3]string{j.Project, j.Interpreter.Minor, st.Name}] = diff.Side{Label: j.Interpreter.Minor, Path: p,
		Name: filepath.Base(a.Path), Python: j.Interpreter.Version, Tools: set.BuildTools()}
}

// checkDiffs checks each diff of testdata/expected-diffs.txt against the
// hand-written expectation, over the sides a run of the samples kept (on
// every Python): a data file only 3.12 builds ship, a requirement only
// older Pythons' builds declare, a C extension's wheels, and the noise
// floor of a pure project across every Python. (The same build twice on
// one Python is TestBuildTwiceSameManifests'.)
func checkDiffs(t *testing.T, sides diffSides, plan map[string][]string) {
	t.Helper()
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
	side := func(c *diffCase, minor string) (diff.Side, bool) {
		s, ok := sides[[3]string{c.sample, minor, c.step}]
		if !ok {
			t.Errorf("%s %s on %s: no archive kept (is the sample in expected-outcomes.txt, and did the step pass?)", c.sample, c.step, minor)
		}
		// A Python 2 wheel or bdist is compared with a Python 3 one
		// through its modules as 2to3 converts them, as the reports do.
		if tree, ok := sides[[3]string{c.sample, minor, outcome.Step2to3}]; ok &&
			(c.step == outcome.StepWheel || c.step == outcome.StepBdist) && strings.HasPrefix(minor, "2.") {
			s.Converted = tree.Path
		}
		return s, ok
	}
	for _, c := range loadExpectedDiffs(t) {
		pairs := [][2]string{{c.a, c.b}}
		if c.a == "each" {
			pairs = consecutive(plan[c.sample])
		}
		for _, p := range pairs {
			a, okA := side(c, p[0])
			b, okB := side(c, p[1])
			if okA && okB {
				check(c, a, b)
			}
		}
	}
}
