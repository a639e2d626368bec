package service

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pysmoke/pysmoke/report"
	"github.com/pysmoke/pysmoke/store"
)

// start serves h with lim on a loopback port until the test ends.
func start(t *testing.T, h http.Handler, lim HTTPLimits) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, capped := httpServer(h, nil, ln, lim, slog.New(slog.NewTextHandler(io.Discard, nil)))
	go srv.Serve(capped)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

var ok = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })

// closedWithin reports whether the server closes conn (a read ends)
// before the bound: the limits are a fraction of it, so a pass does not
// rest on the machine's speed.
func closedWithin(conn net.Conn, bound time.Duration) bool {
	conn.SetReadDeadline(time.Now().Add(bound))
	_, err := io.Copy(io.Discard, conn)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

func TestHTTPLimits(t *testing.T) {
	t.Run("a request's headers past MaxHeaderBytes are answered 431", func(t *testing.T) {
		addr := start(t, ok, HTTPLimits{MaxHeaderBytes: 1 << 10})
		req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
		req.Header.Set("X-Big", strings.Repeat("a", 8<<10))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("status %d", resp.StatusCode)
		}
	})
	t.Run("a client trickling its headers is cut off", func(t *testing.T) {
		addr := start(t, ok, HTTPLimits{Read: 100 * time.Millisecond})
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n") // and nothing more
		if !closedWithin(conn, 10*time.Second) {
			t.Error("the connection stayed open")
		}
	})
	t.Run("an idle kept-alive connection is closed", func(t *testing.T) {
		addr := start(t, ok, HTTPLimits{Idle: 100 * time.Millisecond})
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%v %v", resp, err)
		}
		resp.Body.Close()
		if !closedWithin(conn, 10*time.Second) {
			t.Error("the idle connection stayed open")
		}
	})
	t.Run("a client that stops reading is cut off", func(t *testing.T) {
		// 64 MiB, to a client whose receive buffer is small (else this
		// machine's loopback takes in a whole answer unread): the
		// server's writes block on the client, which reads nothing.
		big := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write(make([]byte, 64<<20))
		})
		addr := start(t, big, HTTPLimits{Write: 200 * time.Millisecond})
		d := net.Dialer{Control: func(network, address string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		}}
		conn, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		time.Sleep(time.Second) // not reading, well past the limit
		// Then the client reads what is there: the server gave up on the
		// answer, so the connection ends before all of it.
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := io.Copy(io.Discard, conn)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("the connection stayed open after %d bytes", n)
		}
		if n >= 64<<20 {
			t.Errorf("the whole answer was written (%d bytes) to a client that stopped reading", n)
		}
	})
	t.Run("connections past MaxConnections wait", func(t *testing.T) {
		addr := start(t, ok, HTTPLimits{MaxConnections: 2})
		var held []net.Conn
		for range 2 {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			held = append(held, c)
		}
		quick := &http.Client{Timeout: 300 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}}
		if resp, err := quick.Get("http://" + addr + "/"); err == nil {
			resp.Body.Close()
			t.Fatal("a third connection was served while two were held")
		}
		held[0].Close()
		patient := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := patient.Get("http://" + addr + "/")
		if err != nil {
			t.Fatalf("once one was released: %v", err)
		}
		resp.Body.Close()
	})
}

// countingAnswerer counts the answers the memory gave the server.
type countingAnswerer struct {
	mem  answerer
	hits atomic.Int64
}

func (c *countingAnswerer) Remembered(path, rawQuery []byte) *report.Answer {
	a := c.mem.Remembered(path, rawQuery)
	if a != nil {
		c.hits.Add(1)
	}
	return a
}

