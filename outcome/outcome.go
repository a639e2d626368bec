// Package outcome is the vocabulary every part of pysmoke shares about a
// result: the status of a step or a cell and whose fault it is, the reason
// codes, the step names, the artifacts a step leaves, and the two rules
// that sum a cell up from its steps (the worst status, the failing step).
//
// It sits at the bottom of the import graph: it imports nothing of
// pysmoke's, and the runner that makes results, the store that keeps them
// and the reports and feeds that show them all read them through it. The
// codes are stable identifiers: the store, the public JSON and the
// hand-written expected outcomes of the samples use them.
package outcome

// Status is the outcome of one step, or of a whole cell (one release on one
// interpreter). The statuses keep apart whose fault a result is: only Failed
// and Rejected are the package's; ResourceLimit counts against the package
// only when a retry reproduces it; Machinery is never the package's.
type Status string

const (
	// Passed: the step ran and succeeded.
	Passed Status = "passed"
	// Failed: the step ran and failed for the package's own reasons (a
	// non-zero exit, a syntax error, a removed module, reaching for the
	// network from a sealed build).
	Failed Status = "failed"
	// NoTests: the test step found nothing to run; not a pass.
	NoTests Status = "no-tests"
	// ResourceLimit: a limit of the sandbox ended the step (timeout, memory,
	// disk, log size, processes).
	ResourceLimit Status = "resource-limit"
	// Machinery: pysmoke could not run the step (toolchain missing, sandbox
	// failure, unreadable sdist). Never counted against the package.
	Machinery Status = "machinery-error"
	// NotAvailable: the step does not apply on this interpreter (2to3 where
	// the interpreter has no lib2to3).
	NotAvailable Status = "not-available"
	// Rejected: the sdist broke an unpacking rule; nothing of it ran.
	Rejected Status = "rejected"
	// DeclaredUnsupported: the release's Requires-Python excludes this
	// interpreter, so nothing of it ran (unless asked for); neither a pass
	// nor anybody's failure.
	DeclaredUnsupported Status = "declared-unsupported"
)

// Statuses lists every status, in the order summaries show them.
var Statuses = []Status{Passed, Failed, Rejected, ResourceLimit, NoTests, Machinery, NotAvailable, DeclaredUnsupported}

// Reason codes say why a step has its status.
const (
	ReasonOK               = ""
	ReasonExitStatus       = "exit-status"       // non-zero exit, no better explanation found
	ReasonSyntaxError      = "syntax-error"      // the interpreter could not parse the package
	ReasonModuleRemoved    = "module-removed"    // imports a stdlib module this Python removed
	ReasonImportError      = "import-error"      // imports something that is not there
	ReasonTestFailure      = "test-failure"      // the test runner reported failures or errors
	ReasonNeedsNetwork     = "needs-network"     // reached for the network from the sealed build
	ReasonNoTests          = "no-tests"          // the test runner ran no test
	ReasonTimeout          = "timeout"           // wall-clock or no-output limit hit
	ReasonMemory           = "memory"            // the memory limit's OOM killer fired
	ReasonDisk             = "disk"              // the scratch outgrew its size or file cap
	ReasonLogSize          = "log-size"          // printed more than the output cap
	ReasonPids             = "pids"              // a fork failed on the process cap
	ReasonToolchainMissing = "toolchain-missing" // the interpreter lacks what the step needs
	ReasonNoLib2to3        = "no-lib2to3"        // this interpreter has no lib2to3
	ReasonPython3Only      = "python3-only"      // Requires-Python excludes every Python 2: nothing for 2to3 to convert
	ReasonSandbox          = "sandbox-error"     // the sandbox itself failed
	ReasonBadSdist         = "bad-sdist"         // the sdist could not be read or unpacked safely
	ReasonNoSetupPy        = "no-setup-py"       // no setup.py to run
	ReasonSkipped          = "skipped"           // an earlier step made this one impossible
	ReasonRequiresPython   = "requires-python"   // the release's Requires-Python excludes this interpreter
	ReasonNoFrontend       = "no-frontend"       // no PEP 517 front end runs on this interpreter
	ReasonNoModules        = "no-modules"        // the built wheel declares no top-level module to import
	ReasonTampered         = "tampered-scratch"  // the package replaced one of pysmoke's folders in the scratch (a link out of it)
	// ReasonDependencyUnavailable: a requirement of the release (or of a
	// dependency) cannot be met on this interpreter; the detail names it.
	// With Machinery: not on the index, no compatible file, an sdist that
	// does not build; with DeclaredUnsupported: the dependency's own
	// Requires-Python excludes the interpreter.
	ReasonDependencyUnavailable = "dependency-unavailable"
)

// severity orders statuses from most to least telling, so that a cell
// takes the status of its most telling step.
var severity = map[Status]int{
	Failed:        0,
	Rejected:      1,
	ResourceLimit: 2,
	Machinery:     3,
	NoTests:       4,
	// Above Passed: a cell whose steps were all declared unsupported says
	// so, not "passed" for its unpacking.
	DeclaredUnsupported: 5,
	Passed:              6,
	NotAvailable:        7,
}

// Worst returns the most telling of the given statuses (NotAvailable for
// none), e.g. the status of a cell from those of its steps.
func Worst(statuses ...Status) Status {
	worst := NotAvailable
	for _, s := range statuses {
		if severity[s] < severity[worst] {
			worst = s
		}
	}
	return worst
}

// Failing returns the index of the step that gives a cell of status cell
// its status: the first of steps with that status. It returns -1 for a cell
// that passed (no step failed it) or when no step has the cell's status.
// The cell's reason is that step's reason.
func Failing(cell Status, steps []Status) int {
	if cell == Passed {
		return -1
	}
	for i, s := range steps {
		if s == cell {
			return i
		}
	}
	return -1
}

// PackageFault reports whether a status counts against the package.
func (s Status) PackageFault() bool { return s == Failed || s == Rejected }

// MachineryFault reports whether a status says pysmoke, not the package,
// could not produce a result.
func (s Status) MachineryFault() bool { return s == Machinery }

// Known reports whether s is one of the statuses above; a store written by
// a later version may hold others, which readers show as they are.
func (s Status) Known() bool {
	_, ok := severity[s]
	return ok
}

// Brief shortens a step's detail for one-line displays (a badge title, a
// feed item, a table cell), cutting at a rune boundary; the full text stays
// in the JSON and the step's page.
func Brief(detail string) string {
	const max = 160
	if len(detail) <= max {
		return detail
	}
	cut := max
	for cut > 0 && detail[cut]&0xC0 == 0x80 {
		cut--
	}
	return trimRight(detail[:cut]) + "…"
}

func trimRight(s string) string {
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\n' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}
