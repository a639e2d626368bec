// Package store keeps what pysmoke knows: the releases it found, the
// outcome of every step of every cell (one release on one interpreter) with
// its log, and the crawler's per-project state. It is the only package that
// speaks SQL. The embedded default is one SQLite file (modernc.org/sqlite,
// no cgo) opened in WAL mode with a busy timeout, so that the service's
// writers (crawler, workers) and readers (reports) share it safely; scaled
// out, it is a Postgres database (pgx) shared by the service and workers
// on other machines, through the same queries (dialect.go).
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	neturl "net/url"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver

	"github.com/pysmoke/pysmoke/outcome"
)

// ErrNotFound is returned when the thing asked for is not stored.
var ErrNotFound = errors.New("not found")

// Store is a handle on the database. Safe for concurrent use.
type Store struct {
	db *conn
	// changes counts the writes that change what the reports show (not
	// the crawler's bookkeeping), for the reports' memory of rendered
	// responses: see Changes.
	changes atomic.Uint64
}

// Changes counts this process's writes that change what the reports show:
// results, releases, confirmations, the Pythons, yanks and removals. A
// response rendered when it was n is current while it is still n.
func (s *Store) Changes() uint64 { return s.changes.Load() }

func (s *Store) changed() { s.changes.Add(1) }

// Open opens the database at target and brings its schema up to date: a
// Postgres connection URL ("postgres://..." or "postgresql://...", shared
// by a service and its workers) or the path of a SQLite file (created if
// needed). A database that is not pysmoke's, or is corrupt, or whose
// schema is newer than this pysmoke knows, gives an error that says so;
// nothing is overwritten.
func Open(ctx context.Context, target string) (*Store, error) {
	if isPostgresURL(target) {
		return openPostgres(ctx, target)
	}
	dsn := "file:" + target + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", target, err)
	}
	// SQLite has one writer; a small pool keeps readers concurrent while
	// the busy timeout serialises writers instead of failing them.
	db.SetMaxOpenConns(4)
	return openDB(ctx, db, dialect{}, target)
}

func openPostgres(ctx context.Context, url string) (*Store, error) {
	shown := redactURL(url)
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", shown, err)
	}
	// Each worker process holds a few; the server's default limit is 100.
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(4)
	pingCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		db.Close()
		return nil, fmt.Errorf("database %s does not answer: %w", shown, err)
	}
	return openDB(ctx, db, dialect{postgres: true}, shown)
}

func openDB(ctx context.Context, db *sql.DB, d dialect, shown string) (*Store, error) {
	s := &Store{db: newConn(db, d)}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("database %s: %w", shown, err)
	}
	return s, nil
}

// redactURL drops the password from a connection URL shown in errors and
// logs.
func redactURL(raw string) string {
	u, err := neturl.Parse(raw)
	if err != nil {
		return "(a Postgres URL that does not parse)"
	}
	return u.Redacted()
}

// DB exposes the connection pool for the job queue, which keeps its own
// tables in the same database so that enqueueing can share a transaction
// with the store's writes.
func (s *Store) DB() *sql.DB { return s.db.db }

// Dialect names the database: SQLite or Postgres.
func (s *Store) Dialect() string { return s.db.d.name() }

// Close closes the database.
func (s *Store) Close() error { return s.db.db.Close() }

