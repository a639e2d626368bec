package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pysmoke/pysmoke/experiment"
	"github.com/pysmoke/pysmoke/internal/sandboxtest"
	"github.com/pysmoke/pysmoke/internal/testenv"
	"github.com/pysmoke/pysmoke/localindex"
	"github.com/pysmoke/pysmoke/regression"
)

// cancelOnWrite is a writer that cancels a context once what was written
// holds a string: a process stopped at a chosen moment.
type cancelOnWrite struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	when   string
	cancel context.CancelFunc
}

func (w *cancelOnWrite) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if w.when != "" && strings.Contains(w.buf.String(), w.when) {
		w.cancel()
	}
	return len(p), nil
}

// experimentSamples are the samples make test's experiment runs (make
// test-full: every one): each class of expected-experiment.txt (regressed,
// same-failure, error at a step and at the build requirements, same-pass)
// and a backend other than setuptools; the file expects the others to
// pass on both sides, as smokegood does.
var experimentSamples = []string{"use2to3", "py2only", "undeclared", "needsbackend", "smokegood", "scmpkg"}

// TestExperimentSetuptools58 is issue 16's experiment: the samples
// (experimentSamples; make test-full: every one) on Python 3.8, with the baseline toolchain (setuptools 56.0.0, 3.8's own
// ensurepip wheel) against a candidate with setuptools 58.1.0 (3.9's
// ensurepip wheel), stopped part way and started again, then its report
// in a browser. The classes are testdata/expected-experiment.txt's.
func TestExperimentSetuptools58(t *testing.T) {
	sandboxtest.Namespace(t)
	var py38, py39 string
	for _, in := range testenv.Pythons(t) {
		switch in.Minor {
		case "3.8":
			py38 = in.Prefix
		case "3.9":
			py39 = in.Prefix
		}
	}
	if py38 == "" || py39 == "" {
		testenv.Require(t, "Python 3.8 and 3.9", fs.ErrNotExist)
	}
	st58, _ := filepath.Glob(filepath.Join(py39, "lib/python3.9/ensurepip/_bundled/setuptools-58.1.0-*.whl"))
	if len(st58) != 1 {
		t.Fatalf("3.9's ensurepip has no setuptools 58.1.0 wheel: %v", st58)
	}
	want := loadExperimentClasses(t)

	samples, _ := os.ReadDir("../../testdata/samples")
	if len(samples) != len(want) {
		t.Fatalf("%d samples, %d lines in expected-experiment.txt", len(samples), len(want))
	}
	var projects []string
	allow := ""
	for _, s := range samples {
		if os.Getenv("PYSMOKE_TEST_FULL") == "" && !slices.Contains(experimentSamples, s.Name()) {
			delete(want, s.Name())
			continue
		}
		projects = append(projects, "samples/"+s.Name())
		allow += s.Name() + "\n"
	}
	projects = append(projects, "dependencies/depsdist", "dependencies/markdep")
	dir := t.TempDir()
	url, _ := sampleIndex(t, filepath.Join(dir, "index"), projects...)
	allowPath := filepath.Join(dir, "allowlist.txt")
	os.WriteFile(allowPath, []byte(allow), 0o644)
	data := filepath.Join(dir, "data")

	// The first life stops once a few runs are recorded.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stderr := &cancelOnWrite{when: "[6/", cancel: cancel}
	var stdout bytes.Buffer
	args := []string{"experiment", "--data", data, "--python", "3.8", "-j", "2", "--index", url, "--allowlist", allowPath,
		"--candidate-wheel", st58[0], "st58"}
	err := dispatch(ctx, args, &stdout, stderr)
	if err == nil || !strings.Contains(stderr.buf.String(), "to go on") {
		t.Fatalf("first life: %v\n%s", err, stderr.buf.String())
	}
	expDir := filepath.Join(data, "experiments", "st58")
	firstRuns := runFiles(t, expDir)
	if len(firstRuns) < 6 || len(firstRuns) >= 2*len(want) {
		t.Fatalf("first life recorded %d runs", len(firstRuns))
	}

	// Flags for a new experiment under an existing name are refused.
	if err := dispatch(context.Background(), args, &stdout, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("the same name again with its flags: %v", err)
	}

	// The second life goes on.
	var stderr2 bytes.Buffer
	stdout.Reset()
	if err := dispatch(context.Background(), []string{"experiment", "--data", data, "--python", "3.8", "-j", "2", "--index", url, "st58"},
		&stdout, &stderr2); err != nil {
		t.Fatalf("second life: %v\n%s", err, stderr2.String())
	}
	for p, mod := range firstRuns {
		if fi, err := os.Stat(p); err != nil || !fi.ModTime().Equal(mod) {
			t.Errorf("%s was run again by the second life", p)
		}
	}
	if !strings.Contains(stderr2.String(), "left") || !strings.Contains(stderr2.String(), "going on") {
		t.Errorf("no progress shown:\n%s", stderr2.String())
	}

	var rep experiment.Report
	b, err := os.ReadFile(filepath.Join(expDir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Baseline.Tools["3.8"] != "setuptools 56.0.0, wheel 0.38.4" || rep.Candidate.Tools["3.8"] != "setuptools 58.1.0, wheel 0.38.4" {
		t.Errorf("sides: %q against %q", rep.Baseline.Tools, rep.Candidate.Tools)
	}
	if rep.Complete != len(want) {
		t.Errorf("%d of %d pairs classified", rep.Complete, len(want))
	}
	for _, r := range rep.Results {
		w, ok := want[r.Project]
		if !ok {
			t.Errorf("%s: not in expected-experiment.txt", r.Project)
			continue
		}
		if r.Class != w[0] || (len(w) > 1 && r.Step != string(w[1])) {
			t.Errorf("%s: %s (%s: %s -> %s), want %s", r.Project, r.Class, r.Step, r.Before, r.After, w)
		}
	}
	if len(rep.Bins) != 1 || !strings.Contains(string(rep.Bins[0].Signature), "use_2to3 is invalid") || len(rep.Bins[0].Results) != 1 {
		t.Fatalf("bins: %+v", rep.Bins)
	}
	reg := rep.Results[rep.Bins[0].Results[0]]
	if reg.Project != "use2to3" || reg.Reruns != 3 || !strings.Contains(reg.Candidate.LogTail, "use_2to3 is invalid") ||
		!strings.Contains(rep.Bins[0].BugReport, "use2to3 1.0 on Python 3.8") {
		t.Errorf("the regression: %+v\n%s", reg, rep.Bins[0].BugReport)
	}
	if !strings.Contains(stdout.String(), "regressed: exit-status: use_2to3 is invalid (1)") {
		t.Errorf("stdout:\n%s", stdout.String())
	}

	// The report in a browser: the counts, the bin, both logs side by side.
	bctx := testenv.Browser(t)
	if err := chromedp.Do(bctx,
		chromedp.Navigate("file://"+filepath.Join(expDir, "report.html")),
		chromedp.WaitVisible("table.counts"),
	); err != nil {
		t.Fatal(err)
	}
	eval := func(expr string) string { t.Helper(); return testenv.Eval(t, bctx, expr) }
	counts := map[string]string{}
	for _, row := range strings.Split(eval(`[...document.querySelectorAll("table.counts tbody tr")].map(tr => tr.cells[0].textContent + "=" + tr.cells[1].textContent).join("\n")`), "\n") {
		k, v, _ := strings.Cut(row, "=")
		counts[k] = v
	}
	bin := eval(`document.querySelector("section.bin h3").textContent`)
	sides := eval(`String(document.querySelectorAll("#use2to3-1\\.0-3\\.8 .sides pre.log").length)`)
	baseLog := eval(`document.querySelector("#use2to3-1\\.0-3\\.8 .side.baseline pre").textContent`)
	candLog := eval(`document.querySelector("#use2to3-1\\.0-3\\.8 .side.candidate pre").textContent`)
	wantCounts := map[regression.Class]int{}
	for _, w := range want {
		wantCounts[w[0]]++
	}
	for _, c := range regression.Classes {
		if got := counts[string(c)]; got != strconv.Itoa(wantCounts[c]) {
			t.Errorf("the page counts %s %s, want %d", got, c, wantCounts[c])
		}
	}
	if !strings.Contains(bin, "use_2to3 is invalid") || sides != "2" || !strings.Contains(candLog, "use_2to3 is invalid") ||
		strings.Contains(baseLog, "use_2to3 is invalid") {
		t.Errorf("the page: bin %q, %s logs side by side, candidate's log ends %q", bin, sides, lastN(candLog, 200))
	}
}

func lastN(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// runFiles lists the journal's run.json files with their times.
func runFiles(t *testing.T, dir string) map[string]time.Time {
	out := map[string]time.Time{}
	filepath.WalkDir(filepath.Join(dir, "runs"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == "run.json" {
			fi, _ := d.Info()
			out[p] = fi.ModTime()
		}
		return nil
	})
	return out
}

// loadExperimentClasses reads testdata/expected-experiment.txt: each
// sample's class and, maybe, the deciding step.
func loadExperimentClasses(t *testing.T) map[string][]regression.Class {
	f, err := os.Open("../../testdata/expected-experiment.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]regression.Class{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) == 0 || strings.HasPrefix(fs[0], "#") {
			continue
		}
		if len(fs) < 2 || len(fs) > 3 {
			t.Fatalf("expected-experiment.txt: %q", sc.Text())
		}
		for _, c := range fs[1:] {
			out[fs[0]] = append(out[fs[0]], regression.Class(c))
		}
	}
	return out
}

func TestExperimentBadInput(t *testing.T) {
	sandboxtest.Namespace(t)
	dir := t.TempDir()
	url, paths := sampleIndex(t, filepath.Join(dir, "index"), "samples/smokegood")
	var sdist string
	for _, p := range paths {
		sdist = p
	}
	wheel := filepath.Join(dir, "setuptools-99.0-py3-none-any.whl")
	data := filepath.Join(dir, "data")
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"a name that is a path", []string{"../escape", sdist}, "experiment name"},
		{"no candidate", []string{"x", sdist}, "no candidate"},
		{"nothing to run", []string{"--candidate-wheel", wheel, "x"}, "nothing to run"},
		{"a wheel that is not there", []string{"--python", "3.12", "--candidate-wheel", wheel, "x", sdist}, "no such file"},
		{"a project without an index", []string{"--python", "3.12", "--candidate-python", "/nonexistent", "x", "smokegood"}, "give --index"},
		{"a project the index lacks", []string{"--python", "3.12", "--index", url, "--candidate-python", "/nonexistent", "x", "nosuchproject"}, "not on the index"},
		{"a release the index lacks", []string{"--python", "3.12", "--index", url, "--candidate-python", "/nonexistent", "x", "smokegood==9.9"}, "no sdist of that release"},
		{"noise on two Pythons", []string{"--python", "3.11,3.12", "x", sdist}, "one Python"},
	} {
		cmd := "experiment"
		if strings.HasPrefix(c.name, "noise") {
			cmd = "noise"
		}
		err := dispatch(context.Background(), append([]string{cmd, "--data", data}, c.args...), &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", c.name, err, c.want)
		}
	}
	// None of them left an experiment behind.
	if left, _ := os.ReadDir(filepath.Join(data, "experiments")); len(left) != 0 {
		t.Errorf("experiments left behind: %v", left)
	}
}

