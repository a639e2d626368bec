package feeds_test

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pysmoke/pysmoke/feeds"
	"github.com/pysmoke/pysmoke/outcome"
	"github.com/pysmoke/pysmoke/store"
)

const hostile = `<script>alert("x")</script>`

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func openStore(t *testing.T, pythons ...string) *store.Store {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, filepath.Join(t.TempDir(), "pysmoke.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	var pys []store.Python
	for _, p := range pythons {
		pys = append(pys, store.Python{Python: p, FullVersion: p + ".0", Path: "/opt/python/" + p})
	}
	if err := s.SetPythons(ctx, pys); err != nil {
		t.Fatal(err)
	}
	return s
}

func addRelease(t *testing.T, s *store.Store, project, version string, at time.Time) {
	t.Helper()
	if _, err := s.AddRelease(context.Background(), store.Release{Project: project, Version: version, DisplayName: project, DiscoveredAt: at}); err != nil {
		t.Fatal(err)
	}
}

// addCell stores a cell with one "test" step carrying the cell's status.
func addCell(t *testing.T, s *store.Store, project, version, python string, st outcome.Status, reason, detail string, at time.Time) {
	t.Helper()
	c := store.Cell{
		Project: project, Version: version, Python: python, Status: st, Reason: reason,
		StartedAt: at.Add(-time.Minute), FinishedAt: at,
		Steps: []store.Step{
			{Name: "sdist", Status: outcome.Passed, Duration: time.Second},
			{Name: "test", Status: st, Reason: reason, Detail: detail, ExitCode: 1, Duration: 2 * time.Second},
		},
	}
	if err := s.SaveCell(context.Background(), c, map[string][]byte{"sdist": []byte("ok\n"), "test": []byte("log\n")}); err != nil {
		t.Fatal(err)
	}
}

// fixture: foo 0.9 (2.7 machinery error, 3.12 passed), 1.0 passed on both,
// 1.1 failing on 3.12 (module-removed, hostile detail), 1.2 passed on 2.7
// with 3.12 pending.
func fixture(t *testing.T) *store.Store {
	s := openStore(t, "2.7", "3.12")
	addRelease(t, s, "foo", "0.9", t0)
	addCell(t, s, "foo", "0.9", "2.7", outcome.Machinery, outcome.ReasonSandbox, "", t0.Add(1*time.Hour))
	addCell(t, s, "foo", "0.9", "3.12", outcome.Passed, "", "", t0.Add(1*time.Hour))
	addRelease(t, s, "foo", "1.0", t0.Add(24*time.Hour))
	addCell(t, s, "foo", "1.0", "2.7", outcome.Passed, "", "", t0.Add(25*time.Hour))
	addCell(t, s, "foo", "1.0", "3.12", outcome.Passed, "", "", t0.Add(26*time.Hour))
	addRelease(t, s, "foo", "1.1", t0.Add(48*time.Hour))
	addCell(t, s, "foo", "1.1", "2.7", outcome.Passed, "", "", t0.Add(49*time.Hour))
	addCell(t, s, "foo", "1.1", "3.12", outcome.Failed, outcome.ReasonModuleRemoved, hostile, t0.Add(50*time.Hour))
	addRelease(t, s, "foo", "1.2", t0.Add(72*time.Hour))
	addCell(t, s, "foo", "1.2", "2.7", outcome.Passed, "", "", t0.Add(73*time.Hour))
	return s
}

func TestItemsOnlyFirstResultsAndChanges(t *testing.T) {
	s := fixture(t)
	f, err := feeds.Project(context.Background(), s, "https://smoke.example", "foo")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range f.Items {
		got = append(got, it.Id+" | "+it.Title+" | "+it.Link.Href)
	}
	want := []string{
		"tag:pysmoke,2026:foo/1.1/results | foo 1.1: 1 passed, 1 failed (3.12) | https://smoke.example/project/foo/#v1.1",
		"tag:pysmoke,2026:foo/1.1/3.12/change | foo 1.1: 3.12 passed -> failed | https://smoke.example/project/foo/#v1.1",
		"tag:pysmoke,2026:foo/1.0/results | foo 1.0: 2 passed | https://smoke.example/project/foo/#v1.0",
		// 0.9's machinery error on 2.7 is a result item's content, but not a
		// predecessor: 1.0 passing on 2.7 is no change.
		"tag:pysmoke,2026:foo/0.9/results | foo 0.9: 1 machinery-error, 1 passed | https://smoke.example/project/foo/#v0.9",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("items:\n got %q\nwant %q", got, want)
	}
	if f.Id != "tag:pysmoke,2026:foo" {
		t.Errorf("feed id %q", f.Id)
	}
	// The feed's time is its newest item's, not the time of rendering.
	if want := t0.Add(50 * time.Hour); !f.Updated.Equal(want) {
		t.Errorf("updated %v, want %v", f.Updated, want)
	}
}

func TestChangeBackToPassing(t *testing.T) {
	s := fixture(t)
	// 3.12 of 1.2 passes again: a change failed -> passed, and 1.2 is complete.
	addCell(t, s, "foo", "1.2", "3.12", outcome.Passed, "", "", t0.Add(74*time.Hour))
	f, err := feeds.Project(context.Background(), s, "https://smoke.example", "foo")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range f.Items[:2] {
		got = append(got, it.Id+" | "+it.Title)
	}
	want := []string{
		"tag:pysmoke,2026:foo/1.2/results | foo 1.2: 2 passed",
		"tag:pysmoke,2026:foo/1.2/3.12/change | foo 1.2: 3.12 failed -> passed",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("items:\n got %q\nwant %q", got, want)
	}
}

func TestAtMostMaxItems(t *testing.T) {
	s := openStore(t, "3.12")
	for i := range 30 {
		v := fmt.Sprintf("1.%d", i)
		addRelease(t, s, "bar", v, t0.Add(time.Duration(i)*time.Hour))
		st := outcome.Passed
		if i%2 == 1 {
			st = outcome.Failed
		}
		addCell(t, s, "bar", v, "3.12", st, "", "", t0.Add(time.Duration(i)*time.Hour+time.Minute))
	}
	f, err := feeds.Project(context.Background(), s, "", "bar")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Items) != feeds.MaxItems {
		t.Fatalf("%d items, want %d", len(f.Items), feeds.MaxItems)
	}
	if f.Items[0].Id != "tag:pysmoke,2026:bar/1.29/results" || f.Items[1].Id != "tag:pysmoke,2026:bar/1.29/3.12/change" {
		t.Errorf("first items %q, %q", f.Items[0].Id, f.Items[1].Id)
	}
	if f.Items[0].Link.Href != "/project/bar/#v1.29" {
		t.Errorf("link without base URL: %q", f.Items[0].Link.Href)
	}
}

