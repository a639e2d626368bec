package crawler_test

// Every fault the local index can inject, against the crawler: after each
// one the crawler carries on, and records nothing false (no release that
// is not there, no removal of one that is, no "bad" for a transfer that
// merely broke off), and once the fault lifts it reaches the right state.

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pysmoke/pysmoke/crawler"
	"github.com/pysmoke/pysmoke/index"
	"github.com/pysmoke/pysmoke/localindex"
	"github.com/pysmoke/pysmoke/store"
)

// settled sets up a project the crawler has read once (1.0 queued), then
// publishes 1.1 for the poll under test.
func settled(t *testing.T, m mode, tweaks ...tweak) *fixture {
	t.Helper()
	f := newFixture(t, m, []string{"smokegood"}, tweaks...)
	f.PublishSample(t, "smokegood", "1.0", false)
	f.pollAll(t)
	f.PublishSample(t, "smokegood", "1.1", false)
	return f
}

// nothingFalse checks the state after a failed poll of a settled fixture:
// 1.0 still listed and queued, 1.1 not recorded, no file removed, and the
// failure noted.
func (f *fixture) nothingFalse(t *testing.T, err error, wantErr string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), wantErr) {
		t.Fatalf("poll error %v, want one about %q", err, wantErr)
	}
	if r := f.release(t, "smokegood", "1.0"); r.State != store.StateQueued {
		t.Errorf("1.0 changed: %+v", r)
	}
	f.noRelease(t, "smokegood", "1.1")
	for name, k := range f.knownFiles(t, "smokegood") {
		if !k.RemovedAt.IsZero() {
			t.Errorf("%s recorded as removed", name)
		}
	}
	if rm, _ := f.st.RemovedReleases(context.Background(), "smokegood"); len(rm) != 0 {
		t.Errorf("removed releases %v", rm)
	}
	if ps := f.state(t, "smokegood"); !strings.Contains(ps.LastError, wantErr) {
		t.Errorf("last error %q", ps.LastError)
	}
}

// recovers lifts every fault and checks that the next poll gets 1.1.
func (f *fixture) recovers(t *testing.T) {
	t.Helper()
	f.ix.ClearFaults()
	f.pollAll(t)
	if got := f.q.versions(); len(got) != 2 || got[1] != "smokegood 1.1" {
		t.Fatalf("after the fault lifted: queued %v", got)
	}
	if ps := f.state(t, "smokegood"); ps.LastError != "" {
		t.Errorf("last error %q after recovery", ps.LastError)
	}
}

func TestServerErrorsAreRetried(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		f := settled(t, m)
		// Two failures, then the page: the client's retries get through.
		// Retry-After: 3600 is capped by MaxRetryWait (else this test
		// would take two hours).
		f.ix.InjectFault("/simple/smokegood/", localindex.Fault{Status: http.StatusServiceUnavailable, RetryAfter: "3600", Times: 2})
		f.ix.InjectFault("/packages/", localindex.Fault{Status: http.StatusTooManyRequests, RetryAfter: "3600", Times: 1})
		f.pollAll(t)
		if got := f.q.versions(); len(got) != 2 {
			t.Fatalf("queued %v after retries", got)
		}
		if n := f.rec.Count("/simple/smokegood/"); n != 4 { // first poll, two 503s, the page
			t.Errorf("%d page requests, want 4", n)
		}
	})
}

func TestPersistentServerErrors(t *testing.T) {
	for _, code := range []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusTooManyRequests} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			f := settled(t, pypiMode)
			f.ix.InjectFault("/simple/smokegood/", localindex.Fault{Status: code, RetryAfter: "1"})
			before := f.client.Stats()
			err := f.c.PollAll(context.Background())
			f.nothingFalse(t, err, "HTTP")
			// The client's counters (the service's metrics): one request
			// failed, whatever its retries.
			if after := f.client.Stats(); after.Errors-before.Errors != 1 || after.Requests-before.Requests < 1 {
				t.Errorf("counted %d errors in %d requests, want 1 error", after.Errors-before.Errors, after.Requests-before.Requests)
			}
			// The settling poll's request, then this poll's first
			// attempt and every retry: the error is what the last one got.
			if n, want := f.rec.Count("/simple/smokegood/"), 1+1+f.ixOpts.Retries; n != want {
				t.Errorf("%d page requests, want %d", n, want)
			}
			f.recovers(t)
		})
	}
}

