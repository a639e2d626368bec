// Package index is pysmoke's client of a Python package index: it reads a
// project's simple page (PEP 691 JSON, or PEP 503 HTML from a static
// mirror) with conditional requests, fetches other documents of the index
// (its feeds, its JSON API) as hints, downloads files into a mirror kept by
// SHA-256 and verified against the index's hash, and is the index that
// dependency resolution reads (resolver.Index, deps.go).
//
// It is only a client: what to ask for and when, and what a page means for
// the releases pysmoke knows, is the crawler's. Every request goes through
// one HTTP policy (http.go): retries with backoff, a per-host rate limit,
// size caps and timeouts. The formats it reads are PyPI's, as the project's
// own local index (package localindex) serves them for the tests.
package index

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// Options configure a Client; zero fields take their defaults.
type Options struct {
	// URL is the index's root, e.g. "https://pypi.org/"; the simple API is
	// under URL + "simple/", the feeds under "rss/", the JSON API under
	// "pypi/". Required.
	URL string
	// MirrorDir keeps downloaded files by SHA-256. Required.
	MirrorDir string
	// Timeout bounds each attempt of a page request; default 60 s.
	// FileTimeout bounds each attempt of a download; default 10 minutes.
	Timeout, FileTimeout time.Duration
	// Retries is how often a failed request for a page or a file is
	// retried; default 4. Hints (feeds, the JSON API) are retried once: a
	// failing feed must not hold up the schedule.
	Retries int
	// MaxRetryWait caps backoff and Retry-After; default 30 s.
	MaxRetryWait time.Duration
	// RateLimit is the most requests per second to any one host (the
	// index, its file host), with bursts of up to RateLimit; default 5;
	// negative: no limit.
	RateLimit float64
	// HTMLOnly asks for PEP 503 HTML only, for indexes or proxies that
	// mishandle PEP 691 JSON.
	HTMLOnly bool
	// MaxPageBytes and MaxFileBytes cap response sizes; defaults 64 MiB
	// and 512 MiB.
	MaxPageBytes, MaxFileBytes int64
	// Logger receives what is worth knowing (debug: every failed attempt);
	// default slog.Default().
	Logger *slog.Logger
}

// Client is a client of one index. Safe for concurrent use.
type Client struct {
	opts   Options
	root   *url.URL
	pages  *retryablehttp.Client // project pages: the truth, retried in full
	files  *retryablehttp.Client // downloads: the same, with a longer timeout
	hinter *retryablehttp.Client // feeds and the JSON API: hints, retried once
	log    *slog.Logger

	requests, downloads, mismatches, notModified, failed atomic.Int64
}

