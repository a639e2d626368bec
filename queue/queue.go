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
}

type worker struct {
	river.WorkerDefaults[Build]
	handle  Handler
	timeout time.Duration
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
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return nil, fmt.Errorf("queue: migrate: %w", err)
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
	if opts.Handler != nil {
		workers := river.NewWorkers()
		river.AddWorker(workers, &worker{handle: opts.Handler, timeout: opts.JobTimeout})
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
	return &Queue{client: client, db: db, postgres: dialect == "postgres", working: opts.Handler != nil, id: opts.ID, log: log}, nil
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

// Start starts the workers (a no-op for an insert-only queue).
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
	if err := q.client.Start(ctx); err != nil {
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
