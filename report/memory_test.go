package report_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pysmoke/pysmoke/outcome"
	"github.com/pysmoke/pysmoke/report"
	"github.com/pysmoke/pysmoke/store"
)

// countingSource is the store, counting how often the reports read a
// project's releases: each render of a project's page or badge does.
type countingSource struct {
	*store.Store
	reads atomic.Int64
}

func (c *countingSource) Releases(ctx context.Context, project string) ([]store.Release, error) {
	c.reads.Add(1)
	return c.Store.Releases(ctx, project)
}

func TestServedFromMemory(t *testing.T) {
	f := newStore(t, "2.7", "3.12")
	f.release("foo", "foo", "1.0", t0)
	f.cell("foo", "1.0", "2.7", outcome.Passed, "", "")
	f.cell("foo", "1.0", "3.12", outcome.Passed, "", "")
	src := &countingSource{Store: f.s}
	srv := serve(t, src, report.Options{})

	first := get(t, srv.URL+"/badge/foo.svg")
	reads := src.reads.Load()
	for range 20 {
		if r := get(t, srv.URL+"/badge/foo.svg"); r.body != first.body || r.code != 200 {
			t.Fatalf("a later answer differs: %d", r.code)
		}
	}
	if got := src.reads.Load(); got != reads {
		t.Errorf("20 more requests read the store %d more times; want none", got-reads)
	}
	etag, lastMod := first.header.Get("ETag"), first.header.Get("Last-Modified")
	if etag == "" || lastMod == "" || first.header.Get("Content-Length") != "" && first.header.Get("Content-Length") != itoa(int64(len(first.body))) {
		t.Errorf("headers %v", first.header)
	}

	// Conditional requests: 304, with the validators and no body.
	for _, h := range []map[string]string{{"If-None-Match": etag}, {"If-None-Match": `"other", ` + etag}, {"If-Modified-Since": lastMod}} {
		r := do(t, "GET", srv.URL+"/badge/foo.svg", h)
		if r.code != http.StatusNotModified || r.body != "" || r.header.Get("ETag") != etag || r.header.Get("Last-Modified") != lastMod {
			t.Errorf("%v: %d %v %q", h, r.code, r.header, r.body)
		}
	}
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).Format(http.TimeFormat)
	for _, h := range []map[string]string{{"If-None-Match": `"other"`}, {"If-Modified-Since": old}, {"If-None-Match": `"other"`, "If-Modified-Since": lastMod}} {
		if r := do(t, "GET", srv.URL+"/badge/foo.svg", h); r.code != 200 || r.body != first.body {
			t.Errorf("%v: %d", h, r.code)
		}
	}
	if r := do(t, "HEAD", srv.URL+"/badge/foo.svg", nil); r.code != 200 || r.body != "" || r.header.Get("Content-Length") != itoa(int64(len(first.body))) {
		t.Errorf("HEAD: %d %v", r.code, r.header)
	}

	// A result stored is seen at once: the badge turns red.
	time.Sleep(1100 * time.Millisecond) // Last-Modified has one-second steps
	f.cell("foo", "1.0", "3.12", outcome.Failed, outcome.ReasonTestFailure, "")
	after := get(t, srv.URL+"/badge/foo.svg")
	if !strings.Contains(after.body, "failing 3.12") || after.header.Get("ETag") == etag || after.header.Get("Last-Modified") == lastMod {
		t.Errorf("after a result: %s %v", after.body, after.header)
	}
	if r := do(t, "GET", srv.URL+"/badge/foo.svg", map[string]string{"If-None-Match": etag}); r.code != 200 {
		t.Errorf("the old ETag still matches: %d", r.code)
	}
	// A write that does not change the badge keeps its Last-Modified.
	time.Sleep(1100 * time.Millisecond)
	f.release("bar", "bar", "1.0", t0)
	again := get(t, srv.URL+"/badge/foo.svg")
	if again.header.Get("ETag") != after.header.Get("ETag") || again.header.Get("Last-Modified") != after.header.Get("Last-Modified") {
		t.Errorf("an unchanged badge after another project's write: %v, was %v", again.header, after.header)
	}

	// A query the page does not read is answered, not kept: the memory
	// holds one copy of a page, not one per made-up query.
	reads = src.reads.Load()
	for i := range 3 {
		if r := get(t, srv.URL+"/badge/foo.svg?x="+itoa(int64(i))); r.code != 200 {
			t.Fatalf("with a query: %d", r.code)
		}
	}
	if got := src.reads.Load() - reads; got != 3 {
		t.Errorf("3 made-up queries read the store %d times; want each rendered, none kept", got)
	}

	// What is not kept: logs, and errors (a 404 becomes a page at once).
	if r := get(t, srv.URL+"/project/baz/"); r.code != 404 {
		t.Fatalf("baz: %d", r.code)
	}
	f.release("baz", "baz", "1.0", t0)
	if r := get(t, srv.URL+"/project/baz/"); r.code != 200 {
		t.Errorf("baz once released: %d", r.code)
	}
}

