package service

import (
	"context"
	"errors"
	"time"

	"github.com/pysmoke/pysmoke/dist"
	"github.com/pysmoke/pysmoke/outcome"
	"github.com/pysmoke/pysmoke/queue"
	"github.com/pysmoke/pysmoke/resolver"
)

// watchDependencies checks the dependencies at once and then every period
// until ctx ends.
func (s *Service) watchDependencies(ctx context.Context, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		if err := s.checkDependencies(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("dependency check", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// checkDependencies reads from the index the newest release of each
// dependency the cells' current runs installed, and queues again the
// cells that installed an older one before it appeared: their closure
// resolves otherwise now. A dependency the index does not have (the
// toolchain's alone) is left out; one whose page cannot be read is tried
// at the next check.
func (s *Service) checkDependencies(ctx context.Context) error {
	names, err := s.store.DependencyNames(ctx)
	if err != nil {
		return err
	}
	for _, name := range names {
		cands, err := s.index.Files(ctx, name)
		if errors.Is(err, resolver.ErrNoProject) {
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			s.log.Warn("dependency not checked", "dependency", name, "err", err)
			continue
		}
		newest := newestRelease(cands)
		if newest == "" {
			continue
		}
		news, err := s.store.NoteDependencyRelease(ctx, name, newest, time.Now())
		if err != nil {
			return err
		}
		if news {
			s.log.Info("dependency release", "dependency", name, "newest", newest)
		}
	}
	stale, err := s.store.DependencyStaleCells(ctx)
	if err != nil || len(stale) == 0 {
		return err
	}
	seen := map[[3]string]bool{}
	var builds []queue.Build
	for _, d := range stale {
		key := [3]string{d.Release.Project, d.Release.Version, d.Python}
		if seen[key] {
			continue // stale on two dependencies: run once
		}
		seen[key] = true
		for _, b := range buildsOf(d.Release, []string{d.Python}) {
			b.Cause = outcome.CauseDependency
			builds = append(builds, b)
		}
		s.log.Info("queued again for a dependency's release", "project", d.Release.Project, "version", d.Release.Version,
			"python", d.Python, "dependency", d.Dependency, "used", d.Used, "newest", d.Newest)
	}
	return s.queue.Enqueue(ctx, builds...)
}

// newestRelease is the newest final release among a project's files that
// are not yanked, as a resolver would prefer it ("" when there is none).
func newestRelease(cands []resolver.Candidate) string {
	var best dist.Version
	found := false
	for _, c := range cands {
		v, err := dist.ParseVersion(c.Version)
		if err != nil || c.Yanked || v.IsPrerelease() {
			continue
		}
		if !found || v.Compare(best) > 0 {
			best, found = v, true
		}
	}
	if !found {
		return ""
	}
	return best.String()
}
