package crawler_test

// The crawler is tested over real HTTP against the project's own local
// index, with a recording wrapper in front of it to count requests and to
// inject faults.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pysmoke/pysmoke/crawler"
	"github.com/pysmoke/pysmoke/localindex"
	"github.com/pysmoke/pysmoke/store"
)

// recorder counts requests and lets a test rewrite them.
type recorder struct {
	next     http.Handler
	mu       sync.Mutex
	statuses map[string][]int // path -> statuses answered
	rewrite  func(w http.ResponseWriter, r *http.Request) bool
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(c int) { s.code = c; s.ResponseWriter.WriteHeader(c) }

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w, code: 200}
	rc.mu.Lock()
	rw := rc.rewrite
	rc.mu.Unlock()
	if rw == nil || !rw(sw, r) {
		rc.next.ServeHTTP(sw, r)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.statuses[r.URL.Path] = append(rc.statuses[r.URL.Path], sw.code)
}

func (rc *recorder) count(prefix string) int {
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

func (rc *recorder) last(path string) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	s := rc.statuses[path]
	if len(s) == 0 {
		return 0
	}
	return s[len(s)-1]
}

func (rc *recorder) setRewrite(f func(w http.ResponseWriter, r *http.Request) bool) {
	rc.mu.Lock()
	rc.rewrite = f
	rc.mu.Unlock()
}

// queued records what the crawler hands on (a fake of the consumer: the
// real queue is exercised by the service's end-to-end test).
type queued struct {
	mu       sync.Mutex
	releases []store.Release
}

func (q *queued) EnqueueRelease(_ context.Context, r store.Release) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.releases = append(q.releases, r)
	return nil
}

func (q *queued) versions() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []string
	for _, r := range q.releases {
		out = append(out, r.Project+" "+r.Version)
	}
	return out
}

type fixture struct {
	ix      *localindex.Index
	rec     *recorder
	srv     *httptest.Server
	st      *store.Store
	q       *queued
	c       *crawler.Crawler
	mirror  string
	samples string
	tmp     string
}

