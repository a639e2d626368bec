package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pysmoke/pysmoke/internal/sandboxtest"
)

// TestServeDependencies: the service, watching only depapp, tests it on
// 3.12 with its dependencies from the index (both sdists here), records
// what was installed with the cell, and downloads nothing but depapp's
// sdist and that closure.
func TestServeDependencies(t *testing.T) {
	sandboxtest.Namespace(t)
	tmp := t.TempDir()
	indexURL, paths := sampleIndex(t, filepath.Join(tmp, "index"), "samples/depapp", "dependencies/depcext", "dependencies/depsdist", "samples/smokegood")
	allow := filepath.Join(tmp, "allow.txt")
	if err := os.WriteFile(allow, []byte("depapp\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(tmp, "data")
	cells, logs := serveUntil(t, indexURL, allow, data, "3.12", "depapp", 1)
	cell := cells[0]
	if cell.Status != "passed" {
		t.Errorf("depapp on 3.12: %s %s; log:\n%s", cell.Status, cell.Reason, tail(logs, 30))
	}
	var names []string
	for _, d := range cell.Dependencies {
		names = append(names, d.Name+" "+d.Version+" "+d.Filename)
		if want, ok := paths[d.Filename]; ok && d.SHA256 != fileSHA256(t, want) {
			t.Errorf("%s recorded with sha256 %s, not the index's file's", d.Filename, d.SHA256)
		}
	}
	for _, want := range []string{"depcext 1.0 depcext-1.0.tar.gz", "depsdist 1.0 depsdist-1.0.tar.gz", "pytest-mock 3.14.0 pytest_mock-3.14.0-py3-none-any.whl"} {
		if !slices.Contains(names, want) {
			t.Errorf("recorded dependencies %v lack %q", names, want)
		}
	}
	// The mirror: depapp (allowlisted) and its closure, not smokegood.
	var mirrored []string
	files, _ := filepath.Glob(filepath.Join(data, "mirror", "*", "*", "*"))
	for _, f := range files {
		if !strings.HasPrefix(filepath.Base(f), ".") {
			mirrored = append(mirrored, filepath.Base(f))
		}
	}
	slices.Sort(mirrored)
	if want := []string{"depapp-1.0.tar.gz", "depcext-1.0.tar.gz", "depsdist-1.0.tar.gz"}; !slices.Equal(mirrored, want) {
		t.Errorf("mirror holds %v, want %v", mirrored, want)
	}
}
