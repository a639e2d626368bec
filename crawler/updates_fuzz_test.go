package crawler

// Fuzzing of what the crawler reads from the index besides project pages:
// the RSS feeds (parseFeed, then feedLink on each item's link, then the
// pubDate as uploadTimeFeed reads it) and the JSON API's upload times
// (parseUploadTime). A feed's names and versions pick which projects are
// polled and key store look-ups, so what feedLink returns must already be
// a normalised valid name and a canonical version. Run with
//
//	go test -run '^$' -fuzz '^FuzzParseFeed$' -fuzztime 20s ./crawler/
//
// (scripts/fuzz.sh runs every target).

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pysmoke/pysmoke/dist"
	"github.com/pysmoke/pysmoke/index"
)

func FuzzParseFeed(f *testing.F) {
	for _, seed := range []string{
		// /rss/updates.xml as pypi.org writes it.
		`<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0">
  <channel>
    <title>PyPI recent updates</title>
    <link>https://pypi.org/</link>
    <description>Recent updates to the Python Package Index</description>
    <language>en</language>
    <item>
      <title>requests 2.32.3</title>
      <link>https://pypi.org/project/requests/2.32.3/</link>
      <description>Python HTTP for Humans.</description>
      <author>me@kennethreitz.org</author>
      <pubDate>Wed, 29 May 2024 15:37:49 GMT</pubDate>
    </item>
    <item>
      <title>Zope.Interface 7.0.dev1</title>
      <link> https://pypi.org/project/Zope.Interface/7.0-DEV1/ </link>
      <pubDate>Thu, 30 May 2024 08:01:02 GMT</pubDate>
    </item>
  </channel>
</rss>`,
		// /rss/packages.xml: project links without a version.
		`<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Newest packages</title>
<item><title>foo-bar added to PyPI</title><link>https://pypi.org/project/foo_bar/</link><pubDate>Mon, 02 Jun 2025 10:00:00 GMT</pubDate></item>
</channel></rss>`,
		// Odd links: a project path deeper down, too many parts, a bad
		// name, a bad version, a relative link, a broken URL.
		`<rss><channel>
<item><link>https://mirror.example/pypi/project/pkg/1!2.0.post1.dev2+local.7/</link><pubDate>Sun, 06 Nov 1994 08:49:37 GMT</pubDate></item>
<item><link>https://pypi.org/project/pkg/1.0/extra/</link></item>
<item><link>https://pypi.org/project/-bad-/1.0/</link></item>
<item><link>https://pypi.org/project/pkg/not.a.version/</link></item>
<item><link>/project/pkg/1.0</link><pubDate>Sunday, 06-Nov-94 08:49:37 GMT</pubDate></item>
<item><link>http://[::1/project/pkg/</link><pubDate>Sun Nov  6 08:49:37 1994</pubDate></item>
<item><link>https://pypi.org/project/</link><pubDate>garbage</pubDate></item>
</channel></rss>`,
		`<!DOCTYPE rss [<!ENTITY x "y">]><rss><channel><item><link>&x;</link></item></channel></rss>`,
		`<rss><channel><item><link>https://pypi.org/project/pkg/1.0/</link>`,
		``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		feed, err := parseFeed(body)
		if err != nil {
			if !errors.Is(err, index.ErrMalformed) {
				t.Fatalf("error %v does not wrap index.ErrMalformed", err)
			}
			return
		}
		for _, it := range feed.Items {
			checkFeedLink(t, it.Link)
			// As uploadTimeFeed reads it (no property of ours to check).
			_, _ = http.ParseTime(strings.TrimSpace(it.PubDate))
		}
	})
}

