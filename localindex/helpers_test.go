package localindex

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// samplesDir holds the sample projects, found relative to this package.
const samplesDir = "../testdata/samples"

// testClock is a settable clock for Options.Now.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock {
	return &testClock{t: time.Date(2026, 8, 21, 16, 57, 37, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newServer starts an index over a fresh directory behind a real HTTP
// server; both are cleaned up with the test.
func newServer(t *testing.T, opts Options) (*Index, *httptest.Server) {
	t.Helper()
	ix, err := New(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ix.Handler())
	t.Cleanup(srv.Close)
	return ix, srv
}

// noRedirect is a client that reports redirects instead of following them.
var noRedirect = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// get fetches url with the given headers (name, value pairs) without
// following redirects, and returns the response and its body.
func get(t *testing.T, url string, headers ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// mustGet is get that fails the test unless the status is want.
func mustGet(t *testing.T, want int, url string, headers ...string) (*http.Response, []byte) {
	t.Helper()
	resp, body := get(t, url, headers...)
	if resp.StatusCode != want {
		t.Fatalf("GET %s: status %d, want %d; body: %.300s", url, resp.StatusCode, want, body)
	}
	return resp, body
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// buildSample builds the sdist and wheel of a sample into a temp dir and
// returns their paths.
func buildSample(t *testing.T, sample, version string) (sdist, wheel string) {
	t.Helper()
	out := t.TempDir()
	src := filepath.Join(samplesDir, sample)
	sdist, err := WriteSdist(out, src, sample, version)
	if err != nil {
		t.Fatal(err)
	}
	wheel, err = WriteWheel(out, src, sample, version)
	if err != nil {
		t.Fatal(err)
	}
	return sdist, wheel
}

// addPath publishes the file at path with AddFile.
func addPath(t *testing.T, ix *Index, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.AddFile(filepath.Base(path), data); err != nil {
		t.Fatal(err)
	}
	return data
}

// tinySdist returns a minimal sdist named "{name}-{version}.tar.gz" whose
// PKG-INFO is pkgInfo (none if empty).
func tinySdist(t *testing.T, name, version, pkgInfo string) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	top := name + "-" + version + "/"
	files := map[string]string{top + "setup.py": "from setuptools import setup\nsetup()\n"}
	if pkgInfo != "" {
		files[top+"PKG-INFO"] = pkgInfo
		// The copy inside *.egg-info must not be the one read.
		files[top+name+".egg-info/PKG-INFO"] = "Metadata-Version: 2.1\nName: wrong\nSummary: wrong\n"
	}
	for _, n := range slices.Sorted(maps.Keys(files)) {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(files[n]))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return name + "-" + version + ".tar.gz", buf.Bytes()
}

// tinyWheel returns a minimal wheel whose METADATA is metadata.
func tinyWheel(t *testing.T, name, version, metadata string) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for n, body := range map[string]string{
		name + "-" + version + ".dist-info/METADATA": metadata,
	} {
		w, err := zw.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return name + "-" + version + "-py3-none-any.whl", buf.Bytes()
}

// add publishes data under filename, failing the test on error.
func add(t *testing.T, ix *Index, filename string, data []byte) {
	t.Helper()
	if err := ix.AddFile(filename, data); err != nil {
		t.Fatal(err)
	}
}

// httptestServer serves ix's handler; the caller closes it.
func httptestServer(ix *Index) *httptest.Server { return httptest.NewServer(ix.Handler()) }

func itoa(i int) string { return strconv.Itoa(i) }
