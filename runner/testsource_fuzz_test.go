package runner

import (
	"strings"
	"testing"

	"github.com/pysmoke/pysmoke/dist"
)

// checkTestSource holds what every read test source must: requirements
// that parse, extras in normal form, no empty command.
func checkTestSource(t *testing.T, src testSource) {
	for _, r := range src.Requires {
		if _, err := dist.ParseRequirement(r); err != nil {
			t.Errorf("requirement %q does not parse: %v", r, err)
		}
	}
	for _, e := range src.Extras {
		if e != dist.Normalize(e) {
			t.Errorf("extra %q not normalised", e)
		}
	}
	for _, c := range src.Commands {
		if len(c) == 0 {
			t.Error("an empty command")
		}
	}
}

// FuzzToxIni: tox's INI configuration (tox.ini, setup.cfg, legacy_tox_ini)
// as a project ships it; -r files resolve to a fixed one.
func FuzzToxIni(f *testing.F) {
	for _, s := range []string{
		"[tox]\nenvlist = py27, py3{6,7}\n\n[testenv]\ndeps = -rrequirements-dev.txt\ncommands = python -m pytest {posargs: \"{toxinidir}/tests\"}\n",
		"[testenv]\nextras =\n    testing\ndeps =\n    pytest\n    py27,py36: mock>=2\n    !py27: pytest-asyncio\n    .[yaml]\n",
		"[tox:tox]\nenvlist = py38\n[testenv:py312]\ndeps = pytest>=8\n",
		"[testenv]\ndeps=\n\tpy{27,{36,37}}-x: a\n  b ; python_version<'3'\ncommands=- pytest '{posargs:-k \"a b\"}'\n",
	} {
		f.Add([]byte(s), "3.12")
	}
	read := func(string) []byte { return []byte("attrs\n-r other.txt\n") }
	f.Fuzz(func(t *testing.T, b []byte, minor string) {
		src, _ := toxSource(b, "", pythonFactors(minor), read)
		checkTestSource(t, src)
		if src2, _ := toxSource(b, "tox:tox", pythonFactors(minor), read); src2.From != "" && !strings.HasPrefix(src2.From, "[testenv") {
			t.Errorf("From = %q", src2.From)
		}
	})
}

// FuzzPyprojectTests: the test declarations of pyproject.toml (PEP 735
// groups, tox, hatch).
func FuzzPyprojectTests(f *testing.F) {
	for _, s := range []string{
		"[dependency-groups]\ntest = [\"pytest>=7\", {include-group = \"typing\"}]\ntyping = [\"mypy\", {include-group = \"test\"}]\n",
		"[tool.hatch.envs.default]\ndependencies = [\"coverage\"]\n[tool.hatch.envs.test]\ndependencies = [\"pytest\"]\nfeatures = [\"X\"]\n[tool.hatch.envs.test.scripts]\ntest = [\"pytest {args}\"]\n",
		"[tool.tox.env_run_base]\ndeps = [\"pytest\", \"-r r.txt\"]\ncommands = [[\"pytest\", \"{posargs}\"]]\n[tool.tox.env.py312]\ndeps = 3\n",
		"[tool.tox]\nlegacy_tox_ini = \"\"\"\n[testenv]\ndeps = pytest\n\"\"\"\n",
		mixedPyproject,
	} {
		f.Add([]byte(s), "3.12")
	}
	read := func(string) []byte { return []byte("hypothesis\n") }
	f.Fuzz(func(t *testing.T, b []byte, minor string) {
		p, err := parsePyprojectTests(b)
		if err != nil {
			return
		}
		for _, read := range []func() (testSource, bool){
			p.groups, p.hatch,
			func() (testSource, bool) { return p.tox(pythonFactors(minor), read) },
		} {
			src, ok := read()
			if ok != (src.From != "") {
				t.Errorf("found %v, From %q", ok, src.From)
			}
			checkTestSource(t, src)
		}
	})
}
