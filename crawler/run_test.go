package crawler_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pysmoke/pysmoke/crawler"
	"github.com/pysmoke/pysmoke/index"
	"github.com/pysmoke/pysmoke/store"
)

// run starts f.c.Run and stops it with the test.
func (f *fixture) run(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { f.c.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (f *fixture) queuedCount() int { return len(f.q.versions()) }

func (f *fixture) hasQueued(want ...string) bool {
	got := f.q.versions()
	for _, w := range want {
		if !slices.Contains(got, w) {
			return false
		}
	}
	return true
}

// TestRunSchedule: with no feeds at all, the schedule alone finds every
// change; a project joining the allowlist is read at once; one leaving
// is no longer asked for.
func TestRunSchedule(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		var names []string
		for i := range 20 {
			names = append(names, fmt.Sprintf("proj%02d", i))
		}
		f := newFixture(t, m, names, func(o *crawler.Options, _ *index.Options) { o.Interval = 500 * time.Millisecond; o.HintInterval = -1 })
		var want []string
		for _, n := range names {
			f.Publish(t, n, "1.0", ".tar.gz")
			want = append(want, n+" 1.0")
		}
		f.run(t)
		waitFor(t, "first round", 20*time.Second, func() bool { return f.hasQueued(want...) })

		// Changes on half the projects, found by their scheduled polls.
		want = want[:0]
		for _, n := range names[:10] {
			f.Publish(t, n, "1.1", ".tar.gz")
			want = append(want, n+" 1.1")
		}
		waitFor(t, "changes", 20*time.Second, func() bool { return f.hasQueued(want...) })

		// An unchanged project's next poll is answered 304.
		waitFor(t, "a steady-state poll", 20*time.Second, func() bool {
			return f.rec.Last("/simple/proj15/") == http.StatusNotModified
		})

		// Joining and leaving.
		f.Publish(t, "newcomer", "3.0", ".tar.gz")
		f.setAllow(append(slices.Clone(names[1:]), "newcomer")...)
		waitFor(t, "newcomer", 20*time.Second, func() bool { return f.hasQueued("newcomer 3.0") })
		left := f.rec.Count("/simple/proj00/")
		seen := f.rec.Count("/simple/proj01/")
		waitFor(t, "two more rounds", 20*time.Second, func() bool { return f.rec.Count("/simple/proj01/") >= seen+2 })
		if n := f.rec.Count("/simple/proj00/"); n > left+1 { // one poll may have been under way
			t.Errorf("a project off the allowlist was polled %d more times", n-left)
		}
	})
}