func newFixture(t *testing.T, allow ...string) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{tmp: t.TempDir(), samples: "../testdata/samples"}
	var err error
	f.ix, err = localindex.New(filepath.Join(f.tmp, "index"), localindex.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f.rec = &recorder{next: f.ix.Handler(), statuses: map[string][]int{}}
	f.srv = httptest.NewServer(f.rec)
	t.Cleanup(f.srv.Close)
	f.st, err = store.Open(ctx, filepath.Join(f.tmp, "db.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.st.Close() })
	f.q = &queued{}
	f.mirror = filepath.Join(f.tmp, "mirror")
	f.c, err = crawler.New(crawler.Options{IndexURL: f.srv.URL, MirrorDir: f.mirror, MaxRetryWait: 50 * time.Millisecond},
		f.st, f.q, func() []string { return allow })
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// publish adds a sample's sdist (or wheel) to the index as version v.
func (f *fixture) publish(t *testing.T, sample, v string, wheel bool) []byte {
	t.Helper()
	out := filepath.Join(f.tmp, "built")
	var p string
	var err error
	if wheel {
		p, err = localindex.WriteWheel(out, filepath.Join(f.samples, sample), sample, v)
	} else {
		p, err = localindex.WriteSdist(out, filepath.Join(f.samples, sample), sample, v)
	}
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.ix.AddFile(filepath.Base(p), data); err != nil {
		t.Fatal(err)
	}
	return data
}

func (f *fixture) release(t *testing.T, project, version string) store.Release {
	t.Helper()
	r, err := f.st.Release(context.Background(), project, version)
	if err != nil {
		t.Fatalf("release %s %s: %v", project, version, err)
	}
	return r
}

func TestNewReleaseIsFetchedVerifiedAndQueued(t *testing.T) {
	f := newFixture(t, "smokegood")
	data := f.publish(t, "smokegood", "1.0", false)
	f.publish(t, "usesimp", "1.0", false) // not allowlisted
	ctx := context.Background()
	if err := f.c.PollAll(ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.q.versions(); len(got) != 1 || got[0] != "smokegood 1.0" {
		t.Fatalf("queued %v, want [smokegood 1.0]", got)
	}
	r := f.release(t, "smokegood", "1.0")
	sum := sha256.Sum256(data)
	if r.State != store.StateQueued || r.SdistSHA256 != hex.EncodeToString(sum[:]) || r.SdistFile != "smokegood-1.0.tar.gz" {
		t.Fatalf("release = %+v", r)
	}
	mirrored, err := os.ReadFile(crawler.MirrorPath(f.mirror, r.SdistSHA256, r.SdistFile))
	if err != nil || string(mirrored) != string(data) {
		t.Fatalf("mirror copy differs or missing: %v", err)
	}
	// Nothing of a project off the allowlist is fetched.
	if n := f.rec.count("/simple/usesimp"); n != 0 {
		t.Errorf("%d requests for a project not on the allowlist", n)
	}
	files := f.rec.count("/packages/")
	if files != 1 {
		t.Errorf("%d file downloads, want 1", files)
	}
	// The second poll is conditional and answered 304; nothing is queued
	// or downloaded again.
	if err := f.c.PollAll(ctx); err != nil {
		t.Fatal(err)
	}
	if code := f.rec.last("/simple/smokegood/"); code != http.StatusNotModified {
		t.Errorf("second poll answered %d, want 304", code)
	}
	if n := len(f.q.versions()); n != 1 {
		t.Errorf("queued %d times", n)
	}
	if n := f.rec.count("/packages/"); n != files {
		t.Errorf("file downloaded again")
	}
	// A new release is found on the next poll.
	f.publish(t, "smokegood", "1.1", false)
	if err := f.c.PollAll(ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.q.versions(); len(got) != 2 || got[1] != "smokegood 1.1" {
		t.Fatalf("queued %v", got)
	}
}

func TestHTMLOnlyIndex(t *testing.T) {
	f := newFixture(t, "smokegood")
	f.publish(t, "smokegood", "1.0", false)
	// A static mirror serves only HTML whatever the client asks for.
	f.rec.setRewrite(func(w http.ResponseWriter, r *http.Request) bool {
		r.Header.Del("Accept")
		return false
	})
	if err := f.c.PollAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := f.q.versions(); len(got) != 1 || got[0] != "smokegood 1.0" {
		t.Fatalf("queued %v", got)
	}
	if r := f.release(t, "smokegood", "1.0"); len(r.SdistSHA256) != 64 {
		t.Fatalf("hash not read from the HTML fragment: %+v", r)
	}
}

func TestHashMismatchIsRefused(t *testing.T) {
	f := newFixture(t, "smokegood")
	f.publish(t, "smokegood", "1.0", false)
	f.rec.setRewrite(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasPrefix(r.URL.Path, "/packages/") {
			w.Write([]byte("not the bytes the index hashed"))
			return true
		}
		return false
	})
	if err := f.c.PollAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := f.q.versions(); len(got) != 0 {
		t.Fatalf("queued %v despite a hash mismatch", got)
	}
	r := f.release(t, "smokegood", "1.0")
	if r.State != store.StateBad || !strings.Contains(r.StateReason, "SHA-256 mismatch") {
		t.Fatalf("release = %+v, want state bad with the mismatch", r)
	}
	entries, _ := filepath.Glob(filepath.Join(f.mirror, "*", "*", "*"))
	if len(entries) != 0 {
		t.Fatalf("mismatching bytes left in the mirror: %v", entries)
	}
}

func TestWheelFirstSdistLater(t *testing.T) {
	f := newFixture(t, "smokegood")
	f.publish(t, "smokegood", "1.0", true)
	ctx := context.Background()
	if err := f.c.PollAll(ctx); err != nil {
		t.Fatal(err)
	}
	if r := f.release(t, "smokegood", "1.0"); r.State != store.StateFound {
		t.Fatalf("wheel-only release state %q, want held as found", r.State)
	}
	if got := f.q.versions(); len(got) != 0 {
		t.Fatalf("queued %v before the sdist", got)
	}
	f.publish(t, "smokegood", "1.0", false)
	if err := f.c.PollAll(ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.q.versions(); len(got) != 1 {
		t.Fatalf("queued %v after the sdist arrived", got)
	}
}

func TestBackfillTakesLatestOnly(t *testing.T) {
	f := newFixture(t, "smokegood")
	for _, v := range []string{"0.9", "1.0", "1.2", "1.10", "2.0rc1"} {
		f.publish(t, "smokegood", v, false)
	}
	if err := f.c.PollAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(f.q.versions(), ",")
	// PEP 440 order: 2.0rc1 > 1.10 > 1.2 > 1.0 > 0.9; default backfill 3.
	if got != "smokegood 2.0rc1,smokegood 1.10,smokegood 1.2" {
		t.Fatalf("backfilled %s", got)
	}
	if r := f.release(t, "smokegood", "2.0rc1"); !r.Prerelease {
		t.Error("2.0rc1 not flagged as a pre-release")
	}
}

func TestRetriesServerErrors(t *testing.T) {
	f := newFixture(t, "smokegood")
	f.publish(t, "smokegood", "1.0", false)
	var fails atomic.Int32
	f.rec.setRewrite(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/simple/smokegood/" && fails.Add(1) <= 2 {
			w.Header().Set("Retry-After", "3600") // capped by MaxRetryWait
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	start := time.Now()
	if err := f.c.PollAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > time.Minute {
		t.Error("Retry-After was not capped")
	}
	if got := f.q.versions(); len(got) != 1 {
		t.Fatalf("queued %v after retries", got)
	}
}

func TestUpdatesFeedHint(t *testing.T) {
	f := newFixture(t, "smokegood")
	f.publish(t, "smokegood", "1.0", false)
	f.publish(t, "usesimp", "1.0", false)
	if err := f.c.PollUpdates(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := f.q.versions(); len(got) != 1 || got[0] != "smokegood 1.0" {
		t.Fatalf("queued %v from the feed hint", got)
	}
	if n := f.rec.count("/simple/usesimp"); n != 0 {
		t.Errorf("polled a project off the allowlist")
	}
}

func TestUnknownProjectRecordsError(t *testing.T) {
	f := newFixture(t, "no-such-project")
	err := f.c.PollAll(context.Background())
	if err == nil || !strings.Contains(err.Error(), "not on the index") {
		t.Fatalf("err = %v", err)
	}
	cs, _ := f.st.CrawlState(context.Background(), "no-such-project")
	if !strings.Contains(cs.LastError, "not on the index") {
		t.Fatalf("crawl state = %+v", cs)
	}
}
