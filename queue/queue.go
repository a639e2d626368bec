// Package queue carries build jobs from the crawler to the workers. It is
// River: its tables live in the store's database, SQLite on the embedded
// default, Postgres scaled out (shared by workers on many machines).
// One job is one cell: one release on one interpreter.
package queue

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/pysmoke/pysmoke/outcome"
)

// Build is the job to run one release on one interpreter.
type Build struct {
	Project     string `json:"project" river:"unique"`
	Version     string `json:"version" river:"unique"`
	SdistFile   string `json:"sdist_file" river:"unique"`
	SdistSHA256 string `json:"sdist_sha256" river:"unique"`
	Python      string `json:"python" river:"unique"` // minor version, e.g. "3.12"
	// Cause is why the build was queued ("" reads as outcome.CauseNew); a
	// cell queued again for another cause while it waits is not added.
	Cause outcome.Cause `json:"cause,omitempty"`
	// Confirm numbers a confirmation's reruns (from 1; 0 for a build that
	// is none): the next is queued while the one before still runs.
	Confirm int `json:"confirm,omitempty" river:"unique"`
	// Attempt counts the queue's attempts at this build, from 1; set for
	// the handler, not stored with the job.
	Attempt int `json:"-"`
}

// Kind implements river.JobArgs.
func (Build) Kind() string { return "pysmoke.build" }

// InsertOpts makes a cell's job unique while it waits or runs, so that a
// release seen twice by the crawler is built once. A confirmation's rerun
// waits behind the other builds: a new release's first results come
// first.
func (b Build) InsertOpts() river.InsertOpts {
	priority := 1
	if b.Confirm > 0 {
		priority = 2
	}
	return river.InsertOpts{
		Priority:    priority,
		MaxAttempts: 3,
		UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
			rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
			rivertype.JobStateRetryable, rivertype.JobStateScheduled,
		}},
	}
}

// Handler runs one build. An error means the build must be tried again
// (the service stopped, the store failed); outcomes of any kind, the
// package's failures included, are recorded by the handler and return nil.
type Handler func(ctx context.Context, b Build) error

// Options configure a Queue.
type Options struct {
	// Workers is how many builds run at once; default 1.
	Workers int
	// JobTimeout bounds one build (all its steps); default 1 hour. River's
	// own default of one minute would cut builds short.
	JobTimeout time.Duration
	// Handler runs builds; nil makes an insert-only queue (no workers).
	Handler Handler
	// PollInterval is how often workers look for new jobs; default 200 ms.
	PollInterval time.Duration
	Logger       *slog.Logger
	// ID names this queue's worker among those sharing the database
	// (River's client ID: what a job's attempted_by records). Given, a
	// start takes back at once the builds a dead process of the same name
	// left running (Start); empty, River picks a name and such builds
	// wait for River's rescuer (JobTimeout plus an hour).
	ID string
}

// Queue is a River client.
type Queue struct {
	client   *river.Client[*sql.Tx]
	db       *sql.DB
	postgres bool
	working  bool
	id       string
	log      *slog.Logger
	worker   *worker // nil for an insert-only queue
}

type worker struct {
	river.WorkerDefaults[Build]
	handle  Handler
	timeout time.Duration

	// stopped holds the builds a stop cut short, by job id, with the time
	// each was scheduled for (Stop puts them back in their place).
	mu      sync.Mutex
	stopped map[int64]time.Time
}

// ErrElsewhere is what a Handler returns for a build this worker cannot
// run (its Python is not on this machine) and a worker on another machine
// sharing the database may: the build goes back to wait for one, its
// attempt not spent.
var ErrElsewhere = errors.New("not a build for this worker")

func (w *worker) Work(ctx context.Context, job *river.Job[Build]) error {
	b := job.Args
	b.Attempt = job.Attempt
	err := w.handle(ctx, b)
	if err != nil && ctx.Err() != nil {
		w.mu.Lock()
		w.stopped[job.ID] = job.ScheduledAt
		w.mu.Unlock()
	}
	if errors.Is(err, ErrElsewhere) {
		// A snooze gives the attempt back. The longer no worker has taken
		// it, the longer it waits out of this worker's way (up to 30 s).
		var meta struct {
			Snoozes int `json:"snoozes"`
		}
		json.Unmarshal(job.Metadata, &meta)
		return river.JobSnooze(min(time.Duration(meta.Snoozes+1)*time.Second, 30*time.Second))
	}
	return err
}

