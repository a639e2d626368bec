package crawler

// The index's RSS feeds and JSON API, all of them hints or details, never
// the truth about what files a project has:
//
//   - /rss/updates.xml (the newest 100 releases of the whole index) says
//     which allowlisted projects to poll now. It covers only minutes of
//     PyPI's traffic, so a feed that has moved on past everything seen in
//     the last read is counted as an overflow; the schedule still finds
//     what it missed within one Interval.
//   - /rss/packages.xml (the newest 40 projects) is read while an
//     allowlisted project is not on the index yet, to poll it as soon as
//     it appears.
//   - /pypi/<name>/<version>/json, then /rss/project/<name>/releases.xml,
//     give the upload time of a release held without an sdist when its
//     simple page (HTML) does not: the 14-day window runs from it.
//
// Feeds are read with conditional requests, capped in size, and parsed
// with encoding/xml (which expands no entities); names and versions come
// from item links, never titles.

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pysmoke/pysmoke/dist"
	"github.com/pysmoke/pysmoke/index"
	"github.com/pysmoke/pysmoke/store"
)

// updatesFeedItems is how many items updates.xml holds on PyPI.
const updatesFeedItems = 100

// rss is the part of an RSS 2.0 feed the crawler reads.
type rss struct {
	Items []rssItem `xml:"channel>item"`
}

type rssItem struct {
	Link    string `xml:"link"`
	PubDate string `xml:"pubDate"`
}

// feedLink reads /project/<name>/[<version>/] from an item link.
func feedLink(link string) (name, version string, ok bool) {
	u, err := url.Parse(strings.TrimSpace(link))
	if err != nil {
		return "", "", false
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	for i, p := range parts {
		if p != "project" || i+1 >= len(parts) {
			continue
		}
		rest := parts[i+1:]
		if len(rest) > 2 || !dist.ValidName(rest[0]) {
			return "", "", false
		}
		name = dist.Normalize(rest[0])
		if len(rest) == 2 {
			v, err := dist.ParseVersion(rest[1])
			if err != nil {
				return "", "", false
			}
			version = v.Canonical()
		}
		return name, version, true
	}
	return "", "", false
}

// readFeed fetches a feed conditionally; a nil feed means 304.
func (c *Crawler) readFeed(ctx context.Context, path, etag string) (*rss, string, error) {
	resp, err := c.index.Hint(ctx, "", etag, strings.Split(path, "/")...)
	if err != nil {
		return nil, etag, err
	}
	u := resp.URL
	switch resp.Status {
	case http.StatusNotModified:
		return nil, etag, nil
	case http.StatusOK:
	default:
		return nil, etag, fmt.Errorf("GET %s: HTTP %d", u, resp.Status)
	}
	feed, err := parseFeed(resp.Body)
	if err != nil {
		return nil, etag, fmt.Errorf("%s: %w", u, err)
	}
	return feed, resp.Header.Get("ETag"), nil
}

// parseFeed reads an RSS feed's items; an error wraps index.ErrMalformed.
func parseFeed(body []byte) (*rss, error) {
	var feed rss
	if err := xml.Unmarshal(body, &feed); err != nil {
		return nil, fmt.Errorf("%w: XML: %v", index.ErrMalformed, err)
	}
	return &feed, nil
}

// allowed returns the allowlist as a set.
func (c *Crawler) allowed() map[string]bool {
	names := c.allow()
	set := make(map[string]bool, len(names))
	for _, n := range names {
		set[n] = true
	}
	return set
}

// PollUpdates reads the index's updates feed and polls each allowlisted
// project it names with a release not recorded yet. A release the feed
// names but the project's page does not list yet (a CDN lagging behind the
// feed) is looked for again at the next few reads.
func (c *Crawler) PollUpdates(ctx context.Context) error {
	c.mu.Lock()
	etag := c.feedTag
	c.mu.Unlock()
	feed, newTag, err := c.readFeed(ctx, "rss/updates.xml", etag)
	if err != nil {
		return fmt.Errorf("updates feed: %w", err)
	}
	allowed := c.allowed()
	type hint struct{ name, version string }
	var todo []hint
	c.mu.Lock()
	if feed != nil {
		links := make(map[string]bool, len(feed.Items))
		continued := len(c.feedLinks) == 0
		for _, it := range feed.Items {
			link := strings.TrimSpace(it.Link)
			links[link] = true
			if c.feedLinks[link] {
				continued = true
				continue // seen at the last read
			}
			name, version, ok := feedLink(link)
			if ok && version != "" && allowed[name] {
				todo = append(todo, hint{name, version})
			}
		}
		if !continued && len(feed.Items) >= updatesFeedItems {
			// More releases than the feed holds came out since the last
			// read: the schedule finds what it missed.
			c.overflows.Add(1)
			c.log.Warn("updates feed overflowed since the last read; the schedule will find what it missed",
				"items", len(feed.Items))
		}
		c.feedTag, c.feedLinks = newTag, links
	}
	for key := range c.hints {
		name, version, _ := strings.Cut(key, " ")
		todo = append(todo, hint{name, version})
	}
	c.mu.Unlock()

	polled := map[string]bool{}
	for _, h := range todo {
		if !allowed[h.name] {
			continue
		}
		if _, err := c.store.Release(ctx, h.name, h.version); err == nil {
			c.dropHint(h.name, h.version)
			continue
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if !polled[h.name] {
			polled[h.name] = true
			if err := c.PollProject(ctx, h.name); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				c.log.Warn("poll project", "project", h.name, "err", err)
			}
		}
		if _, err := c.store.Release(ctx, h.name, h.version); err == nil {
			c.dropHint(h.name, h.version)
		} else {
			c.retryHint(h.name, h.version)
		}
	}
	return nil
}

// hintTries is how many feed reads a release named by the feed but not
// found on its project's page is looked for again.
const hintTries = 3

func (c *Crawler) retryHint(name, version string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := name + " " + version
	left, ok := c.hints[key]
	if !ok {
		left = hintTries
	}
	if left--; left <= 0 {
		delete(c.hints, key) // history, or a lagging page the schedule will catch
		return
	}
	c.hints[key] = left
}

func (c *Crawler) dropHint(name, version string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.hints, name+" "+version)
}

