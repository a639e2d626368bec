package index

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 8, 21, 16, 57, 37, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"120", 2 * time.Minute, true},
		{"0", 0, true},
		{"-5", 0, false},
		{"", 0, false},
		{"soon", 0, false},
		{"Fri, 21 Aug 2026 17:57:37 GMT", time.Hour, true},
		{"Fri, 21 Aug 2026 15:57:37 GMT", 0, true}, // in the past
		{"99999999999999999999", 0, false},
	}
	for _, c := range cases {
		got, ok := retryAfter(c.in, now)
		if got != c.want || ok != c.ok {
			t.Errorf("retryAfter(%q) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestBackoffIsCappedAndJittered(t *testing.T) {
	limit := newHostLimiter(-1, 1)
	c := newHTTPClient(http.DefaultTransport, time.Second, 30*time.Second, 4, limit, slog.New(slog.NewTextHandler(io.Discard, nil)))
	req := httptest.NewRequest(http.MethodGet, "http://index.example/simple/x/", nil)
	for _, ra := range []string{"3600", "Fri, 21 Aug 2099 17:57:37 GMT"} {
		resp := &http.Response{StatusCode: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {ra}}, Request: req}
		if d := c.Backoff(c.RetryWaitMin, c.RetryWaitMax, 1, resp); d != 30*time.Second {
			t.Errorf("Retry-After %s: waited %v, want the cap", ra, d)
		}
	}
	// The whole host waits, not only that request.
	if d := limit.reserve("index.example", time.Now()); d < 29*time.Second {
		t.Errorf("host paused for %v after Retry-After", d)
	}
	if d := limit.reserve("files.example", time.Now()); d != 0 {
		t.Errorf("another host paused for %v", d)
	}
	resp := &http.Response{StatusCode: http.StatusServiceUnavailable, Header: http.Header{"Retry-After": {"2"}}, Request: req}
	if d := c.Backoff(c.RetryWaitMin, c.RetryWaitMax, 3, resp); d != 2*time.Second {
		t.Errorf("Retry-After 2 on a 503: waited %v", d)
	}
	for attempt := range 10 {
		d := backoff(500*time.Millisecond, 30*time.Second, attempt)
		full := min(30*time.Second, 500*time.Millisecond<<attempt)
		if d < full/2 || d > full {
			t.Errorf("attempt %d: backoff %v not within [%v, %v]", attempt, d, full/2, full)
		}
	}
}

func TestHostLimiter(t *testing.T) {
	l := newHostLimiter(10, 2) // 10 a second, bursts of 2
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var waits []time.Duration
	for range 5 {
		waits = append(waits, l.reserve("a", t0))
	}
	want := []time.Duration{0, 0, 100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond}
	for i := range want {
		if waits[i] != want[i] {
			t.Fatalf("waits %v, want %v", waits, want)
		}
	}
	if d := l.reserve("b", t0); d != 0 {
		t.Errorf("another host waits %v", d)
	}
	// A second later the bucket has refilled to its burst, no more.
	t1 := t0.Add(time.Second)
	if d := l.reserve("a", t1.Add(400*time.Millisecond)); d != 0 {
		t.Errorf("after the wait: %v", d)
	}
	l.pause("a", t1.Add(time.Minute))
	if d := l.reserve("a", t1.Add(500*time.Millisecond)); d != time.Minute-500*time.Millisecond {
		t.Errorf("paused host: %v", d)
	}
	if d := newHostLimiter(-1, 1).reserve("a", t0); d != 0 {
		t.Errorf("unlimited: %v", d)
	}
}
