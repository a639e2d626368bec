// Package feeds builds a project's RSS 2.0 and Atom feeds from the store.
// It is the only user of gorilla/feeds.
//
// A feed holds few items, and only ones a package author wants to hear
// about: the first complete results of a release (every recorded Python has
// a cell) and the status changes between consecutive results on one Python
// ("foo 1.1: 3.12 passed -> failed"). Items are ordered by release, newest
// first (within a release the results item comes before its changes, which
// follow the Python order), and capped at MaxItems.
//
// Every item carries a stable tag: URI as its id, derived only from the
// project, the version and the Python, so that re-rendering the feed (or a
// re-run of a cell) never makes a reader show an item twice. gorilla/feeds
// would otherwise invent a random id per render, and its Atom writer takes
// the feed's <id> from the link rather than Feed.Id; RSS and Atom fix both
// on the format-specific structs before writing.
//
// Descriptions are HTML (readers render RSS <description> and Atom
// <summary type="html"> as HTML) and are produced by html/template, so
// package-controlled text (versions, step details) is escaped. Titles are
// plain text; the only package-controlled text in them, the version, is
// reduced to characters that mean nothing in HTML.
package feeds

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/url"
	"sort"
	"strings"
	"time"

	gorillafeeds "github.com/gorilla/feeds"

	"github.com/pysmoke/pysmoke/outcome"
	"github.com/pysmoke/pysmoke/store"
)

// Source is what the feeds read from the store; *store.Store satisfies it.
type Source interface {
	// Pythons returns the recorded interpreters, oldest first.
	Pythons(ctx context.Context) ([]store.Python, error)
	// Releases returns a project's releases, newest first.
	Releases(ctx context.Context, project string) ([]store.Release, error)
	// Cells returns a release's cells (with steps) in interpreter order.
	Cells(ctx context.Context, project, version string) ([]store.Cell, error)
}

var _ Source = (*store.Store)(nil)

// MaxItems is the most items a feed holds.
const MaxItems = 20

// TagPrefix starts every id in pysmoke's feeds (RFC 4151 tag URIs). It must
// never change: readers key items by it.
const TagPrefix = "tag:pysmoke,2026:"

// ErrNotFound is returned by Project for a project with no release.
var ErrNotFound = errors.New("no such project")

// Project builds the feed of one project (its normalised name). baseURL is
// the external URL of the report's root (e.g. "https://pysmoke.example.org",
// no trailing slash needed); links point at <baseURL>/project/<name>/. It
// returns an error wrapping ErrNotFound when the project has no release, and
// the store's error when reading fails.
func Project(ctx context.Context, src Source, baseURL, project string) (*gorillafeeds.Feed, error) {
	pys, err := src.Pythons(ctx)
	if err != nil {
		return nil, fmt.Errorf("feed of %s: pythons: %w", project, err)
	}
	rels, err := src.Releases(ctx, project)
	if err != nil {
		return nil, fmt.Errorf("feed of %s: releases: %w", project, err)
	}
	if len(rels) == 0 {
		return nil, fmt.Errorf("feed of %s: %w", project, ErrNotFound)
	}
	cells := make([][]store.Cell, len(rels))
	for i, r := range rels {
		if cells[i], err = src.Cells(ctx, project, r.Version); err != nil {
			return nil, fmt.Errorf("feed of %s: cells of %s: %w", project, r.Version, err)
		}
	}

	page := strings.TrimRight(baseURL, "/") + "/project/" + url.PathEscape(project) + "/"
	items, err := buildItems(project, page, pys, rels, cells)
	if err != nil {
		return nil, fmt.Errorf("feed of %s: %w", project, err)
	}
	// The feed changed when its newest item appeared; a feed without items
	// takes its newest release's discovery, never the time of rendering.
	var updated time.Time
	for _, it := range items {
		if it.Updated.After(updated) {
			updated = it.Updated
		}
	}
	if updated.IsZero() {
		updated = rels[0].DiscoveredAt
	}
	return &gorillafeeds.Feed{
		Id:          TagPrefix + url.PathEscape(project),
		Title:       "pysmoke: " + project,
		Link:        &gorillafeeds.Link{Href: page, Rel: "alternate"},
		Description: "Smoke tests of " + project + " on every Python: each release's first complete results, and every change of status between consecutive releases.",
		Author:      &gorillafeeds.Author{Name: "pysmoke"},
		Updated:     updated,
		Items:       items,
	}, nil
}

