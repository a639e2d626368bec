package index

// Every request to an index goes through go-retryablehttp: retries of
// transport errors, 429 and 5xx with capped exponential backoff and full
// jitter; Retry-After honoured but never past MaxRetryWait (the library
// alone waits as long as the server says), and the whole host paused
// meanwhile; a per-host rate limit under every attempt; timeouts per
// attempt; and bodies read inside the retry loop, so that a body cut off
// mid-transfer is retried like a failed request.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// UserAgent says who is asking, as the index asks every client to.
const UserAgent = "pysmoke/0.1 (release smoke-tester; +https://github.com/pysmoke/pysmoke)"

// newHTTPClient returns a client with the retry policy above; timeout
// bounds each attempt.
func newHTTPClient(transport http.RoundTripper, timeout, maxWait time.Duration, retries int, limit *hostLimiter, log *slog.Logger) *retryablehttp.Client {
	c := retryablehttp.NewClient()
	c.HTTPClient = &http.Client{
		Transport: transport,
		Timeout:   timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("stopped after 5 redirects")
			}
			if via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
				return errors.New("refusing a redirect from https to " + req.URL.Scheme)
			}
			return nil
		},
	}
	c.RetryMax = retries
	c.RetryWaitMin = 500 * time.Millisecond
	c.RetryWaitMax = maxWait
	c.Logger = slogAdapter{log}
	c.Backoff = func(min, max time.Duration, attempt int, resp *http.Response) time.Duration {
		if resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
			if d, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
				d = minDur(d, max)
				// The server asked the whole host to wait, not one request.
				if resp.Request != nil && limit != nil {
					limit.pause(resp.Request.URL.Host, time.Now().Add(d))
				}
				return d
			}
		}
		return backoff(min, max, attempt)
	}
	// Give the last response back (not an error) so the caller sees the
	// status it ended on and can record it.
	c.ErrorHandler = retryablehttp.PassthroughErrorHandler
	return c
}

// backoff is capped exponential backoff with jitter: between half and all
// of min*2^attempt, at most max.
func backoff(min, max time.Duration, attempt int) time.Duration {
	d := time.Duration(float64(min) * math.Pow(2, float64(attempt)))
	if d <= 0 || d > max {
		d = max
	}
	return time.Duration(rand.Int64N(int64(d)/2+1)) + d/2
}

// retryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 {
			return 0, false
		}
		if s > int64(math.MaxInt64/time.Second) {
			s = int64(math.MaxInt64 / time.Second)
		}
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d, true
		}
		return 0, true
	}
	return 0, false
}

func minDur(a, b time.Duration) time.Duration {
	if a < b {
		return a
	}
	return b
}

// slogAdapter routes the library's messages to debug: it reports every
// failed attempt, and the caller reports what a request came to.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Error(msg string, kv ...any) { a.l.Debug("http: "+msg, kv...) }
func (a slogAdapter) Info(msg string, kv ...any)  { a.l.Debug("http: "+msg, kv...) }
func (a slogAdapter) Debug(msg string, kv ...any) { a.l.Debug("http: "+msg, kv...) }
func (a slogAdapter) Warn(msg string, kv ...any)  { a.l.Debug("http: "+msg, kv...) }

// newTransport is the transport under both clients: connection and header
// timeouts (the clients bound each whole attempt), the rate limit under
// every attempt and redirect.
func newTransport(limit *hostLimiter) http.RoundTripper {
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   4,
		ForceAttemptHTTP2:     true,
	}
	return limitedTransport{next: t, limit: limit}
}

type limitedTransport struct {
	next  http.RoundTripper
	limit *hostLimiter
}

func (t limitedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := t.limit.wait(req.Context(), req.URL.Host); err != nil {
		return nil, err
	}
	return t.next.RoundTrip(req)
}

// hostLimiter is a token bucket per host: rate requests a second, bursts
// of up to burst, and a pause until a time a server asked for.
type hostLimiter struct {
	rate  float64 // <= 0: unlimited
	burst float64
	mu    sync.Mutex
	hosts map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
	paused time.Time
}

func newHostLimiter(rate float64, burst int) *hostLimiter {
	if burst < 1 {
		burst = 1
	}
	return &hostLimiter{rate: rate, burst: float64(burst), hosts: map[string]*bucket{}}
}

func (l *hostLimiter) bucket(host string, now time.Time) *bucket {
	b := l.hosts[host]
	if b == nil {
		b = &bucket{tokens: l.burst, last: now}
		l.hosts[host] = b
	}
	return b
}

// wait takes a token for host, waiting for it (and for any pause) unless
// ctx ends first.
func (l *hostLimiter) wait(ctx context.Context, host string) error {
	if l == nil {
		return nil
	}
	d := l.reserve(host, time.Now())
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// reserve takes a token for host at now and returns how long the caller
// must wait before using it.
func (l *hostLimiter) reserve(host string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(host, now)
	var d time.Duration
	if b.paused.After(now) {
		d = b.paused.Sub(now)
	}
	if l.rate > 0 {
		if now.After(b.last) {
			b.tokens = math.Min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
			b.last = now
		}
		b.tokens-- // may go below zero: a reservation that later callers queue behind
		if b.tokens < 0 {
			d = max(d, time.Duration(-b.tokens/l.rate*float64(time.Second)))
		}
	}
	return d
}

// pause holds every request to host until until.
func (l *hostLimiter) pause(host string, until time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(host, time.Now())
	if until.After(b.paused) {
		b.paused = until
	}
}

// response is a page read whole.
type response struct {
	status int
	header http.Header
	body   []byte   // 200 only
	url    *url.URL // after redirects: the base of relative links
}

// errTooLarge is a body over the size cap: not retried.
type errTooLarge struct {
	url string
	max int64
}

func (e *errTooLarge) Error() string { return fmt.Sprintf("%s is larger than %d bytes", e.url, e.max) }

// get fetches rawURL with client, conditionally when etag is
// set, and reads a 200's body whole (at most maxBytes). A transport error
// or a body cut short is retried by the client; what is left after the
// retries is the error.
func (c *Client) get(ctx context.Context, client *retryablehttp.Client, rawURL, accept, etag string, maxBytes int64) (*response, error) {
	req, err := newRequest(ctx, rawURL)
	if err != nil {
		return nil, err
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	var body []byte
	var tooLarge bool
	req.SetResponseHandler(func(resp *http.Response) error {
		if resp.StatusCode != http.StatusOK {
			return nil
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxBytes+1))
		if err != nil {
			return fmt.Errorf("read body: %w", err) // cut off: try again
		}
		if int64(len(b)) > maxBytes {
			tooLarge = true
			return nil
		}
		body = b
		return nil
	})
	c.requests.Add(1)
	resp, err := client.Do(req)
	if resp != nil && resp.Body != nil {
		defer resp.Body.Close()
	}
	if err != nil {
		c.failed.Add(1)
		return nil, fmt.Errorf("GET %s: %w", rawURL, err)
	}
	switch {
	case resp.StatusCode == http.StatusNotModified:
		c.notModified.Add(1)
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		c.failed.Add(1)
	}
	if tooLarge {
		return nil, &errTooLarge{rawURL, maxBytes}
	}
	r := &response{status: resp.StatusCode, header: resp.Header, body: body, url: resp.Request.URL}
	if r.status != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // reuse the connection
	}
	return r, nil
}

func newRequest(ctx context.Context, url string) (*retryablehttp.Request, error) {
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", UserAgent)
	return req, nil
}