// New returns a client of the index at opts.URL.
func New(opts Options) (*Client, error) {
	u, err := url.Parse(opts.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("index URL %q is not an http(s) URL", opts.URL)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	if opts.MirrorDir == "" {
		return nil, errors.New("index: no mirror directory")
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
	if opts.MaxPageBytes <= 0 {
		opts.MaxPageBytes = 64 << 20
	}
	if opts.MaxFileBytes <= 0 {
		opts.MaxFileBytes = 512 << 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	limit := newHostLimiter(opts.RateLimit, int(max(1, opts.RateLimit)))
	transport := newTransport(limit)
	return &Client{
		opts: opts, root: u, log: opts.Logger,
		pages:  newHTTPClient(transport, opts.Timeout, opts.MaxRetryWait, opts.Retries, limit, opts.Logger),
		files:  newHTTPClient(transport, opts.FileTimeout, opts.MaxRetryWait, opts.Retries, limit, opts.Logger),
		hinter: newHTTPClient(transport, opts.Timeout, opts.MaxRetryWait, 1, limit, opts.Logger),
	}, nil
}

// URL is the index's root, with a trailing slash.
func (c *Client) URL() *url.URL { u := *c.root; return &u }

// RateLimit is the most requests per second the client makes to one host
// (negative: no limit).
func (c *Client) RateLimit() float64 { return c.opts.RateLimit }

// Stats counts what a client did since it was made.
type Stats struct {
	Requests   int64 // HTTP requests made (not counting retries)
	Downloads  int64 // file downloads started
	Mismatches int64 // downloads whose bytes did not match the index's hash
	// NotModified counts the conditional requests answered 304.
	NotModified int64
	// Errors counts the requests that failed after their retries: no
	// answer, or a last answer of 429 or 500 and more.
	Errors int64
}

// Stats returns the client's counters.
func (c *Client) Stats() Stats {
	return Stats{Requests: c.requests.Load(), Downloads: c.downloads.Load(), Mismatches: c.mismatches.Load(),
		NotModified: c.notModified.Load(), Errors: c.failed.Load()}
}

// ErrNotFound is a project the index does not have (404 or 410 for its
// page).
var ErrNotFound = errors.New("not on the index")

// Page is a project's simple page as read.
type Page struct {
	// NotModified is true when the index answered a conditional request
	// with 304: the page is as it was, Files is empty.
	NotModified bool
	Files       []File
	// Serial is the project's last serial (PyPI's X-PyPI-Last-Serial, or
	// the page's own record of it on a static mirror); 0 when unknown.
	Serial int64
	// ETag is the page's validator, for the next conditional request.
	ETag string
}

// Page reads a project's (normalised name) simple page, conditionally on
// etag when it is set. A project the index does not have is an error
// wrapping ErrNotFound; a page that cannot be read whole and as written is
// an error (a half-read page would look like removed files).
func (c *Client) Page(ctx context.Context, project, etag string) (*Page, error) {
	pageURL := c.root.JoinPath("simple", project).String() + "/" // JoinPath drops the trailing slash
	accept := acceptSimple
	if c.opts.HTMLOnly {
		accept = acceptSimpleHTML
	}
	resp, err := c.get(ctx, c.pages, pageURL, accept, etag, c.opts.MaxPageBytes)
	if err != nil {
		return nil, err
	}
	switch resp.status {
	case http.StatusOK:
	case http.StatusNotModified:
		return &Page{NotModified: true, ETag: etag}, nil
	case http.StatusNotFound, http.StatusGone:
		return nil, fmt.Errorf("project %s is %w", project, ErrNotFound)
	default:
		return nil, fmt.Errorf("GET %s: HTTP %d", pageURL, resp.status)
	}
	var pg page
	if strings.HasPrefix(resp.header.Get("Content-Type"), mimeSimpleJSON) {
		pg, err = parseSimpleJSON(resp.body, resp.url)
	} else {
		pg, err = parseSimpleHTML(resp.body, resp.url)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pageURL, err)
	}
	// The header is authoritative when present; a static mirror has only
	// the page's own record of it.
	if s, err := strconv.ParseInt(resp.header.Get("X-PyPI-Last-Serial"), 10, 64); err == nil && s > 0 {
		pg.serial = s
	}
	return &Page{Files: pg.files, Serial: pg.serial, ETag: resp.header.Get("ETag")}, nil
}

// Response is a document of the index read whole.
type Response struct {
	URL    string
	Status int
	Header http.Header
	Body   []byte // on 200 only
}

// Hint reads a document of the index that is only a hint (a feed, the
// JSON API) at the path made of segments under the index's root
// ("rss", "updates.xml"), conditionally on etag when it is set. It is
// retried once and capped at the page size cap.
func (c *Client) Hint(ctx context.Context, accept, etag string, segments ...string) (*Response, error) {
	u := c.root.JoinPath(segments...).String()
	resp, err := c.get(ctx, c.hinter, u, accept, etag, c.opts.MaxPageBytes)
	if err != nil {
		return nil, err
	}
	return &Response{URL: u, Status: resp.status, Header: resp.header, Body: resp.body}, nil
}
