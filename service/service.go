// Package service joins pysmoke's parts into the running service, along the
// one way data flows: the crawler reads the index and hands each new
// release on; the queue holds one build per release and interpreter; the
// runner runs each build in a fresh sandbox; the store keeps its outcome;
// the reports and feeds read the store. It also queues again the cells made
// on another machine state, or with a dependency that has a newer release
// since (reruns), and applies the allowlist's per-project settings (skips,
// test command, timeouts) to each build.
//
// The service owns its data folder: the database (store and queue), the
// mirror of downloaded files, the artifacts the steps built (kept for the
// last KeepReleases releases of each project), and the jobs' scratch.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/pysmoke/pysmoke/allowlist"
	"github.com/pysmoke/pysmoke/artifacts"
	"github.com/pysmoke/pysmoke/crawler"
	"github.com/pysmoke/pysmoke/index"
	"github.com/pysmoke/pysmoke/interpreter"
	"github.com/pysmoke/pysmoke/outcome"
	"github.com/pysmoke/pysmoke/queue"
	"github.com/pysmoke/pysmoke/report"
	"github.com/pysmoke/pysmoke/runner"
	"github.com/pysmoke/pysmoke/sandbox"
	"github.com/pysmoke/pysmoke/store"
	"github.com/pysmoke/pysmoke/toolchain"
)

// Options configure a Service. The fields marked required have no default.
type Options struct {
	// IndexURL is the root of the watched index ("https://pypi.org/").
	// Required.
	IndexURL string
	// DataDir holds the database, the mirror and the jobs' scratch; made
	// when missing. Required.
	DataDir string
	// Database is a Postgres URL ("postgres://...") to keep the results
	// and the queue in, shared with workers on other machines; "": the
	// SQLite file pysmoke.db in DataDir.
	Database string
	// Allowlist is the watched file of projects and their settings.
	// Required.
	Allowlist *allowlist.Watcher
	// Interpreters are the Pythons every release runs on. Required.
	Interpreters []interpreter.Interpreter
	// Backend makes the jobs' sandboxes. Required.
	Backend sandbox.Backend
	// Toolchain is the offline wheelhouse; nil: every step that needs it
	// is the machinery's "toolchain-missing".
	Toolchain *toolchain.Wheelhouse
	// Workers is how many jobs run at once; default runtime.NumCPU().
	Workers int
	// NoJobs makes a service that runs no job (pysmoke serve --workers
	// 0): it crawls, queues and serves the reports, and workers on other
	// machines sharing its Postgres database run the jobs. Backend may be
	// nil.
	NoJobs bool
	// JobsOnly makes a worker (pysmoke worker): it runs the jobs of a
	// service sharing its database, and neither crawls nor serves the
	// reports (Run's listener, if any, serves /healthz, /readyz and
	// /metrics).
	JobsOnly bool
	// StepTimeout is each step's wall-clock limit; default 10 minutes.
	StepTimeout time.Duration
	// Crawl configures the crawler's schedule (its Logger is Logger).
	Crawl crawler.Options
	// BaseURL is the external URL of the reports, used in feeds and JSON.
	BaseURL string
	// Logger receives the service's log; default slog.Default().
	Logger *slog.Logger
	// Confirmations is how many times a failure or a resource limit is
	// rerun, each rerun reproducing it, before it is reported (a rerun
	// that does not makes it flaky); default 3, negative: none.
	Confirmations int
	// KeepReleases is how many of each project's latest releases keep
	// their artifacts (every run's); default 3. Older releases' artifacts
	// are dropped by retention, hourly.
	KeepReleases int
	// Worker names this worker in the runs it records; default the host's
	// name. Each worker sharing a database needs its own: a worker marks
	// interrupted, as it starts, the runs recorded under its name that
	// are still running.
	Worker string
	// HTTP bounds what a client can hold of the report server.
	HTTP HTTPLimits
	// StopGrace is how long a stop waits for the running builds before
	// it cuts them short (their attempt not spent); default 10 s.
	StopGrace time.Duration
	// ProgressEvery is how often the log says how far the work in hand
	// has got, while there is any (service/progress.go); default 30 s.
	ProgressEvery time.Duration
}

// Service is the running service.
type Service struct {
	opts    Options
	log     *slog.Logger
	store   *store.Store
	arts    *artifacts.Store
	queue   *queue.Queue
	runner  *runner.Runner
	crawler *crawler.Crawler
	index   *index.Client
	reports http.Handler
	metrics *metrics
	interp  map[string]interpreter.Interpreter // by minor version
	pythons []string                           // minor versions, in order
}

