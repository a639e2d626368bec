package logtext

import (
	"strings"
	"testing"
)

func TestTerminal(t *testing.T) {
	for _, c := range []struct{ name, log, want string }{
		{"plain text is kept, tabs too", "a\tb\nc\n", "a\tb\nc\n"},
		{"colours", "\x1b[1;31mFAILED\x1b[0m test_x\n", "FAILED test_x\n"},
		{"a window title (OSC, BEL)", "\x1b]0;pwned\x07ok\n", "ok\n"},
		{"a hyperlink (OSC 8, ST)", "\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\\n", "click\n"},
		{"a clipboard write (OSC 52)", "\x1b]52;c;cm0gLXJmIH4=\x07done\n", "done\n"},
		{"a cursor move up and a line erase", "one\n\x1b[1A\x1b[2Ktwo\n", "one\ntwo\n"},
		{"a DCS string", "\x1bPq#0;2;0;0;0\x1b\\after\n", "after\n"},
		{"a progress bar redrawn", "10%\r50%\r100%\ndone\n", "100%\ndone\n"},
		{"CRLF line ends", "a\r\nb\r\n", "a\nb\n"},
		{"bell, backspace, NUL, DEL and C1 controls dropped", "a\x07b\x08c\x00d\x7fe\u0085f\u009bg\n", "abcdefg\n"},
		{"invalid UTF-8 replaced", "caf\xe9\n", "caf\uFFFD\n"},
		{"non-ASCII text kept", "größe ✓ 日本\n", "größe ✓ 日本\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Terminal([]byte(c.log)); got != c.want {
				t.Errorf("Terminal(%q) = %q, want %q", c.log, got, c.want)
			}
		})
	}
}

func TestTail(t *testing.T) {
	if got, want := Tail([]byte("1\n2\n\x1b[31m3\x1b[0m\n4\n"), 2), "3\n4"; got != want {
		t.Errorf("Tail = %q, want %q", got, want)
	}
	if got, want := Tail([]byte("only\n"), 5), "only"; got != want {
		t.Errorf("Tail of a short log = %q, want %q", got, want)
	}
	// A log past maxTail: read from the first whole line in its last
	// maxTail bytes, so a colour sequence cut in two is not half read.
	var b strings.Builder
	for b.Len() <= 2*maxTail {
		b.WriteString("\x1b[32mline of a long log\x1b[0m\n")
	}
	b.WriteString("\x1b[31mthe end\x1b[0m\n")
	got := Tail([]byte(b.String()), 3)
	if want := "line of a long log\nline of a long log\nthe end"; got != want {
		t.Errorf("Tail of a long log = %q, want %q", got, want)
	}
	// One line longer than maxTail, cut: what is left is still text.
	long := "\x1b[31m" + strings.Repeat("x", maxTail+10) + "\x1b[0m"
	if got := Tail([]byte(long), 1); strings.ContainsAny(got, "\x1b[") {
		t.Errorf("Tail of one long line keeps a piece of a sequence: ...%q", got[len(got)-20:])
	}
}
