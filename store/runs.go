package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/pysmoke/pysmoke/outcome"
)

// RunState is where a run stands.
type RunState string

const (
	// RunRunning: begun, not yet ended (or its worker died: see
	// InterruptRuns).
	RunRunning RunState = "running"
	// RunComplete: ended with an outcome; the latest complete run of a cell
	// is its current one.
	RunComplete RunState = "complete"
	// RunInterrupted: ended without an outcome (the worker stopped or died
	// while it ran). Kept, never current.
	RunInterrupted RunState = "interrupted"
)

// runsMigration makes every execution of a cell a run of its own. The
// outcome of a cell, its steps, its dependencies and its provenance were
// one row each per cell, replaced by the next execution; they become a
// run's, and cells keeps only which run is current. The results recorded
// before are carried over as complete runs of cause "migrated".
const runsMigration = `
	CREATE TABLE runs (
		id                INTEGER PRIMARY KEY AUTOINCREMENT,
		project           TEXT NOT NULL,
		version           TEXT NOT NULL,
		python            TEXT NOT NULL,
		cause             TEXT NOT NULL,
		worker            TEXT NOT NULL DEFAULT '',
		state             TEXT NOT NULL,
		state_detail      TEXT NOT NULL DEFAULT '',
		interpreter       TEXT NOT NULL DEFAULT '',
		full_version      TEXT NOT NULL DEFAULT '',
		backend           TEXT NOT NULL DEFAULT '',
		status            TEXT NOT NULL DEFAULT '',
		reason            TEXT NOT NULL DEFAULT '',
		started_at        INTEGER NOT NULL DEFAULT 0,
		finished_at       INTEGER NOT NULL DEFAULT 0,
		provenance_digest TEXT NOT NULL DEFAULT '',
		provenance        TEXT NOT NULL DEFAULT '',
		FOREIGN KEY (project, version) REFERENCES releases (project, version)
	);
	CREATE INDEX runs_by_cell ON runs (project, version, python, id);
	CREATE INDEX runs_by_state ON runs (state, worker);
	CREATE TABLE run_steps (
		run_id        INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
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
		memory_peak   INTEGER NOT NULL DEFAULT 0,
		PRIMARY KEY (run_id, name)
	);
	CREATE TABLE run_dependencies (
		run_id      INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
		name        TEXT NOT NULL,
		dep_version TEXT NOT NULL,
		filename    TEXT NOT NULL,
		sha256      TEXT NOT NULL,
		PRIMARY KEY (run_id, name)
	);
	CREATE INDEX run_dependencies_by_name ON run_dependencies (name, dep_version);

	INSERT INTO runs (project, version, python, cause, state, interpreter, full_version, backend, status, reason,
			started_at, finished_at, provenance_digest, provenance)
		SELECT c.project, c.version, c.python, 'migrated', 'complete', c.interpreter, c.full_version, c.backend,
			c.status, c.reason, c.started_at, c.finished_at, COALESCE(p.digest, ''), COALESCE(p.provenance, '')
		FROM cells c LEFT JOIN cell_provenance p
			ON p.project = c.project AND p.version = c.version AND p.python = c.python
		ORDER BY c.finished_at, c.project, c.version, c.python;
	INSERT INTO run_steps (run_id, seq, name, status, reason, detail, exit_code, duration_ms, log, log_truncated, artifacts, memory_peak)
		SELECT r.id, s.seq, s.name, s.status, s.reason, s.detail, s.exit_code, s.duration_ms, s.log, s.log_truncated,
			s.artifacts, s.memory_peak
		FROM steps s JOIN runs r ON r.project = s.project AND r.version = s.version AND r.python = s.python;
	INSERT INTO run_dependencies (run_id, name, dep_version, filename, sha256)
		SELECT r.id, d.name, d.dep_version, d.filename, d.sha256
		FROM cell_dependencies d JOIN runs r ON r.project = d.project AND r.version = d.version AND r.python = d.python;

	DROP TABLE steps;
	DROP TABLE cell_dependencies;
	DROP TABLE cell_provenance;
	DROP TABLE cells;
	CREATE TABLE cells (
		project  TEXT NOT NULL,
		version  TEXT NOT NULL,
		python   TEXT NOT NULL,
		run_id   INTEGER NOT NULL REFERENCES runs (id),
		PRIMARY KEY (project, version, python),
		FOREIGN KEY (project, version) REFERENCES releases (project, version)
	);
	INSERT INTO cells (project, version, python, run_id) SELECT project, version, python, id FROM runs;`

