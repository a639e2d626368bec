package experiment

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pysmoke/pysmoke/outcome"
)

// TestLogTailIsText: the tail of a failing step's log, which the report
// page shows and the bug report prints for a terminal, carries none of
// the escape sequences the package's tools wrote.
func TestLogTailIsText(t *testing.T) {
	dir := t.TempDir()
	log := "collected 2 items\n\x1b]0;owned title\x07\x1b[31mE   assert 41 == 42\x1b[0m\n" +
		"50%\r100%\n\x1b[1m\x1b[31mFAILED\x1b[0m test_x.py::test_answer\n"
	if err := os.WriteFile(filepath.Join(dir, outcome.StepTests+".log"), []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &Record{ID: 7, Status: outcome.Failed, dir: dir, Steps: []Step{{Name: outcome.StepTests, Status: outcome.Failed}}}
	got := ref(filepath.Dir(dir), r, outcome.StepTests).LogTail
	want := "collected 2 items\nE   assert 41 == 42\n100%\nFAILED test_x.py::test_answer"
	if got != want {
		t.Errorf("LogTail = %q, want %q", got, want)
	}
	if strings.ContainsRune(got, 0x1b) {
		t.Error("an escape sequence reached the tail")
	}
}
