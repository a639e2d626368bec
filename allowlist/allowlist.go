// Package allowlist reads the list of projects pysmoke watches: a text file
// with one project per line, in any spelling (names are normalised on
// load), optionally followed by options; "#" starts a comment, blank lines
// are allowed. A bad line is reported with its line number and the rest
// still loads, so one typo never stops the service from watching
// everything else.
//
// The format, by example:
//
//	# projects pysmoke watches
//	Foo.Bar
//	requests   skip=2.7,3.6:"needs Python 3.7 syntax"  timeout=20m
//	legacy-pkg skip=3.12,3.13:'imports distutils'  test="python -m pytest -q tests"
//	slowpkg    timeout.tests=45m
//
// Words are split as a POSIX shell splits them: single quotes keep
// everything, double quotes keep everything but \" and \\, a backslash
// outside quotes escapes the next character, and a "#" that starts a word
// starts a comment. Options:
//
//	skip=PY[,PY...]:REASON   do not run on these Pythons (minor versions such
//	                         as 2.7 or 3.13); the reason is required and is
//	                         shown instead of a result. Repeatable.
//	test=COMMAND             the test command, split into words as above;
//	                         a first word "python" means the interpreter
//	                         under test.
//	timeout=DURATION         every step's wall-clock limit (Go syntax: 90s,
//	                         20m, 1h30m), at most 24h.
//	timeout.STEP=DURATION    one step's limit (STEP: unpack, sdist, bdist,
//	                         wheel, tests, 2to3), over timeout=.
package allowlist

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pysmoke/pysmoke/dist"
	"github.com/pysmoke/pysmoke/outcome"
)

// maxTimeout bounds timeouts: a day is already far past any smoke test.
const maxTimeout = 24 * time.Hour

// Options are one project's settings. The zero value means the service's
// defaults everywhere.
type Options struct {
	// Skip lists the Pythons not to run on, each with the reason given,
	// in file order.
	Skip []Skip
	// Test is the test command as words; nil means the runner's default.
	// A first word "python" stands for the interpreter under test.
	Test []string
	// Timeout is every step's wall-clock limit; 0 means the default.
	Timeout time.Duration
	// StepTimeouts are per-step limits (keys from outcome.Steps), over Timeout.
	StepTimeouts map[string]time.Duration
}

// Skip is a Python a project is not run on, and why.
type Skip struct {
	Python string // minor version, e.g. "2.7", "3.13"
	Reason string
}

// Skipped reports whether python (a minor version, "3.12") is skipped, and
// the reason given.
func (o Options) Skipped(python string) (reason string, ok bool) {
	for _, s := range o.Skip {
		if s.Python == python {
			return s.Reason, true
		}
	}
	return "", false
}

// TimeoutFor returns the limit for a step: its own, else Timeout, else 0
// (the service's default).
func (o Options) TimeoutFor(step string) time.Duration {
	if d, ok := o.StepTimeouts[step]; ok {
		return d
	}
	return o.Timeout
}

// IsZero reports whether o sets nothing.
func (o Options) IsZero() bool {
	return len(o.Skip) == 0 && o.Test == nil && o.Timeout == 0 && len(o.StepTimeouts) == 0
}

// Entry is one watched project.
type Entry struct {
	Name    string // normalised
	Display string // as written in the file
	Line    int
	Options Options
}

