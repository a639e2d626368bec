package store

import (
	"context"
	"reflect"
	"testing"
	"time"
)

func TestProjectState(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	ps, err := s.ProjectState(ctx, "foo")
	if err != nil || ps.Project != "foo" || ps.ETag != "" || !ps.SyncedAt.IsZero() || ps.Pending {
		t.Fatalf("unknown project: %+v, %v", ps, err)
	}
	at := time.Date(2026, 8, 21, 16, 57, 37, 0, time.UTC)
	ps = ProjectState{CrawlState: CrawlState{Project: "foo", ETag: `"abc"`, LastSerial: 42, CheckedAt: at, LastError: "x"},
		SyncedAt: at.Add(-time.Hour), Pending: true}
	if err := s.SaveProjectState(ctx, ps); err != nil {
		t.Fatal(err)
	}
	got, err := s.ProjectState(ctx, "foo")
	if err != nil || !reflect.DeepEqual(got, ps) {
		t.Errorf("got %+v, want %+v (%v)", got, ps, err)
	}
	// CrawlState reads the same row.
	if cs, _ := s.CrawlState(ctx, "foo"); cs != ps.CrawlState {
		t.Errorf("CrawlState %+v", cs)
	}
	later := at.Add(time.Hour)
	if ok, err := s.TouchProject(ctx, "foo", later); err != nil || !ok {
		t.Fatalf("TouchProject: %v %v", ok, err)
	}
	got, _ = s.ProjectState(ctx, "foo")
	ps.CheckedAt, ps.LastError = later, ""
	if !reflect.DeepEqual(got, ps) {
		t.Errorf("after TouchProject %+v, want %+v", got, ps)
	}
	if ok, err := s.TouchProject(ctx, "nope", later); err != nil || ok {
		t.Errorf("TouchProject of an unknown project: %v %v", ok, err)
	}
	s.SaveProjectState(ctx, ProjectState{CrawlState: CrawlState{Project: "bar"}})
	all, err := s.ProjectStates(ctx)
	if err != nil || len(all) != 2 || all[0].Project != "bar" || !reflect.DeepEqual(all[1], ps) {
		t.Errorf("ProjectStates %+v, %v", all, err)
	}
}

func TestKnownFilesAndRemovedReleases(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	t0 := time.Date(2026, 8, 21, 16, 57, 37, 0, time.UTC)
	files := []KnownFile{
		{Project: "foo", Filename: "foo-1.0.tar.gz", Version: "1.0", SHA256: "aa", URL: "u1", Size: 10, UploadedAt: t0, FirstSeen: t0},
		{Project: "foo", Filename: "foo-1.0-py3-none-any.whl", Version: "1.0", SHA256: "bb", URL: "u2", Size: -1, FirstSeen: t0,
			Yanked: true, YankedReason: "r", RequiresPython: ">=3"},
		{Project: "foo", Filename: "foo-2.0.tar.gz", Version: "2.0", SHA256: "cc", URL: "u3", Size: -1, FirstSeen: t0},
	}
	ps := ProjectState{CrawlState: CrawlState{Project: "foo"}}
	if err := s.SaveProjectState(ctx, ps, files...); err != nil {
		t.Fatal(err)
	}
	got, err := s.KnownFiles(ctx, "foo")
	if err != nil || len(got) != 3 || !reflect.DeepEqual(got[1], files[0]) || !reflect.DeepEqual(got[0], files[1]) {
		t.Fatalf("known files %+v, %v", got, err)
	}
	// One file of 1.0 removed: the release is still listed.
	files[0].RemovedAt = t0.Add(time.Hour)
	s.SaveProjectState(ctx, ps, files[0])
	if rm, _ := s.RemovedReleases(ctx, "foo"); len(rm) != 0 {
		t.Errorf("removed %v", rm)
	}
	files[1].RemovedAt = t0.Add(2 * time.Hour)
	s.SaveProjectState(ctx, ps, files[1])
	rm, err := s.RemovedReleases(ctx, "foo")
	if err != nil || len(rm) != 1 || !rm["1.0"].Equal(t0.Add(2*time.Hour)) {
		t.Errorf("removed %v, %v", rm, err)
	}
}

func TestBadFiles(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	b := BadFile{SHA256: "aa", Filename: "foo-1.0.tar.gz", Project: "foo", GotSHA256: "bb", Reason: "mismatch",
		RecordedAt: time.Date(2026, 8, 21, 16, 57, 37, 0, time.UTC)}
	if err := s.RecordBadFile(ctx, b); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := s.BadFile(ctx, "aa", "foo-1.0.tar.gz"); err != nil || !ok || got != b {
		t.Errorf("BadFile %+v %v %v", got, ok, err)
	}
	if _, ok, err := s.BadFile(ctx, "cc", "foo-1.0.tar.gz"); err != nil || ok {
		t.Errorf("another hash under the same name is another file: %v %v", ok, err)
	}
	if all, err := s.BadFiles(ctx, "foo"); err != nil || len(all) != 1 || all[0] != b {
		t.Errorf("BadFiles %+v %v", all, err)
	}
}
