package diff

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// writeWheel writes a zip of files (path -> content) named name.
func writeWheel(t testing.TB, name string, files map[string]string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for _, n := range sortedKeys(files) {
		w, err := zw.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(files[n]))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return p
}

// writeSdist writes a .tar.gz of files with the given mode for each.
func writeSdist(t *testing.T, name string, files map[string]string, mode int64) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	for _, n := range sortedKeys(files) {
		tw.WriteHeader(&tar.Header{Name: n, Mode: mode, Size: int64(len(files[n])), Typeflag: tar.TypeReg})
		tw.Write([]byte(files[n]))
	}
	tw.Close()
	zw.Close()
	f.Close()
	return p
}

func pureWheel(generator, metadataVersion, pyc string, extra map[string]string) map[string]string {
	files := map[string]string{
		"pkg/__init__.py":                 "def answer():\n    return 42\n",
		"pkg/__pycache__/" + pyc:          "\x00\x00\x00\x00 byte code of " + pyc,
		"pkg-1.0.dist-info/METADATA":      "Metadata-Version: " + metadataVersion + "\nName: pkg\nVersion: 1.0\nRequires-Dist: six\n\nThe description.\n",
		"pkg-1.0.dist-info/WHEEL":         "Wheel-Version: 1.0\nGenerator: " + generator + "\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
		"pkg-1.0.dist-info/top_level.txt": "pkg\n",
		"pkg-1.0.dist-info/RECORD":        "pkg/__init__.py,sha256=" + generator + ",30\n",
	}
	for k, v := range extra {
		files[k] = v
	}
	return files
}

// The expected reports below are written by hand from what each pair of
// artifacts was made to differ in.

func TestTwoPythonsPureWheel(t *testing.T) {
	a := writeWheel(t, "pkg-1.0-py3-none-any.whl", pureWheel("bdist_wheel (0.38.4)", "2.1", "__init__.cpython-311.pyc", nil))
	b := writeWheel(t, "pkg-1.0-py3-none-any.whl", pureWheel("bdist_wheel (0.46.1)", "2.4", "__init__.cpython-312.pyc", nil))
	r, err := Archives(Side{Label: "3.11", Path: a, Python: "3.11.7"}, Side{Label: "3.12", Path: b, Python: "3.12.1"})
	if err != nil {
		t.Fatal(err)
	}
	want := Report{
		A: "3.11", B: "3.12",
		Normalised: []string{
			"the building Python in member paths (3.11 and 3.12)",
			"member timestamps, modes and owners are not compared; folders are compared through the files in them",
			"byte code (.pyc) compared by presence only: each Python writes its own",
			"the wheel's RECORD (it lists every member's hash) is not compared",
		},
		Metadata: []Field{
			{File: "pkg-1.0.dist-info/METADATA", Name: "Metadata-Version", A: []string{"2.1"}, B: []string{"2.4"}, Toolchain: true},
			{File: "pkg-1.0.dist-info/WHEEL", Name: "Generator", A: []string{"bdist_wheel (0.38.4)"}, B: []string{"bdist_wheel (0.46.1)"}, Toolchain: true},
		},
		Toolchain: "3.11: bdist_wheel (0.38.4); 3.12: bdist_wheel (0.46.1)",
	}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("report:\n%s\nwant:\n%s", r, want)
	}
}

