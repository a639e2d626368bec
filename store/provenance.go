package store

import (
	"context"
	"database/sql"
	"fmt"
)

// provenanceMigration keeps, per cell, what besides the release its
// outcome depended on (runner.Provenance): the interpreter and a hash of
// its tree, the toolchain's wheels, the backend and image, the limits.
const provenanceMigration = `
	CREATE TABLE cell_provenance (
		project     TEXT NOT NULL,
		version     TEXT NOT NULL,
		python      TEXT NOT NULL,
		digest      TEXT NOT NULL,
		provenance  TEXT NOT NULL,
		PRIMARY KEY (project, version, python),
		FOREIGN KEY (project, version, python) REFERENCES cells (project, version, python) ON DELETE CASCADE
	);`

// SaveProvenance records the provenance (JSON, and its digest) of a cell
// already saved with SaveCell.
func (s *Store) SaveProvenance(ctx context.Context, project, version, python, digest string, provenance []byte) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO cell_provenance (project, version, python, digest, provenance)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (project, version, python) DO UPDATE SET digest = excluded.digest, provenance = excluded.provenance`,
		project, version, python, digest, string(provenance))
	if err != nil {
		return fmt.Errorf("save provenance of %s %s on %s: %w", project, version, python, err)
	}
	return nil
}

// Provenance returns a cell's recorded provenance digest and JSON ("" when
// none was recorded).
func (s *Store) Provenance(ctx context.Context, project, version, python string) (digest, provenance string, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT digest, provenance FROM cell_provenance WHERE project = ? AND version = ? AND python = ?`,
		project, version, python).Scan(&digest, &provenance)
	if err == sql.ErrNoRows {
		return "", "", nil
	}
	return digest, provenance, err
}

// StaleCells returns the releases whose cell on python was made with
// another provenance than digest (or with none recorded): those cells are
// to be run again.
func (s *Store) StaleCells(ctx context.Context, python, digest string) ([]Release, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT r.project, r.version, r.sdist_file, r.sdist_sha256
		FROM cells c JOIN releases r ON r.project = c.project AND r.version = c.version
		LEFT JOIN cell_provenance p ON p.project = c.project AND p.version = c.version AND p.python = c.python
		WHERE c.python = ? AND (p.digest IS NULL OR p.digest != ?)
		ORDER BY r.project, r.version`, python, digest)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Release
	for rows.Next() {
		var r Release
		if err := rows.Scan(&r.Project, &r.Version, &r.SdistFile, &r.SdistSHA256); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
