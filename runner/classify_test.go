package runner

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pysmoke/pysmoke/interpreter"
	"github.com/pysmoke/pysmoke/outcome"
)

// The logs below are what Python 2.7 and 3.x print for each failure, as
// seen in the sealed sandbox (where name resolution fails with EAI_AGAIN,
// -3, and a connect with ENETUNREACH, 101).
const (
	logPy3DNS = `running egg_info
Traceback (most recent call last):
  File "/root/.pyenv/versions/3.11.7/lib/python3.11/urllib/request.py", line 1348, in do_open
    h.request(req.get_method(), req.selector, req.data, headers,
  File "/root/.pyenv/versions/3.11.7/lib/python3.11/socket.py", line 962, in getaddrinfo
    for res in _socket.getaddrinfo(host, port, family, type, proto, flags):
               ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
socket.gaierror: [Errno -3] Temporary failure in name resolution

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/build/src/pkg-1.0/setup.py", line 4, in <module>
    urllib.request.urlopen("https://example.com/version.txt")
urllib.error.URLError: <urlopen error [Errno -3] Temporary failure in name resolution>
`
	logPy27NameUnknown = `Traceback (most recent call last):
  File "setup.py", line 3, in <module>
    urllib2.urlopen("http://example.com/")
  File "/root/.pyenv/versions/2.7.18/lib/python2.7/urllib2.py", line 1198, in do_open
    raise URLError(err)
urllib2.URLError: <urlopen error [Errno -2] Name or service not known>
`
	logPy27Unreachable = `Traceback (most recent call last):
  File "test_net.py", line 5, in test_connect
    s.connect(("1.1.1.1", 443))
  File "/root/.pyenv/versions/2.7.18/lib/python2.7/socket.py", line 228, in meth
    return getattr(self._sock,name)(*args)
error: [Errno 101] Network is unreachable
`
	logPy3Unreachable = `Traceback (most recent call last):
  File "<string>", line 1, in <module>
  File "/root/.pyenv/versions/3.12.1/lib/python3.12/socket.py", line 852, in create_connection
    raise exceptions[0]
  File "/root/.pyenv/versions/3.12.1/lib/python3.12/socket.py", line 837, in create_connection
    sock.connect(sa)
OSError: [Errno 101] Network is unreachable
`
	logSetupRequires = `Download error on https://pypi.org/simple/pbr/: [Errno -3] Temporary failure in name resolution -- Some packages may not be found!
Couldn't find index page for 'pbr' (maybe misspelled?)
No local packages or working download links found for pbr
distutils.errors.DistutilsError: Could not find suitable distribution for Requirement.parse('pbr')
`
	logRequests = `requests.exceptions.ConnectionError: HTTPSConnectionPool(host='pypi.org', port=443): Max retries exceeded with url: /pypi/x/json (Caused by NewConnectionError('<urllib3.connection.HTTPSConnection object at 0x7f3a>: outcome.Failed to establish a new connection: [Errno 101] Network is unreachable'))
`
	logReprGaierror = `test_fetch (test_pkg.FetchTest) ... ERROR
error was gaierror(-3, 'Temporary failure in name resolution')
`
	logImp = `Traceback (most recent call last):
  File "/build/src/pkg-1.0/setup.py", line 2, in <module>
    import imp
ModuleNotFoundError: No module named 'imp'
`
	logDistutils = `Traceback (most recent call last):
  File "/build/src/pkg-1.0/setup.py", line 1, in <module>
    from distutils.core import setup
ModuleNotFoundError: No module named 'distutils'
`
	logTelnetlibTest = `test_client (unittest.loader._FailedTest.test_client) ... ERROR

======================================================================
ERROR: test_client (unittest.loader._FailedTest.test_client)
----------------------------------------------------------------------
ImportError: outcome.Failed to import test module: test_client
Traceback (most recent call last):
  File "/build/src/pkg-1.0/test_client.py", line 1, in <module>
    import telnetlib
ModuleNotFoundError: No module named 'telnetlib'


----------------------------------------------------------------------
Ran 1 test in 0.000s

FAILED (errors=1)
`
	logPy27NoModule = `Traceback (most recent call last):
  File "setup.py", line 2, in <module>
    import configparser
ImportError: No module named configparser
`
	logPy3Print = `  File "/build/src/pkg-1.0/setup.py", line 5
    print "installing pkg"
    ^^^^^^^^^^^^^^^^^^^^^^
SyntaxError: Missing parentheses in call to 'print'. Did you mean print(...)?
`
	logPy36Print = `  File "setup.py", line 5
    print "installing pkg"
                         ^
SyntaxError: Missing parentheses in call to 'print'
`
	logPy27FString = `  File "setup.py", line 3
    name = f"{base}-ext"
                       ^
SyntaxError: invalid syntax
`
	logTabError = `  File "/build/src/pkg-1.0/pkg/core.py", line 7
    return x
TabError: inconsistent use of tabs and spaces in indentation
`
	logSyntaxInTests = `test_mod (unittest.loader._FailedTest) ... ERROR

======================================================================
ERROR: test_mod (unittest.loader._FailedTest)
----------------------------------------------------------------------
ImportError: outcome.Failed to import test module: test_mod
Traceback (most recent call last):
  File "/root/.pyenv/versions/3.8.18/lib/python3.8/unittest/loader.py", line 436, in _find_test_path
    module = self._get_module_from_name(name)
  File "/build/src/pkg-1.0/test_mod.py", line 4
    except ValueError, e:
                     ^
SyntaxError: invalid syntax

----------------------------------------------------------------------
Ran 1 test in 0.000s

FAILED (errors=1)
`
	logTestFailure = `test_add (test_calc.CalcTest) ... FAIL
test_sub (test_calc.CalcTest) ... ok

======================================================================
FAIL: test_add (test_calc.CalcTest)
----------------------------------------------------------------------
Traceback (most recent call last):
  File "/build/src/pkg-1.0/test_calc.py", line 6, in test_add
    self.assertEqual(calc.add(1, 1), 3)
AssertionError: 2 != 3

----------------------------------------------------------------------
Ran 2 tests in 0.001s

FAILED (failures=1)
`
	logTestErrors = `test_parse (test_p.ParseTest) ... ERROR

======================================================================
ERROR: test_parse (test_p.ParseTest)
----------------------------------------------------------------------
Traceback (most recent call last):
  File "test_p.py", line 9, in test_parse
    self.assertEqual(p.parse("SyntaxError: x"), None)
KeyError: 'x'

----------------------------------------------------------------------
Ran 10 tests in 0.004s

FAILED (failures=2, errors=1, skipped=1)
`
	logNoTestsPy311 = `
----------------------------------------------------------------------
Ran 0 tests in 0.000s

OK
`
	logNoTestsPy312 = `
----------------------------------------------------------------------
Ran 0 tests in 0.000s

NO TESTS RAN
`
	logGccFailed = `running build_ext
building 'pkg._speedups' extension
gcc -pthread -fPIC -I/root/.pyenv/versions/3.11.7/include/python3.11 -c pkg/_speedups.c -o build/temp/_speedups.o
pkg/_speedups.c:1:10: fatal error: zlib.h: No such file or directory
error: command '/usr/bin/gcc' failed with exit code 1
`
	logSdistOK = `running sdist
running egg_info
writing pkg.egg-info/PKG-INFO
creating pkg-1.0
Creating tar archive
removing 'pkg-1.0' (and everything under it)
`
)