// RunStart is what is known of a run as it begins.
type RunStart struct {
	Project, Version, Python string
	Cause                    outcome.Cause
	// Worker names the machine (and service) that runs it: the runs a
	// worker left running when it stopped are its to mark interrupted.
	Worker    string
	StartedAt time.Time
}

// BeginRun records a run as running and returns its id, for FinishRun or
// EndRun. The release must be stored.
func (s *Store) BeginRun(ctx context.Context, r RunStart) (int64, error) {
	defer s.changed()
	if r.Cause == "" {
		return 0, errors.New("begin run: no cause")
	}
	var id int64
	err := s.db.QueryRowContext(ctx, `INSERT INTO runs (project, version, python, cause, worker, state, started_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`, r.Project, r.Version, r.Python, string(r.Cause), r.Worker, string(RunRunning), unix(r.StartedAt)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("begin run of %s %s on %s: %w", r.Project, r.Version, r.Python, err)
	}
	return id, nil
}

// FinishRun records the outcome of the running run id (c's identity
// fields must match it) with its steps' logs by step name, marks it
// complete and makes it the cell's current run, all at once.
func (s *Store) FinishRun(ctx context.Context, id int64, c Cell, logs map[string][]byte) error {
	defer s.changed()
	packed, err := packLogs(logs)
	if err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := finishRun(ctx, tx, id, c, packed); err != nil {
		return err
	}
	return tx.Commit()
}

