package store

import (
	"context"
	"fmt"
	"time"
)

// actionsMigration keeps what people did by hand to the service's data
// (pysmoke rerun, remove, retention), with who, when and why: the record
// outlives what it touched (a removed project's actions stay).
const actionsMigration = `
	CREATE TABLE admin_actions (
		id       INTEGER PRIMARY KEY AUTOINCREMENT,
		project  TEXT NOT NULL,
		action   TEXT NOT NULL,
		detail   TEXT NOT NULL DEFAULT '',
		actor    TEXT NOT NULL,
		reason   TEXT NOT NULL,
		at       INTEGER NOT NULL
	);
	CREATE INDEX admin_actions_by_project ON admin_actions (project, id);`

// Action is one administrative action.
type Action struct {
	ID      int64
	Project string // "" for one that concerns the whole service (retention)
	// Action is what was done ("rerun", "remove", "retention"); Detail
	// says on what and with what effect ("1.0 on 3.12: 1 build queued").
	Action, Detail string
	// Actor is who did it (user@host, or what --by said), Reason why.
	Actor, Reason string
	At            time.Time
}

// RecordAction keeps an action. Reason and Actor are required: an action
// nobody can explain is not recorded (nor, by the commands, done).
func (s *Store) RecordAction(ctx context.Context, a Action) error {
	defer s.changed()
	if a.Reason == "" || a.Actor == "" || a.Action == "" {
		return fmt.Errorf("record action %q on %q: an action, who did it and why are required", a.Action, a.Project)
	}
	if a.At.IsZero() {
		a.At = time.Now()
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO admin_actions (project, action, detail, actor, reason, at) VALUES (?, ?, ?, ?, ?, ?)`,
		a.Project, a.Action, a.Detail, a.Actor, a.Reason, unix(a.At))
	if err != nil {
		return fmt.Errorf("record action %s on %s: %w", a.Action, a.Project, err)
	}
	return nil
}

// Actions returns a project's actions ("" for the service's own), newest
// first.
func (s *Store) Actions(ctx context.Context, project string) ([]Action, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, project, action, detail, actor, reason, at FROM admin_actions
		WHERE project = ? ORDER BY id DESC`, project)
	if err != nil {
		return nil, fmt.Errorf("actions of %s: %w", project, err)
	}
	defer rows.Close()
	var out []Action
	for rows.Next() {
		var a Action
		var at int64
		if err := rows.Scan(&a.ID, &a.Project, &a.Action, &a.Detail, &a.Actor, &a.Reason, &at); err != nil {
			return nil, err
		}
		a.At = fromUnix(at)
		out = append(out, a)
	}
	return out, rows.Err()
}

// Removed counts what RemoveProject deleted.
type Removed struct {
	Releases, Runs int64
}

// RemoveProject deletes everything stored of a project: its releases,
// every run of its cells with their steps, logs and dependencies, and the
// crawler's state of it (the next crawl, if it is still allowlisted,
// finds it anew). Its actions are kept. Nothing of it left is not an
// error: Removed says what went.
func (s *Store) RemoveProject(ctx context.Context, project string) (Removed, error) {
	defer s.changed()
	var r Removed
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return r, err
	}
	defer tx.Rollback()
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM releases WHERE project = ?`, project).Scan(&r.Releases); err != nil {
		return r, err
	}
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM runs WHERE project = ?`, project).Scan(&r.Runs); err != nil {
		return r, err
	}
	for _, q := range []string{
		`DELETE FROM cells WHERE project = ?`,
		`DELETE FROM run_dependencies WHERE run_id IN (SELECT id FROM runs WHERE project = ?)`,
		`DELETE FROM run_steps WHERE run_id IN (SELECT id FROM runs WHERE project = ?)`,
		`DELETE FROM runs WHERE project = ?`,
		`DELETE FROM releases WHERE project = ?`,
		`DELETE FROM crawl_files WHERE project = ?`,
		`DELETE FROM crawl_projects WHERE project = ?`,
		`DELETE FROM crawl_state WHERE project = ?`,
		`DELETE FROM bad_files WHERE project = ?`,
	} {
		if _, err := tx.ExecContext(ctx, q, project); err != nil {
			return r, fmt.Errorf("remove %s: %w", project, err)
		}
	}
	return r, tx.Commit()
}