// WideSource is what the service-wide feeds read besides Source: every
// project. *store.Store satisfies it.
type WideSource interface {
	Source
	// Projects returns the normalised names of all projects, sorted.
	Projects(ctx context.Context) ([]string, error)
}

var _ WideSource = (*store.Store)(nil)

// Changes builds the feed of every project's changes of status (the
// items of the projects' feeds that say a status changed, not the first
// results), newest first, on one Python (python, e.g. "3.13": the feed of
// that interpreter, for its maintainers) or on all (""). Items keep the
// ids they have in the projects' feeds.
func Changes(ctx context.Context, src WideSource, baseURL, python string) (*gorillafeeds.Feed, error) {
	names, err := src.Projects(ctx)
	if err != nil {
		return nil, fmt.Errorf("changes feed: projects: %w", err)
	}
	base := strings.TrimRight(baseURL, "/")
	var items []*gorillafeeds.Item
	var updated time.Time
	for _, name := range names {
		f, err := Project(ctx, src, baseURL, name)
		if errors.Is(err, ErrNotFound) {
			continue // removed since Projects
		}
		if err != nil {
			return nil, err
		}
		for _, it := range f.Items {
			if !strings.HasSuffix(it.Id, "/change") {
				continue
			}
			if python != "" && !strings.HasSuffix(it.Id, "/"+url.PathEscape(python)+"/change") {
				continue
			}
			items = append(items, it)
		}
		if f.Updated.After(updated) {
			updated = f.Updated
		}
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].Updated.After(items[j].Updated) })
	if len(items) > MaxItems {
		items = items[:MaxItems]
	}
	if len(items) > 0 {
		updated = items[0].Updated
	}
	title, id, desc := "pysmoke: every change", TagPrefix+"changes", "Every change of status of every project pysmoke watches, on every Python."
	if python != "" {
		title, id = "pysmoke: changes on Python "+plain(python), TagPrefix+"changes/"+url.PathEscape(python)
		desc = "Every change of status of every project pysmoke watches, on Python " + plain(python) + "."
	}
	return &gorillafeeds.Feed{
		Id: id, Title: title, Description: desc,
		Link:    &gorillafeeds.Link{Href: base + "/", Rel: "alternate"},
		Author:  &gorillafeeds.Author{Name: "pysmoke"},
		Updated: updated,
		Items:   items,
	}, nil
}

// Formats are the feed formats, by the extension of their URL.
var Formats = map[string]string{
	".rss":  "application/rss+xml; charset=utf-8",
	".atom": "application/atom+xml; charset=utf-8",
}

// Render builds and renders the feed of one project in a format of Formats
// (its extension), and returns the document and its content type. It
// returns an error wrapping ErrNotFound when the project has no release.
func Render(ctx context.Context, src Source, baseURL, project, format string) ([]byte, string, error) {
	return render(format, func() (*gorillafeeds.Feed, error) { return Project(ctx, src, baseURL, project) })
}

// RenderChanges builds and renders the changes feed (Changes) in a format
// of Formats.
func RenderChanges(ctx context.Context, src WideSource, baseURL, python, format string) ([]byte, string, error) {
	return render(format, func() (*gorillafeeds.Feed, error) { return Changes(ctx, src, baseURL, python) })
}

// render builds a feed and renders it in a format of Formats.
func render(format string, build func() (*gorillafeeds.Feed, error)) ([]byte, string, error) {
	ctype, ok := Formats[format]
	if !ok {
		return nil, "", fmt.Errorf("feed format %q: %w", format, ErrNotFound)
	}
	f, err := build()
	if err != nil {
		return nil, "", err
	}
	var body string
	if format == ".rss" {
		body, err = RSS(f)
	} else {
		body, err = Atom(f)
	}
	if err != nil {
		return nil, "", fmt.Errorf("render the feed %s: %w", f.Id, err)
	}
	return []byte(body), ctype, nil
}

