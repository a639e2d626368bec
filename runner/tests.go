package runner

// The tests step: the package's tests run against its wheel, installed
// with the test runner and the release's dependencies (deps.go) into a
// fresh environment. The tests are copied out of the sdist first, so that
// they import the package from its installed wheel, not from the source
// tree.

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pysmoke/pysmoke/dist"
	"github.com/pysmoke/pysmoke/outcome"
	"github.com/pysmoke/pysmoke/sandbox"
	"github.com/pysmoke/pysmoke/toolchain"
)

// testRun is where the tests are copied to and run from.
const testRun = sandbox.BuildRoot + "/testrun"

// testCopies is what of the unpacked project (read before anything of it
// ran) the tests step copies: a tests/ or test/ folder, else the test
// files at its top; and whether that folder is a package (an
// __init__.py), which unittest's discovery must be told.
func testCopies(projDir string) (copies []string, isPackage bool) {
	for _, d := range []string{"tests", "test"} {
		if fi, err := os.Lstat(filepath.Join(projDir, d)); err == nil && fi.IsDir() {
			return []string{d}, fileExists(filepath.Join(projDir, d, "__init__.py"))
		}
	}
	ents, _ := os.ReadDir(projDir)
	for _, e := range ents {
		n := e.Name()
		if e.Type().IsRegular() && strings.HasSuffix(n, ".py") && (strings.HasPrefix(n, "test_") || strings.HasSuffix(n, "_test.py")) {
			copies = append(copies, n)
		}
	}
	return copies, false
}

// readTests reads what the tests step needs of the unpacked project in
// projDir (before anything of it ran): its tests, its pytest
// configuration and what of the project that configuration needs beside
// the tests, and the test environment it declares.
func (j *job) readTests(projDir string) {
	j.testCopies, j.testsPackage = testCopies(projDir)
	j.pytest = readPytestConfig(projDir)
	var top []string
	ents, _ := os.ReadDir(projDir)
	for _, e := range ents {
		top = append(top, e.Name())
	}
	kind := func(rel string) (bool, bool) {
		fi, err := os.Lstat(filepath.Join(projDir, filepath.FromSlash(rel)))
		if err != nil {
			return false, false
		}
		return fi.IsDir(), fi.IsDir() || fi.Mode().IsRegular()
	}
	config, tests := j.pytest.copies(top, kind)
	j.testConfig = config
	j.testCopies = appendNew(j.testCopies, tests...)
	j.tests = readTestSource(projDir, j.in.Minor)
	if len(j.tests.Commands) > 0 {
		j.commands, j.commandsWhy, _ = mapCommands(j.tests.Commands)
		// What the commands name that the project has and that is a
		// test (a folder or file with "test" in its name: never the
		// package's own source, which must come from the wheel).
		for _, p := range commandPaths(j.commands) {
			if _, ok := kind(p); ok && strings.Contains(strings.ToLower(path.Base(p)), "test") {
				j.testCopies = appendNew(j.testCopies, p)
			}
		}
	}
}

// commandsUsePytest reports whether the project's commands run pytest.
func (j *job) commandsUsePytest() bool {
	return slices.ContainsFunc(j.commands, func(c projectCommand) bool { return c.pytest })
}

