package runner

import (
	"slices"
	"testing"

	"github.com/pysmoke/pysmoke/outcome"
)

// TestStepTableIsTheVocabulary: the table runs every step of
// outcome.Steps after unpacking, in its order, each with a command.
func TestStepTableIsTheVocabulary(t *testing.T) {
	var names []string
	for _, st := range steps {
		names = append(names, st.name)
		if st.command == nil {
			t.Errorf("step %s has no command", st.name)
		}
	}
	if want := outcome.Steps[1:]; !slices.Equal(names, want) {
		t.Errorf("the table's steps %v, want %v", names, want)
	}
}

// TestRecordModule: the top-level module each path of a wheel's RECORD
// belongs to; data, metadata, byte code and .pth files are none.
func TestRecordModule(t *testing.T) {
	for p, want := range map[string]string{
		"pkg/__init__.py":                      "pkg",
		"pkg/sub/mod.py":                       "pkg",
		"mod.py":                               "mod",
		"_ext.cpython-311-x86_64-linux-gnu.so": "_ext",
		"share/readme.txt":                     "",
		"pkg-1.0.dist-info/RECORD":             "",
		"pkg-1.0.data/purelib/x.py":            "",
		"__pycache__/mod.cpython-311.pyc":      "",
		"top.pth":                              "",
	} {
		if got := recordModule(p); got != want {
			t.Errorf("recordModule(%q) = %q, want %q", p, got, want)
		}
	}
}
