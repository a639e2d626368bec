package runner

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestBuildRequiresAndRequiresPython(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := buildRequires(dir); ok {
		t.Error("a build system without a pyproject.toml")
	}
	write("pyproject.toml", mixedPyproject)
	got, ok := buildRequires(dir)
	if want := []string{"setuptools", "setuptools-scm", "flit-core"}; !ok || !slices.Equal(got, want) {
		t.Errorf("buildRequires = %v, %v; want %v", got, ok, want)
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
