package runner

import (
	"archive/zip"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/pysmoke/pysmoke/dist"
	"github.com/pysmoke/pysmoke/interpreter"
)

// TestRequirementLines: options, paths, comments and blank lines of a
// requirements file are not requirements the index can meet.
func TestRequirementLines(t *testing.T) {
	in := "# test tools\npytest>=7  # the runner\n\n-r requirements.txt\n--index-url https://example.org/simple\n" +
		"-e .\n./local\nmock; python_version < \"3.3\"\n  hypothesis  \n"
	want := []string{"pytest>=7", `mock; python_version < "3.3"`, "hypothesis"}
	if got := requirementLines([]byte(in)); !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestRequirementsOf: the built wheel's requirements, its test extras (the
// others are left out), a requirements-test.txt, and never the release
// itself.
func TestRequirementsOf(t *testing.T) {
	dir := t.TempDir()
	whl := filepath.Join(dir, "app-1.0-py3-none-any.whl")
	f, err := os.Create(whl)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	w, _ := zw.Create("app-1.0.dist-info/METADATA")
	w.Write([]byte("Metadata-Version: 2.1\nName: app\nVersion: 1.0\nRequires-Dist: lib>=1\n" +
		"Requires-Dist: pytest-mock; extra == \"test\"\nRequires-Dist: sphinx; extra == \"docs\"\n" +
		"Provides-Extra: docs\nProvides-Extra: Test\n\n"))
	zw.Close()
	f.Close()
	proj := filepath.Join(dir, "src")
	os.MkdirAll(proj, 0o755)
	os.WriteFile(filepath.Join(proj, "requirements-test.txt"), []byte("hypothesis\napp[test]\nlib>=1\n"), 0o644)
	meta, err := dist.WheelMetadata(whl)
	if err != nil {
		t.Fatal(err)
	}
	reqs, extras, err := requirementsOf(meta, readTestSource(proj, "3.12"), "App", true)
	if err != nil {
		t.Fatal(err)
	}
	wantReqs := []string{"lib>=1", `pytest-mock; extra == "test"`, `sphinx; extra == "docs"`, "hypothesis"}
	if !slices.Equal(reqs, wantReqs) || !slices.Equal(extras, []string{"test"}) {
		t.Errorf("requirements %q extras %q, want %q and [test]", reqs, extras, wantReqs)
	}
}

// TestTarget: the marker variables and the first and last wheel tags the
// resolver gets for a 2.7 and a 3.12.
func TestTarget(t *testing.T) {
	for _, c := range []struct {
		in             interpreter.Interpreter
		platform, tag0 string
	}{
		{interpreter.Interpreter{Version: "2.7.18", Minor: "2.7", ABI: "cp27mu"}, "linux2", "cp27-cp27mu-manylinux_2_36_x86_64"},
		{interpreter.Interpreter{Version: "3.12.1", Minor: "3.12", ABI: "cp312"}, "linux", "cp312-cp312-manylinux_2_36_x86_64"},
	} {
		tg, err := target(c.in)
		if err != nil {
			t.Fatal(err)
		}
		if tg.PythonVersion != c.in.Version || tg.Env["python_version"] != c.in.Minor || tg.Env["sys_platform"] != c.platform || !tg.AllowSdists {
			t.Errorf("%s: %+v", c.in.Version, tg)
		}
		if tg.Tags[0].String() != c.tag0 {
			t.Errorf("%s: first tag %s, want %s", c.in.Version, tg.Tags[0], c.tag0)
		}
		if last := tg.Tags[len(tg.Tags)-1]; last != (dist.Tag{Python: "py" + c.in.Minor[:1] + "0", ABI: "none", Platform: "any"}) {
			t.Errorf("%s: last tag %s", c.in.Version, last)
		}
	}
}

// TestRequirementsOfDeclaredSource: a test environment the project
// declares (tox here) gives the tests' requirements and the extras it
// names, not every test extra.
func TestRequirementsOfDeclaredSource(t *testing.T) {
	meta := []byte("Metadata-Version: 2.1\nName: app\nVersion: 1.0\nRequires-Dist: lib>=1\n" +
		"Requires-Dist: pytest-mock; extra == \"test\"\nRequires-Dist: pyyaml; extra == \"yaml\"\n" +
		"Provides-Extra: test\nProvides-Extra: YAML\n\n")
	src := testSource{From: "tox.ini [testenv]", Requires: []string{"freezegun", "app"}, Extras: []string{"yaml", "docs"}}
	reqs, extras, err := requirementsOf(meta, src, "app", true)
	if err != nil {
		t.Fatal(err)
	}
	wantReqs := []string{"lib>=1", `pytest-mock; extra == "test"`, `pyyaml; extra == "yaml"`, "freezegun"}
	if !slices.Equal(reqs, wantReqs) || !slices.Equal(extras, []string{"yaml"}) {
		t.Errorf("requirements %q extras %q, want %q and [yaml] (the metadata's extras in normal form)", reqs, extras, wantReqs)
	}
}