// TestAnswersFromMemory: what the server writes from the reports' memory,
// without net/http, is what net/http writes for the same request (the
// same handler behind httptest), headers and conditions included; and a
// path that is not its own decoded form, or is refused, goes to the
// handler.
func TestAnswersFromMemory(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "pysmoke.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	fillStore(t, st, 3)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	rep := report.New(st, report.Options{BaseURL: "http://pysmoke.test", Logger: quiet, Runs: st, Recent: st})
	mem := &countingAnswerer{mem: rep}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, capped := httpServer(rep, mem, ln, HTTPLimits{}, quiet)
	go srv.Serve(capped)
	t.Cleanup(func() { srv.Close() })
	ours := "http://" + ln.Addr().String()
	std := httptest.NewServer(rep)
	defer std.Close()

	do := func(base, method, path string, header ...string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.URL.Opaque = path // as written, escapes and dots kept
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
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
	same := func(label string, a, b *http.Response, abody, bbody []byte) {
		t.Helper()
		if a.StatusCode != b.StatusCode || !bytes.Equal(abody, bbody) {
			t.Errorf("%s: %d, %d bytes from memory; %d, %d bytes from net/http", label, a.StatusCode, len(abody), b.StatusCode, len(bbody))
		}
		for _, h := range []string{"Content-Type", "Content-Length", "ETag", "Cache-Control", "Last-Modified", "X-Content-Type-Options", "Vary"} {
			if a.Header.Get(h) != b.Header.Get(h) {
				t.Errorf("%s: %s %q from memory, %q from net/http", label, h, a.Header.Get(h), b.Header.Get(h))
			}
		}
	}

	for _, path := range []string{"/badge/project-0001.svg", "/project/project-0001/", "/api/v1/project/project-0001.json", "/", "/feed/project-0001.atom"} {
		do(ours, "GET", path) // rendered, and kept
		before := mem.hits.Load()
		resp, body := do(ours, "GET", path)
		if mem.hits.Load() != before+1 {
			t.Fatalf("%s: not answered from memory the second time", path)
		}
		sresp, sbody := do(std.URL, "GET", path)
		same(path, resp, sresp, body, sbody)
		if resp.StatusCode != 200 || resp.Header.Get("ETag") == "" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("%s: %s, ETag %q, nosniff %q", path, resp.Status, resp.Header.Get("ETag"), resp.Header.Get("X-Content-Type-Options"))
		}
	}

	const badge = "/badge/project-0001.svg"
	resp, body := do(ours, "GET", badge)
	etag, lastModified := resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
	t.Run("HEAD: the length, no body", func(t *testing.T) {
		head, hbody := do(ours, "HEAD", badge)
		if head.StatusCode != 200 || len(hbody) != 0 || head.Header.Get("Content-Length") != strconv.Itoa(len(body)) {
			t.Errorf("%s, %d bytes, Content-Length %q (the body is %d)", head.Status, len(hbody), head.Header.Get("Content-Length"), len(body))
		}
	})
	t.Run("conditional GETs", func(t *testing.T) {
		for _, c := range []struct {
			header, value string
			status        int
		}{
			{"If-None-Match", etag, 304},
			{"If-None-Match", `"other", ` + etag, 304},
			{"If-None-Match", `W/` + etag, 304},
			{"If-None-Match", `"other"`, 200},
			{"If-Modified-Since", lastModified, 304},
			{"If-Modified-Since", "Mon, 01 Jan 2001 00:00:00 GMT", 200},
		} {
			before := mem.hits.Load()
			r, b := do(ours, "GET", badge, c.header, c.value)
			if mem.hits.Load() != before+1 {
				t.Errorf("%s: %s: not answered from memory", c.header, c.value)
			}
			sr, sb := do(std.URL, "GET", badge, c.header, c.value)
			if r.StatusCode != c.status {
				t.Errorf("%s: %s: %s, want %d", c.header, c.value, r.Status, c.status)
			}
			same(c.header+": "+c.value, r, sr, b, sb)
			if c.status == 304 && (len(b) != 0 || r.Header.Get("Content-Type") != "") {
				t.Errorf("%s: a 304 with %d bytes and Content-Type %q", c.header, len(b), r.Header.Get("Content-Type"))
			}
		}
	})
	t.Run("paths not their own decoded form go to the handler", func(t *testing.T) {
		for _, c := range []struct {
			path   string
			status int
		}{
			{"/badge/%70roject-0001.svg", 200}, // decoded, the same badge
			{"/badge/../badge/project-0001.svg", 400},
			{"/badge/%2e%2e/badge/project-0001.svg", 400},
			{"/badge/project-0001.svg%00", 400},
			{"/badge/project-0001.svg?x=1", 200}, // a query it does not read: not kept
		} {
			before := mem.hits.Load()
			r, b := do(ours, "GET", c.path)
			if mem.hits.Load() != before {
				t.Errorf("%s: answered from memory", c.path)
			}
			if r.StatusCode != c.status {
				t.Errorf("%s: %s, want %d", c.path, r.Status, c.status)
			}
			sr, sb := do(std.URL, "GET", c.path)
			same(c.path, r, sr, b, sb)
		}
	})
	t.Run("a request body past the cap is refused", func(t *testing.T) {
		// The length alone says it: the server answers without reading
		// the body, so none is sent (a client still writing one when the
		// server closes reads a reset instead of the answer).
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", badge, maxRequestBody+1)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("%s, want 413", resp.Status)
		}
	})
}

// TestGarbageIsNotLogged: a client sending garbage, connection after
// connection, writes nothing to the service's log at its default level
// (fasthttp reports each such connection; net/http never did).
func TestGarbageIsNotLogged(t *testing.T) {
	var logged bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: &logged, mu: &mu}, nil))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, capped := httpServer(ok, nil, ln, HTTPLimits{}, log)
	go srv.Serve(capped)
	t.Cleanup(func() { srv.Close() })
	for range 20 {
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(conn, "\x00\x01 not http at all\r\n\r\n")
		// The server answers 400 and closes.
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil || resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("garbage: %v %v", resp, err)
		}
		conn.Close()
	}
	mu.Lock()
	defer mu.Unlock()
	if logged.Len() != 0 {
		t.Errorf("garbage requests logged:\n%s", logged.String())
	}
	// The same message at Debug is there for who asks.
	var debug bytes.Buffer
	fastLogger{slog.New(slog.NewTextHandler(&debug, &slog.HandlerOptions{Level: slog.LevelDebug}))}.Printf("error when serving connection %q<->%q: %v", "a", "b", "bad request")
	if !strings.Contains(debug.String(), "level=DEBUG") {
		t.Errorf("at Debug: %q", debug.String())
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
