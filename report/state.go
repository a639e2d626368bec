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
