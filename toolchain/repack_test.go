package toolchain

import (
	"archive/zip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func readWheel(t *testing.T, p string) map[string]string {
	t.Helper()
	zr, err := zip.OpenReader(p)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	out := map[string]string{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		out[f.Name] = string(b)
	}
	return out
}

// Debian's setuptools, repacked: pkg_resources merged back in, the
// install_layout patch undone, an egg-info turned into a dist-info with a
// WHEEL and a RECORD, and the same bytes every time.
func TestRepackSetuptools(t *testing.T) {
	files := func() map[string][]byte {
		return map[string][]byte{
			"setuptools/__init__.py":                      []byte("x = 1\n"),
			"setuptools/command/install_lib.py":           []byte("    def finalize_options(self):\n        self.set_undefined_options('install',('install_layout','install_layout'))\n"),
			"setuptools/command/install_egg_info.py":      []byte("    def finalize_options(self) -> None:\n        self.set_undefined_options('install_lib', ('install_dir', 'install_dir'))\n" + debianEggInfo + "\n        self.source = ei_cmd.egg_info\n"),
			"setuptools-78.1.1.egg-info/PKG-INFO":         []byte("Metadata-Version: 2.4\nName: setuptools\nVersion: 78.1.1\n\nbody\n"),
			"setuptools-78.1.1.egg-info/entry_points.txt": []byte("[console_scripts]\n"),
			"setuptools-78.1.1.egg-info/requires.txt":     []byte("ignored\n"),
		}
	}
	extra := map[string][]byte{"pkg_resources/__init__.py": []byte("y = 2\n")}
	dir := t.TempDir()
	name, err := repack("python3-setuptools", "", files(), extra, "py3-none-any", dir)
	if err != nil {
		t.Fatal(err)
	}
	if name != "setuptools-78.1.1-py3-none-any.whl" {
		t.Fatalf("name %s", name)
	}
	w := readWheel(t, filepath.Join(dir, name))
	if w["pkg_resources/__init__.py"] != "y = 2\n" {
		t.Error("pkg_resources not merged in")
	}
	for _, f := range []string{"setuptools/command/install_lib.py", "setuptools/command/install_egg_info.py"} {
		if strings.Contains(w[f], "install_layout") && !strings.Contains(w[f], "pysmoke: Debian's install_layout patch undone") {
			t.Errorf("%s still has Debian's patch:\n%s", f, w[f])
		}
		if strings.Contains(w[f], "set_undefined_options('install',('install_layout'") {
			t.Errorf("%s still copies install_layout", f)
		}
	}
	if !strings.Contains(w["setuptools/command/install_egg_info.py"], `basename = f"{ei_cmd._get_egg_basename()}.egg-info"`) {
		t.Error("install_egg_info lost its upstream basename")
	}
	info := "setuptools-78.1.1.dist-info/"
	if !strings.HasPrefix(w[info+"METADATA"], "Metadata-Version: 2.1\nName: setuptools\n") {
		t.Errorf("METADATA %q", w[info+"METADATA"])
	}
	if !strings.Contains(w[info+"WHEEL"], "Tag: py3-none-any\n") || w[info+"entry_points.txt"] == "" {
		t.Errorf("WHEEL %q, entry points %q", w[info+"WHEEL"], w[info+"entry_points.txt"])
	}
	if _, ok := w["setuptools-78.1.1.egg-info/requires.txt"]; ok {
		t.Error("egg-info kept")
	}
	if !strings.Contains(w[info+"RECORD"], "pkg_resources/__init__.py,sha256=") || !strings.HasSuffix(w[info+"RECORD"], info+"RECORD,,\n") {
		t.Errorf("RECORD:\n%s", w[info+"RECORD"])
	}
	first, _ := os.ReadFile(filepath.Join(dir, name))
	if _, err := repack("python3-setuptools", "", files(), map[string][]byte{"pkg_resources/__init__.py": []byte("y = 2\n")}, "py3-none-any", dir); err != nil {
		t.Fatal(err)
	}
	again, _ := os.ReadFile(filepath.Join(dir, name))
	if string(first) != string(again) {
		t.Error("repacking twice gave different bytes")
	}
	// A patch that no longer applies is an error, not a silent skip.
	broken := files()
	broken["setuptools/command/install_lib.py"] = []byte("pass\n")
	if _, err := repack("python3-setuptools", "", broken, nil, "py3-none-any", dir); err == nil {
		t.Error("a patch that does not apply passed")
	}
}