var migrations = []string{
	`CREATE TABLE releases (
		project       TEXT NOT NULL,
		version       TEXT NOT NULL,
		display_name  TEXT NOT NULL,
		sdist_file    TEXT NOT NULL DEFAULT '',
		sdist_sha256  TEXT NOT NULL DEFAULT '',
		sdist_url     TEXT NOT NULL DEFAULT '',
		uploaded_at   INTEGER NOT NULL DEFAULT 0,
		discovered_at INTEGER NOT NULL,
		prerelease    INTEGER NOT NULL DEFAULT 0,
		yanked        INTEGER NOT NULL DEFAULT 0,
		state         TEXT NOT NULL DEFAULT 'found',
		state_reason  TEXT NOT NULL DEFAULT '',
		PRIMARY KEY (project, version)
	);
	CREATE TABLE cells (
		project       TEXT NOT NULL,
		version       TEXT NOT NULL,
		python        TEXT NOT NULL,
		interpreter   TEXT NOT NULL DEFAULT '',
		full_version  TEXT NOT NULL DEFAULT '',
		backend       TEXT NOT NULL DEFAULT '',
		status        TEXT NOT NULL,
		reason        TEXT NOT NULL DEFAULT '',
		started_at    INTEGER NOT NULL DEFAULT 0,
		finished_at   INTEGER NOT NULL DEFAULT 0,
		PRIMARY KEY (project, version, python),
		FOREIGN KEY (project, version) REFERENCES releases (project, version)
	);
	CREATE TABLE steps (
		project       TEXT NOT NULL,
		version       TEXT NOT NULL,
		python        TEXT NOT NULL,
		seq           INTEGER NOT NULL,
		name          TEXT NOT NULL,
		status        TEXT NOT NULL,
		reason        TEXT NOT NULL DEFAULT '',
		detail        TEXT NOT NULL DEFAULT '',
		exit_code     INTEGER NOT NULL DEFAULT 0,
		duration_ms   INTEGER NOT NULL DEFAULT 0,
		log           BLOB,
		log_truncated INTEGER NOT NULL DEFAULT 0,
		artifacts     TEXT NOT NULL DEFAULT '[]',
		PRIMARY KEY (project, version, python, name),
		FOREIGN KEY (project, version, python) REFERENCES cells (project, version, python) ON DELETE CASCADE
	);
	CREATE TABLE pythons (
		python        TEXT PRIMARY KEY,
		full_version  TEXT NOT NULL,
		path          TEXT NOT NULL
	);
	CREATE TABLE crawl_state (
		project       TEXT PRIMARY KEY,
		etag          TEXT NOT NULL DEFAULT '',
		last_serial   INTEGER NOT NULL DEFAULT 0,
		checked_at    INTEGER NOT NULL DEFAULT 0,
		last_error    TEXT NOT NULL DEFAULT ''
	);`,
	crawlMigration,        // store/crawl.go
	provenanceMigration,   // store/provenance.go
	dependenciesMigration, // store/dependencies.go
	// A step's peak memory, in bytes (0 where the backend could not tell).
	`ALTER TABLE steps ADD COLUMN memory_peak INTEGER NOT NULL DEFAULT 0;`,
	runsMigration,               // store/runs.go
	dependencyReleasesMigration, // store/deprelease.go
	confirmationMigration,       // store/confirm.go
	// What the release claims of the Pythons it supports (outcome.Claims
	// as JSON; '' when it claims nothing).
	`ALTER TABLE runs ADD COLUMN claims TEXT NOT NULL DEFAULT '';`,
	actionsMigration, // store/actions.go
	// The latest runs first (RecentCells, the overview's recent changes).
	`CREATE INDEX runs_by_finish ON runs (finished_at, id);`,
	logsMigration, // store/logs.go
}

func (s *Store) migrate(ctx context.Context) error {
	// Each migration in a transaction of its own that holds the writers'
	// lock and reads the version afresh: two processes starting at once
	// on one Postgres apply each migration once.
	for {
		done, err := s.migrateOne(ctx)
		if err != nil || done {
			return err
		}
	}
}

