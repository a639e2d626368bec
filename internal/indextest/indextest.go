// Package indextest serves the project's own local index over real HTTP
// for the tests of its clients (the index client, the crawler), in both
// of its modes: as pypi.org (PEP 691 JSON and PEP 503 HTML, feeds, the
// JSON API, files from a second address) and as a static mirror (HTML
// only, relative links, the serial only in the page). A recorder in front
// of each address counts requests per path and notes what clients sent.
package indextest

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pysmoke/pysmoke/index"
	"github.com/pysmoke/pysmoke/localindex"
)

// Mode is how the local index behaves.
type Mode struct {
	Name   string
	Static bool
}

var (
	PyPI   = Mode{"pypi", false}
	Static = Mode{"static-mirror", true}
	Modes  = []Mode{PyPI, Static}
)

// EachMode runs test once per mode, as a subtest.
func EachMode(t *testing.T, test func(t *testing.T, m Mode)) {
	for _, m := range Modes {
		t.Run(m.Name, func(t *testing.T) { test(t, m) })
	}
}

// Recorder counts requests per path with their statuses, and notes the
// User-Agent and Accept headers clients sent.
type Recorder struct {
	next     http.Handler
	mu       sync.Mutex
	statuses map[string][]int
	agents   map[string]bool
	accepts  map[string]bool
	observe  func(w http.ResponseWriter, r *http.Request) // after each answer, if set
}

// NewRecorder records the requests next answers.
func NewRecorder(next http.Handler) *Recorder {
	return &Recorder{next: next, statuses: map[string][]int{}, agents: map[string]bool{}, accepts: map[string]bool{}}
}

// SetObserve installs a function called after each answer.
func (rc *Recorder) SetObserve(f func(w http.ResponseWriter, r *http.Request)) {
	rc.mu.Lock()
	rc.observe = f
	rc.mu.Unlock()
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(c int) {
	if s.code == 0 {
		s.code = c
	}
	s.ResponseWriter.WriteHeader(c)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Flush() { s.ResponseWriter.(http.Flusher).Flush() }

func (rc *Recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		code := sw.code
		if code == 0 {
			code = -1 // connection dropped
		}
		rc.statuses[r.URL.Path] = append(rc.statuses[r.URL.Path], code)
		rc.agents[r.UserAgent()] = true
		rc.accepts[r.Header.Get("Accept")] = true
		if rc.observe != nil {
			rc.observe(w, r)
		}
	}()
	rc.next.ServeHTTP(sw, r)
}

// Count is the number of requests for paths starting with prefix.
func (rc *Recorder) Count(prefix string) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	n := 0
	for p, s := range rc.statuses {
		if strings.HasPrefix(p, prefix) {
			n += len(s)
		}
	}
	return n
}

// Last is the status of the last request for path.
func (rc *Recorder) Last(path string) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	s := rc.statuses[path]
	if len(s) == 0 {
		return 0
	}
	return s[len(s)-1]
}

// Agents are the User-Agent headers clients sent.
func (rc *Recorder) Agents() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []string
	for a := range rc.agents {
		out = append(out, a)
	}
	return out
}

// Accepted reports whether a client sent this Accept header.
func (rc *Recorder) Accepted(accept string) bool {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.accepts[accept]
}

// Clock is a settable clock shared by the index (upload times) and its
// clients (discovery times, the 14-day window).
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock starts a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Server is a local index served over HTTP in one mode.
type Server struct {
	Mode    Mode
	Index   *localindex.Index
	Rec     *Recorder        // in front of the index's address
	FilesRc *Recorder        // in front of the files' address (pypi mode)
	Srv     *httptest.Server // the index
	Files   *httptest.Server // nil in static-mirror mode: files come from Srv
	Clock   *Clock           // the index's clock
	Dir     string           // the test's folder for the index and what it publishes
}

// NewServer starts a local index in mode m, closed when the test ends.
func NewServer(t testing.TB, m Mode) *Server {
	t.Helper()
	s := &Server{Mode: m, Dir: t.TempDir(), Clock: NewClock(time.Date(2026, 8, 21, 16, 57, 37, 0, time.UTC))}
	opts := localindex.Options{StaticMirror: m.Static, Now: s.Clock.Now}
	if !m.Static {
		// Files from a second address, as pypi.org links files.pythonhosted.org.
		s.FilesRc = NewRecorder(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.Index.FilesHandler().ServeHTTP(w, r)
		}))
		s.Files = httptest.NewServer(s.FilesRc)
		t.Cleanup(s.Files.Close)
		opts.FilesBaseURL = s.Files.URL
	}
	var err error
	s.Index, err = localindex.New(filepath.Join(s.Dir, "index"), opts)
	if err != nil {
		t.Fatal(err)
	}
	s.Rec = NewRecorder(s.Index.Handler())
	s.Srv = httptest.NewServer(s.Rec)
	t.Cleanup(s.Srv.Close)
	return s
}

// ClientOptions are quick options for a client of the server, keeping its
// mirror in mirror: tiny retry waits, no rate limit, the default number
// of retries named (tests count the requests it makes).
func (s *Server) ClientOptions(mirror string) index.Options {
	return index.Options{URL: s.Srv.URL, MirrorDir: mirror, Retries: 4, MaxRetryWait: 20 * time.Millisecond, RateLimit: -1}
}

// FileRequests counts downloads of files, wherever they are served.
func (s *Server) FileRequests() int {
	if s.FilesRc != nil {
		return s.FilesRc.Count("/packages/") + s.Rec.Count("/packages/")
	}
	return s.Rec.Count("/packages/")
}

// PublishSample adds a sample's real sdist (or wheel) to the index as
// version v, and returns its bytes.
func (s *Server) PublishSample(t testing.TB, sample, v string, wheel bool) []byte {
	t.Helper()
	out := filepath.Join(s.Dir, "built")
	src := filepath.Join("../testdata/samples", sample)
	var p string
	var err error
	if wheel {
		p, err = localindex.WriteWheel(out, src, sample, v)
	} else {
		p, err = localindex.WriteSdist(out, src, sample, v)
	}
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Index.AddFile(filepath.Base(p), data); err != nil {
		t.Fatal(err)
	}
	return data
}

// Publish adds a small file (its clients do not look inside) named for
// project, version and kind: ".tar.gz", ".zip" or ".whl".
func (s *Server) Publish(t testing.TB, project, version, kind string) (string, []byte) {
	t.Helper()
	stem := strings.ReplaceAll(project, "-", "_") + "-" + version
	name := stem + kind
	if kind == ".whl" {
		name = stem + "-py3-none-any.whl"
	}
	data := []byte("the bytes of " + name + "\n")
	if err := s.Index.AddFile(name, data); err != nil {
		t.Fatal(err)
	}
	return name, data
}

// SHA256 is the hex SHA-256 of b.
func SHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
