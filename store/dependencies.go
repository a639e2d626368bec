package store

import (
	"context"
)

// dependenciesMigration kept, per cell, the files installed with the
// release for its tests; the runs' migration (store/runs.go) moves them
// into each run (run_dependencies).
const dependenciesMigration = `
	CREATE TABLE cell_dependencies (
		project     TEXT NOT NULL,
		version     TEXT NOT NULL,
		python      TEXT NOT NULL,
		name        TEXT NOT NULL,
		dep_version TEXT NOT NULL,
		filename    TEXT NOT NULL,
		sha256      TEXT NOT NULL,
		PRIMARY KEY (project, version, python, name),
		FOREIGN KEY (project, version, python) REFERENCES cells (project, version, python) ON DELETE CASCADE
	);`

// Dependency is one resolved dependency of a run: the resolved closure of
// what was installed with the release, one row per project, with the hash
// of the file the index served.
type Dependency struct {
	Name     string // normalised project name
	Version  string
	Filename string
	SHA256   string
}

// loadDependencies adds its dependencies to a run.
func (s *Store) loadDependencies(ctx context.Context, c *Cell) error {
	rows, err := s.db.QueryContext(ctx, `SELECT name, dep_version, filename, sha256 FROM run_dependencies
		WHERE run_id = ? ORDER BY name`, c.RunID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var d Dependency
		if err := rows.Scan(&d.Name, &d.Version, &d.Filename, &d.SHA256); err != nil {
			return err
		}
		c.Dependencies = append(c.Dependencies, d)
	}
	return rows.Err()
}