func (s *Store) migrateOne(ctx context.Context) (done bool, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	v, err := s.db.d.schemaVersion(ctx, tx)
	if err != nil {
		return false, err
	}
	if v > len(migrations) {
		return false, fmt.Errorf("schema version %d is newer than this pysmoke knows (%d)", v, len(migrations))
	}
	if v == len(migrations) {
		return true, nil
	}
	if _, err := tx.tx.ExecContext(ctx, s.db.d.ddl(migrations[v])); err != nil {
		return false, fmt.Errorf("migration %d: %w", v+1, err)
	}
	if err := s.db.d.setSchemaVersion(ctx, tx, v+1); err != nil {
		return false, fmt.Errorf("migration %d: %w", v+1, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("migration %d: %w", v+1, err)
	}
	return false, nil
}

func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromUnix(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// Python is one interpreter column of the reports.
type Python struct {
	Python      string // minor version, the column key: "2.7", "3.13"
	FullVersion string // "3.13.0"
	Path        string
}

// SetPythons records the interpreters this service runs on, in order; the
// reports show one column for each.
func (s *Store) SetPythons(ctx context.Context, pys []Python) error {
	defer s.changed()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM pythons`); err != nil {
		return err
	}
	for _, p := range pys {
		if _, err := tx.ExecContext(ctx, `INSERT INTO pythons (python, full_version, path) VALUES (?, ?, ?)`,
			p.Python, p.FullVersion, p.Path); err != nil {
			return fmt.Errorf("record python %s: %w", p.Python, err)
		}
	}
	return tx.Commit()
}

// Pythons returns the interpreters recorded by SetPythons, oldest first.
func (s *Store) Pythons(ctx context.Context) ([]Python, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT python, full_version, path FROM pythons`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Python
	for rows.Next() {
		var p Python
		if err := rows.Scan(&p.Python, &p.FullVersion, &p.Path); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	sortPythons(out)
	return out, rows.Err()
}

// Release states.
const (
	StateFound   = "found"    // known, sdist not fetched yet
	StateQueued  = "queued"   // sdist in the mirror, jobs enqueued
	StateNoSdist = "no-sdist" // no sdist, and none can be added any more
	StateBad     = "bad"      // the sdist could not be used (hash mismatch, ...)
)

// Release is one version of a project.
type Release struct {
	Project      string // normalised name
	Version      string
	DisplayName  string
	SdistFile    string
	SdistSHA256  string
	SdistURL     string
	UploadedAt   time.Time
	DiscoveredAt time.Time
	Prerelease   bool
	Yanked       bool
	State        string
	StateReason  string
}

// AddRelease records a release unless it is already known; it reports
// whether it was new.
func (s *Store) AddRelease(ctx context.Context, r Release) (bool, error) {
	defer s.changed()
	if r.State == "" {
		r.State = StateFound
	}
	if r.DiscoveredAt.IsZero() {
		r.DiscoveredAt = time.Now()
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO releases
		(project, version, display_name, sdist_file, sdist_sha256, sdist_url, uploaded_at, discovered_at, prerelease, yanked, state, state_reason)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (project, version) DO NOTHING`,
		r.Project, r.Version, r.DisplayName, r.SdistFile, r.SdistSHA256, r.SdistURL, unix(r.UploadedAt), unix(r.DiscoveredAt),
		r.Prerelease, r.Yanked, r.State, r.StateReason)
	if err != nil {
		return false, fmt.Errorf("add release %s %s: %w", r.Project, r.Version, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// UpdateRelease overwrites the mutable fields of a known release (sdist,
// state, yank).
func (s *Store) UpdateRelease(ctx context.Context, r Release) error {
	defer s.changed()
	res, err := s.db.ExecContext(ctx, `UPDATE releases SET sdist_file = ?, sdist_sha256 = ?, sdist_url = ?,
		uploaded_at = ?, yanked = ?, state = ?, state_reason = ? WHERE project = ? AND version = ?`,
		r.SdistFile, r.SdistSHA256, r.SdistURL, unix(r.UploadedAt), r.Yanked, r.State, r.StateReason, r.Project, r.Version)
	if err != nil {
		return fmt.Errorf("update release %s %s: %w", r.Project, r.Version, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("update release %s %s: %w", r.Project, r.Version, ErrNotFound)
	}
	return nil
}

const releaseCols = `project, version, display_name, sdist_file, sdist_sha256, sdist_url, uploaded_at, discovered_at, prerelease, yanked, state, state_reason`

func scanRelease(sc interface{ Scan(...any) error }) (Release, error) {
	var r Release
	var up, disc int64
	err := sc.Scan(&r.Project, &r.Version, &r.DisplayName, &r.SdistFile, &r.SdistSHA256, &r.SdistURL, &up, &disc,
		&r.Prerelease, &r.Yanked, &r.State, &r.StateReason)
	r.UploadedAt, r.DiscoveredAt = fromUnix(up), fromUnix(disc)
	return r, err
}

// Release returns one release.
func (s *Store) Release(ctx context.Context, project, version string) (Release, error) {
	r, err := scanRelease(s.db.QueryRowContext(ctx, `SELECT `+releaseCols+` FROM releases WHERE project = ? AND version = ?`, project, version))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("release %s %s: %w", project, version, ErrNotFound)
	}
	return r, err
}

// Releases returns a project's releases, newest (by PEP 440) first.
func (s *Store) Releases(ctx context.Context, project string) ([]Release, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+releaseCols+` FROM releases WHERE project = ?`, project)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Release
	for rows.Next() {
		r, err := scanRelease(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	sortReleases(out)
	return out, rows.Err()
}

// Projects returns the normalised names of every project with a release,
// sorted.
func (s *Store) Projects(ctx context.Context) ([]string, error) {
	return s.strings(ctx, `SELECT DISTINCT project FROM releases ORDER BY project`)
}

// strings runs a query of one text column and returns its values.
func (s *Store) strings(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Artifact is one file a step produced, as the store keeps it: the JSON
// of the steps table's artifacts column, which the store alone reads and
// writes (the public JSON has types of its own).
type Artifact struct {
	Path         string   `json:"path"`
	Size         int64    `json:"size"`
	SHA256       string   `json:"sha256"`
	Members      []Member `json:"members,omitempty"`
	MembersError string   `json:"members_error,omitempty"`
}

// Member is one member of an archive artifact.
type Member struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	Mode   string `json:"mode"`
	SHA256 string `json:"sha256,omitempty"`
	Link   string `json:"link,omitempty"`
}

// Step is the stored outcome of one step of a cell.
type Step struct {
	Name         string
	Status       outcome.Status
	Reason       string
	Detail       string
	ExitCode     int
	Duration     time.Duration
	LogTruncated bool
	LogBytes     int64 // the length of the whole log kept
	Artifacts    []Artifact
	MemoryPeak   int64 // bytes; 0 when the backend could not tell
}

// Cell is the outcome of one release on one interpreter: one run of the
// cell, its current one where the store says so.
type Cell struct {
	// RunID identifies the run (store/runs.go); 0 before it is stored.
	RunID int64
	// Cause is why the run happened; Worker where it did.
	Cause  outcome.Cause
	Worker string
	// State is the run's (complete for a cell's current run), with
	// StateDetail saying why a run was interrupted.
	State       RunState
	StateDetail string
	// Current is set on the cell's current run when read back.
	Current bool
	// Confirmation is where the confirmation of the cell's current
	// outcome stands (store/confirm.go); set by Cells only.
	Confirmation Confirmation
	// ProvenanceDigest and Provenance (JSON) are what besides the release
	// the outcome depended on (runner.Provenance).
	ProvenanceDigest string
	Provenance       string

	Project     string
	Version     string
	Python      string // minor version, e.g. "3.12"
	Interpreter string // path of the interpreter
	FullVersion string
	Backend     string
	Status      outcome.Status
	Reason      string
	StartedAt   time.Time
	FinishedAt  time.Time
	Steps       []Step
	// Dependencies are the files installed with the release for its
	// tests, by name.
	Dependencies []Dependency
	// Claims are what the release says of the Pythons it supports.
	Claims outcome.Claims
}

// FailingStep returns the step that gave the cell its status
// (outcome.Failing), or nil for a cell that passed or has no such step.
func (c *Cell) FailingStep() *Step {
	if c == nil {
		return nil
	}
	sts := make([]outcome.Status, len(c.Steps))
	for i, st := range c.Steps {
		sts[i] = st.Status
	}
	if i := outcome.Failing(c.Status, sts); i >= 0 {
		return &c.Steps[i]
	}
	return nil
}