// New opens the service's store in its data folder and wires the parts;
// nothing runs until Run. Close releases what New opened.
func New(ctx context.Context, opts Options) (*Service, error) {
	switch {
	case opts.IndexURL == "" || opts.DataDir == "":
		return nil, errors.New("service: an index URL and a data folder are required")
	case opts.Allowlist == nil:
		return nil, errors.New("service: an allowlist is required")
	case opts.Backend == nil && !opts.NoJobs:
		return nil, errors.New("service: a sandbox backend is required to run jobs")
	case opts.NoJobs && opts.JobsOnly:
		return nil, errors.New("service: a service that runs no job must do something else")
	case len(opts.Interpreters) == 0:
		return nil, errors.New("service: no interpreter to run on")
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.NumCPU()
	}
	if opts.StepTimeout <= 0 {
		opts.StepTimeout = 10 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Confirmations == 0 {
		opts.Confirmations = 3
	}
	if opts.KeepReleases <= 0 {
		opts.KeepReleases = 3
	}
	if opts.Worker == "" {
		host, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("service: name this worker: %w", err)
		}
		opts.Worker = host
	}
	s := &Service{opts: opts, log: opts.Logger, interp: map[string]interpreter.Interpreter{}}
	for _, in := range opts.Interpreters {
		s.interp[in.Minor] = in
		s.pythons = append(s.pythons, in.Minor)
	}
	if err := os.MkdirAll(opts.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("data folder: %w", err)
	}
	db := opts.Database
	if db == "" {
		db = filepath.Join(opts.DataDir, "pysmoke.db")
	}
	st, err := store.Open(ctx, db)
	if err != nil {
		return nil, err
	}
	s.store = st
	if err := s.wire(ctx); err != nil {
		st.Close()
		return nil, err
	}
	return s, nil
}

func (s *Service) wire(ctx context.Context) error {
	// The service says which Pythons the reports show; a worker has its
	// own, which may be fewer.
	if !s.opts.JobsOnly {
		var pys []store.Python
		for _, in := range s.opts.Interpreters {
			pys = append(pys, store.Python{Python: in.Minor, FullVersion: in.Version, Path: in.Path})
		}
		if err := s.store.SetPythons(ctx, pys); err != nil {
			return err
		}
	}
	var err error
	// The queue's worker is named as the runs name it: a start takes back
	// at once what a dead process of this worker left running.
	qopts := queue.Options{Workers: s.opts.Workers, Handler: s.build, Logger: s.log, ID: s.opts.Worker,
		// Every step, and making the job's sandbox.
		JobTimeout: time.Duration(len(outcome.Steps)+1) * s.opts.StepTimeout}
	if s.opts.NoJobs {
		qopts.Handler = nil
	}
	s.queue, err = queue.Open(ctx, s.store.DB(), s.store.Dialect(), qopts)
	if err != nil {
		return err
	}
	s.index, err = index.New(index.Options{URL: s.opts.IndexURL, MirrorDir: filepath.Join(s.opts.DataDir, "mirror"), Logger: s.log})
	if err != nil {
		return err
	}
	crawl := s.opts.Crawl
	crawl.Logger = s.log
	s.crawler, err = crawler.New(crawl, s.index, s.store, s, func() []string { return s.opts.Allowlist.List().Names() })
	if err != nil {
		return err
	}
	// The index client is also the runner's index of dependencies: the
	// only files fetched outside the allowlist are the closures jobs need.
	// The archives the steps build outlive the scratch, for the diffs.
	s.arts, err = artifacts.Open(filepath.Join(s.opts.DataDir, "artifacts"))
	if err != nil {
		return err
	}
	s.runner = runner.New(runner.Options{Backend: s.opts.Backend, Toolchain: s.opts.Toolchain, Index: s.index,
		ScratchDir: filepath.Join(s.opts.DataDir, "scratch"), StepTimeout: s.opts.StepTimeout, Logger: s.log,
		Artifacts: s.arts})
	s.reports = report.New(s.store, report.Options{BaseURL: s.opts.BaseURL, Logger: s.log, Runs: s.store, Artifacts: s.arts,
		State: s.state, Watched: func() []string { return s.opts.Allowlist.List().Names() }, Actions: s.store, Recent: s.store})
	s.metrics = newMetrics(s)
	return nil
}

