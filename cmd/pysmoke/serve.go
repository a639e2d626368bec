package main

import (
	"context"
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
for containers), the interpreters every pyenv version found.`

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", serveSynopsis, stderr)
	indexURL := fs.String("index", "https://pypi.org/", "root URL of the package index")
	allowPath := fs.String("allowlist", "", "file of project names to watch (required)")
	dataDir := fs.String("data", "pysmoke-data", "folder for the database, the mirror of downloaded files and job scratch")
	database := databaseFlag(fs)
	listen := fs.String("listen", "127.0.0.1:8080", "address to serve reports on")
	baseURL := fs.String("base-url", "", "external URL of the reports, used in feeds (default http://LISTEN/)")
	workers := fs.Int("workers", runtime.NumCPU(), "how many jobs run at once")
	interval := fs.Duration("interval", 10*time.Minute, "how often every project's index page is checked")
	hint := fs.Duration("hint-interval", time.Minute, "how often the index's updates feed is read")
	backfill := fs.Int("backfill", 3, "how many latest releases of a newly allowlisted project are tested")
	stepTimeout := fs.Duration("step-timeout", 10*time.Minute, "wall-clock limit of each step")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	logFormat := fs.String("log-format", "text", "text (key=value) or json (one object a line)")
	confirm := fs.Int("confirm", 3, "how many reruns must reproduce a failure or a resource limit before it is reported (one that does not makes it flaky); 0 reports at once")
	keep := fs.Int("keep-releases", 3, "how many of each project's latest releases keep the archives their steps built, for diffs")
	maxConns := fs.Int("max-connections", 1024, "how many report connections are served at once (more wait); each has 10 s for its headers, 30 s for its request, 60 s for the answer and 120 s idle")
	worker := fs.String("worker", "", "this worker's name in the runs it records, unique among the workers sharing a database (default the host's name)")
	var st startup
	st.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *allowPath == "" || fs.NArg() != 0 {
		fs.Usage()
		return exitError{2}
	}
	log, err := newLogger(stderr, *logLevel, *logFormat)
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
	env, err := st.start(ctx, stderr)
	if err != nil {
		return err
	}
	svc, err := service.New(ctx, service.Options{
		IndexURL: *indexURL, DataDir: *dataDir, Database: *database, Allowlist: allow,
		Interpreters: env.pythons, Backend: env.backend, Toolchain: env.toolchain,
		Workers: *workers, StepTimeout: *stepTimeout, BaseURL: *baseURL, Logger: log, Worker: *worker, KeepReleases: *keep, Confirmations: confirmations(*confirm),
		Crawl: crawler.Options{Interval: *interval, HintInterval: *hint, Backfill: *backfill},
		HTTP:  service.HTTPLimits{MaxConnections: *maxConns},
	})
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

// confirmations is the service's Confirmations for --confirm N: 0 there
// means none, which the service spells negative.
func confirmations(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}