func (w *worker) Timeout(*river.Job[Build]) time.Duration { return w.timeout }

// Open migrates River's tables into db, the store's database (dialect
// "sqlite" or "postgres", as store.Store.Dialect names it), and returns a
// queue on it.
func Open(ctx context.Context, db *sql.DB, dialect string, opts Options) (*Queue, error) {
	var driver riverdriver.Driver[*sql.Tx]
	switch dialect {
	case "sqlite":
		driver = riversqlite.New(db)
	case "postgres":
		// database/sql rather than a pgx pool of its own: the store's
		// pool, so that one connection setting serves both.
		driver = riverdatabasesql.New(db)
	default:
		return nil, fmt.Errorf("queue: no driver for a %q database", dialect)
	}
	migrator, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: quiet(opts.Logger)})
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	if err := migrate(ctx, db, dialect, migrator); err != nil {
		return nil, err
	}
	if opts.Workers <= 0 {
		opts.Workers = 1
	}
	if opts.JobTimeout <= 0 {
		opts.JobTimeout = time.Hour
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 200 * time.Millisecond
	}
	cfg := &river.Config{
		Logger:            quiet(opts.Logger),
		JobTimeout:        opts.JobTimeout,
		FetchPollInterval: opts.PollInterval,
		FetchCooldown:     min(opts.PollInterval, 100*time.Millisecond),
		// SQLite has no LISTEN/NOTIFY, and River listens on Postgres
		// only through a pgx pool: it polls.
		PollOnly: true,
		ID:       opts.ID,
	}
	var w *worker
	if opts.Handler != nil {
		workers := river.NewWorkers()
		w = &worker{handle: opts.Handler, timeout: opts.JobTimeout, stopped: map[int64]time.Time{}}
		river.AddWorker(workers, w)
		cfg.Workers = workers
		cfg.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: opts.Workers}}
	}
	client, err := river.NewClient(driver, cfg)
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Queue{client: client, db: db, postgres: dialect == "postgres", working: opts.Handler != nil, id: opts.ID, log: log, worker: w}, nil
}