// state is what the overview says of the service.
func (s *Service) state(ctx context.Context) (report.ServiceState, error) {
	depth, err := s.queue.Depth(ctx)
	if err != nil {
		return report.ServiceState{}, err
	}
	last, err := s.store.LastCrawl(ctx)
	if err != nil {
		return report.ServiceState{}, err
	}
	builds, reads, err := s.progress(ctx, time.Now())
	if err != nil {
		return report.ServiceState{}, err
	}
	return report.ServiceState{Queue: depth, LastCrawl: last, Worker: s.opts.Worker, Workers: s.workers(),
		Sandbox: s.sandboxName(), Builds: builds, Reads: reads}, nil
}

// Close releases the store.
func (s *Service) Close() error { return s.store.Close() }

// Handler serves the reports.
func (s *Service) Handler() http.Handler { return s.reports }

// Routes serves what Run serves: the reports, /healthz, /readyz and
// /metrics.
func (s *Service) Routes() http.Handler { return s.routes() }

// Run runs the service until ctx ends: the queue's workers, the reruns of
// stale cells, the allowlist's reloads, the crawler's schedule, and the
// reports on ln. It returns nil after a clean stop.
func (s *Service) Run(ctx context.Context, ln net.Listener) error {
	routes := s.routes()
	if s.opts.JobsOnly {
		routes = s.healthRoutes()
	}
	var srv *webServer
	if ln != nil {
		var mem answerer
		if rep, ok := s.reports.(answerer); ok && !s.opts.JobsOnly {
			mem = rep
		}
		srv, ln = httpServer(routes, mem, ln, s.opts.HTTP, s.log)
	}
	if !s.opts.NoJobs {
		if err := s.startJobs(ctx); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go s.opts.Allowlist.Watch(ctx, 2*time.Second)
	if !s.opts.NoJobs {
		// The archives are kept where the jobs that built them ran.
		go s.retainEvery(ctx, time.Hour)
	}
	if !s.opts.JobsOnly {
		if err := s.resumeConfirmations(ctx); err != nil {
			s.queue.Stop(context.Background())
			return err
		}
		go s.watchDependencies(ctx, s.crawlInterval())
		every := s.opts.ProgressEvery
		if every <= 0 {
			every = 30 * time.Second
		}
		go s.logProgress(ctx, every)
		// Projects never read are read at once (their backfill), the
		// rest in their slots of the schedule.
		go s.crawler.Run(ctx)
	}
	srvErr := make(chan error, 1)
	if srv != nil {
		go func() { srvErr <- srv.Serve(ln) }()
	}
	role := "service"
	switch {
	case s.opts.JobsOnly:
		role = "worker"
	case s.opts.NoJobs:
		role = "service without jobs"
	}
	s.log.Info("pysmoke serving", "as", role, "reports", s.opts.BaseURL, "index", s.opts.IndexURL, "database", s.store.Dialect(),
		"projects", s.opts.Allowlist.List().Len(), "pythons", strings.Join(s.pythons, ","), "sandbox", s.sandboxName(),
		"workers", s.workers())

	var err error
	select {
	case <-ctx.Done():
	case err = <-srvErr:
		s.log.Error("report server stopped", "err", err)
	}
	s.log.Info("shutting down")
	cancel()
	grace := s.opts.StopGrace
	if grace <= 0 {
		grace = 10 * time.Second
	}
	stopCtx, stopCancel := context.WithTimeout(context.Background(), grace)
	defer stopCancel()
	if srv != nil {
		srv.Shutdown(stopCtx)
	}
	if qerr := s.queue.Stop(stopCtx); qerr != nil {
		s.log.Warn("queue stop", "err", qerr)
	}
	if !s.opts.NoJobs {
		// No step runs now: the groups kept for the next steps go too.
		if rerr := sandbox.ReleaseCgroups(); rerr != nil {
			s.log.Warn("step groups kept for reuse could not all be removed", "err", rerr)
		}
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// startJobs cleans up after this worker's last life and starts its queue
// workers.
func (s *Service) startJobs(ctx context.Context) error {
	// No build of this worker runs yet: what its runs say is running, a
	// stop or a crash cut short. The queue tries those builds again.
	if n, err := s.store.InterruptRuns(ctx, s.opts.Worker, "the worker stopped while it ran"); err != nil {
		return err
	} else if n > 0 {
		s.log.Warn("runs left running by this worker marked interrupted", "worker", s.opts.Worker, "runs", n)
	}
	// What a killed process of this service left of its sandboxes (step
	// groups, frozen ones too, with what they hold; the jobs' scratch;
	// their containers) goes before any job starts.
	if sw, err := sandbox.Sweep(ctx, s.opts.Backend, filepath.Join(s.opts.DataDir, "scratch")); err != nil {
		s.log.Warn("what a killed service left could not all be removed", "err", err)
	} else if sw.Scratches+sw.Containers > 0 {
		s.log.Warn("what a killed service left was removed", "scratches", sw.Scratches, "containers", sw.Containers)
	}
	if err := s.queue.Start(ctx); err != nil {
		return err
	}
	// A worker of a shared database does not judge the others' cells by
	// its own machine: only a service running its own jobs reruns stale
	// ones.
	if !s.opts.JobsOnly && s.store.Dialect() == store.SQLite {
		if err := s.rerunStale(ctx); err != nil {
			s.queue.Stop(context.Background())
			return err
		}
	}
	return nil
}

func (s *Service) sandboxName() string {
	if s.opts.NoJobs {
		return "none"
	}
	return s.opts.Backend.Name()
}

func (s *Service) workers() int {
	if s.opts.NoJobs {
		return 0
	}
	return s.opts.Workers
}

// EnqueueRelease implements crawler.Enqueuer: one build per interpreter.
func (s *Service) EnqueueRelease(ctx context.Context, r store.Release) error {
	builds := buildsOf(r, s.pythons)
	s.log.Info("queued", "project", r.Project, "version", r.Version, "builds", len(builds))
	return s.queue.Enqueue(ctx, builds...)
}

// build runs one queued build as a run of its cell and records it.
// Outcomes of every kind are recorded; an error (ctx ended, store failure)
// leaves the run interrupted and makes the queue retry the build.
func (s *Service) build(ctx context.Context, b queue.Build) (err error) {
	cause := b.Cause
	switch {
	case cause == outcome.CauseConfirm:
		// A confirmation's rerun, retried or not, is one.
	case b.Attempt > 1:
		cause = outcome.CauseRetry
	case cause == "":
		cause = outcome.CauseNew
	}
	in, ok := s.interp[b.Python]
	if !ok && s.store.Dialect() == store.Postgres {
		// A worker on another machine sharing the database may have it.
		return queue.ErrElsewhere
	}
	run, err := s.store.BeginRun(ctx, store.RunStart{Project: b.Project, Version: b.Version, Python: b.Python,
		Cause: cause, Worker: s.opts.Worker, StartedAt: time.Now()})
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			// ctx may be what ended: the record of it must still be made.
			if eerr := s.store.EndRun(context.WithoutCancel(ctx), run, err.Error()); eerr != nil {
				s.log.Error("run left running", "run", run, "err", eerr)
			}
		}
	}()
	opts, _ := s.opts.Allowlist.List().Options(b.Project)
	var res runner.Result
	if !ok {
		// The build was queued by a service with other interpreters.
		res = notOnThisWorker(b.Python)
	} else if why, skip := opts.Skipped(b.Python); skip {
		res = skipped(b.Python, why, s.runner, in)
	} else {
		if err := s.fetchSdist(ctx, b); err != nil {
			return err
		}
		job := s.job(b, in, opts)
		job.RunID = run
		res, err = s.runner.Run(ctx, job)
		if err != nil {
			return err
		}
	}
	cell, logs := cellOf(b, in, res)
	if err := s.store.FinishRun(ctx, run, cell, logs); err != nil {
		return err
	}
	s.metrics.job(b.Python, res)
	if err := s.confirm(ctx, b, cause, res); err != nil {
		return err
	}
	s.log.Info("tested", "project", b.Project, "version", b.Version, "python", b.Python, "run", run, "cause", cause,
		"status", res.Status, "reason", res.Reason, "took", res.Finished.Sub(res.Started).Round(time.Millisecond))
	return nil
}

// fetchSdist puts the build's sdist into this worker's mirror when it is
// not there: a worker on another machine than the crawler's fetches it
// from the index, verified against the SHA-256 the crawler recorded (and
// the build carries). A file the index serves with other bytes fails the
// build as the machinery's error, to be retried.
func (s *Service) fetchSdist(ctx context.Context, b queue.Build) error {
	if _, err := os.Stat(s.index.Path(b.SdistSHA256, b.SdistFile)); err == nil {
		return nil
	}
	r, err := s.store.Release(ctx, b.Project, b.Version)
	if err != nil {
		return err
	}
	if r.SdistSHA256 != b.SdistSHA256 || r.SdistFile != b.SdistFile {
		return fmt.Errorf("%s %s: the build's sdist %s (%s) is not the release's %s (%s)", b.Project, b.Version,
			b.SdistFile, b.SdistSHA256, r.SdistFile, r.SdistSHA256)
	}
	if err := s.index.Download(ctx, index.File{Filename: b.SdistFile, URL: r.SdistURL, SHA256: b.SdistSHA256, Size: -1}); err != nil {
		return fmt.Errorf("fetch %s: %w", b.SdistFile, err)
	}
	s.log.Info("sdist fetched into this worker's mirror", "file", b.SdistFile, "sha256", b.SdistSHA256)
	return nil
}

// crawlInterval is how often each project's page is read: dependencies
// are read as often.
func (s *Service) crawlInterval() time.Duration {
	if s.opts.Crawl.Interval > 0 {
		return s.opts.Crawl.Interval
	}
	return 10 * time.Minute
}

// retainEvery applies retention at once and then every period until ctx
// ends.
func (s *Service) retainEvery(ctx context.Context, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		if _, err := s.Retain(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("artifact retention", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Retain drops the artifacts no run of each project's latest KeepReleases
// releases recorded, sparing those put within two jobs' time (a running
// job's, not recorded yet), and the whole logs of the older releases' runs
// (their tails stay), and logs the store's size and what it freed.
func (s *Service) Retain(ctx context.Context) (freed artifacts.Usage, err error) {
	inUse, err := s.store.ArtifactsInUse(ctx, s.opts.KeepReleases)
	if err != nil {
		return freed, err
	}
	freed, err = s.arts.Prune(func(sum string) bool { return inUse[sum] }, retentionSpares(s.opts.StepTimeout))
	if err != nil {
		return freed, err
	}
	kept, err := s.arts.Usage()
	if err != nil {
		return freed, err
	}
	logs, err := s.store.DropWholeLogs(ctx, s.opts.KeepReleases, true)
	if err != nil {
		return freed, err
	}
	s.log.Info("artifact retention", "keep_releases", s.opts.KeepReleases, "kept_files", kept.Files, "kept_bytes", kept.Bytes,
		"freed_files", freed.Files, "freed_bytes", freed.Bytes, "dropped_whole_logs", logs.Logs, "dropped_log_bytes", logs.Bytes)
	return freed, nil
}

// retentionSpares is the time after which retention spares an archive no
// run records yet: two jobs' time (every step, and making the sandbox),
// so that a running job's archives stay until it records them.
func retentionSpares(stepTimeout time.Duration) time.Time {
	return time.Now().Add(-2 * time.Duration(len(outcome.Steps)+1) * stepTimeout)
}

// job is the runner's job for a build, with the project's allowlist
// settings, read as the build runs so that an edit of the file applies to
// the next build.
func (s *Service) job(b queue.Build, in interpreter.Interpreter, o allowlist.Options) runner.Job {
	job := runner.Job{Project: b.Project, Version: b.Version, Interpreter: in, TestCommand: o.Test,
		Sdist: s.index.Path(b.SdistSHA256, b.SdistFile), Timeouts: map[string]time.Duration{}}
	for _, step := range outcome.Steps {
		if d := o.TimeoutFor(step); d > 0 {
			job.Timeouts[step] = d
		}
	}
	return job
}

// rerunStale queues again every cell made with another provenance than
// this service's (another interpreter build, toolchain, backend, image or
// limits): its outcome says nothing of the machine as it is now.
func (s *Service) rerunStale(ctx context.Context) error {
	for _, py := range s.pythons {
		digest := s.runner.Provenance(s.interp[py]).Digest()
		stale, err := s.store.StaleCells(ctx, py, digest)
		if err != nil {
			return err
		}
		if len(stale) == 0 {
			continue
		}
		var builds []queue.Build
		for _, r := range stale {
			for _, b := range buildsOf(r, []string{py}) {
				b.Cause = outcome.CauseProvenance
				builds = append(builds, b)
			}
		}
		s.log.Info("stale cells queued again", "python", py, "cells", len(builds), "provenance", digest)
		if err := s.queue.Enqueue(ctx, builds...); err != nil {
			return err
		}
	}
	return nil
}
