package service

import (
	"context"
	"time"

	"github.com/pysmoke/pysmoke/report"
)

// How far the work in hand has got: the builds the queue holds (a
// backfill, reruns, an experiment's candidate) and the crawler's first
// reads of newly allowlisted projects. The overview says it on each
// request; the log, every ProgressEvery while there is any.

// progress reads how far the work in hand has got, at now.
func (s *Service) progress(ctx context.Context, now time.Time) (builds, reads report.Work, err error) {
	b, err := s.queue.Backlog(ctx, now)
	if err != nil {
		return builds, reads, err
	}
	builds = report.Work{Done: b.Done, Left: b.Left, PerMinute: b.PerMinute(), Remaining: b.Remaining()}
	if s.crawler != nil {
		fr := s.crawler.FirstReads()
		reads = report.Work{Done: fr.Done, Left: fr.Left}
		if took := now.Sub(fr.Began); fr.Done > 0 && took > 0 {
			reads.PerMinute = float64(fr.Done) / took.Minutes()
			reads.Remaining = took / time.Duration(fr.Done) * time.Duration(fr.Left)
		}
	}
	return builds, reads, nil
}

// logProgress logs how far the work in hand has got every interval while
// there is any, and once when it is all done: a backfill of thousands of
// builds is not silent for hours.
func (s *Service) logProgress(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	busy := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		builds, reads, err := s.progress(ctx, time.Now())
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("progress could not be read", "err", err)
			}
			continue
		}
		switch {
		case builds.Left > 0 || reads.Left > 0:
			busy = true
			args := []any{"builds", builds.Phrase("builds")}
			if reads.Left > 0 {
				args = append(args, "first_reads", reads.Phrase("projects"))
			}
			s.log.Info("progress", args...)
		case busy:
			busy = false
			s.log.Info("progress: the work in hand is done; nothing left to build")
		}
	}
}
