package report_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pysmoke/pysmoke/outcome"
	"github.com/pysmoke/pysmoke/report"
	"github.com/pysmoke/pysmoke/store"
)

const (
	hostile = `<script>alert("x")</script>`
	base    = "https://smoke.example"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type fixture struct {
	t *testing.T
	s *store.Store
}

func newStore(t *testing.T, pythons ...string) fixture {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, filepath.Join(t.TempDir(), "pysmoke.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	var pys []store.Python
	for _, p := range pythons {
		pys = append(pys, store.Python{Python: p, FullVersion: p + ".1", Path: "/opt/python/" + p})
	}
	if err := s.SetPythons(ctx, pys); err != nil {
		t.Fatal(err)
	}
	return fixture{t, s}
}

func (f fixture) release(project, display, version string, at time.Time) {
	f.t.Helper()
	if _, err := f.s.AddRelease(context.Background(), store.Release{Project: project, DisplayName: display, Version: version, DiscoveredAt: at, UploadedAt: at}); err != nil {
		f.t.Fatal(err)
	}
}

// cell stores a cell of two steps, "sdist" (passed) and "test" (with the
// cell's status, reason and detail), and a log for each; a failed cell
// also records a dependency.
func (f fixture) cell(project, version, python string, st outcome.Status, reason, detail string) {
	f.t.Helper()
	c := store.Cell{
		Project: project, Version: version, Python: python, FullVersion: python + ".1", Backend: "bwrap",
		Status: st, Reason: reason, StartedAt: t0, FinishedAt: t0.Add(time.Minute),
		Steps: []store.Step{
			{Name: "sdist", Status: outcome.Passed, Duration: 1500 * time.Millisecond,
				Artifacts: []store.Artifact{{Path: project + "-" + version + ".tar.gz", Size: 1234, SHA256: "ab12"}}},
			{Name: "test", Status: st, Reason: reason, Detail: detail, ExitCode: exitCode(st), Duration: 2 * time.Second},
		},
	}
	if st == outcome.Failed {
		// Tested with one dependency installed.
		c.Dependencies = []store.Dependency{{Name: "lib", Version: "2.0", Filename: "lib-2.0-py3-none-any.whl", SHA256: "cd34"}}
	}
	logs := map[string][]byte{"sdist": []byte("running sdist\n"), "test": []byte("Traceback: " + detail + "\n")}
	if err := f.s.SaveCell(context.Background(), c, logs); err != nil {
		f.t.Fatal(err)
	}
}

func exitCode(st outcome.Status) int {
	if st == outcome.Passed {
		return 0
	}
	return 1
}

// standard fills the store used by most tests, with Pythons 2.7 and 3.12:
//
//	foo  1.0 passed on both; 1.1 passed on 2.7, failed on 3.12
//	     (module-removed, a hostile step detail)
//	bar  2.0 without cells
//	baz  1.0 passed on 2.7, 3.12 pending; 1.1 without cells
//	qux  1.0 resource-limit on 2.7, no-tests on 3.12
//	quux 1.0 machinery error on both
//	evil 1.0 with a hostile display name
func standard(t *testing.T) *store.Store {
	f := newStore(t, "2.7", "3.12")
	f.release("foo", "Foo", "1.0", t0)
	f.cell("foo", "1.0", "2.7", outcome.Passed, "", "")
	f.cell("foo", "1.0", "3.12", outcome.Passed, "", "")
	f.release("foo", "Foo", "1.1", t0.Add(24*time.Hour))
	f.cell("foo", "1.1", "2.7", outcome.Passed, "", "")
	f.cell("foo", "1.1", "3.12", outcome.Failed, outcome.ReasonModuleRemoved, hostile)
	f.release("bar", "bar", "2.0", t0)
	f.release("baz", "baz", "1.0", t0)
	f.cell("baz", "1.0", "2.7", outcome.Passed, "", "")
	f.release("baz", "baz", "1.1", t0.Add(time.Hour))
	f.release("qux", "qux", "1.0", t0)
	f.cell("qux", "1.0", "2.7", outcome.ResourceLimit, outcome.ReasonTimeout, "")
	f.cell("qux", "1.0", "3.12", outcome.NoTests, outcome.ReasonNoTests, "")
	f.release("quux", "quux", "1.0", t0)
	f.cell("quux", "1.0", "2.7", outcome.Machinery, outcome.ReasonSandbox, "")
	f.cell("quux", "1.0", "3.12", outcome.Machinery, outcome.ReasonSandbox, "")
	f.release("evil", `<img src=x onerror=alert(1)>`, "1.0", t0)
	return f.s
}

func serve(t *testing.T, src report.Source, opts report.Options) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(report.New(src, opts))
	t.Cleanup(srv.Close)
	return srv
}

var client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

type response struct {
	code   int
	header http.Header
	body   string
}

func do(t *testing.T, method, url string, header map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, string(b)}
}

func get(t *testing.T, url string) response { return do(t, "GET", url, nil) }

