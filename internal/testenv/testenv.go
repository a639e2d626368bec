// Package testenv holds the one rule the tests follow about what the
// machine must provide (a sandbox, an engine, interpreters, a toolchain, a
// browser): a test that cannot find it skips on a developer's machine, and
// fails under CI (CI set in the environment), where a skipped sandbox,
// engine or database test would hide a broken machine behind a green run.
//
// It imports nothing of pysmoke's but the interpreter discovery, so that
// the internal tests of any package, the sandbox's included, can use it.
package testenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pysmoke/pysmoke/interpreter"
	"github.com/pysmoke/pysmoke/toolchain"
)

// CI reports whether the tests run under CI.
func CI() bool { return os.Getenv("CI") != "" }

// Require skips the test when err is not nil (fails it under CI), saying
// that what is unavailable.
func Require(t testing.TB, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if CI() {
		t.Fatalf("%s unavailable in CI: %v", what, err)
	}
	t.Skipf("%s unavailable: %v", what, err)
}

var (
	discoverOnce sync.Once
	discovered   []interpreter.Interpreter
	problems     []error
)

// Pythons returns every interpreter of pyenv's versions folder (as the
// commands find them, without $PATH's); at least one, and under CI all nine of the machines this project runs on
// (2.7 and 3.6 to 3.13).
func Pythons(t testing.TB) []interpreter.Interpreter {
	t.Helper()
	discoverOnce.Do(func() {
		discovered, problems = interpreter.Discover(context.Background(), interpreter.DiscoverOptions{})
	})
	for _, p := range problems {
		t.Log(p)
	}
	var err error
	switch {
	case len(discovered) == 0:
		err = fmt.Errorf("no Python interpreter found (%w)", errors.Join(problems...))
	case CI() && len(discovered) < 9:
		err = fmt.Errorf("found %d Python interpreters; want all nine", len(discovered))
	}
	Require(t, "Pythons", err)
	return discovered
}

// Python returns the interpreter of one minor version ("3.11").
func Python(t testing.TB, minor string) interpreter.Interpreter {
	t.Helper()
	for _, in := range Pythons(t) {
		if in.Minor == minor {
			return in
		}
	}
	Require(t, "Python "+minor, errors.New("not among those found"))
	return interpreter.Interpreter{}
}

// Toolchain returns the offline wheelhouse of every interpreter Pythons
// finds (the one make toolchain built, not one per subset of them), built
// into the user's cache on first use: a fresh machine needs Debian's
// mirror once.
func Toolchain(t testing.TB) *toolchain.Wheelhouse {
	t.Helper()
	var pys []toolchain.Python
	for _, in := range Pythons(t) {
		pys = append(pys, toolchain.Python{Minor: in.Minor, Prefix: in.Prefix})
	}
	w, err := toolchain.Ensure(context.Background(), toolchain.Options{Pythons: pys})
	Require(t, "offline toolchain", err)
	return w
}

// Browser starts Debian's chromium, headless, for the test (a real
// browser over the pages), and returns its context: a minute to act.
func Browser(t testing.TB) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	Require(t, "chromium", err)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.Headless, chromedp.WindowSize(1280, 900))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	ctx, cancel3 := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancel3)
	return ctx
}

// Eval evaluates a JavaScript expression of a string value in the page of
// ctx (a Browser's), failing the test when it throws.
func Eval(t testing.TB, ctx context.Context, expr string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// Follow opens the link that selector finds in the page of ctx (a
// Browser's) as a click on it would, and waits for the new page to load:
// it reads the link's address and navigates there, because a wait begun
// right after a click can query the old document, or an execution context
// the navigation has just destroyed.
func Follow(t testing.TB, ctx context.Context, selector string) {
	t.Helper()
	js, _ := json.Marshal(selector)
	href := Eval(t, ctx, fmt.Sprintf(`(a => a ? a.href : "")(document.querySelector(%s))`, js))
	if href == "" {
		t.Fatalf("no link %s on the page", selector)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(href)); err != nil {
		t.Fatalf("%s: %v", href, err)
	}
}
