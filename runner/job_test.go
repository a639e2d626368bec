package runner_test

// The runner's step logic, unit-tested over the fake sandbox: no root, no
// bubblewrap, no Docker, no real Python. Each case runs a whole job
// (Runner.Run: unpacking, the step table, environments, classification)
// with a fake interpreter, a shell script that does for each step what the
// case tells it (exit status, output, the files it builds), and compares
// every step's status and reason with what the case expects, written by
// hand. What these cases cannot tell, whether real packages build on real
// Pythons in a real sandbox, the sample tests (samples_test.go) tell.

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pysmoke/pysmoke/interpreter"
	"github.com/pysmoke/pysmoke/localindex"
	"github.com/pysmoke/pysmoke/outcome"
	"github.com/pysmoke/pysmoke/runner"
	"github.com/pysmoke/pysmoke/sandbox"
	"github.com/pysmoke/pysmoke/toolchain"
)

// fakePythonScript is the fake interpreter. It names the step from its
// arguments the way the runner builds them, logs the call, builds the
// step's output when the case gave one, prints the case's log for the
// step and exits with the case's status. @B@ is the case's behaviour
// folder, @SELF@ the script itself.
const fakePythonScript = `#!/bin/sh
B='@B@'
SELF='@SELF@'
step=
case "$1" in
setup.py)
	case "$2" in sdist) step=sdist ;; bdist) step=bdist ;; bdist_wheel) step=wheel ;; *) step=setup ;; esac ;;
*.py) step=tests ;; # a project's own test script (its tox commands)
-m)
	case "$2" in
	venv) mkdir -p "$4/bin" && ln -s "$SELF" "$4/bin/python" && echo "venv $4" >>"$B/calls" && exit 0 ;;
	pip) if [ "$3" = wheel ]; then step=wheel; else step=pip; fi ;;
	build) step=sdist ;;
	pytest | unittest) step=tests ;;
	lib2to3) step=2to3 ;;
	compileall) exit 0 ;;
	esac ;;
-c)
	case "$2" in
	*get_requires_for_build*) step=hooks ;;
	*zipfile*) mkdir -p "$4/pkg" && : >"$4/pkg/__init__.py" && echo "extract $*" >>"$B/calls" && exit 0 ;;
	*tarfile*) : >"$4" && echo "pack $4" >>"$B/calls" && exit 0 ;; # the 2to3 tree packed
	*) step=import ;;
	esac ;;
*/pip) step=env ;;
esac
line="$step $0"
nl='
'
for a in "$@"; do
	case "$a" in *"$nl"*) a='<script>' ;; esac
	line="$line $a"
done
echo "$line" >>"$B/calls"
if [ -z "$step" ] || [ ! -f "$B/$step" ]; then
	echo "fake python: no behaviour for the call: $*"
	exit 99
fi
out=
prev=
for a in "$@"; do
	case "$prev" in --dist-dir | -w | --outdir) out=$a ;; esac
	case "$a" in --output-dir=*) out=${a#--output-dir=} ;; esac
	prev=$a
done
if [ -n "$out" ] && [ -f "$B/$step.out" ]; then
	mkdir -p "$out" && cp "$B/$step.out" "$out/$(cat "$B/$step.name")"
fi
if [ -f "$B/$step.sleep" ]; then sleep "$(cat "$B/$step.sleep")"; fi
tail -n +2 "$B/$step"
exit "$(head -n 1 "$B/$step")"
`

// behaviour is what the fake interpreter does for one step.
type behaviour struct {
	exit int
	log  string
	// out is a file the step builds into its output folder, by name.
	out, outName string
	sleep        int // seconds before it ends
}

// fakeJob is one case's world: a fake interpreter, a toolchain that names
// wheels (the fake pip installs nothing), the project and its sdist.
type fakeJob struct {
	dir     string // behaviour folder
	scratch string // the runner's ScratchDir
	in      interpreter.Interpreter
}

