package sandbox

// Helpers both backends share: the capped log every step writes into, and
// the small text functions of building command lines.

import (
	"bytes"
	"strings"
	"sync"
	"time"
)

// capWriter keeps the first limit bytes written and counts the rest.
type capWriter struct {
	mu      sync.Mutex
	limit   int64
	buf     bytes.Buffer
	dropped int64
	total   int64     // bytes written, kept or not
	last    time.Time // of the last write
}

// progress returns how much was written and when last.
func (w *capWriter) progress() (int64, time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.total, w.last
}

func (w *capWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.total += int64(len(p))
	w.last = time.Now()
	room := w.limit - int64(w.buf.Len())
	if w.limit <= 0 {
		room = int64(len(p))
	}
	switch {
	case room >= int64(len(p)):
		w.buf.Write(p)
	case room > 0:
		w.buf.Write(p[:room])
		w.dropped += int64(len(p)) - room
	default:
		w.dropped += int64(len(p))
	}
	return len(p), nil
}

func cut(kv string) (string, string, bool) {
	for i := 0; i < len(kv); i++ {
		if kv[i] == '=' {
			return kv[:i], kv[i+1:], i > 0
		}
	}
	return "", "", false
}

func firstLine(b []byte) []byte {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i]
	}
	return b
}

// shellQuote quotes s as one word for /bin/sh: inside single quotes
// nothing is special but the quote itself, written '"'"'.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}
