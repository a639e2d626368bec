package crawler_test

// The crawler is tested over real HTTP against the project's own local
// index, in both its modes: as pypi.org (PEP 691 JSON and PEP 503 HTML,
// feeds, JSON API, files from a second address) and as a static mirror
// (HTML only, relative links, the serial only in the page). A recorder in
// front of the index counts requests per path and notes what clients sent.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pysmoke/pysmoke/crawler"
	"github.com/pysmoke/pysmoke/index"
	"github.com/pysmoke/pysmoke/internal/indextest"
	"github.com/pysmoke/pysmoke/localindex"
	"github.com/pysmoke/pysmoke/store"
)

// The local index's modes, its recorder and its clock are indextest's.
type (
	mode     = indextest.Mode
	recorder = indextest.Recorder
	clock    = indextest.Clock
)

var (
	pypiMode   = indextest.PyPI
	staticMode = indextest.Static
	modes      = indextest.Modes
)

// queued records what the crawler hands on (a fake of the consumer: the
// real queue is exercised by the service's end-to-end test).
type queued struct {
	mu       sync.Mutex
	releases []store.Release
	fail     error
}

var _ crawler.Enqueuer = (*queued)(nil)

func (q *queued) EnqueueRelease(_ context.Context, r store.Release) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.fail != nil {
		return q.fail
	}
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

func (q *queued) setFail(err error) {
	q.mu.Lock()
	q.fail = err
	q.mu.Unlock()
}

type fixture struct {
	*indextest.Server
	mode    mode
	ix      *localindex.Index
	rec     *recorder // in front of the index's address
	filesRc *recorder // in front of the files' address (pypi mode)
	srv     *httptest.Server
	files   *httptest.Server // nil in static-mirror mode: files come from srv
	st      *store.Store
	q       *queued
	c       *crawler.Crawler
	client  *index.Client
	opts    crawler.Options
	ixOpts  index.Options
	clock   *clock
	mirror  string
	tmp     string

	allowMu sync.Mutex
	allow   []string
}

// testOptions are quick: tiny stale-page delays (and the client's quick
// options).
func testOptions() crawler.Options {
	return crawler.Options{
		StaleRetryDelays: []time.Duration{5 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond},
	}
}

// testLogger writes the crawler's log to the test's log (shown on
// failure or with -v).
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(b), "\n"))
	return len(b), nil
}

// tweak changes a fixture's options before its crawler is made.
type tweak func(c *crawler.Options, ix *index.Options)

