package localindex

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/blake2b"
)

// pipAccept is what pip >= 22.2 sends for simple pages.
const pipAccept = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"

// fixture is an index holding two projects with known metadata.
type fixture struct {
	ix    *Index
	url   string
	clock *testClock
	files map[string][]byte // file name -> bytes
}

func newFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	clock := newTestClock()
	opts.Now = clock.Now
	ix, srv := newServer(t, opts)
	fx := &fixture{ix: ix, url: srv.URL, clock: clock, files: map[string][]byte{}}
	meta := func(version, extra string) string {
		return "Metadata-Version: 2.1\nName: Foo.Bar\nVersion: " + version +
			"\nSummary: Foo & <bar>\nRequires-Python: >=3.8\n" + extra + "\nLong description.\nSummary: not this\n"
	}
	add := fx.adder(t)
	add(tinySdist(t, "foo_bar", "1.0", meta("1.0", "Author-email: A <a@example.org>, b@example.org")))
	add(tinyWheel(t, "foo_bar", "1.0", meta("1.0", "")))
	add(tinySdist(t, "foo_bar", "2.0rc1", meta("2.0rc1", "")))
	add(tinySdist(t, "other", "0.1", "Metadata-Version: 2.1\nName: other\nVersion: 0.1\nAuthor-email: Nobody\n"))
	return fx
}

// adder returns a function that publishes a file and moves the clock on a
// minute, so items have distinct times. (A function value, so that
// tinySdist's two results can be passed straight in.)
func (fx *fixture) adder(t *testing.T) func(name string, data []byte) {
	return func(name string, data []byte) {
		t.Helper()
		add(t, fx.ix, name, data)
		fx.files[name] = data
		fx.clock.Advance(time.Minute)
	}
}

func TestSimpleIndex(t *testing.T) {
	fx := newFixture(t, Options{})
	resp, body := mustGet(t, http.StatusOK, fx.url+"/simple/")
	want := `<!DOCTYPE html>
<html>
  <head>
    <meta name="pypi:repository-version" content="1.4">
    <title>Simple index</title>
  </head>
  <body>
    <a href="/simple/foo-bar/">Foo.Bar</a>
    <a href="/simple/other/">other</a>
  </body>
</html>
`
	if string(body) != want {
		t.Errorf("HTML index:\n%s\nwant:\n%s", body, want)
	}
	if got := resp.Header.Get("X-PyPI-Last-Serial"); got != fmt.Sprint(fx.ix.Serial()) {
		t.Errorf("X-PyPI-Last-Serial %s, want %d", got, fx.ix.Serial())
	}

	resp, body = mustGet(t, http.StatusOK, fx.url+"/simple/", "Accept", pipAccept)
	wantJSON := `{"meta":{"_last-serial":9,"api-version":"1.4"},"projects":[{"_last-serial":6,"name":"Foo.Bar"},{"_last-serial":9,"name":"other"}]}` + "\n"
	if string(body) != wantJSON {
		t.Errorf("JSON index:\n%s\nwant:\n%s", body, wantJSON)
	}
	if got := resp.Header.Get("X-PyPI-Last-Serial"); got != "9" {
		t.Errorf("X-PyPI-Last-Serial %s, want 9", got)
	}
}

