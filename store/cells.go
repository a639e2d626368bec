package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pysmoke/pysmoke/dist"
	"github.com/pysmoke/pysmoke/outcome"
)

// SaveCell records the outcome of one cell, replacing an earlier outcome of
// the same cell; logs maps a step name to its (already capped) log.
func (s *Store) SaveCell(ctx context.Context, c Cell, logs map[string][]byte) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM steps WHERE project = ? AND version = ? AND python = ?`,
		c.Project, c.Version, c.Python); err != nil {
		return fmt.Errorf("save cell: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO cells
		(project, version, python, interpreter, full_version, backend, status, reason, started_at, finished_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.Project, c.Version, c.Python, c.Interpreter, c.FullVersion, c.Backend, string(c.Status), c.Reason,
		unix(c.StartedAt), unix(c.FinishedAt)); err != nil {
		return fmt.Errorf("save cell %s %s %s: %w", c.Project, c.Version, c.Python, err)
	}
	for i, st := range c.Steps {
		arts, err := json.Marshal(st.Artifacts)
		if err != nil {
			return err
		}
		if st.Artifacts == nil {
			arts = []byte("[]")
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO steps
			(project, version, python, seq, name, status, reason, detail, exit_code, duration_ms, log, log_truncated, artifacts, memory_peak)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			c.Project, c.Version, c.Python, i, st.Name, string(st.Status), st.Reason, st.Detail, st.ExitCode,
			st.Duration.Milliseconds(), logs[st.Name], st.LogTruncated, string(arts), st.MemoryPeak); err != nil {
			return fmt.Errorf("save step %s: %w", st.Name, err)
		}
	}
	if err := saveDependencies(ctx, tx, c); err != nil {
		return err
	}
	return tx.Commit()
}

// Cells returns the stored cells of a release with their steps (without
// logs), in interpreter order.
func (s *Store) Cells(ctx context.Context, project, version string) ([]Cell, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT project, version, python, interpreter, full_version, backend, status, reason, started_at, finished_at
		FROM cells WHERE project = ? AND version = ?`, project, version)
	if err != nil {
		return nil, err
	}
	var cells []Cell
	for rows.Next() {
		var c Cell
		var st string
		var started, finished int64
		if err := rows.Scan(&c.Project, &c.Version, &c.Python, &c.Interpreter, &c.FullVersion, &c.Backend, &st, &c.Reason, &started, &finished); err != nil {
			rows.Close()
			return nil, err
		}
		c.Status, c.StartedAt, c.FinishedAt = outcome.Status(st), fromUnix(started), fromUnix(finished)
		cells = append(cells, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	byPython := map[string]*Cell{}
	for i := range cells {
		byPython[cells[i].Python] = &cells[i]
	}
	srows, err := s.db.QueryContext(ctx, `SELECT python, name, status, reason, detail, exit_code, duration_ms, log_truncated, artifacts, memory_peak
		FROM steps WHERE project = ? AND version = ? ORDER BY python, seq`, project, version)
	if err != nil {
		return nil, err
	}
	defer srows.Close()
	for srows.Next() {
		var py, st, arts string
		var step Step
		var ms int64
		if err := srows.Scan(&py, &step.Name, &st, &step.Reason, &step.Detail, &step.ExitCode, &ms, &step.LogTruncated, &arts, &step.MemoryPeak); err != nil {
			return nil, err
		}
		step.Status, step.Duration = outcome.Status(st), time.Duration(ms)*time.Millisecond
		if err := json.Unmarshal([]byte(arts), &step.Artifacts); err != nil {
			return nil, fmt.Errorf("artifacts of %s %s %s %s: %w", project, version, py, step.Name, err)
		}
		if c := byPython[py]; c != nil {
			c.Steps = append(c.Steps, step)
		}
	}
	if err := srows.Err(); err != nil {
		return nil, err
	}
	if err := s.loadDependencies(ctx, project, version, byPython); err != nil {
		return nil, err
	}
	sort.Slice(cells, func(i, j int) bool { return comparePython(cells[i].Python, cells[j].Python) < 0 })
	return cells, nil
}

// StepLog returns the stored log of one step.
func (s *Store) StepLog(ctx context.Context, project, version, python, step string) ([]byte, error) {
	var log []byte
	err := s.db.QueryRowContext(ctx, `SELECT log FROM steps WHERE project = ? AND version = ? AND python = ? AND name = ?`,
		project, version, python, step).Scan(&log)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("log of %s %s %s %s: %w", project, version, python, step, ErrNotFound)
	}
	return log, err
}

// CrawlState is the crawler's memory of one project's index page.
type CrawlState struct {
	Project    string
	ETag       string
	LastSerial int64
	CheckedAt  time.Time
	LastError  string
}

// CrawlState returns the stored state of a project; the zero state (with
// Project set) when it was never crawled.
func (s *Store) CrawlState(ctx context.Context, project string) (CrawlState, error) {
	cs := CrawlState{Project: project}
	var checked int64
	err := s.db.QueryRowContext(ctx, `SELECT etag, last_serial, checked_at, last_error FROM crawl_state WHERE project = ?`, project).
		Scan(&cs.ETag, &cs.LastSerial, &checked, &cs.LastError)
	if errors.Is(err, sql.ErrNoRows) {
		return cs, nil
	}
	cs.CheckedAt = fromUnix(checked)
	return cs, err
}

// SaveCrawlState records a project's crawl state.
func (s *Store) SaveCrawlState(ctx context.Context, cs CrawlState) error {
	_, err := s.db.ExecContext(ctx, `INSERT OR REPLACE INTO crawl_state (project, etag, last_serial, checked_at, last_error)
		VALUES (?, ?, ?, ?, ?)`, cs.Project, cs.ETag, cs.LastSerial, unix(cs.CheckedAt), cs.LastError)
	if err != nil {
		return fmt.Errorf("save crawl state of %s: %w", cs.Project, err)
	}
	return nil
}

// comparePython orders minor versions numerically ("3.9" < "3.10").
func comparePython(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		x, errx := strconv.Atoi(pa[i])
		y, erry := strconv.Atoi(pb[i])
		if errx != nil || erry != nil {
			if c := strings.Compare(pa[i], pb[i]); c != 0 {
				return c
			}
			continue
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return len(pa) - len(pb)
}

func sortPythons(ps []Python) {
	sort.Slice(ps, func(i, j int) bool { return comparePython(ps[i].Python, ps[j].Python) < 0 })
}

// sortReleases puts the newest release (by PEP 440) first.
func sortReleases(rs []Release) {
	sort.SliceStable(rs, func(i, j int) bool { return dist.CompareVersions(rs[i].Version, rs[j].Version) > 0 })
}
