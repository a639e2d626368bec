package runner

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/pysmoke/pysmoke/dist"
	"github.com/pysmoke/pysmoke/interpreter"
	"github.com/pysmoke/pysmoke/outcome"
	"github.com/pysmoke/pysmoke/sandbox"
)

// removedModules maps standard-library modules to the Python version that
// removed them (from the "What's New" pages), so that an import failure can
// be binned as "module removed" the way Fedora's mass rebuilds bin theirs.
var removedModules = map[string]string{
	"formatter": "3.10", "parser": "3.10", "symbol": "3.10",
	"binhex": "3.11",
	"imp":    "3.12", "distutils": "3.12", "asynchat": "3.12", "asyncore": "3.12", "smtpd": "3.12",
	"aifc": "3.13", "audioop": "3.13", "cgi": "3.13", "cgitb": "3.13", "chunk": "3.13", "crypt": "3.13",
	"imghdr": "3.13", "mailcap": "3.13", "msilib": "3.13", "nis": "3.13", "nntplib": "3.13",
	"ossaudiodev": "3.13", "pipes": "3.13", "sndhdr": "3.13", "spwd": "3.13", "sunau": "3.13",
	"telnetlib": "3.13", "uu": "3.13", "xdrlib": "3.13", "lib2to3": "3.13",
	// Python 2's names that Python 3.0 renamed or removed (PEP 3108).
	"urllib2": "3.0", "urlparse": "3.0", "httplib": "3.0", "ConfigParser": "3.0", "StringIO": "3.0",
	"cStringIO": "3.0", "Queue": "3.0", "SocketServer": "3.0", "HTMLParser": "3.0", "htmlentitydefs": "3.0",
	"cPickle": "3.0", "__builtin__": "3.0", "commands": "3.0", "sets": "3.0", "md5": "3.0", "sha": "3.0",
	"exceptions": "3.0", "thread": "3.0", "dummy_thread": "3.0", "Tkinter": "3.0", "tkMessageBox": "3.0",
	"cookielib": "3.0", "Cookie": "3.0", "BaseHTTPServer": "3.0", "SimpleHTTPServer": "3.0",
	"CGIHTTPServer": "3.0", "xmlrpclib": "3.0", "SimpleXMLRPCServer": "3.0", "copy_reg": "3.0",
	"repr": "3.0", "UserDict": "3.0", "UserList": "3.0", "UserString": "3.0", "robotparser": "3.0",
	"anydbm": "3.0", "dbhash": "3.0", "whichdb": "3.0", "dumbdbm": "3.0", "gdbm": "3.0", "popen2": "3.0",
	"new": "3.0", "mimetools": "3.0", "rfc822": "3.0", "MimeWriter": "3.0", "mimify": "3.0",
	"multifile": "3.0", "compiler": "3.0", "dircache": "3.0", "fpformat": "3.0", "htmllib": "3.0",
	"sgmllib": "3.0", "statvfs": "3.0", "user": "3.0", "imputil": "3.0", "ihooks": "3.0",
}

// addedModules maps standard-library modules to the Python version that
// added them (from the "What's New" pages): code that imports one on an
// older Python claims a Python it does not run on, as with a removed one.
// Modules that a same-named backport on the index provides for older
// Pythons (configparser, enum, pathlib, typing, dataclasses, the Python 3
// names that "future" provides on 2.7...) are not listed: missing, they
// are a missing dependency, not a missing module of the standard library.
var addedModules = map[string]string{
	"lzma": "3.3", "venv": "3.3", "asyncio": "3.4", "tracemalloc": "3.4", "zipapp": "3.5",
	"graphlib": "3.9", "zoneinfo": "3.9", "tomllib": "3.11",
}

// stdlibMissing reports whether mod is a standard-library module that
// Python minor lacks (removed by then, or not yet added), and says which.
func stdlibMissing(mod, minor string) (string, bool) {
	if since, ok := removedModules[mod]; ok && dist.CompareVersions(minor, since) >= 0 {
		return fmt.Sprintf("imports %s, removed in Python %s", mod, since), true
	}
	if since, ok := addedModules[mod]; ok && dist.CompareVersions(minor, since) < 0 {
		return fmt.Sprintf("imports %s, new in Python %s", mod, since), true
	}
	return "", false
}