func TestRoutes(t *testing.T) {
	srv := serve(t, standard(t), report.Options{BaseURL: base})
	tests := []struct {
		path     string
		code     int
		ctype    string
		location string
	}{
		{"/", 200, "text/html; charset=utf-8", ""},
		{"/project/foo/", 200, "text/html; charset=utf-8", ""},
		{"/project/foo", 301, "", "/project/foo/"},
		{"/project/Foo/", 301, "", "/project/foo/"},
		{"/project/Foo", 301, "", "/project/foo/"},
		{"/project/Foo/?x=1", 301, "", "/project/foo/?x=1"},
		{"/project/-foo/", 400, "", ""},
		{"/project/a%2F..%2Fb/", 400, "", ""},
		{"/project/nope/", 404, "", ""},
		{"/project/foo/1.1/3.12/test.log", 200, "text/plain; charset=utf-8", ""},
		{"/project/Foo/1.1/3.12/test.log", 301, "", "/project/foo/1.1/3.12/test.log"},
		{"/project/foo/1.1/3.12/test.html", 200, "text/html; charset=utf-8", ""},
		{"/project/Foo/1.1/3.12/test.html", 301, "", "/project/foo/1.1/3.12/test.html"},
		{"/project/foo/1.1/3.12/nope.html", 404, "", ""},
		{"/project/foo/1.1/3.12/test.txt", 404, "", ""},
		{"/project/foo/1.1/3.12/nope.log", 404, "", ""},
		{"/project/foo/9.9/3.12/test.log", 404, "", ""},
		{"/project/nope/1.0/3.12/test.log", 404, "", ""},
		{"/project/foo/1.1/3.12/test.txt", 404, "", ""},
		{"/project/foo/1.1/3.12/..%2F..%2Fx.log", 400, "", ""},
		{"/project/foo/1.1%2F..%2F..%2F/3.12/test.log", 400, "", ""},
		{"/project/foo/1.1/3.12%2F../test.log", 400, "", ""},
		{"/project/foo/1.1/three/test.log", 400, "", ""},
		{"/badge/foo.svg", 200, "image/svg+xml", ""},
		{"/badge/Foo.svg", 301, "", "/badge/foo.svg"},
		{"/badge/zope.interface.svg", 301, "", "/badge/zope-interface.svg"},
		{"/badge/a%2F..%2Fetc.svg", 400, "", ""},
		{"/badge/.svg", 400, "", ""},
		{"/badge/foo.png", 404, "", ""},
		{"/badge/nope.svg", 200, "image/svg+xml", ""},
		{"/feed/foo.rss", 200, "application/rss+xml; charset=utf-8", ""},
		{"/feed/foo.atom", 200, "application/atom+xml; charset=utf-8", ""},
		{"/feed/Foo.atom", 301, "", "/feed/foo.atom"},
		{"/feed/FOO.rss", 301, "", "/feed/foo.rss"},
		{"/feed/foo.json", 404, "", ""},
		{"/feed/nope.rss", 404, "", ""},
		{"/feed/a%2F..%2Fb.rss", 400, "", ""},
		{"/feeds/all.rss", 200, "application/rss+xml; charset=utf-8", ""},
		{"/feeds/all.atom", 200, "application/atom+xml; charset=utf-8", ""},
		{"/feeds/python/3.12.atom", 200, "application/atom+xml; charset=utf-8", ""},
		{"/feeds/python/3.12.json", 404, "", ""},
		{"/feeds/python/three.rss", 404, "", ""},
		{"/feeds/other/3.12.rss", 404, "", ""},
		{"/feeds/foo.rss", 404, "", ""},
		{"/api/v1/project/foo.json", 200, "application/json", ""},
		{"/api/v1/project/FOO.json", 301, "", "/api/v1/project/foo.json"},
		{"/api/v1/project/nope.json", 404, "", ""},
		{"/api/v1/project/%3Cx%3E.json", 400, "", ""},
		{"/elsewhere", 404, "", ""},
		// NUL and traversal shapes, however encoded: refused before any
		// handler (not the mux's redirect to a cleaned path).
		{"/project/foo%00/", 400, "", ""},
		{"/badge/foo%00.svg", 400, "", ""},
		{"/project/%2e%2e/", 400, "", ""},
		{"/project/foo/%2E%2E/%2e%2e/badge/foo.svg", 400, "", ""},
		{"/feed/..%2Ffoo.rss", 400, "", ""},
		{"/project/foo/./", 400, "", ""},
		{"/project/foo%0a/", 400, "", ""},
	}
	for _, tc := range tests {
		r := get(t, srv.URL+tc.path)
		if r.code != tc.code {
			t.Errorf("GET %s: %d, want %d (%s)", tc.path, r.code, tc.code, r.body)
			continue
		}
		if tc.ctype != "" && r.header.Get("Content-Type") != tc.ctype {
			t.Errorf("GET %s: Content-Type %q, want %q", tc.path, r.header.Get("Content-Type"), tc.ctype)
		}
		if got := r.header.Get("Location"); got != tc.location {
			t.Errorf("GET %s: Location %q, want %q", tc.path, got, tc.location)
		}
		if got := r.header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("GET %s: X-Content-Type-Options %q", tc.path, got)
		}
	}
	if r := do(t, "POST", srv.URL+"/", nil); r.code != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d", r.code)
	}
}

func TestOverview(t *testing.T) {
	srv := serve(t, standard(t), report.Options{BaseURL: base})
	r := get(t, srv.URL+"/")
	for _, want := range []string{
		`<th scope="row"><a href="/project/foo/">foo</a></th>`,
		`<a href="/project/foo/#v1.1">1.1</a> <small>2026-03-02</small>`,
		`<td class="summary"><span class="s-pass">passed 2.7</span>; <span class="s-fail">failed 3.12</span></td>`,
		`<td class="summary"><span class="s-pending">pending 2.7, 3.12</span></td>`, // bar
		`<td class="summary"><span class="s-warn">resource-limit 2.7</span>; <span class="s-warn">no-tests 3.12</span></td>`,
		`<a href="/badge/foo.svg">badge</a> · <a href="/feed/foo.rss">RSS</a> · <a href="/feed/foo.atom">Atom</a> · <a href="/api/v1/project/foo.json">JSON</a>`,
		`By Python: <a href="/python/2.7/">2.7</a> · <a href="/python/3.12/">3.12</a> · changes: <a href="/feeds/all.atom">Atom</a>`,
		// A column per Python, a coloured cell per Python of the latest
		// release, its reason in the title.
		`<th scope="col" class="py"><a href="/python/2.7/">2.7</a></th><th scope="col" class="py"><a href="/python/3.12/">3.12</a></th>`,
		`<td class="cell s-pass" title="2.7: passed">passed</td><td class="cell s-fail" title="3.12: failed (module-removed)">failed</td>`, // foo 1.1
		`<td class="cell s-pending" title="2.7: pending">pending</td><td class="cell s-pending" title="3.12: pending">pending</td>`,        // bar
		`<td class="cell s-grey" title="2.7: machinery-error (sandbox-error)">machinery-error</td>`,                                        // quux
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("overview lacks %s\n%s", want, r.body)
		}
	}
}

