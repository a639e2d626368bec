package expected

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pysmoke/pysmoke/outcome"
)

func write(t *testing.T, s string) string {
	p := filepath.Join(t.TempDir(), "e.txt")
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadAndCompare(t *testing.T) {
	tab, err := Load(write(t, "# c\nfoo 2.7,3.6-3.8 tests passed\nfoo 3.9 tests failed syntax-error\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(tab) != 5 || tab[Key{"foo", "3.7", "tests"}] != (Outcome{"passed", ""}) {
		t.Fatalf("table %v", tab)
	}
	got := Table{
		{"foo", "2.7", "tests"}: {"passed", ""},
		{"foo", "3.9", "tests"}: {"failed", "exit-status"},
		{"foo", "3.6", "sdist"}: {"passed", ""},
	}
	diffs := strings.Join(tab.Compare(got, []string{"foo"}, []string{"2.7", "3.6", "3.9"}), "\n")
	for _, want := range []string{
		"foo 3.9 tests: expected failed/syntax-error, got failed/exit-status",
		"foo 3.6 tests: expected passed, not observed",
		"foo 3.6 sdist: observed passed, not expected",
	} {
		if !strings.Contains(diffs, want) {
			t.Errorf("diffs lack %q:\n%s", want, diffs)
		}
	}
	if strings.Contains(diffs, "3.7") {
		t.Errorf("compared a Python out of scope:\n%s", diffs)
	}
}

func TestLoadErrors(t *testing.T) {
	for _, bad := range []string{"foo 2.7 tests\n", "foo 3.9-3.6 tests passed\n", "foo 2.7 tests passed\nfoo 2.7 tests failed x\n"} {
		if _, err := Load(write(t, bad)); err == nil {
			t.Errorf("Load(%q) succeeded", bad)
		}
	}
}

// The project's own expected files load and cover every sample on every
// Python from 2.7 to 3.13 for every step exactly once.
func TestProjectFileIsComplete(t *testing.T) {
	for _, file := range []string{"expected-outcomes.txt", "expected-dependencies.txt"} {
		t.Run(file, func(t *testing.T) {
			tab, err := Load("../../testdata/" + file)
			if err != nil {
				t.Fatal(err)
			}
			pythons := []string{"2.7", "3.6", "3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13"}
			steps := outcome.Steps
			samples := tab.Samples()
			if len(samples) < 1 {
				t.Fatalf("samples %v", samples)
			}
			for _, s := range samples {
				for _, py := range pythons {
					for _, st := range steps {
						if _, ok := tab[Key{s, py, st}]; !ok {
							t.Errorf("no expected outcome for %s %s %s", s, py, st)
						}
					}
				}
			}
			if len(tab) != len(samples)*len(pythons)*len(steps) {
				t.Errorf("%d entries, want %d", len(tab), len(samples)*len(pythons)*len(steps))
			}
		})
	}
}

func TestChanges(t *testing.T) {
	tab, err := Load(write(t, `foo 2.7,3.6-3.13 unpack passed
foo 2.7,3.6-3.8 tests passed
foo 3.9-3.11 tests failed exit-status
foo 3.12-3.13 tests failed module-removed
bar 2.7,3.6-3.13 tests passed
`))
	if err != nil {
		t.Fatal(err)
	}
	all := []string{"2.7", "3.6", "3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13"}
	for _, c := range []struct {
		sample  string
		pythons []string
		want    string
	}{
		// Both sides of each change, the oldest and the newest.
		{"foo", all, "2.7 3.8 3.9 3.11 3.12 3.13"},
		{"bar", all, "2.7 3.13"},
		{"bar", []string{"3.12"}, "3.12"},
		// A Python the file says nothing of is a change.
		{"bar", []string{"2.7", "3.6", "3.14", "3.15", "3.16"}, "2.7 3.6 3.14 3.16"},
	} {
		if got := strings.Join(tab.Changes(c.sample, c.pythons), " "); got != c.want {
			t.Errorf("%s on %v: %s, want %s", c.sample, c.pythons, got, c.want)
		}
	}
}