func newFakeJob(t *testing.T, minor string, lib2to3 bool, steps map[string]behaviour) *fakeJob {
	t.Helper()
	root := t.TempDir()
	f := &fakeJob{dir: filepath.Join(root, "behaviour"), scratch: filepath.Join(root, "scratch")}
	prefix := filepath.Join(root, "python")
	self := filepath.Join(prefix, "bin", "python"+minor)
	for _, d := range []string{f.dir, filepath.Dir(self)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	script := strings.NewReplacer("@B@", f.dir, "@SELF@", self).Replace(fakePythonScript)
	if err := os.WriteFile(self, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	for step, b := range steps {
		write(t, filepath.Join(f.dir, step), strconv.Itoa(b.exit)+"\n"+b.log)
		if b.out != "" {
			if err := copyPath(b.out, filepath.Join(f.dir, step+".out")); err != nil {
				t.Fatal(err)
			}
			write(t, filepath.Join(f.dir, step+".name"), b.outName)
		}
		if b.sleep > 0 {
			write(t, filepath.Join(f.dir, step+".sleep"), strconv.Itoa(b.sleep))
		}
	}
	f.in = interpreter.Interpreter{Path: self, Prefix: prefix, Version: minor + ".1", Minor: minor,
		Implementation: "CPython", ABI: "cp" + strings.ReplaceAll(minor, ".", ""), Lib2to3: lib2to3}
	return f
}

// calls returns the fake interpreter's calls, one a line: the step it took
// them for, its own path and its arguments, with the job's scratch (which
// the fake sandbox puts where the real ones mount it) written as the
// sandbox's path.
func (f *fakeJob) calls(t *testing.T) []string {
	b, err := os.ReadFile(filepath.Join(f.dir, "calls"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	text := regexp.MustCompile(regexp.QuoteMeta(f.scratch)+`/job-[^/ \n]*`).ReplaceAllString(string(b), sandbox.BuildRoot)
	return strings.Split(strings.TrimSpace(text), "\n")
}

func write(t *testing.T, p, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyPath(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}

// fakeWheel writes a wheel of project pkg 1.0 holding files (path ->
// content) and a .dist-info with METADATA (requires: Requires-Dist lines)
// and, unless topLevel is nil, a top_level.txt; the RECORD lists every
// file.
func fakeWheel(t *testing.T, files map[string]string, topLevel []string, requires ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "pkg-1.0-py3-none-any.whl")
	all := map[string]string{}
	var record []string
	for name, body := range files {
		all[name] = body
		record = append(record, name+",,")
	}
	meta := "Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\n"
	for _, r := range requires {
		meta += "Requires-Dist: " + r + "\n"
	}
	all["pkg-1.0.dist-info/METADATA"] = meta + "\n"
	if topLevel != nil {
		all["pkg-1.0.dist-info/top_level.txt"] = strings.Join(topLevel, "\n") + "\n"
	}
	record = append(record, "pkg-1.0.dist-info/METADATA,,", "pkg-1.0.dist-info/RECORD,,")
	all["pkg-1.0.dist-info/RECORD"] = strings.Join(record, "\n") + "\n"
	writeZip(t, p, all)
	return p
}

// fakeToolchain names the wheels of 2.7 (setup.py builds, unittest, no
// PEP 517 front end) and of 3.11 and 3.12 (pip builds, pytest, the front
// end and a flit_core backend); the fake pip installs nothing, so no file
// needs to exist. 3.14 has no set at all.
func fakeToolchain(t *testing.T) *toolchain.Wheelhouse {
	py3 := toolchain.Set{Pip: "pip-24.0-py3-none-any.whl",
		Build:       []string{"pip-24.0-py3-none-any.whl", "setuptools-68.1.2-py3-none-any.whl", "wheel-0.42.0-py3-none-any.whl"},
		Test:        []string{"pytest-7.4.4-py3-none-any.whl", "pluggy-1.4.0-py3-none-any.whl"},
		Frontend517: []string{"build-1.0.3-py3-none-any.whl"},
		Backends:    map[string][]string{"flit-core": {"flit_core-3.9.0-py3-none-any.whl"}},
		Runner:      toolchain.RunnerPytest, Frontend: toolchain.FrontendPip}
	py2 := toolchain.Set{Pip: "pip-20.3.4-py2.py3-none-any.whl",
		Build:  []string{"pip-20.3.4-py2.py3-none-any.whl", "setuptools-44.1.1-py2.py3-none-any.whl", "wheel-0.34.2-py2.py3-none-any.whl"},
		Runner: toolchain.RunnerUnittest, Frontend: toolchain.FrontendSetupPy}
	w := &toolchain.Wheelhouse{Dir: t.TempDir(), Key: "fake", Sets: map[string]toolchain.Set{"2.7": py2, "3.11": py3, "3.12": py3}}
	// The wheels exist, with their metadata, for dependency resolution
	// (the build requirements are resolved over them); the fake pip
	// installs nothing.
	for _, set := range []toolchain.Set{py2, py3} {
		files := append(append(append(append([]string{set.Pip}, set.Build...), set.Test...), set.Frontend517...), set.Backends["flit-core"]...)
		for _, f := range files {
			parts := strings.Split(f, "-")
			meta := "Metadata-Version: 2.1\nName: " + parts[0] + "\nVersion: " + parts[1] + "\n\n"
			writeZip(t, filepath.Join(w.Dir, f), map[string]string{parts[0] + "-" + parts[1] + ".dist-info/METADATA": meta})
		}
	}
	return w
}

// writeZip writes a zip file of files (path -> content).
func writeZip(t *testing.T, p string, files map[string]string) {
	t.Helper()
	out, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(out)
	for name, body := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

const (
	traceSyntax = "Traceback (most recent call last):\n  File \"<string>\", line 7, in <module>\n  File \"/build/env/import/lib/python3.11/site-packages/pkg/__init__.py\", line 4\n    print \"hello\"\n    ^\nSyntaxError: Missing parentheses in call to 'print'\n"
	traceImp    = "Traceback (most recent call last):\n  File \"/build/env/import/lib/python3.12/site-packages/pkg/__init__.py\", line 1, in <module>\n    import imp\nModuleNotFoundError: No module named 'imp'\n"
	testsPassed = "tests/test_pkg.py::test_one PASSED\n============================== 1 passed in 0.01s ===============================\n"
	testsFailed = "tests/test_pkg.py::test_one FAILED\n========================= 1 failed, 2 passed in 0.03s ==========================\n"
)

// stepDetail checks that a step's detail starts with want.
func stepDetail(step, want string) func(t *testing.T, res runner.Result, f *fakeJob) {
	return func(t *testing.T, res runner.Result, f *fakeJob) {
		for _, st := range res.Steps {
			if st.Name == step && !strings.HasPrefix(st.Detail, want) {
				t.Errorf("%s: detail %q, want it to start with %q", step, st.Detail, want)
			}
		}
	}
}

// TestJobOnFake runs whole jobs over the fake sandbox and checks every
// step's applicability, skipping and classification.
func TestJobOnFake(t *testing.T) {
	pkg := map[string]string{"pkg/__init__.py": "", "pkg/core.py": ""}
	wheel := fakeWheel(t, pkg, []string{"pkg"})
	built := func(extra map[string]behaviour) map[string]behaviour {
		b := map[string]behaviour{
			"env":    {},
			"sdist":  {log: "running sdist\n", out: wheel, outName: "pkg-1.0.tar.gz"},
			"bdist":  {log: "running bdist\n", out: wheel, outName: "pkg-1.0.linux-x86_64.tar.gz"},
			"wheel":  {log: "running bdist_wheel\n", out: wheel, outName: "pkg-1.0-py3-none-any.whl"},
			"import": {log: "pysmoke: import pkg: ok\n"},
			"tests":  {log: testsPassed},
			"2to3":   {log: "RefactoringTool: Files that were modified:\n"},
		}
		for k, v := range extra {
			b[k] = v
		}
		return b
	}
	setupPy := "from setuptools import setup\nsetup(name='pkg', version='1.0', packages=['pkg'])\n"
	flit := "[build-system]\nrequires = [\"flit_core >=3.2,<4\"]\nbuild-backend = \"flit_core.buildapi\"\n\n[project]\nname = \"pkg\"\nversion = \"1.0\"\n"
	type want map[string]string // step -> "status reason"
	cases := []struct {
		name    string
		minor   string
		nolib   bool              // the interpreter has no lib2to3
		files   map[string]string // the project, besides pkg/__init__.py
		steps   map[string]behaviour
		job     func(*runner.Job)
		want    want
		cell    string // "status reason" of the whole cell
		called  []string
		checkFn func(t *testing.T, res runner.Result, f *fakeJob)
	}{
		{
			name: "every step passes", minor: "3.11",
			files: map[string]string{"setup.py": setupPy, "tests/test_pkg.py": "def test_one(): pass\n"},
			steps: built(nil),
			want:  want{"unpack": "passed", "sdist": "passed", "bdist": "passed", "wheel": "passed", "import": "passed", "tests": "passed", "2to3": "passed"},
			cell:  "passed",
			// The tests run with pytest from the test environment, the
			// import from its own, each made once; 2to3 runs with the
			// interpreter itself, no environment.
			called: []string{"import /build/env/import/bin/python -c <script> pkg", "tests /build/env/test/bin/python -m pytest -v -p no:cacheprovider -- tests", "2to3 "},
			checkFn: func(t *testing.T, res runner.Result, f *fakeJob) {
				for _, c := range f.calls(t) {
					if strings.HasPrefix(c, "import ") && !strings.HasSuffix(c, " pkg") {
						t.Errorf("import call %q: want the one top-level module, pkg", c)
					}
				}
				if n := count(f.calls(t), "venv "); n != 3 {
					t.Errorf("%d environments made, want 3 (build, import, test):\n%s", n, strings.Join(f.calls(t), "\n"))
				}
				for _, st := range res.Steps {
					if st.Name == "wheel" && (len(st.Artifacts) != 1 || st.Artifacts[0].Path != "pkg-1.0-py3-none-any.whl" || len(st.Artifacts[0].Members) != 5) {
						t.Errorf("wheel artifacts %+v, want the wheel with its 5 members", st.Artifacts)
					}
					if !strings.Contains(string(st.Log), sandbox.FakeNotice) && st.Name != "unpack" {
						t.Errorf("%s: the log does not say the step ran unsealed: %q", st.Name, firstLines(st.Log, 2))
					}
				}
			},
		},
		{
			name: "a wheel that fails leaves nothing to import or test", minor: "3.11",
			files: map[string]string{"setup.py": setupPy, "tests/test_pkg.py": ""},
			steps: built(map[string]behaviour{"wheel": {exit: 1, log: "error: command 'gcc' failed\n"}}),
			want:  want{"unpack": "passed", "sdist": "passed", "bdist": "passed", "wheel": "failed exit-status", "import": "not-available skipped", "tests": "not-available skipped", "2to3": "passed"},
			cell:  "failed exit-status",
		},
		{
			name: "a module the Python cannot parse fails the import and the tests", minor: "3.11",
			files: map[string]string{"setup.py": setupPy, "tests/test_pkg.py": ""},
			steps: built(map[string]behaviour{"import": {exit: 1, log: "pysmoke: import pkg: failed\n" + traceSyntax}, "tests": {exit: 2, log: "E   " + strings.ReplaceAll(traceSyntax, "\n", "\nE   ") + "\n=== 1 error in 0.05s ===\n"}}),
			want:  want{"unpack": "passed", "sdist": "passed", "bdist": "passed", "wheel": "passed", "import": "failed syntax-error", "tests": "failed syntax-error", "2to3": "passed"},
			cell:  "failed syntax-error",
		},
		{
			name: "a module removed from the Python fails the import", minor: "3.12",
			files: map[string]string{"setup.py": setupPy, "tests/test_pkg.py": ""},
			steps: built(map[string]behaviour{"import": {exit: 1, log: traceImp}, "tests": {log: testsFailed, exit: 1}}),
			want:  want{"unpack": "passed", "sdist": "passed", "bdist": "passed", "wheel": "passed", "import": "failed module-removed", "tests": "failed test-failure", "2to3": "passed"},
			cell:  "failed module-removed",
		},
		{
			name: "setup.py reaching for the network", minor: "3.11",
			files: map[string]string{"setup.py": setupPy},
			steps: built(map[string]behaviour{"sdist": {exit: 1, log: "OSError: [Errno 101] Network is unreachable\n"}}),
			want:  want{"unpack": "passed", "sdist": "failed needs-network", "bdist": "passed", "wheel": "passed", "import": "passed", "tests": "no-tests no-tests", "2to3": "passed"},
			cell:  "failed needs-network",
		},
		{
			name: "pyproject.toml without a front end on 2.7", minor: "2.7",
			files: map[string]string{"pyproject.toml": flit},
			steps: built(nil),
			want:  want{"unpack": "passed", "sdist": "not-available no-frontend", "bdist": "not-available no-setup-py", "wheel": "not-available no-frontend", "import": "not-available skipped", "tests": "not-available skipped", "2to3": "passed"},
			cell:  "passed",
		},
		{
			name: "pyproject.toml with the front end and its backend", minor: "3.11",
			files: map[string]string{"pyproject.toml": flit, "tests/test_pkg.py": ""},
			steps: built(nil),
			want:  want{"unpack": "passed", "sdist": "passed", "bdist": "not-available no-setup-py", "wheel": "passed", "import": "passed", "tests": "passed", "2to3": "passed"},
			cell:  "passed",
			called: []string{"sdist /build/env/build/bin/python -m build --sdist --no-isolation --skip-dependency-check --outdir /build/out/sdist .",
				"wheel /build/env/build/bin/python -m pip wheel --no-index --no-deps --no-build-isolation --use-pep517 --no-cache-dir -w /build/out/wheel ."},
		},
		{
			name: "a build requirement nothing can meet is the machinery's", minor: "3.11",
			files: map[string]string{"pyproject.toml": strings.Replace(flit, "flit_core >=3.2,<4", "hatch-vcs", 1)},
			steps: built(nil),
			want: want{"unpack": "passed", "sdist": "machinery-error dependency-unavailable", "bdist": "not-available no-setup-py", "wheel": "machinery-error dependency-unavailable",
				"import": "machinery-error dependency-unavailable", "tests": "machinery-error dependency-unavailable", "2to3": "passed"},
			cell:    "machinery-error dependency-unavailable",
			checkFn: stepDetail(outcome.StepSdist, "build requirement unavailable: hatch-vcs: hatch-vcs is not on the index"),
		},
		{
			// The toolchain's flit_core is 3.9.0: a declared range is
			// checked, not assumed.
			name: "a build requirement's version range the toolchain cannot meet", minor: "3.11",
			files: map[string]string{"pyproject.toml": strings.Replace(flit, "flit_core >=3.2,<4", "flit_core >=3.11,<4", 1)},
			steps: built(nil),
			want: want{"unpack": "passed", "sdist": "machinery-error dependency-unavailable", "bdist": "not-available no-setup-py", "wheel": "machinery-error dependency-unavailable",
				"import": "machinery-error dependency-unavailable", "tests": "machinery-error dependency-unavailable", "2to3": "passed"},
			cell:    "machinery-error dependency-unavailable",
			checkFn: stepDetail(outcome.StepWheel, "build requirement unavailable: flit_core >=3.11,<4: no version of flit-core satisfies >=3.11"),
		},
		{
			name: "no toolchain for the interpreter", minor: "3.14",
			files: map[string]string{"setup.py": setupPy, "tests/test_pkg.py": ""},
			steps: built(nil),
			want: want{"unpack": "passed", "sdist": "machinery-error toolchain-missing", "bdist": "machinery-error toolchain-missing", "wheel": "machinery-error toolchain-missing",
				"import": "machinery-error toolchain-missing", "tests": "machinery-error toolchain-missing", "2to3": "passed"},
			cell: "machinery-error toolchain-missing",
		},
		{
			name: "an environment that cannot be made", minor: "3.11",
			files: map[string]string{"setup.py": setupPy},
			steps: built(map[string]behaviour{"env": {exit: 1, log: "ERROR: No matching distribution found for setuptools\n"}}),
			// The tests step has no wheel before it looks for tests.
			want: want{"unpack": "passed", "sdist": "machinery-error toolchain-missing", "bdist": "machinery-error toolchain-missing", "wheel": "machinery-error toolchain-missing",
				"import": "machinery-error toolchain-missing", "tests": "machinery-error toolchain-missing", "2to3": "passed"},
			cell: "machinery-error toolchain-missing",
		},
		{
			name: "Requires-Python excludes the interpreter", minor: "3.11",
			files: map[string]string{"setup.py": strings.Replace(setupPy, "packages=", "python_requires='>=3.12', packages=", 1)},
			steps: built(nil),
			want: want{"unpack": "passed", "sdist": "declared-unsupported requires-python", "bdist": "declared-unsupported requires-python", "wheel": "declared-unsupported requires-python",
				"import": "declared-unsupported requires-python", "tests": "declared-unsupported requires-python", "2to3": "declared-unsupported requires-python"},
			cell: "declared-unsupported requires-python",
			checkFn: func(t *testing.T, _ runner.Result, f *fakeJob) {
				if c := f.calls(t); len(c) != 1 || c[0] != "" {
					t.Errorf("the interpreter ran: %q", c)
				}
			},
		},
		{
			name: "Requires-Python ignored on request", minor: "3.11",
			files: map[string]string{"setup.py": strings.Replace(setupPy, "packages=", "python_requires='>=3.12', packages=", 1)},
			steps: built(nil),
			job:   func(j *runner.Job) { j.IgnoreRequiresPython = true },
			want:  want{"unpack": "passed", "sdist": "passed", "bdist": "passed", "wheel": "passed", "import": "passed", "tests": "no-tests no-tests", "2to3": "not-available python3-only"},
			cell:  "no-tests no-tests",
		},
		{
			// lib2to3 would fail on Python 3 syntax, blaming the release
			// for a step that does not apply to it; the cell stays green.
			name: "Python 3 only: no 2to3", minor: "3.11",
			files:  map[string]string{"setup.py": strings.Replace(setupPy, "packages=", "python_requires='>=3.7', packages=", 1), "test_pkg.py": ""},
			steps:  built(map[string]behaviour{"2to3": {exit: 1, log: "RefactoringTool: Can't parse pkg/__init__.py: ParseError\n"}}),
			want:   want{"unpack": "passed", "sdist": "passed", "bdist": "passed", "wheel": "passed", "import": "passed", "tests": "passed", "2to3": "not-available python3-only"},
			cell:   "passed",
			called: []string{"tests /build/env/test/bin/python -m pytest -v -p no:cacheprovider -- test_pkg.py"},
		},
		{
			// The tests import a module nobody declared and nothing
			// installed: the test environment is incomplete (grey), not
			// the release failed.
			name: "undeclared test dependency", minor: "3.11",
			files: map[string]string{"setup.py": setupPy, "test_pkg.py": ""},
			steps: built(map[string]behaviour{"tests": {exit: 2, log: "E   ModuleNotFoundError: No module named 'freezegun'\n=== 1 error in 0.05s ===\n"}}),
			want: want{"unpack": "passed", "sdist": "passed", "bdist": "passed", "wheel": "passed", "import": "passed",
				"tests": "machinery-error dependency-unavailable", "2to3": "passed"},
			cell: "machinery-error dependency-unavailable",
		},
		{
			// The release's own module missing is its own failure.
			name: "the release's own module missing in the tests", minor: "3.11",
			files: map[string]string{"setup.py": setupPy, "test_pkg.py": ""},
			steps: built(map[string]behaviour{"tests": {exit: 2, log: "E   ModuleNotFoundError: No module named 'pkg._speedups'\n=== 1 error in 0.05s ===\n"}}),
			want: want{"unpack": "passed", "sdist": "passed", "bdist": "passed", "wheel": "passed", "import": "passed",
				"tests": "failed import-error", "2to3": "passed"},
			cell: "failed import-error",
		},
		{
			// As chardet: its setup.cfg says which files are tests
			// (test.py at the top, beside a tests/ folder of data) and
			// asks for coverage, which the test environment lacks: the
			// tests run with that configuration, less the coverage
			// options.
			name: "the project's pytest configuration", minor: "3.11",
			files: map[string]string{"setup.py": setupPy, "test.py": "def test_one(): pass\n", "tests/data.txt": "x\n",
				"setup.cfg": "[metadata]\nname = pkg\n\n[tool:pytest]\npython_files = test.py\naddopts = --cov=pkg --cov-report term-missing -ra\n"},
			steps:  built(nil),
			want:   want{"unpack": "passed", "sdist": "passed", "bdist": "passed", "wheel": "passed", "import": "passed", "tests": "passed", "2to3": "passed"},
			cell:   "passed",
			called: []string{"tests /build/env/test/bin/python -m pytest -v -p no:cacheprovider -o addopts=-ra -- tests test.py"},
		},
		{
			// testpaths: pytest is given no paths, and the nested folder
			// is copied where the configuration says it is.
			name: "pytest testpaths", minor: "3.12",
			files: map[string]string{"setup.py": setupPy, "src/pkg/tests/test_x.py": "def test_one(): pass\n", "conftest.py": "",
				"pyproject.toml": "[tool.pytest.ini_options]\ntestpaths = [\"src/pkg/tests\"]\naddopts = \"--strict-markers\"\n"},
			steps: built(nil),
			want:  want{"unpack": "passed", "sdist": "passed", "bdist": "passed", "wheel": "passed", "import": "passed", "tests": "passed", "2to3": "passed"},
			cell:  "passed",
			checkFn: func(t *testing.T, res runner.Result, f *fakeJob) {
				var tests []string
				for _, c := range f.calls(t) {
					if strings.HasPrefix(c, "tests ") {
						tests = append(tests, c)
					}
				}
				want := "tests /build/env/test/bin/python -m pytest -v -p no:cacheprovider"
				if len(tests) != 1 || tests[0] != want {
					t.Errorf("tests ran as %q, want %q", tests, want)
				}
			},
		},
		{
			// As futures: tox.ini's command runs its test script with
			// the environment's interpreter, which pysmoke does.
			name: "the project's tox command", minor: "2.7",
			files: map[string]string{"setup.py": setupPy, "test_futures.py": "",
				"tox.ini": "[tox]\nenvlist = py26,py27\n\n[testenv]\ncommands = {envpython} test_futures.py {posargs}\n"},
			steps:  built(nil),
			want:   want{"unpack": "passed", "sdist": "passed", "bdist": "passed", "wheel": "passed", "import": "passed", "tests": "passed", "2to3": "passed"},
			cell:   "passed",
			called: []string{"tests @PY@ test_futures.py"}, // 2.7: no virtual environment
			checkFn: func(t *testing.T, res runner.Result, f *fakeJob) {
				if res.TestSource != "tox.ini [testenv]" {
					t.Errorf("test source %q", res.TestSource)
				}
			},
		},
		{
			// tox deps the job cannot have (six, on no index here): the
			// declared environment is incomplete, and pytest never runs.
			name: "tox deps that no index has", minor: "3.11",
			files: map[string]string{"setup.py": setupPy, "tests/test_pkg.py": "",
				"tox.ini": "[testenv]\ndeps = six\ncommands = python -m pytest {posargs: \"{toxinidir}/tests\" --cov-config=\"{toxinidir}/tox.ini\" --cov=pkg}\n"},
			steps: built(nil),
			job:   func(j *runner.Job) {},
			want:  want{"unpack": "passed", "sdist": "passed", "bdist": "passed", "wheel": "passed", "import": "passed", "tests": "machinery-error dependency-unavailable", "2to3": "passed"},
			cell:  "machinery-error dependency-unavailable",
			checkFn: func(t *testing.T, res runner.Result, f *fakeJob) {
				for _, c := range f.calls(t) {
					if strings.HasPrefix(c, "tests ") {
						t.Errorf("the tests ran: %q", c)
					}
				}
			},
		},
		{
			// As python-dateutil: pytest under coverage with coverage
			// options, and no pytest-cov or coverage in the
			// environment: pytest runs without them.
			name: "the project's pytest command, coverage options dropped", minor: "3.11",
			files: map[string]string{"setup.py": setupPy, "tests/test_pkg.py": "",
				"tox.ini": "[testenv]\ncommands =\n    coverage run -m pytest {posargs: \"{toxinidir}/tests\" --cov=pkg -ra}\n    coverage report\n"},
			steps:  built(nil),
			want:   want{"unpack": "passed", "sdist": "passed", "bdist": "passed", "wheel": "passed", "import": "passed", "tests": "passed", "2to3": "passed"},
			cell:   "passed",
			called: []string{"tests /build/env/test/bin/python -m pytest ./tests -ra"},
		},
		{
			name: "no lib2to3", minor: "3.11", nolib: true,
			files:  map[string]string{"setup.py": setupPy, "test_pkg.py": ""},
			steps:  built(nil),
			want:   want{"unpack": "passed", "sdist": "passed", "bdist": "passed", "wheel": "passed", "import": "passed", "tests": "passed", "2to3": "not-available no-lib2to3"},
			cell:   "passed",
			called: []string{"tests /build/env/test/bin/python -m pytest -v -p no:cacheprovider -- test_pkg.py"},
		},
		{
			name: "pytest collecting nothing is no tests", minor: "3.11",
			files: map[string]string{"setup.py": setupPy, "tests/test_pkg.py": ""},
			steps: built(map[string]behaviour{"tests": {exit: 5, log: "collected 0 items\n\n=== no tests ran in 0.01s ===\n"}}),
			want:  want{"unpack": "passed", "sdist": "passed", "bdist": "passed", "wheel": "passed", "import": "passed", "tests": "no-tests no-tests", "2to3": "passed"},
			cell:  "no-tests no-tests",
		},
		{
			name: "the allowlist's test command, which a missing tests folder does not stop", minor: "3.11",
			files: map[string]string{"setup.py": setupPy},
			steps: built(map[string]behaviour{"tests": {exit: 5, log: "collected 0 items\n"}}),
			job:   func(j *runner.Job) { j.TestCommand = []string{"python", "-m", "pytest", "-q", "--pyargs", "pkg"} },
			// Exit status 5 is pytest's own "nothing collected" only when
			// pysmoke chose pytest; a project's command means what it says.
			want:   want{"unpack": "passed", "sdist": "passed", "bdist": "passed", "wheel": "passed", "import": "passed", "tests": "failed exit-status", "2to3": "passed"},
			cell:   "failed exit-status",
			called: []string{"tests /build/env/test/bin/python -m pytest -q --pyargs pkg"},
		},
		{
			name: "unittest on 2.7, in a user base", minor: "2.7",
			files: map[string]string{"setup.py": setupPy, "tests/__init__.py": "", "tests/test_pkg.py": ""},
			steps: built(map[string]behaviour{"tests": {log: "Ran 1 test in 0.001s\n\nOK\n"}}),
			want:  want{"unpack": "passed", "sdist": "passed", "bdist": "passed", "wheel": "passed", "import": "passed", "tests": "passed", "2to3": "passed"},
			cell:  "passed",
			called: []string{"wheel @PY@ setup.py bdist_wheel --dist-dir /build/out/wheel",
				"tests @PY@ -m unittest discover -v -s tests -t ."},
		},
		{
			name: "unittest running nothing", minor: "2.7",
			files: map[string]string{"setup.py": setupPy, "tests/test_pkg.py": ""},
			steps: built(map[string]behaviour{"tests": {log: "\n----------------------------------------------------------------------\nRan 0 tests in 0.000s\n\nOK\n"}}),
			want:  want{"unpack": "passed", "sdist": "passed", "bdist": "passed", "wheel": "passed", "import": "passed", "tests": "no-tests no-tests", "2to3": "passed"},
			cell:  "no-tests no-tests",
		},
		{
			name: "a wheel declaring no module", minor: "3.11",
			files: map[string]string{"setup.py": setupPy},
			steps: built(map[string]behaviour{"wheel": {out: fakeWheel(t, map[string]string{"pkg-1.0.data/data/share/x.txt": ""}, nil), outName: "pkg-1.0-py3-none-any.whl"}}),
			want:  want{"unpack": "passed", "sdist": "passed", "bdist": "passed", "wheel": "passed", "import": "not-available no-modules", "tests": "no-tests no-tests", "2to3": "passed"},
			cell:  "no-tests no-tests",
		},
		{
			name: "modules from the RECORD when there is no top_level.txt", minor: "3.11",
			files:  map[string]string{"pyproject.toml": flit},
			steps:  built(map[string]behaviour{"wheel": {out: fakeWheel(t, map[string]string{"alpha.py": "", "beta/__init__.py": "", "_gamma.cpython-311-x86_64-linux-gnu.so": "", "data/readme.txt": "", "top.pth": ""}, nil), outName: "pkg-1.0-py3-none-any.whl"}}),
			want:   want{"unpack": "passed", "sdist": "passed", "bdist": "not-available no-setup-py", "wheel": "passed", "import": "passed", "tests": "no-tests no-tests", "2to3": "passed"},
			cell:   "no-tests no-tests",
			called: []string{"import /build/env/import/bin/python -c"},
			checkFn: func(t *testing.T, _ runner.Result, f *fakeJob) {
				for _, c := range f.calls(t) {
					if strings.HasPrefix(c, "import ") && !strings.HasSuffix(c, " _gamma alpha beta") {
						t.Errorf("import call %q: want _gamma, alpha and beta, nothing else", c)
					}
				}
			},
		},
		{
			name: "a requirement nothing can meet is the machinery's", minor: "3.11",
			files: map[string]string{"setup.py": setupPy, "tests/test_pkg.py": ""},
			steps: built(map[string]behaviour{"wheel": {out: fakeWheel(t, pkg, []string{"pkg"}, "nosuchdep>=1"), outName: "pkg-1.0-py3-none-any.whl"}}),
			want: want{"unpack": "passed", "sdist": "passed", "bdist": "passed", "wheel": "passed",
				"import": "machinery-error dependency-unavailable", "tests": "machinery-error dependency-unavailable", "2to3": "passed"},
			cell: "machinery-error dependency-unavailable",
			checkFn: func(t *testing.T, res runner.Result, _ *fakeJob) {
				for _, st := range res.Steps {
					if (st.Name == "import" || st.Name == "tests") && !strings.Contains(st.Detail, "nosuchdep") {
						t.Errorf("%s: %q does not name nosuchdep", st.Name, st.Detail)
					}
				}
			},
		},
		{
			name: "a step past its timeout", minor: "3.11",
			files: map[string]string{"setup.py": setupPy, "tests/test_pkg.py": ""},
			steps: built(map[string]behaviour{"tests": {sleep: 60}}),
			job:   func(j *runner.Job) { j.Timeouts = map[string]time.Duration{"tests": time.Second} },
			want:  want{"unpack": "passed", "sdist": "passed", "bdist": "passed", "wheel": "passed", "import": "passed", "tests": "resource-limit timeout", "2to3": "passed"},
			cell:  "resource-limit timeout",
		},
		{
			name: "the built wheel kept", minor: "3.11",
			files: map[string]string{"setup.py": setupPy},
			steps: built(nil),
			job:   func(j *runner.Job) { j.WheelDir = filepath.Join(filepath.Dir(j.Sdist), "kept") },
			want:  want{"unpack": "passed", "sdist": "passed", "bdist": "passed", "wheel": "passed", "import": "passed", "tests": "no-tests no-tests", "2to3": "passed"},
			cell:  "no-tests no-tests",
			checkFn: func(t *testing.T, res runner.Result, f *fakeJob) {
				if _, err := os.Stat(filepath.Join(f.dir, "..", "sdist", "kept", "pkg-1.0-py3-none-any.whl")); err != nil {
					t.Errorf("the wheel was not kept: %v", err)
				}
			},
		},
		{
			name: "an sdist that breaks an unpacking rule runs nothing", minor: "3.11",
			files: map[string]string{"setup.py": setupPy, "../evil.py": ""},
			steps: built(nil),
			want:  want{"unpack": "rejected bad-sdist"},
			cell:  "rejected bad-sdist",
			checkFn: func(t *testing.T, _ runner.Result, f *fakeJob) {
				if c := f.calls(t); len(c) != 1 || c[0] != "" {
					t.Errorf("the interpreter ran: %q", c)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeJob(t, tc.minor, !tc.nolib, tc.steps)
			sdist := fakeSdist(t, filepath.Join(f.dir, "..", "sdist"), tc.files)
			r := runner.New(runner.Options{Backend: sandbox.Fake{}, Toolchain: fakeToolchain(t), ScratchDir: f.scratch,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			job := runner.Job{Project: "pkg", Version: "1.0", Sdist: sdist, Interpreter: f.in}
			if tc.job != nil {
				tc.job(&job)
			}
			res, err := r.Run(context.Background(), job)
			if err != nil {
				t.Fatal(err)
			}
			got := want{}
			for _, st := range res.Steps {
				got[st.Name] = strings.TrimSpace(string(st.Status) + " " + st.Reason)
			}
			for _, name := range outcome.Steps {
				if got[name] != tc.want[name] {
					var log []byte
					for _, st := range res.Steps {
						if st.Name == name {
							log = st.Log
						}
					}
					t.Errorf("%s: %q, want %q\n%s", name, got[name], tc.want[name], firstLines(log, 12))
				}
			}
			if cell := strings.TrimSpace(string(res.Status) + " " + res.Reason); cell != tc.cell {
				t.Errorf("cell %q, want %q", cell, tc.cell)
			}
			calls := f.calls(t)
			for _, c := range tc.called {
				c = strings.ReplaceAll(c, "@PY@", f.in.Path)
				if count(calls, c) == 0 {
					t.Errorf("no call %q among:\n%s", c, strings.Join(calls, "\n"))
				}
			}
			if tc.checkFn != nil {
				tc.checkFn(t, res, f)
			}
		})
	}
}

// count returns how many of lines start with prefix.
func count(lines []string, prefix string) int {
	n := 0
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

// fakeSdist writes the project's files (and pkg/__init__.py) as the sdist
// pkg-1.0.tar.gz in dir; a name leaving the project is written as given.
func fakeSdist(t *testing.T, dir string, files map[string]string) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "pkg")
	write(t, filepath.Join(src, "pkg", "__init__.py"), "")
	hostile := map[string]string{}
	for name, body := range files {
		if strings.HasPrefix(name, "../") {
			hostile[name] = body
			continue
		}
		write(t, filepath.Join(src, name), body)
	}
	p, err := localindex.WriteSdist(dir, src, "pkg", "1.0")
	if err != nil {
		t.Fatal(err)
	}
	if len(hostile) > 0 {
		return appendToSdist(t, p, hostile)
	}
	return p
}

// appendToSdist rewrites a .tar.gz sdist with more members, named as given
// under its top folder (a test's hostile names).
func appendToSdist(t *testing.T, sdist string, extra map[string]string) string {
	t.Helper()
	in, err := os.Open(sdist)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(in)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	tr := tar.NewReader(zr)
	top := ""
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if top == "" {
			top, _, _ = strings.Cut(h.Name, "/")
		}
		tw.WriteHeader(h)
		io.Copy(tw, tr)
	}
	in.Close()
	for name, body := range extra {
		tw.WriteHeader(&tar.Header{Name: top + "/" + name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(body))
	}
	tw.Close()
	zw.Close()
	if err := os.WriteFile(sdist, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return sdist
}
