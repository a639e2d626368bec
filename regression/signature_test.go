package regression

import (
	"strings"
	"testing"
)

// Logs written by hand as the tools print them; the signatures by hand
// from what should fall in one bin.
func TestSignatureOf(t *testing.T) {
	for _, c := range []struct {
		name, reason, detail, log string
		want                      Signature
	}{
		{"a removed module", "module-removed", "imports imp, removed in Python 3.12", "Traceback ...\nModuleNotFoundError: No module named 'imp'\n",
			"module-removed: imp removed in Python 3.12"},
		{"a module not there yet", "module-removed", "imports tomllib, new in Python 3.11", "", "module-removed: tomllib new in Python 3.11"},
		{"use_2to3 refused", "exit-status", "", "running sdist\nerror in use2to3 setup command: use_2to3 is invalid.\n",
			"exit-status: use_2to3 is invalid"},
		{"the same in another package", "exit-status", "", "error in otherpkg setup command: use_2to3 is invalid.\n",
			"exit-status: use_2to3 is invalid"},
		{"an exception, its message normalised", "test-failure", "",
			"Traceback (most recent call last):\n  File \"/build/src/x.py\", line 3\nAttributeError: 'dict' object has no attribute 'iteritems'\n",
			"test-failure: AttributeError: '?' object has no attribute '?'"},
		{"a qualified exception type, numbers and paths", "exit-status", "",
			"distutils.errors.DistutilsFileError: could not create '/build/src/build/lib.linux-x86_64-3.12/pkg': 17 errors at 0xdeadbeef\n",
			"exit-status: distutils.errors.DistutilsFileError: could not create '?': N errors at 0x?"},
		{"pytest's E lines", "test-failure", "", "E   TypeError: unsupported operand type(s) for +: 'int' and 'str'\n",
			"test-failure: TypeError: unsupported operand type(s) for +: '?' and '?'"},
		{"the last exception wins", "exit-status", "", "ValueError: first\nDuring handling...\nRuntimeError: second\n", "exit-status: RuntimeError: second"},
		{"a bare exception type", "exit-status", "", "KeyboardInterrupt\n", "exit-status: KeyboardInterrupt"},
		{"a warning after the error", "exit-status", "", "ImportError: cannot import name 'x'\nDeprecationWarning: pkg_resources is deprecated\n",
			"exit-status: ImportError: cannot import name '?'"},
		{"only a warning", "exit-status", "", "SyntaxWarning: invalid escape sequence '\\d'\n", "exit-status: SyntaxWarning: invalid escape sequence '?'"},
		{"a plain error line", "exit-status", "", "warning: no files found\nerror: Microsoft Visual C++ 14.0 is required.\n",
			"exit-status: Microsoft Visual C++ N is required"},
		{"nothing to go by", "exit-status", "", "make: *** [all] Error 2\n", "exit-status"},
		{"no reason", "", "", "", "exit-status"},
	} {
		if got := SignatureOf(c.reason, c.detail, []byte(c.log)); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// A package's log is its own text: whatever it holds, the signature is
// one line that starts with the reason.
func FuzzSignatureOf(f *testing.F) {
	f.Add("exit-status", "", "error in x setup command: use_2to3 is invalid.\n")
	f.Add("module-removed", "imports imp, removed in Python 3.12", "")
	f.Add("test-failure", "", "E   TypeError: x\r\nValueError: 'a\rb' 0x1f /tmp/x 12\n")
	f.Add("exit-status", "", "error: \r\rfoo\r\n")
	f.Fuzz(func(t *testing.T, reason, detail, log string) {
		if strings.ContainsAny(reason, "\r\n") {
			return // reasons are the runner's codes
		}
		s := string(SignatureOf(reason, detail, []byte(log)))
		if strings.ContainsAny(s, "\r\n") {
			t.Errorf("signature %q is not one line", s)
		}
		if reason != "" && !strings.HasPrefix(s, reason) {
			t.Errorf("signature %q does not start with the reason %q", s, reason)
		}
	})
}
