package runner

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestReadTestSource: each place a project declares its test environment,
// in files shaped as real projects write them (python-dateutil's tox.ini
// and requirements-dev.txt, futures' commands-only tox.ini, PEP 735
// groups, hatch environments, setup.cfg's [tox:tox], tox's TOML forms),
// and the order between them. Expectations written by hand.
func TestReadTestSource(t *testing.T) {
	dateutilTox := `[tox]
envlist = py27, py3{6,7,8,9,10,11}, coverage, docs
skip_missing_interpreters = true

[testenv]
description = run the unit tests with pytest under {basepython}
setenv =
    COVERAGE_FILE={toxworkdir}/.coverage.{envname}
passenv = DATEUTIL_MAY_CHANGE_TZ TOXENV CI
commands = python -m pytest {posargs: "{toxinidir}/tests" --cov-config="{toxinidir}/tox.ini" --cov=dateutil}
deps = -rrequirements-dev.txt

[testenv:docs]
deps = -rdocs/requirements-docs.txt
commands = sphinx-build -W -b html docs docs/_build/html
`
	dateutilReqs := `six
pytest >= 3.0; python_version != '3.3'
pytest-cov >= 2.0.0
freezegun ; python_version != '3.3'  # time travel
hypothesis >= 3.30
mock ; python_version < '3.0'
-c constraints.txt
-e .
`
	cases := []struct {
		name  string
		files map[string]string
		minor string
		want  testSource
	}{
		{
			name:  "tox deps through -r, as python-dateutil",
			files: map[string]string{"tox.ini": dateutilTox, "requirements-dev.txt": dateutilReqs},
			minor: "3.11",
			want: testSource{From: "tox.ini [testenv]",
				Requires: []string{"six", "pytest >= 3.0; python_version != '3.3'", "pytest-cov >= 2.0.0", "freezegun ; python_version != '3.3'", "hypothesis >= 3.30", "mock ; python_version < '3.0'"},
				Commands: [][]string{{"python", "-m", "pytest", "./tests", "--cov-config=./tox.ini", "--cov=dateutil"}}},
		},
		{
			name: "tox commands only, as futures",
			files: map[string]string{"tox.ini": "[tox]\nenvlist = py26,py27,pypy,jython\n\n[testenv]\ncommands = {envpython} test_futures.py {posargs}\n\n[testenv:py26]\ndeps = unittest2\n",
				"requirements-dev.txt": "never-read\n"},
			minor: "2.7",
			want:  testSource{From: "tox.ini [testenv]", Commands: [][]string{{"python", "test_futures.py"}}},
		},
		{
			name: "tox factor-conditional deps, extras and a section of the job's Python",
			files: map[string]string{"tox.ini": `[tox]
envlist = py{27,36,312}-{unit,cov}

[testenv]
extras =
    testing
deps =
    pytest
    py27,py36: mock>=2
    !py27: pytest-asyncio
    py{36,312}-cov: pytest-cov
    py3: attrs
    lint: flake8
    .[yaml, toml]
    https://example.org/x.tar.gz
    -e {toxinidir}[docs]
commands =
    - coverage erase
    pytest {posargs:tests}

[testenv:py312]
deps =
    pytest>=8
    numpy ; python_version >= "3.9"
`},
			minor: "3.6",
			want: testSource{From: "tox.ini [testenv]", Requires: []string{"pytest", "mock>=2", "pytest-asyncio", "attrs"},
				Extras:   []string{"yaml", "toml", "docs", "testing"},
				Commands: [][]string{{"coverage", "erase"}, {"pytest", "tests"}}},
		},
		{
			name:  "tox's section of the job's Python overrides [testenv]",
			files: map[string]string{"tox.ini": "[testenv]\ndeps = pytest\n\n[testenv:py312]\ndeps =\n    pytest>=8\n    numpy ; python_version >= \"3.9\"\n"},
			minor: "3.12",
			want:  testSource{From: "tox.ini [testenv:py312]", Requires: []string{"pytest>=8", `numpy ; python_version >= "3.9"`}},
		},
		{
			name: "PEP 735 group with include-group, before tox",
			files: map[string]string{
				"pyproject.toml": `[project]
name = "app"
dependencies = ["requests"]

[dependency-groups]
Test = ["pytest>=7", "pytest-mock", {include-group = "typing"}]
typing = ["mypy", {include-group = "test"}]
dev = ["ruff"]
`,
				"tox.ini": "[testenv]\ndeps = nose\n"},
			minor: "3.12",
			want:  testSource{From: "pyproject.toml [dependency-groups] test", Requires: []string{"pytest>=7", "pytest-mock", "mypy"}},
		},
		{
			name:  "PEP 735 dev group when there is no test group",
			files: map[string]string{"pyproject.toml": "[dependency-groups]\ndocs = [\"sphinx\"]\ndev = [\"pytest\", \"coverage[toml]\"]\n"},
			minor: "3.12",
			want:  testSource{From: "pyproject.toml [dependency-groups] dev", Requires: []string{"pytest", "coverage[toml]"}},
		},
		{
			name: "hatch test environment inherits the default one",
			files: map[string]string{"pyproject.toml": `[build-system]
requires = ["hatchling", "hatch-vcs"]
build-backend = "hatchling.build"

[tool.hatch.envs.default]
dependencies = ["coverage[toml]>=6.5"]

[tool.hatch.envs.test]
dependencies = ["pytest", "freezegun"]
features = ["Extra_One"]

[tool.hatch.envs.test.scripts]
test = "pytest {args:tests}"
`},
			minor: "3.12",
			want: testSource{From: "pyproject.toml [tool.hatch.envs.test]", Requires: []string{"coverage[toml]>=6.5", "pytest", "freezegun"},
				Extras: []string{"extra-one"}, Commands: [][]string{{"pytest", "tests"}}},
		},
		{
			name: "setup.cfg's tox configuration",
			files: map[string]string{"setup.cfg": `[metadata]
name = app

[tox:tox]
envlist = py38

[testenv]
deps =
    pytest
    py27: mock
commands = pytest
`},
			minor: "3.8",
			want:  testSource{From: "setup.cfg [testenv]", Requires: []string{"pytest"}, Commands: [][]string{{"pytest"}}},
		},
		{
			name:  "a setup.cfg [testenv] without [tox:tox] is not tox's",
			files: map[string]string{"setup.cfg": "[testenv]\ndeps = pytest\n", "requirements-test.txt": "pytest-timeout\n"},
			minor: "3.8",
			want:  testSource{Requires: []string{"pytest-timeout"}},
		},
		{
			name:  "pyproject.toml legacy_tox_ini",
			files: map[string]string{"pyproject.toml": "[tool.tox]\nlegacy_tox_ini = \"\"\"\n[testenv]\ndeps = -r requirements/test.txt\n\"\"\"\n", "requirements/test.txt": "pytest\nhypothesis\n"},
			minor: "3.10",
			want:  testSource{From: "pyproject.toml [tool.tox] legacy_tox_ini [testenv]", Requires: []string{"pytest", "hypothesis"}},
		},
		{
			name: "pyproject.toml native tox",
			files: map[string]string{"pyproject.toml": `[tool.tox]
env_list = ["3.13", "3.12"]

[tool.tox.env_run_base]
deps = ["pytest>=8", "-r requirements-dev.txt"]
extras = ["test"]
commands = [["pytest", "-q", "{posargs}"]]

[tool.tox.env.py312]
deps = ["pytest>=7"]
`, "requirements-dev.txt": "hypothesis\n"},
			minor: "3.12",
			want:  testSource{From: "pyproject.toml [tool.tox] env.py312", Requires: []string{"pytest>=7"}, Extras: []string{"test"}, Commands: [][]string{{"pytest", "-q", ""}}},
		},
		{
			name: "-r out of the project, through a link, or in a loop is not followed",
			files: map[string]string{"tox.ini": "[testenv]\ndeps =\n    -r ../outside.txt\n    -r/etc/passwd\n    -rloop.txt\n    -r link.txt\n    -r{env:REQS}\n",
				"loop.txt": "attrs\n-r loop.txt\n", "link.txt": "->/etc/passwd"},
			minor: "3.12",
			want:  testSource{From: "tox.ini [testenv]", Requires: []string{"attrs"}},
		},
		{
			name:  "nothing declared: the requirement files",
			files: map[string]string{"setup.py": "", "tests/requirements.txt": "pytest-mock\n# a comment\n--index-url https://x\n"},
			minor: "3.12",
			want:  testSource{Requires: []string{"pytest-mock"}},
		},
		{
			name:  "a pyproject.toml that does not parse is read as declaring nothing",
			files: map[string]string{"pyproject.toml": "[dependency-groups\ntest = [\"pytest\"]\n", "tox.ini": "[testenv]\ndeps = nose\n"},
			minor: "3.12",
			want:  testSource{From: "tox.ini [testenv]", Requires: []string{"nose"}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, body := range c.files {
				p := filepath.Join(dir, filepath.FromSlash(name))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if target, ok := strings.CutPrefix(body, "->"); ok {
					if err := os.Symlink(target, p); err != nil {
						t.Fatal(err)
					}
					continue
				}
				if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got := readTestSource(dir, c.minor)
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("readTestSource =\n  %#v\nwant\n  %#v", got, c.want)
			}
		})
	}
}

func TestFactorsHold(t *testing.T) {
	factors := pythonFactors("3.12")
	for cond, want := range map[string]bool{
		"py312":          true,
		"py3":            true,
		"py27":           false,
		"py27,py312":     true,
		"!py27":          true,
		"!py312":         false,
		"py{27,312}":     true,
		"py{36,37}":      false,
		"py312-cov":      false, // no cov factor
		"py{311,312}-!x": true,
		"lint,py{27,36}": false,
	} {
		if got := factorsHold(cond, factors); got != want {
			t.Errorf("factorsHold(%q, %v) = %v, want %v", cond, factors, got, want)
		}
	}
}

func TestShellWords(t *testing.T) {
	for line, want := range map[string][]string{
		`pytest -k "not slow and not net" tests`: {"pytest", "-k", "not slow and not net", "tests"},
		`python -c 'print("a b")'`:               {"python", "-c", `print("a b")`},
		`echo a\ b "c\"d" ''`:                    {"echo", "a b", `c"d`, ""},
		"  ":                                     nil,
	} {
		if got := shellWords(line); !reflect.DeepEqual(got, want) {
			t.Errorf("shellWords(%q) = %q, want %q", line, got, want)
		}
	}
}
