package runner

// The steps of a job, as a table. Each step is one value: its name, when it
// applies, what it prepares, the environment it runs in, its command, how
// its ending is classified beyond the common rules, and what follows it.
// Adding a step is adding a value here (and its name to outcome.Steps,
// which a test holds this table to).
//
// The common rules, for every step (job.exec): a failure of the sandbox
// itself is the machinery's; a limit that ended the step is a resource
// limit; otherwise the exit status and the log say (classify.go). Every
// step's outputs are collected from its own folder, "{out}" in its command
// line, as its artifacts.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/pysmoke/pysmoke/outcome"
	"github.com/pysmoke/pysmoke/sandbox"
	"github.com/pysmoke/pysmoke/toolchain"
)

// step is one step of a job. Only name and command are required.
type step struct {
	name string
	// skip returns the step's result when it does not run in this job (it
	// does not apply here, or an earlier step left nothing to work on);
	// nil when it runs.
	skip func(j *job) *StepResult
	// prepare does what must come before the step's environment is made
	// (resolving dependencies), writing what it did to log, which leads
	// the step's own. It returns the step's result instead when the step
	// cannot run; the error is non-nil only when ctx ended.
	prepare func(ctx context.Context, j *job, log *bytes.Buffer) (*StepResult, error)
	// env names the environment the step runs in and the wheels it is
	// made with (made once per job and kind); nil: the plain step
	// environment, with no toolchain.
	env func(j *job) (kind string, wheels []string)
	// setup runs in the environment before the command (e is nil in the
	// plain one; env is the command's environment), or returns the step's
	// result instead.
	setup func(ctx context.Context, j *job, e *environment, env []string) (*StepResult, error)
	// command is the step's command line and working folder inside the
	// sandbox.
	command func(j *job, e *environment) (argv []string, dir string)
	// classify adjusts the common classification of the command's ending.
	classify func(j *job, sr *StepResult)
	// after runs once the step's result is recorded.
	after func(j *job, sr StepResult)
}