// LineError is a line that could not be read.
type LineError struct {
	Line int
	Text string
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v (%q)", e.Line, e.Err, e.Text) }

// List is a loaded allowlist. It is immutable.
type List struct {
	entries map[string]Entry
	names   []string // sorted
}

// Parse reads an allowlist. It returns every good entry and one LineError
// per bad line (a bad line loads nothing: not even its project, whose
// options it might have got wrong); a project listed twice is reported and
// kept as first listed. The error is for a reader that fails.
func Parse(r io.Reader) (*List, []*LineError, error) {
	l := &List{entries: map[string]Entry{}}
	var bad []*LineError
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for n := 1; sc.Scan(); n++ {
		raw := sc.Text()
		e, err := parseLine(raw)
		if err != nil {
			bad = append(bad, &LineError{Line: n, Text: raw, Err: err})
			continue
		}
		if e == nil {
			continue
		}
		if prev, dup := l.entries[e.Name]; dup {
			bad = append(bad, &LineError{Line: n, Text: raw, Err: fmt.Errorf("%s is already listed on line %d", e.Name, prev.Line)})
			continue
		}
		e.Line = n
		l.entries[e.Name] = *e
	}
	l.names = slices.Sorted(maps.Keys(l.entries))
	if err := sc.Err(); err != nil {
		return l, bad, fmt.Errorf("read allowlist: %w", err)
	}
	return l, bad, nil
}

// parseLine reads one line; nil for a blank or comment line.
func parseLine(line string) (*Entry, error) {
	words, err := splitWords(line)
	if err != nil {
		return nil, err
	}
	if len(words) == 0 {
		return nil, nil
	}
	name, err := dist.NormalizeValid(words[0])
	if err != nil {
		return nil, err
	}
	e := &Entry{Name: name, Display: words[0]}
	if e.Options, err = parseOptions(words[1:]); err != nil {
		return nil, err
	}
	return e, nil
}

var (
	pythonVersion = regexp.MustCompile(`^[0-9]+\.[0-9]+$`)
	errNoValue    = errors.New("needs a value")
)

func parseOptions(words []string) (Options, error) {
	var o Options
	seen := map[string]bool{}
	for _, w := range words {
		key, value, ok := strings.Cut(w, "=")
		if !ok {
			return o, fmt.Errorf("unexpected %q after the project name (options are key=value)", w)
		}
		if key != "skip" {
			if seen[key] {
				return o, fmt.Errorf("%s is given twice", key)
			}
			seen[key] = true
		}
		switch {
		case key == "skip":
			pys, reason, ok := strings.Cut(value, ":")
			reason = strings.TrimSpace(reason)
			if !ok || reason == "" {
				return o, fmt.Errorf(`skip=%s gives no reason; write skip=%s:"why"`, value, pys)
			}
			for _, py := range strings.Split(pys, ",") {
				py = strings.TrimSpace(py)
				if !pythonVersion.MatchString(py) {
					return o, fmt.Errorf("skip: %q is not a Python minor version such as 3.12", py)
				}
				if _, dup := o.Skipped(py); dup {
					return o, fmt.Errorf("skip: %s is skipped twice", py)
				}
				o.Skip = append(o.Skip, Skip{Python: py, Reason: reason})
			}
		case key == "test":
			argv, err := splitWords(value)
			if err != nil {
				return o, fmt.Errorf("test: %w", err)
			}
			if len(argv) == 0 {
				return o, fmt.Errorf("test %w: the command", errNoValue)
			}
			o.Test = argv
		case key == "timeout":
			d, err := parseTimeout(value)
			if err != nil {
				return o, fmt.Errorf("timeout: %w", err)
			}
			o.Timeout = d
		case strings.HasPrefix(key, "timeout."):
			step := strings.TrimPrefix(key, "timeout.")
			if !outcome.IsStep(step) {
				return o, fmt.Errorf("%s: no step %q (steps: %s)", key, step, strings.Join(outcome.Steps, ", "))
			}
			d, err := parseTimeout(value)
			if err != nil {
				return o, fmt.Errorf("%s: %w", key, err)
			}
			if o.StepTimeouts == nil {
				o.StepTimeouts = map[string]time.Duration{}
			}
			o.StepTimeouts[step] = d
		default:
			return o, fmt.Errorf("unknown option %q (options: skip, test, timeout, timeout.STEP)", key)
		}
	}
	return o, nil
}

func parseTimeout(s string) (time.Duration, error) {
	if s == "" {
		return 0, errNoValue
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration such as 90s or 20m", s)
	}
	if d <= 0 || d > maxTimeout {
		return 0, fmt.Errorf("%s is not between 0 and %s", d, maxTimeout)
	}
	return d, nil
}

// splitWords splits s as a POSIX shell splits words (without expansions),
// dropping a comment: a "#" at the start of a word.
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case ch == '#' && !inWord:
			return words, nil
		case ch == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated ' quote")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case ch == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, errors.New(`unterminated " quote`)
			}
			inWord = true
		case ch == '\\':
			if i+1 < len(s) {
				i++
				cur.WriteByte(s[i])
			}
			inWord = true
		default:
			cur.WriteByte(ch)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
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

// Entry returns a project's entry (any spelling of its name).
func (l *List) Entry(name string) (Entry, bool) {
	e, ok := l.entries[dist.Normalize(name)]
	return e, ok
}

// Options returns a project's options (any spelling of its name); the
// zero Options (every default) and false for a project not listed.
func (l *List) Options(name string) (Options, bool) {
	e, ok := l.entries[dist.Normalize(name)]
	return e.Options, ok
}

// Names returns the normalised names, sorted.
func (l *List) Names() []string { return slices.Clone(l.names) }

// Len is the number of projects listed.
func (l *List) Len() int { return len(l.entries) }

// Watcher keeps an allowlist file loaded, reloading it when its contents
// change, without a restart. A file that cannot be read keeps the last
// good list.
type Watcher struct {
	path string
	log  *slog.Logger
	mu   sync.RWMutex
	list *List
	bad  []*LineError
	sum  [sha256.Size]byte
}

// NewWatcher loads path once; an unreadable file at start is an error.
func NewWatcher(path string, log *slog.Logger) (*Watcher, error) {
	if log == nil {
		log = slog.Default()
	}
	w := &Watcher{path: path, log: log}
	if _, err := w.reload(true); err != nil {
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

// Problems returns the bad lines of the file as last loaded.
func (w *Watcher) Problems() []*LineError {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return slices.Clone(w.bad)
}

// Reload rereads the file now; it reports whether the list changed. On an
// error the last good list stays.
func (w *Watcher) Reload() (bool, error) { return w.reload(false) }

func (w *Watcher) reload(force bool) (bool, error) {
	// The file is small: comparing its contents catches every edit, even
	// one that keeps the size within a coarse mtime tick.
	data, err := os.ReadFile(w.path)
	if err != nil {
		return false, fmt.Errorf("allowlist: %w", err)
	}
	sum := sha256.Sum256(data)
	w.mu.RLock()
	same := !force && sum == w.sum
	w.mu.RUnlock()
	if same {
		return false, nil
	}
	l, bad, err := Parse(bytes.NewReader(data))
	if err != nil {
		return false, fmt.Errorf("allowlist %s: %w", w.path, err)
	}
	for _, b := range bad {
		w.log.Warn("allowlist: bad line skipped", "file", w.path, "line", b.Line, "err", b.Err)
	}
	w.mu.Lock()
	w.list, w.bad, w.sum = l, bad, sum
	w.mu.Unlock()
	w.log.Info("allowlist loaded", "file", w.path, "projects", l.Len(), "bad_lines", len(bad))
	return true, nil
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
			if _, err := w.reload(false); err != nil {
				w.log.Error("allowlist reload failed; keeping the last good list", "err", err)
			}
		}
	}
}
