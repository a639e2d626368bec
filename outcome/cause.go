package outcome

// Cause says why a cell ran (again): every execution of a cell is a run
// of its own, kept with its cause. The codes are stable identifiers: the
// store, the queue's jobs and the public JSON use them.
type Cause string

const (
	// CauseNew: the first run of a release the crawler found.
	CauseNew Cause = "new"
	// CauseRetry: the queue ran the build again after an attempt that did
	// not end (the worker stopped, the store failed).
	CauseRetry Cause = "retry"
	// CauseProvenance: the cell's provenance changed (the interpreter's
	// build, the toolchain, the sandbox backend or image, the limits).
	CauseProvenance Cause = "provenance"
	// CauseDependency: a dependency its current run installed has a newer
	// release on the index.
	CauseDependency Cause = "dependency"
	// CauseConfirm: a rerun of a failure or a resource limit, to confirm
	// it before it is reported (or find it flaky).
	CauseConfirm Cause = "confirm"
	// CauseAdmin: an administrator asked for it.
	CauseAdmin Cause = "admin"
	// CauseMigrated: a result recorded before runs were kept, carried over
	// by the store's migration.
	CauseMigrated Cause = "migrated"
)