func newFixture(t *testing.T, m mode, allow []string, tweaks ...tweak) *fixture {
	t.Helper()
	ctx := context.Background()
	srv := indextest.NewServer(t, m)
	f := &fixture{Server: srv, mode: m, tmp: srv.Dir, allow: allow, q: &queued{},
		ix: srv.Index, rec: srv.Rec, filesRc: srv.FilesRc, srv: srv.Srv, files: srv.Files, clock: srv.Clock}
	var err error
	f.st, err = store.Open(ctx, filepath.Join(f.tmp, "db.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.st.Close() })
	f.mirror = filepath.Join(f.tmp, "mirror")
	f.opts, f.ixOpts = testOptions(), srv.ClientOptions(f.mirror)
	f.opts.Now = f.clock.Now
	f.opts.Logger = testLogger(t)
	f.ixOpts.Logger = f.opts.Logger
	for _, tw := range tweaks {
		tw(&f.opts, &f.ixOpts)
	}
	client, err := index.New(f.ixOpts)
	if err != nil {
		t.Fatal(err)
	}
	f.client = client
	f.c, err = crawler.New(f.opts, client, f.st, f.q, f.allowed)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) allowed() []string {
	f.allowMu.Lock()
	defer f.allowMu.Unlock()
	return slices.Clone(f.allow)
}

func (f *fixture) setAllow(names ...string) {
	f.allowMu.Lock()
	f.allow = names
	f.allowMu.Unlock()
}

func (f *fixture) pollAll(t *testing.T) {
	t.Helper()
	if err := f.c.PollAll(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) release(t *testing.T, project, version string) store.Release {
	t.Helper()
	r, err := f.st.Release(context.Background(), project, version)
	if err != nil {
		t.Fatalf("release %s %s: %v", project, version, err)
	}
	return r
}

func (f *fixture) noRelease(t *testing.T, project, version string) {
	t.Helper()
	if r, err := f.st.Release(context.Background(), project, version); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("release %s %s recorded: %+v (%v)", project, version, r, err)
	}
}

func (f *fixture) state(t *testing.T, project string) store.ProjectState {
	t.Helper()
	ps, err := f.st.ProjectState(context.Background(), project)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func (f *fixture) knownFiles(t *testing.T, project string) map[string]store.KnownFile {
	t.Helper()
	kf, err := f.st.KnownFiles(context.Background(), project)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]store.KnownFile{}
	for _, k := range kf {
		out[k.Filename] = k
	}
	return out
}

// mirrored lists the files in the mirror.
func (f *fixture) mirrored(t *testing.T) []string {
	t.Helper()
	entries, _ := filepath.Glob(filepath.Join(f.mirror, "*", "*", "*"))
	var out []string
	for _, e := range entries {
		if !strings.HasPrefix(filepath.Base(e), ".") {
			out = append(out, filepath.Base(e))
		}
	}
	return out
}

func sha(b []byte) string { return indextest.SHA256(b) }

func eachMode(t *testing.T, test func(t *testing.T, m mode)) { indextest.EachMode(t, test) }

func TestNewReleaseIsFetchedVerifiedAndQueued(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		f := newFixture(t, m, []string{"smokegood"})
		data := f.PublishSample(t, "smokegood", "1.0", false)
		f.PublishSample(t, "usesimp", "1.0", false) // not allowlisted
		f.pollAll(t)
		if got := f.q.versions(); len(got) != 1 || got[0] != "smokegood 1.0" {
			t.Fatalf("queued %v, want [smokegood 1.0]", got)
		}
		r := f.release(t, "smokegood", "1.0")
		if r.State != store.StateQueued || r.SdistSHA256 != sha(data) || r.SdistFile != "smokegood-1.0.tar.gz" || r.Prerelease || r.Yanked {
			t.Fatalf("release = %+v", r)
		}
		mirrored, err := os.ReadFile(index.MirrorPath(f.mirror, r.SdistSHA256, r.SdistFile))
		if err != nil || string(mirrored) != string(data) {
			t.Fatalf("mirror copy differs or missing: %v", err)
		}
		// Files come from the files address in pypi mode.
		if m.Static {
			if !strings.HasPrefix(r.SdistURL, f.srv.URL+"/packages/") {
				t.Errorf("sdist URL %s: the relative link was not resolved against the page", r.SdistURL)
			}
		} else if !strings.HasPrefix(r.SdistURL, f.files.URL+"/packages/") || f.filesRc.Count("/packages/") != 1 {
			t.Errorf("sdist URL %s, %d downloads from the files address", r.SdistURL, f.filesRc.Count("/packages/"))
		}
		// Nothing of a project off the allowlist is fetched.
		if n := f.rec.Count("/simple/usesimp"); n != 0 {
			t.Errorf("%d requests for a project not on the allowlist", n)
		}
		if n := f.FileRequests(); n != 1 {
			t.Errorf("%d file downloads, want 1", n)
		}
		for _, ua := range f.rec.Agents() {
			if ua != index.UserAgent {
				t.Errorf("User-Agent %q", ua)
			}
		}
		if ps := f.state(t, "smokegood"); ps.ETag == "" || ps.LastSerial == 0 || ps.SyncedAt.IsZero() || ps.Pending {
			t.Errorf("project state %+v", ps)
		}

		// The second poll is conditional and answered 304; nothing is
		// queued or downloaded again.
		before := f.client.Stats()
		f.pollAll(t)
		if code := f.rec.Last("/simple/smokegood/"); code != http.StatusNotModified {
			t.Errorf("second poll answered %d, want 304", code)
		}
		if after := f.client.Stats(); after.NotModified-before.NotModified != 1 || after.Errors != 0 {
			t.Errorf("the client counted %d answers 304 (want 1) and %d errors", after.NotModified-before.NotModified, after.Errors)
		}
		if n := len(f.q.versions()); n != 1 {
			t.Errorf("queued %d times", n)
		}
		if n := f.FileRequests(); n != 1 {
			t.Errorf("file downloaded again")
		}
		// A new release is found on the next poll.
		f.PublishSample(t, "smokegood", "1.1", false)
		f.pollAll(t)
		if got := f.q.versions(); len(got) != 2 || got[1] != "smokegood 1.1" {
			t.Fatalf("queued %v", got)
		}
	})
}