// Depth counts the builds in each of River's job states ("available",
// "running", "retryable", "scheduled", "completed", ...), states without
// a job left out. Completed jobs are counted until River prunes them (a
// day).
func (q *Queue) Depth(ctx context.Context) (map[string]int, error) {
	rows, err := q.db.QueryContext(ctx, `SELECT state, COUNT(*) FROM river_job GROUP BY state`)
	if err != nil {
		return nil, fmt.Errorf("queue depth: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var state string
		var n int
		if err := rows.Scan(&state, &n); err != nil {
			return nil, fmt.Errorf("queue depth: %w", err)
		}
		out[state] = n
	}
	return out, rows.Err()
}

// migrationLock is the key of the Postgres advisory lock under which
// River's tables are migrated ("pysmoke:queue").
const migrationLock int64 = 0x70797371756575

// migrate brings River's tables up to date. On Postgres, processes that
// start at once (a service and its workers) take turns: River's migrator
// does not, and the second to create a function of the same migration
// failed at start ("duplicate key value violates unique constraint
// pg_proc_proname_args_nsp_index"). On SQLite one process owns the file.
func migrate(ctx context.Context, db *sql.DB, dialect string, migrator *rivermigrate.Migrator[*sql.Tx]) error {
	if dialect == "postgres" {
		conn, err := db.Conn(ctx)
		if err != nil {
			return fmt.Errorf("queue: migrate: %w", err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, migrationLock); err != nil {
			return fmt.Errorf("queue: migrate: wait for the other processes' migration: %w", err)
		}
		// A session lock: given back before the connection returns to
		// the pool (and by the server, should this process die).
		defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLock)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("queue: migrate: %w", err)
	}
	return nil
}

// Backlog is how far the builds in hand have got: those waiting or
// running, and those finished since the oldest of them was queued (a
// backfill, a rerun of stale cells, an experiment's candidate: whatever
// filled the queue). It is read from the queue's table, so it survives
// restarts and counts every worker sharing the database.
type Backlog struct {
	// Left counts the builds waiting (available, scheduled, retryable,
	// pending) or running.
	Left int
	// Began is when the oldest build left was queued (zero when none is
	// left); Done counts the builds finished (completed, discarded,
	// cancelled) since then.
	Began time.Time
	Done  int
	// Recent counts the builds finished in the last Window (the shorter
	// of BacklogWindow and the time since Began): the pace.
	Recent int
	Window time.Duration
}

// BacklogWindow is how far back the pace of a Backlog is measured.
const BacklogWindow = 10 * time.Minute

// PerMinute is the pace of the builds in hand (0 before one finished).
func (b Backlog) PerMinute() float64 {
	if b.Window <= 0 {
		return 0
	}
	return float64(b.Recent) / b.Window.Minutes()
}

// Remaining estimates how long the builds left take at the recent pace
// (0 when there is no pace yet or nothing left).
func (b Backlog) Remaining() time.Duration {
	pace := b.PerMinute()
	if pace == 0 || b.Left == 0 {
		return 0
	}
	return time.Duration(float64(b.Left) / pace * float64(time.Minute))
}

// riverSQLiteTime is how River's SQLite driver writes times (UTC, as text:
// compared as text, so a query's bound must be written the same way).
const riverSQLiteTime = "2006-01-02 15:04:05.000"

// Backlog reads how far the builds in hand have got, at now.
func (q *Queue) Backlog(ctx context.Context, now time.Time) (Backlog, error) {
	var b Backlog
	var oldest any
	err := q.db.QueryRowContext(ctx, `SELECT COUNT(*), MIN(created_at) FROM river_job
		WHERE kind = 'pysmoke.build' AND state IN ('available', 'scheduled', 'retryable', 'pending', 'running')`).Scan(&b.Left, &oldest)
	if err != nil {
		return b, fmt.Errorf("queue backlog: %w", err)
	}
	if b.Left == 0 {
		return b, nil
	}
	switch v := oldest.(type) {
	case time.Time:
		b.Began = v
	case string:
		if b.Began, err = time.Parse("2006-01-02 15:04:05.999999999", v); err != nil {
			return b, fmt.Errorf("queue backlog: the oldest build's time %q: %w", v, err)
		}
	case []byte:
		if b.Began, err = time.Parse("2006-01-02 15:04:05.999999999", string(v)); err != nil {
			return b, fmt.Errorf("queue backlog: the oldest build's time %q: %w", v, err)
		}
	default:
		return b, fmt.Errorf("queue backlog: the oldest build's time is a %T", oldest)
	}
	b.Window = min(BacklogWindow, now.Sub(b.Began))
	query := `SELECT COUNT(*), COALESCE(SUM(CASE WHEN finalized_at >= ? THEN 1 ELSE 0 END), 0)
		FROM river_job WHERE kind = 'pysmoke.build' AND state IN ('completed', 'discarded', 'cancelled') AND finalized_at >= ?`
	began, recent := any(b.Began), any(now.Add(-b.Window))
	if q.postgres {
		query = strings.Replace(strings.Replace(query, "?", "$1", 1), "?", "$2", 1)
	} else {
		began, recent = b.Began.UTC().Format(riverSQLiteTime), now.Add(-b.Window).UTC().Format(riverSQLiteTime)
	}
	err = q.db.QueryRowContext(ctx, query, recent, began).Scan(&b.Done, &b.Recent)
	if err != nil {
		return b, fmt.Errorf("queue backlog: %w", err)
	}
	return b, nil
}

// quiet keeps River's routine chatter out of pysmoke's log.
func quiet(l *slog.Logger) *slog.Logger {
	if l == nil {
		l = slog.Default()
	}
	return slog.New(levelFilter{l.Handler(), slog.LevelWarn})
}

type levelFilter struct {
	slog.Handler
	min slog.Level
}

func (f levelFilter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= f.min && f.Handler.Enabled(ctx, l)
}

// Start starts the workers (a no-op for an insert-only queue); they run
// until Stop, whatever becomes of ctx.
func (q *Queue) Start(ctx context.Context) error {
	if !q.working {
		return nil
	}
	if q.id != "" {
		n, err := q.takeBack(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			q.log.Warn("builds left running by a dead process of this worker taken back", "worker", q.id, "builds", n)
		}
	}
	// River takes the end of Start's context for a hard stop whose
	// builds fail as errors: retried later, their attempt spent. A
	// service's context ends at its signal, before it calls Stop; only
	// Stop ends the workers, so that a build a stop cuts short is given
	// back as such.
	if err := q.client.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("queue: start: %w", err)
	}
	return nil
}

