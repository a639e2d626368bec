package store

// The crawler's memory beyond CrawlState: whether a project's page has
// been read whole once (its backfill taken), whether any of its releases
// waits on something other than a change of the page, every file the
// index has listed for it (the "known files", with the time each was
// removed), and the files whose bytes did not match the index's hash.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// crawlMigration is the schema of this file, appended to migrations.
const crawlMigration = `CREATE TABLE crawl_projects (
		project       TEXT PRIMARY KEY,
		synced_at     INTEGER NOT NULL DEFAULT 0,
		pending       INTEGER NOT NULL DEFAULT 0
	);
	CREATE TABLE crawl_files (
		project         TEXT NOT NULL,
		filename        TEXT NOT NULL,
		version         TEXT NOT NULL,
		sha256          TEXT NOT NULL DEFAULT '',
		url             TEXT NOT NULL DEFAULT '',
		size            INTEGER NOT NULL DEFAULT -1,
		uploaded_at     INTEGER NOT NULL DEFAULT 0,
		requires_python TEXT NOT NULL DEFAULT '',
		yanked          INTEGER NOT NULL DEFAULT 0,
		yanked_reason   TEXT NOT NULL DEFAULT '',
		first_seen      INTEGER NOT NULL,
		removed_at      INTEGER NOT NULL DEFAULT 0,
		PRIMARY KEY (project, filename)
	);
	CREATE TABLE bad_files (
		sha256        TEXT NOT NULL,
		filename      TEXT NOT NULL,
		project       TEXT NOT NULL,
		got_sha256    TEXT NOT NULL,
		reason        TEXT NOT NULL,
		recorded_at   INTEGER NOT NULL,
		PRIMARY KEY (sha256, filename)
	);
	CREATE INDEX bad_files_project ON bad_files (project);`

// ProjectState is everything the crawler keeps about one project's page.
type ProjectState struct {
	CrawlState
	// SyncedAt is when the project's page was first read whole; its
	// backfill was taken then. Zero: never.
	SyncedAt time.Time
	// Pending says a release of the project waits on something other
	// than a change of its page (a download to retry, the end of its
	// upload window), so a 304 still needs a look at it.
	Pending bool
}

// KnownFile is a file the index has listed on a project's page.
type KnownFile struct {
	Project        string // normalised
	Filename       string
	Version        string // canonical
	SHA256         string // as the index gave it; "" when it gave none
	URL            string
	Size           int64 // -1 when the index did not say
	UploadedAt     time.Time
	RequiresPython string
	Yanked         bool
	YankedReason   string
	FirstSeen      time.Time
	RemovedAt      time.Time // zero while the index lists it
}

// BadFile is a file whose bytes, downloaded whole, did not match the hash
// the index gave: it is never used. Another hash under the same name (the
// index corrected or replaced it) is another file.
type BadFile struct {
	SHA256     string // what the index said
	Filename   string
	Project    string
	GotSHA256  string // what the bytes were
	Reason     string
	RecordedAt time.Time
}

