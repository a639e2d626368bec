package report

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
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
