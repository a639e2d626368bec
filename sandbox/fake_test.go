package sandbox

import "testing"

// TestFakePaths: the fake sandbox puts the scratch where BuildRoot starts
// a path, and nowhere else.
func TestFakePaths(t *testing.T) {
	b := &fakeBox{scratch: "/s/job-1"}
	for in, want := range map[string]string{
		"/build":                             "/s/job-1",
		"/build/env/build/bin/python":        "/s/job-1/env/build/bin/python",
		"PATH=/build/env/build/bin:/usr/bin": "PATH=/s/job-1/env/build/bin:/usr/bin",
		"--output-dir=/build/out/2to3":       "--output-dir=/s/job-1/out/2to3",
		"/usr/bin:/build/home":               "/usr/bin:/s/job-1/home",
		"/builder/x":                         "/builder/x",
		"/x/build/y":                         "/x/build/y",
		"cd /build/src && run /build":        "cd /s/job-1/src && run /s/job-1",
		"no path here":                       "no path here",
	} {
		if got := b.host(in); got != want {
			t.Errorf("host(%q) = %q, want %q", in, got, want)
		}
	}
}
