package store

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/pysmoke/pysmoke/outcome"
)

// A run's dependencies are saved and loaded with it, by name; the cell
// shows its current run's, and an earlier run keeps its own.
func TestDependencies(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "d.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	if _, err := s.db.ExecContext(ctx, `INSERT INTO releases (project, version, display_name, sdist_file, sdist_sha256, discovered_at) VALUES ('app', '1.0', 'app', 'app-1.0.tar.gz', 'ab', 0)`); err != nil {
		t.Fatal(err)
	}
	first := []Dependency{
		{Name: "depcext", Version: "1.0", Filename: "depcext-1.0-cp312-cp312-linux_x86_64.whl", SHA256: "22"},
		{Name: "pytest-mock", Version: "3.14.0", Filename: "pytest_mock-3.14.0-py3-none-any.whl", SHA256: "11"},
	}
	save := func(py string, deps []Dependency) {
		t.Helper()
		if err := s.SaveCell(ctx, Cell{Project: "app", Version: "1.0", Python: py, Status: outcome.Passed, StartedAt: now, FinishedAt: now,
			Dependencies: deps}, nil); err != nil {
			t.Fatal(err)
		}
	}
	load := func() map[string][]Dependency {
		t.Helper()
		cells, err := s.Cells(ctx, "app", "1.0")
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][]Dependency{}
		for _, c := range cells {
			out[c.Python] = c.Dependencies
		}
		return out
	}
	// Given out of order, kept by name.
	save("3.12", []Dependency{first[1], first[0]})
	save("3.11", nil)
	got := load()
	if !slices.Equal(got["3.12"], first) || len(got["3.11"]) != 0 {
		t.Fatalf("dependencies %+v; want %+v on 3.12, none on 3.11", got, first)
	}
	// Run again with one dependency gone: only the new set remains.
	save("3.12", first[:1])
	if got := load(); !slices.Equal(got["3.12"], first[:1]) {
		t.Fatalf("after a rerun %+v, want %+v", got["3.12"], first[:1])
	}
	runs, err := s.Runs(ctx, "app", "1.0", "3.12")
	if err != nil || len(runs) != 2 || !slices.Equal(runs[1].Dependencies, first) {
		t.Fatalf("runs %+v, %v; want the earlier with %+v", runs, err, first)
	}
}