// RSS renders a feed built by Project as RSS 2.0. It refuses a feed with an
// item that has no id, rather than let gorilla/feeds leave the guid out.
func RSS(f *gorillafeeds.Feed) (string, error) {
	if err := checkIDs(f); err != nil {
		return "", err
	}
	rf := (&gorillafeeds.Rss{Feed: f}).RssFeed()
	// gorilla/feeds writes " (name)" when the author has no email address;
	// managingEditor must be an address, so leave it out.
	rf.ManagingEditor = ""
	rf.Generator = "pysmoke"
	return gorillafeeds.ToXML(rf)
}

// Atom renders a feed built by Project as Atom, with the feed's own id (not
// its link) in <id>.
func Atom(f *gorillafeeds.Feed) (string, error) {
	if err := checkIDs(f); err != nil {
		return "", err
	}
	if f.Id == "" {
		return "", errors.New("atom feed without an id")
	}
	af := (&gorillafeeds.Atom{Feed: f}).AtomFeed()
	af.Id = f.Id
	return gorillafeeds.ToXML(af)
}

func checkIDs(f *gorillafeeds.Feed) error {
	for _, it := range f.Items {
		if it.Id == "" {
			return fmt.Errorf("feed item %q has no id", it.Title)
		}
	}
	return nil
}

func buildItems(project, page string, pys []store.Python, rels []store.Release, cells [][]store.Cell) ([]*gorillafeeds.Item, error) {
	// byPy[i][python] is release i's cell on that Python.
	byPy := make([]map[string]*store.Cell, len(rels))
	for i := range rels {
		byPy[i] = map[string]*store.Cell{}
		for j := range cells[i] {
			byPy[i][cells[i][j].Python] = &cells[i][j]
		}
	}

	// changes[i] are the status changes that release i brings, in Python
	// order. The predecessor of a result is the newest older release with a
	// result on the same Python; releases without a cell there (pending, no
	// sdist) and machinery errors (pysmoke's failure, not a result about the
	// package) are skipped, so they neither hide nor invent a change.
	type change struct {
		python     string
		prev       *store.Cell
		prevVer    string
		cur        *store.Cell
		curRelease int
	}
	changes := make([][]change, len(rels))
	for _, py := range pys {
		var prev *store.Cell
		prevVer := ""
		for i := len(rels) - 1; i >= 0; i-- {
			c := byPy[i][py.Python]
			if c == nil || !Telling(c) {
				continue
			}
			if prev != nil && prev.Status != c.Status {
				changes[i] = append(changes[i], change{python: py.Python, prev: prev, prevVer: prevVer, cur: c, curRelease: i})
			}
			prev, prevVer = c, rels[i].Version
		}
	}

	var items []*gorillafeeds.Item
	for i, r := range rels {
		if len(items) >= MaxItems {
			break
		}
		link := page + "#v" + url.PathEscape(r.Version)
		base := TagPrefix + url.PathEscape(project) + "/" + url.PathEscape(r.Version)
		if complete(pys, byPy[i]) {
			it, err := resultsItem(project, r, pys, byPy[i], link, base+"/results")
			if err != nil {
				return nil, err
			}
			items = append(items, it)
		}
		for _, ch := range changes[i] {
			var desc bytes.Buffer
			err := changeTmpl.Execute(&desc, map[string]any{
				"Project": project, "Version": r.Version, "Python": ch.python,
				"Prev": ch.prev, "PrevVersion": ch.prevVer, "Cur": ch.cur, "Step": ch.cur.FailingStep(),
			})
			if err != nil {
				return nil, err
			}
			when := cellTime(ch.cur, r)
			items = append(items, &gorillafeeds.Item{
				Id:          base + "/" + url.PathEscape(ch.python) + "/change",
				IsPermaLink: "false",
				Title:       fmt.Sprintf("%s %s: %s %s -> %s", project, plain(r.Version), plain(ch.python), ch.prev.Status, ch.cur.Status),
				Link:        &gorillafeeds.Link{Href: link},
				Description: desc.String(),
				Created:     when,
				Updated:     when,
			})
		}
	}
	if len(items) > MaxItems {
		items = items[:MaxItems]
	}
	return items, nil
}