// projectScript is the shell script that runs the project's commands in
// order, stopping at the first that fails, with "$0" (the test
// environment's interpreter) for python and pytest's options of plugins
// the environment lacks dropped.
func (j *job) projectScript() string {
	installed := j.installedProjects()
	var b strings.Builder
	b.WriteString("set -e\n")
	for _, c := range j.commands {
		args := c.argv[1:]
		if c.pytest {
			args = append(args[:2:2], withoutMissingPlugins(args[2:], installed)...)
		}
		fmt.Fprintf(&b, "echo %s\n", shellQuote("pysmoke: python "+strings.Join(args, " ")))
		// "$0" is the interpreter, given after the script: an argument
		// of the command line, not a path inside the script's text.
		b.WriteString(`"$0"`)
		for _, w := range args {
			b.WriteByte(' ')
			b.WriteString(shellQuote(w))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// testEnv is the test environment: the built wheel, the test runner, and
// the dependencies resolved for the tests. A dependency the closure pins
// replaces the test runner's own wheel of that project (two wheels of one
// project cannot be installed).
func testEnv(j *job) (string, []string) {
	pinned := map[string]bool{}
	for _, p := range j.closure.pins {
		pinned[p.Project] = true
	}
	wheels := []string{path.Join(sandbox.BuildRoot, j.builtWheel())}
	for _, w := range j.set.Test {
		if df, err := dist.ParseFilename(w); err == nil && pinned[dist.Normalize(df.Name)] && !slices.Contains(j.closure.install, w) {
			continue
		}
		wheels = append(wheels, w)
	}
	return "test", append(wheels, j.closure.install...)
}

// copyTests copies the tests out of the source tree into testRun, inside
// the sandbox (the tree is the package's: the host does not walk it).
func copyTests(ctx context.Context, j *job, _ *environment, env []string) (*StepResult, error) {
	// --parents keeps a nested testpaths folder (src/pkg/tests) where
	// the configuration says it is.
	cp := append([]string{"/bin/sh", "-c", `mkdir -p "$0" && cd "$1" && shift && { [ $# -eq 0 ] || cp -R --parents -- "$@" "$0"/; }`, testRun, j.workdir}, append(append([]string(nil), j.testConfig...), j.testCopies...)...)
	cr, err := j.sb.Exec(ctx, sandbox.Command{Argv: cp, Dir: sandbox.BuildRoot, Env: env, Timeout: j.r.timeout(j.spec, outcome.StepTests), LogLimit: j.r.opts.LogLimit})
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err != nil || cr.ExitCode != 0 {
		sr := machinery("", outcome.ReasonSandbox, fmt.Sprintf("could not copy the tests out of the source tree: %v %s", err, cr.Log))
		return &sr, nil
	}
	return nil, nil
}

// shippedTests returns the test packages a wheel ships inside its own
// packages ("simplejson.tests" for simplejson/tests/__init__.py), by its
// RECORD (info reads a file of its .dist-info), sorted: the tests of a
// project whose sdist has no tests beside its code.
func shippedTests(info func(name string, max int64) ([]byte, error)) ([]string, error) {
	paths, err := recordPaths(info)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range paths {
		parts := strings.Split(p, "/")
		if len(parts) != 3 || (parts[1] != "tests" && parts[1] != "test") || parts[2] != "__init__.py" || recordModule(p) != parts[0] {
			continue
		}
		if m := parts[0] + "." + parts[1]; moduleName.MatchString(m) && !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	slices.Sort(out)
	return out, nil
}

// unittestPackagesScript runs unittest discovery over installed test
// packages ("$@", dotted names; "$0" the interpreter): each found where the
// interpreter imports it from, its top level the folder of its project's
// package.
const unittestPackagesScript = `for m in "$@"; do
	d=$("$0" -c 'import importlib, os, sys; print(os.path.dirname(importlib.import_module(sys.argv[1]).__file__))' "$m") || exit $?
	echo "pysmoke: python -m unittest discover -s $d"
	"$0" -m unittest discover -v -s "$d" -t "$(dirname "$(dirname "$d")")" || exit $?
done
`

// testCommand is how the tests run: the allowlist's command for the
// project, else the project's own commands where they map to the test
// environment, else pytest over the copies when the toolchain has it for
// this interpreter, else unittest discovery; for tests the wheel ships
// inside its packages, pytest --pyargs or unittest discovery of them,
// installed.
func (j *job) testCommand(e *environment) []string {
	switch {
	case j.spec.TestCommand != nil:
		argv := append([]string(nil), j.spec.TestCommand...)
		if argv[0] == "python" {
			argv[0] = e.python
		}
		return argv
	case len(j.commands) > 0:
		return []string{"/bin/sh", "-c", j.projectScript(), e.python}
	case len(j.shippedTests) > 0 && j.set.Runner == toolchain.RunnerPytest:
		return append([]string{e.python, "-m", "pytest", "-v", "-p", "no:cacheprovider", "--pyargs"}, j.shippedTests...)
	case len(j.shippedTests) > 0:
		return append([]string{"/bin/sh", "-c", unittestPackagesScript, e.python}, j.shippedTests...)
	case j.set.Runner == toolchain.RunnerPytest:
		argv := []string{e.python, "-m", "pytest", "-v", "-p", "no:cacheprovider"}
		if opts := withoutMissingPlugins(j.pytest.AddOpts, j.installedProjects()); len(opts) < len(j.pytest.AddOpts) {
			// The project's options, less those of plugins the test
			// environment lacks (coverage, most often).
			quoted := make([]string, len(opts))
			for i, o := range opts {
				quoted[i] = shellQuote(o)
			}
			argv = append(argv, "-o", "addopts="+strings.Join(quoted, " "))
		}
		if len(j.pytest.TestPaths) > 0 {
			return argv // pytest runs what testpaths names
		}
		return append(append(argv, "--"), j.testCopies...)
	}
	argv := []string{e.python, "-m", "unittest", "discover", "-v"}
	if c := j.testCopies[0]; c == "tests" || c == "test" {
		argv = append(argv, "-s", c)
		if j.testsPackage {
			argv = append(argv, "-t", ".")
		}
	}
	return argv
}