func TestTruncatedPage(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		f := settled(t, m)
		// Cut off once: retried at once by the client.
		f.ix.InjectFault("/simple/smokegood/", localindex.Fault{Truncate: true, Times: 1})
		f.pollAll(t)
		if got := f.q.versions(); len(got) != 2 {
			t.Fatalf("queued %v", got)
		}

		// Cut off every time: the poll fails, nothing is read from half a page.
		f.PublishSample(t, "smokegood", "1.2", false)
		f.ix.InjectFault("/simple/smokegood/", localindex.Fault{Truncate: true})
		err := f.c.PollAll(context.Background())
		if err == nil {
			t.Fatal("no error from a page cut off every time")
		}
		f.noRelease(t, "smokegood", "1.2")
		for name, k := range f.knownFiles(t, "smokegood") {
			if !k.RemovedAt.IsZero() {
				t.Errorf("%s recorded as removed", name)
			}
		}
		f.ix.ClearFaults()
		f.pollAll(t)
		if got := f.q.versions(); len(got) != 3 {
			t.Fatalf("after the fault: queued %v", got)
		}
	})
}

func TestTruncatedFile(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		f := settled(t, m)
		path, _ := f.ix.FilePath("smokegood-1.1.tar.gz")
		// Once: the client retries the download.
		f.ix.InjectFault(path, localindex.Fault{Truncate: true, Times: 1})
		f.pollAll(t)
		if r := f.release(t, "smokegood", "1.1"); r.State != store.StateQueued {
			t.Fatalf("after one cut-off transfer: %+v", r)
		}

		// Every time: a broken transfer is not a bad file. The release is
		// held, the project pending, and the next poll (a 304) tries again.
		f.PublishSample(t, "smokegood", "1.2", false)
		path, _ = f.ix.FilePath("smokegood-1.2.tar.gz")
		f.ix.InjectFault(path, localindex.Fault{Truncate: true})
		err := f.c.PollAll(context.Background())
		if err == nil || !strings.Contains(err.Error(), "download") {
			t.Fatalf("poll error %v", err)
		}
		r := f.release(t, "smokegood", "1.2")
		if r.State != store.StateFound {
			t.Fatalf("after a broken transfer: %+v, want held", r)
		}
		if bad, _ := f.st.BadFiles(context.Background(), "smokegood"); len(bad) != 0 {
			t.Errorf("a broken transfer recorded as a bad file: %+v", bad)
		}
		if got := f.mirrored(t); len(got) != 2 {
			t.Errorf("mirror holds %v", got)
		}
		f.ix.ClearFaults()
		f.pollAll(t)
		if code := f.rec.Last("/simple/smokegood/"); code != http.StatusNotModified {
			t.Errorf("retry poll answered %d, want 304 (the page did not change)", code)
		}
		if r := f.release(t, "smokegood", "1.2"); r.State != store.StateQueued {
			t.Fatalf("after the fault lifted: %+v", r)
		}
	})
}

func TestMalformedPage(t *testing.T) {
	cases := []struct {
		name     string
		mode     mode
		htmlOnly bool
	}{
		{"JSON", pypiMode, false},
		{"HTML", pypiMode, true},
		{"static HTML", staticMode, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := settled(t, c.mode, func(_ *crawler.Options, ix *index.Options) { ix.HTMLOnly = c.htmlOnly })
			f.ix.InjectFault("/simple/smokegood/", localindex.Fault{Malformed: true})
			err := f.c.PollAll(context.Background())
			f.nothingFalse(t, err, "malformed")
			f.recovers(t)
		})
	}
}