func TestOverviewEmpty(t *testing.T) {
	srv := serve(t, newStore(t, "3.12").s, report.Options{})
	if r := get(t, srv.URL+"/"); r.code != 200 || !strings.Contains(r.body, "<p>No projects yet.</p>") {
		t.Errorf("%d %s", r.code, r.body)
	}
}

func TestProjectPage(t *testing.T) {
	srv := serve(t, standard(t), report.Options{BaseURL: base})
	r := get(t, srv.URL+"/project/foo/")
	for _, want := range []string{
		`<thead><tr><th scope="col">Release</th><th scope="col" title="2.7.1">2.7</th><th scope="col" title="3.12.1">3.12</th></tr></thead>`,
		`<tr id="v1.1">`,
		`<tr id="v1.0">`,
		`<td class="s-pass"><span class="status">passed</span><br><span class="logs">logs: <a class="s-pass" href="/project/foo/1.1/2.7/sdist.html" title="passed, exit 0, 1.5s">sdist</a> <a class="s-pass" href="/project/foo/1.1/2.7/test.html" title="passed, exit 0, 2s">test</a></span></td>`,
		`<td class="s-fail"><span class="status">failed</span><br><span class="reason">module-removed</span> <span class="step">in test</span>` +
			`<br><span class="detail" title="&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;">&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</span>`,
		`<a class="s-fail" href="/project/foo/1.1/3.12/test.html" title="failed (module-removed), exit 1, 2s">test</a>`,
		`<link rel="alternate" type="application/atom+xml" title="foo (Atom)" href="/feed/foo.atom">`,
		`<code>[![smoke](https://smoke.example/badge/foo.svg)](https://smoke.example/project/foo/)</code>`,
		// The history chart: 1.0 then 1.1 left to right, 2.7 above 3.12.
		`<svg xmlns="http://www.w3.org/2000/svg" width="124" height="44" role="img"`,
		`<text x="36" y="9" text-anchor="end">2.7</text><text x="36" y="21" text-anchor="end">3.12</text>`,
		`<rect x="40" y="0" width="10" height="10" class="s-pass"><title>1.0 on 2.7: passed</title></rect>`,
		`<rect x="40" y="12" width="10" height="10" class="s-pass"><title>1.0 on 3.12: passed</title></rect>`,
		`<rect x="52" y="0" width="10" height="10" class="s-pass"><title>1.1 on 2.7: passed</title></rect>`,
		`<rect x="52" y="12" width="10" height="10" class="s-fail"><title>1.1 on 3.12: failed (module-removed)</title></rect>`,
		`<text x="40" y="36">1.0</text><text x="62" y="36" text-anchor="end">1.1</text>`,
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("project page lacks %s", want)
		}
	}
	// Releases newest first.
	if i, j := strings.Index(r.body, `id="v1.1"`), strings.Index(r.body, `id="v1.0"`); i < 0 || j < i {
		t.Errorf("releases not newest first")
	}
	if strings.Contains(r.body, "<script") {
		t.Errorf("hostile detail not escaped")
	}

	// Pending cells are blank but for the word.
	r = get(t, srv.URL+"/project/baz/")
	if want := `<td class="s-pending"><span class="status">pending</span></td>`; !strings.Contains(r.body, want) {
		t.Errorf("baz lacks %s", want)
	}

	r = get(t, srv.URL+"/project/evil/")
	if strings.Contains(r.body, "<img src=x") || !strings.Contains(r.body, `<small>(&lt;img src=x onerror=alert(1)&gt;)</small>`) {
		t.Errorf("hostile display name not escaped:\n%s", r.body)
	}
}

func TestPageCSPAllowsOnlyItsStyle(t *testing.T) {
	srv := serve(t, standard(t), report.Options{})
	r := get(t, srv.URL+"/project/foo/")
	m := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindStringSubmatch(r.body)
	if m == nil {
		t.Fatal("no style element")
	}
	sum := sha256.Sum256([]byte(m[1]))
	want := "style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	csp := r.header.Get("Content-Security-Policy")
	if !strings.Contains(csp, want) || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q lacks %q", csp, want)
	}
}

func TestStepLog(t *testing.T) {
	srv := serve(t, standard(t), report.Options{})
	const want = "Traceback: " + hostile + "\n"
	url := srv.URL + "/project/foo/1.1/3.12/test.log"
	// Go's client asks for gzip and decodes it, as a browser does.
	r := get(t, url)
	if r.body != want {
		t.Errorf("log %q", r.body)
	}
	if r.header.Get("Content-Type") != "text/plain; charset=utf-8" || r.header.Get("X-Content-Type-Options") != "nosniff" ||
		r.header.Get("Vary") != "Accept-Encoding" {
		t.Errorf("headers %v", r.header)
	}
	// The kept bytes go out as they are to a client that takes gzip, and
	// decompressed to one that does not.
	for _, c := range []struct {
		accept string
		gzip   bool
	}{
		{"gzip", true},
		{"deflate, gzip;q=0.5", true},
		{"*", true},
		{"identity", false},
		{"gzip;q=0", false},
		{"br, *;q=0", false},
		{"gzip;q=0, *", false},
	} {
		r := do(t, "GET", url, map[string]string{"Accept-Encoding": c.accept})
		body := r.body
		if enc := r.header.Get("Content-Encoding"); (enc == "gzip") != c.gzip {
			t.Errorf("Accept-Encoding %q: Content-Encoding %q", c.accept, enc)
			continue
		}
		if c.gzip {
			zr, err := gzip.NewReader(strings.NewReader(r.body))
			if err != nil {
				t.Fatalf("Accept-Encoding %q: %v", c.accept, err)
			}
			b, err := io.ReadAll(zr)
			if err != nil {
				t.Fatal(err)
			}
			body = string(b)
		}
		if body != want {
			t.Errorf("Accept-Encoding %q: log %q", c.accept, body)
		}
	}
}