// ProjectState returns a project's crawl state; the zero state (with
// Project set) when it was never crawled.
func (s *Store) ProjectState(ctx context.Context, project string) (ProjectState, error) {
	ps := ProjectState{CrawlState: CrawlState{Project: project}}
	var checked, synced int64
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE(c.etag, ''), COALESCE(c.last_serial, 0), COALESCE(c.checked_at, 0),
			COALESCE(c.last_error, ''), COALESCE(p.synced_at, 0), COALESCE(p.pending, 0)
		FROM (SELECT ? AS project) AS k
		LEFT JOIN crawl_state AS c ON c.project = k.project
		LEFT JOIN crawl_projects AS p ON p.project = k.project`, project).
		Scan(&ps.ETag, &ps.LastSerial, &checked, &ps.LastError, &synced, &ps.Pending)
	if err != nil {
		return ps, fmt.Errorf("crawl state of %s: %w", project, err)
	}
	ps.CheckedAt, ps.SyncedAt = fromUnix(checked), fromUnix(synced)
	return ps, nil
}

// ProjectStates returns the crawl state of every project ever crawled.
func (s *Store) ProjectStates(ctx context.Context) ([]ProjectState, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT c.project, c.etag, c.last_serial, c.checked_at, c.last_error,
			COALESCE(p.synced_at, 0), COALESCE(p.pending, 0)
		FROM crawl_state AS c LEFT JOIN crawl_projects AS p ON p.project = c.project ORDER BY c.project`)
	if err != nil {
		return nil, fmt.Errorf("crawl states: %w", err)
	}
	defer rows.Close()
	var out []ProjectState
	for rows.Next() {
		var ps ProjectState
		var checked, synced int64
		if err := rows.Scan(&ps.Project, &ps.ETag, &ps.LastSerial, &checked, &ps.LastError, &synced, &ps.Pending); err != nil {
			return nil, err
		}
		ps.CheckedAt, ps.SyncedAt = fromUnix(checked), fromUnix(synced)
		out = append(out, ps)
	}
	return out, rows.Err()
}

