package localindex

// Misbehaving on purpose, and counting. Tests tell the running index to
// answer some paths badly (InjectFault): late, with a 5xx or a 429 and
// Retry-After, with a body cut off mid-transfer, with a body that is not
// valid HTML, JSON or XML, with an earlier copy of a page (a CDN that
// missed a purge), or with file bytes that do not match the listed hash.
// Every request through Handler and FilesHandler is counted (Stats), so a
// benchmark can say how many requests a crawler made and how many were
// answered 304.

import (
	"bytes"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Fault is how the index misanswers requests whose path starts with the
// prefix given to InjectFault. Fields combine: Delay applies first, then
// Status (which answers on its own), else the normal (or Stale) response
// is altered by Malformed, WrongBytes and Truncate, in that order.
type Fault struct {
	// Delay holds the answer back this long (less if the client gives up).
	Delay time.Duration
	// Status answers with this status code and a short text body instead
	// of the resource, e.g. 503, or 429 with RetryAfter.
	Status int
	// RetryAfter is the Retry-After header sent with Status, e.g. "3600"
	// or an HTTP date.
	RetryAfter string
	// Truncate announces the full Content-Length, sends half the body and
	// drops the connection, as a transfer cut off mid-way looks to a
	// client.
	Truncate bool
	// Malformed serves a body that is not valid for its type: the first
	// half of the real body followed by junk, with no closing tags (HTML),
	// an unfinished document (JSON, XML). Content-Length matches it: the
	// transfer is complete, the document is not.
	Malformed bool
	// Stale serves the copy of the page taken by Snapshot (as a CDN node
	// that missed a purge does), with its old serial and ETag.
	Stale *Snapshot
	// WrongBytes serves bytes that differ from the listed hash: the real
	// body, whole and of the same length, with bytes flipped.
	WrongBytes bool
	// Times is how many requests the fault answers before it lifts
	// itself; 0 means until it is lifted or cleared.
	Times int
}

type activeFault struct {
	prefix string
	fault  Fault
	left   int // remaining answers; -1 for unlimited
	hits   int
}

type faultList struct {
	mu     sync.Mutex
	faults []*activeFault
}

// InjectFault makes the index misanswer requests whose URL path starts
// with pathPrefix (e.g. "/simple/foo/", "/rss/updates.xml", "/packages/",
// or a file's path from FilePath). The oldest live fault that matches a
// request answers it. It returns a function that lifts this fault and
// reports how many requests it answered.
func (ix *Index) InjectFault(pathPrefix string, f Fault) (lift func() int) {
	af := &activeFault{prefix: pathPrefix, fault: f, left: f.Times}
	if f.Times <= 0 {
		af.left = -1
	}
	ix.faults.mu.Lock()
	ix.faults.faults = append(ix.faults.faults, af)
	ix.faults.mu.Unlock()
	return func() int {
		ix.faults.mu.Lock()
		defer ix.faults.mu.Unlock()
		ix.faults.removeLocked(af)
		return af.hits
	}
}

// ClearFaults lifts every injected fault.
func (ix *Index) ClearFaults() {
	ix.faults.mu.Lock()
	ix.faults.faults = nil
	ix.faults.mu.Unlock()
}

func (l *faultList) removeLocked(af *activeFault) {
	for i, g := range l.faults {
		if g == af {
			l.faults = append(l.faults[:i:i], l.faults[i+1:]...)
			return
		}
	}
}

// take returns the fault that answers a request for path, counting the
// answer, or nil.
func (l *faultList) take(path string) *Fault {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, af := range l.faults {
		if !strings.HasPrefix(path, af.prefix) {
			continue
		}
		af.hits++
		if af.left > 0 {
			af.left--
			if af.left == 0 {
				l.removeLocked(af)
			}
		}
		f := af.fault
		return &f
	}
	return nil
}

// Snapshot is a copy of the responses the index gave for one path at one
// moment, one per representation (HTML and JSON for simple pages).
type Snapshot struct {
	path     string
	variants map[bool]*recorded // by "is JSON"
}

// Snapshot records what the index answers now for rawURL (the URL a
// client would ask, e.g. server URL + "/simple/foo/": its host is the one
// absolute links are made with when Options.BaseURL is empty), for a
// later Stale fault. Simple pages are recorded in both formats.
func (ix *Index) Snapshot(rawURL string) (*Snapshot, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("localindex: snapshot: %w", err)
	}
	s := &Snapshot{path: u.Path, variants: map[bool]*recorded{}}
	mux := ix.routes(true)
	for _, accept := range []string{"", mimeV1JSON} {
		req, err := http.NewRequest(http.MethodGet, rawURL, nil)
		if err != nil {
			return nil, fmt.Errorf("localindex: snapshot: %w", err)
		}
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		rec := newRecorder()
		mux.ServeHTTP(rec, req)
		s.variants[accept != ""] = rec
	}
	return s, nil
}

// recorded is a response held in memory.
type recorded struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func newRecorder() *recorded { return &recorded{header: http.Header{}} }

func (r *recorded) Header() http.Header { return r.header }
func (r *recorded) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.body.Write(b)
}
func (r *recorded) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}

