package crawler

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/PuerkitoBio/goquery"
)

// acceptSimple prefers PEP 691 JSON and still takes PEP 503 HTML, so that a
// static mirror serving only HTML works too.
const acceptSimple = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"

// File is one distribution file listed on a project's simple page.
type File struct {
	Filename       string
	URL            string // absolute, without fragment
	SHA256         string // lower-case hex; empty when the index gave none
	RequiresPython string
	Yanked         bool
	YankedReason   string
	UploadTime     time.Time // zero when the index does not say (HTML)
}

var hexSHA256 = regexp.MustCompile(`^[0-9a-f]{64}$`)

// parseSimpleJSON reads a PEP 691 project page.
func parseSimpleJSON(body []byte, base *url.URL) ([]File, error) {
	var page struct {
		Files []struct {
			Filename       string            `json:"filename"`
			URL            string            `json:"url"`
			Hashes         map[string]string `json:"hashes"`
			RequiresPython *string           `json:"requires-python"`
			Yanked         json.RawMessage   `json:"yanked"`
			UploadTime     string            `json:"upload-time"`
		} `json:"files"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		return nil, fmt.Errorf("malformed simple JSON: %w", err)
	}
	var files []File
	for _, f := range page.Files {
		u, err := base.Parse(f.URL)
		if err != nil {
			return nil, fmt.Errorf("file %q: bad url %q: %w", f.Filename, f.URL, err)
		}
		u.Fragment = ""
		file := File{Filename: f.Filename, URL: u.String(), SHA256: strings.ToLower(f.Hashes["sha256"])}
		if f.RequiresPython != nil {
			file.RequiresPython = *f.RequiresPython
		}
		var yankedBool bool
		var yankedReason string
		switch {
		case len(f.Yanked) == 0:
		case json.Unmarshal(f.Yanked, &yankedBool) == nil:
			file.Yanked = yankedBool
		case json.Unmarshal(f.Yanked, &yankedReason) == nil:
			file.Yanked, file.YankedReason = true, yankedReason
		}
		if f.UploadTime != "" {
			if t, err := time.Parse(time.RFC3339Nano, f.UploadTime); err == nil {
				file.UploadTime = t
			}
		}
		files = append(files, file)
	}
	return files, nil
}

// parseSimpleHTML reads a PEP 503 project page: one anchor per file, the
// hash in the URL fragment, the rest in data- attributes.
func parseSimpleHTML(r io.Reader, base *url.URL) ([]File, error) {
	doc, err := goquery.NewDocumentFromReader(r)
	if err != nil {
		return nil, fmt.Errorf("malformed simple HTML: %w", err)
	}
	var files []File
	var bad error
	doc.Find("a[href]").Each(func(_ int, a *goquery.Selection) {
		href, _ := a.Attr("href")
		u, err := base.Parse(href)
		if err != nil {
			bad = fmt.Errorf("bad href %q: %w", href, err)
			return
		}
		f := File{Filename: strings.TrimSpace(a.Text())}
		if frag, ok := strings.CutPrefix(u.Fragment, "sha256="); ok {
			f.SHA256 = strings.ToLower(frag)
		}
		u.Fragment = ""
		f.URL = u.String()
		if f.Filename == "" {
			f.Filename = pathBase(u.Path)
		}
		f.RequiresPython, _ = a.Attr("data-requires-python")
		// Present means yanked, even when empty.
		if reason, ok := a.Attr("data-yanked"); ok {
			f.Yanked, f.YankedReason = true, reason
		}
		files = append(files, f)
	})
	return files, bad
}

func pathBase(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}