// TestSimpleFormatsAgree reads one project through the JSON page, the
// HTML page and the static mirror's relative HTML: the crawler must learn
// the same files, hashes and releases from each.
func TestSimpleFormatsAgree(t *testing.T) {
	type view struct {
		files   map[string]string // filename -> sha256
		yanked  map[string]bool
		rp      map[string]string
		queued  []string
		release map[string]string // version -> state
	}
	read := func(t *testing.T, m mode, htmlOnly bool) (view, *fixture) {
		f := newFixture(t, m, []string{"smokegood"}, func(o *crawler.Options, ix *index.Options) { ix.HTMLOnly = htmlOnly; o.Backfill = 10 })
		f.PublishSample(t, "smokegood", "1.0", false)
		f.PublishSample(t, "smokegood", "1.0", true)
		f.PublishSample(t, "smokegood", "2.0b1", false)
		f.PublishSample(t, "smokegood", "1.1", true) // wheel only
		f.Publish(t, "smokegood", "0.9", ".zip")
		if err := f.ix.Yank("smokegood", "1.0", `broken "build" <x>`); err != nil {
			t.Fatal(err)
		}
		f.pollAll(t)
		v := view{files: map[string]string{}, yanked: map[string]bool{}, rp: map[string]string{}, release: map[string]string{}}
		for name, k := range f.knownFiles(t, "smokegood") {
			v.files[name], v.yanked[name], v.rp[name] = k.SHA256, k.Yanked, k.RequiresPython
		}
		v.queued = f.q.versions()
		rels, _ := f.st.Releases(context.Background(), "smokegood")
		for _, r := range rels {
			v.release[r.Version] = r.State
		}
		return v, f
	}
	jsonView, f := read(t, pypiMode, false)
	if !f.rec.Accepted("application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01") {
		t.Error("the crawler did not ask for JSON first")
	}
	htmlView, _ := read(t, pypiMode, true)
	staticView, _ := read(t, staticMode, false)
	if len(jsonView.files) != 5 || !jsonView.yanked["smokegood-1.0.tar.gz"] || jsonView.yanked["smokegood-1.1-py2.py3-none-any.whl"] {
		t.Fatalf("JSON view %+v", jsonView)
	}
	want := map[string]string{"2.0b1": "queued", "1.1": "found", "1.0": "queued", "0.9": "queued"}
	if fmt.Sprint(jsonView.release) != fmt.Sprint(want) {
		t.Errorf("releases %v, want %v", jsonView.release, want)
	}
	for name, v := range map[string]view{"HTML": htmlView, "static HTML": staticView} {
		if fmt.Sprint(v.files) != fmt.Sprint(jsonView.files) || fmt.Sprint(v.yanked) != fmt.Sprint(jsonView.yanked) ||
			fmt.Sprint(v.rp) != fmt.Sprint(jsonView.rp) || fmt.Sprint(v.release) != fmt.Sprint(jsonView.release) ||
			fmt.Sprint(v.queued) != fmt.Sprint(jsonView.queued) {
			t.Errorf("%s view differs from JSON:\n%+v\n%+v", name, v, jsonView)
		}
	}
}