func TestSameBuildTwice(t *testing.T) {
	files := pureWheel("bdist_wheel (0.46.1)", "2.4", "__init__.cpython-312.pyc", nil)
	a := writeWheel(t, "pkg-1.0-py3-none-any.whl", files)
	// The same byte code but for its header (the source's mtime).
	files["pkg/__pycache__/__init__.cpython-312.pyc"] = "\x00\x00\x00\x00\x00\x00\x00\x00\x01\x02\x03\x04\x00\x00\x00\x00 byte code"
	a2 := writeWheel(t, "x.whl", map[string]string{"m.cpython-312.pyc": "\x00\x00\x00\x00\x00\x00\x00\x00\x09\x09\x09\x09\x00\x00\x00\x00 byte code"})
	b2 := writeWheel(t, "x.whl", map[string]string{"m.cpython-312.pyc": "\x00\x00\x00\x00\x00\x00\x00\x00\x01\x02\x03\x04\x00\x00\x00\x00 byte code"})
	r, err := Archives(Side{Label: "first", Path: a, Python: "3.12.1"}, Side{Label: "second", Path: a, Python: "3.12.1"})
	if err != nil || !r.Empty() || !slices.Equal(r.Normalised, []string{"member timestamps, modes and owners are not compared; folders are compared through the files in them"}) {
		t.Errorf("the same wheel twice: %v\n%s", err, r)
	}
	r, err = Archives(Side{Label: "first", Path: a2, Python: "3.12.1"}, Side{Label: "second", Path: b2, Python: "3.12.1"})
	if err != nil || !r.Empty() || !slices.Contains(r.Normalised, "byte code headers (the source's timestamp and size)") {
		t.Errorf("byte code differing in its header only: %v\n%s", err, r)
	}
}

func TestDataFileAndRequirement(t *testing.T) {
	a := writeWheel(t, "pkg-1.0-py3-none-any.whl", pureWheel("bdist_wheel (0.46.1)", "2.4", "x.pyc", nil))
	bf := pureWheel("bdist_wheel (0.46.1)", "2.4", "x.pyc", map[string]string{"pkg/data.txt": "only on 3.13\n"})
	bf["pkg-1.0.dist-info/METADATA"] = "Metadata-Version: 2.4\nName: pkg\nVersion: 1.0\nRequires-Dist: six\nRequires-Dist: tomli\n\nThe description.\n"
	b := writeWheel(t, "pkg-1.0-py3-none-any.whl", bf)
	r, err := Archives(Side{Label: "3.12", Path: a, Python: "3.12.1"}, Side{Label: "3.13", Path: b, Python: "3.13.0"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Added, []string{"pkg/data.txt"}) || len(r.Missing) != 0 || len(r.Changed) != 0 {
		t.Errorf("members: added %q, missing %q, changed %v; want pkg/data.txt added only", r.Added, r.Missing, r.Changed)
	}
	want := []Field{{File: "pkg-1.0.dist-info/METADATA", Name: "Requires-Dist", A: []string{"six"}, B: []string{"six", "tomli"}}}
	if !reflect.DeepEqual(r.Metadata, want) || r.Toolchain != "" {
		t.Errorf("metadata %+v, toolchain %q; want %+v", r.Metadata, r.Toolchain, want)
	}
}

func TestCExtensionWheels(t *testing.T) {
	wheel := func(nodot, so string) map[string]string {
		return map[string]string{
			"cext/__init__.py": "from ._speed import add\n",
			"cext/_speed.cpython-" + nodot + "-x86_64-linux-gnu.so": so,
			"cext-1.0.dist-info/WHEEL":                              "Wheel-Version: 1.0\nGenerator: bdist_wheel (0.46.1)\nRoot-Is-Purelib: false\nTag: cp" + nodot + "-cp" + nodot + "-linux_x86_64\n",
		}
	}
	a := writeWheel(t, "cext-1.0-cp311-cp311-linux_x86_64.whl", wheel("311", "\x7fELF\x00 built for 3.11"))
	b := writeWheel(t, "cext-1.0-cp312-cp312-linux_x86_64.whl", wheel("312", "\x7fELF\x00 built for 3.12"))
	r, err := Archives(Side{Label: "3.11", Path: a, Python: "3.11.7"}, Side{Label: "3.12", Path: b, Python: "3.12.1"})
	if err != nil {
		t.Fatal(err)
	}
	// The tags are normalised (the Tag field too); the extension module
	// is named as binary, by its hashes.
	if len(r.Missing)+len(r.Added)+len(r.Metadata) != 0 || len(r.Changed) != 1 {
		t.Fatalf("report:\n%s\nwant one change, the extension module", r)
	}
	c := r.Changed[0]
	if c.Path != "cext/_speed.cpython-{XY}-x86_64-linux-gnu.so" || c.Why != "binary" || c.Unified != "" {
		t.Errorf("change %+v; want the .so under its normalised name, binary", c)
	}
	if !slices.Contains(r.Normalised, "the building Python in member paths (3.11 and 3.12)") {
		t.Errorf("normalised %q", r.Normalised)
	}
}

func TestTextChangeAndReleases(t *testing.T) {
	a := writeSdist(t, "pkg-1.0.tar.gz", map[string]string{
		"pkg-1.0/PKG-INFO":        "Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\n",
		"pkg-1.0/pkg/__init__.py": "def answer():\n    return 42\n",
		"pkg-1.0/setup.py":        "setup()\n",
	}, 0o644)
	b := writeSdist(t, "pkg-1.1.tar.gz", map[string]string{
		"pkg-1.1/PKG-INFO":        "Metadata-Version: 2.1\nName: pkg\nVersion: 1.1\n",
		"pkg-1.1/pkg/__init__.py": "def answer():\n    return 6 * 7\n",
		"pkg-1.1/setup.py":        "setup()\n",
	}, 0o600) // modes differ: not compared
	r, err := Archives(Side{Label: "1.0", Path: a, Project: "pkg", Version: "1.0"}, Side{Label: "1.1", Path: b, Project: "pkg", Version: "1.1"})
	if err != nil {
		t.Fatal(err)
	}
	wantMeta := []Field{{File: "pkg-{version}/PKG-INFO", Name: "Version", A: []string{"1.0"}, B: []string{"1.1"}}}
	if !reflect.DeepEqual(r.Metadata, wantMeta) || len(r.Missing)+len(r.Added) != 0 || len(r.Changed) != 1 {
		t.Fatalf("report:\n%s", r)
	}
	c := r.Changed[0]
	wantDiff := "--- a/pkg-{version}/pkg/__init__.py\n+++ b/pkg-{version}/pkg/__init__.py\n@@ -1,2 +1,2 @@\n def answer():\n-    return 42\n+    return 6 * 7\n"
	if c.Path != "pkg-{version}/pkg/__init__.py" || c.Unified != wantDiff {
		t.Errorf("change %s:\n%s\nwant:\n%s", c.Path, c.Unified, wantDiff)
	}
	if !slices.Contains(r.Normalised, "the release's version in member paths (1.0 and 1.1)") {
		t.Errorf("normalised %q", r.Normalised)
	}
	if s := r.String(); !strings.Contains(s, "-    return 42") || !strings.Contains(s, "PKG-INFO Version: \"1.0\" -> \"1.1\"") {
		t.Errorf("String():\n%s", s)
	}
}

func TestLargeAndBinaryMembers(t *testing.T) {
	big := strings.Repeat("x", MaxText+1)
	a := writeWheel(t, "a.whl", map[string]string{"big.txt": big, "blob.bin": "\x00\x01"})
	b := writeWheel(t, "a.whl", map[string]string{"big.txt": big + "y", "blob.bin": "\x00\x02"})
	r, err := Archives(Side{Label: "a", Path: a}, Side{Label: "b", Path: b})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Changed) != 2 || r.Changed[0].Why != "larger than 64 KiB" || r.Changed[1].Why != "binary" {
		t.Errorf("report:\n%s", r)
	}
}

