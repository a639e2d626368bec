package localindex

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestFaultStatusAndRetryAfter(t *testing.T) {
	fx := newFixture(t, Options{})
	lift := fx.ix.InjectFault("/simple/foo-bar/", Fault{Status: http.StatusTooManyRequests, RetryAfter: "3600", Times: 2})
	for range 2 {
		resp, _ := mustGet(t, http.StatusTooManyRequests, fx.url+"/simple/foo-bar/")
		if resp.Header.Get("Retry-After") != "3600" {
			t.Errorf("Retry-After %q", resp.Header.Get("Retry-After"))
		}
	}
	mustGet(t, http.StatusOK, fx.url+"/simple/foo-bar/") // lifted itself after 2
	mustGet(t, http.StatusOK, fx.url+"/simple/other/")   // never matched
	if hits := lift(); hits != 2 {
		t.Errorf("fault answered %d requests, want 2", hits)
	}

	lift = fx.ix.InjectFault("/rss/", Fault{Status: http.StatusServiceUnavailable})
	for range 3 {
		mustGet(t, http.StatusServiceUnavailable, fx.url+"/rss/updates.xml")
	}
	lift()
	mustGet(t, http.StatusOK, fx.url+"/rss/updates.xml")
}

func TestFaultDelay(t *testing.T) {
	fx := newFixture(t, Options{})
	fx.ix.InjectFault("/simple/", Fault{Delay: time.Hour})
	// A client that gives up ends the wait (the handler does not hold the
	// connection for an hour).
	client := &http.Client{Timeout: 100 * time.Millisecond}
	if _, err := client.Get(fx.url + "/simple/foo-bar/"); err == nil {
		t.Fatal("a delayed answer came before the client's timeout")
	}
	fx.ix.ClearFaults()
	mustGet(t, http.StatusOK, fx.url+"/simple/foo-bar/")
}

func TestFaultTruncate(t *testing.T) {
	fx := newFixture(t, Options{})
	path, _ := fx.ix.FilePath("foo_bar-1.0.tar.gz")
	full := fx.files["foo_bar-1.0.tar.gz"]
	for _, p := range []string{path, "/simple/foo-bar/"} {
		fx.ix.InjectFault(p, Fault{Truncate: true, Times: 1})
		// A conditional request gets the (cut) body too, not a 304.
		resp, err := http.Get(fx.url + p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%s: read %d bytes, err %v; want the transfer cut off", p, len(got), err)
		}
		if resp.ContentLength <= int64(len(got)) {
			t.Errorf("%s: Content-Length %d does not announce more than the %d bytes sent", p, resp.ContentLength, len(got))
		}
	}
	_, body := mustGet(t, http.StatusOK, fx.url+path)
	if !bytes.Equal(body, full) {
		t.Error("file not whole after the fault")
	}
}

func TestFaultMalformed(t *testing.T) {
	fx := newFixture(t, Options{})
	fx.ix.InjectFault("/", Fault{Malformed: true})
	_, body := mustGet(t, http.StatusOK, fx.url+"/simple/foo-bar/", "Accept", mimeV1JSON)
	if json.Valid(body) {
		t.Errorf("malformed JSON is valid: %s", body)
	}
	_, body = mustGet(t, http.StatusOK, fx.url+"/simple/foo-bar/")
	if strings.Contains(string(body), "</html>") {
		t.Errorf("malformed HTML is whole: %s", body)
	}
	_, body = mustGet(t, http.StatusOK, fx.url+"/rss/updates.xml")
	var v any
	if err := xml.Unmarshal(body, &v); err == nil {
		t.Errorf("malformed XML parses: %s", body)
	}
	_, body = mustGet(t, http.StatusOK, fx.url+"/pypi/foo-bar/json")
	if json.Valid(body) {
		t.Errorf("malformed JSON API is valid: %s", body)
	}
}

func TestFaultWrongBytes(t *testing.T) {
	fx := newFixture(t, Options{})
	path, _ := fx.ix.FilePath("foo_bar-1.0.tar.gz")
	full := fx.files["foo_bar-1.0.tar.gz"]
	fx.ix.InjectFault(path, Fault{WrongBytes: true})
	resp, body := mustGet(t, http.StatusOK, fx.url+path)
	if len(body) != len(full) || resp.ContentLength != int64(len(full)) {
		t.Errorf("wrong bytes: %d bytes (Content-Length %d), want the full %d", len(body), resp.ContentLength, len(full))
	}
	if sha256Hex(body) == sha256Hex(full) {
		t.Error("bytes match the hash")
	}
}

func TestFaultStale(t *testing.T) {
	fx := newFixture(t, Options{})
	page := fx.url + "/simple/foo-bar/"
	old, oldBody := mustGet(t, http.StatusOK, page, "Accept", mimeV1JSON)
	snap, err := fx.ix.Snapshot(page)
	if err != nil {
		t.Fatal(err)
	}
	fx.adder(t)(tinySdist(t, "foo_bar", "3.0", ""))
	fresh, _ := mustGet(t, http.StatusOK, page, "Accept", mimeV1JSON)
	if fresh.Header.Get("X-PyPI-Last-Serial") == old.Header.Get("X-PyPI-Last-Serial") {
		t.Fatal("serial did not move")
	}

	fx.ix.InjectFault("/simple/foo-bar/", Fault{Stale: snap, Times: 3})
	resp, body := mustGet(t, http.StatusOK, page, "Accept", mimeV1JSON)
	if !bytes.Equal(body, oldBody) || resp.Header.Get("X-PyPI-Last-Serial") != old.Header.Get("X-PyPI-Last-Serial") ||
		resp.Header.Get("ETag") != old.Header.Get("ETag") {
		t.Errorf("stale copy differs from the old page: serial %s, body %s", resp.Header.Get("X-PyPI-Last-Serial"), body)
	}
	_, body = mustGet(t, http.StatusOK, page)
	if !strings.HasSuffix(string(body), "<!--SERIAL 6-->\n") {
		t.Errorf("stale HTML copy has another serial:\n%s", body)
	}
	// The CDN answers a conditional request for its copy with a 304, and
	// one for the fresh page with its stale copy.
	mustGet(t, http.StatusOK, page, "Accept", mimeV1JSON, "If-None-Match", fresh.Header.Get("ETag"))
	_, body = mustGet(t, http.StatusOK, page, "Accept", mimeV1JSON)
	if !strings.Contains(string(body), "3.0") {
		t.Errorf("fault did not lift after 3 answers: %s", body)
	}
}

func TestStats(t *testing.T) {
	fx := newFixture(t, Options{})
	fx.ix.ResetStats()
	resp, _ := mustGet(t, http.StatusOK, fx.url+"/simple/foo-bar/")
	mustGet(t, http.StatusNotModified, fx.url+"/simple/foo-bar/", "If-None-Match", resp.Header.Get("ETag"))
	mustGet(t, http.StatusNotFound, fx.url+"/simple/nope/")
	path, _ := fx.ix.FilePath("other-0.1.tar.gz")
	mustGet(t, http.StatusOK, fx.url+path)
	st := fx.ix.Stats()
	if st.Requests != 4 || st.ByStatus[200] != 2 || st.ByStatus[304] != 1 || st.ByStatus[404] != 1 {
		t.Errorf("stats %+v", st)
	}
	if st.ByPath["/simple/<project>/"] != 3 || st.ByPath["/packages/"] != 1 {
		t.Errorf("by path %v", st.ByPath)
	}
	if st.Bytes < int64(len(fx.files["other-0.1.tar.gz"])) {
		t.Errorf("bytes %d", st.Bytes)
	}
}
