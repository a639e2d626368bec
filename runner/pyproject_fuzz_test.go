package runner

// Fuzzing of what the runner reads of an unpacked sdist before any of its
// code runs: pyproject.toml's [build-system] (parseBuildSystem), the
// Requires-Python of PKG-INFO, pyproject.toml or setup.py (requiresPython),
// and the specifier itself (allowsPython); and of what package code wrote
// for it (the build backend's hooks' answer). Files are written into a
// fresh directory, as an sdist would leave them. Run one with
//
//	go test -run '^$' -fuzz '^FuzzBuildRequires$' -fuzztime 20s ./runner/
//
// (scripts/fuzz.sh runs every target; tox.ini and pyproject.toml's test
// declarations have theirs in testsource_fuzz_test.go).

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pysmoke/pysmoke/dist"
)

func writeFuzzFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		if text == "" {
			continue // absent
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func FuzzBuildRequires(f *testing.F) {
	for _, s := range []string{
		mixedPyproject,
		"[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n",
		"[build-system]\r\nrequires = ['poetry-core>=1.0.0']  # the backend\r\nbuild-backend = 'poetry.core.masonry.api'\r\n",
		"[build-system]\nbuild-backend = \"setuptools.build_meta\"\n",
		"[project]\nname = \"no-build-system\"\n",
		"[build-system]\nrequires = [\n  \"setuptools\", # a comment with \"quotes\"\n  \"wheel\"\n]\n[tool.x]\nrequires = [\"not-this\"]\n",
		"[build-system]\nrequires = [\"\", \" \", \"-bad\", \"ok.\", \"Δ\"]\n",
		"[build-system]\nrequires = [\"unclosed\"\n",
		"[build-system]",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, pyproject string) {
		bs := parseBuildSystem([]byte(pyproject))
		if (len(bs.Requires) > 0 || bs.Backend != "" || len(bs.BackendPath) > 0) && !bs.Declared {
			t.Errorf("%+v without a build system", bs)
		}
		if bs.Declared && !strings.Contains(pyproject, "build-system") {
			t.Errorf("a build system found in a file that never names one")
		}
		for _, r := range bs.Requires {
			if r == "" || r != strings.TrimSpace(r) {
				t.Errorf("requirement %q is empty or untrimmed", r)
			}
		}
		if bs.Backend != strings.TrimSpace(bs.Backend) {
			t.Errorf("backend %q untrimmed", bs.Backend)
		}
		// What the job does next with them: the resolver parses each.
		for _, r := range bs.Requires {
			_, _ = dist.ParseRequirement(r)
		}
	})
}

func FuzzRequiresPython(f *testing.F) {
	pkgInfo := "Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\nRequires-Python: >=3.8, <4\n\nLong description\nRequires-Python: >=2.7\n"
	pyproject := "[project]\nname = \"pkg\"\nrequires-python = '>=3.9'\n"
	setupPy := "from setuptools import setup\nsetup(name='pkg', python_requires=\">=2.7, !=3.0.*, !=3.1.*\")\n"
	f.Add(pkgInfo, pyproject, setupPy)
	f.Add("Metadata-Version: 1.0\nName: pkg\nVersion: 1.0\n\n", pyproject, setupPy)
	f.Add("", "", setupPy)
	f.Add("", "[project]\n  requires-python=\"\"\n", "setup(python_requires = PY_REQUIRES)\n")
	f.Add("Requires-Python:    \n", "requires-python = \">=3.8\nrequires-python = '>=3.7'", "python_requires='~=3.9'")
	f.Add("\nRequires-Python: >=3\n", "", "")
	f.Add(strings.Repeat("X", 70000)+"\nRequires-Python: >=3\n", "", "")
	// Found by the fuzzer: a lone "\r" inside a quoted value is no line end
	// to a regular expression's [^\n].
	f.Add("", "requires-python = ',\r*'\n", "")
	f.Add("", "", "setup(python_requires='>=3\r')\n")
	f.Fuzz(func(t *testing.T, pkgInfo, pyproject, setupPy string) {
		dir := writeFuzzFiles(t, map[string]string{"PKG-INFO": pkgInfo, "pyproject.toml": pyproject, "setup.py": setupPy})
		rp := requiresPython(dir)
		if rp != strings.TrimSpace(rp) || strings.ContainsAny(rp, "\n\r") {
			t.Errorf("Requires-Python %q not one trimmed line", rp)
		}
		if rp != "" && !strings.Contains(pkgInfo, rp) && !strings.Contains(pyproject, rp) && !strings.Contains(setupPy, rp) {
			t.Errorf("Requires-Python %q is in none of the files", rp)
		}
		// Line ends do not matter: Windows' and old Macs' read the same.
		if !strings.Contains(pkgInfo, "\r") {
			for _, end := range []string{"\r\n", "\r"} {
				other := writeFuzzFiles(t, map[string]string{"PKG-INFO": strings.ReplaceAll(pkgInfo, "\n", end), "pyproject.toml": pyproject, "setup.py": setupPy})
				if got := requiresPython(other); got != rp {
					t.Errorf("Requires-Python %q with %q line ends, %q with \"\\n\"", got, end, rp)
				}
			}
		}
		// What the runner does next with it.
		for _, v := range []string{"2.7.18", "3.12.1"} {
			_, _ = allowsPython(rp, v)
		}
	})
}