func TestClassify(t *testing.T) {
	py := func(minor string) interpreter.Interpreter {
		return interpreter.Interpreter{Minor: minor, Version: minor + ".0"}
	}
	cases := []struct {
		name       string
		step       string
		exit       int
		log        string
		in         interpreter.Interpreter
		wantStatus outcome.Status
		wantReason string
		wantDetail string // substring
	}{
		// Reaching for the network.
		{"py3 DNS gaierror -3", outcome.StepSdist, 1, logPy3DNS, py("3.11"), outcome.Failed, outcome.ReasonNeedsNetwork, "[Errno -3] Temporary failure in name resolution"},
		{"py2.7 name or service not known", outcome.StepSdist, 1, logPy27NameUnknown, py("2.7"), outcome.Failed, outcome.ReasonNeedsNetwork, "[Errno -2] Name or service not known"},
		{"py2.7 errno 101", outcome.StepTests, 1, logPy27Unreachable, py("2.7"), outcome.Failed, outcome.ReasonNeedsNetwork, "[Errno 101] Network is unreachable"},
		{"py3 errno 101", outcome.StepTests, 1, logPy3Unreachable, py("3.12"), outcome.Failed, outcome.ReasonNeedsNetwork, "[Errno 101] Network is unreachable"},
		{"setup_requires download", outcome.StepBdist, 1, logSetupRequires, py("3.9"), outcome.Failed, outcome.ReasonNeedsNetwork, "Temporary failure in name resolution"},
		{"requests errno 101", outcome.StepTests, 1, logRequests, py("3.10"), outcome.Failed, outcome.ReasonNeedsNetwork, "Network is unreachable"},
		{"gaierror repr", outcome.StepTests, 1, logReprGaierror, py("3.13"), outcome.Failed, outcome.ReasonNeedsNetwork, "gaierror(-3,"},
		{"network before a test failure", outcome.StepTests, 1, logPy3Unreachable + logTestFailure, py("3.12"), outcome.Failed, outcome.ReasonNeedsNetwork, "Network is unreachable"},

		// Modules the interpreter removed, and modules simply missing.
		{"imp on 3.12", outcome.StepSdist, 1, logImp, py("3.12"), outcome.Failed, outcome.ReasonModuleRemoved, "imports imp, removed in Python 3.12"},
		{"imp on 3.13", outcome.StepSdist, 1, logImp, py("3.13"), outcome.Failed, outcome.ReasonModuleRemoved, "imports imp, removed in Python 3.12"},
		{"imp missing on 3.11 is not removed there", outcome.StepSdist, 1, logImp, py("3.11"), outcome.Failed, outcome.ReasonImportError, "no module named imp"},
		{"distutils on 3.12", outcome.StepBdist, 1, logDistutils, py("3.12"), outcome.Failed, outcome.ReasonModuleRemoved, "imports distutils, removed in Python 3.12"},
		{"distutils missing on 3.10", outcome.StepBdist, 1, logDistutils, py("3.10"), outcome.Failed, outcome.ReasonImportError, "no module named distutils"},
		{"telnetlib in tests on 3.13", outcome.StepTests, 1, logTelnetlibTest, py("3.13"), outcome.Failed, outcome.ReasonModuleRemoved, "imports telnetlib, removed in Python 3.13"},
		{"telnetlib in tests on 3.12", outcome.StepTests, 1, logTelnetlibTest, py("3.12"), outcome.Failed, outcome.ReasonImportError, "no module named telnetlib"},
		{"py2.7 missing backport", outcome.StepSdist, 1, logPy27NoModule, py("2.7"), outcome.Failed, outcome.ReasonImportError, "no module named configparser"},
		{"urllib2 on 3.x", outcome.StepTests, 1, "Traceback (most recent call last):\n  File \"t.py\", line 1, in <module>\n    import urllib2\nModuleNotFoundError: No module named 'urllib2'\n", py("3.6"), outcome.Failed, outcome.ReasonModuleRemoved, "imports urllib2, removed in Python 3.0"},
		{"tomllib before 3.11", outcome.StepTests, 1, "E   ModuleNotFoundError: No module named 'tomllib'\n", py("3.10"), outcome.Failed, outcome.ReasonModuleRemoved, "imports tomllib, new in Python 3.11"},
		{"zoneinfo on 3.9 is there", outcome.StepTests, 1, "E   ModuleNotFoundError: No module named 'zoneinfo'\n", py("3.9"), outcome.Failed, outcome.ReasonImportError, "no module named zoneinfo"},

		// Code the interpreter cannot parse.
		{"py3 print statement", outcome.StepSdist, 1, logPy3Print, py("3.11"), outcome.Failed, outcome.ReasonSyntaxError, "Python 3.11 cannot parse the code"},
		{"py3.6 print statement", outcome.StepSdist, 1, logPy36Print, py("3.6"), outcome.Failed, outcome.ReasonSyntaxError, "Python 3.6 cannot parse the code"},
		{"py2.7 f-string", outcome.StepSdist, 1, logPy27FString, py("2.7"), outcome.Failed, outcome.ReasonSyntaxError, "Python 2.7 cannot parse the code"},
		{"tab error", outcome.StepBdist, 1, logTabError, py("3.9"), outcome.Failed, outcome.ReasonSyntaxError, "cannot parse"},
		{"syntax error explains failed tests", outcome.StepTests, 1, logSyntaxInTests, py("3.8"), outcome.Failed, outcome.ReasonSyntaxError, "Python 3.8 cannot parse the code"},

		// Tests.
		{"unittest failures", outcome.StepTests, 1, logTestFailure, py("3.11"), outcome.Failed, outcome.ReasonTestFailure, "tests failed"},
		{"unittest errors with SyntaxError in a message", outcome.StepTests, 1, logTestErrors, py("2.7"), outcome.Failed, outcome.ReasonTestFailure, "tests failed"},
		{"test summary outside the tests step", outcome.StepSdist, 1, logTestFailure, py("3.11"), outcome.Failed, outcome.ReasonExitStatus, "exited with status 1"},
		{"no tests on 3.11 (exit 0)", outcome.StepTests, 0, logNoTestsPy311, py("3.11"), outcome.NoTests, outcome.ReasonNoTests, "found no tests"},
		{"no tests on 3.12 (exit 5)", outcome.StepTests, 5, logNoTestsPy312, py("3.12"), outcome.NoTests, outcome.ReasonNoTests, "found no tests"},
		{"no tests on 2.7", outcome.StepTests, 0, logNoTestsPy311, py("2.7"), outcome.NoTests, outcome.ReasonNoTests, "found no tests"},
		{"Ran 0 tests outside the tests step", outcome.StepSdist, 0, logNoTestsPy311, py("3.11"), outcome.Passed, outcome.ReasonOK, ""},

		// Fallback and success.
		{"compiler failure", outcome.StepBdist, 1, logGccFailed, py("3.11"), outcome.Failed, outcome.ReasonExitStatus, "exited with status 1"},
		{"killed", outcome.StepBdist, 137, "Killed\n", py("3.11"), outcome.Failed, outcome.ReasonExitStatus, "exited with status 137"},
		{"empty log", outcome.StepSdist, 2, "", py("3.11"), outcome.Failed, outcome.ReasonExitStatus, "exited with status 2"},
		{"zero exit", outcome.StepSdist, 0, logSdistOK, py("3.11"), outcome.Passed, outcome.ReasonOK, ""},
		{"zero exit despite network noise", outcome.StepTests, 0, logPy3Unreachable + "Ran 3 tests in 0.010s\n\nOK (skipped=1)\n", py("3.12"), outcome.Passed, outcome.ReasonOK, ""},
		{"zero exit despite a missing optional module", outcome.StepBdist, 0, logImp, py("3.12"), outcome.Passed, outcome.ReasonOK, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, reason, detail := classify(tc.step, tc.exit, []byte(tc.log), tc.in)
			if st != tc.wantStatus || reason != tc.wantReason {
				t.Errorf("classify = %s %q (%s); want %s %q", st, reason, detail, tc.wantStatus, tc.wantReason)
			}
			if !strings.Contains(detail, tc.wantDetail) || (tc.wantDetail == "" && detail != "") {
				t.Errorf("detail %q; want it to contain %q", detail, tc.wantDetail)
			}
		})
	}
}