// Telling reports whether a cell's outcome says something of the
// package: not the machinery's, not a failure still being confirmed by
// reruns, not one a rerun did not reproduce (flaky).
func Telling(c *store.Cell) bool {
	return !c.Status.MachineryFault() && !c.Confirmation.Unsettled()
}

// complete reports whether every recorded Python has a cell, and none is
// still being confirmed: a release's results are told once, when final.
func complete(pys []store.Python, cells map[string]*store.Cell) bool {
	if len(pys) == 0 {
		return false
	}
	for _, py := range pys {
		if c := cells[py.Python]; c == nil || c.Confirmation.State == store.Confirming {
			return false
		}
	}
	return true
}

func resultsItem(project string, r store.Release, pys []store.Python, cells map[string]*store.Cell, link, id string) (*gorillafeeds.Item, error) {
	type row struct {
		Python string
		Cell   *store.Cell
		Step   *store.Step
	}
	var rows []row
	counts := map[outcome.Status]int{}
	var order []outcome.Status
	var faults []string
	var when time.Time
	for _, py := range pys {
		c := cells[py.Python]
		rows = append(rows, row{py.Python, c, c.FailingStep()})
		if counts[c.Status] == 0 {
			order = append(order, c.Status)
		}
		counts[c.Status]++
		if c.Status.PackageFault() && c.Confirmation.State != store.Flaky {
			faults = append(faults, plain(py.Python))
		}
		if t := cellTime(c, r); t.After(when) {
			when = t
		}
	}
	var parts []string
	for _, s := range order {
		parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
	}
	title := fmt.Sprintf("%s %s: %s", project, plain(r.Version), strings.Join(parts, ", "))
	if len(faults) > 0 {
		title += " (" + strings.Join(faults, ", ") + ")"
	}
	var desc bytes.Buffer
	if err := resultsTmpl.Execute(&desc, map[string]any{"Project": project, "Version": r.Version, "Rows": rows}); err != nil {
		return nil, err
	}
	return &gorillafeeds.Item{
		Id:          id,
		IsPermaLink: "false",
		Title:       title,
		Link:        &gorillafeeds.Link{Href: link},
		Description: desc.String(),
		Created:     when,
		Updated:     when,
	}, nil
}

// cellTime is when a cell's result became known: its finish time, else its
// start, else the release's discovery (always set), so items never get the
// render time and a feed renders the same twice.
func cellTime(c *store.Cell, r store.Release) time.Time {
	switch {
	case !c.FinishedAt.IsZero():
		return c.FinishedAt
	case !c.StartedAt.IsZero():
		return c.StartedAt
	}
	return r.DiscoveredAt
}

// plain keeps the characters of a version or Python key that cannot mean
// anything to a reader that renders titles as HTML, and replaces the rest
// with "?". PEP 440 versions pass unchanged.
func plain(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune(".+!_-", r):
			return r
		}
		return '?'
	}, s)
}

// Details are cut short in descriptions; the full text is on the
// project page and in its JSON.
var funcs = template.FuncMap{"shorten": outcome.Brief}

var resultsTmpl = template.Must(template.New("results").Funcs(funcs).Parse(
	`<p>First complete results of {{.Project}} {{.Version}}:</p><ul>
{{- range .Rows}}<li>{{.Python}}: {{.Cell.Status}}{{with .Cell.Reason}} ({{.}}){{end}}
{{- with .Step}}; step {{.Name}}{{with .Detail}}: <code>{{shorten .}}</code>{{end}}{{end}}</li>{{end -}}
</ul>`))

var changeTmpl = template.Must(template.New("change").Funcs(funcs).Parse(
	`<p>On Python {{.Python}}, {{.Project}} {{.Version}} {{.Cur.Status}}{{with .Cur.Reason}} ({{.}}){{end}}` +
		` where {{.PrevVersion}} {{.Prev.Status}}{{with .Prev.Reason}} ({{.}}){{end}}.</p>` +
		`{{with .Step}}<p>Step {{.Name}}{{with .Reason}} ({{.}}){{end}}{{with .Detail}}: <code>{{shorten .}}</code>{{end}}</p>{{end}}`))