// A log's page shows its tail as a terminal would: colours, cursor moves,
// titles and links gone, a progress bar as it was last drawn, and the
// package's text as text; it links the whole log.
func TestStepLogPage(t *testing.T) {
	f := newStore(t, "3.12")
	f.release("tty", "tty", "1.0", t0)
	log := "\x1b[1m\x1b[32m========== test session starts ==========\x1b[0m\n" +
		"Downloading  10%\rDownloading  55%\rDownloading 100%\r\n" +
		"\x1b]0;window title\x07\x1b]8;;https://evil.example/\x1b\\a link\x1b]8;;\x1b\\ \x1b[2K\x1b[1Gcleared\n" +
		"bell\x07 back\x08space \xff\xfe " + hostile + "\n" +
		"\x1b[31mFAILED\x1b[0m tests/test_x.py::test_y\n"
	c := store.Cell{Project: "tty", Version: "1.0", Python: "3.12", Status: outcome.Failed, StartedAt: t0, FinishedAt: t0,
		Steps: []store.Step{{Name: "tests", Status: outcome.Failed, ExitCode: 1}}}
	if err := f.s.SaveCell(context.Background(), c, map[string][]byte{"tests": []byte(log)}); err != nil {
		t.Fatal(err)
	}
	srv := serve(t, f.s, report.Options{})
	r := get(t, srv.URL+"/project/tty/1.0/3.12/tests.html")
	if r.code != 200 || r.header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("%d %v", r.code, r.header)
	}
	pre := r.body[strings.Index(r.body, `<pre class="log">`)+len(`<pre class="log">`):]
	pre = pre[:strings.Index(pre, "</pre>")]
	want := "========== test session starts ==========\n" +
		"Downloading 100%\n" +
		"a link cleared\n" +
		"bell backspace \ufffd &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;\n" +
		"FAILED tests/test_x.py::test_y\n"
	if pre != want {
		t.Errorf("the page shows\n%q\nwant\n%q", pre, want)
	}
	if !strings.Contains(r.body, `<p class="s-fail outcome">failed, exit 1, 0s</p>`) {
		t.Errorf("the page does not say how the step ended:\n%s", r.body)
	}
	if !strings.Contains(r.body, `The whole log: 270 bytes, 5 lines`) || !strings.Contains(r.body, `<a class="whole" href="/project/tty/1.0/3.12/tests.log">`) {
		t.Errorf("the page does not say the log's size or link the whole log:\n%s", r.body)
	}
	if whole := get(t, srv.URL+"/project/tty/1.0/3.12/tests.log").body; whole != log {
		t.Errorf("the whole log %q, want the bytes printed", whole)
	}
}

func TestJSON(t *testing.T) {
	srv := serve(t, standard(t), report.Options{BaseURL: base + "/"})
	r := get(t, srv.URL+"/api/v1/project/foo.json")
	var doc struct {
		Schema      string `json:"schema"`
		Project     string `json:"project"`
		DisplayName string `json:"display_name"`
		URLs        map[string]string
		Pythons     []map[string]string `json:"pythons"`
		Releases    []struct {
			Version, URL, State string
			Cells               []struct {
				Python, Status, Reason string
				FailingStep            string `json:"failing_step"`
				Steps                  []struct {
					Name, Status, Reason, Detail string
					ExitCode                     int    `json:"exit_code"`
					DurationMS                   int64  `json:"duration_ms"`
					LogURL                       string `json:"log_url"`
					Artifacts                    []store.Artifact
				}
				Dependencies []store.Dependency
			}
		}
	}
	if err := json.Unmarshal([]byte(r.body), &doc); err != nil {
		t.Fatalf("%v\n%s", err, r.body)
	}
	if doc.Schema != "pysmoke.project/v1" || doc.Project != "foo" || doc.DisplayName != "Foo" {
		t.Errorf("head %q %q %q", doc.Schema, doc.Project, doc.DisplayName)
	}
	if want := map[string]string{
		"html": "https://smoke.example/project/foo/", "badge": "https://smoke.example/badge/foo.svg",
		"rss": "https://smoke.example/feed/foo.rss", "atom": "https://smoke.example/feed/foo.atom",
	}; !reflect.DeepEqual(doc.URLs, want) {
		t.Errorf("urls %v", doc.URLs)
	}
	if want := []map[string]string{{"python": "2.7", "full_version": "2.7.1"}, {"python": "3.12", "full_version": "3.12.1"}}; !reflect.DeepEqual(doc.Pythons, want) {
		t.Errorf("pythons %v", doc.Pythons)
	}
	if len(doc.Releases) != 2 || doc.Releases[0].Version != "1.1" || doc.Releases[1].Version != "1.0" {
		t.Fatalf("releases %+v", doc.Releases)
	}
	rel := doc.Releases[0]
	if rel.URL != "https://smoke.example/project/foo/#v1.1" || rel.State != "found" || len(rel.Cells) != 2 {
		t.Errorf("release %+v", rel)
	}
	c := rel.Cells[1]
	if c.Python != "3.12" || c.Status != "failed" || c.Reason != "module-removed" || c.FailingStep != "test" || len(c.Steps) != 2 {
		t.Fatalf("cell %+v", c)
	}
	st := c.Steps[1]
	if st.Name != "test" || st.Status != "failed" || st.Reason != "module-removed" || st.Detail != hostile ||
		st.ExitCode != 1 || st.DurationMS != 2000 || st.LogURL != "https://smoke.example/project/foo/1.1/3.12/test.log" {
		t.Errorf("step %+v", st)
	}
	if want := []store.Dependency{{Name: "lib", Version: "2.0", Filename: "lib-2.0-py3-none-any.whl", SHA256: "cd34"}}; !reflect.DeepEqual(c.Dependencies, want) {
		t.Errorf("dependencies %+v, want %+v", c.Dependencies, want)
	}
	if !strings.Contains(r.body, `"dependencies": [`) || rel.Cells[0].Dependencies != nil {
		t.Errorf("dependencies listed where there are none, or not as \"dependencies\": %+v", rel.Cells[0].Dependencies)
	}
	if want := []store.Artifact{{Path: "foo-1.1.tar.gz", Size: 1234, SHA256: "ab12"}}; !reflect.DeepEqual(c.Steps[0].Artifacts, want) {
		t.Errorf("artifacts %+v", c.Steps[0].Artifacts)
	}
	// The raw document escapes markup too (JSON served to a browser).
	if strings.Contains(r.body, "<script") {
		t.Errorf("raw JSON carries <script")
	}

	// A pending cell is listed, with no steps.
	r = get(t, srv.URL+"/api/v1/project/baz.json")
	if !strings.Contains(r.body, `{
          "python": "3.12",
          "status": "pending",
          "reason": "",
          "steps": []
        }`) {
		t.Errorf("baz pending cell missing:\n%s", r.body)
	}
}

