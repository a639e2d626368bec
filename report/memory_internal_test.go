package report

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type fixedCount struct{}

func (fixedCount) Changes() uint64 { return 1 }

// The memory keeps at most maxBytes of bodies: past it, it starts afresh;
// a body larger than the whole is never kept, and drops nothing.
func TestMemoryBytesBounded(t *testing.T) {
	m := &memory{count: fixedCount{}, byKey: map[string]*remembered{}, maxBytes: 100}
	renders := 0
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		renders++
		n := 40
		if r.URL.Path == "/badge/big.svg" {
			n = 200
		}
		io.WriteString(w, strings.Repeat("x", n))
	})
	get := func(path string) {
		t.Helper()
		rec := httptest.NewRecorder()
		m.serveHTTP(rec, httptest.NewRequest("GET", path, nil), h)
		if rec.Code != 200 {
			t.Fatalf("%s: %d", path, rec.Code)
		}
	}
	get("/badge/a.svg")
	get("/badge/b.svg")
	if len(m.byKey) != 2 || m.bytes != 80 {
		t.Fatalf("after two: %d kept, %d bytes", len(m.byKey), m.bytes)
	}
	get("/badge/a.svg") // kept: not rendered again
	if renders != 2 {
		t.Errorf("renders %d, want 2", renders)
	}
	get("/badge/c.svg") // 120 > 100: starts afresh with c alone
	if len(m.byKey) != 1 || m.bytes != 40 || m.byKey["/badge/c.svg?"] == nil {
		t.Errorf("after the third: %d kept, %d bytes", len(m.byKey), m.bytes)
	}
	get("/badge/big.svg")
	get("/badge/big.svg")
	if m.byKey["/badge/big.svg?"] != nil || m.byKey["/badge/c.svg?"] == nil || m.bytes != 40 || renders != 5 {
		t.Errorf("a body larger than the memory: kept %v, %d bytes, %d renders", m.byKey["/badge/big.svg?"] != nil, m.bytes, renders)
	}
}

// Requests that miss one page at once wait for a single render and all
// get its answer; the first client going away does not fail the others.
func TestMemoryOneRenderForConcurrentMisses(t *testing.T) {
	m := &memory{count: fixedCount{}, byKey: map[string]*remembered{}, maxBytes: 1 << 20}
	var renders atomic.Int32
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		renders.Add(1)
		<-release
		if err := r.Context().Err(); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		io.WriteString(w, "the overview")
	})
	ctx, cancel := context.WithCancel(context.Background())
	const clients = 32
	codes := make(chan string, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := httptest.NewRequest("GET", "/", nil)
			if i == 0 {
				req = req.WithContext(ctx)
			}
			rec := httptest.NewRecorder()
			m.serveHTTP(rec, req, h)
			codes <- fmt.Sprint(rec.Code, " ", rec.Body.String())
		}()
	}
	// Let the others join the first render, then drop the first client.
	for renders.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	cancel()
	close(release)
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != "200 the overview" {
			t.Errorf("a client got %q", c)
		}
	}
	// Those that came after the render ended were served from memory.
	if n := renders.Load(); n != 1 {
		t.Errorf("%d renders for %d clients missing at once, want 1", n, clients)
	}
}

// An answer old only by the clock is served as it is while one render
// refreshes it in the background; one older than staleTTL, or one a write
// made stale, is rendered before it is served.
func TestMemoryStaleByClockServedWhileRendered(t *testing.T) {
	m := &memory{count: fixedCount{}, byKey: map[string]*remembered{}, maxBytes: 1 << 20}
	body := "first"
	release := make(chan struct{}, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		io.WriteString(w, body)
	})
	get := func() string {
		rec := httptest.NewRecorder()
		m.serveHTTP(rec, httptest.NewRequest("GET", "/", nil), h)
		return rec.Body.String()
	}
	release <- struct{}{}
	if got := get(); got != "first" {
		t.Fatalf("first render: %q", got)
	}
	m.byKey["/?"].born = time.Now().Add(-memoryTTL - time.Second)
	body = "second"
	// The render waits on release: the old answer is served meanwhile.
	if got := get(); got != "first" {
		t.Errorf("while rendering again: %q, want the old answer", got)
	}
	release <- struct{}{}
	deadline := time.Now().Add(5 * time.Second)
	for {
		m.mu.RLock()
		e := m.byKey["/?"]
		m.mu.RUnlock()
		if string(e.body) == "second" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the background render never replaced the old answer")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := get(); got != "second" {
		t.Errorf("after the render: %q", got)
	}
	// Too old to serve while rendering: the reader waits for the render.
	m.byKey["/?"].born = time.Now().Add(-staleTTL - time.Second)
	body = "third"
	release <- struct{}{}
	if got := get(); got != "third" {
		t.Errorf("older than staleTTL: %q, want a fresh render", got)
	}
}