// checkFeedLink asserts that a link feedLink accepts gives a normalised
// valid name and a canonical version (or none), the forms store keys use.
func checkFeedLink(t *testing.T, link string) {
	t.Helper()
	name, version, ok := feedLink(link)
	if !ok {
		if name != "" || version != "" {
			t.Errorf("feedLink(%q) refused it but returned %q %q", link, name, version)
		}
		return
	}
	if !dist.ValidName(name) || dist.Normalize(name) != name {
		t.Errorf("feedLink(%q) name %q is not a normalised valid name", link, name)
	}
	if version == "" {
		return
	}
	v, err := dist.ParseVersion(version)
	if err != nil {
		t.Errorf("feedLink(%q) version %q does not parse: %v", link, version, err)
	} else if v.Canonical() != version {
		t.Errorf("feedLink(%q) version %q is not canonical (%q)", link, version, v.Canonical())
	}
	// The same link, whatever the whitespace around it, reads the same.
	if n, v, ok := feedLink(" \n" + link + "\t"); !ok || n != name || v != version {
		t.Errorf("feedLink(%q) with whitespace around = %q %q %v; want %q %q", link, n, v, ok, name, version)
	}
}

func FuzzFeedLink(f *testing.F) {
	for _, seed := range []string{
		"https://pypi.org/project/requests/2.32.3/",
		"https://pypi.org/project/Zope.Interface/",
		"https://pypi.org/project/pkg/1.0.post1.dev2+local/",
		"https://pypi.org/project/pkg/v1.0-RC1/",
		"https://mirror.example/a/project/b/project/c/",
		"/project/x_y/1!0.1a",
		"https://pypi.org/project/pkg/%31.0/",
		"https://pypi.org/project/p%2Fkg/1.0/",
		"project/pkg",
		"https://pypi.org/project/-x/",
		":",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, link string) {
		checkFeedLink(t, link)
	})
}

func FuzzParseUploadTime(f *testing.F) {
	for _, seed := range []string{
		// /pypi/<name>/<version>/json as pypi.org writes it (trimmed).
		`{"info":{"name":"requests","version":"2.32.3","requires_python":">=3.8"},"last_serial":24013426,
"urls":[
 {"filename":"requests-2.32.3-py3-none-any.whl","packagetype":"bdist_wheel","size":64928,"upload_time":"2024-05-29T15:37:47","upload_time_iso_8601":"2024-05-29T15:37:47.027801Z","yanked":false},
 {"filename":"requests-2.32.3.tar.gz","packagetype":"sdist","size":131218,"upload_time":"2024-05-29T15:37:49","upload_time_iso_8601":"2024-05-29T15:37:49.224548Z","yanked":false}],
"vulnerabilities":[]}`,
		`{"urls":[{"upload_time_iso_8601":"2024-05-29T17:37:49+02:00"},{"upload_time_iso_8601":"2024-05-29T15:37:50Z"}]}`,
		`{"urls":[{"upload_time_iso_8601":"not a time"},{"upload_time_iso_8601":""},{}]}`,
		`{"urls":[{"upload_time_iso_8601":"0000-01-01T00:00:00Z"},{"upload_time_iso_8601":"9999-12-31T23:59:59.999999999-23:59"}]}`,
		`{"urls":[]}`,
		`{"urls":null}`,
		`{"urls":[{"upload_time_iso_8601":1}]}`,
		`[]`,
		``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := parseUploadTime(body)
		if err != nil {
			if !errors.Is(err, index.ErrMalformed) || !got.IsZero() {
				t.Fatalf("error %v (time %v) does not wrap index.ErrMalformed", err, got)
			}
			return
		}
		if !got.IsZero() && got.Location() != time.UTC {
			t.Errorf("upload time %v is not in UTC", got)
		}
		// The earliest of the times that parse, or zero when none does.
		var doc struct {
			URLs []struct {
				UploadTime string `json:"upload_time_iso_8601"`
			} `json:"urls"`
		}
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatalf("parseUploadTime accepted JSON that does not decode: %v", err)
		}
		found := false
		for _, u := range doc.URLs {
			ut, err := time.Parse(time.RFC3339Nano, u.UploadTime)
			if err != nil || ut.IsZero() {
				continue // the zero instant is "none said" to the callers
			}
			if ut.Before(got) || got.IsZero() {
				t.Errorf("upload time %v, but a file says %v", got, ut)
			}
			found = found || ut.Equal(got)
		}
		if !got.IsZero() && !found {
			t.Errorf("upload time %v is none of the files'", got)
		}
		again, err := parseUploadTime(body)
		if err != nil || !again.Equal(got) {
			t.Errorf("a second parse gave %v, %v; the first %v", again, err, got)
		}
	})
}
