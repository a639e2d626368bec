package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/pysmoke/pysmoke/artifacts"
	"github.com/pysmoke/pysmoke/dist"
	"github.com/pysmoke/pysmoke/outcome"
	"github.com/pysmoke/pysmoke/queue"
	"github.com/pysmoke/pysmoke/store"
)

// Admin says where a service's data is and who asks for an
// administrative action, and why: both are recorded with it.
type Admin struct {
	// DataDir is the service's data folder; Database its Postgres URL
	// when it is not the folder's SQLite file.
	DataDir, Database string
	Actor, Reason     string
}

func (a Admin) open(ctx context.Context) (*store.Store, error) {
	if strings.TrimSpace(a.Reason) == "" || strings.TrimSpace(a.Actor) == "" {
		return nil, errors.New("an administrative action needs who asks for it and why (--reason)")
	}
	return openExisting(ctx, a.DataDir, a.Database)
}

// Rerun queues again, as runs of cause admin, the cells of a project: of
// its release version ("" for every release) on pythons (nil for every
// Python the service records), and records the action. The service runs
// them, now or when it next starts; it need not be stopped. It returns the
// builds queued (a cell already waiting is not queued twice).
func Rerun(ctx context.Context, a Admin, project, version string, pythons []string) ([]queue.Build, error) {
	name, err := dist.NormalizeValid(project)
	if err != nil {
		return nil, err
	}
	st, err := a.open(ctx)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	known, err := st.Pythons(ctx)
	if err != nil {
		return nil, err
	}
	var all []string
	for _, p := range known {
		all = append(all, p.Python)
	}
	for _, p := range pythons {
		if !slices.Contains(all, p) {
			return nil, fmt.Errorf("python %s: the service runs on %v", p, all)
		}
	}
	if pythons == nil {
		pythons = all
	}
	var releases []store.Release
	if version != "" {
		r, err := st.Release(ctx, name, version)
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("%s %s: no such release recorded", name, version)
		}
		if err != nil {
			return nil, err
		}
		releases = append(releases, r)
	} else if releases, err = st.Releases(ctx, name); err != nil {
		return nil, err
	} else if len(releases) == 0 {
		return nil, fmt.Errorf("%s: no release recorded", name)
	}
	var builds []queue.Build
	for _, r := range releases {
		if r.SdistFile == "" {
			continue // no sdist found yet: nothing to run
		}
		for _, b := range buildsOf(r, pythons) {
			b.Cause = outcome.CauseAdmin
			builds = append(builds, b)
		}
	}
	if len(builds) == 0 {
		return nil, fmt.Errorf("%s: no release with an sdist to run", name)
	}
	q, err := queue.Open(ctx, st.DB(), st.Dialect(), queue.Options{}) // insert-only
	if err != nil {
		return nil, err
	}
	if err := q.Enqueue(ctx, builds...); err != nil {
		return nil, err
	}
	what := "every release"
	if version != "" {
		what = version
	}
	return builds, st.RecordAction(ctx, store.Action{Project: name, Action: "rerun", Actor: a.Actor, Reason: a.Reason,
		Detail: fmt.Sprintf("%s on %s: %s queued", what, strings.Join(pythons, ", "), count(len(builds), "build"))})
}

// Remove deletes everything stored of a project (store.RemoveProject) and
// its waiting builds, records the action, which stays, and returns what
// went ("1 release, 3 runs and 0 waiting builds deleted"). A project
// still on the allowlist comes back with the next crawl.
func Remove(ctx context.Context, a Admin, project string) (string, error) {
	name, err := dist.NormalizeValid(project)
	if err != nil {
		return "", err
	}
	st, err := a.open(ctx)
	if err != nil {
		return "", err
	}
	defer st.Close()
	q, err := queue.Open(ctx, st.DB(), st.Dialect(), queue.Options{}) // insert-only
	if err != nil {
		return "", err
	}
	dropped, err := q.Drop(ctx, name)
	if err != nil {
		return "", err
	}
	removed, err := st.RemoveProject(ctx, name)
	if err != nil {
		return "", err
	}
	if removed == (store.Removed{}) && dropped == 0 {
		return "", fmt.Errorf("%s: nothing recorded of it", name)
	}
	detail := fmt.Sprintf("%s, %s and %s deleted", count(int(removed.Releases), "release"), count(int(removed.Runs), "run"),
		count(int(dropped), "waiting build"))
	return detail, st.RecordAction(ctx, store.Action{Project: name, Action: "remove", Actor: a.Actor, Reason: a.Reason, Detail: detail})
}

