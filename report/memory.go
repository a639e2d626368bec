package report

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// ChangeCounter is what the memory of rendered responses needs of the
// source: a count of the writes that change what the reports show, which
// *store.Store keeps. A response rendered at count n is served from memory
// while the count is still n (and for at most memoryTTL: a write by another
// process sharing the database is not counted here).
type ChangeCounter interface {
	Changes() uint64
}

// memoryTTL bounds how long a response is served from memory, whatever
// the count says.
const memoryTTL = 10 * time.Second

// staleTTL is how old by the clock alone an answer may be and still be
// served while it is rendered again.
const staleTTL = time.Minute

// maxMemory bounds the responses kept; past it the memory starts afresh
// (a crawl of every page, not the common case of many readers of a few).
const maxMemory = 50000

// memory keeps the rendered responses of the pages, badges, feeds and
// JSON, with their ETag and Last-Modified, so that a badge linked from many
// project pages is a map lookup, not queries and a render: the reports are
// read far more often than results are stored.
type memory struct {
	count ChangeCounter
	// maxBytes bounds the bodies kept (a project's JSON lists every
	// archive member: thousands of projects' documents add up).
	maxBytes int
	mu       sync.RWMutex
	byKey    map[string]*remembered
	bytes    int
	// renders makes the requests that miss one key at once wait for a
	// single render: the overview of 5,000 projects takes a hundred
	// queries, and 32 clients missing it together would each run them.
	renders singleflight.Group
}

// maxMemoryBytes is what the memory of one server keeps at most.
const maxMemoryBytes = 256 << 20

type remembered struct {
	count        uint64
	born         time.Time
	header       http.Header
	etag         string
	lastModified time.Time
	body         []byte
	// The headers that are this answer's own, formatted once: a badge
	// served from memory allocates next to nothing.
	lastModifiedHeader, contentLength []string
	// answer is the same for a server outside net/http (Remembered).
	answer *Answer
}

// An Answer is a response kept in memory, as a server that does not go
// through net/http writes it (service's, whose badges and pages answered
// from memory skip net/http's per-request work). It is shared by every
// request and must not be changed.
type Answer struct {
	// Header is every header of the answer but Content-Length, sorted:
	// the handler's, X-Content-Type-Options and Last-Modified.
	Header [][2]string
	Body   []byte
	e      *remembered
}

// NotModified reports whether a GET or HEAD with these If-None-Match and
// If-Modified-Since values (empty when absent) is answered 304.
func (a *Answer) NotModified(ifNoneMatch, ifModifiedSince string) bool {
	return notModifiedBy(ifNoneMatch, ifModifiedSince, a.e)
}

// Remembered returns the answer to a GET or HEAD of path (decoded, as
// http.Request.URL.Path) with rawQuery when it is in memory and fresh, or
// nil when the request is for ServeHTTP: not kept, kept but stale (which
// ServeHTTP renders again), or an error. Only answers ServeHTTP gave a 200
// for, to a path it accepted, are ever kept, so a path it would refuse is
// never found here. Both are bytes as a server reads them off the wire: a
// lookup allocates nothing.
func (h *Handler) Remembered(path, rawQuery []byte) *Answer {
	if h.mem == nil {
		return nil
	}
	var buf [256]byte
	key := append(append(append(buf[:0], path...), '?'), rawQuery...)
	count := h.mem.count.Changes()
	h.mem.mu.RLock()
	e := h.mem.byKey[string(key)]
	h.mem.mu.RUnlock()
	if !e.fresh(count) {
		return nil
	}
	return e.answer
}

// fresh reports whether e (nil: none) may be served as it is at the
// store's change count: no write since, and younger than memoryTTL.
func (e *remembered) fresh(count uint64) bool {
	return e != nil && e.count == count && time.Since(e.born) <= memoryTTL
}

// remembers reports whether a request's response may be kept: a GET or
// HEAD of a page, badge, feed or project JSON (not logs, runs or diffs,
// which are large or have their own cache).
func remembers(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	p := r.URL.Path
	// Only the overview reads its query (?page=N): any other query would
	// let a client fill the memory with copies of one page.
	if r.URL.RawQuery != "" && (p != "/" || len(r.URL.Query()) != 1 || !r.URL.Query().Has("page")) {
		return false
	}
	switch {
	case p == "/", strings.HasPrefix(p, "/badge/"), strings.HasPrefix(p, "/feed/"), strings.HasPrefix(p, "/feeds/"),
		strings.HasPrefix(p, "/python/"):
		return true
	case strings.HasPrefix(p, "/api/v1/project/"):
		return !strings.Contains(strings.TrimPrefix(p, "/api/v1/project/"), "/")
	case strings.HasPrefix(p, "/project/"):
		// The project page itself: /project/NAME/.
		rest := strings.TrimPrefix(p, "/project/")
		return strings.Count(rest, "/") == 1 && strings.HasSuffix(rest, "/")
	}
	return false
}

