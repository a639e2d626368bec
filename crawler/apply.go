package crawler

// Acting on a project's file list. The list is compared with the files
// the index listed before (store.KnownFile): files new, changed (another
// hash under the same name is another file), re-listed or gone. Versions
// are grouped in canonical form. A version with no release recorded is new
// unless its files were known before: those are releases older than the
// project's joining the allowlist (or beyond its backfill), which are
// history, not news. Each release then moves on from what its files now
// are: yank, upload time, and its sdist (fetched, verified, queued).

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pysmoke/pysmoke/dist"
	"github.com/pysmoke/pysmoke/index"
	"github.com/pysmoke/pysmoke/store"
)

// fileClosedAfter is how long after a release's first upload files may
// still be added to it (the index's rule since 2026).
const fileClosedAfter = 14 * 24 * time.Hour

// applied is what apply leaves to save.
type applied struct {
	files   []store.KnownFile // known files to write (new, changed, removed)
	pending bool              // a release waits on something besides a page change
	// recorded says every release the list holds is recorded, so the page
	// need not be read in full again (a release's own failure, such as a
	// download, is retried from the known files).
	recorded bool
}

// apply acts on the files a project's page lists. fromPage says the list
// is the page itself (files missing from it are removed); otherwise it is
// the known files, looked at again.
func (c *Crawler) apply(ctx context.Context, st store.ProjectState, files []index.File, fromPage bool) (applied, error) {
	name := st.Project
	now := c.opts.Now()
	var res applied
	knownList, err := c.store.KnownFiles(ctx, name)
	if err != nil {
		return res, err
	}
	known := make(map[string]store.KnownFile, len(knownList))
	knownVersions := map[string]bool{} // versions with a file listed before this poll
	for _, k := range knownList {
		known[k.Filename] = k
		knownVersions[k.Version] = true
	}
	recorded, err := c.store.Releases(ctx, name)
	if err != nil {
		return res, err
	}
	releases := make(map[string]store.Release, len(recorded))
	for _, r := range recorded {
		releases[r.Version] = r
	}
	badList, err := c.store.BadFiles(ctx, name)
	if err != nil {
		return res, err
	}
	bad := map[string]store.BadFile{}
	for _, b := range badList {
		bad[b.SHA256+"/"+b.Filename] = b
	}

	// Group by canonical version, and note what changed.
	byVersion := map[string][]index.File{}
	newFiles := map[string][]store.KnownFile{} // by version: written only once the release is recorded
	listed := map[string]bool{}
	for _, f := range files {
		df, err := dist.ParseFilename(f.Filename)
		if err != nil || dist.Normalize(df.Name) != name {
			c.log.Debug("ignoring file", "project", name, "file", f.Filename)
			continue
		}
		if listed[f.Filename] {
			continue // listed twice: the first wins
		}
		listed[f.Filename] = true
		v := df.Version
		if pv, err := dist.ParseVersion(v); err == nil {
			v = pv.Canonical()
		}
		byVersion[v] = append(byVersion[v], f)
		k, seen := known[f.Filename]
		kf := store.KnownFile{Project: name, Filename: f.Filename, Version: v, SHA256: f.SHA256, URL: f.URL, Size: f.Size,
			UploadedAt: f.UploadTime, RequiresPython: f.RequiresPython, Yanked: f.Yanked, YankedReason: f.YankedReason,
			FirstSeen: now}
		switch {
		case !seen:
			if st.SyncedAt.IsZero() {
				c.log.Debug("file", "project", name, "file", f.Filename)
			} else {
				c.log.Info("new file", "project", name, "file", f.Filename)
			}
		case k.SHA256 != f.SHA256:
			c.log.Warn("file listed with another hash: a new file", "project", name, "file", f.Filename,
				"old_sha256", k.SHA256, "sha256", f.SHA256)
		case !k.RemovedAt.IsZero():
			c.log.Info("file listed again", "project", name, "file", f.Filename)
			kf.FirstSeen = k.FirstSeen
		default:
			kf.FirstSeen = k.FirstSeen
			if kf.UploadedAt.IsZero() {
				kf.UploadedAt = k.UploadedAt // learnt from elsewhere, or from the JSON page
			}
			if kf.Size < 0 {
				kf.Size = k.Size
			}
			if sameKnown(kf, k) {
				continue
			}
		}
		newFiles[v] = append(newFiles[v], kf)
	}
	if fromPage {
		for _, k := range knownList {
			if listed[k.Filename] || !k.RemovedAt.IsZero() {
				continue
			}
			c.log.Info("file removed from the index", "project", name, "file", k.Filename)
			k.RemovedAt = now
			res.files = append(res.files, k)
		}
	}

	versions := make([]string, 0, len(byVersion))
	for v := range byVersion {
		versions = append(versions, v)
	}
	slices.SortFunc(versions, func(a, b string) int { return dist.CompareVersions(b, a) })
	firstSync := st.SyncedAt.IsZero()
	var errs []error
	res.recorded = true
	for i, v := range versions {
		fs := byVersion[v]
		rel, ok := releases[v]
		if !ok {
			if (firstSync && i >= c.opts.Backfill) || (!firstSync && knownVersions[v]) {
				// History: there before the project was watched, or
				// beyond its backfill. Its files are known, not news.
				res.files = append(res.files, newFiles[v]...)
				continue
			}
			rel = store.Release{Project: name, Version: v, DisplayName: name, State: store.StateFound, DiscoveredAt: now}
			if pv, err := dist.ParseVersion(v); err == nil {
				rel.Prerelease = pv.IsPrerelease()
			}
			if _, err := c.store.AddRelease(ctx, rel); err != nil {
				// Its files stay unknown, so the next poll sees it as new again.
				errs = append(errs, err)
				res.recorded = false
				continue
			}
			c.log.Info("new release", "project", name, "version", v, "prerelease", rel.Prerelease)
		}
		res.files = append(res.files, newFiles[v]...)
		rel, err := c.advance(ctx, rel, fs, bad, known)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", name, v, err))
			res.pending = true
			continue
		}
		if rel.State == store.StateFound {
			res.pending = true
		}
	}
	if fromPage {
		// Releases the page no longer lists at all.
		gone := map[string]bool{}
		for _, k := range knownList {
			if k.RemovedAt.IsZero() && !listed[k.Filename] && len(byVersion[k.Version]) == 0 {
				gone[k.Version] = true
			}
		}
		for v := range gone {
			if _, ok := releases[v]; ok {
				c.log.Warn("release removed from the index; its results are kept", "project", name, "version", v)
			}
		}
	}
	return res, errors.Join(errs...)
}