func TestToolchainLabels(t *testing.T) {
	pkgInfo := func(extra string) map[string]string {
		return map[string]string{"pkg-1.0/PKG-INFO": "Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\n" + extra}
	}
	a := writeSdist(t, "pkg-1.0.tar.gz", pkgInfo("Home-page: UNKNOWN\nAuthor: UNKNOWN\nSummary: old\n"), 0o644)
	b := writeSdist(t, "pkg-1.0.tar.gz", pkgInfo("Summary: new\nDynamic: summary\n"), 0o644)
	r, err := Archives(Side{Label: "2.7", Path: a, Python: "2.7.18", Tools: "setuptools 41.2.0"}, Side{Label: "3.12", Path: b, Python: "3.12.1", Tools: "setuptools 78.1.1"})
	if err != nil {
		t.Fatal(err)
	}
	// Summary is the release's own; the placeholders and Dynamic are the
	// tools'.
	want := map[string]bool{"Home-page": true, "Author": true, "Summary": false, "Dynamic": true}
	got := map[string]bool{}
	for _, f := range r.Metadata {
		got[f.Name] = f.Toolchain
	}
	if !reflect.DeepEqual(got, want) || r.Toolchain != "2.7: setuptools 41.2.0; 3.12: setuptools 78.1.1" {
		t.Errorf("fields (toolchain or not) %v, want %v; toolchain %q", got, want, r.Toolchain)
	}
}

