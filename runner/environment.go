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
// dependencies; the import environment the package's own wheel, built by
// the wheel step, and what it requires; the test environment the same with
// the test runner and what the tests require.

import (
	"context"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/pysmoke/pysmoke/interpreter"
	"github.com/pysmoke/pysmoke/sandbox"
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
	sb       sandbox.Sandbox
	in       interpreter.Interpreter
	base     []string // the plain step environment (stepEnv)
	wheels   string   // the wheelhouse folder, mounted read-only
	set      toolchain.Set
	logLimit int64
	timeout  time.Duration
	made     map[string]*environment
	// templates, when set, holds the toolchain's part of environments
	// made once (templates.go); store is its folder, mounted read-only.
	templates *templates
}

// get returns the environment kind, making it with wheels (file names in
// the wheelhouse, or absolute paths inside the sandbox) the first time:
// from the template of its toolchain wheels, with the others installed on
// top, where there are templates; else directly. The error is non-nil
// only when ctx ended.
func (es *environments) get(ctx context.Context, kind string, wheels []string) (*environment, error) {
	if e, ok := es.made[kind]; ok {
		return e, nil
	}
	var toolchain, own []string
	for _, w := range dedupe(wheels) {
		if strings.HasPrefix(w, "/") {
			own = append(own, w)
		} else {
			toolchain = append(toolchain, w)
		}
	}
	if es.templates == nil || len(toolchain) == 0 {
		return es.direct(ctx, kind, wheels)
	}
	tpl, err := es.templates.get(ctx, es.in, kind, toolchain)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err != nil {
		// Made directly instead: whatever is wrong shows in the step's
		// log as it would without templates.
		e, derr := es.direct(ctx, kind, wheels)
		if e != nil {
			e.log = append([]byte(fmt.Sprintf("pysmoke: no template of the %s environment (%v)\n", kind, err)), e.log...)
		}
		return e, derr
	}
	root := path.Join(sandbox.BuildRoot, "env", kind)
	e := es.newEnvironment(kind, root)
	es.made[kind] = e
	// A copy inside the sandbox, as the sandbox's uid: the template's
	// files become the job's, at the path the template was made at.
	cmds := [][]string{{"/bin/sh", "-c", `mkdir -p "$1" && cp -PR --preserve=mode,timestamps "$0"/. "$1"/`, tpl, root}}
	if len(own) > 0 {
		cmds = append(cmds, es.installCommand(e, own))
	}
	fmt.Fprintf(logWriter{&e.log}, "pysmoke: making the %s environment at %s from its template (the offline toolchain's %s)\n", kind, root, strings.Join(toolchain, " "))
	return es.run(ctx, e, kind, cmds)
}

// newEnvironment is an environment of kind at root, not made yet: its
// interpreter and its commands' environment.
func (es *environments) newEnvironment(kind, root string) *environment {
	e := &environment{}
	if strings.HasPrefix(es.in.Minor, "2.") {
		e.python = es.in.Path
		e.env = setEnv(es.base, "PYTHONNOUSERSITE", "")
		e.env = setEnv(e.env, "PYTHONUSERBASE", root)
	} else {
		e.python = path.Join(root, "bin", "python")
		e.env = setEnv(es.base, "VIRTUAL_ENV", root)
	}
	e.env = setEnv(e.env, "PATH", path.Join(root, "bin")+":"+getEnv(es.base, "PATH"))
	return e
}

// installCommand installs wheels (file names in the wheelhouse, or
// absolute paths inside the sandbox) into e, by pip run from its wheel,
// offline and without their dependencies (resolved already).
func (es *environments) installCommand(e *environment, wheels []string) []string {
	var args []string
	for _, w := range wheels {
		if !strings.HasPrefix(w, "/") {
			w = path.Join(es.wheels, w)
		}
		args = append(args, w)
	}
	pip := path.Join(es.wheels, es.set.Pip, "pip")
	argv := []string{e.python, pip, "install", "--no-index", "--no-deps", "--no-cache-dir", "--disable-pip-version-check", "--no-warn-script-location", "--no-compile"}
	if strings.HasPrefix(es.in.Minor, "2.") {
		argv = append(argv, "--user")
	}
	return append(argv, args...)
}

// direct makes the environment kind from scratch: a venv (or a user base
// on Python 2) and every wheel installed into it.
func (es *environments) direct(ctx context.Context, kind string, wheels []string) (*environment, error) {
	root := path.Join(sandbox.BuildRoot, "env", kind)
	e := es.newEnvironment(kind, root)
	es.made[kind] = e
	var cmds [][]string
	if !strings.HasPrefix(es.in.Minor, "2.") {
		cmds = append(cmds, []string{es.in.Path, "-m", "venv", "--without-pip", root})
	}
	cmds = append(cmds, es.installCommand(e, dedupe(wheels)))
	fmt.Fprintf(logWriter{&e.log}, "pysmoke: making the %s environment at %s from the offline toolchain\n", kind, root)
	return es.run(ctx, e, kind, cmds)
}

// run runs the commands that make an environment, one after another, and
// records their output; the first that fails leaves e.failed saying so.
func (es *environments) run(ctx context.Context, e *environment, kind string, cmds [][]string) (*environment, error) {
	start := time.Now()
	for _, argv := range cmds {
		fmt.Fprintf(logWriter{&e.log}, "$ %s\n", strings.Join(argv, " "))
		er, err := es.sb.Exec(ctx, sandbox.Command{Argv: argv, Dir: sandbox.BuildRoot, Env: e.env, Timeout: es.timeout, LogLimit: es.logLimit})
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
