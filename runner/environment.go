package runner

// The environments of a job: the build tools and the test runner are not
// the interpreter's (3.12 and 3.13 have no setuptools, none has wheel);
// they are installed from the offline wheelhouse, by pip with --no-index,
// into environments made fresh inside the job's sandbox:
//
//   - on Python 3, a virtual environment ("python -m venv --without-pip"),
//     into which the wheelhouse's pip, run straight from its wheel file,
//     installs the wheels;
//   - on Python 2.7, which has no venv module (and virtualenv is in no
//     registry this machine may use), a private user base: PYTHONUSERBASE
//     points at a folder of the job and "pip install --user" fills it.
//     site.py puts it first on sys.path, processes its .pth files and its
//     bin/ holds the console scripts, as a virtual environment's would;
//     only the interpreter's own site-packages stays visible behind it.
//
// The build environment holds pip, setuptools, wheel and their
// dependencies; the test environment the package's own wheel, built by the
// wheel step, and the test runner.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/pysmoke/pysmoke/dist"
	"github.com/pysmoke/pysmoke/resolver"
	"github.com/pysmoke/pysmoke/toolchain"
)

// environment is one made environment of a job.
type environment struct {
	python   string   // the interpreter to run inside it
	env      []string // the whole environment of a command run in it
	log      []byte   // what making it printed
	failed   string   // why it could not be made; empty when it was
	logShown bool     // its log already leads a step's
}

// environments makes a job's environments on first use.
type environments struct {
	sb       Sandbox
	in       Interpreter
	base     []string // the step environment (Runner.env)
	wheels   string   // the wheelhouse folder, mounted read-only
	set      toolchain.Set
	logLimit int64
	timeout  time.Duration
	made     map[string]*environment
}

// get returns the environment kind, making it with wheels (file names in
// the wheelhouse, or absolute paths inside the sandbox) the first time.
// The error is non-nil only when ctx ended.
func (es *environments) get(ctx context.Context, kind string, wheels []string) (*environment, error) {
	if e, ok := es.made[kind]; ok {
		return e, nil
	}
	root := path.Join(BuildRoot, "env", kind)
	e := &environment{}
	es.made[kind] = e
	var args []string
	for _, w := range dedupe(wheels) {
		if !strings.HasPrefix(w, "/") {
			w = path.Join(es.wheels, w)
		}
		args = append(args, w)
	}
	pip := path.Join(es.wheels, es.set.Pip, "pip")
	install := []string{pip, "install", "--no-index", "--no-deps", "--no-cache-dir", "--disable-pip-version-check", "--no-warn-script-location", "--no-compile"}
	var cmds [][]string
	if strings.HasPrefix(es.in.Minor, "2.") {
		e.python = es.in.Path
		e.env = setEnv(es.base, "PYTHONNOUSERSITE", "")
		e.env = setEnv(e.env, "PYTHONUSERBASE", root)
		e.env = setEnv(e.env, "PATH", path.Join(root, "bin")+":"+getEnv(es.base, "PATH"))
		cmds = append(cmds, append(append([]string{e.python}, install...), append([]string{"--user"}, args...)...))
	} else {
		e.python = path.Join(root, "bin", "python")
		e.env = setEnv(es.base, "VIRTUAL_ENV", root)
		e.env = setEnv(e.env, "PATH", path.Join(root, "bin")+":"+getEnv(es.base, "PATH"))
		cmds = append(cmds, []string{es.in.Path, "-m", "venv", "--without-pip", root})
		cmds = append(cmds, append(append([]string{e.python}, install...), args...))
	}
	fmt.Fprintf(logWriter{&e.log}, "pysmoke: making the %s environment at %s from the offline toolchain\n", kind, root)
	start := time.Now()
	for _, argv := range cmds {
		fmt.Fprintf(logWriter{&e.log}, "$ %s\n", strings.Join(argv, " "))
		er, err := es.sb.Exec(ctx, Command{Argv: argv, Dir: BuildRoot, Env: e.env, Timeout: es.timeout, LogLimit: es.logLimit})
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		e.log = append(e.log, er.Log...)
		switch {
		case err != nil:
			e.failed = fmt.Sprintf("could not make the %s environment: %v", kind, err)
		case er.ExitCode != 0:
			e.failed = fmt.Sprintf("could not make the %s environment from the offline toolchain (%s exited with %d)", kind, path.Base(argv[0]), er.ExitCode)
		}
		if e.failed != "" {
			return e, nil
		}
	}
	fmt.Fprintf(logWriter{&e.log}, "pysmoke: environment ready in %s\n\n", time.Since(start).Round(time.Millisecond))
	return e, nil
}

type logWriter struct{ b *[]byte }

func (w logWriter) Write(p []byte) (int, error) { *w.b = append(*w.b, p...); return len(p), nil }

// setEnv returns env with key set to value (removed when value is empty).
func setEnv(env []string, key, value string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	if value != "" {
		out = append(out, key+"="+value)
	}
	return out
}

func getEnv(env []string, key string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, key+"="); ok {
			return v
		}
	}
	return ""
}

type execInFunc func(name, dir string, env []string, argv ...string) (StepResult, error)
type withEnvFunc func(step, kind string, wheels []string, run func(e *environment) (StepResult, error)) (StepResult, error)

// testRun is where the tests are copied to and run from: not the source
// tree, so that they import the package from its installed wheel.
const testRun = BuildRoot + "/testrun"