func finishRun(ctx context.Context, tx *txn, id int64, c Cell, logs map[string]packedLog) error {
	claims := ""
	if !c.Claims.Empty() {
		b, err := json.Marshal(c.Claims)
		if err != nil {
			return err
		}
		claims = string(b)
	}
	res, err := tx.ExecContext(ctx, `UPDATE runs SET state = ?, interpreter = ?, full_version = ?, backend = ?, status = ?,
			reason = ?, started_at = ?, finished_at = ?, provenance_digest = ?, provenance = ?, claims = ?
		WHERE id = ? AND project = ? AND version = ? AND python = ? AND state = ?`,
		string(RunComplete), c.Interpreter, c.FullVersion, c.Backend, string(c.Status), c.Reason, unix(c.StartedAt),
		unix(c.FinishedAt), c.ProvenanceDigest, c.Provenance, claims, id, c.Project, c.Version, c.Python, string(RunRunning))
	if err != nil {
		return fmt.Errorf("finish run %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("finish run %d of %s %s on %s: no such running run", id, c.Project, c.Version, c.Python)
	}
	for i, st := range c.Steps {
		lg, ok := logs[st.Name]
		if !ok {
			lg, _ = packLog(nil)
		}
		arts := []byte("[]")
		if st.Artifacts != nil {
			if arts, err = json.Marshal(st.Artifacts); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO run_steps
			(run_id, seq, name, status, reason, detail, exit_code, duration_ms, log, log_gzip, log_bytes, log_tail, log_truncated, artifacts, memory_peak)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, `+strconv.Itoa(logGzip)+`, ?, ?, ?, ?, ?)`,
			id, i, st.Name, string(st.Status), st.Reason, st.Detail, st.ExitCode, st.Duration.Milliseconds(),
			lg.gzip, lg.size, lg.tail, st.LogTruncated, string(arts), st.MemoryPeak); err != nil {
			return fmt.Errorf("save step %s of run %d: %w", st.Name, id, err)
		}
	}
	for _, d := range c.Dependencies {
		if _, err := tx.ExecContext(ctx, `INSERT INTO run_dependencies (run_id, name, dep_version, filename, sha256)
			VALUES (?, ?, ?, ?, ?)`, id, d.Name, d.Version, d.Filename, d.SHA256); err != nil {
			return fmt.Errorf("save dependency %s of run %d: %w", d.Name, id, err)
		}
	}
	// The run ending now is the cell's latest complete one. A run that
	// is not a confirmation's starts the cell's confirmation afresh.
	keep := ``
	var cause string
	if err := tx.QueryRowContext(ctx, `SELECT cause FROM runs WHERE id = ?`, id).Scan(&cause); err != nil {
		return err
	}
	if outcome.Cause(cause) != outcome.CauseConfirm {
		keep = `, confirm_state = '', confirm_runs = 0, confirm_of = 0`
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO cells (project, version, python, run_id) VALUES (?, ?, ?, ?)
		ON CONFLICT (project, version, python) DO UPDATE SET run_id = excluded.run_id`+keep,
		c.Project, c.Version, c.Python, id); err != nil {
		return fmt.Errorf("make run %d current: %w", id, err)
	}
	return nil
}

// EndRun marks the running run id interrupted, with why (it stays, never
// current). A run already ended is left as it is.
func (s *Store) EndRun(ctx context.Context, id int64, why string) error {
	defer s.changed()
	_, err := s.db.ExecContext(ctx, `UPDATE runs SET state = ?, state_detail = ?, finished_at = ? WHERE id = ? AND state = ?`,
		string(RunInterrupted), why, unix(time.Now()), id, string(RunRunning))
	if err != nil {
		return fmt.Errorf("end run %d: %w", id, err)
	}
	return nil
}

// InterruptRuns marks interrupted every run that worker left running: a
// worker calls it as it starts, when none of its runs can be running. It
// returns how many it marked.
func (s *Store) InterruptRuns(ctx context.Context, worker, why string) (int, error) {
	defer s.changed()
	res, err := s.db.ExecContext(ctx, `UPDATE runs SET state = ?, state_detail = ? WHERE worker = ? AND state = ?`,
		string(RunInterrupted), why, worker, string(RunRunning))
	if err != nil {
		return 0, fmt.Errorf("interrupt runs of %s: %w", worker, err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// SaveCell records a complete run of a cell in one go (BeginRun and
// FinishRun; cause CauseNew when c has none) and makes it current.
func (s *Store) SaveCell(ctx context.Context, c Cell, logs map[string][]byte) error {
	defer s.changed()
	if c.Cause == "" {
		c.Cause = outcome.CauseNew
	}
	packed, err := packLogs(logs)
	if err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var id int64
	err = tx.QueryRowContext(ctx, `INSERT INTO runs (project, version, python, cause, worker, state, started_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`, c.Project, c.Version, c.Python, string(c.Cause), c.Worker, string(RunRunning), unix(c.StartedAt)).Scan(&id)
	if err != nil {
		return fmt.Errorf("save cell %s %s %s: %w", c.Project, c.Version, c.Python, err)
	}
	if err := finishRun(ctx, tx, id, c, packed); err != nil {
		return err
	}
	return tx.Commit()
}

// runColumns and runFrom select runs (r) with, from their cell's row
// (cur), whether each is the current run and, for the current one, where
// its confirmation stands: one query for what took three a cell.
const runColumns = `r.id, r.project, r.version, r.python, r.cause, r.worker, r.state, r.state_detail, r.interpreter,
	r.full_version, r.backend, r.status, r.reason, r.started_at, r.finished_at, r.provenance_digest, r.provenance, r.claims,
	CASE WHEN cur.run_id = r.id THEN 1 ELSE 0 END, COALESCE(cur.confirm_state, ''), COALESCE(cur.confirm_runs, 0), COALESCE(cur.confirm_of, 0)`

const runFrom = ` FROM runs r LEFT JOIN cells cur ON cur.project = r.project AND cur.version = r.version AND cur.python = r.python`

func scanRun(sc interface{ Scan(...any) error }) (Cell, error) {
	var c Cell
	var cause, state, status, confirm, claims string
	var started, finished int64
	var conf Confirmation
	err := sc.Scan(&c.RunID, &c.Project, &c.Version, &c.Python, &cause, &c.Worker, &state, &c.StateDetail, &c.Interpreter,
		&c.FullVersion, &c.Backend, &status, &c.Reason, &started, &finished, &c.ProvenanceDigest, &c.Provenance, &claims,
		&c.Current, &confirm, &conf.Runs, &conf.Of)
	if err == nil && claims != "" {
		// Written by finishRun; one that does not read is shown as none.
		_ = json.Unmarshal([]byte(claims), &c.Claims)
	}
	c.Cause, c.State, c.Status = outcome.Cause(cause), RunState(state), outcome.Status(status)
	c.StartedAt, c.FinishedAt = fromUnix(started), fromUnix(finished)
	if c.Current { // the cell's confirmation is its current run's
		conf.State = ConfirmState(confirm)
		c.Confirmation = conf
	}
	return c, err
}

// Cells returns a release's cells, each as its current run with its
// steps and dependencies (without logs) and its confirmation, in
// interpreter order.
func (s *Store) Cells(ctx context.Context, project, version string) ([]Cell, error) {
	cells, err := s.queryRuns(ctx, `SELECT `+runColumns+runFrom+` WHERE cur.run_id = r.id AND r.project = ? AND r.version = ?`,
		project, version)
	if err != nil {
		return nil, err
	}
	sortCells(cells)
	return cells, nil
}

// Runs returns every run of one cell, newest first, each with its steps
// and dependencies (without logs); Current tells the cell's current one.
func (s *Store) Runs(ctx context.Context, project, version, python string) ([]Cell, error) {
	return s.queryRuns(ctx, `SELECT `+runColumns+runFrom+` WHERE r.project = ? AND r.version = ? AND r.python = ?
		ORDER BY r.id DESC`, project, version, python)
}

// RecentCells returns the cells' current runs, the latest finished first,
// at most limit of them.
func (s *Store) RecentCells(ctx context.Context, limit int) ([]Cell, error) {
	return s.queryRuns(ctx, `SELECT `+runColumns+runFrom+` WHERE cur.run_id = r.id
		ORDER BY r.finished_at DESC, r.id DESC LIMIT ?`, limit)
}

// Run returns one run by its id.
func (s *Store) Run(ctx context.Context, id int64) (Cell, error) {
	runs, err := s.queryRuns(ctx, `SELECT `+runColumns+runFrom+` WHERE r.id = ?`, id)
	if err != nil {
		return Cell{}, err
	}
	if len(runs) == 0 {
		return Cell{}, fmt.Errorf("run %d: %w", id, ErrNotFound)
	}
	return runs[0], nil
}

// queryRuns reads the runs a query selects (runColumns) with their steps,
// dependencies and whether each is its cell's current run.
func (s *Store) queryRuns(ctx context.Context, query string, args ...any) ([]Cell, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	var runs []Cell
	for rows.Next() {
		c, err := scanRun(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		runs = append(runs, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range runs {
		if err := s.loadRun(ctx, &runs[i]); err != nil {
			return nil, err
		}
	}
	return runs, nil
}

// loadRun adds a run's steps and dependencies.
func (s *Store) loadRun(ctx context.Context, c *Cell) error {
	rows, err := s.db.QueryContext(ctx, `SELECT name, status, reason, detail, exit_code, duration_ms, log_truncated, log_bytes, artifacts, memory_peak
		FROM run_steps WHERE run_id = ? ORDER BY seq`, c.RunID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var st, arts string
		var step Step
		var ms int64
		if err := rows.Scan(&step.Name, &st, &step.Reason, &step.Detail, &step.ExitCode, &ms, &step.LogTruncated, &step.LogBytes, &arts, &step.MemoryPeak); err != nil {
			return err
		}
		step.Status, step.Duration = outcome.Status(st), time.Duration(ms)*time.Millisecond
		if err := json.Unmarshal([]byte(arts), &step.Artifacts); err != nil {
			return fmt.Errorf("artifacts of run %d %s: %w", c.RunID, step.Name, err)
		}
		c.Steps = append(c.Steps, step)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return s.loadDependencies(ctx, c)
}

// ArtifactsInUse returns the SHA-256 of every artifact that a run of the
// latest keep releases of each project recorded (all its runs: an earlier
// toolchain's too, for the diffs between runs). Retention keeps these and
// may drop the rest.
func (s *Store) ArtifactsInUse(ctx context.Context, keep int) (map[string]bool, error) {
	projects, err := s.Projects(ctx)
	if err != nil {
		return nil, err
	}
	inUse := map[string]bool{}
	for _, p := range projects {
		rels, err := s.Releases(ctx, p)
		if err != nil {
			return nil, err
		}
		for i, r := range rels {
			if i >= keep {
				break
			}
			rows, err := s.db.QueryContext(ctx, `SELECT st.artifacts FROM runs r JOIN run_steps st ON st.run_id = r.id
				WHERE r.project = ? AND r.version = ?`, r.Project, r.Version)
			if err != nil {
				return nil, err
			}
			for rows.Next() {
				var js string
				var arts []Artifact
				if err := rows.Scan(&js); err == nil {
					err = json.Unmarshal([]byte(js), &arts)
				}
				if err != nil {
					rows.Close()
					return nil, fmt.Errorf("artifacts of %s %s: %w", r.Project, r.Version, err)
				}
				for _, a := range arts {
					inUse[a.SHA256] = true
				}
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return nil, err
			}
		}
	}
	return inUse, nil
}