// TestUpdatesOverflow: more than 100 releases of allowlisted projects land
// between two reads of updates.xml, which holds only the newest 100. The
// crawler notices the overflow, takes what the feed names, and its
// schedule finds every other one: none is missed.
func TestUpdatesOverflow(t *testing.T) {
	var names []string
	for i := range 30 {
		names = append(names, fmt.Sprintf("proj%02d", i))
	}
	f := newFixture(t, pypiMode, names, func(o *crawler.Options, _ *index.Options) { o.Interval = 2 * time.Second; o.HintInterval = -1 })
	ctx := context.Background()
	for _, n := range names {
		f.Publish(t, n, "1.0", ".tar.gz")
		f.Publish(t, "noise-"+n, "1.0", ".tar.gz")
	}
	f.pollAll(t)
	if err := f.c.PollUpdates(ctx); err != nil {
		t.Fatal(err)
	}
	base := f.queuedCount()

	// 150 releases of allowlisted projects, and 30 of others, at once.
	var want []string
	for _, n := range names {
		for _, v := range []string{"1.1", "1.2", "1.3", "2.0b1", "2.0"} {
			f.Publish(t, n, v, ".tar.gz")
			want = append(want, n+" "+v)
		}
		f.Publish(t, "noise-"+n, "1.1", ".tar.gz")
	}
	if err := f.c.PollUpdates(ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.c.Stats().Overflows; got != 1 {
		t.Errorf("overflows %d, want 1", got)
	}
	fromFeed := f.queuedCount() - base
	if fromFeed == 0 || fromFeed >= len(want) {
		t.Fatalf("the feed hint found %d of %d: the test does not overflow the feed", fromFeed, len(want))
	}
	t.Logf("the feed named %d of the %d new releases; the schedule finds the rest", fromFeed, len(want))

	f.run(t)
	waitFor(t, "every release", 30*time.Second, func() bool { return f.hasQueued(want...) })
	if got := f.queuedCount(); got != base+len(want) {
		t.Errorf("queued %d, want %d (no duplicates, no noise)", got, base+len(want))
	}
	for _, w := range want {
		var p, v string
		fmt.Sscan(w, &p, &v)
		if r := f.release(t, p, v); r.State != store.StateQueued {
			t.Errorf("%s: %+v", w, r)
		}
	}
	if n := f.rec.Count("/simple/noise-"); n != 0 {
		t.Errorf("%d requests for projects off the allowlist", n)
	}
}

// TestUpdatesFeedHint: the feed makes the crawler poll the allowlisted
// projects it names with releases not recorded yet, and only those; a
// feed that did not change costs one 304.
func TestUpdatesFeedHint(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, pypiMode, []string{"smokegood", "quiet"})
	f.PublishSample(t, "smokegood", "1.0", false)
	f.Publish(t, "quiet", "1.0", ".tar.gz")
	f.PublishSample(t, "usesimp", "1.0", false)
	f.pollAll(t)
	f.PublishSample(t, "smokegood", "1.1", false)
	if err := f.c.PollUpdates(ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.q.versions(); len(got) != 3 || got[2] != "smokegood 1.1" {
		t.Fatalf("queued %v from the feed hint", got)
	}
	if n := f.rec.Count("/simple/usesimp"); n != 0 {
		t.Errorf("polled a project off the allowlist")
	}
	if n := f.rec.Count("/simple/quiet/"); n != 1 {
		t.Errorf("polled quiet %d times: the feed named only its release already known", n)
	}
	before := f.rec.Count("/")
	if err := f.c.PollUpdates(ctx); err != nil {
		t.Fatal(err)
	}
	if n := f.rec.Count("/") - before; n != 1 || f.rec.Last("/rss/updates.xml") != http.StatusNotModified {
		t.Errorf("an unchanged feed cost %d requests (last %d), want one 304", n, f.rec.Last("/rss/updates.xml"))
	}

	// A static mirror has no feeds: the error is reported, nothing else.
	s := newFixture(t, staticMode, []string{"smokegood"})
	if err := s.c.PollUpdates(ctx); err == nil {
		t.Error("no error for a missing feed")
	}
	if err := s.c.PollPackages(ctx); err != nil || s.rec.Count("/") != 1 {
		t.Errorf("PollPackages with nothing missing: %v, %d requests", err, s.rec.Count("/")-1)
	}
}

// TestPackagesFeed: an allowlisted project that is not on the index yet
// is polled as soon as the newest-packages feed names it.
func TestPackagesFeed(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, pypiMode, []string{"smokegood", "future"})
	f.PublishSample(t, "smokegood", "1.0", false)
	if err := f.c.PollAll(ctx); err == nil {
		t.Fatal("no error for the missing project")
	}
	if err := f.c.PollPackages(ctx); err != nil {
		t.Fatal(err)
	}
	if n := f.rec.Count("/simple/future/"); n != 1 {
		t.Errorf("future polled %d times before it exists", n)
	}
	f.Publish(t, "future", "0.1", ".tar.gz")
	if err := f.c.PollPackages(ctx); err != nil {
		t.Fatal(err)
	}
	if !f.hasQueued("future 0.1") {
		t.Fatalf("queued %v", f.q.versions())
	}
	// Nothing missing now: the feed is not read again.
	n := f.rec.Count("/rss/packages.xml")
	if err := f.c.PollPackages(ctx); err != nil {
		t.Fatal(err)
	}
	if f.rec.Count("/rss/packages.xml") != n {
		t.Error("packages feed read with nothing missing")
	}
}

// TestFirstReads: a new allowlist's first reads are counted as they go
// (done and left always adding up to the projects in hand), and once all
// are read there are none in hand.
func TestFirstReads(t *testing.T) {
	var names []string
	for i := range 20 {
		names = append(names, fmt.Sprintf("proj%02d", i))
	}
	// 10 requests a second, with a burst of 10: about a second of reads.
	f := newFixture(t, modes[0], names, func(o *crawler.Options, io *index.Options) {
		o.Interval = time.Hour
		o.HintInterval = -1
		io.RateLimit = 10
	})
	for _, n := range names {
		f.Publish(t, n, "1.0", ".tar.gz")
	}
	if fr := f.c.FirstReads(); fr != (crawler.FirstReads{}) {
		t.Fatalf("before the run: %+v", fr)
	}
	f.run(t)
	var midway []crawler.FirstReads
	waitFor(t, "the first reads", 30*time.Second, func() bool {
		fr := f.c.FirstReads()
		if fr.Left > 0 {
			if fr.Done+fr.Left != len(names) || fr.Began.IsZero() {
				t.Errorf("midway: %+v; want done and left adding up to %d", fr, len(names))
			}
			if fr.Done > 0 {
				midway = append(midway, fr)
			}
		}
		return f.queuedCount() == len(names) && fr == crawler.FirstReads{}
	})
	if len(midway) == 0 {
		t.Errorf("no first read was seen midway")
	} else {
		t.Logf("midway: %+v ... %+v", midway[0], midway[len(midway)-1])
	}
}
