// Package allowlist reads the list of projects pysmoke watches: a text file
// with one project name per line, in any spelling (names are normalised on
// load), "#" comments and blank lines allowed. A bad line is reported with
// its line number and the rest still loads, so one typo never stops the
// service from watching everything else.
package allowlist

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pysmoke/pysmoke/dist"
)

// Entry is one watched project.
type Entry struct {
	Name    string // normalised
	Display string // as written in the file
	Line    int
}

// LineError is a line that could not be read.
type LineError struct {
	Line int
	Text string
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v (%q)", e.Line, e.Err, e.Text) }

// List is a loaded allowlist.
type List struct {
	entries map[string]Entry
}

// Parse reads an allowlist. It returns every good entry and one LineError
// per bad line; a project listed twice is reported but kept once.
func Parse(r io.Reader) (*List, []*LineError, error) {
	l := &List{entries: map[string]Entry{}}
	var bad []*LineError
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for n := 1; sc.Scan(); n++ {
		raw := sc.Text()
		line := raw
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) > 1 {
			bad = append(bad, &LineError{Line: n, Text: raw, Err: fmt.Errorf("unexpected %q after the project name", fields[1])})
			continue
		}
		name, err := dist.NormalizeValid(fields[0])
		if err != nil {
			bad = append(bad, &LineError{Line: n, Text: raw, Err: err})
			continue
		}
		if prev, dup := l.entries[name]; dup {
			bad = append(bad, &LineError{Line: n, Text: raw, Err: fmt.Errorf("%s is already listed on line %d", name, prev.Line)})
			continue
		}
		l.entries[name] = Entry{Name: name, Display: fields[0], Line: n}
	}
	if err := sc.Err(); err != nil {
		return l, bad, fmt.Errorf("read allowlist: %w", err)
	}
	return l, bad, nil
}

// Load reads the allowlist file at path.
func Load(path string) (*List, []*LineError, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("allowlist: %w", err)
	}
	defer f.Close()
	l, bad, err := Parse(f)
	if err != nil {
		return nil, bad, fmt.Errorf("allowlist %s: %w", path, err)
	}
	return l, bad, nil
}

// Contains reports whether a project (any spelling) is listed.
func (l *List) Contains(name string) bool {
	_, ok := l.entries[dist.Normalize(name)]
	return ok
}

// Names returns the normalised names, sorted.
func (l *List) Names() []string {
	out := make([]string, 0, len(l.entries))
	for n := range l.entries {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Len is the number of projects listed.
func (l *List) Len() int { return len(l.entries) }

// Watcher keeps an allowlist file loaded, reloading it when it changes,
// without a restart. A file that cannot be read keeps the last good list.
type Watcher struct {
	path  string
	log   *slog.Logger
	mu    sync.RWMutex
	list  *List
	mtime time.Time
	size  int64
}

// NewWatcher loads path once; an unreadable file at start is an error.
func NewWatcher(path string, log *slog.Logger) (*Watcher, error) {
	if log == nil {
		log = slog.Default()
	}
	w := &Watcher{path: path, log: log}
	if err := w.reload(true); err != nil {
		return nil, err
	}
	return w, nil
}

// List returns the current list.
func (w *Watcher) List() *List {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.list
}

func (w *Watcher) reload(force bool) error {
	fi, err := os.Stat(w.path)
	if err != nil {
		return fmt.Errorf("allowlist: %w", err)
	}
	w.mu.RLock()
	same := !force && fi.ModTime().Equal(w.mtime) && fi.Size() == w.size
	w.mu.RUnlock()
	if same {
		return nil
	}
	l, bad, err := Load(w.path)
	if err != nil {
		return err
	}
	for _, b := range bad {
		w.log.Warn("allowlist: bad line skipped", "file", w.path, "line", b.Line, "err", b.Err)
	}
	w.mu.Lock()
	w.list, w.mtime, w.size = l, fi.ModTime(), fi.Size()
	w.mu.Unlock()
	w.log.Info("allowlist loaded", "file", w.path, "projects", l.Len(), "bad_lines", len(bad))
	return nil
}

// Watch rechecks the file every interval until ctx ends.
func (w *Watcher) Watch(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := w.reload(false); err != nil {
				w.log.Error("allowlist reload failed; keeping the last good list", "err", err)
			}
		}
	}
}
