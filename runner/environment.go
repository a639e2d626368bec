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
}

// get returns the environment kind, making it with wheels (file names in
// the wheelhouse, or absolute paths inside the sandbox) the first time.
// The error is non-nil only when ctx ended.
func (es *environments) get(ctx context.Context, kind string, wheels []string) (*environment, error) {
	if e, ok := es.made[kind]; ok {
		return e, nil
	}
	root := path.Join(sandbox.BuildRoot, "env", kind)
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