func TestUnknownProject(t *testing.T) {
	s := fixture(t)
	if _, err := feeds.Project(context.Background(), s, "", "nope"); !errors.Is(err, feeds.ErrNotFound) {
		t.Fatalf("err %v, want ErrNotFound", err)
	}
}

type atomDoc struct {
	ID      string `xml:"id"`
	Entries []struct {
		ID      string `xml:"id"`
		Title   string `xml:"title"`
		Summary string `xml:"summary"`
	} `xml:"entry"`
}

type rssDoc struct {
	Channel struct {
		Items []struct {
			GUID        string `xml:"guid"`
			Description string `xml:"description"`
		} `xml:"item"`
	} `xml:"channel"`
}

func TestRenderedIDsStableAndEscaped(t *testing.T) {
	s := fixture(t)
	render := func() (string, string) {
		f, err := feeds.Project(context.Background(), s, "https://smoke.example", "foo")
		if err != nil {
			t.Fatal(err)
		}
		rss, err := feeds.RSS(f)
		if err != nil {
			t.Fatal(err)
		}
		atom, err := feeds.Atom(f)
		if err != nil {
			t.Fatal(err)
		}
		return rss, atom
	}
	rss1, atom1 := render()
	rss2, atom2 := render()
	if rss1 != rss2 || atom1 != atom2 {
		t.Errorf("two renders differ:\n%s\n----\n%s", atom1, atom2)
	}

	var a atomDoc
	if err := xml.Unmarshal([]byte(atom1), &a); err != nil {
		t.Fatal(err)
	}
	if a.ID != "tag:pysmoke,2026:foo" {
		t.Errorf("atom feed id %q", a.ID)
	}
	var ids []string
	for _, e := range a.Entries {
		ids = append(ids, e.ID)
	}
	wantIDs := []string{"tag:pysmoke,2026:foo/1.1/results", "tag:pysmoke,2026:foo/1.1/3.12/change", "tag:pysmoke,2026:foo/1.0/results", "tag:pysmoke,2026:foo/0.9/results"}
	if !reflect.DeepEqual(ids, wantIDs) {
		t.Errorf("atom entry ids %q", ids)
	}
	if !strings.Contains(atom1, `<link href="https://smoke.example/project/foo/" rel="alternate"></link>`) {
		t.Errorf("atom feed link missing:\n%s", atom1)
	}

	var r rssDoc
	if err := xml.Unmarshal([]byte(rss1), &r); err != nil {
		t.Fatal(err)
	}
	var guids []string
	for _, it := range r.Channel.Items {
		guids = append(guids, it.GUID)
	}
	if !reflect.DeepEqual(guids, wantIDs) {
		t.Errorf("rss guids %q", guids)
	}
	if !strings.Contains(rss1, `<guid isPermaLink="false">tag:pysmoke,2026:foo/1.1/results</guid>`) {
		t.Errorf("rss guid not marked as no permalink")
	}

	// The description is HTML: once the XML is decoded, the hostile detail
	// must still be escaped text, never markup.
	wantEsc := `<code>&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</code>`
	for name, desc := range map[string]string{
		"rss results": r.Channel.Items[0].Description, "rss change": r.Channel.Items[1].Description,
		"atom results": a.Entries[0].Summary, "atom change": a.Entries[1].Summary,
	} {
		if strings.Contains(desc, "<script") || !strings.Contains(desc, wantEsc) {
			t.Errorf("%s description not escaped: %s", name, desc)
		}
	}
	wantChange := `<p>On Python 3.12, foo 1.1 failed (module-removed) where 1.0 passed.</p><p>Step test (module-removed): ` + wantEsc + `</p>`
	if a.Entries[1].Summary != wantChange {
		t.Errorf("change summary\n got %s\nwant %s", a.Entries[1].Summary, wantChange)
	}
}