func TestBackfillTakesLatestOnlyAndHistoryStaysHistory(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		f := newFixture(t, m, []string{"smokegood"})
		for _, v := range []string{"0.9", "1.0", "1.2", "1.10", "2.0rc1"} {
			f.Publish(t, "smokegood", v, ".tar.gz")
		}
		f.pollAll(t)
		got := strings.Join(f.q.versions(), ",")
		// PEP 440 order: 2.0rc1 > 1.10 > 1.2 > 1.0 > 0.9; default backfill 3.
		if got != "smokegood 2.0rc1,smokegood 1.10,smokegood 1.2" {
			t.Fatalf("backfilled %s", got)
		}
		if r := f.release(t, "smokegood", "2.0rc1"); !r.Prerelease {
			t.Error("2.0rc1 not flagged as a pre-release")
		}
		// Older releases are history: a later change of the page (a file
		// added to one of them, a new release) does not make them news.
		f.Publish(t, "smokegood", "1.0", ".whl")
		f.Publish(t, "smokegood", "2.0", ".tar.gz")
		f.pollAll(t)
		if got := strings.Join(f.q.versions(), ","); got != "smokegood 2.0rc1,smokegood 1.10,smokegood 1.2,smokegood 2.0" {
			t.Fatalf("after a change: queued %s", got)
		}
		f.noRelease(t, "smokegood", "1.0")
		f.noRelease(t, "smokegood", "0.9")
		if k := f.knownFiles(t, "smokegood"); len(k) != 7 {
			t.Errorf("%d known files, want all 7", len(k))
		}
	})
}

func TestWheelFirstSdistLater(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		f := newFixture(t, m, []string{"smokegood"})
		f.PublishSample(t, "smokegood", "1.0", false)
		f.pollAll(t)
		f.PublishSample(t, "smokegood", "1.1", true)
		f.pollAll(t)
		if r := f.release(t, "smokegood", "1.1"); r.State != store.StateFound {
			t.Fatalf("wheel-only release state %q, want held as found", r.State)
		}
		if !f.state(t, "smokegood").Pending {
			t.Error("a held release does not make the project pending")
		}
		if got := f.q.versions(); len(got) != 1 {
			t.Fatalf("queued %v before the sdist", got)
		}
		f.clock.Advance(3 * 24 * time.Hour) // within the 14 days
		f.PublishSample(t, "smokegood", "1.1", false)
		f.pollAll(t)
		if got := f.q.versions(); len(got) != 2 || got[1] != "smokegood 1.1" {
			t.Fatalf("queued %v after the sdist arrived", got)
		}
		if r := f.release(t, "smokegood", "1.1"); r.State != store.StateQueued {
			t.Fatalf("state %q", r.State)
		}
		if f.state(t, "smokegood").Pending {
			t.Error("still pending once queued")
		}
	})
}

// TestWheelOnlyRelease: a release that never gets an sdist is held, then
// recorded as "no sdist" once files can no longer be added (14 days after
// its first upload), never as a failure. The upload time comes from the
// JSON page, else the JSON API, else the project feed, else (a static
// mirror has none of them) the time the crawler first saw the release.
func TestWheelOnlyRelease(t *testing.T) {
	cases := []struct {
		name     string
		mode     mode
		htmlOnly bool
		noJSON   bool // the JSON API answers 404
		source   string
	}{
		{"JSON page", pypiMode, false, false, ""},
		{"HTML page and JSON API", pypiMode, true, false, "/pypi/"},
		{"HTML page and project feed", pypiMode, true, true, "/rss/project/"},
		{"static mirror", staticMode, false, false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, c.mode, []string{"smokegood"}, func(_ *crawler.Options, ix *index.Options) { ix.HTMLOnly = c.htmlOnly })
			uploaded := f.clock.Now()
			f.PublishSample(t, "smokegood", "1.0", true)
			if c.noJSON {
				f.ix.InjectFault("/pypi/", localindex.Fault{Status: http.StatusNotFound})
			}
			// The crawler first sees it 10 days after the upload.
			f.clock.Advance(10 * 24 * time.Hour)
			f.pollAll(t)
			r := f.release(t, "smokegood", "1.0")
			if r.State != store.StateFound {
				t.Fatalf("state %q, want held", r.State)
			}
			if c.mode.Static {
				if !r.UploadedAt.IsZero() {
					t.Errorf("upload time %v from a static mirror that does not say", r.UploadedAt)
				}
			} else if !r.UploadedAt.Equal(uploaded) {
				t.Errorf("upload time %v, want %v", r.UploadedAt, uploaded)
			}
			if c.source != "" && f.rec.Count(c.source) == 0 {
				t.Errorf("upload time not read from %s", c.source)
			}
			// 15 days after the upload: closed (except on the static
			// mirror, where the window runs from discovery).
			f.clock.Advance(5 * 24 * time.Hour)
			f.pollAll(t)
			if code := f.rec.Last("/simple/smokegood/"); code != http.StatusNotModified {
				t.Errorf("poll answered %d: the page did not change", code)
			}
			r = f.release(t, "smokegood", "1.0")
			want := store.StateNoSdist
			if c.mode.Static {
				want = store.StateFound
			}
			if r.State != want {
				t.Fatalf("15 days after upload: state %q, want %q", r.State, want)
			}
			f.clock.Advance(10 * 24 * time.Hour)
			f.pollAll(t)
			if r = f.release(t, "smokegood", "1.0"); r.State != store.StateNoSdist || !strings.Contains(r.StateReason, "no sdist") {
				t.Fatalf("25 days after upload: %+v", r)
			}
			if f.state(t, "smokegood").Pending {
				t.Error("still pending after the end state")
			}
			if len(f.q.versions()) != 0 || f.FileRequests() != 0 {
				t.Error("something was queued or downloaded")
			}
		})
	}
}

