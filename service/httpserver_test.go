package service

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// start serves h with lim on a loopback port until the test ends.
func start(t *testing.T, h http.Handler, lim HTTPLimits) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, capped := httpServer(h, ln, lim, slog.New(slog.NewTextHandler(io.Discard, nil)))
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
		addr := start(t, ok, HTTPLimits{ReadHeader: 100 * time.Millisecond})
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
	t.Run("an answer not written in time is cut off", func(t *testing.T) {
		release := make(chan struct{})
		slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-release
			io.WriteString(w, strings.Repeat("x", 1<<20))
		})
		addr := start(t, slow, HTTPLimits{Write: 100 * time.Millisecond})
		go func() { time.Sleep(500 * time.Millisecond); close(release) }()
		resp, err := http.Get("http://" + addr + "/")
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		if err == nil {
			t.Error("the answer was written after the write timeout")
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
