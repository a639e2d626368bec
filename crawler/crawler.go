// Package crawler finds new releases of allowlisted projects on a Python
// package index and fetches their sdists into the mirror. The index's
// updates feed is only a low-latency hint; each project's simple page,
// polled with conditional requests, is the truth. A release enters the
// queue once its sdist is in the mirror and verified against the index's
// SHA-256; nothing of it is used otherwise.
package crawler

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/pysmoke/pysmoke/dist"
	"github.com/pysmoke/pysmoke/store"
)

// Store is what the crawler needs of the store.
type Store interface {
	Release(ctx context.Context, project, version string) (store.Release, error)
	AddRelease(ctx context.Context, r store.Release) (bool, error)
	UpdateRelease(ctx context.Context, r store.Release) error
	CrawlState(ctx context.Context, project string) (store.CrawlState, error)
	SaveCrawlState(ctx context.Context, cs store.CrawlState) error
}

// Enqueuer takes a release whose sdist is in the mirror and queues its
// builds.
type Enqueuer interface {
	EnqueueRelease(ctx context.Context, r store.Release) error
}

// Options configure a Crawler; zero fields take their defaults.
type Options struct {
	// IndexURL is the index's root, e.g. "https://pypi.org/"; the simple
	// API is under IndexURL + "simple/", the feeds under "rss/".
	IndexURL string
	// MirrorDir keeps downloaded files by SHA-256.
	MirrorDir string
	// Interval is how often every project's page is checked; the checks
	// are spread evenly over it. Default 10 minutes.
	Interval time.Duration
	// HintInterval is how often the updates feed is read; default 1 minute.
	HintInterval time.Duration
	// Backfill is how many of a project's latest releases are taken when
	// it joins the allowlist; default 3.
	Backfill int
	// Timeout bounds each HTTP request; default 60 s.
	Timeout time.Duration
	// MaxRetryWait caps backoff and Retry-After; default 30 s.
	MaxRetryWait time.Duration
	// MaxPageBytes and MaxFileBytes cap response sizes; defaults 32 MiB and
	// 512 MiB.
	MaxPageBytes, MaxFileBytes int64
	Logger                     *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Crawler polls an index. Safe for concurrent use.
type Crawler struct {
	opts    Options
	index   *url.URL
	http    *retryablehttp.Client
	store   Store
	enq     Enqueuer
	allow   func() []string
	log     *slog.Logger
	feedTag string // ETag of the last updates feed read
}

// New returns a crawler of the index for the projects allow returns
// (normalised names; called before every round, so allowlist reloads take
// effect without a restart).
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
	if opts.HintInterval <= 0 {
		opts.HintInterval = time.Minute
	}
	if opts.Backfill <= 0 {
		opts.Backfill = 3
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 60 * time.Second
	}
	if opts.MaxRetryWait <= 0 {
		opts.MaxRetryWait = 30 * time.Second
	}
	if opts.MaxPageBytes <= 0 {
		opts.MaxPageBytes = 32 << 20
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
	return &Crawler{
		opts: opts, index: u, store: st, enq: enq, allow: allow, log: opts.Logger,
		http: newHTTPClient(opts.Timeout, opts.MaxRetryWait, opts.Logger),
	}, nil
}

// Run polls until ctx ends: every project once per Interval, spread over
// it, and the updates feed every HintInterval, polling at once the
// allowlisted projects it mentions.
func (c *Crawler) Run(ctx context.Context) {
	hint := time.NewTicker(c.opts.HintInterval)
	defer hint.Stop()
	var queue []string
	next := time.Now()
	for {
		if len(queue) == 0 {
			queue = c.allow()
		}
		var wait time.Duration
		if len(queue) > 0 {
			wait = c.opts.Interval / time.Duration(len(queue))
		} else {
			wait = c.opts.Interval
		}
		if d := time.Until(next); d > 0 {
			select {
			case <-ctx.Done():
				return
			case <-hint.C:
				if err := c.PollUpdates(ctx); err != nil && ctx.Err() == nil {
					c.log.Warn("updates feed", "err", err)
				}
				continue
			case <-time.After(d):
			}
		}
		if len(queue) > 0 {
			name := queue[0]
			queue = queue[1:]
			if err := c.PollProject(ctx, name); err != nil && ctx.Err() == nil {
				c.log.Warn("poll project", "project", name, "err", err)
			}
		}
		next = time.Now().Add(wait)
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

// rss is the part of an RSS 2.0 feed the crawler reads.
type rss struct {
	Items []struct {
		Link string `xml:"link"`
	} `xml:"channel>item"`
}

// PollUpdates reads the index's updates feed and polls each allowlisted
// project it names. The feed holds only the newest releases of the whole
// index, so it only makes discovery faster; the per-project polls find
// everything it misses.
func (c *Crawler) PollUpdates(ctx context.Context) error {
	req, err := newRequest(ctx, c.index.JoinPath("rss", "updates.xml").String())
	if err != nil {
		return err
	}
	if c.feedTag != "" {
		req.Header.Set("If-None-Match", c.feedTag)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("updates feed: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified {
		return nil
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("updates feed: HTTP %s", resp.Status)
	}
	// encoding/xml expands no entities but has no size limit of its own.
	var feed rss
	if err := xml.NewDecoder(io.LimitReader(resp.Body, c.opts.MaxPageBytes)).Decode(&feed); err != nil {
		return fmt.Errorf("updates feed: malformed XML: %w", err)
	}
	c.feedTag = resp.Header.Get("ETag")
	allowed := map[string]bool{}
	for _, n := range c.allow() {
		allowed[n] = true
	}
	seen := map[string]bool{}
	for _, it := range feed.Items {
		// Name and version come from the link path, never the title:
		// /project/<name>/<version>/.
		u, err := url.Parse(strings.TrimSpace(it.Link))
		if err != nil {
			continue
		}
		parts := strings.Split(strings.Trim(u.Path, "/"), "/")
		if len(parts) < 3 || parts[len(parts)-3] != "project" {
			continue
		}
		name := dist.Normalize(parts[len(parts)-2])
		if allowed[name] && !seen[name] {
			seen[name] = true
			if err := c.PollProject(ctx, name); err != nil {
				c.log.Warn("poll project", "project", name, "err", err)
			}
		}
	}
	return nil
}

// fileClosedAfter is how long after a release's first upload files may
// still be added to it (the index's rule since 2026).
const fileClosedAfter = 14 * 24 * time.Hour

// PollProject reads one project's simple page (conditionally) and acts on
// what changed: new releases are recorded, and each release whose sdist has
// appeared is fetched, verified and queued.
func (c *Crawler) PollProject(ctx context.Context, name string) error {
	name = dist.Normalize(name)
	state, err := c.store.CrawlState(ctx, name)
	if err != nil {
		return err
	}
	first := state.CheckedAt.IsZero()
	page := c.index.JoinPath("simple", name) // JoinPath drops the trailing slash
	pageURL := page.String() + "/"
	req, err := newRequest(ctx, pageURL)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", acceptSimple)
	if state.ETag != "" {
		req.Header.Set("If-None-Match", state.ETag)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return c.fail(ctx, state, fmt.Errorf("GET %s: %w", pageURL, err))
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNotModified:
		state.CheckedAt, state.LastError = c.opts.Now(), ""
		return c.store.SaveCrawlState(ctx, state)
	case http.StatusOK:
	case http.StatusNotFound:
		return c.fail(ctx, state, fmt.Errorf("project %s is not on the index", name))
	default:
		return c.fail(ctx, state, fmt.Errorf("GET %s: HTTP %s", pageURL, resp.Status))
	}
	serial, _ := strconv.ParseInt(resp.Header.Get("X-PyPI-Last-Serial"), 10, 64)
	if serial > 0 && serial < state.LastSerial {
		// A stale copy (a CDN behind the index): what it lacks is not gone.
		return c.fail(ctx, state, fmt.Errorf("stale page: serial %d < %d already seen", serial, state.LastSerial))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.opts.MaxPageBytes+1))
	if err != nil {
		return c.fail(ctx, state, fmt.Errorf("read %s: %w", pageURL, err))
	}
	if int64(len(body)) > c.opts.MaxPageBytes {
		return c.fail(ctx, state, fmt.Errorf("%s is larger than %d bytes", pageURL, c.opts.MaxPageBytes))
	}
	base, _ := url.Parse(pageURL)
	var files []File
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/vnd.pypi.simple.v1+json") {
		files, err = parseSimpleJSON(body, base)
	} else {
		files, err = parseSimpleHTML(bytes.NewReader(body), base)
	}
	if err != nil {
		return c.fail(ctx, state, fmt.Errorf("%s: %w", pageURL, err))
	}
	if err := c.apply(ctx, name, files, first); err != nil {
		return c.fail(ctx, state, err)
	}
	state.ETag, state.CheckedAt, state.LastError = resp.Header.Get("ETag"), c.opts.Now(), ""
	if serial > state.LastSerial {
		state.LastSerial = serial
	}
	return c.store.SaveCrawlState(ctx, state)
}

// fail records why a poll failed (keeping the ETag, so the next poll is
// not fooled into a 304 over a page it never read) and returns err.
func (c *Crawler) fail(ctx context.Context, state store.CrawlState, err error) error {
	state.LastError = err.Error()
	state.CheckedAt = c.opts.Now()
	if serr := c.store.SaveCrawlState(ctx, state); serr != nil {
		return errors.Join(err, serr)
	}
	return err
}

type release struct {
	version string
	files   []File
}

// apply acts on a project's file list.
func (c *Crawler) apply(ctx context.Context, name string, files []File, first bool) error {
	byVersion := map[string]*release{}
	for _, f := range files {
		df, err := dist.ParseFilename(f.Filename)
		if err != nil || dist.Normalize(df.Name) != name {
			c.log.Debug("ignoring file", "project", name, "file", f.Filename)
			continue
		}
		v := df.Version
		if pv, err := dist.ParseVersion(v); err == nil {
			v = pv.Canonical()
		}
		r := byVersion[v]
		if r == nil {
			r = &release{version: v}
			byVersion[v] = r
		}
		r.files = append(r.files, f)
	}
	versions := make([]string, 0, len(byVersion))
	for v := range byVersion {
		versions = append(versions, v)
	}
	sort.Slice(versions, func(i, j int) bool { return dist.CompareVersions(versions[i], versions[j]) > 0 })
	var errs []error
	for i, v := range versions {
		known, err := c.store.Release(ctx, name, v)
		switch {
		case errors.Is(err, store.ErrNotFound):
			if first && i >= c.opts.Backfill {
				// A project joining the allowlist brings only its latest
				// releases; older ones are history, not news.
				continue
			}
			known = store.Release{Project: name, Version: v, DisplayName: name, State: store.StateFound, DiscoveredAt: c.opts.Now()}
			pv, _ := dist.ParseVersion(v)
			known.Prerelease = pv.IsPrerelease()
			if _, err := c.store.AddRelease(ctx, known); err != nil {
				errs = append(errs, err)
				continue
			}
			c.log.Info("new release", "project", name, "version", v)
		case err != nil:
			errs = append(errs, err)
			continue
		}
		if err := c.advance(ctx, known, byVersion[v].files); err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", name, v, err))
		}
	}
	return errors.Join(errs...)
}

// advance moves a release on from what its files now are.
func (c *Crawler) advance(ctx context.Context, r store.Release, files []File) error {
	allYanked := len(files) > 0
	var firstUpload time.Time
	for _, f := range files {
		allYanked = allYanked && f.Yanked
		if !f.UploadTime.IsZero() && (firstUpload.IsZero() || f.UploadTime.Before(firstUpload)) {
			firstUpload = f.UploadTime
		}
	}
	changed := false
	if allYanked != r.Yanked {
		r.Yanked, changed = allYanked, true // results are kept either way
	}
	if r.UploadedAt.IsZero() && !firstUpload.IsZero() {
		r.UploadedAt, changed = firstUpload, true
	}
	if r.State != store.StateFound {
		if changed {
			return c.store.UpdateRelease(ctx, r)
		}
		return nil
	}
	sdist, ok := pickSdist(files)
	if !ok {
		if !r.UploadedAt.IsZero() && c.opts.Now().Sub(r.UploadedAt) > fileClosedAfter {
			r.State, r.StateReason = store.StateNoSdist, "no sdist was uploaded, and none can be added any more"
			changed = true
		}
		if changed {
			return c.store.UpdateRelease(ctx, r)
		}
		return nil // hold it: the sdist often comes after the wheels
	}
	r.SdistFile, r.SdistURL, r.SdistSHA256 = sdist.Filename, sdist.URL, sdist.SHA256
	if err := c.fetch(ctx, sdist); err != nil {
		var bad *badFileError
		if errors.As(err, &bad) {
			r.State, r.StateReason = store.StateBad, bad.Error()
			c.log.Error("sdist refused", "project", r.Project, "version", r.Version, "err", err)
			return c.store.UpdateRelease(ctx, r)
		}
		return err // transient: try again on the next poll
	}
	r.State = store.StateQueued
	if err := c.enq.EnqueueRelease(ctx, r); err != nil {
		return err
	}
	return c.store.UpdateRelease(ctx, r)
}

// pickSdist chooses the sdist to build: .tar.gz first (PEP 625), then the
// legacy forms.
func pickSdist(files []File) (File, bool) {
	best, found := File{}, false
	for _, f := range files {
		df, err := dist.ParseFilename(f.Filename)
		if err != nil || df.Kind != dist.Sdist {
			continue
		}
		if !found || dist.SdistPreference(df.Ext) < dist.SdistPreference(mustExt(best.Filename)) {
			best, found = f, true
		}
	}
	return best, found
}

func mustExt(filename string) string {
	df, _ := dist.ParseFilename(filename)
	return df.Ext
}

// badFileError is a file the index serves that can never be used: its
// bytes do not match its hash, or it has no hash to check.
type badFileError struct{ msg string }

func (e *badFileError) Error() string { return e.msg }

// MirrorPath is where the mirror keeps a file: by hash, under its own
// name (the name's extension tells how to unpack it).
func MirrorPath(mirrorDir, sha256hex, filename string) string {
	return filepath.Join(mirrorDir, sha256hex[:2], sha256hex, filepath.Base(filename))
}

// fetch downloads a file into the mirror unless it is there, verifying
// its SHA-256 before it is moved into place: no one ever sees bytes that
// do not match.
func (c *Crawler) fetch(ctx context.Context, f File) error {
	if !hexSHA256.MatchString(f.SHA256) {
		return &badFileError{fmt.Sprintf("%s: the index gives no SHA-256 to verify it", f.Filename)}
	}
	if _, err := dist.ParseFilename(f.Filename); err != nil {
		return &badFileError{err.Error()}
	}
	dst := MirrorPath(c.opts.MirrorDir, f.SHA256, f.Filename)
	if _, err := os.Stat(dst); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("mirror: %w", err)
	}
	req, err := newRequest(ctx, f.URL)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("download %s: %w", f.Filename, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("download %s: HTTP %s", f.Filename, resp.Status)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".part-*")
	if err != nil {
		return fmt.Errorf("mirror: %w", err)
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(resp.Body, c.opts.MaxFileBytes+1))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("download %s: %w", f.Filename, err)
	}
	if n > c.opts.MaxFileBytes {
		return &badFileError{fmt.Sprintf("%s is larger than %d bytes", f.Filename, c.opts.MaxFileBytes)}
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != f.SHA256 {
		// A truncated transfer also lands here; both are refused, and a
		// later poll tries again only if the index's hash changes.
		return &badFileError{fmt.Sprintf("%s: SHA-256 mismatch: index says %s, bytes are %s", f.Filename, f.SHA256, got)}
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("mirror: %w", err)
	}
	return nil
}
