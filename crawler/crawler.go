// Package crawler finds new releases of allowlisted projects on a Python
// package index and fetches their sdists into the mirror.
//
// Each project's simple page (PEP 691 JSON, or PEP 503 HTML from a static
// mirror), read with conditional requests on a schedule spread over
// Options.Interval, is the truth; the per-project state in the store (last
// serial, ETag, every file the index listed) is what a page is compared
// with. The updates and newest-packages feeds are only low-latency hints:
// they say which project to look at now, never what is there. A release
// enters the queue once its sdist is in the mirror and verified against
// the index's SHA-256; nothing of it is used otherwise.
//
// What a poll can find: new releases (held without an sdist until one
// arrives, and recorded as "no sdist" once no file can be added, 14 days
// after the release), files added late, several sdists (the .tar.gz is
// taken), yanks and un-yanks (marked; results kept), removed files and
// releases (recorded; results kept), pre-releases (tested and flagged). A
// page whose serial is lower than one already seen is stale (a CDN copy):
// it is fetched again after 1, 2 and 4 s and otherwise left for the next
// round, so a stale page never reads as a removal.
package crawler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/pysmoke/pysmoke/dist"
	"github.com/pysmoke/pysmoke/store"
)

// Store is what the crawler needs of the store.
type Store interface {
	Release(ctx context.Context, project, version string) (store.Release, error)
	Releases(ctx context.Context, project string) ([]store.Release, error)
	AddRelease(ctx context.Context, r store.Release) (bool, error)
	UpdateRelease(ctx context.Context, r store.Release) error
	ProjectState(ctx context.Context, project string) (store.ProjectState, error)
	ProjectStates(ctx context.Context) ([]store.ProjectState, error)
	SaveProjectState(ctx context.Context, ps store.ProjectState, files ...store.KnownFile) error
	TouchProject(ctx context.Context, project string, checkedAt time.Time) (bool, error)
	KnownFiles(ctx context.Context, project string) ([]store.KnownFile, error)
	BadFiles(ctx context.Context, project string) ([]store.BadFile, error)
	RecordBadFile(ctx context.Context, b store.BadFile) error
}

var _ Store = (*store.Store)(nil)

// Enqueuer takes a release whose sdist is in the mirror and queues its
// builds. An error leaves the release to be handed on again later.
type Enqueuer interface {
	EnqueueRelease(ctx context.Context, r store.Release) error
}

// Options configure a Crawler; zero fields take their defaults.
type Options struct {
	// IndexURL is the index's root, e.g. "https://pypi.org/"; the simple
	// API is under IndexURL + "simple/", the feeds under "rss/", the JSON
	// API under "pypi/".
	IndexURL string
	// MirrorDir keeps downloaded files by SHA-256.
	MirrorDir string
	// Interval bounds how long a change may go unseen when the feeds miss
	// it: every project's page is checked once per 0.95 Interval, in a
	// fixed slot (from a hash of its name), so checks are spread evenly
	// and a change is found within one Interval even when a check runs a
	// little late. Default 10 minutes.
	Interval time.Duration
	// HintInterval is how often the updates feed is read (and the newest
	// packages feed, while an allowlisted project is not on the index yet);
	// default 1 minute; negative: never.
	HintInterval time.Duration
	// Backfill is how many of a project's latest releases are taken when
	// it joins the allowlist; default 3.
	Backfill int
	// Timeout bounds each attempt of a page request; default 60 s.
	// FileTimeout bounds each attempt of a download; default 10 minutes.
	Timeout, FileTimeout time.Duration
	// Retries is how often a failed request for a page or a file is
	// retried; default 4. Feeds and the JSON API, being hints, are retried
	// once: a failing feed must not hold up the schedule.
	Retries int
	// MaxRetryWait caps backoff and Retry-After; default 30 s.
	MaxRetryWait time.Duration
	// RateLimit is the most requests per second to any one host (the
	// index, its file host), with bursts of up to RateLimit; default 5;
	// negative: no limit.
	RateLimit float64
	// StaleRetryDelays are the waits before fetching a stale page again;
	// default 1, 2 and 4 s.
	StaleRetryDelays []time.Duration
	// HTMLOnly asks for PEP 503 HTML only, for indexes or proxies that
	// mishandle PEP 691 JSON.
	HTMLOnly bool
	// MaxPageBytes and MaxFileBytes cap response sizes; defaults 64 MiB
	// and 512 MiB.
	MaxPageBytes, MaxFileBytes int64
	Logger                     *slog.Logger
	// Now is the clock for what is recorded (discovery times, the 14-day
	// window); default time.Now. Waiting always uses the real clock.
	Now func() time.Time
}