func TestSimpleDetailHTML(t *testing.T) {
	fx := newFixture(t, Options{})
	resp, body := mustGet(t, http.StatusOK, fx.url+"/simple/foo-bar/")
	if got := resp.Header.Get("Content-Type"); got != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", got)
	}
	if got := resp.Header.Get("X-PyPI-Last-Serial"); got != "6" {
		t.Errorf("X-PyPI-Last-Serial %s, want the project's 6 (global is 9)", got)
	}
	page := string(body)
	if !strings.HasSuffix(page, "</html>\n<!--SERIAL 6-->\n") {
		t.Errorf("page does not end with the serial comment:\n%s", page)
	}
	if !strings.Contains(page, `<meta name="pypi:repository-version" content="1.4">`) {
		t.Errorf("no repository-version meta:\n%s", page)
	}
	anchor := regexp.MustCompile(`<a href="([^"#]+)#sha256=([0-9a-f]{64})" data-requires-python="([^"]*)"` +
		`(?: data-dist-info-metadata="sha256=([0-9a-f]{64})" data-core-metadata="sha256=([0-9a-f]{64})")?>([^<]+)</a>`)
	var names []string
	for _, m := range anchor.FindAllStringSubmatch(page, -1) {
		url, sum, rp, name := m[1], m[2], m[3], m[6]
		names = append(names, name)
		// PEP 658/714: only the wheel has its metadata served beside it.
		if isWheel := strings.HasSuffix(name, ".whl"); isWheel != (m[4] != "") || m[4] != m[5] {
			t.Errorf("%s: metadata attributes %q and %q", name, m[4], m[5])
		}
		if rp != "&gt;=3.8" {
			t.Errorf("%s: data-requires-python %q, want HTML-escaped >=3.8", name, rp)
		}
		if sum != sha256Hex(fx.files[name]) {
			t.Errorf("%s: fragment sha256 %s is not the file's", name, sum)
		}
		wantURL := fx.url + "/packages/" + sum[:2] + "/" + sum[2:4] + "/" + sum + "/" + name
		if url != wantURL {
			t.Errorf("%s: href %s, want %s", name, url, wantURL)
		}
	}
	wantNames := []string{"foo_bar-1.0-py3-none-any.whl", "foo_bar-1.0.tar.gz", "foo_bar-2.0rc1.tar.gz"}
	if !slices.Equal(names, wantNames) {
		t.Errorf("anchors for %v, want %v (sorted by version, then name)\n%s", names, wantNames, page)
	}
	if strings.Contains(page, "data-yanked") {
		t.Errorf("nothing is yanked:\n%s", page)
	}
}

func TestSimpleDetailJSON(t *testing.T) {
	fx := newFixture(t, Options{})
	resp, body := mustGet(t, http.StatusOK, fx.url+"/simple/foo-bar/", "Accept", pipAccept)
	if got := resp.Header.Get("Content-Type"); got != mimeV1JSON {
		t.Errorf("Content-Type %q", got)
	}
	if got := resp.Header.Get("X-PyPI-Last-Serial"); got != "6" {
		t.Errorf("X-PyPI-Last-Serial %s, want 6", got)
	}
	checkCanonicalJSON(t, body)

	sdist := fx.files["foo_bar-1.0.tar.gz"]
	sum := sha256Hex(sdist)
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	files := doc["files"].([]any)
	if len(files) != 3 {
		t.Fatalf("%d files", len(files))
	}
	got := files[1].(map[string]any)
	want := map[string]any{
		"filename":                "foo_bar-1.0.tar.gz",
		"url":                     fx.url + "/packages/" + sum[:2] + "/" + sum[2:4] + "/" + sum + "/foo_bar-1.0.tar.gz",
		"hashes":                  map[string]any{"sha256": sum},
		"size":                    float64(len(sdist)),
		"upload-time":             "2026-08-21T16:57:37.000000Z",
		"requires-python":         ">=3.8",
		"yanked":                  false,
		"core-metadata":           false,
		"data-dist-info-metadata": false,
		"provenance":              nil,
	}
	if !jsonEqual(got, want) {
		t.Errorf("file entry:\n%v\nwant:\n%v", got, want)
	}
	rest := map[string]any{
		"name":           doc["name"],
		"versions":       doc["versions"],
		"meta":           doc["meta"],
		"project-status": doc["project-status"],
	}
	wantRest := map[string]any{
		"name":           "foo-bar",
		"versions":       []any{"1.0", "2.0rc1"},
		"meta":           map[string]any{"_last-serial": float64(6), "api-version": "1.4"},
		"project-status": map[string]any{"status": "active"},
	}
	if !jsonEqual(rest, wantRest) || len(doc) != 5 {
		t.Errorf("document:\n%v\nwant:\n%v plus files", doc, wantRest)
	}
}

func jsonEqual(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// checkCanonicalJSON asserts the index's JSON style: compact, keys sorted
// at every level, one trailing newline.
func checkCanonicalJSON(t *testing.T, body []byte) {
	t.Helper()
	if !bytes.HasSuffix(body, []byte("}\n")) || bytes.Count(body, []byte("\n")) != 1 {
		t.Errorf("not one line with a trailing newline: %q", body)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, body); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(compact.Bytes(), bytes.TrimSuffix(body, []byte("\n"))) {
		t.Errorf("not compact: %s", body)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	// A stack of (is object, last key) per open container.
	type level struct {
		object bool
		last   string
		isKey  bool
	}
	var stack []level
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				if n := len(stack); n > 0 && stack[n-1].object {
					stack[n-1].isKey = true
				}
				stack = append(stack, level{object: d == '{', isKey: true})
			default:
				stack = stack[:len(stack)-1]
			}
			continue
		}
		n := len(stack)
		if n == 0 || !stack[n-1].object {
			continue
		}
		top := &stack[n-1]
		if top.isKey {
			key := tok.(string)
			if top.last != "" && key <= top.last {
				t.Errorf("key %q after %q: keys not sorted", key, top.last)
			}
			top.last = key
		}
		top.isKey = !top.isKey
	}
}