// steps are the steps after unpacking, in the order of outcome.Steps.
var steps = []step{
	{
		name: outcome.StepSdist,
		skip: func(j *job) *StepResult {
			switch {
			case j.hasSetupPy:
			case !j.hasBuildSystem:
				return notAvailable(outcome.ReasonNoSetupPy, "neither setup.py nor a [build-system] in pyproject.toml")
			case j.setErr == nil && len(j.set.Frontend517) == 0:
				return notAvailable(outcome.ReasonNoFrontend, "no PEP 517 front end runs on Python "+j.in.Minor)
			}
			return nil
		},
		prepare: prepareBuild,
		env:     buildEnv,
		command: func(j *job, e *environment) ([]string, string) {
			if j.hasSetupPy {
				return []string{e.python, "setup.py", "sdist", "--dist-dir", "{out}"}, j.workdir
			}
			return []string{e.python, "-m", "build", "--sdist", "--no-isolation", "--skip-dependency-check", "--outdir", "{out}", "."}, j.workdir
		},
	},
	{
		name: outcome.StepBdist,
		skip: func(j *job) *StepResult {
			if !j.hasSetupPy {
				return notAvailable(outcome.ReasonNoSetupPy, "no setup.py to run bdist with (the wheel step builds through PEP 517)")
			}
			return nil
		},
		prepare: prepareBuild,
		env:     buildEnv,
		command: func(j *job, e *environment) ([]string, string) {
			return []string{e.python, "setup.py", "bdist", "--dist-dir", "{out}"}, j.workdir
		},
	},
	{
		name: outcome.StepWheel,
		skip: func(j *job) *StepResult {
			switch {
			case j.setErr == nil && j.set.Frontend == toolchain.FrontendSetupPy && !j.hasSetupPy:
				return notAvailable(outcome.ReasonNoFrontend, "no setup.py, and no PEP 517 front end runs on Python "+j.in.Minor)
			case !j.hasSetupPy && !j.hasBuildSystem:
				return notAvailable(outcome.ReasonNoSetupPy, "neither setup.py nor a [build-system] in pyproject.toml")
			}
			return nil
		},
		prepare: prepareBuild,
		env:     buildEnv,
		command: func(j *job, e *environment) ([]string, string) {
			if j.set.Frontend == toolchain.FrontendSetupPy {
				return []string{e.python, "setup.py", "bdist_wheel", "--dist-dir", "{out}"}, j.workdir
			}
			return []string{e.python, "-m", "pip", "wheel", "--no-index", "--no-deps",
				"--no-build-isolation", "--use-pep517", "--no-cache-dir", "-w", "{out}", "."}, j.workdir
		},
		after: func(j *job, sr StepResult) {
			if sr.Status != outcome.Passed || j.spec.WheelDir == "" {
				return
			}
			if err := j.keepWheels(j.spec.WheelDir); err != nil {
				j.r.opts.Logger.Warn("keep the built wheel", "dir", j.spec.WheelDir, "err", err)
			}
		},
	},
	{
		// The smoke test for the many packages whose tests cannot run:
		// each top-level module the built wheel declares is imported, in a
		// fresh environment holding only the wheel and what it requires.
		name: outcome.StepImport,
		skip: func(j *job) *StepResult {
			if sr := j.needWheel("import"); sr != nil {
				return sr
			}
			wheel := j.builtWheel()
			mods, err := topLevelModules(func(name string, max int64) ([]byte, error) { return j.wheelInfo(wheel, name, max) })
			if err != nil {
				sr := machinery("", outcome.ReasonSandbox, "cannot list the built wheel's modules: "+err.Error())
				return &sr
			}
			if len(mods) == 0 {
				d := "the built wheel declares no top-level module (no top_level.txt entry, no module in its RECORD)"
				return &StepResult{Status: outcome.NotAvailable, Reason: outcome.ReasonNoModules, Detail: d, Log: []byte(d)}
			}
			j.modules = mods
			return nil
		},
		prepare: func(ctx context.Context, j *job, log *bytes.Buffer) (*StepResult, error) {
			return j.resolve(ctx, outcome.StepImport, false, log)
		},
		env: func(j *job) (string, []string) {
			return "import", append([]string{path.Join(sandbox.BuildRoot, j.builtWheel())}, j.closure.install...)
		},
		command: func(j *job, e *environment) ([]string, string) {
			// From a folder of its own, made empty, so that only the
			// installed wheel can be what is imported.
			run := path.Join(sandbox.BuildRoot, "importrun")
			argv := []string{"/bin/sh", "-c", `mkdir -p "$0" && cd "$0" && exec "$@"`, run, e.python, "-c", importScript}
			return append(argv, j.modules...), sandbox.BuildRoot
		},
	},
	{
		name: outcome.StepTests,
		skip: func(j *job) *StepResult {
			if sr := j.needWheel("test"); sr != nil {
				return sr
			}
			if len(j.testCopies) > 0 || j.spec.TestCommand != nil || len(j.commands) > 0 {
				return nil
			}
			// No tests beside the code: those the wheel ships inside
			// its packages, if any, run installed.
			wheel := j.builtWheel()
			pkgs, err := shippedTests(func(name string, max int64) ([]byte, error) { return j.wheelInfo(wheel, name, max) })
			if err != nil {
				sr := machinery("", outcome.ReasonSandbox, "cannot read the built wheel's RECORD: "+err.Error())
				return &sr
			}
			if len(pkgs) == 0 {
				d := "no tests in the sdist (no tests/ or test/ folder, no test_*.py or *_test.py at its top) nor in the built wheel (no tests/ or test/ package inside its packages)"
				return &StepResult{Status: outcome.NoTests, Reason: outcome.ReasonNoTests, Detail: d, Log: []byte(d)}
			}
			j.shippedTests = pkgs
			return nil
		},
		prepare: func(ctx context.Context, j *job, log *bytes.Buffer) (*StepResult, error) {
			log.WriteString(j.tests.describe())
			log.WriteString(j.describeCommands())
			if len(j.shippedTests) > 0 {
				fmt.Fprintf(log, "pysmoke: the tests the built wheel ships, run installed: %s\n", strings.Join(j.shippedTests, ", "))
			}
			sr, err := j.resolve(ctx, outcome.StepTests, true, log)
			if sr == nil && err == nil {
				j.pins = j.closure.pins
			}
			return sr, err
		},
		env:   testEnv,
		setup: copyTests,
		command: func(j *job, e *environment) ([]string, string) {
			return j.testCommand(e), testRun
		},
		classify: func(j *job, sr *StepResult) {
			var reqs []string
			if j.closure != nil {
				reqs = j.closure.reqs
			}
			missingTestModule(sr, j.modules, j.tests, reqs)
			// pytest's exit status 5: it collected nothing.
			pytest := j.set.Runner == toolchain.RunnerPytest && len(j.commands) == 0 || j.commandsUsePytest()
			if j.spec.TestCommand == nil && pytest && sr.Status == outcome.Failed && sr.ExitCode == 5 {
				sr.Status, sr.Reason, sr.Detail = outcome.NoTests, outcome.ReasonNoTests, "pytest collected no tests"
			}
		},
	},
	{
		name: outcome.Step2to3,
		skip: func(j *job) *StepResult {
			// A project that runs on no Python 2 has nothing to convert:
			// lib2to3 failing on its Python 3 syntax would say nothing of
			// the release.
			if excludesPython2(j.requiresPython) {
				return notAvailable(outcome.ReasonPython3Only, "Requires-Python "+j.requiresPython+" admits no Python 2")
			}
			if !j.in.Lib2to3 {
				return notAvailable(outcome.ReasonNoLib2to3, "Python "+j.in.Version+" has no lib2to3")
			}
			return nil
		},
		// Convert the modules the distribution ships (twotothree.go)
		// into the step's folder with this interpreter's own lib2to3; on
		// Python 3, byte-compile the result to prove it.
		command: func(j *job, _ *environment) ([]string, string) {
			compile := "compile"
			if strings.HasPrefix(j.in.Minor, "2.") {
				compile = "no"
			}
			wheel := ""
			if w := j.step(outcome.StepWheel); w != nil && w.Status == outcome.Passed && j.builtWheel() != "" {
				wheel = path.Join(sandbox.BuildRoot, j.builtWheel())
			}
			argv := []string{"/bin/sh", "-c", twoToThreeScript, j.in.Path, "{out}", compile, extractScript, packScript, wheel}
			if wheel == "" {
				argv = append(argv, j.shipped...)
			}
			return argv, j.workdir
		},
		classify: func(j *job, sr *StepResult) {
			if sr.ExitCode == noModulesExit && sr.Status == outcome.Failed {
				sr.Status, sr.Reason, sr.Detail = outcome.NotAvailable, outcome.ReasonNoModules, "no Python module to convert"
			}
		},
	},
}