// Many readers and a writer at once (run with -race): every answer is a
// whole badge, and the last one reads the last write.
func TestMemoryConcurrent(t *testing.T) {
	f := newStore(t, "3.12")
	f.release("foo", "foo", "1.0", t0)
	f.cell("foo", "1.0", "3.12", outcome.Passed, "", "")
	srv := serve(t, f.s, report.Options{})
	done := make(chan struct{})
	errs := make(chan string, 100)
	for range 4 {
		go func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				resp, err := http.Get(srv.URL + "/badge/foo.svg")
				if err != nil {
					errs <- err.Error()
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || !strings.HasSuffix(strings.TrimSpace(string(b)), "</svg>") {
					errs <- "a torn or failed answer"
					return
				}
			}
		}()
	}
	for i := range 10 {
		st := outcome.Passed
		if i%2 == 1 {
			st = outcome.Failed
		}
		f.cell("foo", "1.0", "3.12", st, outcome.ReasonTestFailure, "")
	}
	close(done)
	select {
	case e := <-errs:
		t.Fatal(e)
	default:
	}
	if r := get(t, srv.URL+"/badge/foo.svg"); !strings.Contains(r.body, "failing 3.12") {
		t.Errorf("after the last write (a failure): %s", r.body)
	}
}

// TestRemembered: the answer a server outside net/http is given is the
// one ServeHTTP keeps, fresh only (none for a page never rendered, a made-up
// query, or after a write), and finding it allocates nothing: it is on the
// path of every badge request.
func TestRemembered(t *testing.T) {
	// A name past the 32 bytes a Go string may keep on the stack: a key
	// made as a string would be allocated.
	const long = "a-project-with-a-rather-long-name"
	f := newStore(t, "3.12")
	f.release(long, long, "1.0", t0)
	f.cell(long, "1.0", "3.12", outcome.Passed, "", "")
	h := report.New(f.s, report.Options{})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	path := []byte("/badge/" + long + ".svg")
	if a := h.Remembered(path, nil); a != nil {
		t.Fatal("an answer before any render")
	}
	first := get(t, srv.URL+string(path))
	a := h.Remembered(path, nil)
	if a == nil || string(a.Body) != first.body {
		t.Fatalf("after a render: %v", a)
	}
	var etag, lastModified string
	for _, kv := range a.Header {
		switch kv[0] {
		case "Etag":
			etag = kv[1]
		case "Last-Modified":
			lastModified = kv[1]
		}
	}
	if etag != first.header.Get("ETag") || lastModified != first.header.Get("Last-Modified") {
		t.Errorf("ETag %q, Last-Modified %q; ServeHTTP's %q, %q", etag, lastModified, first.header.Get("ETag"), first.header.Get("Last-Modified"))
	}
	if !a.NotModified(etag, "") || a.NotModified(`"other"`, "") || !a.NotModified("", lastModified) {
		t.Error("NotModified does not answer as ServeHTTP does")
	}
	if h.Remembered(path, []byte("x=1")) != nil || h.Remembered([]byte("/badge/bar.svg"), nil) != nil {
		t.Error("an answer for a request never rendered")
	}
	if n := testing.AllocsPerRun(100, func() { h.Remembered(path, nil) }); n != 0 {
		t.Errorf("a lookup allocates %v times", n)
	}
	f.cell(long, "1.0", "3.12", outcome.Failed, outcome.ReasonExitStatus, "")
	if h.Remembered(path, nil) != nil {
		t.Error("an answer after a write that changes it")
	}
}