// takeBack makes the builds this worker's last attempt left running
// available again, before its workers start: no build of this name runs
// (IDs are unique among live processes), so those were cut short by a
// crash or a kill. The attempt they spent is given back: the machinery
// failed, not the build, and repeated crashes must not discard it. They
// keep the time they were scheduled for, so that they go before the
// builds queued since (River takes the earliest first): a build a crash
// interrupted is not sent to the back of a backfill's queue.
func (q *Queue) takeBack(ctx context.Context) (int64, error) {
	// attempted_by lists the workers of each attempt, the last one last:
	// a JSON array on SQLite, an array of text on Postgres.
	query := `UPDATE river_job
		SET state = 'available', attempt = MAX(attempt - 1, 0)
		WHERE state = 'running' AND json_extract(attempted_by, '$[#-1]') = ?`
	if q.postgres {
		query = `UPDATE river_job
		SET state = 'available', attempt = GREATEST(attempt - 1, 0)
		WHERE state = 'running' AND attempted_by[array_length(attempted_by, 1)] = $1`
	}
	res, err := q.db.ExecContext(ctx, query, q.id)
	if err != nil {
		return 0, fmt.Errorf("queue: take back this worker's running builds: %w", err)
	}
	return res.RowsAffected()
}

// Drop deletes the builds of project that wait (not one that runs: it
// ends as it would), and returns how many went.
func (q *Queue) Drop(ctx context.Context, project string) (int64, error) {
	query := `DELETE FROM river_job WHERE state IN ('available', 'scheduled', 'retryable', 'pending')
		AND kind = 'pysmoke.build' AND json_extract(args, '$.project') = ?`
	if q.postgres {
		query = `DELETE FROM river_job WHERE state IN ('available', 'scheduled', 'retryable', 'pending')
		AND kind = 'pysmoke.build' AND args->>'project' = $1`
	}
	res, err := q.db.ExecContext(ctx, query, project)
	if err != nil {
		return 0, fmt.Errorf("queue: drop the builds of %s: %w", project, err)
	}
	return res.RowsAffected()
}

// Stop waits for running builds to finish (until ctx ends, then cancels
// them: River makes a build cut short by its client's stop available
// again without spending its attempt, and the next start takes it up).
func (q *Queue) Stop(ctx context.Context) error {
	if !q.working {
		return nil
	}
	if err := q.client.Stop(ctx); err != nil {
		if err := q.client.StopAndCancel(context.Background()); err != nil {
			return fmt.Errorf("queue: stop: %w", err)
		}
	}
	return q.putBackStopped()
}

// putBackStopped gives the builds the stop cut short their place in the
// queue back: River makes them available as scheduled now, behind every
// build queued since, and a backfill's would wait for all of it.
func (q *Queue) putBackStopped() error {
	q.worker.mu.Lock()
	defer q.worker.mu.Unlock()
	query := `UPDATE river_job SET scheduled_at = ? WHERE id = ? AND state = 'available'`
	if q.postgres {
		query = `UPDATE river_job SET scheduled_at = $1 WHERE id = $2 AND state = 'available'`
	}
	var errs []error
	for id, at := range q.worker.stopped {
		var when any = at
		if !q.postgres {
			when = at.UTC().Format(riverSQLiteTime)
		}
		// A fresh context: the stop's may have ended, and this is quick.
		if _, err := q.db.ExecContext(context.Background(), query, when, id); err != nil {
			errs = append(errs, err)
		}
		delete(q.worker.stopped, id)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("queue: put the builds the stop cut short back in their place: %w", err)
	}
	return nil
}

// Enqueue adds builds; ones already waiting or running are not added twice.
func (q *Queue) Enqueue(ctx context.Context, builds ...Build) error {
	if len(builds) == 0 {
		return nil
	}
	params := make([]river.InsertManyParams, len(builds))
	for i, b := range builds {
		params[i] = river.InsertManyParams{Args: b}
	}
	if _, err := q.client.InsertMany(ctx, params); err != nil {
		return fmt.Errorf("queue: enqueue %d builds: %w", len(builds), err)
	}
	return nil
}