var (
	// "No module named 'imp'" (3.x) and "No module named imp" (2.7).
	noModule = regexp.MustCompile(`(?m)(?:ModuleNotFoundError|ImportError): No module named '?([A-Za-z0-9_.]+)'?`)
	// Errors a sealed sandbox produces when code reaches for the network:
	// no route (ENETUNREACH, 101) for addresses, no resolver for names.
	networkErr = regexp.MustCompile(`\[Errno 101\] Network is unreachable|\[Errno -3\] Temporary failure in name resolution|\[Errno -2\] Name or service not known|\[Errno -5\] No address associated with hostname|gaierror\(-[235],|OSError\(101, 'Network is unreachable'\)`)
	// A traceback's last line; pytest prefixes the lines of an error it
	// reports with "E".
	syntaxErr = regexp.MustCompile(`(?m)^(?:E)?\s*(?:File .*\n(?:.*\n){0,4}?)?(?:\w+\.)?(?:SyntaxError|TabError|IndentationError):`)
	// unittest's "FAILED (failures=1)", pytest's "==== 1 failed, 2 passed in 0.1s ====".
	testsFail = regexp.MustCompile(`(?m)^FAILED \((?:failures|errors)=|^=+ (?:.*, )?\d+ (?:failed|errors?)\b.* in [0-9.]+s`)
	ranNone   = regexp.MustCompile(`(?m)^Ran 0 tests? in `)
)

// classify explains a step that exited non-zero (or, for tests, ran
// nothing) from its log. The reasons are ordered from most to least
// specific: a removed module explains an import error, which explains a
// test failure.
func classify(step string, exitCode int, log []byte, in interpreter.Interpreter) (outcome.Status, string, string) {
	text := string(log)
	if step == outcome.StepTests && ranNone.MatchString(text) {
		return outcome.NoTests, outcome.ReasonNoTests, "the test runner found no tests"
	}
	if exitCode == 0 {
		return outcome.Passed, outcome.ReasonOK, ""
	}
	if m := networkErr.FindString(text); m != "" {
		return outcome.Failed, outcome.ReasonNeedsNetwork, "reached for the network in a sealed build: " + m
	}
	for _, m := range noModule.FindAllStringSubmatch(text, -1) {
		if why, ok := stdlibMissing(strings.SplitN(m[1], ".", 2)[0], in.Minor); ok {
			return outcome.Failed, outcome.ReasonModuleRemoved, why
		}
	}
	if syntaxErr.MatchString(text) {
		return outcome.Failed, outcome.ReasonSyntaxError, "Python " + in.Minor + " cannot parse the code"
	}
	if m := noModule.FindStringSubmatch(text); m != nil {
		return outcome.Failed, outcome.ReasonImportError, "no module named " + m[1]
	}
	if step == outcome.StepTests && testsFail.MatchString(text) {
		return outcome.Failed, outcome.ReasonTestFailure, "tests failed"
	}
	return outcome.Failed, outcome.ReasonExitStatus, fmt.Sprintf("exited with status %d", exitCode)
}

// limitOutcome is the status, reason and detail of a step that a limit
// ended or broke (er.TimedOut, or er.LimitHit with a non-zero exit).
func limitOutcome(er sandbox.ExecResult, stepTimeout time.Duration) (outcome.Status, string, string) {
	switch er.LimitHit {
	case sandbox.LimitNoOutput:
		return outcome.ResourceLimit, outcome.ReasonTimeout, "printed nothing for too long (no-output timeout)"
	case sandbox.LimitMemory:
		return outcome.ResourceLimit, outcome.ReasonMemory, fmt.Sprintf("the memory limit's OOM killer ended a process (peak %d MiB)", er.MemoryPeak>>20)
	case sandbox.LimitDisk:
		return outcome.ResourceLimit, outcome.ReasonDisk, "the scratch outgrew its size or file cap"
	case sandbox.LimitLogSize:
		return outcome.ResourceLimit, outcome.ReasonLogSize, "printed more than the output cap"
	case sandbox.LimitPids:
		return outcome.ResourceLimit, outcome.ReasonPids, "a fork failed on the process cap"
	}
	return outcome.ResourceLimit, outcome.ReasonTimeout, fmt.Sprintf("no result within %s", stepTimeout)
}

// missingTestModule reclassifies a tests step that failed on an import
// (ReasonImportError, detail "no module named X"): a module that is
// neither the release's own (own: the built wheel's top-level modules)
// nor the standard library's (classify has taken those) is one the tests
// need and the environment lacks. That is not the release's failure: its
// test environment is incomplete, declared or not (src, the test
// environment it declares; reqs, every requirement the job resolved for
// the tests).
func missingTestModule(sr *StepResult, own []string, src testSource, reqs []string) {
	if sr.Status != outcome.Failed || sr.Reason != outcome.ReasonImportError {
		return
	}
	m := noModule.FindStringSubmatch(string(sr.Log))
	if m == nil {
		return
	}
	top := strings.SplitN(m[1], ".", 2)[0]
	if slices.Contains(own, top) {
		return // the release's own module: its failure
	}
	detail := fmt.Sprintf("no module named %s: undeclared test dependency", m[1])
	for _, r := range reqs {
		if req, err := dist.ParseRequirement(r); err == nil && req.Name == dist.Normalize(top) {
			where := src.From
			if where == "" {
				where = "the release's requirements"
			}
			detail = fmt.Sprintf("no module named %s: %s, declared in %s, is not installed", m[1], r, where)
			break
		}
	}
	sr.Status, sr.Reason, sr.Detail = outcome.Machinery, outcome.ReasonDependencyUnavailable, detail
}