func TestNegotiation(t *testing.T) {
	fx := newFixture(t, Options{})
	const html, v1html = "text/html; charset=utf-8", mimeV1HTML
	cases := []struct {
		accept string // "" means no header
		want   string
	}{
		{"", html},
		{"text/html", html},
		{"*/*", html},
		{"application/vnd.pypi.simple.v1+json", mimeV1JSON},
		{"application/vnd.pypi.simple.latest+json", mimeV1JSON},
		{pipAccept, mimeV1JSON},
		{"application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01", mimeV1JSON},
		{"application/vnd.pypi.simple.v1+json;q=0.1, text/html", html},
		{"application/vnd.pypi.simple.v1+json; q=0.5, text/html; q=0.4", mimeV1JSON},
		{"text/html, application/vnd.pypi.simple.v1+json", html}, // a tie goes to HTML
		{"*/*, application/vnd.pypi.simple.v1+json", mimeV1JSON}, // named beats wildcard
		{"application/vnd.pypi.simple.v1+json;q=0, */*", html},
		{"application/vnd.pypi.simple.v1+html", v1html},
		{"application/*", v1html},
		{"application/json", html}, // nothing acceptable: the default
		{"APPLICATION/VND.PYPI.SIMPLE.V1+JSON", mimeV1JSON},
		{"application/vnd.pypi.simple.v1+json;q=bogus, text/html;q=0.1", html},
	}
	for _, path := range []string{"/simple/", "/simple/foo-bar/"} {
		for _, c := range cases {
			var h []string
			if c.accept != "" {
				h = []string{"Accept", c.accept}
			}
			resp, body := mustGet(t, http.StatusOK, fx.url+path, h...)
			if got := resp.Header.Get("Content-Type"); got != c.want {
				t.Errorf("%s Accept %q: Content-Type %q, want %q", path, c.accept, got, c.want)
			}
			if got := resp.Header.Get("Vary"); got != "Accept" {
				t.Errorf("%s: Vary %q", path, got)
			}
			isJSON := json.Valid(body)
			if isJSON != (c.want == mimeV1JSON) {
				t.Errorf("%s Accept %q: body is JSON %t, Content-Type %s", path, c.accept, isJSON, c.want)
			}
		}
	}
}

func TestRedirectsAndNotFound(t *testing.T) {
	fx := newFixture(t, Options{})
	redirects := []struct{ path, want string }{
		{"/simple/Foo.Bar/", "/simple/foo-bar/"},
		{"/simple/FOO_BAR/", "/simple/foo-bar/"},
		{"/simple/foo-bar", "/simple/foo-bar/"},
		{"/simple/foo__bar", "/simple/foo-bar/"},
		{"/simple", "/simple/"},
		{"/pypi/Foo.Bar/json", "/pypi/foo-bar/json"},
		{"/pypi/foo_bar/1.0/json", "/pypi/foo-bar/1.0/json"},
		{"/rss/project/Foo.Bar/releases.xml", "/rss/project/foo-bar/releases.xml"},
	}
	for _, c := range redirects {
		resp, _ := get(t, fx.url+c.path)
		if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != c.want {
			t.Errorf("%s: %d to %q, want 301 to %q", c.path, resp.StatusCode, resp.Header.Get("Location"), c.want)
		}
	}
	sum := sha256Hex(fx.files["other-0.1.tar.gz"])
	notFound := []string{
		"/simple/nope/",
		"/simple/-bad-/",
		"/simple/Nope/", // unknown wins over non-normalised
		"/pypi/nope/json",
		"/pypi/foo-bar/9.9/json",
		"/pypi/foo-bar/not-a-version/json",
		"/rss/project/nope/releases.xml",
		"/packages/00/00/" + sum + "/other-0.1.tar.gz",
		"/packages/" + sum[:2] + "/" + sum[2:4] + "/" + sum + "/other-0.2.tar.gz",
		"/packages/" + sum[:2] + "/" + sum[2:4] + "/" + sum[:60] + "/other-0.1.tar.gz",
		"/project/foo-bar/",
	}
	for _, p := range notFound {
		if resp, _ := get(t, fx.url+p); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", p, resp.StatusCode)
		}
	}
}

