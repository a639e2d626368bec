package localindex

import (
	"cmp"
	"encoding/xml"
	"net/http"
	"slices"
	"strings"
	"time"
)

// The RSS 2.0 documents of pypi.org's three feeds.

type rssDoc struct {
	XMLName xml.Name   `xml:"rss"`
	Version string     `xml:"version,attr"`
	Channel rssChannel `xml:"channel"`
}

type rssChannel struct {
	Title       string    `xml:"title"`
	Link        string    `xml:"link"`
	Description string    `xml:"description"`
	Language    string    `xml:"language"`
	Items       []rssItem `xml:"item"`
}

type rssItem struct {
	Title       string `xml:"title"`
	Link        string `xml:"link"`
	GUID        string `xml:"guid,omitempty"`
	Description string `xml:"description"`
	Author      string `xml:"author,omitempty"`
	PubDate     string `xml:"pubDate"`
}

// feedRelease is a release with the project it belongs to.
type feedRelease struct {
	p *project
	r *release
}

// newestFirst orders by upload time of the first file, newest first; the
// creation serial breaks ties so items made at one instant (a fixed test
// clock, a directory copied at once) keep a stable, arrival-based order.
func newestFirst(aTime, bTime time.Time, aSerial, bSerial int64) int {
	if c := bTime.Compare(aTime); c != 0 {
		return c
	}
	return cmp.Compare(bSerial, aSerial)
}

func (ix *Index) serveUpdates(w http.ResponseWriter, r *http.Request) {
	base := ix.baseURL(r)
	ix.mu.RLock()
	var all []feedRelease
	for _, p := range ix.projects {
		for _, rel := range p.releases {
			all = append(all, feedRelease{p, rel})
		}
	}
	slices.SortFunc(all, func(a, b feedRelease) int { return newestFirst(a.r.created, b.r.created, a.r.serial, b.r.serial) })
	doc := newFeed("PyPI recent updates", base+"/", "Recent updates to the Python Package Index")
	for _, fr := range all[:min(len(all), updatesLimit)] {
		doc.Channel.Items = append(doc.Channel.Items, releaseItem(base, fr.p, fr.r, fr.p.display+" "+fr.r.version))
	}
	ix.mu.RUnlock()
	respond(w, r, "text/xml; charset=utf-8", marshalXML(doc))
}

func (ix *Index) servePackages(w http.ResponseWriter, r *http.Request) {
	base := ix.baseURL(r)
	ix.mu.RLock()
	projects := make([]*project, 0, len(ix.projects))
	for _, p := range ix.projects {
		projects = append(projects, p)
	}
	slices.SortFunc(projects, func(a, b *project) int { return newestFirst(a.created, b.created, a.serial, b.serial) })
	doc := newFeed("PyPI newest packages", base+"/", "Newest packages registered at the Python Package Index")
	for _, p := range projects[:min(len(projects), packagesLimit)] {
		link := base + "/project/" + p.name + "/"
		var summary string
		if rel := latestRelease(p); rel != nil {
			summary = releaseMeta(rel).summary
		}
		doc.Channel.Items = append(doc.Channel.Items, rssItem{
			Title:       p.display + " added to PyPI",
			Link:        link,
			GUID:        link,
			Description: xmlText(summary),
			PubDate:     rssTime(p.created),
		})
	}
	ix.mu.RUnlock()
	respond(w, r, "text/xml; charset=utf-8", marshalXML(doc))
}

func (ix *Index) serveProjectFeed(w http.ResponseWriter, r *http.Request) {
	base := ix.baseURL(r)
	ix.mu.RLock()
	p := ix.projectFor(w, r, func(norm string) string { return "/rss/project/" + norm + "/releases.xml" })
	if p == nil {
		ix.mu.RUnlock()
		return
	}
	rels := make([]*release, 0, len(p.releases))
	for _, rel := range p.releases {
		rels = append(rels, rel)
	}
	slices.SortFunc(rels, func(a, b *release) int { return newestFirst(a.created, b.created, a.serial, b.serial) })
	doc := newFeed("PyPI recent updates for "+p.display, base+"/project/"+p.name+"/",
		"Recent updates to the Python Package Index for "+p.display)
	for _, rel := range rels[:min(len(rels), projectLimit)] {
		doc.Channel.Items = append(doc.Channel.Items, releaseItem(base, p, rel, rel.version))
	}
	ix.mu.RUnlock()
	respond(w, r, "text/xml; charset=utf-8", marshalXML(doc))
}

func newFeed(title, link, description string) rssDoc {
	return rssDoc{
		Version: "2.0",
		Channel: rssChannel{Title: xmlText(title), Link: link, Description: xmlText(description), Language: "en"},
	}
}

func releaseItem(base string, p *project, r *release, title string) rssItem {
	m := releaseMeta(r)
	return rssItem{
		Title:       xmlText(title),
		Link:        base + "/project/" + p.name + "/" + r.version + "/",
		Description: xmlText(m.summary),
		Author:      xmlText(rssAuthor(m.authorEmail)),
		PubDate:     rssTime(r.created),
	}
}

// rssTime is RFC 1123 in GMT, as pypi.org writes pubDate.
func rssTime(t time.Time) string { return t.UTC().Format(http.TimeFormat) }

// xmlText drops the characters XML 1.0 cannot carry at all (control
// characters, broken UTF-8); escaping the rest is encoding/xml's job.
func xmlText(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r',
			r >= 0x20 && r <= 0xD7FF,
			r >= 0xE000 && r <= 0xFFFD,
			r >= 0x10000 && r <= 0x10FFFF:
			return r
		}
		return -1
	}, strings.ToValidUTF8(s, ""))
}

func marshalXML(doc rssDoc) []byte {
	b, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic("localindex: marshal feed: " + err.Error()) // our own types always marshal
	}
	return append(append([]byte(xml.Header), b...), '\n')
}
