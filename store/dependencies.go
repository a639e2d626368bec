package store

import (
	"context"
	"database/sql"
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
	Name     string // normalised project name
	Version  string
	Filename string
	SHA256   string
}

// saveDependencies replaces a cell's dependencies, in SaveCell's
// transaction: a cell and what it was tested with are recorded together.
func saveDependencies(ctx context.Context, tx *sql.Tx, c Cell) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM cell_dependencies WHERE project = ? AND version = ? AND python = ?`,
		c.Project, c.Version, c.Python); err != nil {
		return fmt.Errorf("save dependencies of %s %s on %s: %w", c.Project, c.Version, c.Python, err)
	}
	for _, d := range c.Dependencies {
		if _, err := tx.ExecContext(ctx, `INSERT INTO cell_dependencies (project, version, python, name, dep_version, filename, sha256)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, c.Project, c.Version, c.Python, d.Name, d.Version, d.Filename, d.SHA256); err != nil {
			return fmt.Errorf("save dependencies of %s %s on %s: %w", c.Project, c.Version, c.Python, err)
		}
	}
	return nil
}

// loadDependencies adds their dependencies to a release's cells.
func (s *Store) loadDependencies(ctx context.Context, project, version string, byPython map[string]*Cell) error {
	rows, err := s.db.QueryContext(ctx, `SELECT python, name, dep_version, filename, sha256 FROM cell_dependencies
		WHERE project = ? AND version = ? ORDER BY python, name`, project, version)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var py string
		var d Dependency
		if err := rows.Scan(&py, &d.Name, &d.Version, &d.Filename, &d.SHA256); err != nil {
			return err
		}
		if c := byPython[py]; c != nil {
			c.Dependencies = append(c.Dependencies, d)
		}
	}
	return rows.Err()
}
