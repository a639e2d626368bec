package service

import (
	"log/slog"
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"
)

// HTTPLimits bound what one client can hold of the report server: the
// pages, badges and feeds are public, and a client that trickles its
// request, never reads the answer or opens connection after connection
// must not starve the others. The zero value of each field means its
// default.
type HTTPLimits struct {
	// ReadHeader is the time to read a request's headers (default 10 s),
	// Read the whole request (default 30 s): a slow client is cut off.
	ReadHeader, Read time.Duration
	// Write is the time to write an answer, from the end of the request's
	// headers (default 60 s: a large log to a slow reader).
	Write time.Duration
	// Idle is how long a kept-alive connection waits for its next request
	// (default 120 s).
	Idle time.Duration
	// MaxHeaderBytes caps a request's headers (default 16 KiB: the pages
	// take no cookies); more is answered 431.
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
	def(&l.ReadHeader, 10*time.Second)
	def(&l.Read, 30*time.Second)
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

// httpServer is the report server over ln, with its limits: the server,
// and the listener it must serve (capped at MaxConnections).
func httpServer(h http.Handler, ln net.Listener, lim HTTPLimits, log *slog.Logger) (*http.Server, net.Listener) {
	lim = lim.withDefaults()
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: lim.ReadHeader,
		ReadTimeout:       lim.Read,
		WriteTimeout:      lim.Write,
		IdleTimeout:       lim.Idle,
		MaxHeaderBytes:    lim.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return srv, netutil.LimitListener(ln, lim.MaxConnections)
}
