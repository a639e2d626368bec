package store

import (
	"context"
	"fmt"
)

// dependenciesMigration keeps, per cell, the files installed with the
// release for its tests: the resolved closure of its dependencies, one row
// per project, with the hash of the file the index served.
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

// Dependency is one resolved dependency of a cell.
type Dependency struct {
	Name     string `json:"name"` // normalised project name
	Version  string `json:"version"`
	Filename string `json:"filename"`
	SHA256   string `json:"sha256"`
}

// SaveDependencies replaces the dependencies recorded for a cell already
// saved with SaveCell (none: the cell needed none, or they could not be
// resolved).
func (s *Store) SaveDependencies(ctx context.Context, project, version, python string, deps []Dependency) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM cell_dependencies WHERE project = ? AND version = ? AND python = ?`,
		project, version, python); err != nil {
		return fmt.Errorf("save dependencies of %s %s on %s: %w", project, version, python, err)
	}
	for _, d := range deps {
		if _, err := tx.ExecContext(ctx, `INSERT INTO cell_dependencies (project, version, python, name, dep_version, filename, sha256)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, project, version, python, d.Name, d.Version, d.Filename, d.SHA256); err != nil {
			return fmt.Errorf("save dependencies of %s %s on %s: %w", project, version, python, err)
		}
	}
	return tx.Commit()
}

// Dependencies returns the dependencies recorded for a cell, by name.
func (s *Store) Dependencies(ctx context.Context, project, version, python string) ([]Dependency, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, dep_version, filename, sha256 FROM cell_dependencies
		WHERE project = ? AND version = ? AND python = ? ORDER BY name`, project, version, python)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Dependency
	for rows.Next() {
		var d Dependency
		if err := rows.Scan(&d.Name, &d.Version, &d.Filename, &d.SHA256); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}
