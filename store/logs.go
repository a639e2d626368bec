package store

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Whole logs (issue 17). A step's log is kept whole, up to the output cap
// the sandbox ends a step at (64 MiB), compressed in the database: on
// Postgres every machine can then serve every worker's logs. Beside it
// the store keeps the log's last LogTailBytes uncompressed, which is all
// a page shows, so that no page decompresses a whole log. Retention
// (DropWholeLogs) keeps the whole logs of each project's latest releases,
// as it keeps their archives; of older ones only the tails stay.
//
// log_gzip says what the log column holds: 0 the log raw (a row from
// before whole logs: the first 1 MiB), 1 the whole log compressed, 2
// nothing (retention dropped it).
const logsMigration = `
	ALTER TABLE run_steps ADD COLUMN log_gzip INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE run_steps ADD COLUMN log_bytes INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE run_steps ADD COLUMN log_tail BLOB;
	UPDATE run_steps SET log_bytes = COALESCE(LENGTH(log), 0);`

// LogTailBytes is how much of a log's end the store keeps uncompressed.
const LogTailBytes = 64 << 10

// Log is one step's log as the store keeps it.
type Log struct {
	// Size is the length of the whole log in bytes.
	Size int64
	// Tail is its last bytes (LogTailBytes at most), starting at a line.
	Tail []byte
	// Gzip is the whole log, gzip-compressed; only when asked for.
	Gzip []byte
	// Dropped says that retention dropped the whole log: only the tail
	// is kept.
	Dropped bool
}

// Whole returns the whole log, decompressed.
func (l Log) Whole() ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(l.Gzip))
	if err != nil {
		return nil, fmt.Errorf("log: %w", err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("log: %w", err)
	}
	return b, nil
}

// packedLog is a log as FinishRun writes it.
type packedLog struct {
	gzip []byte
	size int64
	tail []byte
}

// gzipWriters are reused: a gzip.Writer's compressor state is about a
// megabyte, allocated afresh for each new one, and a run has a log per step.
var gzipWriters = sync.Pool{New: func() any { return gzip.NewWriter(nil) }}

// packLog compresses a whole log and cuts its tail. It runs before the
// transaction that records the run: compressing 64 MiB takes a while and
// must not hold the writers' lock.
func packLog(log []byte) (packedLog, error) {
	var buf bytes.Buffer
	zw := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(zw)
	zw.Reset(&buf)
	if _, err := zw.Write(log); err != nil {
		return packedLog{}, err
	}
	if err := zw.Close(); err != nil {
		return packedLog{}, err
	}
	return packedLog{gzip: buf.Bytes(), size: int64(len(log)), tail: tailOf(log, LogTailBytes)}, nil
}

func packLogs(logs map[string][]byte) (map[string]packedLog, error) {
	packed := map[string]packedLog{}
	for name, log := range logs {
		p, err := packLog(log)
		if err != nil {
			return nil, fmt.Errorf("compress the log of %s: %w", name, err)
		}
		packed[name] = p
	}
	return packed, nil
}

// tailOf returns the last n bytes of log or fewer, from the start of a
// line where one starts within them (a page should not open mid-line).
func tailOf(log []byte, n int) []byte {
	if len(log) <= n {
		return log
	}
	t := log[len(log)-n:]
	if log[len(log)-n-1] == '\n' {
		return t
	}
	if i := bytes.IndexByte(t, '\n'); i >= 0 && i < len(t)-1 {
		t = t[i+1:]
	}
	return t
}

// StepLog returns the log of one step of a cell's current run: its tail,
// and the whole compressed with whole set.
func (s *Store) StepLog(ctx context.Context, project, version, python, step string, whole bool) (Log, error) {
	l, err := s.readLog(ctx, `FROM cells c JOIN run_steps st ON st.run_id = c.run_id
		WHERE c.project = ? AND c.version = ? AND c.python = ? AND st.name = ?`, whole, project, version, python, step)
	if errors.Is(err, sql.ErrNoRows) {
		return Log{}, fmt.Errorf("log of %s %s %s %s: %w", project, version, python, step, ErrNotFound)
	}
	return l, err
}

// RunStepLog is StepLog for one step of any run.
func (s *Store) RunStepLog(ctx context.Context, id int64, step string, whole bool) (Log, error) {
	l, err := s.readLog(ctx, `FROM run_steps st WHERE st.run_id = ? AND st.name = ?`, whole, id, step)
	if errors.Is(err, sql.ErrNoRows) {
		return Log{}, fmt.Errorf("log of run %d %s: %w", id, step, ErrNotFound)
	}
	return l, err
}

func (s *Store) readLog(ctx context.Context, from string, whole bool, args ...any) (Log, error) {
	var l Log
	var gz int
	var tail, log []byte
	// A row from before whole logs holds its log raw, without a tail: read
	// it whatever was asked, and make both from it.
	logColumn := `CASE WHEN st.log_gzip = 0 THEN st.log END`
	if whole {
		logColumn = `st.log`
	}
	err := s.db.QueryRowContext(ctx, `SELECT st.log_gzip, st.log_bytes, st.log_tail, `+logColumn+` `+from, args...).Scan(&gz, &l.Size, &tail, &log)
	if err != nil {
		return Log{}, err
	}
	switch gz {
	case logDropped:
		l.Tail, l.Dropped = tail, true
		return l, nil
	case logRaw:
		p, err := packLog(log)
		if err != nil {
			return Log{}, err
		}
		l.Tail = p.tail
		if whole {
			l.Gzip = p.gzip
		}
		return l, nil
	}
	l.Tail, l.Gzip = tail, log
	return l, nil
}

// What run_steps.log_gzip says of the log column.
const (
	logRaw     = 0
	logGzip    = 1
	logDropped = 2
)

// LogUsage counts whole logs and their compressed bytes.
type LogUsage struct {
	Logs  int
	Bytes int64
}

// DropWholeLogs drops the whole logs of every run of each project's
// releases but the keep latest, keeping their tails: what retention does
// to logs. Without apply it only counts what would go.
func (s *Store) DropWholeLogs(ctx context.Context, keep int, apply bool) (LogUsage, error) {
	var freed LogUsage
	if keep <= 0 {
		return freed, fmt.Errorf("drop whole logs: keep %d releases: must be positive", keep)
	}
	projects, err := s.Projects(ctx)
	if err != nil {
		return freed, err
	}
	for _, p := range projects {
		rels, err := s.Releases(ctx, p)
		if err != nil {
			return freed, err
		}
		for _, r := range rels[min(keep, len(rels)):] {
			const which = `FROM run_steps WHERE log_gzip = 1 AND run_id IN (SELECT id FROM runs WHERE project = ? AND version = ?)`
			var u LogUsage
			if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(LENGTH(log)), 0) `+which, r.Project, r.Version).Scan(&u.Logs, &u.Bytes); err != nil {
				return freed, fmt.Errorf("drop whole logs of %s %s: %w", r.Project, r.Version, err)
			}
			if u.Logs == 0 {
				continue
			}
			if apply {
				if _, err := s.db.ExecContext(ctx, `UPDATE run_steps SET log = NULL, log_gzip = 2 WHERE log_gzip = 1
					AND run_id IN (SELECT id FROM runs WHERE project = ? AND version = ?)`, r.Project, r.Version); err != nil {
					return freed, fmt.Errorf("drop whole logs of %s %s: %w", r.Project, r.Version, err)
				}
			}
			freed.Logs += u.Logs
			freed.Bytes += u.Bytes
		}
	}
	if apply && freed.Logs > 0 {
		s.changed()
	}
	return freed, nil
}