func TestFeedsOverHTTP(t *testing.T) {
	srv := serve(t, standard(t), report.Options{BaseURL: base})
	for _, path := range []string{"/feed/foo.rss", "/feed/foo.atom"} {
		r1, r2 := get(t, srv.URL+path), get(t, srv.URL+path)
		if r1.body != r2.body || r1.header.Get("ETag") != r2.header.Get("ETag") {
			t.Errorf("%s differs between two requests", path)
		}
		if strings.Contains(r1.body, "&lt;script") || !strings.Contains(r1.body, "&amp;lt;script&amp;gt;") {
			t.Errorf("%s: the hostile detail is not escaped as HTML inside XML:\n%s", path, r1.body)
		}
		for _, id := range []string{"tag:pysmoke,2026:foo/1.1/results", "tag:pysmoke,2026:foo/1.1/3.12/change", "tag:pysmoke,2026:foo/1.0/results"} {
			if !strings.Contains(r1.body, id+"</") {
				t.Errorf("%s lacks id %s", path, id)
			}
		}
		if !strings.Contains(r1.body, "<link>https://smoke.example/project/foo/#v1.1</link>") &&
			!strings.Contains(r1.body, `<link href="https://smoke.example/project/foo/#v1.1" rel="alternate"></link>`) {
			t.Errorf("%s lacks the link to the release row", path)
		}
	}
	if r := get(t, srv.URL+"/feed/foo.atom"); !strings.Contains(r.body, "<id>tag:pysmoke,2026:foo</id>") {
		t.Errorf("atom feed id missing")
	}
}

// badgeMessage reads label, message and colours out of a badge, proving
// on the way that it is well-formed XML.
type svgDoc struct {
	XMLName   xml.Name `xml:"http://www.w3.org/2000/svg svg"`
	Width     int      `xml:"width,attr"`
	Height    int      `xml:"height,attr"`
	Role      string   `xml:"role,attr"`
	AriaLabel string   `xml:"aria-label,attr"`
	Title     string   `xml:"title"`
	Rects     []struct {
		Fill string `xml:"fill,attr"`
	} `xml:"g>rect"`
	Texts []string `xml:"g>text"`
}

func parseSVG(t *testing.T, body string) svgDoc {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(body))
	d.Strict = true
	for {
		if _, err := d.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("badge is not well-formed XML: %v\n%s", err, body)
		}
	}
	var doc svgDoc
	if err := xml.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestBadges(t *testing.T) {
	srv := serve(t, standard(t), report.Options{})
	tests := []struct {
		project, message, color string
	}{
		{"foo", "failing 3.12", "#e05d44"},
		{"bar", "pending", "#9f9f9f"},
		{"baz", "passing", "#4c1"}, // 1.1 has no cells: 1.0 speaks
		{"qux", "inconclusive", "#dfb317"},
		{"quux", "inconclusive", "#9f9f9f"},
		{"nope", "unknown", "#9f9f9f"},
	}
	for _, tc := range tests {
		r := get(t, srv.URL+"/badge/"+tc.project+".svg")
		if r.code != 200 {
			t.Errorf("%s: %d", tc.project, r.code)
			continue
		}
		doc := parseSVG(t, r.body)
		want := "smoke: " + tc.message
		if doc.AriaLabel != want || doc.Title != want || doc.Role != "img" || doc.Height != 20 {
			t.Errorf("%s: aria-label %q title %q role %q height %d, want %q", tc.project, doc.AriaLabel, doc.Title, doc.Role, doc.Height, want)
		}
		if len(doc.Rects) != 3 || doc.Rects[0].Fill != "#555" || doc.Rects[1].Fill != tc.color {
			t.Errorf("%s: fills %+v, want #555 and %s", tc.project, doc.Rects, tc.color)
		}
		if want := []string{"smoke", "smoke", tc.message, tc.message}; !reflect.DeepEqual(doc.Texts, want) {
			t.Errorf("%s: texts %q", tc.project, doc.Texts)
		}
		if got := r.header.Get("Content-Security-Policy"); got != "script-src 'none'" {
			t.Errorf("%s: CSP %q", tc.project, got)
		}
		if got := r.header.Get("Cache-Control"); got != "max-age=300" {
			t.Errorf("%s: Cache-Control %q", tc.project, got)
		}
	}
}

// The width comes from the text: Verdana 11 px advances, "smoke" 36.21 px
// and "passing" 42.15 px, rounded up, plus 5 px padding either side.
func TestBadgeExact(t *testing.T) {
	f := newStore(t, "3.12")
	f.release("ok", "ok", "1.0", t0)
	f.cell("ok", "1.0", "3.12", outcome.Passed, "", "")
	srv := serve(t, f.s, report.Options{})
	r := get(t, srv.URL+"/badge/ok.svg")
	want := `<svg xmlns="http://www.w3.org/2000/svg" width="100" height="20" role="img" aria-label="smoke: passing"><title>smoke: passing</title>` +
		`<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>` +
		`<clipPath id="r"><rect width="100" height="20" rx="3" fill="#fff"/></clipPath>` +
		`<g clip-path="url(#r)"><rect width="47" height="20" fill="#555"/><rect x="47" width="53" height="20" fill="#4c1"/><rect width="100" height="20" fill="url(#s)"/></g>` +
		`<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" text-rendering="geometricPrecision" font-size="110">` +
		`<text aria-hidden="true" x="235" y="150" fill="#010101" fill-opacity=".3" transform="scale(.1)" textLength="370">smoke</text>` +
		`<text x="235" y="140" transform="scale(.1)" fill="#fff" textLength="370">smoke</text>` +
		`<text aria-hidden="true" x="735" y="150" fill="#010101" fill-opacity=".3" transform="scale(.1)" textLength="430">passing</text>` +
		`<text x="735" y="140" transform="scale(.1)" fill="#fff" textLength="430">passing</text></g></svg>`
	if r.body != want {
		t.Errorf("badge\n got %s\nwant %s", r.body, want)
	}
}