// tests runs the package's tests against its wheel, installed with the
// test runner into a fresh environment. The tests are copied out of the
// sdist into testRun first.
// The release's dependencies are resolved and installed with it (deps.go);
// the chosen files are put into *pins.
func (r *Runner) tests(ctx context.Context, done []StepResult, scratch, projDir string, job Job, set toolchain.Set, envs *environments, withEnv withEnvFunc, execIn execInFunc, pins *[]resolver.Pin) (StepResult, error) {
	var wheelStep *StepResult
	for i := range done {
		if done[i].Name == StepWheel {
			wheelStep = &done[i]
		}
	}
	switch {
	case wheelStep == nil:
		return StepResult{Name: StepTests, Status: NotAvailable, Reason: ReasonSkipped, Detail: "no wheel step ran"}, nil
	case wheelStep.Status == Machinery:
		return machinery(StepTests, wheelStep.Reason, "no wheel to test: "+wheelStep.Detail), nil
	case wheelStep.Status != Passed:
		d := fmt.Sprintf("no wheel to test: the wheel step %s (%s)", wheelStep.Status, wheelStep.Reason)
		return StepResult{Name: StepTests, Status: NotAvailable, Reason: ReasonSkipped, Detail: d, Log: []byte(d)}, nil
	}
	built, _ := filepath.Glob(filepath.Join(scratch, "out", StepWheel, "*.whl"))
	sort.Strings(built)
	if len(built) == 0 {
		return machinery(StepTests, ReasonSandbox, "the wheel step passed but left no .whl"), nil
	}
	wheel := path.Join(BuildRoot, "out", StepWheel, filepath.Base(built[0]))

	// What to copy: a tests/ or test/ folder, else top-level test files.
	var copies []string
	for _, d := range []string{"tests", "test"} {
		if fi, err := os.Lstat(filepath.Join(projDir, d)); err == nil && fi.IsDir() {
			copies = append(copies, d)
			break
		}
	}
	if len(copies) == 0 {
		ents, _ := os.ReadDir(projDir)
		for _, e := range ents {
			n := e.Name()
			if e.Type().IsRegular() && strings.HasSuffix(n, ".py") && (strings.HasPrefix(n, "test_") || strings.HasSuffix(n, "_test.py")) {
				copies = append(copies, n)
			}
		}
	}
	if len(copies) == 0 && job.TestCommand == nil {
		d := "no tests in the sdist (no tests/ or test/ folder, no test_*.py or *_test.py at its top)"
		return StepResult{Name: StepTests, Status: NoTests, Reason: ReasonNoTests, Detail: d, Log: []byte(d)}, nil
	}
	var depsLog bytes.Buffer
	cl, sr, err := r.dependencies(ctx, job, built[0], projDir, scratch, set, withEnv, execIn, &depsLog)
	if err != nil || sr != nil {
		if sr != nil {
			return *sr, nil
		}
		return StepResult{}, err
	}
	*pins = cl.pins
	// A dependency the closure pins replaces the test runner's own wheel
	// of that project (two wheels of one project cannot be installed).
	pinned := map[string]bool{}
	for _, p := range cl.pins {
		pinned[p.Project] = true
	}
	wheels := []string{wheel}
	for _, w := range set.Test {
		if df, err := dist.ParseFilename(w); err == nil && pinned[dist.Normalize(df.Name)] && !slices.Contains(cl.install, w) {
			continue
		}
		wheels = append(wheels, w)
	}
	wheels = append(wheels, cl.install...)
	sr2, err := withEnv(StepTests, "test", wheels, func(e *environment) (StepResult, error) {
		rel, _ := filepath.Rel(scratch, projDir)
		src := path.Join(BuildRoot, filepath.ToSlash(rel))
		cp := append([]string{"/bin/sh", "-c", `mkdir -p "$0" && cd "$1" && shift && { [ $# -eq 0 ] || cp -R -- "$@" "$0"/; }`, testRun, src}, copies...)
		cr, err := envs.sb.Exec(ctx, Command{Argv: cp, Dir: BuildRoot, Env: e.env, Timeout: r.timeout(job, StepTests), LogLimit: r.opts.LogLimit})
		if ctx.Err() != nil {
			return StepResult{}, ctx.Err()
		}
		if err != nil || cr.ExitCode != 0 {
			return machinery(StepTests, ReasonSandbox, fmt.Sprintf("could not copy the tests out of the source tree: %v %s", err, cr.Log)), nil
		}
		var argv []string
		runner := set.Runner
		switch {
		case job.TestCommand != nil:
			runner = "command"
			argv = append(argv, job.TestCommand...)
			if argv[0] == "python" {
				argv[0] = e.python
			}
		case runner == toolchain.RunnerPytest:
			argv = append([]string{e.python, "-m", "pytest", "-v", "-p", "no:cacheprovider", "--"}, copies...)
		default:
			argv = []string{e.python, "-m", "unittest", "discover", "-v"}
			if fi, err := os.Stat(filepath.Join(projDir, copies[0])); err == nil && fi.IsDir() {
				argv = append(argv, "-s", copies[0])
				if fileExists(filepath.Join(projDir, copies[0], "__init__.py")) {
					argv = append(argv, "-t", ".")
				}
			}
		}
		sr, err := execIn(StepTests, testRun, e.env, argv...)
		if err == nil && runner == toolchain.RunnerPytest && sr.Status == Failed && sr.ExitCode == 5 {
			sr.Status, sr.Reason, sr.Detail = NoTests, ReasonNoTests, "pytest collected no tests"
		}
		return sr, err
	})
	if depsLog.Len() > 0 {
		sr2.Log = append(depsLog.Bytes(), sr2.Log...)
	}
	return sr2, err
}

func dedupe(xs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