// On the axis of 2 against 3, a module that differs only as 2to3 converts
// it (setuptools' use_2to3 at the Python 3 build) is set aside, given the
// Python 2 side's 2to3 tree; one that differs otherwise still shows.
func TestTwoToThreeConversions(t *testing.T) {
	py2 := "def shout(w):\n    try:\n        return w.upper()\n    except AttributeError, e:\n        raise TypeError(e)\n"
	py3 := "def shout(w):\n    try:\n        return w.upper()\n    except AttributeError as e:\n        raise TypeError(e)\n"
	files := func(init, other string) map[string]string {
		return map[string]string{
			"pkg/__init__.py":            init,
			"pkg/other.py":               other,
			"pkg-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\n",
		}
	}
	a := Side{Label: "2.7", Path: writeWheel(t, "pkg-1.0-py2-none-any.whl", files(py2, "X = 1\n")), Python: "2.7.18"}
	b := Side{Label: "3.6", Path: writeWheel(t, "pkg-1.0-py3-none-any.whl", files(py3, "X = 2\n")), Python: "3.6.15"}
	// Named as the artifact store names it: by its hash, no extension.
	tree := writeSdist(t, "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", map[string]string{"pkg/__init__.py": py3, "pkg/other.py": "X = 1\n"}, 0o644)

	// Without the tree, both modules differ.
	rep, err := Archives(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if got := changedPaths(rep); !slices.Equal(got, []string{"pkg/__init__.py", "pkg/other.py"}) {
		t.Errorf("without the 2to3 tree: changed %v", got)
	}
	// With it, on either side, only the one 2to3 does not explain.
	a.Converted = tree
	for _, pair := range [][2]Side{{a, b}, {b, a}} {
		rep, err := Archives(pair[0], pair[1])
		if err != nil {
			t.Fatal(err)
		}
		if got := changedPaths(rep); !slices.Equal(got, []string{"pkg/other.py"}) {
			t.Errorf("%s -> %s: changed %v, want pkg/other.py only", pair[0].Label, pair[1].Label, got)
		}
		if !slices.Contains(rep.Normalised, "2to3's conversions: 1 Python 2 module compared as 2to3 converts them") {
			t.Errorf("%s -> %s: normalisations %q do not say 2to3's", pair[0].Label, pair[1].Label, rep.Normalised)
		}
	}
	// A bdist's modules under its install prefix, too.
	bdist := func(prefix, init string) string {
		return writeSdist(t, "pkg-1.0.linux-x86_64.tar.gz", map[string]string{prefix + "pkg/__init__.py": init}, 0o644)
	}
	rep, err = Archives(Side{Label: "2.7", Path: bdist("./usr/lib/python2.7/site-packages/", py2), Python: "2.7.18", Converted: tree},
		Side{Label: "3.6", Path: bdist("./venv/lib/python3.6/site-packages/", py3), Python: "3.6.15"})
	if err != nil || len(rep.Changed)+len(rep.Missing)+len(rep.Added) != 0 ||
		!slices.Contains(rep.Normalised, "2to3's conversions: 1 Python 2 module compared as 2to3 converts them") {
		t.Errorf("bdists: %v\n%s", err, rep)
	}
	// Two Pythons 3: the tree does not apply.
	c := b
	c.Label, c.Python = "3.7", "3.7.16"
	b.Converted = tree
	rep, _ = Archives(b, c)
	if slices.ContainsFunc(rep.Normalised, func(s string) bool { return strings.HasPrefix(s, "2to3") }) {
		t.Errorf("3.6 -> 3.7 says 2to3: %q", rep.Normalised)
	}
}

func changedPaths(r Report) []string {
	var out []string
	for _, c := range r.Changed {
		out = append(out, c.Path)
	}
	return out
}