func TestSeveralSdistsPreferTarGz(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		f := newFixture(t, m, []string{"multi"})
		f.Publish(t, "multi", "1.0", ".zip")
		f.Publish(t, "multi", "1.0", ".tar.gz")
		f.Publish(t, "multi", "1.0", ".whl")
		f.pollAll(t)
		if r := f.release(t, "multi", "1.0"); r.SdistFile != "multi-1.0.tar.gz" || r.State != store.StateQueued {
			t.Fatalf("release %+v", r)
		}
		if n := f.FileRequests(); n != 1 {
			t.Errorf("%d downloads, want only the .tar.gz", n)
		}
	})
}

func TestYankKeepsResults(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		ctx := context.Background()
		f := newFixture(t, m, []string{"smokegood"})
		f.PublishSample(t, "smokegood", "1.0", false)
		f.pollAll(t)
		cell := store.Cell{Project: "smokegood", Version: "1.0", Python: "3.12", Status: "passed"}
		if err := f.st.SaveCell(ctx, cell, nil); err != nil {
			t.Fatal(err)
		}
		if err := f.ix.Yank("smokegood", "1.0", "broken"); err != nil {
			t.Fatal(err)
		}
		f.pollAll(t)
		r := f.release(t, "smokegood", "1.0")
		if !r.Yanked || r.State != store.StateQueued {
			t.Fatalf("after the yank: %+v", r)
		}
		if k := f.knownFiles(t, "smokegood")["smokegood-1.0.tar.gz"]; !k.Yanked || (!m.Static && k.YankedReason != "broken") {
			t.Errorf("known file %+v", k)
		}
		if cells, _ := f.st.Cells(ctx, "smokegood", "1.0"); len(cells) != 1 {
			t.Errorf("results lost: %v", cells)
		}
		if err := f.ix.Unyank("smokegood", "1.0"); err != nil {
			t.Fatal(err)
		}
		f.pollAll(t)
		if r := f.release(t, "smokegood", "1.0"); r.Yanked {
			t.Error("still yanked after the yank was lifted")
		}
		if len(f.q.versions()) != 1 {
			t.Errorf("queued again: %v", f.q.versions())
		}
	})
}

