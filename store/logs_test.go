package store

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/pysmoke/pysmoke/outcome"
)

// whole decompresses a log read with whole set.
func whole(t *testing.T, l Log) string {
	t.Helper()
	b, err := l.Whole()
	if err != nil {
		t.Fatalf("whole log: %v", err)
	}
	return string(b)
}

// A log far past the tail's size is kept whole, compressed, and its tail
// starts at a line: the 20 MiB of a chatty test suite (lines of varied
// text that compress as real logs do), the last line the one that tells.
func TestWholeLogKeptCompressed(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	if _, err := s.AddRelease(ctx, Release{Project: "chatty", Version: "1.0", DisplayName: "chatty"}); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; log.Len() < 20<<20; i++ {
		fmt.Fprintf(&log, "tests/test_mod%03d.py::test_case_%d PASSED [%2d%%] %x\n", i%997, i, i%100, rng.Uint64())
	}
	log.WriteString("FAILED tests/test_last.py::test_it - AssertionError: 1 != 2\n")
	cell := Cell{Project: "chatty", Version: "1.0", Python: "3.12", Status: outcome.Failed,
		StartedAt: time.UnixMilli(1000).UTC(), FinishedAt: time.UnixMilli(2000).UTC(),
		Steps: []Step{{Name: "tests", Status: outcome.Failed, ExitCode: 1}, {Name: "import", Status: outcome.Passed}}}
	if err := s.SaveCell(ctx, cell, map[string][]byte{"tests": log.Bytes()}); err != nil {
		t.Fatal(err)
	}

	tail, err := s.StepLog(ctx, "chatty", "1.0", "3.12", "tests", false)
	if err != nil {
		t.Fatal(err)
	}
	if tail.Size != int64(log.Len()) || tail.Gzip != nil {
		t.Errorf("size %d (want %d), %d compressed bytes read without asking", tail.Size, log.Len(), len(tail.Gzip))
	}
	if len(tail.Tail) > LogTailBytes || len(tail.Tail) < LogTailBytes-200 ||
		!bytes.HasSuffix(log.Bytes(), tail.Tail) || !bytes.HasPrefix(tail.Tail, []byte("tests/test_mod")) ||
		!strings.HasSuffix(string(tail.Tail), "AssertionError: 1 != 2\n") {
		t.Errorf("tail of %d bytes: %.60q ... %q", len(tail.Tail), tail.Tail, tail.Tail[max(0, len(tail.Tail)-60):])
	}

	all, err := s.StepLog(ctx, "chatty", "1.0", "3.12", "tests", true)
	if err != nil {
		t.Fatal(err)
	}
	if got := whole(t, all); got != log.String() {
		t.Errorf("whole log of %d bytes, want the %d written", len(got), log.Len())
	}
	if len(all.Gzip) > log.Len()/2 {
		t.Errorf("%d bytes compressed to %d", log.Len(), len(all.Gzip))
	}
	cells, err := s.Cells(ctx, "chatty", "1.0")
	if err != nil || len(cells) != 1 || cells[0].Steps[0].LogBytes != int64(log.Len()) {
		t.Fatalf("cells %+v, %v: want the tests step's log of %d bytes", cells, err, log.Len())
	}
	// A step that printed nothing has an empty log, not a missing one.
	if l, err := s.RunStepLog(ctx, cells[0].RunID, "import", true); err != nil || l.Size != 0 || whole(t, l) != "" {
		t.Errorf("the import step's log: %+v, %v", l, err)
	}
}

func TestTailOf(t *testing.T) {
	for _, c := range []struct {
		log  string
		n    int
		want string
	}{
		{"short\n", 10, "short\n"},
		{"one\ntwo\nthree\n", 9, "three\n"},       // "wo\nthree\n" cut to its line
		{"one\ntwo\nthree\n", 10, "two\nthree\n"}, // exactly at a line
		{"a very long line\n", 5, "line\n"},       // no line starts within: the bytes
		{"abc\n", 1, "\n"},
	} {
		if got := string(tailOf([]byte(c.log), c.n)); got != c.want {
			t.Errorf("tailOf(%q, %d) = %q, want %q", c.log, c.n, got, c.want)
		}
	}
}

// Retention keeps the whole logs of each project's latest releases and
// only the tails of the others; a look counts what would go and drops
// nothing.
func TestDropWholeLogs(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	gz := map[string]int64{}
	for _, v := range []string{"1.0", "1.1", "1.2", "1.3"} {
		if _, err := s.AddRelease(ctx, Release{Project: "foo", Version: v, DisplayName: "foo"}); err != nil {
			t.Fatal(err)
		}
		for _, py := range []string{"2.7", "3.12"} {
			c := Cell{Project: "foo", Version: v, Python: py, Status: outcome.Passed,
				Steps: []Step{{Name: "tests", Status: outcome.Passed}}}
			if err := s.SaveCell(ctx, c, map[string][]byte{"tests": []byte("the tests of foo " + v + " on " + py + "\n")}); err != nil {
				t.Fatal(err)
			}
			l, err := s.StepLog(ctx, "foo", v, py, "tests", true)
			if err != nil {
				t.Fatal(err)
			}
			gz[v] += int64(len(l.Gzip))
		}
	}
	if _, err := s.AddRelease(ctx, Release{Project: "bar", Version: "1.0", DisplayName: "bar"}); err != nil {
		t.Fatal(err)
	}
	if u, err := s.DropWholeLogs(ctx, 2, false); err != nil || u != (LogUsage{Logs: 4, Bytes: gz["1.0"] + gz["1.1"]}) {
		t.Errorf("a look: %+v, %v; want 4 logs of %d bytes", u, err, gz["1.0"]+gz["1.1"])
	}
	if l, err := s.StepLog(ctx, "foo", "1.0", "2.7", "tests", true); err != nil || l.Dropped || whole(t, l) != "the tests of foo 1.0 on 2.7\n" {
		t.Errorf("a look dropped 1.0's log: %+v, %v", l, err)
	}
	if u, err := s.DropWholeLogs(ctx, 3, true); err != nil || u != (LogUsage{Logs: 2, Bytes: gz["1.0"]}) {
		t.Errorf("keeping 3 releases: %+v, %v; want 2 logs of %d bytes", u, err, gz["1.0"])
	}
	l, err := s.StepLog(ctx, "foo", "1.0", "3.12", "tests", true)
	if err != nil || !l.Dropped || l.Gzip != nil || string(l.Tail) != "the tests of foo 1.0 on 3.12\n" || l.Size != int64(len(l.Tail)) {
		t.Errorf("1.0's log after retention: %+v, %v; want its tail only", l, err)
	}
	if l, err := s.StepLog(ctx, "foo", "1.1", "3.12", "tests", true); err != nil || l.Dropped || whole(t, l) != "the tests of foo 1.1 on 3.12\n" {
		t.Errorf("1.1's log after retention: %+v, %v", l, err)
	}
	if u, err := s.DropWholeLogs(ctx, 3, true); err != nil || u != (LogUsage{}) {
		t.Errorf("again: %+v, %v; want nothing", u, err)
	}
}