// FuzzAllowsPython checks allowsPython on interpreter versions as the
// runner passes them ("3.12.1"): a specifier it reads is read whole (every
// clause, even after one that excludes), its clauses together decide as it
// does, and it agrees with dist.PythonSatisfies (the packaging library's
// reading) wherever both read the specifier; "===" is left out (string
// equality in one, == in the other).
func FuzzAllowsPython(f *testing.F) {
	for _, s := range []string{">=3.8", ">=2.7, !=3.0.*, !=3.1.*, <4", "<3", "~=3.9", "~=3.9.1", "==3.*",
		"==3.12.*", ">3.12", "", "3.8", ">=3.8a1", ">=3.*", "!=3.12.1", "<=3.12", "==3.12.1.0", "== 3.08",
		">=3.8,", ",,", "===3.12.1", "==+3", "~=3", ">=99999999999999999999", ">=3.8 || <3"} {
		f.Add(s, uint8(3), uint8(12), uint8(1))
	}
	f.Add(">=3.8", uint8(2), uint8(7), uint8(18))
	f.Fuzz(func(t *testing.T, spec string, major, minor, micro uint8) {
		version := fmt.Sprintf("%d.%d.%d", major, minor, micro)
		ok, err := allowsPython(spec, version)
		if err != nil {
			if ok {
				t.Errorf("allowsPython(%q, %s) = true with error %v", spec, version, err)
			}
			return
		}
		if strings.TrimSpace(strings.ReplaceAll(spec, ",", "")) == "" && !ok {
			t.Errorf("allowsPython(%q, %s): an empty specifier refuses", spec, version)
		}
		// A set of clauses allows what every clause allows.
		all := true
		for _, clause := range strings.Split(spec, ",") {
			c, err := allowsPython(clause, version)
			if err != nil {
				t.Fatalf("allowsPython(%q) read, but its clause %q: %v", spec, clause, err)
			}
			all = all && c
		}
		if all != ok {
			t.Errorf("allowsPython(%q, %s) = %v, but its clauses together %v", spec, version, ok, all)
		}
		if strings.Contains(spec, "===") {
			return
		}
		if lib, err := dist.PythonSatisfies(spec, version); err == nil && lib != ok {
			t.Errorf("allowsPython(%q, %s) = %v, the packaging library says %v", spec, version, ok, lib)
		}
	})
}

// FuzzHookAnswer: what the backend's hooks wrote is package code's output.
// Whatever it holds, parseHookAnswer returns requirements the resolver
// can parse, trimmed and without repeats, at most maxHookRequires of them,
// or an error; and setup.cfg's setup_requires reads likewise.
func FuzzHookAnswer(f *testing.F) {
	f.Add(`{"sdist": ["setuptools_scm"], "wheel": ["wheel", "setuptools_scm>=6; python_version >= '3.7'"]}`, "[options]\nsetup_requires =\n  a>=1\n  b ; python_version<'3'\n")
	f.Add(`{"wheel": ["x", " x "]}`, "[options]\nsetup_requires = a; b\n")
	f.Add(`{"wheel": [1, null]}`, "[options]\nsetup_requires = ../path\n")
	f.Add(`[]`, "")
	f.Fuzz(func(t *testing.T, answer, setupCfg string) {
		reqs, err := parseHookAnswer([]byte(answer))
		if err == nil {
			if len(reqs) > maxHookRequires {
				t.Errorf("%d requirements", len(reqs))
			}
			seen := map[string]bool{}
			for _, r := range reqs {
				if _, err := dist.ParseRequirement(r); err != nil || r != strings.TrimSpace(r) || seen[r] {
					t.Errorf("requirement %q: %v (or untrimmed, or repeated)", r, err)
				}
				seen[r] = true
			}
		}
		for _, r := range setupRequires([]byte(setupCfg)) {
			if _, err := dist.ParseRequirement(r); err != nil {
				t.Errorf("setup_requires %q: %v", r, err)
			}
		}
	})
}
