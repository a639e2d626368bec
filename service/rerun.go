package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/pysmoke/pysmoke/dist"
	"github.com/pysmoke/pysmoke/outcome"
	"github.com/pysmoke/pysmoke/queue"
	"github.com/pysmoke/pysmoke/store"
)

// Rerun queues again, as runs of cause admin, the cells of a project
// recorded in the service's database (database, or the data folder
// dataDir's): of its release version ("" for every release) on pythons
// (nil for every Python the service records). The service runs them, now
// or when it next starts; it need not be stopped. It returns the builds
// queued (a cell already waiting is not queued twice).
func Rerun(ctx context.Context, dataDir, database, project, version string, pythons []string) ([]queue.Build, error) {
	name, err := dist.NormalizeValid(project)
	if err != nil {
		return nil, err
	}
	st, err := openExisting(ctx, dataDir, database)
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
	return builds, q.Enqueue(ctx, builds...)
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