func TestHostileVersionInTitle(t *testing.T) {
	s := openStore(t, "3.12")
	addRelease(t, s, "baz", "1.0<b>", t0)
	addCell(t, s, "baz", "1.0<b>", "3.12", outcome.Passed, "", "", t0)
	f, err := feeds.Project(context.Background(), s, "", "baz")
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Items[0].Title; got != "baz 1.0?b?: 1 passed" {
		t.Errorf("title %q", got)
	}
	if d := f.Items[0].Description; strings.Contains(d, "<b>") || !strings.Contains(d, "1.0&lt;b&gt;") {
		t.Errorf("description %q", d)
	}
	if id := f.Items[0].Id; id != "tag:pysmoke,2026:baz/1.0%3Cb%3E/results" {
		t.Errorf("id %q", id)
	}
}

// The service-wide feed holds every project's changes (not first
// results), newest first; an interpreter's holds those on it.
func TestChangesFeeds(t *testing.T) {
	s := fixture(t)
	// bar: fails on 2.7 in 2.0 where 1.0 passed, later than foo's change.
	addRelease(t, s, "bar", "1.0", t0)
	addCell(t, s, "bar", "1.0", "2.7", outcome.Passed, "", "", t0.Add(2*time.Hour))
	addCell(t, s, "bar", "1.0", "3.12", outcome.Passed, "", "", t0.Add(2*time.Hour))
	addRelease(t, s, "bar", "2.0", t0.Add(60*time.Hour))
	addCell(t, s, "bar", "2.0", "2.7", outcome.Failed, outcome.ReasonSyntaxError, "", t0.Add(61*time.Hour))
	addCell(t, s, "bar", "2.0", "3.12", outcome.Passed, "", "", t0.Add(61*time.Hour))
	ids := func(python string) []string {
		t.Helper()
		f, err := feeds.Changes(context.Background(), s, "https://smoke.example", python)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, it := range f.Items {
			out = append(out, it.Id+" | "+it.Title)
		}
		return out
	}
	all := []string{
		"tag:pysmoke,2026:bar/2.0/2.7/change | bar 2.0: 2.7 passed -> failed",
		"tag:pysmoke,2026:foo/1.1/3.12/change | foo 1.1: 3.12 passed -> failed",
	}
	if got := ids(""); !reflect.DeepEqual(got, all) {
		t.Errorf("every change:\n got %q\nwant %q", got, all)
	}
	if got := ids("3.12"); !reflect.DeepEqual(got, all[1:]) {
		t.Errorf("changes on 3.12:\n got %q\nwant %q", got, all[1:])
	}
	if got := ids("3.13"); len(got) != 0 {
		t.Errorf("changes on 3.13: %q", got)
	}
	body, ctype, err := feeds.RenderChanges(context.Background(), s, "https://smoke.example", "2.7", ".atom")
	if err != nil || ctype != feeds.Formats[".atom"] || !strings.Contains(string(body), "<id>tag:pysmoke,2026:changes/2.7</id>") ||
		!strings.Contains(string(body), "bar 2.0: 2.7 passed -&gt; failed") {
		t.Errorf("rendered: %v %q\n%s", err, ctype, body)
	}
}