// TestNoise runs two releases twice on 3.8: smokegood does the same both
// times; the corpus's flaky test, drawn from the run's id, passes on the
// first side and fails on the second (by hand, in Python:
// random.Random(zlib.crc32(b"baseline/flaky/1.7/3.8/0") + 1).random() is
// 0.5 or more, the candidate's under 0.5).
func TestNoise(t *testing.T) {
	sandboxtest.Namespace(t)
	dir := t.TempDir()
	var sdists []string
	for _, s := range [][3]string{{"samples/smokegood", "smokegood", "1.0"}, {"corpus/flaky/1.7", "flaky", "1.7"}} {
		p, err := localindex.WriteSdist(filepath.Join(dir, "sdists"), filepath.Join("../../testdata", s[0]), s[1], s[2])
		if err != nil {
			t.Fatal(err)
		}
		sdists = append(sdists, p)
	}
	var stdout, stderr bytes.Buffer
	err := dispatch(context.Background(), append([]string{"noise", "--data", filepath.Join(dir, "data"), "--python", "3.8", "n"}, sdists...), &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	out := stdout.String()
	if !strings.Contains(out, "1 of 2 pairs differ between two runs of the same thing: flake rate 50.0%") ||
		!strings.Contains(out, "flaky 1.7 on 3.8: tests, passed -> failed test-failure") || strings.Contains(out, "smokegood 1.0 on") {
		t.Errorf("stdout:\n%s", out)
	}
}

// TestExperimentCandidateFromIndex takes the candidate's setuptools from
// the index (a requirement, not a file): the index holds setuptools
// 56.0.0 and 58.1.0 wheels (3.8's and 3.9's ensurepip ones), and
// "setuptools>=57" must pick 58.1.0, under which use2to3 regresses on 3.8.
func TestExperimentCandidateFromIndex(t *testing.T) {
	sandboxtest.Namespace(t)
	dir := t.TempDir()
	ixDir := filepath.Join(dir, "index")
	os.MkdirAll(ixDir, 0o755)
	for _, minor := range []string{"3.8", "3.9"} {
		whl, _ := filepath.Glob(filepath.Join(testenv.Python(t, minor).Prefix, "lib/python"+minor+"/ensurepip/_bundled/setuptools-*.whl"))
		if len(whl) != 1 {
			t.Fatalf("%s's ensurepip setuptools: %v", minor, whl)
		}
		b, err := os.ReadFile(whl[0])
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(ixDir, filepath.Base(whl[0])), b, 0o644)
	}
	url, _ := sampleIndex(t, ixDir, "samples/use2to3")
	var stdout, stderr bytes.Buffer
	err := dispatch(context.Background(), []string{"experiment", "--data", filepath.Join(dir, "data"), "--python", "3.8", "--confirm", "0",
		"--index", url, "--candidate-require", "setuptools>=57", "fromindex", "use2to3"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "candidate setuptools>=57: setuptools-58.1.0-py3-none-any.whl") ||
		!strings.Contains(stdout.String(), "use2to3 1.0 on 3.8: sdist, passed -> failed exit-status") {
		t.Errorf("stderr:\n%s\nstdout:\n%s", stderr.String(), stdout.String())
	}
	for _, req := range []string{"setuptools>=99", "setuptools; python_version<'3'", "nosuchproject==1.0"} {
		err := dispatch(context.Background(), []string{"experiment", "--data", filepath.Join(dir, "data"), "--python", "3.8",
			"--index", url, "--candidate-require", req, "bad", "use2to3"}, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), "--candidate-require") {
			t.Errorf("%q: %v", req, err)
		}
	}
}

