package toolchain

import (
	"archive/zip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writeTestWheel writes a pure wheel whose METADATA names project.
func writeTestWheel(t *testing.T, dir, file, project, requiresPython string) string {
	t.Helper()
	p := filepath.Join(dir, file)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	parts := strings.Split(strings.TrimSuffix(file, ".whl"), "-")
	w, _ := zw.Create(parts[0] + "-" + parts[1] + ".dist-info/METADATA")
	md := "Metadata-Version: 2.1\nName: " + project + "\nVersion: " + parts[1] + "\n"
	if requiresPython != "" {
		md += "Requires-Python: " + requiresPython + "\n"
	}
	w.Write([]byte(md))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return p
}

func TestCandidate(t *testing.T) {
	baseDir := t.TempDir()
	wheels := filepath.Join(baseDir, "wheels")
	os.Mkdir(wheels, 0o755)
	files := []string{"pip-20.3.4-py2.py3-none-any.whl", "setuptools-44.1.1-py2.py3-none-any.whl",
		"pip-23.0.1-py3-none-any.whl", "setuptools-56.0.0-py3-none-any.whl", "wheel-0.38.4-py3-none-any.whl",
		"setuptools_scm-7.1.0-py3-none-any.whl"}
	base := &Wheelhouse{Dir: wheels, Key: "basekey", Sets: map[string]Set{
		"2.7": {Minor: "2.7", Pip: files[0], Build: []string{files[0], files[1]}},
		"3.8": {Minor: "3.8", Pip: files[2], Build: []string{files[2], files[3], files[4]},
			Backends: map[string][]string{"setuptools-scm": {files[5], files[3]}}},
	}}
	for _, f := range files {
		writeTestWheel(t, wheels, f, strings.SplitN(f, "-", 2)[0], "")
		base.Wheels = append(base.Wheels, Wheel{File: f, SHA256: "sum-" + f})
	}
	given := t.TempDir()
	st58 := writeTestWheel(t, given, "setuptools-58.1.0-py3-none-any.whl", "setuptools", ">=3.6")
	cache := t.TempDir()

	c, err := Candidate(base, []string{st58}, cache)
	if err != nil {
		t.Fatal(err)
	}
	s38, _ := c.For("3.8")
	if want := []string{files[2], "setuptools-58.1.0-py3-none-any.whl", files[4]}; !slices.Equal(s38.Build, want) {
		t.Errorf("3.8 build %q, want %q", s38.Build, want)
	}
	if got := s38.Backends["setuptools-scm"]; got[1] != "setuptools-58.1.0-py3-none-any.whl" {
		t.Errorf("3.8 backend %q: setuptools not replaced", got)
	}
	// A py3 wheel requiring >=3.6 does not install on 2.7: its set stays.
	if s27, _ := c.For("2.7"); !slices.Equal(s27.Build, base.Sets["2.7"].Build) {
		t.Errorf("2.7 build %q, want the base's %q", s27.Build, base.Sets["2.7"].Build)
	}
	if base.Sets["3.8"].Build[1] != files[3] {
		t.Error("the base wheelhouse was changed")
	}
	if _, err := os.Stat(filepath.Join(c.Dir, "setuptools-58.1.0-py3-none-any.whl")); err != nil {
		t.Errorf("the candidate wheel is not in its folder: %v", err)
	}
	if _, err := os.Stat(filepath.Join(c.Dir, files[3])); err != nil {
		t.Errorf("the base wheels are not in its folder: %v", err)
	}
	if h := c.Hashes(s38); h["setuptools-58.1.0-py3-none-any.whl"] == "" || c.Key == base.Key {
		t.Errorf("the candidate's provenance does not tell it from the base: key %s, hashes %v", c.Key, h)
	}
	// Made once: the same inputs give the same folder.
	again, err := Candidate(base, []string{st58}, cache)
	if err != nil || again.Dir != c.Dir || again.Key != c.Key {
		t.Errorf("again: %v, %s (want %s)", err, again.Dir, c.Dir)
	}

	for _, bad := range []struct{ name, path, want string }{
		{"replaces nothing", writeTestWheel(t, given, "flit_core-3.12.0-py3-none-any.whl", "flit_core", ""), "replaces no wheel"},
		{"only for 3.9", writeTestWheel(t, given, "setuptools-80.0.0-py3-none-any.whl", "setuptools", ">=3.9"), "replaces no wheel"},
		{"metadata of another project", writeTestWheel(t, given, "wheel-0.45.0-py3-none-any.whl", "notwheel", ""), "its metadata names"},
		{"not a wheel", filepath.Join(given, "setuptools-58.1.0.tar.gz"), "not a wheel"},
	} {
		if _, err := Candidate(base, []string{bad.path}, cache); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: %v, want an error saying %q", bad.name, err, bad.want)
		}
	}
}