func TestBadgeFailingListIsCompact(t *testing.T) {
	pys := []string{"2.7", "3.6", "3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13"}
	f := newStore(t, pys...)
	f.release("old", "old", "1.0", t0)
	for _, p := range pys {
		st := outcome.Failed
		if p == "2.7" || p == "3.10" {
			st = outcome.Passed
		}
		f.cell("old", "1.0", p, st, outcome.ReasonSyntaxError, "")
	}
	f.release("two", "two", "1.0", t0)
	f.cell("two", "1.0", "3.12", outcome.Failed, "", "")
	f.cell("two", "1.0", "3.13", outcome.Rejected, "", "")
	f.cell("two", "1.0", "3.11", outcome.Passed, "", "")
	srv := serve(t, f.s, report.Options{})
	for project, want := range map[string]string{
		"old": "smoke: failing 3.6-3.9, 3.11-3.13",
		"two": "smoke: failing 3.12, 3.13",
	} {
		doc := parseSVG(t, get(t, srv.URL+"/badge/"+project+".svg").body)
		if doc.AriaLabel != want {
			t.Errorf("%s: %q, want %q", project, doc.AriaLabel, want)
		}
	}
}

func TestBadgeETag(t *testing.T) {
	f := newStore(t, "2.7", "3.12")
	f.release("foo", "foo", "1.0", t0)
	f.cell("foo", "1.0", "2.7", outcome.Passed, "", "")
	srv := serve(t, f.s, report.Options{})
	url := srv.URL + "/badge/foo.svg"

	r := get(t, url)
	etag := r.header.Get("ETag")
	if !regexp.MustCompile(`^"[0-9a-f]{32}"$`).MatchString(etag) {
		t.Fatalf("ETag %q is not strong", etag)
	}
	if again := get(t, url); again.header.Get("ETag") != etag {
		t.Errorf("ETag not stable: %q then %q", etag, again.header.Get("ETag"))
	}
	nm := do(t, "GET", url, map[string]string{"If-None-Match": etag})
	if nm.code != http.StatusNotModified || nm.body != "" || nm.header.Get("ETag") != etag {
		t.Errorf("If-None-Match: %d %q etag %q", nm.code, nm.body, nm.header.Get("ETag"))
	}
	if nm.header.Get("Cache-Control") != "max-age=300" {
		t.Errorf("304 without Cache-Control")
	}
	if r := do(t, "GET", url, map[string]string{"If-None-Match": `"other"`}); r.code != 200 {
		t.Errorf("other ETag: %d", r.code)
	}
	if r := do(t, "HEAD", url, nil); r.code != 200 || r.body != "" || r.header.Get("ETag") != etag {
		t.Errorf("HEAD: %d %q", r.code, r.body)
	}

	// A new result changes the badge and its ETag.
	f.cell("foo", "1.0", "3.12", outcome.Failed, "", "")
	r = do(t, "GET", url, map[string]string{"If-None-Match": etag})
	if r.code != 200 || r.header.Get("ETag") == etag || !strings.Contains(r.body, `aria-label="smoke: failing 3.12"`) {
		t.Errorf("after a new result: %d etag %q\n%s", r.code, r.header.Get("ETag"), r.body)
	}
}

func TestMountedUnderPrefix(t *testing.T) {
	h := report.New(standard(t), report.Options{BaseURL: "https://example.org/pysmoke/"})
	mux := http.NewServeMux()
	mux.Handle("/pysmoke/", http.StripPrefix("/pysmoke", h))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	if r := get(t, srv.URL+"/pysmoke/badge/Foo.svg"); r.code != 301 || r.header.Get("Location") != "/pysmoke/badge/foo.svg" {
		t.Errorf("redirect: %d %q", r.code, r.header.Get("Location"))
	}
	r := get(t, srv.URL+"/pysmoke/")
	if !strings.Contains(r.body, `<a href="/pysmoke/project/foo/">foo</a>`) {
		t.Errorf("overview links ignore the prefix:\n%s", r.body)
	}
	if r := get(t, srv.URL+"/pysmoke/api/v1/project/foo.json"); !strings.Contains(r.body, `"html": "https://example.org/pysmoke/project/foo/"`) {
		t.Errorf("JSON links ignore the base URL")
	}
}

// brokenStore fails one kind of read.
type brokenStore struct {
	*store.Store
	failReleases, failCells, failLog bool
}

var errDisk = errors.New("disk on fire")

func (b brokenStore) Releases(ctx context.Context, project string) ([]store.Release, error) {
	if b.failReleases {
		return nil, errDisk
	}
	return b.Store.Releases(ctx, project)
}

func (b brokenStore) Cells(ctx context.Context, project, version string) ([]store.Cell, error) {
	if b.failCells {
		return nil, errDisk
	}
	return b.Store.Cells(ctx, project, version)
}

func (b brokenStore) StepLog(ctx context.Context, project, version, python, step string, whole bool) (store.Log, error) {
	if b.failLog {
		return store.Log{}, errDisk
	}
	return b.Store.StepLog(ctx, project, version, python, step, whole)
}