// Every removed module counts as removed from its version on, and as a
// plain import error before it.
func TestClassifyRemovedModulesByVersion(t *testing.T) {
	for mod, since := range removedModules {
		log := []byte("ModuleNotFoundError: No module named '" + mod + "'\n")
		st, reason, _ := classify(outcome.StepSdist, 1, log, interpreter.Interpreter{Minor: since})
		if st != outcome.Failed || reason != outcome.ReasonModuleRemoved {
			t.Errorf("%s on %s: %s %s; want module-removed", mod, since, st, reason)
		}
		var minor int
		if _, err := fmt.Sscanf(since, "3.%d", &minor); err != nil {
			t.Fatalf("%s: odd version %q", mod, since)
		}
		before := fmt.Sprintf("3.%d", minor-1)
		if st, reason, _ := classify(outcome.StepSdist, 1, log, interpreter.Interpreter{Minor: before}); reason != outcome.ReasonImportError {
			t.Errorf("%s on %s (removed in %s): %s %s; want import-error", mod, before, since, st, reason)
		}
	}
}

// TestMissingTestModule: a tests step that failed on an import of a
// module that is neither the release's own nor the standard library's is
// an incomplete test environment (the machinery's, grey), saying whether
// the project declared it; the release's own module and anything else
// stay as classified.
func TestMissingTestModule(t *testing.T) {
	py := func(minor string) interpreter.Interpreter { return interpreter.Interpreter{Minor: minor} }
	pytestLog := "ImportError while importing test module '/build/testrun/tests/test_parser.py'.\n" +
		"tests/test_parser.py:6: in <module>\n    from freezegun import freeze_time\nE   ModuleNotFoundError: No module named 'freezegun'\n" +
		"=========================== short test summary info ============================\nERROR tests/test_parser.py\n" +
		"!!!!!!!!!!!!!!!!!!!! Interrupted: 1 error during collection !!!!!!!!!!!!!!!!!!!!\n=============================== 1 error in 0.31s ===============================\n"
	own := []string{"dateutil"}
	tox := testSource{From: "tox.ini [testenv]", Requires: []string{"six", "freezegun ; python_version != '3.3'"}}
	cases := []struct {
		name       string
		log        string
		src        testSource
		reqs       []string
		wantStatus outcome.Status
		wantReason string
		wantDetail string
	}{
		{"undeclared", pytestLog, testSource{}, []string{"six"}, outcome.Machinery, outcome.ReasonDependencyUnavailable, "no module named freezegun: undeclared test dependency"},
		{"declared in tox.ini", pytestLog, tox, tox.Requires, outcome.Machinery, outcome.ReasonDependencyUnavailable, "no module named freezegun: freezegun ; python_version != '3.3', declared in tox.ini [testenv], is not installed"},
		{"the release's own module", strings.ReplaceAll(pytestLog, "'freezegun'", "'dateutil.tz._native'"), testSource{}, nil, outcome.Failed, outcome.ReasonImportError, ""},
		{"2.7's message", "Traceback (most recent call last):\n  File \"tests/test_x.py\", line 2, in <module>\n    import mock\nImportError: No module named mock\n", testSource{}, nil, outcome.Machinery, outcome.ReasonDependencyUnavailable, "no module named mock: undeclared test dependency"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, reason, detail := classify(outcome.StepTests, 1, []byte(c.log), py("3.12"))
			sr := StepResult{Name: outcome.StepTests, Status: st, Reason: reason, Detail: detail, Log: []byte(c.log)}
			missingTestModule(&sr, own, c.src, c.reqs)
			if sr.Status != c.wantStatus || sr.Reason != c.wantReason || (c.wantDetail != "" && sr.Detail != c.wantDetail) {
				t.Errorf("got %s %s %q; want %s %s %q", sr.Status, sr.Reason, sr.Detail, c.wantStatus, c.wantReason, c.wantDetail)
			}
		})
	}
	// A module removed from the standard library stays the release's.
	log := "E   ModuleNotFoundError: No module named 'imp'\n"
	st, reason, detail := classify(outcome.StepTests, 1, []byte(log), py("3.12"))
	sr := StepResult{Status: st, Reason: reason, Detail: detail, Log: []byte(log)}
	missingTestModule(&sr, own, testSource{}, nil)
	if sr.Status != outcome.Failed || sr.Reason != outcome.ReasonModuleRemoved {
		t.Errorf("imp on 3.12: %s %s %q", sr.Status, sr.Reason, sr.Detail)
	}
}
