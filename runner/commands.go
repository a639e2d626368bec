package runner

// The project's own test commands (tox's commands, hatch's test script),
// run as the project runs its tests where pysmoke can map each one to the
// test environment: an interpreter, pytest, or coverage running either.
// Anything else (make, a shell script, sphinx) leaves pysmoke's own
// command in place, and the log says why.

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// projectCommand is a command of the project's mapped to the test
// environment: argv's first word is "python" (the environment's
// interpreter is put in its place when it runs).
type projectCommand struct {
	argv   []string
	pytest bool // it runs pytest
}

// coverageOptsWithValue are "coverage run" options that take a separate
// value.
var coverageOptsWithValue = []string{"--rcfile", "--source", "--include", "--omit", "--data-file", "--context", "--concurrency"}

// mapCommands maps the project's commands; ok is false, with why, when
// one of them cannot be mapped. Installing commands (pip) are dropped: the
// environment is pysmoke's to make; so are coverage's reporting ones.
func mapCommands(cmds [][]string) (out []projectCommand, why string, ok bool) {
	for _, c := range cmds {
		if len(c) == 0 {
			continue
		}
		w := c
		if path.Base(w[0]) == "pip" || path.Base(w[0]) == "pip3" || (isPython(w[0]) && len(w) > 2 && w[1] == "-m" && w[2] == "pip") {
			continue
		}
		if path.Base(w[0]) == "coverage" || (isPython(w[0]) && len(w) > 2 && w[1] == "-m" && w[2] == "coverage") {
			if path.Base(w[0]) != "coverage" {
				w = w[2:]
			}
			if len(w) < 2 || w[1] != "run" {
				continue // coverage report, combine, erase, xml, html
			}
			// coverage run [options] (-m MODULE | SCRIPT) ARGS
			rest := w[2:]
			for len(rest) > 0 && strings.HasPrefix(rest[0], "-") && rest[0] != "-m" {
				if slices.Contains(coverageOptsWithValue, rest[0]) {
					rest = rest[1:]
				}
				rest = rest[1:]
			}
			if len(rest) == 0 {
				return nil, fmt.Sprintf("%q runs nothing pysmoke can tell", strings.Join(c, " ")), false
			}
			w = append([]string{"python"}, rest...)
		}
		switch {
		case isPython(w[0]):
			pc := projectCommand{argv: append([]string{"python"}, w[1:]...)}
			pc.pytest = len(w) > 2 && w[1] == "-m" && (w[2] == "pytest" || w[2] == "py.test")
			out = append(out, pc)
		case path.Base(w[0]) == "pytest" || path.Base(w[0]) == "py.test":
			out = append(out, projectCommand{argv: append([]string{"python", "-m", "pytest"}, w[1:]...), pytest: true})
		default:
			return nil, fmt.Sprintf("%q is not a Python, pytest or coverage command", strings.Join(c, " ")), false
		}
	}
	if len(out) == 0 {
		return nil, "no command runs tests", false
	}
	return out, "", true
}

// isPython reports whether a command's first word is an interpreter
// (python, python3, python3.12, a path to one; tox's {envpython} is
// already "python").
func isPython(w string) bool {
	b := path.Base(w)
	if !strings.HasPrefix(b, "python") {
		return false
	}
	return strings.Trim(strings.TrimPrefix(b, "python"), "0123456789.") == ""
}

// commandPaths returns the relative paths a command names (its words that
// are not options), for the tests step to copy beside the tests when the
// project has them.
func commandPaths(cmds []projectCommand) []string {
	var out []string
	for _, c := range cmds {
		for _, w := range c.argv[1:] {
			if w == "" || strings.HasPrefix(w, "-") || strings.ContainsAny(w, "=:*?[") {
				continue
			}
			p := path.Clean(strings.TrimPrefix(w, "./"))
			if p == "." || path.IsAbs(p) || strings.HasPrefix(p, "../") {
				continue
			}
			out = appendNew(out, p)
		}
	}
	return out
}
