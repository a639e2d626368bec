package runner

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestBuildRequiresAndRequiresPython(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("pyproject.toml", mixedPyproject)
	bs := parseBuildSystem([]byte(mixedPyproject))
	want := []string{"setuptools>=45", "setuptools_scm[toml] >= 6.2", "Flit.Core >=3.2,<4; python_version >= '3.7'"}
	if !bs.Declared || !slices.Equal(bs.Requires, want) || bs.Backend != "setuptools.build_meta" {
		t.Errorf("parseBuildSystem = %+v; want requires %q, backend setuptools.build_meta", bs, want)
	}
	if rp := requiresPython(dir); rp != ">=3.8" {
		t.Errorf("requiresPython from pyproject.toml = %q", rp)
	}
	write("PKG-INFO", "Metadata-Version: 2.1\nName: x\nRequires-Python: >=3.9\n\nRequires-Python: <3\n")
	if rp := requiresPython(dir); rp != ">=3.9" {
		t.Errorf("requiresPython from PKG-INFO = %q", rp)
	}
	dir2 := t.TempDir()
	os.WriteFile(filepath.Join(dir2, "setup.py"), []byte("setup(name='x',\n      python_requires = '>=3.7, <4')\n"), 0o644)
	if rp := requiresPython(dir2); rp != ">=3.7, <4" {
		t.Errorf("requiresPython from setup.py = %q", rp)
	}
}

// mixedPyproject has a build system among other tables, its requirements
// in both quote styles, with extras, markers and odd spacing.
const mixedPyproject = `[tool.black]
line-length = 100

[build-system]
requires = [
    "setuptools>=45",
    'setuptools_scm[toml] >= 6.2',
    "Flit.Core >=3.2,<4; python_version >= '3.7'",
]
build-backend = "setuptools.build_meta"

[project]
name = "x"
requires-python = ">=3.8"
`

func TestParseBuildSystem(t *testing.T) {
	for _, c := range []struct {
		name, text string
		want       buildSystem
	}{
		{"no table", "[project]\nname = 'x'\n", buildSystem{}},
		{"no requires", "[build-system]\nbuild-backend = 'x.y'\n", buildSystem{Declared: true, Backend: "x.y"}},
		{"empty requires", "[build-system]\nrequires = []\n", buildSystem{Declared: true, Requires: []string{}}},
		{"dotted keys, backend path", "build-system.requires = ['flit_core >=3.11,<4', ' ']\nbuild-system.build-backend = ' flit_core.buildapi '\nbuild-system.backend-path = ['_build']\n",
			buildSystem{Declared: true, Requires: []string{"flit_core >=3.11,<4"}, Backend: "flit_core.buildapi", BackendPath: []string{"_build"}}},
		{"not TOML, with the header", "[build-system]\nrequires = [\"a\"\n", buildSystem{Declared: true}},
		{"not TOML, without it", "[project\n", buildSystem{}},
		{"requires of another type", "[build-system]\nrequires = 'setuptools'\n", buildSystem{Declared: true}},
	} {
		got := parseBuildSystem([]byte(c.text))
		if got.Declared != c.want.Declared || !slices.Equal(got.Requires, c.want.Requires) || (got.Requires == nil) != (c.want.Requires == nil) ||
			got.Backend != c.want.Backend || !slices.Equal(got.BackendPath, c.want.BackendPath) {
			t.Errorf("%s: parseBuildSystem = %+v; want %+v", c.name, got, c.want)
		}
	}
}

func TestSetupRequires(t *testing.T) {
	for _, c := range []struct {
		text string
		want []string
	}{
		{"[metadata]\nname = x\n", nil},
		{"[options]\nsetup_requires =\n    setuptools_scm>=4.1,<6 ; python_version < '3.7'\n    # a comment\n    setuptools_scm>=6 ; python_version >= '3.7'\n    wheel  # inline\n",
			[]string{"setuptools_scm>=4.1,<6 ; python_version < '3.7'", "setuptools_scm>=6 ; python_version >= '3.7'", "wheel"}},
		{"[options]\nsetup_requires = setuptools_scm; wheel\n", []string{"setuptools_scm", "wheel"}},
		{"[options]\nsetup_requires = six; python_version < '3'\n", []string{"six; python_version < '3'"}},
		{"[options]\nsetup_requires = ../local-path\n", nil},
	} {
		if got := setupRequires([]byte(c.text)); !slices.Equal(got, c.want) {
			t.Errorf("setupRequires(%q) = %q; want %q", c.text, got, c.want)
		}
	}
}

func TestParseHookAnswer(t *testing.T) {
	got, err := parseHookAnswer([]byte(`{"sdist": ["setuptools_scm"], "wheel": ["wheel", "setuptools_scm"], "other": ["x"]}`))
	if want := []string{"setuptools_scm", "wheel"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("parseHookAnswer = %q, %v; want %q", got, err, want)
	}
	for _, bad := range []string{`{"wheel": ["not a requirement!"]}`, `["wheel"]`, `{"wheel": "wheel"}`, `not json`} {
		if got, err := parseHookAnswer([]byte(bad)); err == nil {
			t.Errorf("parseHookAnswer(%s) = %q, no error", bad, got)
		}
	}
	many := `{"wheel": [` + strings.TrimSuffix(strings.Repeat(`"a",`, 1), ",")
	for i := 0; i <= maxHookRequires; i++ {
		many += fmt.Sprintf(`, "p%d"`, i)
	}
	if _, err := parseHookAnswer([]byte(many + `]}`)); err == nil {
		t.Errorf("parseHookAnswer of %d requirements: no error", maxHookRequires+2)
	}
}
