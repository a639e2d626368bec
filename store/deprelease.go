package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// dependencyReleasesMigration keeps, per dependency the runs installed,
// the newest release the index lists and when pysmoke first saw it: a
// cell whose current run finished before that, with another version, is
// to be run again (store.DependencyStale).
const dependencyReleasesMigration = `
	CREATE TABLE dependency_releases (
		name       TEXT PRIMARY KEY,
		newest     TEXT NOT NULL,
		seen_at    INTEGER NOT NULL,
		checked_at INTEGER NOT NULL
	);`

// DependencyNames returns the names of the dependencies the cells'
// current runs installed, sorted.
func (s *Store) DependencyNames(ctx context.Context) ([]string, error) {
	return s.strings(ctx, `SELECT DISTINCT d.name FROM cells c JOIN run_dependencies d ON d.run_id = c.run_id ORDER BY d.name`)
}

// NoteDependencyRelease records newest as the newest release of the
// dependency name the index lists, checked at now; it reports whether
// that is news (another than the one recorded, or the first).
func (s *Store) NoteDependencyRelease(ctx context.Context, name, newest string, now time.Time) (bool, error) {
	var known string
	err := s.db.QueryRowContext(ctx, `SELECT newest FROM dependency_releases WHERE name = ?`, name).Scan(&known)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return false, err
	}
	if err == nil && known == newest {
		_, err := s.db.ExecContext(ctx, `UPDATE dependency_releases SET checked_at = ? WHERE name = ?`, unix(now), name)
		return false, err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO dependency_releases (name, newest, seen_at, checked_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET newest = excluded.newest, seen_at = excluded.seen_at, checked_at = excluded.checked_at`,
		name, newest, unix(now), unix(now))
	if err != nil {
		return false, fmt.Errorf("note release %s of %s: %w", newest, name, err)
	}
	return true, nil
}

// DependencyStale is a cell whose current run installed a dependency of
// which a newer release appeared since.
type DependencyStale struct {
	Release      Release
	Python       string
	Dependency   string
	Used, Newest string
}

// DependencyStaleCells returns the cells whose current run installed
// another version of a dependency than the newest the index lists, and
// finished before pysmoke saw that one: their closure would resolve
// otherwise now. A run that finished after (it could have resolved the
// newest and did not, say for its Requires-Python) is not stale, so a
// rerun never loops.
func (s *Store) DependencyStaleCells(ctx context.Context) ([]DependencyStale, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT rel.project, rel.version, rel.sdist_file, rel.sdist_sha256, c.python,
			d.name, d.dep_version, n.newest
		FROM cells c JOIN runs r ON r.id = c.run_id
		JOIN run_dependencies d ON d.run_id = r.id
		JOIN dependency_releases n ON n.name = d.name
		JOIN releases rel ON rel.project = c.project AND rel.version = c.version
		WHERE d.dep_version != n.newest AND r.finished_at < n.seen_at
		ORDER BY rel.project, rel.version, c.python, d.name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []DependencyStale
	for rows.Next() {
		var d DependencyStale
		if err := rows.Scan(&d.Release.Project, &d.Release.Version, &d.Release.SdistFile, &d.Release.SdistSHA256, &d.Python,
			&d.Dependency, &d.Used, &d.Newest); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}
