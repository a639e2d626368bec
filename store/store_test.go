package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pysmoke/pysmoke/outcome"
)

func TestReleasesAndCellsRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	for _, v := range []string{"1.9", "1.10", "1.0rc1"} {
		created, err := s.AddRelease(ctx, Release{Project: "foo", Version: v, DisplayName: "Foo"})
		if err != nil || !created {
			t.Fatalf("AddRelease %s: %v %v", v, created, err)
		}
	}
	if created, err := s.AddRelease(ctx, Release{Project: "foo", Version: "1.9"}); err != nil || created {
		t.Fatalf("second AddRelease created=%v err=%v", created, err)
	}
	rs, err := s.Releases(ctx, "foo")
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, r := range rs {
		order = append(order, r.Version)
	}
	if strings.Join(order, " ") != "1.10 1.9 1.0rc1" {
		t.Errorf("releases in order %v, want PEP 440 newest first", order)
	}
	if err := s.UpdateRelease(ctx, Release{Project: "foo", Version: "2.0"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("update of unknown release: %v", err)
	}

	cell := Cell{Project: "foo", Version: "1.10", Python: "3.12", Status: outcome.Failed, Reason: outcome.ReasonModuleRemoved,
		StartedAt: time.UnixMilli(1000).UTC(), FinishedAt: time.UnixMilli(2000).UTC(),
		Steps: []Step{
			{Name: "sdist", Status: outcome.Passed, Duration: 1500 * time.Millisecond, MemoryPeak: 31 << 20, Artifacts: []Artifact{{Path: "foo-1.10.tar.gz", Size: 3, SHA256: "ab"}}},
			{Name: "tests", Status: outcome.Failed, Reason: outcome.ReasonModuleRemoved, Detail: "imports imp", ExitCode: 1},
		}}
	if err := s.SaveCell(ctx, cell, map[string][]byte{"tests": []byte("No module named 'imp'")}); err != nil {
		t.Fatal(err)
	}
	// Saving again replaces, never duplicates.
	if err := s.SaveCell(ctx, cell, map[string][]byte{"tests": []byte("No module named 'imp'")}); err != nil {
		t.Fatal(err)
	}
	cells, err := s.Cells(ctx, "foo", "1.10")
	if err != nil || len(cells) != 1 {
		t.Fatalf("cells = %v, %v", cells, err)
	}
	c := cells[0]
	if c.Status != outcome.Failed || len(c.Steps) != 2 || c.Steps[0].Artifacts[0].Path != "foo-1.10.tar.gz" ||
		c.Steps[1].Detail != "imports imp" || c.Steps[0].Duration != 1500*time.Millisecond || c.Steps[0].MemoryPeak != 31<<20 || !c.FinishedAt.Equal(cell.FinishedAt) {
		t.Errorf("cell = %+v", c)
	}
	log, err := s.StepLog(ctx, "foo", "1.10", "3.12", "tests", true)
	if err != nil || whole(t, log) != "No module named 'imp'" {
		t.Errorf("log = %q, %v", log.Tail, err)
	}
	if _, err := s.StepLog(ctx, "foo", "1.10", "3.12", "bdist", false); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing log: %v", err)
	}
}

func TestPythonsOrder(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	if err := s.SetPythons(ctx, []Python{{"3.10", "3.10.13", "/a"}, {"2.7", "2.7.18", "/b"}, {"3.9", "3.9.18", "/c"}}); err != nil {
		t.Fatal(err)
	}
	ps, _ := s.Pythons(ctx)
	var got []string
	for _, p := range ps {
		got = append(got, p.Python)
	}
	if strings.Join(got, " ") != "2.7 3.9 3.10" {
		t.Errorf("pythons %v", got)
	}
}

func TestCorruptOrForeignDatabase(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p := filepath.Join(dir, "junk.sqlite")
	junk := []byte(strings.Repeat("this is not a database\n", 500))
	if err := os.WriteFile(p, junk, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, p); err == nil || !strings.Contains(err.Error(), "junk.sqlite") {
		t.Fatalf("opening a non-database: %v", err)
	}
	// Nothing was overwritten.
	if got, _ := os.ReadFile(p); string(got) != string(junk) {
		t.Fatal("the file was modified")
	}

	// A database from a newer pysmoke is refused, not downgraded.
	p2 := filepath.Join(dir, "new.sqlite")
	s, err := Open(ctx, p2)
	if err != nil {
		t.Fatal(err)
	}
	s.db.db.Exec(`PRAGMA user_version = 99`)
	s.Close()
	if _, err := Open(ctx, p2); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("newer schema: %v", err)
	}
}

func TestCrawlState(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	cs, err := s.CrawlState(ctx, "foo")
	if err != nil || cs.Project != "foo" || !cs.CheckedAt.IsZero() {
		t.Fatalf("fresh state %+v %v", cs, err)
	}
	cs.ETag, cs.LastSerial, cs.CheckedAt = `"abc"`, 42, time.UnixMilli(5000).UTC()
	if err := s.SaveCrawlState(ctx, cs); err != nil {
		t.Fatal(err)
	}
	got, _ := s.CrawlState(ctx, "foo")
	if got != cs {
		t.Errorf("state %+v, want %+v", got, cs)
	}
	// The last crawl is the latest of every project's.
	bar := CrawlState{Project: "bar", CheckedAt: time.UnixMilli(9000).UTC()}
	if err := s.SaveCrawlState(ctx, bar); err != nil {
		t.Fatal(err)
	}
	if last, err := s.LastCrawl(ctx); err != nil || !last.Equal(bar.CheckedAt) {
		t.Errorf("last crawl %v, %v; want %v", last, err, bar.CheckedAt)
	}
	if last, err := open(t).LastCrawl(ctx); err != nil || !last.IsZero() {
		t.Errorf("last crawl of an empty store: %v, %v", last, err)
	}
}
