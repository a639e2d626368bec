package runner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAllowsPython(t *testing.T) {
	cases := []struct {
		spec, version string
		want          bool
	}{
		{">=3.8", "3.7.16", false},
		{">=3.8", "3.8.18", true},
		{">=3.8", "2.7.18", false},
		{">=2.7, !=3.0.*, !=3.1.*, <4", "3.6.15", true},
		{">=2.7, !=3.0.*, !=3.1.*, <4", "3.1.5", false},
		{"<3", "2.7.18", true},
		{"<3", "3.13.0", false},
		{"~=3.9", "3.13.0", true},
		{"~=3.9", "4.0.0", false},
		{"~=3.9.1", "3.9.0", false},
		{"~=3.9.1", "3.9.18", true},
		{"==3.*", "3.12.1", true},
		{"==3.12.*", "3.13.0", false},
		{">3.12", "3.12.1", true}, // release numbers only: 3.12.1 > 3.12
		{"", "3.12.1", true},
	}
	for _, c := range cases {
		got, err := allowsPython(c.spec, c.version)
		if err != nil || got != c.want {
			t.Errorf("allowsPython(%q, %q) = %v, %v; want %v", c.spec, c.version, got, err, c.want)
		}
	}
	for _, bad := range []string{"3.8", ">=3.8a1", ">=3.*"} {
		if _, err := allowsPython(bad, "3.12.1"); err == nil {
			t.Errorf("allowsPython(%q): no error", bad)
		}
	}
}

func TestExcludesPython2(t *testing.T) {
	for spec, want := range map[string]bool{
		">=3.8":                       true,
		">=3":                         true,
		">3.0":                        true,
		"~=3.6":                       true,
		">=3.7, <4":                   true,
		"!=2.*":                       true,
		">=2.7":                       false,
		">=2.7, !=3.0.*, !=3.1.*, <4": false,
		"<3":                          false,
		"!=2.7.*, >=2.6":              false, // 2.6 still
		">=2.7.5, <3":                 false, // 2.7.18
		"==2.7.18":                    false,
		"":                            false,
		">=3.8a1":                     false, // unreadable: excludes nothing
		">=3.6, garbage":              false,
	} {
		if got := excludesPython2(spec); got != want {
			t.Errorf("excludesPython2(%q) = %v, want %v", spec, got, want)
		}
	}
}

// What PKG-INFO claims: Requires-Python and the minor versions of the
// "Programming Language :: Python :: X.Y" classifiers, not "3" nor
// "3 :: Only", nor anything of the long description.
func TestClaims(t *testing.T) {
	dir := t.TempDir()
	pkgInfo := "Metadata-Version: 2.1\r\nName: demo\nVersion: 1.0\nRequires-Python: >=3.8\n" +
		"Classifier: Programming Language :: Python :: 3\n" +
		"Classifier: Programming Language :: Python :: 3 :: Only\n" +
		"Classifier: Programming Language :: Python :: 3.8\n" +
		"Classifier: Programming Language :: Python :: 3.12\n" +
		"Classifier: Programming Language :: Python :: 3.12\n" +
		"Classifier: Programming Language :: Python :: Implementation :: CPython\n" +
		"\nClassifier: Programming Language :: Python :: 2.7\n"
	if err := os.WriteFile(filepath.Join(dir, "PKG-INFO"), []byte(pkgInfo), 0o644); err != nil {
		t.Fatal(err)
	}
	c := claims(dir)
	if c.RequiresPython != ">=3.8" || strings.Join(c.Classifiers, ",") != "3.8,3.12" {
		t.Errorf("claims %+v, want >=3.8 and 3.8,3.12", c)
	}
	if c := claims(t.TempDir()); !c.Empty() {
		t.Errorf("no PKG-INFO: %+v", c)
	}
}
