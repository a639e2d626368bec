package store

import (
	"context"
	"fmt"
)

// confirmationMigration records, per cell, where the confirmation of its
// current outcome stands: a failure or a resource limit is rerun before
// anyone is told (the service decides how many times and records here).
const confirmationMigration = `
	ALTER TABLE cells ADD COLUMN confirm_state TEXT NOT NULL DEFAULT '';
	ALTER TABLE cells ADD COLUMN confirm_runs INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE cells ADD COLUMN confirm_of INTEGER NOT NULL DEFAULT 0;`

// ConfirmState is where the confirmation of a cell's outcome stands.
type ConfirmState string

const (
	// NotConfirming: nothing to confirm (a pass, an outcome no rerun
	// could change), or recorded before confirmation: the outcome
	// stands as it is.
	NotConfirming ConfirmState = ""
	// Confirming: reruns of the failing outcome are under way; it is not
	// reported as the package's yet.
	Confirming ConfirmState = "confirming"
	// Confirmed: every rerun reproduced it.
	Confirmed ConfirmState = "confirmed"
	// Flaky: a rerun did not reproduce it: spurious, shown as flaky.
	Flaky ConfirmState = "flaky"
)

// Confirmation is where a cell's confirmation stands: Runs of Of reruns
// done, each of which reproduced the outcome (but for Flaky's last).
type Confirmation struct {
	State    ConfirmState
	Runs, Of int
}

// Unsettled reports whether the outcome is not to be counted as the
// package's: reruns are still confirming it, or one did not reproduce it.
func (c Confirmation) Unsettled() bool { return c.State == Confirming || c.State == Flaky }

// SetConfirmation records a cell's confirmation. The cell must exist.
func (s *Store) SetConfirmation(ctx context.Context, project, version, python string, c Confirmation) error {
	defer s.changed()
	res, err := s.db.ExecContext(ctx, `UPDATE cells SET confirm_state = ?, confirm_runs = ?, confirm_of = ?
		WHERE project = ? AND version = ? AND python = ?`, string(c.State), c.Runs, c.Of, project, version, python)
	if err != nil {
		return fmt.Errorf("confirmation of %s %s on %s: %w", project, version, python, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("confirmation of %s %s on %s: %w", project, version, python, ErrNotFound)
	}
	return nil
}

// CellConfirmation returns where a cell's confirmation stands.
func (s *Store) CellConfirmation(ctx context.Context, project, version, python string) (Confirmation, error) {
	var c Confirmation
	var st string
	err := s.db.QueryRowContext(ctx, `SELECT confirm_state, confirm_runs, confirm_of FROM cells
		WHERE project = ? AND version = ? AND python = ?`, project, version, python).Scan(&st, &c.Runs, &c.Of)
	if err != nil {
		return c, fmt.Errorf("confirmation of %s %s on %s: %w", project, version, python, err)
	}
	c.State = ConfirmState(st)
	return c, nil
}

// ConfirmingCell is a cell whose confirmation is under way.
type ConfirmingCell struct {
	Release      Release
	Python       string
	Confirmation Confirmation
}

// ConfirmingCells returns the cells whose confirmation is under way: a
// service starting queues their next rerun again, lest a build lost with
// a stop leave them confirming for good.
func (s *Store) ConfirmingCells(ctx context.Context) ([]ConfirmingCell, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT rel.project, rel.version, rel.sdist_file, rel.sdist_sha256, c.python,
			c.confirm_runs, c.confirm_of
		FROM cells c JOIN releases rel ON rel.project = c.project AND rel.version = c.version
		WHERE c.confirm_state = ? ORDER BY rel.project, rel.version, c.python`, string(Confirming))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ConfirmingCell
	for rows.Next() {
		c := ConfirmingCell{Confirmation: Confirmation{State: Confirming}}
		if err := rows.Scan(&c.Release.Project, &c.Release.Version, &c.Release.SdistFile, &c.Release.SdistSHA256, &c.Python,
			&c.Confirmation.Runs, &c.Confirmation.Of); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