// serveHTTP answers from memory, or renders with next and keeps the
// answer when it is a 200.
func (m *memory) serveHTTP(w http.ResponseWriter, r *http.Request, next http.Handler) {
	key := r.URL.Path + "?" + r.URL.RawQuery
	count := m.count.Changes()
	m.mu.RLock()
	e := m.byKey[key]
	m.mu.RUnlock()
	flight := func() string { return key + "\x00" + strconv.FormatUint(count, 10) }
	if e != nil && e.count == count && time.Since(e.born) > memoryTTL && time.Since(e.born) < staleTTL {
		// Old only by the clock (no write of this process since): served
		// as it is while one render refreshes it, lest every reader wait.
		plain := plainRequest(r)
		m.renders.DoChan(flight(), func() (any, error) { return m.render(plain, next, key, count, e), nil })
	} else if !e.fresh(count) {
		plain := plainRequest(r)
		v, _, _ := m.renders.Do(flight(), func() (any, error) {
			return m.render(plain, next, key, count, e), nil
		})
		switch v := v.(type) {
		case *recorder: // not kept: an error, a redirect
			v.replay(w)
			return
		case *remembered:
			e = v
		}
	}
	hd := w.Header()
	for k, v := range e.header {
		hd[k] = v
	}
	hd["Last-Modified"] = e.lastModifiedHeader
	if notModified(r, e) {
		for _, h := range []string{"Content-Type", "Content-Length"} {
			hd.Del(h)
		}
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hd["Content-Length"] = e.contentLength
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(e.body)
	}
}

// plainRequest is r without the client's conditions, its context no
// longer cancelled with the client's: the memory keeps the whole answer and
// answers the conditions from it, and the render is shared by every
// request waiting on it (the first one's client going away must not fail
// the others).
func plainRequest(r *http.Request) *http.Request {
	plain := r.Clone(context.WithoutCancel(r.Context()))
	plain.Method = http.MethodGet
	for _, h := range []string{"If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since", "If-Range", "Range"} {
		plain.Header.Del(h)
	}
	return plain
}

// render renders plain with next and keeps the answer when it is a 200
// (returned as a *remembered; anything else is returned as the *recorder
// to replay).
func (m *memory) render(plain *http.Request, next http.Handler, key string, count uint64, old *remembered) any {
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	next.ServeHTTP(rec, plain)
	if rec.status != http.StatusOK {
		return rec
	}
	fresh := &remembered{count: count, born: time.Now(), header: rec.header, etag: rec.header.Get("ETag"),
		lastModified: time.Now().UTC().Truncate(time.Second), body: rec.body.Bytes()}
	if old != nil && old.etag == fresh.etag {
		fresh.lastModified = old.lastModified // the same bytes: not modified since
	}
	fresh.lastModifiedHeader = []string{fresh.lastModified.Format(http.TimeFormat)}
	fresh.contentLength = []string{strconv.Itoa(len(fresh.body))}
	// The memory answers no ranges (a request's Range is dropped with its
	// conditions): it does not say it does. Content-Length is its own.
	fresh.header.Del("Accept-Ranges")
	fresh.answer = &Answer{Body: fresh.body, e: fresh}
	for k, vs := range fresh.header {
		if k == "Content-Length" || k == "X-Content-Type-Options" {
			continue
		}
		for _, v := range vs {
			fresh.answer.Header = append(fresh.answer.Header, [2]string{k, v})
		}
	}
	fresh.answer.Header = append(fresh.answer.Header, [2]string{"X-Content-Type-Options", "nosniff"},
		[2]string{"Last-Modified", fresh.lastModifiedHeader[0]})
	slices.SortFunc(fresh.answer.Header, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(fresh.body) <= m.maxBytes { // a larger one is never kept
		if prev := m.byKey[key]; prev != nil {
			m.bytes -= len(prev.body)
		}
		if len(m.byKey) >= maxMemory || m.bytes+len(fresh.body) > m.maxBytes {
			m.byKey, m.bytes = map[string]*remembered{}, 0
		}
		m.byKey[key] = fresh
		m.bytes += len(fresh.body)
	}
	return fresh
}

// notModified answers a conditional GET (RFC 9110 13.2.2: If-None-Match
// decides when present, else If-Modified-Since).
func notModified(r *http.Request, e *remembered) bool {
	return notModifiedBy(r.Header.Get("If-None-Match"), r.Header.Get("If-Modified-Since"), e)
}

func notModifiedBy(inm, ims string, e *remembered) bool {
	if inm != "" {
		for _, tag := range strings.Split(inm, ",") {
			tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
			if tag == "*" || (e.etag != "" && tag == e.etag) {
				return true
			}
		}
		return false
	}
	if ims != "" {
		if t, err := http.ParseTime(ims); err == nil && !e.lastModified.After(t) {
			return true
		}
	}
	return false
}

// recorder keeps what a handler answered.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
	wrote  bool
}

func (rec *recorder) Header() http.Header { return rec.header }

func (rec *recorder) WriteHeader(code int) {
	if !rec.wrote {
		rec.status, rec.wrote = code, true
	}
}

func (rec *recorder) Write(b []byte) (int, error) {
	rec.WriteHeader(http.StatusOK)
	return rec.body.Write(b)
}

// replay writes a recorded answer (one not kept: an error, a redirect).
func (rec *recorder) replay(w http.ResponseWriter) {
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.status)
	w.Write(rec.body.Bytes())
}