func TestConditionalRequests(t *testing.T) {
	fx := newFixture(t, Options{})
	cases := []struct {
		path    string
		headers []string
		changes bool // whether adding a foo-bar release changes the page
	}{
		{"/simple/", nil, false},
		{"/simple/", []string{"Accept", pipAccept}, true},
		{"/simple/foo-bar/", nil, true},
		{"/simple/foo-bar/", []string{"Accept", pipAccept}, true},
		{"/simple/other/", nil, false},
		{"/pypi/foo-bar/json", nil, true},
		{"/pypi/foo-bar/1.0/json", nil, true}, // last_serial
		{"/rss/updates.xml", nil, true},
		{"/rss/packages.xml", nil, true}, // the latest release's summary
		{"/rss/project/foo-bar/releases.xml", nil, true},
	}
	etags := map[string]string{}
	for _, c := range cases {
		resp, body := mustGet(t, http.StatusOK, fx.url+c.path, c.headers...)
		etag := resp.Header.Get("ETag")
		if !regexp.MustCompile(`^"[0-9a-f]{64}"$`).MatchString(etag) {
			t.Errorf("%s: ETag %q is not a strong quoted hash", c.path, etag)
		}
		if etag != `"`+sha256Hex(body)+`"` {
			t.Errorf("%s: ETag is not the body's hash", c.path)
		}
		key := c.path + fmt.Sprint(c.headers)
		etags[key] = etag
		for _, inm := range []string{etag, "W/" + etag, `"nope", ` + etag, "*"} {
			resp, body := get(t, fx.url+c.path, append([]string{"If-None-Match", inm}, c.headers...)...)
			if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
				t.Errorf("%s If-None-Match %s: %d with %d bytes, want 304 and no body", c.path, inm, resp.StatusCode, len(body))
			}
			if resp.Header.Get("ETag") != etag {
				t.Errorf("%s: 304 carries ETag %q", c.path, resp.Header.Get("ETag"))
			}
		}
		mustGet(t, http.StatusOK, fx.url+c.path, append([]string{"If-None-Match", `"other"`}, c.headers...)...)
	}
	if etags["/simple/[]"] == etags["/simple/[Accept "+pipAccept+"]"] {
		t.Error("HTML and JSON variants share an ETag")
	}

	fx.adder(t)(tinySdist(t, "foo-bar", "3.0", ""))
	for _, c := range cases {
		key := c.path + fmt.Sprint(c.headers)
		resp, _ := get(t, fx.url+c.path, append([]string{"If-None-Match", etags[key]}, c.headers...)...)
		want := http.StatusNotModified
		if c.changes {
			want = http.StatusOK
		}
		if c.path == "/simple/" && c.headers == nil {
			want = http.StatusNotModified // the HTML index lists names only
		}
		if resp.StatusCode != want {
			t.Errorf("%s %v after a new release: %d, want %d", c.path, c.headers, resp.StatusCode, want)
		}
	}
}