func TestMalformedFeeds(t *testing.T) {
	f := newFixture(t, pypiMode, []string{"smokegood"})
	f.PublishSample(t, "smokegood", "1.0", false)
	f.ix.InjectFault("/rss/", localindex.Fault{Malformed: true})
	if err := f.c.PollUpdates(context.Background()); err == nil || !strings.Contains(err.Error(), "malformed") {
		t.Fatalf("PollUpdates error %v", err)
	}
	if n := f.rec.Count("/simple/"); n != 0 || len(f.q.versions()) != 0 {
		t.Fatalf("acted on a malformed feed: %d polls, queued %v", n, f.q.versions())
	}
	f.ix.ClearFaults()
	if err := f.c.PollUpdates(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := f.q.versions(); len(got) != 1 {
		t.Fatalf("queued %v after the feed recovered", got)
	}
}

func TestDelayedAnswers(t *testing.T) {
	f := settled(t, pypiMode, func(_ *crawler.Options, ix *index.Options) { ix.Timeout = 200 * time.Millisecond; ix.Retries = 2 })
	// Slow once: the attempt times out and the retry gets the page.
	f.ix.InjectFault("/simple/smokegood/", localindex.Fault{Delay: time.Hour, Times: 1})
	f.pollAll(t)
	if got := f.q.versions(); len(got) != 2 {
		t.Fatalf("queued %v", got)
	}
	// Slow every time: the poll fails and records nothing false.
	f.PublishSample(t, "smokegood", "1.2", false)
	f.ix.InjectFault("/simple/smokegood/", localindex.Fault{Delay: time.Hour})
	if err := f.c.PollAll(context.Background()); err == nil {
		t.Fatal("no error when every attempt times out")
	}
	f.noRelease(t, "smokegood", "1.2")
	f.ix.ClearFaults()
	f.pollAll(t)
	if got := f.q.versions(); len(got) != 3 {
		t.Fatalf("after the delay lifted: queued %v", got)
	}
}

// TestStaleSerial: a page older than one already seen (a CDN copy that
// missed a purge) is fetched again after each of the stale delays, then
// left for the next round: it never reads as a removal.
func TestStaleSerial(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		f := newFixture(t, m, []string{"smokegood"})
		f.PublishSample(t, "smokegood", "1.0", false)
		f.pollAll(t)
		snap, err := f.ix.Snapshot(f.srv.URL + "/simple/smokegood/")
		if err != nil {
			t.Fatal(err)
		}
		f.PublishSample(t, "smokegood", "1.1", false)
		f.pollAll(t)
		seen := f.state(t, "smokegood").LastSerial
		f.PublishSample(t, "smokegood", "1.2", false)

		// Stale every time: 1 + 3 fetches, then give up for this round.
		before := f.rec.Count("/simple/smokegood/")
		f.ix.InjectFault("/simple/smokegood/", localindex.Fault{Stale: snap})
		err = f.c.PollAll(context.Background())
		if err == nil || !strings.Contains(err.Error(), "stale") {
			t.Fatalf("poll error %v", err)
		}
		if n := f.rec.Count("/simple/smokegood/") - before; n != 4 {
			t.Errorf("%d fetches of a stale page, want 4 (then 3 retries)", n)
		}
		if ps := f.state(t, "smokegood"); ps.LastSerial != seen || !strings.Contains(ps.LastError, "stale") {
			t.Errorf("state after stale pages: %+v", ps)
		}
		if r := f.release(t, "smokegood", "1.1"); r.State != store.StateQueued {
			t.Errorf("1.1 (missing from the stale page) changed: %+v", r)
		}
		for name, k := range f.knownFiles(t, "smokegood") {
			if !k.RemovedAt.IsZero() {
				t.Errorf("%s recorded as removed from a stale page", name)
			}
		}
		f.noRelease(t, "smokegood", "1.2")
		if got := f.c.Stats().Stale; got != 4 {
			t.Errorf("stale count %d", got)
		}

		// Stale twice, then fresh: the retries get it within the round.
		f.ix.ClearFaults()
		f.ix.InjectFault("/simple/smokegood/", localindex.Fault{Stale: snap, Times: 2})
		f.pollAll(t)
		if got := f.q.versions(); len(got) != 3 || got[2] != "smokegood 1.2" {
			t.Fatalf("queued %v", got)
		}
	})
}

