package report

// A step's log has two URLs: STEP.log, the whole log as text, and
// STEP.html, a page with its tail (the store keeps the last 64 KiB apart)
// as a person reads it in a terminal: escape sequences removed, a line a
// progress bar redrew shown as it was left. The whole log is kept
// gzip-compressed and sent so to every client that accepts it.

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pysmoke/pysmoke/logtext"
	"github.com/pysmoke/pysmoke/store"
)

// logView is a step's log page.
type logView struct {
	Project, ProjectURL, Version, Python, Step string
	// Run names a run of the history; "" for the cell's current run.
	Run string
	// Outcome is how the step ended ("failed (module-removed), exit 1,
	// 2s"), Class its colour; "" when not known.
	Outcome, Class string
	WholeURL       string
	// Size is the whole log's, in words; Lines the lines shown, in words.
	Size  string
	Lines string
	// All is set when the tail is the whole log; Dropped when retention
	// dropped the whole log, so that only the tail is left.
	All, Dropped bool
	Text         string
}

// setStep fills in how the step ended, from the run's steps.
func (v *logView) setStep(steps []store.Step) {
	for _, st := range steps {
		if st.Name != v.Step {
			continue
		}
		v.Outcome = string(st.Status)
		if st.Reason != "" {
			v.Outcome += " (" + st.Reason + ")"
		}
		v.Outcome += fmt.Sprintf(", exit %d, %s", st.ExitCode, st.Duration.Round(100*time.Millisecond))
		v.Class = statusClass(string(st.Status))
	}
}

// logFile splits a log URL's last segment into its step and whether it
// asks for the page (STEP.html) or the whole log (STEP.log).
func logFile(file string) (step string, page, ok bool) {
	if step, ok := strings.CutSuffix(file, ".log"); ok {
		return step, false, true
	}
	if step, ok := strings.CutSuffix(file, ".html"); ok {
		return step, true, true
	}
	return "", false, false
}

// serveLog answers with a step's log, or its absence: the whole log, or
// its page (v filled but for the text and sizes).
func (h *Handler) serveLog(w http.ResponseWriter, r *http.Request, l store.Log, err error, v *logView, cacheControl string) {
	if errors.Is(err, store.ErrNotFound) {
		notFound(w)
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if v != nil {
		v.Text = logtext.Terminal(l.Tail)
		lines := strings.Count(v.Text, "\n")
		if v.Text != "" && !strings.HasSuffix(v.Text, "\n") {
			lines++
		}
		v.Lines = fmt.Sprintf("%d lines", lines)
		if lines == 1 {
			v.Lines = "1 line"
		}
		v.All = int64(len(l.Tail)) == l.Size
		// A log short enough to be all in its tail is whole still.
		v.Dropped = l.Dropped && !v.All
		v.Size = byteSize(l.Size)
		title := fmt.Sprintf("%s %s on Python %s: %s log", v.Project, v.Version, v.Python, v.Step)
		if v.Run != "" {
			title += " (" + v.Run + ")"
		}
		h.render(w, r, "log", page{Title: title + " - pysmoke", Log: v})
		return
	}
	// Logs are the package's output: never let a browser read them as
	// anything but text.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; sandbox")
	if l.Dropped && int64(len(l.Tail)) == l.Size {
		serve(w, r, "text/plain; charset=utf-8", cacheControl, l.Tail)
		return
	}
	if l.Dropped {
		http.Error(w, "This older release's whole log is no longer kept (retention keeps those of each project's latest releases); "+
			"its tail is on the page of the same name ending in .html.", http.StatusGone)
		return
	}
	w.Header().Add("Vary", "Accept-Encoding")
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		w.Header().Set("Content-Encoding", "gzip")
		serve(w, r, "text/plain; charset=utf-8", cacheControl, l.Gzip)
		return
	}
	body, err := l.Whole()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	serve(w, r, "text/plain; charset=utf-8", cacheControl, body)
}

// acceptsGzip reports whether an Accept-Encoding header admits gzip
// (RFC 9110 12.5.3: named or "*", with a q-value above zero).
func acceptsGzip(header string) bool {
	gzip, star := -1.0, -1.0
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
				if err != nil {
					f = 0
				}
				q = f
			}
		}
		switch c := strings.ToLower(strings.TrimSpace(coding)); c {
		case "gzip", "x-gzip":
			gzip = q
		case "*":
			star = q
		}
	}
	if gzip >= 0 {
		return gzip > 0
	}
	return star > 0
}

// byteSize is a size in bytes as a person reads it.
func byteSize(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d bytes", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
}
