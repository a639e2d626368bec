package runner

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestShippedSource(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{
		"setup.py": "", "noxfile.py": "", "release.py": "", "mod.py": "", "test_top.py": "", "top_test.py": "",
		"pkg/__init__.py": "", "pkg/a.py": "", "data/x.py": "", "tests/__init__.py": "", "docs/conf.py": "",
		"src/lib/__init__.py": "", "src/single.py": "", ".hidden/__init__.py": "", "scripts/__init__.py": "",
	} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A link is nothing of the layout's (the host reads it before any
	// code ran, but never follows one).
	if err := os.Symlink("/etc", filepath.Join(dir, "etcpkg")); err != nil {
		t.Fatal(err)
	}
	got := shippedSource(dir)
	// release.py is a module at the top like any other: only the built
	// wheel says it is not shipped.
	want := []string{"mod.py", "pkg", "release.py", "src/lib", "src/single.py"}
	if !slices.Equal(got, want) {
		t.Errorf("shippedSource = %q; want %q", got, want)
	}
}

func TestShippedTests(t *testing.T) {
	record := "simplejson/__init__.py,sha256=x,10\n" +
		"simplejson/tests/__init__.py,sha256=x,10\n" +
		"simplejson/tests/test_dump.py,sha256=x,10\n" +
		"other/test/__init__.py,,\n" +
		"deep/a/tests/__init__.py,,\n" +
		"x-1.0.dist-info/tests/__init__.py,,\n" +
		"x-1.0.data/purelib/tests/__init__.py,,\n" +
		"tests/__init__.py,,\n" +
		"bad-name/tests/__init__.py,,\n"
	info := func(name string, max int64) ([]byte, error) {
		if name != "RECORD" {
			return nil, fs.ErrNotExist
		}
		return []byte(record), nil
	}
	got, err := shippedTests(info)
	if want := []string{"other.test", "simplejson.tests"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("shippedTests = %q, %v; want %q", got, err, want)
	}
}
