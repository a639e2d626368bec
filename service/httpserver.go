package service

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
	"golang.org/x/net/netutil"

	"github.com/pysmoke/pysmoke/report"
)

// HTTPLimits bound what one client can hold of the report server: the
// pages, badges and feeds are public, and a client that trickles its
// request, never reads the answer or opens connection after connection
// must not starve the others. The zero value of each field means its
// default.
type HTTPLimits struct {
	// Read is the time to read a request, from its first byte (default
	// 10 s): a client trickling it is cut off. No route takes a body.
	Read time.Duration
	// Write is the time to write an answer, from its first byte (default
	// 60 s: a large log to a slow reader); a client that stops reading is
	// cut off.
	Write time.Duration
	// Idle is how long a kept-alive connection waits for its next request
	// (default 120 s).
	Idle time.Duration
	// MaxHeaderBytes caps a request's line and headers (default 16 KiB:
	// the pages take no cookies); more is answered 431.
	MaxHeaderBytes int
	// MaxConnections caps the connections served at once (default 1024);
	// more wait to be accepted.
	MaxConnections int
}

func (l HTTPLimits) withDefaults() HTTPLimits {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&l.Read, 10*time.Second)
	def(&l.Write, 60*time.Second)
	def(&l.Idle, 120*time.Second)
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = 16 << 10
	}
	if l.MaxConnections <= 0 {
		l.MaxConnections = 1024
	}
	return l
}

// maxRequestBody caps what a request may carry: no route takes a body.
const maxRequestBody = 64 << 10

// answerer is what the server asks first of every GET and HEAD: a response
// the reports keep in memory (*report.Handler), written without net/http.
type answerer interface {
	Remembered(path, rawQuery []byte) *report.Answer
}

// webServer serves the reports with fasthttp. net/http's server costs each
// request a goroutine that watches the connection and a fresh request and
// header maps, which put a badge's 99th percentile at 2.0 ms on a core
// where fasthttp's is under 1 (docs/benchmarks.md); the badges are the
// most requested answers, and all are answered from memory. What is not in
// memory goes to the net/http handler, through fasthttp's adaptor.
type webServer struct {
	fs *fasthttp.Server
}

// httpServer is the report server over ln, with its limits: the server,
// and the listener it must serve (capped at MaxConnections). mem, when not
// nil, answers from memory before h.
func httpServer(h http.Handler, mem answerer, ln net.Listener, lim HTTPLimits, log *slog.Logger) (*webServer, net.Listener) {
	lim = lim.withDefaults()
	slow := fasthttpadaptor.NewFastHTTPHandler(h)
	handle := func(ctx *fasthttp.RequestCtx) {
		if mem != nil && (ctx.IsGet() || ctx.IsHead()) {
			// The path as sent (Path would clean it: h judges what was
			// sent, through the adaptor, which passes the request's URI
			// as it came). One with an escape goes to h, which decodes it
			// as net/http does; without one, it is its own decoded form,
			// and only paths h accepted and answered are remembered.
			path := ctx.URI().PathOriginal()
			if bytes.IndexByte(path, '%') < 0 {
				if a := mem.Remembered(path, ctx.URI().QueryString()); a != nil {
					writeAnswer(ctx, a)
					return
				}
			}
		}
		slow(ctx)
	}
	fs := &fasthttp.Server{
		Handler:               handle,
		ReadTimeout:           lim.Read,
		WriteTimeout:          lim.Write,
		IdleTimeout:           lim.Idle,
		ReadBufferSize:        lim.MaxHeaderBytes,
		MaxRequestBodySize:    maxRequestBody,
		NoDefaultServerHeader: true,
		NoDefaultContentType:  true, // the adaptor sniffs, as net/http does
		CloseOnShutdown:       true,
		Logger:                fastLogger{log},
		ErrorHandler:          requestError,
	}
	return &webServer{fs: fs}, netutil.LimitListener(ln, lim.MaxConnections)
}

// requestError answers a request that could not be read: 431 for headers
// past MaxHeaderBytes, 413 for a body past maxRequestBody, 408 for one not
// read in time, 400 for the rest (fasthttp's own answers but the 413).
func requestError(ctx *fasthttp.RequestCtx, err error) {
	var small *fasthttp.ErrSmallBuffer
	var ne net.Error
	switch {
	case errors.As(err, &small):
		ctx.Error("request headers too large", fasthttp.StatusRequestHeaderFieldsTooLarge)
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		ctx.Error("request body too large", fasthttp.StatusRequestEntityTooLarge)
	case errors.As(err, &ne) && ne.Timeout():
		ctx.Error("request timeout", fasthttp.StatusRequestTimeout)
	default:
		ctx.Error("bad request", fasthttp.StatusBadRequest)
	}
}

// writeAnswer writes a remembered answer, or 304 to a request whose
// conditions it meets.
func writeAnswer(ctx *fasthttp.RequestCtx, a *report.Answer) {
	hd := &ctx.Response.Header
	for _, kv := range a.Header {
		hd.Set(kv[0], kv[1])
	}
	req := &ctx.Request.Header
	if a.NotModified(string(req.Peek("If-None-Match")), string(req.Peek("If-Modified-Since"))) {
		hd.Del("Content-Type")
		ctx.SetStatusCode(fasthttp.StatusNotModified)
		return
	}
	// The body is shared and never changed: not copied. A HEAD's is not
	// sent; its length is.
	ctx.Response.SetBodyRaw(a.Body)
}

// Serve serves ln until Shutdown or Close.
func (w *webServer) Serve(ln net.Listener) error { return w.fs.Serve(ln) }

// Shutdown stops accepting, closes idle connections and waits, until ctx
// ends, for the requests being answered.
func (w *webServer) Shutdown(ctx context.Context) error { return w.fs.ShutdownWithContext(ctx) }

// Close stops at once.
func (w *webServer) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.fs.ShutdownWithContext(ctx); err != nil && err != context.Canceled {
		return err
	}
	return nil
}

// fastLogger takes fasthttp's messages to the service's log. A
// connection's own error (a malformed request: the client's business, which
// net/http does not log either) is at Debug, lest a client sending garbage
// write a line per connection; the rest (the listener's errors) at Warn.
type fastLogger struct{ log *slog.Logger }

func (l fastLogger) Printf(format string, args ...any) {
	level := slog.LevelWarn
	if strings.HasPrefix(format, "error when serving connection") {
		level = slog.LevelDebug
	}
	l.log.Log(context.Background(), level, "report server", "err", fmt.Sprintf(format, args...))
}
