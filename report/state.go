package report

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ServiceState is what the overview says of the service that serves it
// (Options.State): how much work waits, when the index was last read,
// and what this process runs.
type ServiceState struct {
	// Queue counts the builds in each of the queue's states
	// ("available", "running", "retryable", "scheduled", ...).
	Queue map[string]int
	// LastCrawl is when the index was last read (zero: never).
	LastCrawl time.Time
	// Worker is this process's name in the runs it records, Workers how
	// many builds it runs at once, Sandbox its sandbox backend.
	Worker  string
	Workers int
	Sandbox string
	// Builds is how far the builds in hand have got (a backfill, reruns:
	// whatever filled the queue); Reads how far the crawler's first reads
	// of newly allowlisted projects have. Zero: none in hand.
	Builds, Reads Work
}

// Work is how far a stretch of work has got.
type Work struct {
	Done, Left int
	// PerMinute is the pace (0 before there is one); Remaining the time
	// the rest takes at that pace (0 without an estimate).
	PerMinute float64
	Remaining time.Duration
}

// Phrase says how far w has got, noun naming what is counted: "12 of 30
// builds done, 3.1 a minute, about 6 minutes left". The overview and the
// service's log say it alike.
func (w Work) Phrase(noun string) string {
	s := fmt.Sprintf("%d of %d %s done", w.Done, w.Done+w.Left, noun)
	if w.PerMinute > 0 {
		s += fmt.Sprintf(", %.1f a minute", w.PerMinute)
	}
	if w.Remaining > 0 {
		s += ", about " + roughly(w.Remaining) + " left"
	}
	return s
}

// roughly says a time estimate as precisely as it deserves.
func roughly(d time.Duration) string {
	switch {
	case d < 2*time.Minute:
		return fmt.Sprintf("%d seconds", max(1, int(d.Round(time.Second)/time.Second)))
	case d < 2*time.Hour:
		return fmt.Sprintf("%d minutes", int(d.Round(time.Minute)/time.Minute))
	default:
		return fmt.Sprintf("%.1f hours", d.Hours())
	}
}

// queueWords name the queue's states as the overview says them, in the
// order it says them; a state not listed here is said as it is named.
var queueWords = []struct{ state, words string }{
	{"running", "running"},
	{"available", "waiting"},
	{"retryable", "to retry"},
	{"scheduled", "scheduled"},
}

// stateNote is the overview's line on the service.
func stateNote(s ServiceState) string {
	var parts []string
	said := map[string]bool{"completed": true, "cancelled": true, "discarded": true}
	for _, w := range queueWords {
		said[w.state] = true
		if n := s.Queue[w.state]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, w.words))
		}
	}
	var other []string
	for st := range s.Queue {
		if !said[st] && s.Queue[st] > 0 {
			other = append(other, fmt.Sprintf("%d %s", s.Queue[st], st))
		}
	}
	slices.Sort(other)
	parts = append(parts, other...)
	queue := "nothing to build"
	if len(parts) > 0 {
		queue = "builds: " + strings.Join(parts, ", ")
	}
	if s.Builds.Left > 0 {
		queue += "; " + s.Builds.Phrase("builds")
	}
	if s.Reads.Left > 0 {
		queue += "; first reads: " + s.Reads.Phrase("projects")
	}
	crawl := "the index not read yet"
	if !s.LastCrawl.IsZero() {
		crawl = "the index last read " + s.LastCrawl.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	note := fmt.Sprintf("Service: %s; %s", queue, crawl)
	if s.Workers > 0 {
		note += fmt.Sprintf("; worker %s runs %d at once (%s sandbox)", s.Worker, s.Workers, s.Sandbox)
	} else if s.Worker != "" {
		note += "; this process runs no builds"
	}
	return note + "."
}

// serviceNote is the overview's line on the service, or "" without
// Options.State; a failure to read the state is said, not fatal.
func (h *Handler) serviceNote(ctx context.Context) string {
	if h.state == nil {
		return ""
	}
	s, err := h.state(ctx)
	if err != nil {
		h.log.Warn("report: the service's state", "err", err)
		return "Service: its state could not be read."
	}
	return stateNote(s)
}