// prepareBuild provides the build requirements before a build step
// (buildreqs.go): once per job, shared by the build steps.
func prepareBuild(ctx context.Context, j *job, log *bytes.Buffer) (*StepResult, error) {
	return j.prepareBuild(ctx, log)
}

// buildEnv is the build steps' environment: the build requirements
// provided, the toolchain's setuptools and wheel, and the PEP 517 front
// end for a project with a [build-system].
func buildEnv(j *job) (string, []string) {
	if j.buildPrep == nil { // no toolchain: the environment says so
		return "build", j.set.Build
	}
	return j.buildPrep.kind, j.buildPrep.wheels
}

// needWheel is what the steps that install the built wheel share: a result
// when there is no wheel to use (what for: "test", "import").
func (j *job) needWheel(what string) *StepResult {
	w := j.step(outcome.StepWheel)
	switch {
	case w == nil:
		return notAvailable(outcome.ReasonSkipped, "no wheel step ran")
	case w.Status == outcome.Machinery:
		sr := machinery("", w.Reason, "no wheel to "+what+": "+w.Detail)
		return &sr
	case w.Status != outcome.Passed:
		d := fmt.Sprintf("no wheel to %s: the wheel step %s (%s)", what, w.Status, w.Reason)
		return &StepResult{Status: outcome.NotAvailable, Reason: outcome.ReasonSkipped, Detail: d, Log: []byte(d)}
	case j.builtWheel() == "":
		sr := machinery("", outcome.ReasonSandbox, "the wheel step passed but left no .whl")
		return &sr
	}
	return nil
}

// keepWheels copies the wheels the wheel step built into dst (created if
// missing), reading them through the scratch's root.
func (j *job) keepWheels(dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	for _, w := range j.wheelsIn("out/" + outcome.StepWheel) {
		in, err := j.sc.Root().Open(w)
		if err != nil {
			return err
		}
		err = copyStream(in, filepath.Join(dst, path.Base(w)))
		in.Close()
		if err != nil {
			return fmt.Errorf("copy %s: %w", path.Base(w), err)
		}
	}
	return nil
}

// copyStream writes what in holds (a regular file) to the new file dst.
func copyStream(in *os.File, dst string) error {
	if fi, err := in.Stat(); err != nil || !fi.Mode().IsRegular() {
		return fmt.Errorf("not a regular file")
	}
	return writeNew(os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644))(in)
}
