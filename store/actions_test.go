package store

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pysmoke/pysmoke/outcome"
)

// Removing a project deletes its releases, runs, logs and crawl state and
// nothing of another project's; the actions on it are kept, newest first,
// with who, when and why; an action without them is refused.
func TestRemoveProjectKeepsActions(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	t0 := time.UnixMilli(1_000_000).UTC()
	for _, p := range []string{"foo", "bar"} {
		for _, v := range []string{"1.0", "1.1"} {
			addRelease(t, s, p, v)
			c := Cell{Project: p, Version: v, Python: "3.12", Status: outcome.Passed, StartedAt: t0, FinishedAt: t0,
				Steps: []Step{{Name: "tests", Status: outcome.Passed}}}
			if err := s.SaveCell(ctx, c, map[string][]byte{"tests": []byte("ok")}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.SaveProjectState(ctx, ProjectState{CrawlState: CrawlState{Project: p, ETag: `"x"`}}, KnownFile{Project: p, Filename: p + "-1.0.tar.gz", Version: "1.0"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.BeginRun(ctx, RunStart{Project: "foo", Version: "1.1", Python: "3.12", Cause: outcome.CauseAdmin, Worker: "w1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordAction(ctx, Action{Project: "foo", Action: "rerun", Detail: "1.1 on 3.12", Actor: "ana@host", Reason: "flaky CI host", At: t0}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordAction(ctx, Action{Project: "foo", Action: "rerun", Actor: "ana@host"}); err == nil || !strings.Contains(err.Error(), "why") {
		t.Errorf("an action without a reason: %v", err)
	}

	got, err := s.RemoveProject(ctx, "foo")
	if err != nil || got != (Removed{Releases: 2, Runs: 3}) {
		t.Fatalf("RemoveProject: %+v, %v; want 2 releases, 3 runs", got, err)
	}
	if err := s.RecordAction(ctx, Action{Project: "foo", Action: "remove", Detail: "2 releases, 3 runs", Actor: "bo@host", Reason: "left the index", At: t0.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if rs, err := s.Releases(ctx, "foo"); err != nil || len(rs) != 0 {
		t.Errorf("foo's releases after removal: %v, %v", rs, err)
	}
	if cs, err := s.Cells(ctx, "foo", "1.0"); err != nil || len(cs) != 0 {
		t.Errorf("foo's cells after removal: %v, %v", cs, err)
	}
	if ps, err := s.ProjectState(ctx, "foo"); err != nil || ps.ETag != "" {
		t.Errorf("foo's crawl state after removal: %+v, %v", ps, err)
	}
	if rs, _ := s.Releases(ctx, "bar"); len(rs) != 2 {
		t.Errorf("bar lost releases: %v", rs)
	}
	if cs, _ := s.Cells(ctx, "bar", "1.1"); len(cs) != 1 {
		t.Errorf("bar lost cells: %v", cs)
	}
	acts, err := s.Actions(ctx, "foo")
	if err != nil || len(acts) != 2 || acts[0].Action != "remove" || acts[1].Reason != "flaky CI host" ||
		acts[1].Actor != "ana@host" || !acts[1].At.Equal(t0) {
		t.Errorf("foo's actions: %+v, %v", acts, err)
	}
	if again, err := s.RemoveProject(ctx, "foo"); err != nil || again != (Removed{}) {
		t.Errorf("removing it again: %+v, %v", again, err)
	}
}
