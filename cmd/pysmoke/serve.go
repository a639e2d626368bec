package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/pysmoke/pysmoke/allowlist"
	"github.com/pysmoke/pysmoke/crawler"
	"github.com/pysmoke/pysmoke/queue"
	"github.com/pysmoke/pysmoke/report"
	"github.com/pysmoke/pysmoke/runner"
	"github.com/pysmoke/pysmoke/store"
)

const serveSynopsis = `Usage: pysmoke serve --allowlist FILE [flags]

Watches a Python package index for new releases of the projects in the
allowlist, runs each release on every Python of this machine in a fresh
sealed sandbox per interpreter, stores the outcomes, and serves reports:

  /                             overview
  /project/NAME/                release x Python matrix, with step logs
  /badge/NAME.svg               badge
  /feed/NAME.rss, .atom         feeds of new results and status changes
  /api/v1/project/NAME.json     everything a project page shows, as JSON

The allowlist has one project a line, in any spelling, with options:

  requests   skip=2.7,3.6:"needs Python 3.7 syntax"  timeout=20m
  legacy-pkg test="python -m pytest -q tests"  timeout.tests=45m

(skip: Pythons not to run, with the reason shown instead; test: the test
command, "python" meaning the interpreter under test; timeout and
timeout.STEP: wall-clock limits). The file is reloaded when it changes; a
bad line is reported with its number and the rest still applies.

Embedded defaults: the store is SQLite in --data, the job queue River on the
same database, the sandbox Linux namespaces (bubblewrap; --sandbox=docker
for containers), the interpreters every pyenv version found.`

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", serveSynopsis, stderr)
	indexURL := fs.String("index", "https://pypi.org/", "root URL of the package index")
	allowPath := fs.String("allowlist", "", "file of project names to watch (required)")
	dataDir := fs.String("data", "pysmoke-data", "folder for the database, the mirror of downloaded files and job scratch")
	listen := fs.String("listen", "127.0.0.1:8080", "address to serve reports on")
	baseURL := fs.String("base-url", "", "external URL of the reports, used in feeds (default http://LISTEN/)")
	workers := fs.Int("workers", runtime.NumCPU(), "how many jobs run at once")
	interval := fs.Duration("interval", 10*time.Minute, "how often every project's index page is checked")
	hint := fs.Duration("hint-interval", time.Minute, "how often the index's updates feed is read")
	backfill := fs.Int("backfill", 3, "how many latest releases of a newly allowlisted project are tested")
	stepTimeout := fs.Duration("step-timeout", 10*time.Minute, "wall-clock limit of each step")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	var pf pythonFlags
	pf.register(fs)
	var sf sandboxFlags
	sf.register(fs)
	var tf toolchainFlags
	tf.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *allowPath == "" || fs.NArg() != 0 {
		fs.Usage()
		return exitError{2}
	}
	log, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	if *baseURL == "" {
		*baseURL = "http://" + *listen + "/"
	}

	allow, err := allowlist.NewWatcher(*allowPath, log)
	if err != nil {
		return err
	}
	ins, err := pf.discover(ctx, stderr)
	if err != nil {
		return err
	}
	backend, err := sf.backend(ctx, stderr)
	if err != nil {
		return err
	}
	tc, err := tf.ensure(ctx, &pf, stderr)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*dataDir, 0o755); err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	st, err := store.Open(ctx, filepath.Join(*dataDir, "pysmoke.db"))
	if err != nil {
		return err
	}
	defer st.Close()
	var pys []store.Python
	for _, in := range ins {
		pys = append(pys, store.Python{Python: in.Minor, FullVersion: in.Version, Path: in.Path})
	}
	if err := st.SetPythons(ctx, pys); err != nil {
		return err
	}

	svc := &service{
		store:  st,
		mirror: filepath.Join(*dataDir, "mirror"),
		log:    log,
		interp: map[string]runner.Interpreter{},
		options: func(project string) allowlist.Options {
			o, _ := allow.List().Options(project)
			return o
		},
	}
	for _, in := range ins {
		svc.interp[in.Minor] = in
		svc.pythons = append(svc.pythons, in.Minor)
	}
	q, err := queue.OpenSQLite(ctx, st.DB(), queue.Options{Workers: *workers, Handler: svc.build, Logger: log,
		JobTimeout: time.Duration(len(runner.Steps)+1) * *stepTimeout})
	if err != nil {
		return err
	}
	svc.queue = q
	cr, err := crawler.New(crawler.Options{
		IndexURL: *indexURL, MirrorDir: svc.mirror, Interval: *interval, HintInterval: *hint,
		Backfill: *backfill, Logger: log,
	}, st, svc, func() []string { return allow.List().Names() })
	if err != nil {
		return err
	}
	// The crawler is also the runner's index for dependencies: the only
	// files it fetches outside the allowlist are the closures jobs need.
	svc.runner = runner.New(runner.Options{Backend: backend, Toolchain: tc, Index: cr,
		ScratchDir: filepath.Join(*dataDir, "scratch"), StepTimeout: *stepTimeout, Logger: log})

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{
		Handler:           report.New(st, report.Options{BaseURL: *baseURL, Logger: log}),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if err := q.Start(ctx); err != nil {
		return err
	}
	if err := svc.rerunStale(ctx); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go allow.Watch(ctx, 2*time.Second)
	// Projects never read are read at once (their backfill), the rest in
	// their slots of the schedule.
	go cr.Run(ctx)
	srvErr := make(chan error, 1)
	go func() { srvErr <- srv.Serve(ln) }()
	log.Info("pysmoke serving", "reports", *baseURL, "index", *indexURL, "projects", allow.List().Len(),
		"pythons", strings.Join(svc.pythons, ","), "sandbox", backend.Name(), "workers", *workers)

	select {
	case <-ctx.Done():
	case err = <-srvErr:
		log.Error("report server stopped", "err", err)
	}
	log.Info("shutting down")
	cancel()
	stopCtx, stopCancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer stopCancel()
	srv.Shutdown(stopCtx)
	if qerr := q.Stop(stopCtx); qerr != nil {
		log.Warn("queue stop", "err", qerr)
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// service joins the parts: it takes releases from the crawler into the
// queue, and runs each queued build and stores its outcome.
type service struct {
	store   *store.Store
	queue   *queue.Queue
	runner  *runner.Runner
	mirror  string
	log     *slog.Logger
	interp  map[string]runner.Interpreter
	pythons []string
	// options are the allowlist's settings of a project, read when its
	// build runs, so that an edit of the file applies to the next build.
	options func(project string) allowlist.Options
}

// EnqueueRelease implements crawler.Enqueuer: one build per interpreter.
func (s *service) EnqueueRelease(ctx context.Context, r store.Release) error {
	builds := make([]queue.Build, 0, len(s.pythons))
	for _, py := range s.pythons {
		builds = append(builds, queue.Build{Project: r.Project, Version: r.Version, SdistFile: r.SdistFile,
			SdistSHA256: r.SdistSHA256, Python: py})
	}
	s.log.Info("queued", "project", r.Project, "version", r.Version, "builds", len(builds))
	return s.queue.Enqueue(ctx, builds...)
}

// opts returns a project's allowlist settings (none when not listed).
func (s *service) opts(project string) allowlist.Options {
	if s.options == nil {
		return allowlist.Options{}
	}
	return s.options(project)
}

// build runs one queued build and records it. Outcomes of every kind are
// recorded; an error (ctx ended, store failure) makes the queue retry it.
func (s *service) build(ctx context.Context, b queue.Build) error {
	in, ok := s.interp[b.Python]
	started := time.Now()
	var res runner.Result
	if !ok {
		// The build was queued by a service with other interpreters.
		res = runner.Result{Status: runner.Machinery, Reason: runner.ReasonToolchainMissing, Started: started, Finished: time.Now(),
			Steps: []runner.StepResult{{Name: runner.StepUnpack, Status: runner.Machinery, Reason: runner.ReasonToolchainMissing,
				Detail: "no Python " + b.Python + " on this worker"}}}
	} else if why, skip := s.opts(b.Project).Skipped(b.Python); skip {
		d := "skipped on Python " + b.Python + " by the allowlist: " + why
		res = runner.Result{Status: runner.NotAvailable, Reason: runner.ReasonSkipped, Started: started, Finished: time.Now(),
			Backend: s.runner.Backend(), Provenance: s.runner.Provenance(in)}
		for _, name := range runner.Steps {
			res.Steps = append(res.Steps, runner.StepResult{Name: name, Status: runner.NotAvailable, Reason: runner.ReasonSkipped, Detail: d, Log: []byte(d)})
		}
	} else {
		o := s.opts(b.Project)
		job := runner.Job{Project: b.Project, Version: b.Version, Interpreter: in, TestCommand: o.Test,
			Sdist: crawler.MirrorPath(s.mirror, b.SdistSHA256, b.SdistFile), Timeouts: map[string]time.Duration{}}
		for _, step := range runner.Steps {
			if d := o.TimeoutFor(step); d > 0 {
				job.Timeouts[step] = d
			}
		}
		var err error
		res, err = s.runner.Run(ctx, job)
		if err != nil {
			return err
		}
	}
	cell := store.Cell{Project: b.Project, Version: b.Version, Python: b.Python, Interpreter: in.Path,
		FullVersion: in.Version, Backend: res.Backend, Status: res.Status, Reason: res.Reason,
		StartedAt: res.Started, FinishedAt: res.Finished}
	for _, p := range res.Dependencies {
		cell.Dependencies = append(cell.Dependencies, store.Dependency{Name: p.Project, Version: p.Version, Filename: p.Filename, SHA256: p.SHA256})
	}
	logs := map[string][]byte{}
	for _, st := range res.Steps {
		cell.Steps = append(cell.Steps, store.Step{Name: st.Name, Status: st.Status, Reason: st.Reason, Detail: st.Detail,
			ExitCode: st.ExitCode, Duration: st.Duration, LogTruncated: st.LogTruncated, Artifacts: st.Artifacts, MemoryPeak: st.MemoryPeak})
		logs[st.Name] = st.Log
	}
	if err := s.store.SaveCell(ctx, cell, logs); err != nil {
		return err
	}
	if ok {
		prov, _ := json.Marshal(res.Provenance)
		if err := s.store.SaveProvenance(ctx, b.Project, b.Version, b.Python, res.Provenance.Digest(), prov); err != nil {
			return err
		}

	}
	s.log.Info("tested", "project", b.Project, "version", b.Version, "python", b.Python,
		"status", res.Status, "reason", res.Reason, "took", res.Finished.Sub(res.Started).Round(time.Millisecond))
	return nil
}

// rerunStale queues again every cell made with another provenance than
// this service's (another interpreter build, toolchain, backend, image or
// limits): its outcome says nothing of the machine as it is now.
func (s *service) rerunStale(ctx context.Context) error {
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
			builds = append(builds, queue.Build{Project: r.Project, Version: r.Version, SdistFile: r.SdistFile,
				SdistSHA256: r.SdistSHA256, Python: py})
		}
		s.log.Info("stale cells queued again", "python", py, "cells", len(builds), "provenance", digest)
		if err := s.queue.Enqueue(ctx, builds...); err != nil {
			return err
		}
	}
	return nil
}
