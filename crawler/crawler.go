// Package crawler finds new releases of allowlisted projects on a Python
// package index and fetches their sdists into the mirror, through the
// index client (package index) it is given.
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
	"sync"
	"sync/atomic"
	"time"

	"github.com/pysmoke/pysmoke/dist"
	"github.com/pysmoke/pysmoke/index"
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

// Options configure a Crawler; zero fields take their defaults. How the
// index is asked (retries, rate limit, size caps, HTML only) is the index
// client's own configuration.
type Options struct {
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
	// StaleRetryDelays are the waits before fetching a stale page again;
	// default 1, 2 and 4 s.
	StaleRetryDelays []time.Duration
	Logger           *slog.Logger
	// Now is the clock for what is recorded (discovery times, the 14-day
	// window); default time.Now. Waiting always uses the real clock.
	Now func() time.Time
}

// Crawler polls an index. Safe for concurrent use.
type Crawler struct {
	opts  Options
	index *index.Client
	store Store
	enq   Enqueuer
	allow func() []string
	log   *slog.Logger

	locks sync.Map // project -> *sync.Mutex: one poll of a project at a time

	mu          sync.Mutex
	feedTag     string          // ETag of the last updates feed read
	feedLinks   map[string]bool // its item links
	pkgTag      string          // ETag of the last newest-packages feed read
	missing     map[string]bool // allowlisted projects the index did not have
	hints       map[string]int  // "project version" named by the feed but not found yet -> tries left
	uploadTried map[string]bool // "project version" whose upload time was looked up
	first       FirstReads      // the first reads in hand (schedule.go)

	polls, notModified, stale, overflows, errors atomic.Int64
}

// New returns a crawler of the index ix for the projects allow returns
// (normalised names; called before every round, so allowlist reloads take
// effect without a restart).
func New(opts Options, ix *index.Client, st Store, enq Enqueuer, allow func() []string) (*Crawler, error) {
	if ix == nil || st == nil || enq == nil || allow == nil {
		return nil, errors.New("crawler: an index client, a store, an enqueuer and an allowlist are all needed")
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
	if opts.StaleRetryDelays == nil {
		opts.StaleRetryDelays = []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Crawler{
		opts: opts, index: ix, store: st, enq: enq, allow: allow, log: opts.Logger,
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

// Stats returns the crawler's counters, with its index client's.
func (c *Crawler) Stats() Stats {
	ix := c.index.Stats()
	return Stats{
		Requests: ix.Requests, Polls: c.polls.Load(), NotModified: c.notModified.Load(), Stale: c.stale.Load(),
		Overflows: c.overflows.Load(), Downloads: ix.Downloads, Mismatches: ix.Mismatches, Errors: c.errors.Load(),
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
	pg, err := c.readPage(ctx, name, st)
	now := c.opts.Now()
	switch {
	case errors.Is(err, index.ErrNotFound):
		return c.notOnIndex(ctx, st, err)
	case err != nil:
		return c.fail(ctx, st, err)
	case pg.NotModified:
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
	res, err := c.apply(ctx, st, pg.Files, true)
	st.CheckedAt, st.LastError, st.Pending = now, "", res.pending
	if err != nil {
		st.LastError, st.Pending = err.Error(), true
		c.errors.Add(1)
	}
	if res.recorded {
		st.ETag = pg.ETag
		if pg.Serial > st.LastSerial {
			st.LastSerial = pg.Serial
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

// readPage reads a project's page; a stale one (a serial lower than one
// already seen: a CDN's old copy) is read again after each of
// StaleRetryDelays, and is an *errStale when it stays stale.
func (c *Crawler) readPage(ctx context.Context, name string, st store.ProjectState) (*index.Page, error) {
	for attempt := 0; ; attempt++ {
		pg, err := c.index.Page(ctx, name, st.ETag)
		if err != nil || pg.NotModified {
			return pg, err
		}
		if pg.Serial > 0 && pg.Serial < st.LastSerial {
			c.stale.Add(1)
			if attempt < len(c.opts.StaleRetryDelays) {
				c.log.Debug("stale page; fetching it again", "project", name, "serial", pg.Serial, "seen", st.LastSerial,
					"after", c.opts.StaleRetryDelays[attempt])
				if err := sleep(ctx, c.opts.StaleRetryDelays[attempt]); err != nil {
					return nil, err
				}
				continue
			}
			// A stale copy: what it lacks is not gone. Left for the next round.
			return nil, &errStale{pg.Serial, st.LastSerial}
		}
		return pg, nil
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
	if _, rerr := c.readPage(ctx, st.Project, store.ProjectState{CrawlState: store.CrawlState{Project: st.Project}}); !errors.Is(rerr, index.ErrNotFound) {
		if rerr == nil {
			rerr = errors.New("project page answered after a 404")
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
func (c *Crawler) knownAsFiles(ctx context.Context, name string) ([]index.File, error) {
	known, err := c.store.KnownFiles(ctx, name)
	if err != nil {
		return nil, err
	}
	var files []index.File
	for _, k := range known {
		if !k.RemovedAt.IsZero() {
			continue
		}
		files = append(files, index.File{Filename: k.Filename, URL: k.URL, SHA256: k.SHA256, Size: k.Size,
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
