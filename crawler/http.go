package crawler

import (
	"context"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// UserAgent says who is asking, as the index asks every client to.
const UserAgent = "pysmoke/0.1 (release smoke-tester; +https://github.com/pysmoke/pysmoke)"

// newHTTPClient returns the client every request to an index goes
// through: retries with capped exponential backoff and jitter on transport
// errors, 429 and 5xx, honouring Retry-After but never past maxWait (the
// library alone would wait as long as the server says).
func newHTTPClient(timeout, maxWait time.Duration, log *slog.Logger) *retryablehttp.Client {
	c := retryablehttp.NewClient()
	c.HTTPClient.Timeout = timeout
	c.RetryMax = 4
	c.RetryWaitMin = 500 * time.Millisecond
	c.RetryWaitMax = maxWait
	c.Logger = slogAdapter{log}
	c.Backoff = func(min, max time.Duration, attempt int, resp *http.Response) time.Duration {
		if resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
			if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
				return minDur(time.Duration(s)*time.Second, max)
			}
		}
		d := time.Duration(float64(min) * math.Pow(2, float64(attempt)))
		d = minDur(d, max)
		// Full jitter keeps many crawlers from retrying in step.
		return time.Duration(rand.Int64N(int64(d)/2+1)) + d/2
	}
	// Give the last response back (not an error) so the caller sees the
	// status it ended on and can record it.
	c.ErrorHandler = retryablehttp.PassthroughErrorHandler
	return c
}

func minDur(a, b time.Duration) time.Duration {
	if a < b {
		return a
	}
	return b
}

type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Error(msg string, kv ...any) { a.l.Error(msg, kv...) }
func (a slogAdapter) Info(msg string, kv ...any)  { a.l.Debug(msg, kv...) }
func (a slogAdapter) Debug(msg string, kv ...any) { a.l.Debug(msg, kv...) }
func (a slogAdapter) Warn(msg string, kv ...any)  { a.l.Warn(msg, kv...) }

func newRequest(ctx context.Context, url string) (*retryablehttp.Request, error) {
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", UserAgent)
	return req, nil
}
