package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pysmoke/pysmoke/dist"
)

// CrawlState is the crawler's memory of one project's index page.
type CrawlState struct {
	Project    string
	ETag       string
	LastSerial int64
	CheckedAt  time.Time
	LastError  string
}

// CrawlState returns the stored state of a project; the zero state (with
// Project set) when it was never crawled.
func (s *Store) CrawlState(ctx context.Context, project string) (CrawlState, error) {
	cs := CrawlState{Project: project}
	var checked int64
	err := s.db.QueryRowContext(ctx, `SELECT etag, last_serial, checked_at, last_error FROM crawl_state WHERE project = ?`, project).
		Scan(&cs.ETag, &cs.LastSerial, &checked, &cs.LastError)
	if errors.Is(err, sql.ErrNoRows) {
		return cs, nil
	}
	cs.CheckedAt = fromUnix(checked)
	return cs, err
}

// SaveCrawlState records a project's crawl state.
func (s *Store) SaveCrawlState(ctx context.Context, cs CrawlState) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO crawl_state (project, etag, last_serial, checked_at, last_error)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (project) DO UPDATE SET etag = excluded.etag,
		last_serial = excluded.last_serial, checked_at = excluded.checked_at, last_error = excluded.last_error`, cs.Project, cs.ETag, cs.LastSerial, unix(cs.CheckedAt), cs.LastError)
	if err != nil {
		return fmt.Errorf("save crawl state of %s: %w", cs.Project, err)
	}
	return nil
}

// comparePython orders minor versions numerically ("3.9" < "3.10").
func comparePython(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		x, errx := strconv.Atoi(pa[i])
		y, erry := strconv.Atoi(pb[i])
		if errx != nil || erry != nil {
			if c := strings.Compare(pa[i], pb[i]); c != 0 {
				return c
			}
			continue
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return len(pa) - len(pb)
}

func sortPythons(ps []Python) {
	sort.Slice(ps, func(i, j int) bool { return comparePython(ps[i].Python, ps[j].Python) < 0 })
}

// sortReleases puts the newest release (by PEP 440) first.
func sortReleases(rs []Release) {
	sort.SliceStable(rs, func(i, j int) bool { return dist.CompareVersions(rs[i].Version, rs[j].Version) > 0 })
}

// sortCells orders cells by interpreter.
func sortCells(cells []Cell) {
	sort.Slice(cells, func(i, j int) bool { return comparePython(cells[i].Python, cells[j].Python) < 0 })
}