// SaveProjectState records a project's crawl state and, in the same
// transaction, the known files given (inserted or overwritten; files not
// given are left as they are).
func (s *Store) SaveProjectState(ctx context.Context, ps ProjectState, files ...KnownFile) error {
	defer s.changed()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO crawl_state (project, etag, last_serial, checked_at, last_error)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (project) DO UPDATE SET etag = excluded.etag,
		last_serial = excluded.last_serial, checked_at = excluded.checked_at, last_error = excluded.last_error`, ps.Project, ps.ETag, ps.LastSerial, unix(ps.CheckedAt), ps.LastError); err != nil {
		return fmt.Errorf("save crawl state of %s: %w", ps.Project, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO crawl_projects (project, synced_at, pending) VALUES (?, ?, ?)
		ON CONFLICT (project) DO UPDATE SET synced_at = excluded.synced_at, pending = excluded.pending`,
		ps.Project, unix(ps.SyncedAt), ps.Pending); err != nil {
		return fmt.Errorf("save crawl state of %s: %w", ps.Project, err)
	}
	if len(files) > 0 {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO crawl_files
			(project, filename, version, sha256, url, size, uploaded_at, requires_python, yanked, yanked_reason, first_seen, removed_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (project, filename) DO UPDATE SET version = excluded.version, sha256 = excluded.sha256,
			url = excluded.url, size = excluded.size, uploaded_at = excluded.uploaded_at,
			requires_python = excluded.requires_python, yanked = excluded.yanked, yanked_reason = excluded.yanked_reason,
			first_seen = excluded.first_seen, removed_at = excluded.removed_at`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, f := range files {
			if _, err := stmt.ExecContext(ctx, f.Project, f.Filename, f.Version, f.SHA256, f.URL, f.Size, unix(f.UploadedAt),
				f.RequiresPython, f.Yanked, f.YankedReason, unix(f.FirstSeen), unix(f.RemovedAt)); err != nil {
				return fmt.Errorf("save known file %s: %w", f.Filename, err)
			}
		}
	}
	return tx.Commit()
}

// TouchProject records a check of a project's page that found nothing new
// (a 304): one statement, the common case of every poll. It reports
// whether the project had a crawl state to update.
func (s *Store) TouchProject(ctx context.Context, project string, checkedAt time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE crawl_state SET checked_at = ?, last_error = '' WHERE project = ?`,
		unix(checkedAt), project)
	if err != nil {
		return false, fmt.Errorf("touch crawl state of %s: %w", project, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// KnownFiles returns every file the index has listed for a project, the
// removed ones included, by file name.
func (s *Store) KnownFiles(ctx context.Context, project string) ([]KnownFile, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT project, filename, version, sha256, url, size, uploaded_at, requires_python,
		yanked, yanked_reason, first_seen, removed_at FROM crawl_files WHERE project = ? ORDER BY filename`, project)
	if err != nil {
		return nil, fmt.Errorf("known files of %s: %w", project, err)
	}
	defer rows.Close()
	var out []KnownFile
	for rows.Next() {
		var f KnownFile
		var up, first, removed int64
		if err := rows.Scan(&f.Project, &f.Filename, &f.Version, &f.SHA256, &f.URL, &f.Size, &up, &f.RequiresPython,
			&f.Yanked, &f.YankedReason, &first, &removed); err != nil {
			return nil, err
		}
		f.UploadedAt, f.FirstSeen, f.RemovedAt = fromUnix(up), fromUnix(first), fromUnix(removed)
		out = append(out, f)
	}
	return out, rows.Err()
}

// RemovedReleases returns the versions of a project that the index no
// longer lists (every file it listed for them is removed), with the time
// the last of their files went. Results recorded for them are kept.
func (s *Store) RemovedReleases(ctx context.Context, project string) (map[string]time.Time, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT version, MAX(removed_at) FROM crawl_files WHERE project = ?
		GROUP BY version HAVING MIN(removed_at) > 0`, project)
	if err != nil {
		return nil, fmt.Errorf("removed releases of %s: %w", project, err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var v string
		var at int64
		if err := rows.Scan(&v, &at); err != nil {
			return nil, err
		}
		out[v] = fromUnix(at)
	}
	return out, rows.Err()
}

// RecordBadFile records a file whose bytes did not match its hash.
func (s *Store) RecordBadFile(ctx context.Context, b BadFile) error {
	defer s.changed()
	if b.RecordedAt.IsZero() {
		b.RecordedAt = time.Now()
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO bad_files (sha256, filename, project, got_sha256, reason, recorded_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (sha256, filename) DO UPDATE SET project = excluded.project,
		got_sha256 = excluded.got_sha256, reason = excluded.reason, recorded_at = excluded.recorded_at`, b.SHA256, b.Filename, b.Project, b.GotSHA256, b.Reason, unix(b.RecordedAt))
	if err != nil {
		return fmt.Errorf("record bad file %s: %w", b.Filename, err)
	}
	return nil
}

// BadFiles returns the files of a project recorded as bad.
func (s *Store) BadFiles(ctx context.Context, project string) ([]BadFile, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT sha256, filename, project, got_sha256, reason, recorded_at
		FROM bad_files WHERE project = ? ORDER BY filename, sha256`, project)
	if err != nil {
		return nil, fmt.Errorf("bad files of %s: %w", project, err)
	}
	defer rows.Close()
	var out []BadFile
	for rows.Next() {
		var b BadFile
		var at int64
		if err := rows.Scan(&b.SHA256, &b.Filename, &b.Project, &b.GotSHA256, &b.Reason, &at); err != nil {
			return nil, err
		}
		b.RecordedAt = fromUnix(at)
		out = append(out, b)
	}
	return out, rows.Err()
}

// BadFile reports whether the file with this name and index hash is
// recorded as bad, and how.
func (s *Store) BadFile(ctx context.Context, sha256, filename string) (BadFile, bool, error) {
	var b BadFile
	var at int64
	err := s.db.QueryRowContext(ctx, `SELECT sha256, filename, project, got_sha256, reason, recorded_at
		FROM bad_files WHERE sha256 = ? AND filename = ?`, sha256, filename).
		Scan(&b.SHA256, &b.Filename, &b.Project, &b.GotSHA256, &b.Reason, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return b, false, nil
	}
	if err != nil {
		return b, false, err
	}
	b.RecordedAt = fromUnix(at)
	return b, true, nil
}

// LastCrawl is when the index was last read for any project (zero when
// never): the overview's "last crawl".
func (s *Store) LastCrawl(ctx context.Context) (time.Time, error) {
	var ms int64
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(checked_at), 0) FROM crawl_state`).Scan(&ms); err != nil {
		return time.Time{}, fmt.Errorf("last crawl: %w", err)
	}
	return fromUnix(ms), nil
}
