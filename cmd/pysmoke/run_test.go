package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pysmoke/pysmoke/internal/expected"
	"github.com/pysmoke/pysmoke/internal/sandboxtest"
	"github.com/pysmoke/pysmoke/localindex"
	"github.com/pysmoke/pysmoke/outcome"
)

func exitStatus(err error) int {
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	}
	return 2 // main prints the error and exits 2
}

// TestRunCommand runs "pysmoke run --json" on each sample and checks the
// matrix against the hand-written expected outcomes and the exit status
// against the rule in the command's help.
func TestRunCommand(t *testing.T) {
	sandboxtest.Namespace(t)
	want, err := expected.Load("../../testdata/expected-outcomes.txt")
	if err != nil {
		t.Fatal(err)
	}
	// Exit statuses by hand: 1 where a cell fails for the package's
	// reasons; 0 where every cell passed or did not apply (no tests, a
	// Python outside Requires-Python, no lib2to3 are nobody's failure).
	wantExit := map[string]int{"smokegood": 0, "usesimp": 1, "phonehome": 1, "needs38": 0, "notests": 0, "hatchpkg": 0}
	// The whole matrix of every sample is runner's TestSamplesMatchExpected;
	// here the command runs the samples that make each exit status (and a
	// PEP 517 backend) on the two interpreters where the samples differ
	// most (2.7: no PEP 517 front end, outside needs38's Requires-Python;
	// 3.12: without imp, with Debian 13's toolchain), which keeps make test
	// inside its budget.
	pythons := "2.7,3.12"
	dir := t.TempDir()
	for sample := range wantExit {
		t.Run(sample, func(t *testing.T) {
			sdist, err := localindex.WriteSdist(dir, filepath.Join("../../testdata/samples", sample), sample, "1.0")
			if err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			err = dispatch(context.Background(), []string{"run", "--json", "--python", pythons, sdist}, &stdout, &stderr)
			if got := exitStatus(err); got != wantExit[sample] {
				t.Errorf("exit status %d (%v), want %d; stderr:\n%s", got, err, wantExit[sample], stderr.String())
			}
			var out runJSON
			if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
				t.Fatalf("output is not JSON: %v\n%s", err, stdout.String())
			}
			if out.Schema != "pysmoke.run/v1" || out.Project != sample || out.Version != "1.0" {
				t.Errorf("header = %+v", out)
			}
			got := expected.Table{}
			var pythons []string
			for _, c := range out.Cells {
				pythons = append(pythons, c.Python)
				for _, st := range c.Steps {
					got[expected.Key{Sample: sample, Python: c.Python, Step: st.Name}] = expected.Outcome{Status: string(st.Status), Reason: st.Reason}
				}
			}
			for _, d := range want.Compare(got, []string{sample}, pythons) {
				t.Error(d)
			}
		})
	}
}

func TestRunTableAndBadInput(t *testing.T) {
	sandboxtest.Namespace(t)
	dir := t.TempDir()
	sdist, err := localindex.WriteSdist(dir, "../../testdata/samples/usesimp", "usesimp", "1.0")
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	logs := filepath.Join(dir, "logs")
	err = dispatch(context.Background(), []string{"run", "--python", "3.11,3.12", "--logs", logs, sdist}, &stdout, &stderr)
	if exitStatus(err) != 1 {
		t.Fatalf("exit %v", err)
	}
	table, why, _ := strings.Cut(stdout.String(), "\nPython ")
	// 3.12 builds with the offline toolchain's setuptools; importing the
	// built wheel fails, for the package's reason: usesimp imports imp.
	for _, want := range []string{"PYTHON", "3.11", "3.12", "wheel", "failed (module-removed)"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	if strings.Contains(table, "2.7") {
		t.Errorf("--python 3.11,3.12 ran 2.7:\n%s", table)
	}
	// Under the table, why 3.12 failed, with its log's last lines; 3.11
	// passed and has nothing to explain.
	if !strings.HasPrefix(why, "3.12: failed (module-removed) in import") || !strings.Contains(why, "No module named 'imp'") ||
		strings.Contains(why, "Python 3.11") {
		t.Errorf("why the cells did not pass:\nPython %s", why)
	}
	for _, minor := range []string{"3.11", "3.12"} {
		for _, step := range outcome.Steps {
			if fi, err := os.Stat(filepath.Join(logs, minor, step+".log")); err != nil || (step == outcome.StepTests && fi.Size() == 0) {
				t.Errorf("--logs: %s %s: %v", minor, step, err)
			}
		}
	}
	if b, _ := os.ReadFile(filepath.Join(logs, "3.12", "import.log")); !bytes.Contains(b, []byte("No module named 'imp'")) {
		t.Errorf("--logs: 3.12's import log:\n%s", b)
	}

	cases := []struct {
		name string
		args []string
		want string
	}{
		{"missing file", []string{"run", filepath.Join(dir, "nope-1.0.tar.gz")}, "not a readable file"},
		{"not an sdist name", []string{"run", filepath.Join(dir, "README.txt")}, "not an sdist file name"},
		{"unknown python", []string{"run", "--python", "1.5", sdist}, "no interpreter for Python 1.5"},
		{"unknown sandbox", []string{"run", "--sandbox", "chroot", sdist}, "unknown sandbox"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			err := dispatch(context.Background(), c.args, &out, &errb)
			if exitStatus(err) != 2 || err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want exit 2 with %q", err, c.want)
			}
		})
	}
	var out, errb bytes.Buffer
	if err := dispatch(context.Background(), []string{"run", "--no-such-flag"}, &out, &errb); exitStatus(err) != 2 {
		t.Errorf("bad flag: %v", err)
	}
	if !strings.Contains(errb.String(), "Exit status:") {
		t.Errorf("bad flag does not print the help:\n%s", errb.String())
	}
}