// advance moves a release on from what its files now are, and returns it
// as recorded. An error is worth retrying (a download, the queue).
func (c *Crawler) advance(ctx context.Context, r store.Release, files []index.File, bad map[string]store.BadFile, known map[string]store.KnownFile) (store.Release, error) {
	orig := r
	allYanked, reason := len(files) > 0, ""
	var firstUpload time.Time
	for _, f := range files {
		allYanked = allYanked && f.Yanked
		if f.Yanked && reason == "" {
			reason = f.YankedReason
		}
		up := f.UploadTime
		if up.IsZero() {
			up = known[f.Filename].UploadedAt
		}
		if !up.IsZero() && (firstUpload.IsZero() || up.Before(firstUpload)) {
			firstUpload = up
		}
	}
	if allYanked != r.Yanked {
		// Results are kept either way.
		c.log.Info("yank changed", "project", r.Project, "version", r.Version, "yanked", allYanked, "reason", reason)
		r.Yanked = allYanked
	}
	if !firstUpload.IsZero() && (r.UploadedAt.IsZero() || firstUpload.Before(r.UploadedAt)) {
		r.UploadedAt = firstUpload
	}
	save := func() (store.Release, error) {
		if r == orig {
			return r, nil
		}
		return r, c.store.UpdateRelease(ctx, r)
	}
	if r.State == store.StateQueued {
		return save()
	}

	// Sdists in order of preference: .tar.gz (PEP 625) first; files
	// already found bad are never tried again.
	var sdists []index.File
	var unusable []string
	for _, f := range files {
		df, err := dist.ParseFilename(f.Filename)
		if err != nil || df.Kind != dist.Sdist {
			continue
		}
		if b, ok := bad[f.SHA256+"/"+f.Filename]; ok {
			unusable = append(unusable, b.Reason)
			continue
		}
		sdists = append(sdists, f)
	}
	slices.SortStableFunc(sdists, func(a, b index.File) int {
		pa, pb := dist.SdistPreference(mustExt(a.Filename)), dist.SdistPreference(mustExt(b.Filename))
		if pa != pb {
			return pa - pb
		}
		return strings.Compare(a.Filename, b.Filename)
	})
	for _, f := range sdists {
		err := c.index.Download(ctx, f)
		var badErr *index.BadFileError
		switch {
		case err == nil:
			r.SdistFile, r.SdistURL, r.SdistSHA256 = f.Filename, f.URL, f.SHA256
			r.State, r.StateReason = store.StateQueued, ""
			if err := c.enq.EnqueueRelease(ctx, r); err != nil {
				r.State = orig.State
				r.SdistFile, r.SdistURL, r.SdistSHA256 = orig.SdistFile, orig.SdistURL, orig.SdistSHA256
				if _, serr := save(); serr != nil {
					return r, errors.Join(err, serr)
				}
				return r, fmt.Errorf("enqueue: %w", err)
			}
			c.log.Info("queued", "project", r.Project, "version", r.Version, "sdist", f.Filename)
			return save()
		case errors.As(err, &badErr):
			c.log.Error("sdist refused", "project", r.Project, "version", r.Version, "err", err)
			if badErr.GotSHA256 != "" {
				b := store.BadFile{SHA256: f.SHA256, Filename: f.Filename, Project: r.Project, GotSHA256: badErr.GotSHA256,
					Reason: badErr.Error(), RecordedAt: c.opts.Now()}
				if err := c.store.RecordBadFile(ctx, b); err != nil {
					return r, err
				}
				bad[f.SHA256+"/"+f.Filename] = b
			}
			unusable = append(unusable, badErr.Error())
		default:
			// Transient: tried again on the next poll, even a 304.
			if _, serr := save(); serr != nil {
				return r, errors.Join(err, serr)
			}
			return r, err
		}
	}
	if len(unusable) > 0 {
		// Every sdist listed is unusable; another file, or the same name
		// with another hash, is tried when the index lists it.
		r.State, r.StateReason = store.StateBad, strings.Join(unusable, "; ")
		return save()
	}
	if r.State == store.StateFound {
		// Hold it: the sdist often comes after the wheels. Once no file can
		// be added any more, "no sdist" is its end state, not a failure.
		if r.UploadedAt.IsZero() {
			if t, ok := c.uploadTime(ctx, r.Project, r.Version); ok {
				r.UploadedAt = t
			}
		}
		// Without an upload time the discovery time stands in: it is never
		// earlier, so the window is never closed too soon.
		start := r.UploadedAt
		if start.IsZero() {
			start = r.DiscoveredAt
		}
		if c.opts.Now().Sub(start) > fileClosedAfter {
			r.State, r.StateReason = store.StateNoSdist, "no sdist was uploaded, and none can be added any more"
			c.log.Info("no sdist", "project", r.Project, "version", r.Version)
		}
	}
	return save()
}

func mustExt(filename string) string {
	df, _ := dist.ParseFilename(filename)
	return df.Ext
}

// sameKnown compares known files as the store keeps them (times to the
// millisecond).
func sameKnown(a, b store.KnownFile) bool {
	ms := func(t time.Time) int64 {
		if t.IsZero() {
			return 0
		}
		return t.UnixMilli()
	}
	return a.Project == b.Project && a.Filename == b.Filename && a.Version == b.Version && a.SHA256 == b.SHA256 &&
		a.URL == b.URL && a.Size == b.Size && ms(a.UploadedAt) == ms(b.UploadedAt) && a.RequiresPython == b.RequiresPython &&
		a.Yanked == b.Yanked && a.YankedReason == b.YankedReason && ms(a.FirstSeen) == ms(b.FirstSeen) &&
		ms(a.RemovedAt) == ms(b.RemovedAt)
}