// One distribution out of a package that ships two (flit_core in flit),
// and a universal tag.
func TestRepackOneDist(t *testing.T) {
	files := map[string][]byte{
		"flit/__init__.py":                     []byte(""),
		"flit-3.12.0.dist-info/METADATA":       []byte("Metadata-Version: 2.1\nName: flit\nVersion: 3.12.0\n"),
		"flit_core/__init__.py":                []byte("core\n"),
		"flit_core-3.12.0.dist-info/METADATA":  []byte("Metadata-Version: 2.1\nName: flit_core\nVersion: 3.12.0\n"),
		"flit_core-3.12.0.dist-info/INSTALLER": []byte("debian\n"),
	}
	dir := t.TempDir()
	name, err := repack("flit", "flit_core", files, nil, "py2.py3-none-any", dir)
	if err != nil {
		t.Fatal(err)
	}
	w := readWheel(t, filepath.Join(dir, name))
	if name != "flit_core-3.12.0-py2.py3-none-any.whl" || w["flit_core/__init__.py"] != "core\n" {
		t.Fatalf("%s: %v", name, w)
	}
	if _, ok := w["flit/__init__.py"]; ok {
		t.Error("flit came along")
	}
	if _, ok := w["flit_core-3.12.0.dist-info/INSTALLER"]; ok {
		t.Error("INSTALLER kept")
	}
	if !strings.Contains(w["flit_core-3.12.0.dist-info/WHEEL"], "Tag: py2-none-any\nTag: py3-none-any\n") {
		t.Errorf("WHEEL %q", w["flit_core-3.12.0.dist-info/WHEEL"])
	}
}

func TestPythonSatisfies(t *testing.T) {
	cases := []struct {
		alts []string
		min  string
		want bool
	}{
		{[]string{"python3-tomli", "python3 (>> 3.11)"}, "3.12", true},
		{[]string{"python3-tomli", "python3 (>> 3.11)"}, "3.11", false}, // 3.11.x >> 3.11 in Debian's order, but not 3.11 itself
		{[]string{"python3-tomli", "python3-supported-min (>= 3.11)"}, "3.11", true},
		{[]string{"python3-importlib-metadata", "python3 (>> 3.8)"}, "3.7", false},
		{[]string{"python3-packaging"}, "3.12", false},
	}
	for _, c := range cases {
		if got := pythonSatisfies(c.alts, c.min); got != c.want {
			t.Errorf("pythonSatisfies(%v, %s) = %v", c.alts, c.min, got)
		}
	}
}

func TestCompareWheelVersions(t *testing.T) {
	if compareWheelVersions("pip-23.0.1-py3-none-any.whl", "pip-22.0.4-py3-none-any.whl") <= 0 ||
		compareWheelVersions("pip-9.0.1-py3-none-any.whl", "pip-10.0-py3-none-any.whl") >= 0 {
		t.Error("wheel versions misordered")
	}
}

func TestWithRequires(t *testing.T) {
	meta := "Metadata-Version: 2.1\nName: pdm-backend\nRequires-Dist: a\n\nBody\n\nmore\n"
	got := string(withRequires([]byte(meta), []string{"b>=1", `c; python_version < "3.11"`}))
	want := "Metadata-Version: 2.1\nName: pdm-backend\nRequires-Dist: a\nRequires-Dist: b>=1\nRequires-Dist: c; python_version < \"3.11\"\n\nBody\n\nmore\n"
	if got != want {
		t.Errorf("withRequires = %q\nwant %q", got, want)
	}
	if got := string(withRequires([]byte("Name: x\n"), []string{"y"})); got != "Name: x\nRequires-Dist: y\n" {
		t.Errorf("withRequires without a body = %q", got)
	}
	if got := string(withRequires([]byte(meta), nil)); got != meta {
		t.Errorf("withRequires of nothing changed the metadata: %q", got)
	}
}

func TestProgressLeft(t *testing.T) {
	for _, c := range []struct {
		p    Progress
		want time.Duration
	}{
		{Progress{Done: 0, Total: 10, Elapsed: time.Second}, 0},
		{Progress{Done: 2, Total: 10, Elapsed: 20 * time.Second}, 80 * time.Second},
		{Progress{Done: 10, Total: 10, Elapsed: time.Minute}, 0},
	} {
		if got := c.p.Left(); got != c.want {
			t.Errorf("%+v: Left() = %s, want %s", c.p, got, c.want)
		}
	}
}
