package runner

// The project's own pytest configuration, read statically as pytest finds
// it, so that the tests run as the project runs them: which files are
// tests (python_files), where they are (testpaths), with which options
// (addopts). The configuration file is copied beside the tests; options
// of plugins the test environment lacks (coverage, xdist, ...) are
// dropped, not counted as a failure.

import (
	"path"
	"path/filepath"
	"strings"

	"github.com/pysmoke/pysmoke/dist"
)

// pytestConfig is what pysmoke reads of a project's pytest configuration.
type pytestConfig struct {
	// File is the file pytest reads it from, relative to the project:
	// pytest.ini, .pytest.ini, pyproject.toml, tox.ini or setup.cfg; ""
	// when the project has none.
	File        string
	AddOpts     []string
	TestPaths   []string
	PythonFiles []string
}

// readPytestConfig finds the project's pytest configuration the way pytest
// does in its root folder: pytest.ini (or .pytest.ini) whatever it holds,
// then pyproject.toml's [tool.pytest.ini_options], tox.ini's [pytest],
// setup.cfg's [tool:pytest]; the first that exists is the one.
func readPytestConfig(projDir string) pytestConfig {
	read := func(name string) []byte {
		b, _ := readCapped(filepath.Join(projDir, name), maxConfigBytes)
		return b
	}
	for _, name := range []string{"pytest.ini", ".pytest.ini"} {
		if b := read(name); b != nil {
			c, _ := iniPytestConfig(b, "pytest")
			c.File = name
			return c
		}
	}
	if b := read("pyproject.toml"); b != nil {
		if p, err := parsePyprojectTests(b); err == nil {
			if t := table(p.doc, "tool", "pytest", "ini_options"); t != nil {
				return pytestConfig{File: "pyproject.toml", AddOpts: wordsOf(t["addopts"], shellWords),
					TestPaths: wordsOf(t["testpaths"], fields), PythonFiles: wordsOf(t["python_files"], fields)}
			}
		}
	}
	for _, f := range []struct{ name, section string }{{"tox.ini", "pytest"}, {"setup.cfg", "tool:pytest"}} {
		if b := read(f.name); b != nil {
			if c, ok := iniPytestConfig(b, f.section); ok {
				c.File = f.name
				return c
			}
		}
	}
	return pytestConfig{}
}

// fields is strings.Fields, nil for none.
func fields(s string) []string {
	if f := strings.Fields(s); len(f) > 0 {
		return f
	}
	return nil
}

// wordsOf reads a TOML value pytest takes as a string or a list of them.
func wordsOf(v any, split func(string) []string) []string {
	if s, ok := v.(string); ok {
		return split(s)
	}
	return stringsOf(v)
}

// iniPytestConfig reads the pytest section of an INI file; false when the
// file has no such section.
func iniPytestConfig(b []byte, section string) (pytestConfig, bool) {
	cfg, err := loadConfigINI(b)
	if err != nil {
		return pytestConfig{}, false
	}
	s, err := cfg.GetSection(section)
	if err != nil {
		return pytestConfig{}, false
	}
	return pytestConfig{AddOpts: shellWords(s.Key("addopts").String()), TestPaths: fields(s.Key("testpaths").String()),
		PythonFiles: fields(s.Key("python_files").String())}, true
}

// copies returns what of the project the tests need besides the tests
// folders: config, the configuration file and a top-level conftest.py;
// tests, the testpaths folders and the top-level files python_files names
// (chardet's test.py), never setup.py. top lists the project's top-level
// names; kind tells whether a relative path is a folder or a regular file
// of the project (ok false: neither, or a link).
func (c pytestConfig) copies(top []string, kind func(string) (dir, ok bool)) (config, tests []string) {
	if c.File == "" {
		return nil, nil
	}
	config = append(config, c.File)
	if dir, ok := kind("conftest.py"); ok && !dir {
		config = append(config, "conftest.py")
	}
	for _, p := range c.TestPaths {
		p = path.Clean(p)
		if p == "." || path.IsAbs(p) || strings.HasPrefix(p, "../") || strings.ContainsAny(p, "*?[") {
			continue
		}
		if _, ok := kind(p); ok {
			tests = appendNew(tests, p)
		}
	}
	for _, name := range top {
		if name == "setup.py" || name == "conftest.py" || !strings.HasSuffix(name, ".py") {
			continue
		}
		if dir, ok := kind(name); !ok || dir {
			continue
		}
		for _, pat := range c.PythonFiles {
			if ok, _ := path.Match(pat, name); ok {
				tests = appendNew(tests, name)
				break
			}
		}
	}
	return config, tests
}

