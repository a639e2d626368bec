package index

// Reading a project's simple page: PEP 691 JSON, or PEP 503 HTML (what a
// static mirror serves, and what old indexes serve whatever the client
// asks). A page that cannot be read whole and as written is rejected as
// a whole: a half-read page would look like removed files, and a garbled
// anchor like a file without a hash.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/PuerkitoBio/goquery"
)

// acceptSimple prefers PEP 691 JSON and still takes PEP 503 HTML, so that a
// static mirror serving only HTML works too.
const (
	acceptSimple     = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"
	acceptSimpleHTML = "application/vnd.pypi.simple.v1+html, text/html;q=0.01"
	mimeSimpleJSON   = "application/vnd.pypi.simple.v1+json"
)

// File is one distribution file listed on a project's simple page.
type File struct {
	Filename       string
	URL            string // absolute, without fragment
	SHA256         string // lower-case hex; empty when the index gave none
	Size           int64  // -1 when the index does not say (HTML)
	RequiresPython string
	Yanked         bool
	YankedReason   string
	UploadTime     time.Time // zero when the index does not say (HTML)
	// CoreMetadata is the PEP 658/714 core metadata of the file: "" when
	// the index serves none, else "sha256=<hex>" (or "true" when it gave no
	// hash); the metadata is at URL + ".metadata".
	CoreMetadata string
	Provenance   string // PEP 740 provenance URL, or ""
}

// page is a parsed project page.
type page struct {
	files  []File
	serial int64 // the project's last serial, 0 when the page does not say
}

var (
	hexSHA256     = regexp.MustCompile(`^[0-9a-f]{64}$`)
	serialComment = regexp.MustCompile(`<!--\s*SERIAL\s+(\d+)\s*-->`)
	trailingNoise = regexp.MustCompile(`(?s)(\s|<!--.*?-->)*$`)
)

// ErrMalformed marks a document that is not what the index should serve.
var ErrMalformed = errors.New("malformed page")

// checkAPIVersion accepts API version 1.x (PEP 629: a client must refuse
// a major version it does not know).
func checkAPIVersion(v string) error {
	if v == "" {
		return nil
	}
	major, _, _ := strings.Cut(v, ".")
	if major != "1" {
		return fmt.Errorf("%w: repository API version %s is not 1.x", ErrMalformed, v)
	}
	return nil
}

// parseSimpleJSON reads a PEP 691 project page.
// resolveFileURL resolves a file's URL against its page's. net/url
// resolves some references to a URL it then refuses to parse ("//::"
// against an https page gives "https://::", whose port would be "::"):
// such a URL is refused here, as malformed, not handed on to a download.
func resolveFileURL(base *url.URL, ref string) (*url.URL, error) {
	u, err := base.Parse(ref)
	if err != nil {
		return nil, err
	}
	if _, err := url.Parse(u.String()); err != nil {
		return nil, err
	}
	return u, nil
}