// Crawler polls an index. Safe for concurrent use.
type Crawler struct {
	opts   Options
	index  *url.URL
	pages  *retryablehttp.Client // project pages: the truth, retried in full
	files  *retryablehttp.Client // downloads: the same, with a longer timeout
	hinter *retryablehttp.Client // feeds and the JSON API: hints, retried once
	limit  *hostLimiter
	store  Store
	enq    Enqueuer
	allow  func() []string
	log    *slog.Logger

	locks sync.Map // project -> *sync.Mutex: one poll of a project at a time

	mu          sync.Mutex
	feedTag     string          // ETag of the last updates feed read
	feedLinks   map[string]bool // its item links
	pkgTag      string          // ETag of the last newest-packages feed read
	missing     map[string]bool // allowlisted projects the index did not have
	hints       map[string]int  // "project version" named by the feed but not found yet -> tries left
	uploadTried map[string]bool // "project version" whose upload time was looked up

	requests, polls, notModified, stale, overflows, downloads, mismatches, errors atomic.Int64
}

// New returns a crawler of the index for the projects allow returns
// (normalised names; called before every round, so allowlist reloads take
// effect without a restart). A crawler used only as the index of
// dependency resolution (deps.go), never polling, may have a nil store,
// enqueuer and allow.
func New(opts Options, st Store, enq Enqueuer, allow func() []string) (*Crawler, error) {
	u, err := url.Parse(opts.IndexURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("crawler: index URL %q is not an http(s) URL", opts.IndexURL)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	if opts.MirrorDir == "" {
		return nil, errors.New("crawler: no mirror directory")
	}
	if opts.Interval <= 0 {
		opts.Interval = 10 * time.Minute
	}
	if opts.HintInterval == 0 {
		opts.HintInterval = time.Minute
	}
	if opts.Backfill <= 0 {
		opts.Backfill = 3
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 60 * time.Second
	}
	if opts.FileTimeout <= 0 {
		opts.FileTimeout = 10 * time.Minute
	}
	if opts.Retries <= 0 {
		opts.Retries = 4
	}
	if opts.MaxRetryWait <= 0 {
		opts.MaxRetryWait = 30 * time.Second
	}
	if opts.RateLimit == 0 {
		opts.RateLimit = 5
	}
	if opts.StaleRetryDelays == nil {
		opts.StaleRetryDelays = []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}
	}
	if opts.MaxPageBytes <= 0 {
		opts.MaxPageBytes = 64 << 20
	}
	if opts.MaxFileBytes <= 0 {
		opts.MaxFileBytes = 512 << 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	limit := newHostLimiter(opts.RateLimit, int(max(1, opts.RateLimit)))
	transport := newTransport(limit)
	return &Crawler{
		opts: opts, index: u, store: st, enq: enq, allow: allow, log: opts.Logger, limit: limit,
		pages:       newHTTPClient(transport, opts.Timeout, opts.MaxRetryWait, opts.Retries, limit, opts.Logger),
		files:       newHTTPClient(transport, opts.FileTimeout, opts.MaxRetryWait, opts.Retries, limit, opts.Logger),
		hinter:      newHTTPClient(transport, opts.Timeout, opts.MaxRetryWait, 1, limit, opts.Logger),
		feedLinks:   map[string]bool{},
		missing:     map[string]bool{},
		hints:       map[string]int{},
		uploadTried: map[string]bool{},
	}, nil
}

// Stats counts what a crawler did since it was made.
type Stats struct {
	Requests    int64 // HTTP requests made (not counting retries)
	Polls       int64 // project pages polled
	NotModified int64 // of which answered 304
	Stale       int64 // stale pages seen (each retry counts)
	Overflows   int64 // updates feeds that had moved on past everything seen before
	Downloads   int64 // file downloads started
	Mismatches  int64 // downloads whose bytes did not match the index's hash
	Errors      int64 // polls that failed
}

// Stats returns the crawler's counters.
func (c *Crawler) Stats() Stats {
	return Stats{
		Requests: c.requests.Load(), Polls: c.polls.Load(), NotModified: c.notModified.Load(), Stale: c.stale.Load(),
		Overflows: c.overflows.Load(), Downloads: c.downloads.Load(), Mismatches: c.mismatches.Load(), Errors: c.errors.Load(),
	}
}

// PollAll polls every allowlisted project once, one after another (the
// index asks for serial requests, not bursts).
func (c *Crawler) PollAll(ctx context.Context) error {
	var errs []error
	for _, name := range c.allow() {
		if err := c.PollProject(ctx, name); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (c *Crawler) lock(name string) func() {
	m, _ := c.locks.LoadOrStore(name, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// errStale is a page older than one already seen.
type errStale struct{ got, seen int64 }

func (e *errStale) Error() string {
	return fmt.Sprintf("stale page: serial %d is lower than %d already seen", e.got, e.seen)
}

// errNotOnIndex is a project the index does not have (404).
var errNotOnIndex = errors.New("not on the index")

// PollProject reads one project's simple page (conditionally) and acts on
// what changed: new releases are recorded, and each release whose sdist has
// appeared is fetched, verified and queued. After an error nothing false
// is recorded: the page is read again in full next time.
func (c *Crawler) PollProject(ctx context.Context, name string) error {
	name = dist.Normalize(name)
	defer c.lock(name)()
	c.polls.Add(1)
	st, err := c.store.ProjectState(ctx, name)
	if err != nil {
		return err
	}
	pg, resp, err := c.readPage(ctx, name, st)
	now := c.opts.Now()
	switch {
	case errors.Is(err, errNotOnIndex):
		return c.notOnIndex(ctx, st, err)
	case err != nil:
		return c.fail(ctx, st, err)
	case resp.status == http.StatusNotModified:
		c.notModified.Add(1)
		c.setMissing(name, false)
		st.CheckedAt, st.LastError = now, ""
		if !st.Pending {
			_, err := c.store.TouchProject(ctx, name, now)
			return err
		}
		// Nothing changed on the page, but a release waits on time or
		// on a retry: look at it again from the files already known.
		files, err := c.knownAsFiles(ctx, name)
		if err != nil {
			return c.fail(ctx, st, err)
		}
		res, err := c.apply(ctx, st, files, false)
		if err != nil {
			return c.fail(ctx, st, err)
		}
		st.Pending = res.pending
		return c.store.SaveProjectState(ctx, st, res.files...)
	}
	c.setMissing(name, false)
	res, err := c.apply(ctx, st, pg.files, true)
	st.CheckedAt, st.LastError, st.Pending = now, "", res.pending
	if err != nil {
		st.LastError, st.Pending = err.Error(), true
		c.errors.Add(1)
	}
	if res.recorded {
		st.ETag = resp.header.Get("ETag")
		if pg.serial > st.LastSerial {
			st.LastSerial = pg.serial
		}
		if st.SyncedAt.IsZero() {
			st.SyncedAt = now
		}
	} // else the old ETag stays: the next poll reads the page in full again
	if serr := c.store.SaveProjectState(ctx, st, res.files...); serr != nil {
		return errors.Join(err, serr)
	}
	return err
}

// readPage fetches and parses a project's page; a stale one is fetched
// again after each of StaleRetryDelays. A 304 gives a nil page.
func (c *Crawler) readPage(ctx context.Context, name string, st store.ProjectState) (*page, *response, error) {
	pageURL := c.index.JoinPath("simple", name).String() + "/" // JoinPath drops the trailing slash
	accept := acceptSimple
	if c.opts.HTMLOnly {
		accept = acceptSimpleHTML
	}
	for attempt := 0; ; attempt++ {
		resp, err := c.get(ctx, c.pages, pageURL, accept, st.ETag, c.opts.MaxPageBytes)
		if err != nil {
			return nil, nil, err
		}
		switch resp.status {
		case http.StatusOK:
		case http.StatusNotModified:
			return nil, resp, nil
		case http.StatusNotFound, http.StatusGone:
			return nil, resp, fmt.Errorf("project %s is %w", name, errNotOnIndex)
		default:
			return nil, resp, fmt.Errorf("GET %s: HTTP %d", pageURL, resp.status)
		}
		var pg page
		if strings.HasPrefix(resp.header.Get("Content-Type"), mimeSimpleJSON) {
			pg, err = parseSimpleJSON(resp.body, resp.url)
		} else {
			pg, err = parseSimpleHTML(resp.body, resp.url)
		}
		if err != nil {
			return nil, resp, fmt.Errorf("%s: %w", pageURL, err)
		}
		// The header is authoritative when present; a static mirror has
		// only the page's own record of it.
		if s, err := strconv.ParseInt(resp.header.Get("X-PyPI-Last-Serial"), 10, 64); err == nil && s > 0 {
			pg.serial = s
		}
		if pg.serial > 0 && pg.serial < st.LastSerial {
			c.stale.Add(1)
			if attempt < len(c.opts.StaleRetryDelays) {
				c.log.Debug("stale page; fetching it again", "project", name, "serial", pg.serial, "seen", st.LastSerial,
					"after", c.opts.StaleRetryDelays[attempt])
				if err := sleep(ctx, c.opts.StaleRetryDelays[attempt]); err != nil {
					return nil, nil, err
				}
				continue
			}
			// A stale copy: what it lacks is not gone. Left for the next round.
			return nil, resp, &errStale{pg.serial, st.LastSerial}
		}
		return &pg, resp, nil
	}
}

// notOnIndex handles a 404 for a project's page. For a project whose page
// was read before, a second 404 after a pause confirms that the project
// was removed from the index: its files are recorded as removed.
func (c *Crawler) notOnIndex(ctx context.Context, st store.ProjectState, err error) error {
	c.setMissing(st.Project, true)
	if st.SyncedAt.IsZero() {
		return c.fail(ctx, st, err)
	}
	if len(c.opts.StaleRetryDelays) > 0 {
		if serr := sleep(ctx, c.opts.StaleRetryDelays[0]); serr != nil {
			return serr
		}
	}
	if _, resp, rerr := c.readPage(ctx, st.Project, store.ProjectState{CrawlState: store.CrawlState{Project: st.Project}}); !errors.Is(rerr, errNotOnIndex) {
		if rerr == nil {
			rerr = fmt.Errorf("project page answered %d after a 404", resp.status)
		}
		return c.fail(ctx, st, rerr) // not confirmed: try again next round
	}
	res, aerr := c.apply(ctx, st, nil, true)
	if aerr != nil {
		return c.fail(ctx, st, errors.Join(err, aerr))
	}
	st.LastError, st.CheckedAt, st.ETag, st.Pending = err.Error(), c.opts.Now(), "", false
	c.errors.Add(1)
	if serr := c.store.SaveProjectState(ctx, st, res.files...); serr != nil {
		return errors.Join(err, serr)
	}
	return err
}

// fail records why a poll failed (keeping the ETag, so the next poll is
// not fooled into a 304 over a page it never read) and returns err.
func (c *Crawler) fail(ctx context.Context, st store.ProjectState, err error) error {
	c.errors.Add(1)
	st.LastError = err.Error()
	st.CheckedAt = c.opts.Now()
	if serr := c.store.SaveProjectState(ctx, st); serr != nil {
		return errors.Join(err, serr)
	}
	return err
}

func (c *Crawler) setMissing(name string, missing bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if missing {
		c.missing[name] = true
	} else {
		delete(c.missing, name)
	}
}

// knownAsFiles returns the files the index listed at the last poll.
func (c *Crawler) knownAsFiles(ctx context.Context, name string) ([]File, error) {
	known, err := c.store.KnownFiles(ctx, name)
	if err != nil {
		return nil, err
	}
	var files []File
	for _, k := range known {
		if !k.RemovedAt.IsZero() {
			continue
		}
		files = append(files, File{Filename: k.Filename, URL: k.URL, SHA256: k.SHA256, Size: k.Size,
			RequiresPython: k.RequiresPython, Yanked: k.Yanked, YankedReason: k.YankedReason, UploadTime: k.UploadedAt})
	}
	return files, nil
}

// sleep waits d unless ctx ends first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