// shellQuote quotes a word for pytest's shlex-split "-o addopts=...".
func shellQuote(w string) string {
	if w != "" && !strings.ContainsAny(w, " \t\n'\"\\$`;&|<>()*?[]#~!{}") {
		return w
	}
	return "'" + strings.ReplaceAll(w, "'", `'"'"'`) + "'"
}

// pluginOptions are the pytest options of plugins, by the plugin's project,
// with whether the option takes a separate value ("--cov-report term": a
// value; "--cov": an optional one, which pysmoke takes only after "=").
var pluginOptions = map[string][]struct {
	name  string
	value bool
}{
	"pytest-cov": {{"--cov", false}, {"--cov-report", true}, {"--cov-config", true}, {"--cov-fail-under", true},
		{"--cov-append", false}, {"--cov-branch", false}, {"--no-cov", false}, {"--no-cov-on-fail", false}, {"--cov-context", true}},
	"pytest-xdist":         {{"-n", true}, {"--numprocesses", true}, {"--dist", true}, {"--maxprocesses", true}},
	"pytest-timeout":       {{"--timeout", true}, {"--timeout-method", true}},
	"pytest-rerunfailures": {{"--reruns", true}, {"--reruns-delay", true}},
	"pytest-benchmark":     {{"--benchmark-skip", false}, {"--benchmark-disable", false}, {"--benchmark-only", false}},
	"pytest-mypy":          {{"--mypy", false}},
	"pytest-flake8":        {{"--flake8", false}},
	"pytest-black":         {{"--black", false}},
	"pytest-doctestplus":   {{"--doctest-rst", false}, {"--doctest-plus", false}},
	"pytest-asyncio":       {{"--asyncio-mode", true}},
}

// pluginModules are the module names "-p" loads those plugins by.
var pluginModules = map[string]string{
	"pytest_cov": "pytest-cov", "xdist": "pytest-xdist", "xdist.plugin": "pytest-xdist",
	"pytest_timeout": "pytest-timeout", "timeout": "pytest-timeout", "pytest_rerunfailures": "pytest-rerunfailures",
	"rerunfailures": "pytest-rerunfailures", "pytest_benchmark": "pytest-benchmark", "pytest_asyncio": "pytest-asyncio",
	"asyncio": "pytest-asyncio", "pytest_mypy": "pytest-mypy", "pytest_flake8": "pytest-flake8",
}

// withoutMissingPlugins drops from args (addopts) the options of plugins
// the test environment lacks (installed: normalised project names), and
// a "-p NAME" loading one.
func withoutMissingPlugins(args []string, installed func(project string) bool) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "-p" && i+1 < len(args) {
			// "-p MODULE" loads a plugin; "-p no:NAME" disables one.
			if project, known := pluginModules[args[i+1]]; !known || installed(project) {
				out = append(out, a, args[i+1])
			}
			i++
			continue
		}
		drop, skipNext := false, false
		for project, opts := range pluginOptions {
			if installed(project) {
				continue
			}
			for _, o := range opts {
				switch {
				case a == o.name:
					drop, skipNext = true, o.value
				case strings.HasPrefix(a, o.name+"="):
					drop = true
				case o.value && len(o.name) == 2 && strings.HasPrefix(a, o.name) && len(a) > 2:
					drop = true // "-n4"
				}
			}
		}
		if drop {
			if skipNext {
				i++
			}
			continue
		}
		out = append(out, a)
	}
	return out
}

// installedProjects is what the test environment holds, by normalised
// project name: the toolchain's test wheels and the resolved closure.
func (j *job) installedProjects() func(string) bool {
	have := map[string]bool{}
	for _, w := range j.set.Test {
		if df, err := dist.ParseFilename(path.Base(w)); err == nil {
			have[dist.Normalize(df.Name)] = true
		}
	}
	if j.closure != nil {
		for _, p := range j.closure.pins {
			have[dist.Normalize(p.Project)] = true
		}
	}
	return func(project string) bool { return have[project] }
}