func TestJSONAPI(t *testing.T) {
	fx := newFixture(t, Options{BaseURL: "https://pypi.example/"})
	resp, body := mustGet(t, http.StatusOK, fx.url+"/pypi/foo-bar/json")
	if got := resp.Header.Get("Cache-Control"); got != "max-age=900" {
		t.Errorf("Cache-Control %q", got)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" {
		t.Errorf("Content-Type %q", resp.Header.Get("Content-Type"))
	}
	var doc struct {
		Info            map[string]any
		URLs            []map[string]any
		Releases        map[string][]map[string]any
		LastSerial      int64 `json:"last_serial"`
		Vulnerabilities []any
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	// 2.0rc1 is newer but a pre-release, so 1.0 is the latest.
	info := map[string]any{}
	for _, k := range []string{"name", "version", "summary", "requires_python", "yanked", "yanked_reason", "author_email", "release_url"} {
		info[k] = doc.Info[k]
	}
	wantInfo := map[string]any{
		"name": "Foo.Bar", "version": "1.0", "summary": "Foo & <bar>", "requires_python": ">=3.8",
		"yanked": false, "yanked_reason": nil, "author_email": "A <a@example.org>, b@example.org",
		"release_url": "https://pypi.example/project/foo-bar/1.0/",
	}
	if !jsonEqual(info, wantInfo) {
		t.Errorf("info %v, want %v", info, wantInfo)
	}
	if doc.LastSerial != 6 || doc.Vulnerabilities == nil {
		t.Errorf("last_serial %d, vulnerabilities %v", doc.LastSerial, doc.Vulnerabilities)
	}
	if len(doc.Releases) != 2 || len(doc.Releases["1.0"]) != 2 || len(doc.Releases["2.0rc1"]) != 1 {
		t.Errorf("releases %v", doc.Releases)
	}
	if len(doc.URLs) != 2 {
		t.Fatalf("urls %v", doc.URLs)
	}
	for _, u := range doc.URLs {
		name := u["filename"].(string)
		data := fx.files[name]
		m := md5.Sum(data)
		b := blake2b.Sum256(data)
		sum := sha256Hex(data)
		wantType, wantPy := "sdist", "source"
		if strings.HasSuffix(name, ".whl") {
			wantType, wantPy = "bdist_wheel", "py3"
		}
		want := map[string]any{
			"filename": name, "packagetype": wantType, "python_version": wantPy,
			"digests":              map[string]any{"md5": hex.EncodeToString(m[:]), "sha256": sum, "blake2b_256": hex.EncodeToString(b[:])},
			"size":                 float64(len(data)),
			"url":                  "https://pypi.example/packages/" + sum[:2] + "/" + sum[2:4] + "/" + sum + "/" + name,
			"upload_time_iso_8601": u["upload_time_iso_8601"], "requires_python": ">=3.8",
			"yanked": false, "yanked_reason": nil,
		}
		got := map[string]any{}
		for k := range want {
			got[k] = u[k]
		}
		if !jsonEqual(got, want) {
			t.Errorf("url entry\n%v\nwant\n%v", got, want)
		}
	}

	// A version URL: that release, matched in canonical form, no releases.
	for _, v := range []string{"2.0rc1", "2.0RC1", "2.0.0rc1", "2.0-rc.1"} {
		_, body = mustGet(t, http.StatusOK, fx.url+"/pypi/foo-bar/"+v+"/json")
		var one map[string]any
		json.Unmarshal(body, &one)
		if one["info"].(map[string]any)["version"] != "2.0rc1" || one["releases"] != nil || len(one["urls"].([]any)) != 1 {
			t.Errorf("/pypi/foo-bar/%s/json: %s", v, body)
		}
	}
}

func TestJSONAPILatest(t *testing.T) {
	cases := []struct {
		name     string
		versions []string
		yank     []string
		want     string
	}{
		{"highest final", []string{"1.9", "1.10", "1.2"}, nil, "1.10"},
		{"final before pre-release", []string{"1.0", "2.0rc1", "2.0.dev1"}, nil, "1.0"},
		{"non-yanked before yanked", []string{"1.0", "1.1"}, []string{"1.1"}, "1.0"},
		{"non-yanked pre-release before yanked final", []string{"1.0", "2.0b1"}, []string{"1.0"}, "2.0b1"},
		{"pre-releases only", []string{"1.0a1", "1.0b2"}, nil, "1.0b2"},
		{"all yanked", []string{"1.0", "1.1"}, []string{"1.0", "1.1"}, "1.1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ix, srv := newServer(t, Options{})
			for _, v := range c.versions {
				add(t, ix, "p-"+v+".tar.gz", []byte(v))
			}
			for _, v := range c.yank {
				if err := ix.Yank("p", v, "bad"); err != nil {
					t.Fatal(err)
				}
			}
			_, body := mustGet(t, http.StatusOK, srv.URL+"/pypi/p/json")
			var doc struct{ Info struct{ Version string } }
			json.Unmarshal(body, &doc)
			if doc.Info.Version != c.want {
				t.Errorf("latest %s, want %s", doc.Info.Version, c.want)
			}
		})
	}
}