// TestExperimentCandidatePython compares two builds of Python 3.11: the
// machine's (pyenv's 3.11) and Debian's /usr/bin/python3.11, the
// candidate; smokegood passes on both.
func TestExperimentCandidatePython(t *testing.T) {
	sandboxtest.Namespace(t)
	const debian = "/usr/bin/python3.11"
	_, err := os.Stat(debian)
	testenv.Require(t, "Debian's python3.11", err)
	dir := t.TempDir()
	sdist, err := localindex.WriteSdist(filepath.Join(dir, "sdists"), "../../testdata/samples/smokegood", "smokegood", "1.0")
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if err := dispatch(context.Background(), []string{"experiment", "--data", filepath.Join(dir, "data"), "--python", "3.11", "--no-path",
		"--candidate-python", debian, "deb311", sdist}, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	b, err := os.ReadFile(filepath.Join(dir, "data", "experiments", "deb311", "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep experiment.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 1 || rep.Results[0].Class != regression.SamePass || rep.Candidate.Interpreter != debian ||
		!strings.HasPrefix(rep.Candidate.Label, "Python 3.11.") {
		t.Errorf("report: %+v\nstdout:\n%s", rep, stdout.String())
	}
	// The runs say which interpreter each side ran.
	var cand experiment.Record
	b, err = os.ReadFile(filepath.Join(dir, "data", "experiments", "deb311", "runs", "candidate", "smokegood", "1.0", "3.11", "0", "run.json"))
	if err == nil {
		err = json.Unmarshal(b, &cand)
	}
	if err != nil || cand.Interpreter != debian {
		t.Errorf("the candidate's run: %v, interpreter %q", err, cand.Interpreter)
	}
}
