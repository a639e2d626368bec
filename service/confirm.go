package service

import (
	"context"
	"errors"

	"github.com/pysmoke/pysmoke/outcome"
	"github.com/pysmoke/pysmoke/queue"
	"github.com/pysmoke/pysmoke/runner"
	"github.com/pysmoke/pysmoke/store"
)

// confirmable reports whether an outcome is rerun before it is reported:
// a failure, or a resource limit (which counts against the package only
// when reproduced). A rejected sdist is decided on the host, before
// anything runs: a rerun would say the same.
func confirmable(st outcome.Status) bool {
	return st == outcome.Failed || st == outcome.ResourceLimit
}

// confirm decides, once a run of a cell has ended, whether its outcome is
// rerun to confirm it, and records where the cell's confirmation stands:
// a failure starts it; each rerun that reproduces the outcome (status and
// reason) counts until Confirmations have, and one that does not makes
// the cell flaky.
func (s *Service) confirm(ctx context.Context, b queue.Build, cause outcome.Cause, res runner.Result) error {
	n := s.opts.Confirmations
	if n < 0 {
		return nil
	}
	next := func(done int) error {
		if err := s.store.SetConfirmation(ctx, b.Project, b.Version, b.Python, store.Confirmation{State: store.Confirming, Runs: done, Of: n}); err != nil {
			return err
		}
		again := b
		again.Cause, again.Confirm, again.Attempt = outcome.CauseConfirm, done+1, 0
		s.log.Info("queued to confirm", "project", b.Project, "version", b.Version, "python", b.Python,
			"status", res.Status, "reason", res.Reason, "rerun", done+1, "of", n)
		return s.queue.Enqueue(ctx, again)
	}
	if cause != outcome.CauseConfirm {
		if !confirmable(res.Status) {
			return nil
		}
		return next(0)
	}
	conf, err := s.store.CellConfirmation(ctx, b.Project, b.Version, b.Python)
	if err != nil || conf.State != store.Confirming {
		return err // another run started the cell afresh since
	}
	original, err := s.confirmedRun(ctx, b)
	if err != nil {
		return err
	}
	done := conf.Runs + 1
	switch {
	case res.Status != original.Status || res.Reason != original.Reason:
		s.log.Info("flaky", "project", b.Project, "version", b.Version, "python", b.Python,
			"first", original.Status, "rerun", res.Status, "reason", res.Reason)
		return s.store.SetConfirmation(ctx, b.Project, b.Version, b.Python, store.Confirmation{State: store.Flaky, Runs: done, Of: n})
	case done >= n:
		return s.store.SetConfirmation(ctx, b.Project, b.Version, b.Python, store.Confirmation{State: store.Confirmed, Runs: done, Of: n})
	}
	return next(done)
}

// confirmedRun is the run a confirmation confirms: the cell's latest
// complete run that is not a confirmation's rerun.
func (s *Service) confirmedRun(ctx context.Context, b queue.Build) (store.Cell, error) {
	runs, err := s.store.Runs(ctx, b.Project, b.Version, b.Python)
	if err != nil {
		return store.Cell{}, err
	}
	for _, r := range runs {
		if r.State == store.RunComplete && r.Cause != outcome.CauseConfirm {
			return r, nil
		}
	}
	return store.Cell{}, errNoRun
}

var errNoRun = errors.New("confirmation: no run to confirm")

// resumeConfirmations queues again the next rerun of every confirmation
// under way: its build may have been lost with a stop (one still queued
// is not added twice).
func (s *Service) resumeConfirmations(ctx context.Context) error {
	cells, err := s.store.ConfirmingCells(ctx)
	if err != nil || len(cells) == 0 {
		return err
	}
	var builds []queue.Build
	for _, c := range cells {
		for _, b := range buildsOf(c.Release, []string{c.Python}) {
			b.Cause, b.Confirm = outcome.CauseConfirm, c.Confirmation.Runs+1
			builds = append(builds, b)
		}
	}
	s.log.Info("confirmations resumed", "cells", len(builds))
	return s.queue.Enqueue(ctx, builds...)
}