// missingProjects returns the allowlisted projects the index did not have
// at their last poll.
func (c *Crawler) missingProjects() map[string]bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]bool, len(c.missing))
	for n := range c.missing {
		out[n] = true
	}
	return out
}

// PollPackages reads the newest-packages feed and polls each allowlisted
// project it names that the index did not have before. It does nothing
// (no request) while every allowlisted project is on the index.
func (c *Crawler) PollPackages(ctx context.Context) error {
	missing := c.missingProjects()
	if len(missing) == 0 {
		return nil
	}
	c.mu.Lock()
	etag := c.pkgTag
	c.mu.Unlock()
	feed, newTag, err := c.readFeed(ctx, "rss/packages.xml", etag)
	if err != nil {
		return fmt.Errorf("packages feed: %w", err)
	}
	if feed == nil {
		return nil
	}
	c.mu.Lock()
	c.pkgTag = newTag
	c.mu.Unlock()
	allowed := c.allowed()
	for _, it := range feed.Items {
		name, _, ok := feedLink(it.Link)
		if !ok || !missing[name] || !allowed[name] {
			continue
		}
		delete(missing, name)
		if err := c.PollProject(ctx, name); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			c.log.Warn("poll project", "project", name, "err", err)
		}
	}
	return nil
}

// uploadTime finds when a release's first file was uploaded, for a
// release held without an sdist whose page did not say: from the JSON
// API, else the project's feed. Each release is looked up once per
// crawler; a static mirror has neither, and the caller falls back on the
// discovery time.
func (c *Crawler) uploadTime(ctx context.Context, name, version string) (time.Time, bool) {
	key := name + " " + version
	c.mu.Lock()
	tried := c.uploadTried[key]
	c.uploadTried[key] = true
	c.mu.Unlock()
	if tried {
		return time.Time{}, false
	}
	if t, err := c.uploadTimeJSON(ctx, name, version); err == nil && !t.IsZero() {
		return t, true
	} else if err != nil {
		c.log.Debug("upload time from the JSON API", "project", name, "version", version, "err", err)
	}
	t, err := c.uploadTimeFeed(ctx, name, version)
	if err == nil && !t.IsZero() {
		return t, true
	}
	if err != nil {
		c.log.Debug("upload time from the project feed", "project", name, "version", version, "err", err)
	}
	return time.Time{}, false
}

func (c *Crawler) uploadTimeJSON(ctx context.Context, name, version string) (time.Time, error) {
	resp, err := c.index.Hint(ctx, "application/json", "", "pypi", name, version, "json")
	if err != nil {
		return time.Time{}, err
	}
	u := resp.URL
	if resp.Status != http.StatusOK {
		return time.Time{}, fmt.Errorf("GET %s: HTTP %d", u, resp.Status)
	}
	t, err := parseUploadTime(resp.Body)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %w", u, err)
	}
	return t, nil
}

// parseUploadTime reads the earliest upload time of a release's files from
// its JSON API document (zero when none says); an error wraps
// index.ErrMalformed.
func parseUploadTime(body []byte) (time.Time, error) {
	var doc struct {
		URLs []struct {
			UploadTime string `json:"upload_time_iso_8601"`
		} `json:"urls"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return time.Time{}, fmt.Errorf("%w: JSON: %v", index.ErrMalformed, err)
	}
	var first time.Time
	for _, f := range doc.URLs {
		t, err := time.Parse(time.RFC3339Nano, f.UploadTime)
		if err == nil && (first.IsZero() || t.Before(first)) {
			first = t.UTC()
		}
	}
	return first, nil
}

func (c *Crawler) uploadTimeFeed(ctx context.Context, name, version string) (time.Time, error) {
	feed, _, err := c.readFeed(ctx, "rss/project/"+name+"/releases.xml", "")
	if err != nil || feed == nil {
		return time.Time{}, err
	}
	for _, it := range feed.Items {
		n, v, ok := feedLink(it.Link)
		if !ok || n != name || v != version {
			continue
		}
		t, err := http.ParseTime(strings.TrimSpace(it.PubDate))
		if err != nil {
			return time.Time{}, fmt.Errorf("pubDate %q: %w", it.PubDate, err)
		}
		return t.UTC(), nil
	}
	return time.Time{}, nil
}
