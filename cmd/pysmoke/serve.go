package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"runtime"
	"time"

	"github.com/pysmoke/pysmoke/allowlist"
	"github.com/pysmoke/pysmoke/crawler"
	"github.com/pysmoke/pysmoke/service"
)

const serveSynopsis = `Usage: pysmoke serve --allowlist FILE [flags]

Watches a Python package index for new releases of the projects in the
allowlist, runs each release on every Python of this machine in a fresh
sealed sandbox per interpreter, stores the outcomes, and serves reports:

  /                             overview (/?page=N or /page/N/ for more)
  /project/NAME/                release x Python matrix, with step logs
  /project/NAME/diff?a=..&b=..  what differs between the archives of two runs
  /python/3.13/                 every project on one Python, regressions first
  /badge/NAME.svg               badge (/badge/NAME/3.13.svg on one Python,
                                /badge/NAME/pythons.svg the Pythons it works on)
  /feed/NAME.rss, .atom         feeds of new results and status changes
  /feeds/all.atom, /feeds/python/3.13.atom   every project's changes (.rss too)
  /api/v1/project/NAME.json     everything a project page shows, as JSON
  /api/v1/project/NAME/runs/VERSION/PYTHON   every run of a cell
  /api/v1/project/NAME/diff?a=..&b=..        the diff, as JSON
  /healthz, /readyz             alive; ready (database, queue and sandbox answer)
  /metrics                      Prometheus metrics (queue, jobs, steps, index, artifacts)

Every run is kept (why it ran, where, its logs and archives). A failure is
rerun (--confirm) before the badge and the feeds count it; a cell is rerun
when the machine's toolchain, interpreter or sandbox changes, and when a
dependency it installed has a newer release.

The allowlist has one project a line, in any spelling, with options:

  requests   skip=2.7,3.6:"needs Python 3.7 syntax"  timeout=20m
  legacy-pkg test="python -m pytest -q tests"  timeout.tests=45m

(skip: Pythons not to run, with the reason shown instead; test: the test
command, "python" meaning the interpreter under test; timeout and
timeout.STEP: wall-clock limits). The file is reloaded when it changes; a
bad line is reported with its number and the rest still applies.

Embedded defaults: the store is SQLite in --data, the job queue River on the
same database, the sandbox Linux namespaces (bubblewrap; --sandbox=docker
for containers), the interpreters every pyenv version found.

Scaled out: --database postgres://... (or PYSMOKE_DATABASE) keeps the results
and the queue in Postgres, where pysmoke worker processes on other machines
take builds; --workers 0 runs none here.`

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", serveSynopsis+configHelp, stderr)
	var jf jobFlags
	jf.register(fs, runtime.NumCPU(), "how many jobs run at once; 0: none, workers on other machines sharing --database run them (pysmoke worker)")
	listen := fs.String("listen", "127.0.0.1:8080", "address to serve reports on")
	baseURL := fs.String("base-url", "", "external URL of the reports, used in feeds (default http://LISTEN/)")
	interval := fs.Duration("interval", 10*time.Minute, "how often every project's index page is checked")
	hint := fs.Duration("hint-interval", time.Minute, "how often the index's updates feed is read")
	backfill := fs.Int("backfill", 3, "how many latest releases of a newly allowlisted project are tested")
	maxConns := fs.Int("max-connections", 1024, "how many report connections are served at once (more wait); each has 10 s for a request, 60 s to take in an answer and 120 s idle between requests; a request's headers are capped at 16 KiB (431) and its body at 64 KiB (413)")
	if err := parseSettings(fs, args); err != nil {
		return err
	}
	if jf.allowPath == "" || fs.NArg() != 0 {
		fs.Usage()
		return exitError{2}
	}
	if *baseURL == "" {
		*baseURL = "http://" + *listen + "/"
	}
	opts, err := jf.options(ctx, stderr)
	if err != nil {
		return err
	}
	opts.BaseURL = *baseURL
	opts.Crawl = crawler.Options{Interval: *interval, HintInterval: *hint, Backfill: *backfill}
	opts.HTTP = service.HTTPLimits{MaxConnections: *maxConns}
	svc, err := service.New(ctx, opts)
	if err != nil {
		return err
	}
	defer svc.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	return svc.Run(ctx, ln)
}

// jobFlags are the flags of the commands that run a service's jobs (serve
// and worker).
type jobFlags struct {
	indexURL, allowPath, dataDir string
	database                     *string
	stepTimeout, stopGrace       time.Duration
	logLevel, logFormat, worker  string
	workers, confirm, keep       int
	st                           startup
}

func (j *jobFlags) register(fs *flag.FlagSet, workers int, workersHelp string) {
	fs.StringVar(&j.indexURL, "index", "https://pypi.org/", "root URL of the package index")
	fs.StringVar(&j.allowPath, "allowlist", "", "file of project names to watch, with their settings (required)")
	fs.StringVar(&j.dataDir, "data", "pysmoke-data", "folder for the database, the mirror of downloaded files and job scratch")
	j.database = databaseFlag(fs)
	fs.IntVar(&j.workers, "workers", workers, workersHelp)
	fs.DurationVar(&j.stepTimeout, "step-timeout", 10*time.Minute, "wall-clock limit of each step")
	fs.DurationVar(&j.stopGrace, "stop-grace", 10*time.Second, "how long a stop (SIGTERM, SIGINT) waits for the running builds before it cuts them short, to be run again at the next start")
	fs.StringVar(&j.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&j.logFormat, "log-format", "text", "text (key=value) or json (one object a line)")
	fs.IntVar(&j.confirm, "confirm", 3, "how many reruns must reproduce a failure or a resource limit before it is reported (one that does not makes it flaky); 0 reports at once")
	fs.IntVar(&j.keep, "keep-releases", 3, "how many of each project's latest releases keep the archives their steps built, for diffs, and their whole logs (older ones keep the last 64 KiB)")
	fs.StringVar(&j.worker, "worker", "", "this worker's name in the runs it records, unique among the workers sharing a database (default the host's name)")
	j.st.register(fs)
}

// options starts what the jobs need (the interpreters; unless no job runs
// here, the sandbox and the toolchain) and returns the service's options.
func (j *jobFlags) options(ctx context.Context, stderr io.Writer) (service.Options, error) {
	log, err := newLogger(stderr, j.logLevel, j.logFormat)
	if err != nil {
		return service.Options{}, err
	}
	if j.workers < 0 {
		return service.Options{}, fmt.Errorf("--workers %d: want 0 or more", j.workers)
	}
	allow, err := allowlist.NewWatcher(j.allowPath, log)
	if err != nil {
		return service.Options{}, err
	}
	noJobs := j.workers == 0
	j.st.pythonsOnly = noJobs
	env, err := j.st.start(ctx, stderr)
	if err != nil {
		return service.Options{}, err
	}
	return service.Options{
		IndexURL: j.indexURL, DataDir: j.dataDir, Database: *j.database, Allowlist: allow,
		Interpreters: env.pythons, Backend: env.backend, Toolchain: env.toolchain, NoJobs: noJobs,
		Workers: j.workers, StepTimeout: j.stepTimeout, StopGrace: j.stopGrace, Logger: log, Worker: j.worker, KeepReleases: j.keep,
		Confirmations: confirmations(j.confirm),
	}, nil
}

// confirmations is the service's Confirmations for --confirm N: 0 there
// means none, which the service spells negative.
func confirmations(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}