func parseSimpleJSON(body []byte, base *url.URL) (page, error) {
	var doc struct {
		Meta struct {
			LastSerial int64  `json:"_last-serial"`
			APIVersion string `json:"api-version"`
		} `json:"meta"`
		Files *[]struct {
			Filename             string            `json:"filename"`
			URL                  string            `json:"url"`
			Hashes               map[string]string `json:"hashes"`
			Size                 *int64            `json:"size"`
			RequiresPython       *string           `json:"requires-python"`
			Yanked               json.RawMessage   `json:"yanked"`
			UploadTime           string            `json:"upload-time"`
			CoreMetadata         json.RawMessage   `json:"core-metadata"`
			DataDistInfoMetadata json.RawMessage   `json:"data-dist-info-metadata"`
			Provenance           *string           `json:"provenance"`
		} `json:"files"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return page{}, fmt.Errorf("%w: simple JSON: %v", ErrMalformed, err)
	}
	if doc.Files == nil {
		return page{}, fmt.Errorf("%w: simple JSON without \"files\"", ErrMalformed)
	}
	if err := checkAPIVersion(doc.Meta.APIVersion); err != nil {
		return page{}, err
	}
	p := page{serial: doc.Meta.LastSerial}
	for _, f := range *doc.Files {
		if f.Filename == "" || f.URL == "" {
			return page{}, fmt.Errorf("%w: a file without filename or url", ErrMalformed)
		}
		u, err := resolveFileURL(base, f.URL)
		if err != nil {
			return page{}, fmt.Errorf("%w: file %q: bad url %q", ErrMalformed, f.Filename, f.URL)
		}
		u.Fragment = ""
		file := File{Filename: f.Filename, URL: u.String(), SHA256: strings.ToLower(f.Hashes["sha256"]), Size: -1}
		if f.Size != nil {
			file.Size = *f.Size
		}
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
				file.UploadTime = t.UTC()
			}
		}
		// PEP 714: core-metadata first, the older key as a fallback.
		file.CoreMetadata = jsonMetadata(f.CoreMetadata)
		if file.CoreMetadata == "" {
			file.CoreMetadata = jsonMetadata(f.DataDistInfoMetadata)
		}
		if f.Provenance != nil {
			file.Provenance = *f.Provenance
		}
		p.files = append(p.files, file)
	}
	return p, nil
}

// jsonMetadata reads a core-metadata value: false, true or {"sha256": ...}.
func jsonMetadata(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		if b {
			return "true"
		}
		return ""
	}
	var hashes map[string]string
	if json.Unmarshal(raw, &hashes) == nil {
		if h := strings.ToLower(hashes["sha256"]); h != "" {
			return "sha256=" + h
		}
		return "true"
	}
	return ""
}

// parseSimpleHTML reads a PEP 503 project page: one anchor per file, the
// hash in the URL fragment, the rest in data- attributes (HTML-escaped;
// goquery unescapes them). Links are resolved against base, the page's own
// URL after redirects, since static mirrors write relative links. The page
// must end with </html> (comments such as <!--SERIAL n--> aside): a
// document cut short, or garbled, is refused rather than half read.
func parseSimpleHTML(body []byte, base *url.URL) (page, error) {
	tail := trailingNoise.ReplaceAll(body[max(0, len(body)-4096):], nil)
	if !bytes.HasSuffix(bytes.ToLower(tail), []byte("</html>")) {
		return page{}, fmt.Errorf("%w: simple HTML does not end with </html> (cut short?)", ErrMalformed)
	}
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(body))
	if err != nil {
		return page{}, fmt.Errorf("%w: simple HTML: %v", ErrMalformed, err)
	}
	var p page
	if m := serialComment.FindAllSubmatch(body, -1); len(m) > 0 {
		p.serial, _ = strconv.ParseInt(string(m[len(m)-1][1]), 10, 64)
	}
	if v, ok := doc.Find(`meta[name="pypi:repository-version"]`).Attr("content"); ok {
		if err := checkAPIVersion(v); err != nil {
			return page{}, err
		}
	}
	var bad error
	doc.Find("a[href]").EachWithBreak(func(_ int, a *goquery.Selection) bool {
		href, _ := a.Attr("href")
		u, err := resolveFileURL(base, strings.TrimSpace(href))
		if err != nil {
			bad = fmt.Errorf("%w: bad href %q", ErrMalformed, href)
			return false
		}
		f := File{Filename: strings.TrimSpace(a.Text()), Size: -1}
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
		// PEP 714: data-core-metadata first, the older name as a fallback.
		meta, ok := a.Attr("data-core-metadata")
		if !ok {
			meta, ok = a.Attr("data-dist-info-metadata")
		}
		if ok {
			switch {
			case strings.HasPrefix(strings.ToLower(meta), "sha256="):
				f.CoreMetadata = strings.ToLower(meta)
			case meta == "false":
			default:
				f.CoreMetadata = "true"
			}
		}
		f.Provenance, _ = a.Attr("data-provenance")
		p.files = append(p.files, f)
		return true
	})
	return p, bad
}

func pathBase(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		p = p[i+1:]
	}
	if u, err := url.PathUnescape(p); err == nil {
		return u
	}
	return p
}
