package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/pysmoke/pysmoke/outcome"
)

// A cell is stale when its provenance differs from the current one, or
// none was recorded; recording the current one makes it fresh.
func TestStaleCells(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	save := func(v, digest, prov string) {
		t.Helper()
		if err := s.SaveCell(ctx, Cell{Project: "foo", Version: v, Python: "3.12", Status: outcome.Passed, StartedAt: now, FinishedAt: now,
			ProvenanceDigest: digest, Provenance: prov}, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range []string{"1.0", "1.1"} {
		if _, err := s.db.ExecContext(ctx, `INSERT INTO releases (project, version, display_name, sdist_file, sdist_sha256, discovered_at) VALUES ('foo', ?, 'foo', ?, 'ab', 0)`, v, "foo-"+v+".tar.gz"); err != nil {
			t.Fatal(err)
		}
	}
	save("1.0", "d1", `{"backend":"namespace"}`)
	save("1.1", "", "")
	stale, err := s.StaleCells(ctx, "3.12", "d1")
	if err != nil || len(stale) != 1 || stale[0].Version != "1.1" || stale[0].SdistFile != "foo-1.1.tar.gz" {
		t.Fatalf("stale = %+v, %v; want foo 1.1 (no provenance)", stale, err)
	}
	stale, _ = s.StaleCells(ctx, "3.12", "d2")
	if len(stale) != 2 {
		t.Fatalf("with a new digest, stale = %+v; want both", stale)
	}
	// Run again: the new runs are current, and carry the new provenance.
	save("1.1", "d2", "{}")
	save("1.0", "d2", "{}")
	if stale, _ = s.StaleCells(ctx, "3.12", "d2"); len(stale) != 0 {
		t.Fatalf("stale = %+v after the reruns", stale)
	}
	if d, p, err := s.Provenance(ctx, "foo", "1.0", "3.12"); err != nil || d != "d2" || p != "{}" {
		t.Fatalf("Provenance = %q %q %v", d, p, err)
	}
	// The earlier run keeps its own.
	runs, err := s.Runs(ctx, "foo", "1.0", "3.12")
	if err != nil || len(runs) != 2 || runs[1].ProvenanceDigest != "d1" || runs[1].Provenance != `{"backend":"namespace"}` || runs[1].Current {
		t.Fatalf("runs of foo 1.0 = %+v, %v; want the first with d1, not current", runs, err)
	}
}