// TestRunRejectsHostileSdist: an sdist that breaks an unpacking rule is the
// package's failure (exit 1), with the rule named, and nothing of it runs.
func TestRunRejectsHostileSdist(t *testing.T) {
	sandboxtest.Namespace(t)
	dir := t.TempDir()
	p := filepath.Join(dir, "evil-1.0.tar.gz")
	if err := os.WriteFile(p, tarGz(t, map[string]string{"evil-1.0/setup.py": "print('hi')\n", "../escaped.txt": "x"}), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	err := dispatch(context.Background(), []string{"run", "--json", "--python", "3.11", p}, &stdout, &stderr)
	if exitStatus(err) != 1 {
		t.Fatalf("exit %v, want 1", err)
	}
	var out runJSON
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	c := out.Cells[0]
	if c.Status != outcome.Rejected || len(c.Steps) != 1 || !strings.Contains(c.Steps[0].Detail, "'..' component") {
		t.Fatalf("cell = %+v", c)
	}
	if _, err := os.Stat(filepath.Join(dir, "escaped.txt")); err == nil {
		t.Fatal("the traversal member was written")
	}
}

func TestLastLines(t *testing.T) {
	log := "collecting ...\r\n\x1b[31mFAILED\x1b[0m test_a.py::test_x\n\n\tE  assert 1 == 2  \n\x1b]8;;http://x\x07link\x1b]8;;\x07 done\x00\n\n"
	got := lastLines([]byte(log), 3)
	want := []string{"FAILED test_a.py::test_x", " E  assert 1 == 2", "link done"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("lastLines = %q, want %q", got, want)
	}
	if got := lastLines([]byte(log), 0); got != nil {
		t.Errorf("lastLines(0) = %q", got)
	}
	if got := lastLines([]byte("a\nb"), 10); strings.Join(got, "|") != "a|b" {
		t.Errorf("lastLines of a short log = %q", got)
	}
}

// TestRunDiff: --diff prints, for each build step, what differs between
// the Pythons' artifacts: datafile312 ships data/new.txt only when built
// on 3.12 (testdata/expected-diffs.txt).
func TestRunDiff(t *testing.T) {
	sandboxtest.Namespace(t)
	sdist, err := localindex.WriteSdist(t.TempDir(), "../../testdata/samples/datafile312", "datafile312", "1.0")
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if err := dispatch(context.Background(), []string{"run", "--python", "3.11,3.12", "--diff", sdist}, &stdout, &stderr); err != nil {
		t.Fatalf("exit %v\n%s", err, stderr.String())
	}
	out := stdout.String()
	_, wheel, ok := strings.Cut(out, "\nwheel, between consecutive Pythons:\n3.11 -> 3.12\n")
	if !ok || !strings.Contains(wheel, "  + datafile312/data/new.txt\n") {
		t.Errorf("--diff does not show the wheel's added data file:\n%s", out)
	}
	_, sdistDiff, ok := strings.Cut(out, "\nsdist, between consecutive Pythons:\n3.11 -> 3.12\n")
	if !ok || !strings.Contains(sdistDiff, "  + datafile312-1.0/datafile312/data/new.txt\n") || !strings.Contains(sdistDiff, "+datafile312/data/new.txt") {
		t.Errorf("--diff does not show the sdist's added data file and its SOURCES.txt line:\n%s", out)
	}
}
