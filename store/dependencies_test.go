package store

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/pysmoke/pysmoke/runner"
)

// A cell's dependencies are kept by name, replaced when the cell is run
// again, and go with the cell.
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
	if err := s.SaveCell(ctx, Cell{Project: "app", Version: "1.0", Python: "3.12", Status: runner.Passed, StartedAt: now, FinishedAt: now}, nil); err != nil {
		t.Fatal(err)
	}
	first := []Dependency{
		{Name: "pytest-mock", Version: "3.14.0", Filename: "pytest_mock-3.14.0-py3-none-any.whl", SHA256: "11"},
		{Name: "depcext", Version: "1.0", Filename: "depcext-1.0-cp312-cp312-linux_x86_64.whl", SHA256: "22"},
	}
	if err := s.SaveDependencies(ctx, "app", "1.0", "3.12", first); err != nil {
		t.Fatal(err)
	}
	got, err := s.Dependencies(ctx, "app", "1.0", "3.12")
	if want := []Dependency{first[1], first[0]}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("dependencies %+v, %v; want %+v (by name)", got, err, want)
	}
	// Run again with one dependency gone: only the new set remains.
	if err := s.SaveDependencies(ctx, "app", "1.0", "3.12", first[1:]); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Dependencies(ctx, "app", "1.0", "3.12"); !slices.Equal(got, first[1:]) {
		t.Fatalf("after a rerun %+v, want %+v", got, first[1:])
	}
	if got, _ := s.Dependencies(ctx, "app", "1.0", "3.11"); len(got) != 0 {
		t.Fatalf("another cell has %+v", got)
	}
}