func TestStoreErrorIs500(t *testing.T) {
	s := standard(t)
	paths := []string{"/", "/project/foo/", "/badge/foo.svg", "/feed/foo.rss", "/feed/foo.atom", "/api/v1/project/foo.json", "/project/foo/1.1/3.12/test.log", "/project/foo/1.1/3.12/test.html"}
	for _, broken := range []brokenStore{{Store: s, failReleases: true}, {Store: s, failCells: true}, {Store: s, failLog: true}} {
		var logs bytes.Buffer
		srv := serve(t, broken, report.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		for _, path := range paths {
			if broken.failLog != (strings.HasSuffix(path, ".log") || strings.HasSuffix(path, "test.html")) {
				continue
			}
			logs.Reset()
			r := get(t, srv.URL+path)
			if r.code != 500 {
				t.Errorf("%s with %+v: %d, want 500", path, broken, r.code)
			}
			if strings.Contains(r.body, "disk on fire") {
				t.Errorf("%s: the error leaks into the response", path)
			}
			if !strings.Contains(logs.String(), "disk on fire") {
				t.Errorf("%s: the reason is not logged: %q", path, logs.String())
			}
		}
	}
}

func TestPythonBadges(t *testing.T) {
	srv := serve(t, standard(t), report.Options{})
	for _, tc := range []struct{ path, label, message, color string }{
		{"/badge/foo/3.12.svg", "python 3.12", "failing", "#e05d44"}, // 1.1 fails there
		{"/badge/foo/2.7.svg", "python 2.7", "passing", "#4c1"},
		{"/badge/foo/pythons.svg", "python", "2.7", "#007ec6"}, // 1.1 works on 2.7 only
		{"/badge/baz/3.12.svg", "python 3.12", "pending", "#9f9f9f"},
		{"/badge/baz/pythons.svg", "python", "2.7", "#007ec6"}, // 1.1 has no cells: 1.0 speaks
		{"/badge/qux/2.7.svg", "python 2.7", "inconclusive", "#dfb317"},
		{"/badge/qux/pythons.svg", "python", "none", "#9f9f9f"},
		{"/badge/foo/3.9.svg", "python 3.9", "not tested", "#9f9f9f"},
		{"/badge/nope/3.12.svg", "python 3.12", "unknown", "#9f9f9f"},
	} {
		r := get(t, srv.URL+tc.path)
		if r.code != 200 {
			t.Errorf("%s: %d", tc.path, r.code)
			continue
		}
		doc := parseSVG(t, r.body)
		if want := tc.label + ": " + tc.message; doc.AriaLabel != want || len(doc.Rects) != 3 || doc.Rects[1].Fill != tc.color {
			t.Errorf("%s: %q %+v, want %q in %s", tc.path, doc.AriaLabel, doc.Rects, want, tc.color)
		}
	}
	for path, code := range map[string]int{"/badge/Foo/3.12.svg": 301, "/badge/foo/x.svg": 404, "/badge/foo/3.12.png": 404, "/badge/-x/3.12.svg": 400} {
		if r := get(t, srv.URL+path); r.code != code {
			t.Errorf("%s: %d, want %d", path, r.code, code)
		}
	}

	// Every Python passed but 3.6: the works-on badge keeps the majors
	// apart.
	f := newStore(t, "2.7", "3.6", "3.7", "3.8", "3.12", "3.13")
	f.release("all", "all", "1.0", t0)
	for _, py := range []string{"2.7", "3.7", "3.8", "3.12", "3.13"} {
		f.cell("all", "1.0", py, outcome.Passed, "", "")
	}
	f.cell("all", "1.0", "3.6", outcome.Failed, outcome.ReasonTestFailure, "")
	srv = serve(t, f.s, report.Options{})
	if doc := parseSVG(t, get(t, srv.URL+"/badge/all/pythons.svg").body); doc.AriaLabel != "python: 2.7 | 3.7-3.13" {
		t.Errorf("works on: %q", doc.AriaLabel)
	}
}

func TestChangesFeedsOverHTTP(t *testing.T) {
	srv := serve(t, standard(t), report.Options{BaseURL: base})
	for path, want := range map[string]string{
		"/feeds/all.rss":          "foo 1.1: 3.12 passed -&gt; failed",
		"/feeds/python/3.12.atom": "foo 1.1: 3.12 passed -&gt; failed",
	} {
		if r := get(t, srv.URL+path); r.code != 200 || !strings.Contains(r.body, want) {
			t.Errorf("%s: %d, want an item %q:\n%s", path, r.code, want, r.body)
		}
	}
	if r := get(t, srv.URL+"/feeds/python/2.7.rss"); r.code != 200 || strings.Contains(r.body, "<item>") {
		t.Errorf("2.7 has no change, its feed: %d\n%s", r.code, r.body)
	}
}

// /python/3.12/: every project's newest release tested there, the
// regression (foo 1.1: 1.0 passed on 3.12) first.
func TestPythonPage(t *testing.T) {
	srv := serve(t, standard(t), report.Options{})
	r := get(t, srv.URL+"/python/3.12/")
	if r.code != 200 {
		t.Fatalf("%d %s", r.code, r.body)
	}
	var rows []string
	link := regexp.MustCompile(`<a href="[^"]*">([^<]*)</a>`)
	for _, tr := range strings.Split(r.body, "<tr>")[2:] {
		rows = append(rows, link.FindStringSubmatch(tr)[1])
	}
	// foo fails and passed before; qux, quux (3.12: no-tests, machinery)
	// follow by name; baz and bar have no cell on 3.12; evil has none.
	if want := []string{"foo", "quux", "qux"}; !reflect.DeepEqual(rows, want) {
		t.Errorf("rows %q, want %q", rows, want)
	}
	if !strings.Contains(r.body, `<span class="flag">regression</span>`) || !strings.Contains(r.body, "/feeds/python/3.12.atom") {
		t.Errorf("page:\n%s", r.body)
	}
	for path, code := range map[string]int{"/python/3.9/": 404, "/python/three/": 404, "/python/3.12": 301} {
		if r := get(t, srv.URL+path); r.code != code {
			t.Errorf("%s: %d, want %d", path, r.code, code)
		}
	}
}

// The overview lists 100 projects a page, by name.
func TestOverviewPages(t *testing.T) {
	f := newStore(t, "3.12")
	for i := range 250 {
		f.release(fmt.Sprintf("p%03d", i), "", "1.0", t0)
	}
	srv := serve(t, f.s, report.Options{})
	rows := func(body string) []string {
		return regexp.MustCompile(`<th scope="row"><a href="[^"]*">([^<]*)</a>`).FindAllString(body, -1)
	}
	for _, tc := range []struct {
		query       string
		n           int
		first, note string
	}{
		{"", 100, "p000", `Projects 1 to 100 of 250, page 1 of 3. <a rel="next" href="/?page=2">next</a>`},
		{"?page=2", 100, "p100", `<a rel="prev" href="/">previous</a> <a rel="next" href="/?page=3">next</a>`},
		{"?page=3", 50, "p200", `Projects 201 to 250 of 250, page 3 of 3. <a rel="prev" href="/?page=2">previous</a></p>`},
	} {
		r := get(t, srv.URL+"/"+tc.query)
		got := rows(r.body)
		if r.code != 200 || len(got) != tc.n || !strings.Contains(got[0], ">"+tc.first+"<") || !strings.Contains(r.body, tc.note) {
			t.Errorf("%q: %d, %d rows from %q; page note %q not found", tc.query, r.code, len(got), got[0], tc.note)
		}
	}
	for q, code := range map[string]int{"?page=4": 404, "?page=0": 400, "?page=x": 400, "?page=01": 400, "?page=": 400,
		"page/2/": 200, "page/4/": 404, "page/0/": 400, "page/x/": 400} {
		if r := get(t, srv.URL+"/"+q); r.code != code {
			t.Errorf("%s: %d, want %d", q, r.code, code)
		}
	}
	// A static copy's links have no query: /page/N/.
	static := serve(t, f.s, report.Options{Static: true})
	if r := get(t, static.URL+"/page/2/"); r.code != 200 || !strings.Contains(r.body, `<a rel="prev" href="/">previous</a> <a rel="next" href="/page/3/">next</a>`) {
		t.Errorf("/page/2/ of a static copy: %d\n%s", r.code, r.body)
	}
}

// The administrative actions on a project are on its page, newest first,
// with who, when and why, escaped; a project without any shows no such
// section.
func TestProjectPageActions(t *testing.T) {
	st := standard(t)
	ctx := context.Background()
	for i, a := range []store.Action{
		{Project: "foo", Action: "rerun", Detail: "1.1 on 3.12: 1 build queued", Actor: "ana@ci", Reason: "the runner was flaky", At: t0},
		{Project: "foo", Action: "rerun", Detail: "every release on 2.7: 2 builds queued", Actor: "bo@ci", Reason: hostile, At: t0.Add(time.Hour)},
	} {
		if err := st.RecordAction(ctx, a); err != nil {
			t.Fatalf("action %d: %v", i, err)
		}
	}
	srv := serve(t, st, report.Options{BaseURL: base, Actions: st})
	body := get(t, srv.URL+"/project/foo/").body
	want := `<h2>Administration</h2>
<ul class="actions">
<li><time>2026-03-01 13:00 UTC</time>: bo@ci asked for a rerun (every release on 2.7: 2 builds queued): <q>&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</q></li>
<li><time>2026-03-01 12:00 UTC</time>: ana@ci asked for a rerun (1.1 on 3.12: 1 build queued): <q>the runner was flaky</q></li>
</ul>`
	if !strings.Contains(body, want) {
		t.Errorf("foo's page lacks\n%s\n%s", want, body[max(0, strings.Index(body, "</table>")):])
	}
	if body := get(t, srv.URL+"/project/baz/").body; strings.Contains(body, "Administration") {
		t.Errorf("baz, never touched, shows an administration section")
	}
}

// Once retention has dropped an older release's whole log, its page
// shows the tail and says so, with no link, and the whole log's URL says
// it is gone; a log all in its tail is still served whole.
func TestDroppedLog(t *testing.T) {
	f := newStore(t, "3.12")
	long := strings.Repeat("collected 1 item, and many lines like this one\n", 2000) + "the end\n"
	for _, v := range []string{"1.0", "1.1"} {
		f.release("old", "old", v, t0)
		c := store.Cell{Project: "old", Version: v, Python: "3.12", Status: outcome.Passed, StartedAt: t0, FinishedAt: t0,
			Steps: []store.Step{{Name: "tests", Status: outcome.Passed}, {Name: "sdist", Status: outcome.Passed}}}
		if err := f.s.SaveCell(context.Background(), c, map[string][]byte{"tests": []byte(long), "sdist": []byte("running sdist\n")}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.s.DropWholeLogs(context.Background(), 1, true); err != nil {
		t.Fatal(err)
	}
	srv := serve(t, f.s, report.Options{})
	page := get(t, srv.URL+"/project/old/1.0/3.12/tests.html")
	if page.code != 200 || !strings.Contains(page.body, "The last 1395 lines of a log of 91.8 KiB") ||
		!strings.Contains(page.body, "no longer kept") || strings.Contains(page.body, `class="whole"`) || !strings.Contains(page.body, "the end\n</pre>") {
		t.Errorf("the page of a dropped log: %d\n%s", page.code, page.body)
	}
	if r := get(t, srv.URL+"/project/old/1.0/3.12/tests.log"); r.code != http.StatusGone || !strings.Contains(r.body, "no longer kept") {
		t.Errorf("the dropped whole log: %d %q", r.code, r.body)
	}
	if r := get(t, srv.URL+"/project/old/1.0/3.12/sdist.log"); r.code != 200 || r.body != "running sdist\n" {
		t.Errorf("a dropped log all in its tail: %d %q", r.code, r.body)
	}
	if r := get(t, srv.URL+"/project/old/1.1/3.12/tests.html"); !strings.Contains(r.body, `class="whole"`) || strings.Contains(r.body, "no longer kept") {
		t.Errorf("the latest release's log page: %s", r.body)
	}
	if r := get(t, srv.URL+"/project/old/1.1/3.12/tests.log"); r.body != long {
		t.Errorf("the latest release's whole log: %d bytes, want %d", len(r.body), len(long))
	}
}