func TestRemovals(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		ctx := context.Background()
		f := newFixture(t, m, []string{"smokegood"})
		f.PublishSample(t, "smokegood", "1.0", false)
		f.PublishSample(t, "smokegood", "1.0", true)
		f.PublishSample(t, "smokegood", "1.1", false)
		f.pollAll(t)
		if err := f.st.SaveCell(ctx, store.Cell{Project: "smokegood", Version: "1.0", Python: "3.12", Status: "passed"}, nil); err != nil {
			t.Fatal(err)
		}

		// One file of a release goes.
		if err := f.ix.Remove("smokegood-1.0-py2.py3-none-any.whl"); err != nil {
			t.Fatal(err)
		}
		f.pollAll(t)
		k := f.knownFiles(t, "smokegood")
		if k["smokegood-1.0-py2.py3-none-any.whl"].RemovedAt.IsZero() || !k["smokegood-1.0.tar.gz"].RemovedAt.IsZero() {
			t.Errorf("after removing the wheel: %+v", k)
		}
		if rm, _ := f.st.RemovedReleases(ctx, "smokegood"); len(rm) != 0 {
			t.Errorf("removed releases %v after removing one file", rm)
		}

		// Then the whole release.
		if err := f.ix.Remove("smokegood-1.0.tar.gz"); err != nil {
			t.Fatal(err)
		}
		f.pollAll(t)
		rm, _ := f.st.RemovedReleases(ctx, "smokegood")
		if _, ok := rm["1.0"]; !ok || len(rm) != 1 {
			t.Errorf("removed releases %v, want 1.0", rm)
		}
		r := f.release(t, "smokegood", "1.0")
		if r.State != store.StateQueued {
			t.Errorf("removed release's record changed: %+v", r)
		}
		if cells, _ := f.st.Cells(ctx, "smokegood", "1.0"); len(cells) != 1 {
			t.Error("results of a removed release lost")
		}
		if _, err := os.Stat(index.MirrorPath(f.mirror, r.SdistSHA256, r.SdistFile)); err != nil {
			t.Errorf("mirror copy of a removed release: %v", err)
		}

		// Then the project: a 404, confirmed, removes everything.
		if err := f.ix.Remove("smokegood-1.1.tar.gz"); err != nil {
			t.Fatal(err)
		}
		err := f.c.PollAll(ctx)
		if err == nil || !strings.Contains(err.Error(), "not on the index") {
			t.Fatalf("poll of a removed project: %v", err)
		}
		rm, _ = f.st.RemovedReleases(ctx, "smokegood")
		if len(rm) != 2 {
			t.Errorf("removed releases %v, want 1.0 and 1.1", rm)
		}
		if len(f.q.versions()) != 2 {
			t.Errorf("queued %v", f.q.versions())
		}
		// It comes back: its new release is news, the old files are listed again.
		f.PublishSample(t, "smokegood", "1.2", false)
		f.pollAll(t)
		if got := f.q.versions(); len(got) != 3 || got[2] != "smokegood 1.2" {
			t.Errorf("after the project came back: queued %v", got)
		}
	})
}

func TestUnknownProjectRecordsError(t *testing.T) {
	f := newFixture(t, pypiMode, []string{"no-such-project"})
	err := f.c.PollAll(context.Background())
	if err == nil || !strings.Contains(err.Error(), "not on the index") {
		t.Fatalf("err = %v", err)
	}
	if cs := f.state(t, "no-such-project"); !strings.Contains(cs.LastError, "not on the index") || !cs.SyncedAt.IsZero() {
		t.Fatalf("crawl state = %+v", cs)
	}
}

// TestRedirectsAreFollowed: an index moved behind a 301 (here the whole
// tree under /old/) is read through it, conditionally, and relative links
// are resolved against the page's final URL.
func TestRedirectsAreFollowed(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		f := newFixture(t, m, []string{"smokegood"})
		moved := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if rest, ok := strings.CutPrefix(r.URL.Path, "/old/"); ok {
				http.Redirect(w, r, f.srv.URL+"/"+rest, http.StatusMovedPermanently)
				return
			}
			http.NotFound(w, r) // /old/../packages/ would land here
		}))
		t.Cleanup(moved.Close)
		opts, ixOpts := testOptions(), f.ClientOptions(f.mirror)
		ixOpts.URL = moved.URL + "/old/"
		opts.Logger, ixOpts.Logger = testLogger(t), testLogger(t)
		client, err := index.New(ixOpts)
		if err != nil {
			t.Fatal(err)
		}
		c, err := crawler.New(opts, client, f.st, f.q, f.allowed)
		if err != nil {
			t.Fatal(err)
		}
		f.PublishSample(t, "smokegood", "1.0", false)
		if err := c.PollAll(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := f.q.versions(); len(got) != 1 {
			t.Fatalf("queued %v through a redirect", got)
		}
		if err := c.PollAll(context.Background()); err != nil {
			t.Fatal(err)
		}
		if code := f.rec.Last("/simple/smokegood/"); code != http.StatusNotModified {
			t.Errorf("conditional request through the redirect answered %d", code)
		}
	})
}