// serveFault answers r under fault f, with next as the real handler.
func (ix *Index) serveFault(w http.ResponseWriter, r *http.Request, next http.Handler, f *Fault) {
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if f.Status != 0 {
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(f.Status)
		w.Write([]byte(http.StatusText(f.Status) + " (injected)\n"))
		return
	}
	if !f.Truncate && !f.Malformed && !f.WrongBytes && f.Stale == nil {
		next.ServeHTTP(w, r)
		return
	}
	var rec *recorded
	if f.Stale != nil {
		_, asJSON := ix.simpleFormat(r)
		rec = f.Stale.variants[asJSON]
		if rec == nil {
			rec = f.Stale.variants[false]
		}
		// A CDN answers conditional requests from its own copy.
		if etag := rec.header.Get("ETag"); etag != "" && etagMatches(r.Header.Values("If-None-Match"), etag) {
			copyHeader(w.Header(), rec.header, "Content-Type", "Content-Length")
			w.WriteHeader(http.StatusNotModified)
			return
		}
	} else {
		// Ask the real handler for the whole representation: a client's
		// If-None-Match must not turn the fault into a 304.
		inner := r.Clone(r.Context())
		inner.Header.Del("If-None-Match")
		inner.Header.Del("Range")
		rec = newRecorder()
		next.ServeHTTP(rec, inner)
	}
	body := bytes.Clone(rec.body.Bytes())
	if rec.code != http.StatusOK {
		copyHeader(w.Header(), rec.header)
		w.WriteHeader(rec.code)
		w.Write(body)
		return
	}
	if f.Malformed {
		body = malform(body, rec.header.Get("Content-Type"))
	}
	if f.WrongBytes && len(body) > 0 {
		for i := len(body) / 2; i < len(body) && i < len(body)/2+16; i++ {
			body[i] ^= 0xff
		}
	}
	copyHeader(w.Header(), rec.header, "Content-Length")
	if f.Malformed || f.WrongBytes {
		w.Header().Del("ETag") // not the representation the tag names
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	if f.Truncate {
		w.Write(body[:len(body)/2])
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		// The server drops the connection without finishing the response.
		panic(http.ErrAbortHandler)
	}
	w.Write(body)
}

// malform spoils a document of the given content type while keeping it
// recognisably that type.
func malform(body []byte, contentType string) []byte {
	half := body[:len(body)/2]
	switch {
	case strings.Contains(contentType, "json"):
		return append(bytes.Clone(half), []byte(`,{"filename":`)...)
	case strings.Contains(contentType, "xml"):
		return append(bytes.Clone(half), []byte("<item><link>&bogus;<")...)
	case strings.Contains(contentType, "html"):
		return append(bytes.Clone(half), []byte("<a href=\"%zz#sha256=\">\x00<<</td></a")...)
	}
	return half
}

func copyHeader(dst, src http.Header, except ...string) {
	for k, v := range src {
		skip := false
		for _, e := range except {
			if http.CanonicalHeaderKey(e) == k {
				skip = true
			}
		}
		if !skip {
			dst[k] = append([]string(nil), v...)
		}
	}
}

// Stats counts what the index answered.
type Stats struct {
	Requests int64         // every request, faults included
	ByStatus map[int]int64 // requests by status code answered
	Bytes    int64         // body bytes written
	ByPath   map[string]int64
}

type stats struct {
	mu       sync.Mutex
	requests int64
	byStatus map[int]int64
	bytes    int64
	byKind   map[string]int64
}

// pathKind groups paths for Stats.ByPath: "/simple/", "/simple/<project>/"
// pages, "/pypi/", "/rss/updates.xml", "/rss/packages.xml",
// "/rss/project/", "/packages/".
func pathKind(p string) string {
	switch {
	case p == "/simple/" || p == "/simple":
		return "/simple/"
	case strings.HasPrefix(p, "/simple/"):
		return "/simple/<project>/"
	case strings.HasPrefix(p, "/pypi/"):
		return "/pypi/"
	case strings.HasPrefix(p, "/rss/project/"):
		return "/rss/project/"
	case strings.HasPrefix(p, "/packages/"):
		return "/packages/"
	}
	return p
}

func (s *stats) record(path string, code int, n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byStatus == nil {
		s.byStatus, s.byKind = map[int]int64{}, map[string]int64{}
	}
	s.requests++
	s.byStatus[code]++
	s.byKind[pathKind(path)]++
	s.bytes += n
}

// Stats returns the counts since the index was made or ResetStats.
func (ix *Index) Stats() Stats {
	ix.stats.mu.Lock()
	defer ix.stats.mu.Unlock()
	return Stats{Requests: ix.stats.requests, ByStatus: maps.Clone(ix.stats.byStatus), Bytes: ix.stats.bytes,
		ByPath: maps.Clone(ix.stats.byKind)}
}

// ResetStats sets the counts to zero.
func (ix *Index) ResetStats() {
	ix.stats.mu.Lock()
	defer ix.stats.mu.Unlock()
	ix.stats.requests, ix.stats.bytes, ix.stats.byStatus, ix.stats.byKind = 0, 0, nil, nil
}

// countingWriter notes the status and body bytes of a response.
type countingWriter struct {
	http.ResponseWriter
	code int
	n    int64
}

func (c *countingWriter) WriteHeader(code int) {
	if c.code == 0 {
		c.code = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *countingWriter) Write(b []byte) (int, error) {
	if c.code == 0 {
		c.code = http.StatusOK
	}
	n, err := c.ResponseWriter.Write(b)
	c.n += int64(n)
	return n, err
}

func (c *countingWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// instrument counts every request and lets injected faults answer.
func (ix *Index) instrument(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &countingWriter{ResponseWriter: w}
		defer func() {
			code := cw.code
			if code == 0 {
				code = http.StatusOK
			}
			ix.stats.record(r.URL.Path, code, cw.n)
		}()
		if f := ix.faults.take(r.URL.Path); f != nil {
			ix.serveFault(cw, r, h, f)
			return
		}
		h.ServeHTTP(cw, r)
	})
}