// TestHashMismatch: bytes served whole that do not match the index's hash
// are refused, recorded, never used and never downloaded again; the same
// name with another hash is another file, and is fetched.
func TestHashMismatch(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		ctx := context.Background()
		f := newFixture(t, m, []string{"smokegood"})
		f.PublishSample(t, "smokegood", "1.0", false)
		path, _ := f.ix.FilePath("smokegood-1.0.tar.gz")
		f.ix.InjectFault(path, localindex.Fault{WrongBytes: true})
		f.pollAll(t)
		if got := f.q.versions(); len(got) != 0 {
			t.Fatalf("queued %v despite a hash mismatch", got)
		}
		r := f.release(t, "smokegood", "1.0")
		if r.State != store.StateBad || !strings.Contains(r.StateReason, "SHA-256 mismatch") {
			t.Fatalf("release = %+v, want state bad with the mismatch", r)
		}
		bad, _ := f.st.BadFiles(ctx, "smokegood")
		listed, _ := f.ix.SHA256("smokegood-1.0.tar.gz")
		if len(bad) != 1 || bad[0].SHA256 != listed || bad[0].GotSHA256 == listed || bad[0].Filename != "smokegood-1.0.tar.gz" {
			t.Errorf("bad files %+v", bad)
		}
		if got := f.mirrored(t); len(got) != 0 {
			t.Fatalf("mismatching bytes left in the mirror: %v", got)
		}
		if f.c.Stats().Mismatches != 1 {
			t.Errorf("stats %+v", f.c.Stats())
		}

		// Never downloaded again, even once the fault lifts and the page changes.
		f.ix.ClearFaults()
		downloads := f.FileRequests()
		f.PublishSample(t, "smokegood", "1.0", true)
		f.pollAll(t)
		if f.FileRequests() != downloads {
			t.Error("a file recorded as bad was downloaded again")
		}
		if r := f.release(t, "smokegood", "1.0"); r.State != store.StateBad {
			t.Errorf("state %q", r.State)
		}

		// The index replaces it: same name, other bytes, other hash.
		if err := f.ix.Remove("smokegood-1.0.tar.gz"); err != nil {
			t.Fatal(err)
		}
		if err := f.ix.AddFile("smokegood-1.0.tar.gz", []byte("rebuilt sdist bytes")); err != nil {
			t.Fatal(err)
		}
		f.pollAll(t)
		r = f.release(t, "smokegood", "1.0")
		if r.State != store.StateQueued || r.SdistSHA256 != sha([]byte("rebuilt sdist bytes")) || r.StateReason != "" {
			t.Fatalf("after the index listed another hash: %+v", r)
		}
	})
}

// TestBadTarGzFallsBackToZip: with several sdists, one that is bad does
// not sink the release.
func TestBadTarGzFallsBackToZip(t *testing.T) {
	f := newFixture(t, pypiMode, []string{"multi"})
	f.Publish(t, "multi", "1.0", ".tar.gz")
	_, zip := f.Publish(t, "multi", "1.0", ".zip")
	path, _ := f.ix.FilePath("multi-1.0.tar.gz")
	f.ix.InjectFault(path, localindex.Fault{WrongBytes: true})
	f.pollAll(t)
	r := f.release(t, "multi", "1.0")
	if r.State != store.StateQueued || r.SdistFile != "multi-1.0.zip" || r.SdistSHA256 != sha(zip) {
		t.Fatalf("release %+v", r)
	}
}

func TestEnqueueFailureIsRetried(t *testing.T) {
	f := newFixture(t, pypiMode, []string{"smokegood"})
	f.PublishSample(t, "smokegood", "1.0", false)
	f.q.setFail(errors.New("queue down"))
	if err := f.c.PollAll(context.Background()); err == nil || !strings.Contains(err.Error(), "queue down") {
		t.Fatalf("poll error %v", err)
	}
	if r := f.release(t, "smokegood", "1.0"); r.State != store.StateFound {
		t.Fatalf("release %+v, want held", r)
	}
	f.q.setFail(nil)
	f.pollAll(t)
	if got := f.q.versions(); len(got) != 1 {
		t.Fatalf("queued %v", got)
	}
	if r := f.release(t, "smokegood", "1.0"); r.State != store.StateQueued {
		t.Fatalf("release %+v", r)
	}
	if _, err := os.Stat(index.MirrorPath(f.mirror, f.release(t, "smokegood", "1.0").SdistSHA256, "smokegood-1.0.tar.gz")); err != nil {
		t.Error(err)
	}
	if n := f.FileRequests(); n != 1 {
		t.Errorf("%d downloads: the mirror copy was not reused", n)
	}
}