// count says n things, in the singular for one.
func count(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// openExisting opens the store of a service that has run: database (a
// Postgres URL) when given, else the SQLite file of the data folder
// dataDir, which must exist (a mistyped folder is not a new database).
func openExisting(ctx context.Context, dataDir, database string) (*store.Store, error) {
	if database != "" {
		return store.Open(ctx, database)
	}
	path := filepath.Join(dataDir, "pysmoke.db")
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("no service data in %s: %w", dataDir, err)
	}
	return store.Open(ctx, path)
}

// RetentionReport is what retention would free, or freed, and what stays.
type RetentionReport struct {
	Freed, Kept artifacts.Usage
	// Logs are the whole logs dropped (or that would be), their tails kept.
	Logs    store.LogUsage
	Applied bool
}

// Retention applies the service's retention to its artifact store (in the
// data folder) and its logs: the archives no run of each project's
// keepReleases latest releases recorded go, except those put within two
// jobs' time (a running job's, not recorded yet; stepTimeout is the
// service's), and so do the whole logs of the older releases' runs, their
// tails kept. Without apply it only says what would go; with apply it
// frees it and records the action.
func Retention(ctx context.Context, a Admin, keepReleases int, stepTimeout time.Duration, apply bool) (RetentionReport, error) {
	var rep RetentionReport
	if keepReleases <= 0 || stepTimeout <= 0 {
		return rep, fmt.Errorf("retention: keep %d releases with steps of %s: both must be positive", keepReleases, stepTimeout)
	}
	var st *store.Store
	var err error
	if apply {
		st, err = a.open(ctx)
	} else {
		st, err = openExisting(ctx, a.DataDir, a.Database) // a look needs no reason
	}
	if err != nil {
		return rep, err
	}
	defer st.Close()
	arts, err := artifacts.Open(filepath.Join(a.DataDir, "artifacts"))
	if err != nil {
		return rep, err
	}
	inUse, err := st.ArtifactsInUse(ctx, keepReleases)
	if err != nil {
		return rep, err
	}
	keep := func(sum string) bool { return inUse[sum] }
	before := retentionSpares(stepTimeout)
	if apply {
		rep.Freed, err = arts.Prune(keep, before)
	} else {
		rep.Freed, err = arts.Unused(keep, before)
	}
	if err != nil {
		return rep, err
	}
	if rep.Logs, err = st.DropWholeLogs(ctx, keepReleases, apply); err != nil {
		return rep, err
	}
	if rep.Kept, err = arts.Usage(); err != nil {
		return rep, err
	}
	if !apply {
		// Nothing went: what stays is every file less what would go.
		rep.Kept.Files -= rep.Freed.Files
		rep.Kept.Bytes -= rep.Freed.Bytes
		return rep, nil
	}
	rep.Applied = true
	return rep, st.RecordAction(ctx, store.Action{Action: "retention", Actor: a.Actor, Reason: a.Reason,
		Detail: fmt.Sprintf("kept the archives and whole logs of each project's %d latest releases: freed %s (%d bytes), kept %s (%d bytes); dropped %s (%d bytes compressed)",
			keepReleases, count(rep.Freed.Files, "file"), rep.Freed.Bytes, count(rep.Kept.Files, "file"), rep.Kept.Bytes,
			count(rep.Logs.Logs, "whole log"), rep.Logs.Bytes)})
}
