package report_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pysmoke/pysmoke/report"
)

// The overview says what the service's state says, and that it could not
// read it when it could not; without Options.State (an export) nothing.
func TestOverviewServiceState(t *testing.T) {
	s := standard(t)
	state := report.ServiceState{Queue: map[string]int{"available": 3, "running": 2, "completed": 40, "retryable": 1, "pending": 4},
		LastCrawl: time.Date(2026, 12, 3, 12, 3, 4, 0, time.UTC), Worker: "host-a", Workers: 2, Sandbox: "namespace",
		Builds: report.Work{Done: 40, Left: 10, PerMinute: 2.5, Remaining: 4 * time.Minute},
		Reads:  report.Work{Done: 120, Left: 4880, PerMinute: 290, Remaining: 16*time.Minute + 50*time.Second}}
	srv := serve(t, s, report.Options{State: func(context.Context) (report.ServiceState, error) { return state, nil }})
	want := `<p class="service">Service: builds: 2 running, 3 waiting, 1 to retry, 4 pending; 40 of 50 builds done, 2.5 a minute, about 4 minutes left; ` +
		`first reads: 120 of 5000 projects done, 290.0 a minute, about 17 minutes left; the index last read 2026-12-03 12:03:04 UTC; worker host-a runs 2 at once (namespace sandbox).</p>`
	if body := get(t, srv.URL+"/").body; !strings.Contains(body, want) {
		t.Errorf("the overview lacks %s", want)
	}
	idle := serve(t, standard(t), report.Options{State: func(context.Context) (report.ServiceState, error) {
		return report.ServiceState{Queue: map[string]int{"completed": 5}, Worker: "host-b"}, nil
	}})
	want = `<p class="service">Service: nothing to build; the index not read yet; this process runs no builds.</p>`
	if body := get(t, idle.URL+"/").body; !strings.Contains(body, want) {
		t.Errorf("the idle overview lacks %s", want)
	}
	broken := serve(t, standard(t), report.Options{State: func(context.Context) (report.ServiceState, error) {
		return report.ServiceState{}, errors.New("database is locked")
	}})
	// A pace without an estimate yet, and an estimate under two minutes.
	for _, c := range []struct {
		w    report.Work
		want string
	}{
		{report.Work{Left: 3}, "0 of 3 builds done"},
		{report.Work{Done: 1, Left: 2, PerMinute: 0.5, Remaining: 90 * time.Second}, "1 of 3 builds done, 0.5 a minute, about 90 seconds left"},
		{report.Work{Done: 1, Left: 200, PerMinute: 0.1, Remaining: 2000 * time.Minute}, "1 of 201 builds done, 0.1 a minute, about 33.3 hours left"},
	} {
		if got := c.w.Phrase("builds"); got != c.want {
			t.Errorf("%+v: %q; want %q", c.w, got, c.want)
		}
	}
	if body := get(t, broken.URL+"/").body; !strings.Contains(body, "Service: its state could not be read.") || strings.Contains(body, "locked") {
		t.Errorf("a state that cannot be read: %s", body)
	}
	if body := get(t, serve(t, standard(t), report.Options{}).URL+"/").body; strings.Contains(body, `class="service"`) {
		t.Errorf("no state, yet the overview says one")
	}
}

// A watched project with no release read yet is listed as not tested yet,
// in its place by name; one with releases as usual, once.
func TestOverviewListsWatchedProjectsNotTestedYet(t *testing.T) {
	srv := serve(t, standard(t), report.Options{Watched: func() []string { return []string{"foo", "newproj", "aaa-first"} }})
	body := get(t, srv.URL+"/").body
	want := `<th scope="row">newproj</th>
<td class="s-pending" colspan="4">not tested yet: no release read from the index</td><td></td>`
	if !strings.Contains(body, want) || strings.Count(body, `<a href="/project/foo/">foo</a></th>`) != 1 {
		t.Errorf("the overview lacks %s, or lists foo twice:\n%s", want, body)
	}
	// By name: aaa-first first, newproj between foo and quux.
	a, f, n, q := strings.Index(body, ">aaa-first<"), strings.Index(body, ">foo<"), strings.Index(body, ">newproj<"), strings.Index(body, ">quux<")
	if a < 0 || !(a < f && f < n && n < q) {
		t.Errorf("rows out of order: aaa-first %d, foo %d, newproj %d, quux %d", a, f, n, q)
	}
}

// The overview's recent changes: a cell whose status differs from the same
// Python's cell of the release before (foo 1.1 on 3.12, passed in 1.0),
// and nothing else (foo 1.1 on 2.7 passed both times; the others have one
// release with cells). Without Options.Recent, none.
func TestOverviewRecentChanges(t *testing.T) {
	s := standard(t)
	body := get(t, serve(t, s, report.Options{Recent: s}).URL+"/").body
	want := `<h2>Recent changes</h2>
<ul class="recent">
<li><a href="/project/foo/#v1.1">foo 1.1</a> on Python 3.12: <span class="s-pass">passed</span> in 1.0, <span class="s-fail">failed</span> now <small>2026-03-01 12:01 UTC</small></li>
</ul>`
	if !strings.Contains(body, want) || strings.Count(body, "<li>") != 1 {
		t.Errorf("the overview's recent changes: want one, %s\n%s", want, body)
	}
	if body := get(t, serve(t, s, report.Options{}).URL+"/").body; strings.Contains(body, "Recent changes") {
		t.Errorf("recent changes without a source of them")
	}
}