func TestFileDownload(t *testing.T) {
	fx := newFixture(t, Options{})
	for name, data := range fx.files {
		sum := sha256Hex(data)
		url := fx.url + "/packages/" + sum[:2] + "/" + sum[2:4] + "/" + sum + "/" + name
		resp, body := mustGet(t, http.StatusOK, url)
		if !bytes.Equal(body, data) {
			t.Errorf("%s: served bytes differ", name)
		}
		if got := resp.Header.Get("Content-Type"); got != "application/octet-stream" {
			t.Errorf("%s: Content-Type %q", name, got)
		}
		req, _ := http.NewRequest(http.MethodHead, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.ContentLength != int64(len(data)) {
			t.Errorf("HEAD %s: %d, length %d", name, resp.StatusCode, resp.ContentLength)
		}
	}
}

func TestMalformedArchives(t *testing.T) {
	ix, srv := newServer(t, Options{})
	files := map[string][]byte{
		"junk-1.0.tar.gz":             []byte("not gzip"),
		"junk-1.0.zip":                []byte("PK\x03\x04 truncated"),
		"junk-1.0.tar.bz2":            []byte("BZh9 nonsense"),
		"junk-1.0-py3-none-any.whl":   nil,
		"junk-1.0-0-py3-none-any.whl": bytes.Repeat([]byte{0}, 100),
	}
	for name, data := range files {
		add(t, ix, name, data)
	}
	status, doc, _ := simpleDetail(t, srv.URL, "junk")
	if status != http.StatusOK || len(doc.Files) != len(files) {
		t.Fatalf("status %d, %d files", status, len(doc.Files))
	}
	_, body := mustGet(t, http.StatusOK, srv.URL+"/pypi/junk/json")
	var api struct{ Info map[string]any }
	json.Unmarshal(body, &api)
	if api.Info["summary"] != "" || api.Info["requires_python"] != nil {
		t.Errorf("metadata from junk: %v", api.Info)
	}
}

// rssFeed is what the tests read from a feed.
type rssFeed struct {
	Version string `xml:"version,attr"`
	Channel struct {
		Title       string `xml:"title"`
		Link        string `xml:"link"`
		Description string `xml:"description"`
		Language    string `xml:"language"`
		Items       []struct {
			Title       string  `xml:"title"`
			Link        string  `xml:"link"`
			Description string  `xml:"description"`
			Author      string  `xml:"author"`
			PubDate     string  `xml:"pubDate"`
			GUID        *string `xml:"guid"`
		} `xml:"item"`
	} `xml:"channel"`
}

func getFeed(t *testing.T, url string) rssFeed {
	t.Helper()
	resp, body := mustGet(t, http.StatusOK, url)
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/xml" {
		t.Errorf("%s: Content-Type %q", url, resp.Header.Get("Content-Type"))
	}
	if !bytes.HasPrefix(body, []byte(`<?xml version="1.0" encoding="UTF-8"?>`)) {
		t.Errorf("%s: no XML declaration", url)
	}
	var f rssFeed
	if err := xml.Unmarshal(body, &f); err != nil {
		t.Fatalf("%s: %v\n%s", url, err, body)
	}
	if f.Version != "2.0" || f.Channel.Language != "en" {
		t.Errorf("%s: version %q language %q", url, f.Version, f.Channel.Language)
	}
	return f
}

