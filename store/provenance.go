package store

import (
	"context"
	"database/sql"
)

// provenanceMigration kept, per cell, what besides the release its
// outcome depended on; the runs' migration (store/runs.go) moves it into
// each run.
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

// Provenance returns the provenance digest and JSON of a cell's current
// run ("" when none was recorded).
func (s *Store) Provenance(ctx context.Context, project, version, python string) (digest, provenance string, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT r.provenance_digest, r.provenance FROM cells c JOIN runs r ON r.id = c.run_id
		WHERE c.project = ? AND c.version = ? AND c.python = ?`, project, version, python).Scan(&digest, &provenance)
	if err == sql.ErrNoRows {
		return "", "", nil
	}
	return digest, provenance, err
}

// StaleCells returns the releases whose current run on python was made
// with another provenance than digest (or with none recorded): those
// cells are to be run again.
func (s *Store) StaleCells(ctx context.Context, python, digest string) ([]Release, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT rel.project, rel.version, rel.sdist_file, rel.sdist_sha256
		FROM cells c JOIN runs r ON r.id = c.run_id
		JOIN releases rel ON rel.project = c.project AND rel.version = c.version
		WHERE c.python = ? AND r.provenance_digest != ?
		ORDER BY rel.project, rel.version`, python, digest)
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