func TestFeedsContent(t *testing.T) {
	for _, base := range []string{"", "https://pypi.example"} {
		fx := newFixture(t, Options{BaseURL: base})
		if base == "" {
			base = fx.url
		}
		t0 := newTestClock().Now()
		date := func(minutes int) string {
			return t0.Add(time.Duration(minutes) * time.Minute).Format("Mon, 02 Jan 2006 15:04:05 GMT")
		}

		up := getFeed(t, fx.url+"/rss/updates.xml")
		if up.Channel.Title != "PyPI recent updates" || up.Channel.Link != base+"/" {
			t.Errorf("updates channel %+v", up.Channel)
		}
		type item struct{ title, link, desc, author, date string }
		var got []item
		for _, it := range up.Channel.Items {
			if it.GUID != nil {
				t.Errorf("updates item %s has a guid", it.Title)
			}
			got = append(got, item{it.Title, it.Link, it.Description, it.Author, it.PubDate})
		}
		want := []item{
			{"other 0.1", base + "/project/other/0.1/", "", "", date(3)}, // "Nobody" is no address
			{"Foo.Bar 2.0rc1", base + "/project/foo-bar/2.0rc1/", "Foo & <bar>", "", date(2)},
			// 1.0's date is its first file's, not the wheel's a minute later.
			{"Foo.Bar 1.0", base + "/project/foo-bar/1.0/", "Foo & <bar>", "a@example.org, b@example.org", date(0)},
		}
		if !slices.Equal(got, want) {
			t.Errorf("updates items\n%v\nwant\n%v", got, want)
		}

		pk := getFeed(t, fx.url+"/rss/packages.xml")
		if pk.Channel.Title != "PyPI newest packages" {
			t.Errorf("packages channel %+v", pk.Channel)
		}
		got = nil
		for _, it := range pk.Channel.Items {
			if it.GUID == nil || *it.GUID != it.Link {
				t.Errorf("packages item %s: guid %v, want the link", it.Title, it.GUID)
			}
			got = append(got, item{it.Title, it.Link, it.Description, it.Author, it.PubDate})
		}
		want = []item{
			{"other added to PyPI", base + "/project/other/", "", "", date(3)},
			{"Foo.Bar added to PyPI", base + "/project/foo-bar/", "Foo & <bar>", "", date(0)},
		}
		if !slices.Equal(got, want) {
			t.Errorf("packages items\n%v\nwant\n%v", got, want)
		}

		pr := getFeed(t, fx.url+"/rss/project/foo-bar/releases.xml")
		if pr.Channel.Title != "PyPI recent updates for Foo.Bar" || pr.Channel.Link != base+"/project/foo-bar/" {
			t.Errorf("project channel %+v", pr.Channel)
		}
		got = nil
		for _, it := range pr.Channel.Items {
			got = append(got, item{it.Title, it.Link, it.Description, it.Author, it.PubDate})
		}
		want = []item{
			{"2.0rc1", base + "/project/foo-bar/2.0rc1/", "Foo & <bar>", "", date(2)},
			{"1.0", base + "/project/foo-bar/1.0/", "Foo & <bar>", "a@example.org, b@example.org", date(0)},
		}
		if !slices.Equal(got, want) {
			t.Errorf("project items\n%v\nwant\n%v", got, want)
		}
	}
}

func TestFeedLimits(t *testing.T) {
	clock := newTestClock()
	ix, srv := newServer(t, Options{Now: clock.Now})
	// 105 releases of "many", then 45 one-release projects; all files are
	// a few bytes, which the index takes as sdists without metadata.
	for i := range 105 {
		add(t, ix, fmt.Sprintf("many-1.%d.tar.gz", i), []byte{byte(i)})
		clock.Advance(time.Second)
	}
	// Same instant for all of these: arrival order must still decide.
	for i := range 45 {
		add(t, ix, fmt.Sprintf("proj%02d-1.0.tar.gz", i), []byte{byte(i)})
	}

	up := getFeed(t, srv.URL+"/rss/updates.xml")
	if n := len(up.Channel.Items); n != 100 {
		t.Fatalf("updates.xml has %d items, want 100", n)
	}
	if first, last := up.Channel.Items[0].Title, up.Channel.Items[99].Title; first != "proj44 1.0" || last != "many 1.50" {
		t.Errorf("updates.xml runs %s .. %s, want proj44 1.0 .. many 1.50", first, last)
	}

	pk := getFeed(t, srv.URL+"/rss/packages.xml")
	if n := len(pk.Channel.Items); n != 40 {
		t.Fatalf("packages.xml has %d items, want 40", n)
	}
	if first, last := pk.Channel.Items[0].Title, pk.Channel.Items[39].Title; first != "proj44 added to PyPI" || last != "proj05 added to PyPI" {
		t.Errorf("packages.xml runs %s .. %s", first, last)
	}

	pr := getFeed(t, srv.URL+"/rss/project/many/releases.xml")
	if n := len(pr.Channel.Items); n != 40 {
		t.Fatalf("project feed has %d items, want 40", n)
	}
	if first, last := pr.Channel.Items[0].Title, pr.Channel.Items[39].Title; first != "1.104" || last != "1.65" {
		t.Errorf("project feed runs %s .. %s, want 1.104 .. 1.65", first, last)
	}
	for i, it := range pr.Channel.Items {
		want := clock.Now().Add(-time.Duration(i+1) * time.Second).Format(http.TimeFormat)
		if it.PubDate != want {
			t.Errorf("item %s: pubDate %s, want %s", it.Title, it.PubDate, want)
			break
		}
	}
}

func TestXMLTextStripsInvalidCharacters(t *testing.T) {
	if got := xmlText("a\x00b\x1bc\td\uFFFEe\xff"); got != "abc\tde" {
		t.Errorf("xmlText = %q", got)
	}
}
