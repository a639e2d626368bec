package index

// Fuzzing of the project page parsers: a page comes from the index or a
// mirror, so any bytes at all. Beyond not panicking, a page that is read
// must be read the way the crawler relies on: absolute file URLs without a
// fragment, lower-case hashes, a known core-metadata form, and no reason
// without a yank. Run with
//
//	go test -run '^$' -fuzz '^FuzzParseSimpleHTML$' -fuzztime 20s ./index/
//
// (scripts/fuzz.sh runs every target).

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

var fuzzBase = mustURL("https://pypi.example/simple/foo-bar/")

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// checkPage asserts what every successfully parsed page must hold.
func checkPage(t *testing.T, p page, html bool) {
	t.Helper()
	if html && p.serial < 0 {
		t.Errorf("negative serial %d from an HTML comment", p.serial)
	}
	for _, f := range p.files {
		u, err := url.Parse(f.URL)
		switch {
		case err != nil:
			t.Errorf("file %q: URL %q does not parse: %v", f.Filename, f.URL, err)
		case !u.IsAbs():
			t.Errorf("file %q: URL %q is not absolute", f.Filename, f.URL)
		case u.Fragment != "" || strings.Contains(f.URL, "#"):
			t.Errorf("file %q: URL %q keeps a fragment", f.Filename, f.URL)
		}
		if f.SHA256 != strings.ToLower(f.SHA256) {
			t.Errorf("file %q: hash %q is not lower case", f.Filename, f.SHA256)
		}
		if m := f.CoreMetadata; m != "" && m != "true" && (!strings.HasPrefix(m, "sha256=") || m != strings.ToLower(m)) {
			t.Errorf("file %q: core metadata %q", f.Filename, m)
		}
		if !f.Yanked && f.YankedReason != "" {
			t.Errorf("file %q: a yank reason %q without a yank", f.Filename, f.YankedReason)
		}
		if html && (f.Size != -1 || !f.UploadTime.IsZero()) {
			t.Errorf("file %q: HTML gave size %d, upload time %v", f.Filename, f.Size, f.UploadTime)
		}
		if !html && !f.UploadTime.IsZero() && f.UploadTime.Location() != time.UTC {
			t.Errorf("file %q: upload time %v not in UTC", f.Filename, f.UploadTime)
		}
		if !html && (f.Filename == "" || f.URL == "") {
			t.Errorf("a JSON file without filename or URL: %+v", f)
		}
	}
}

func FuzzParseSimpleHTML(f *testing.F) {
	for _, seed := range []string{
		// What pypi.org serves (PEP 503 with PEP 592/658/714/740 attributes).
		`<!DOCTYPE html>
<html>
  <head>
    <meta name="pypi:repository-version" content="1.1">
    <title>Links for requests</title>
  </head>
  <body>
    <h1>Links for requests</h1>
    <a href="https://files.pythonhosted.org/packages/ba/91/requests-2.32.3-py3-none-any.whl#sha256=70761cfe03c773ceb22aa2f671b4757976145175cdfca038c02654d061d6dcc6" data-requires-python="&gt;=3.8" data-dist-info-metadata="sha256=EC0A9A0ED81E6EFD7A8C7A2A4C4D2B1EA61A0C4FF7A6E1B9C6B55D2D1A3A0F7B" data-core-metadata="sha256=ec0a9a0ed81e6efd7a8c7a2a4c4d2b1ea61a0c4ff7a6e1b9c6b55d2d1a3a0f7b" data-provenance="https://pypi.org/integrity/requests/2.32.3/requests-2.32.3-py3-none-any.whl/provenance">requests-2.32.3-py3-none-any.whl</a><br />
    <a href="https://files.pythonhosted.org/packages/63/70/requests-2.32.3.tar.gz#sha256=55365417734eb18255590a9ff9eb97e9e1da868d4ccd6402399eaf68af20a760" data-requires-python="&gt;=3.8">requests-2.32.3.tar.gz</a><br />
    <a href="https://files.pythonhosted.org/packages/a2/f4/requests-2.32.0.tar.gz#sha256=fa5490319474c82ef1d2c9bc459d3652e3ae4ef4c4ebdd18a21145a47ca4b6b8" data-requires-python="&gt;=3.8" data-yanked="Yanked due to conflicts with CVE-2024-35195 mitigation">requests-2.32.0.tar.gz</a><br />
  </body>
</html>
<!--SERIAL 24013426-->`,
		// What a static mirror writes: relative links, no metadata.
		`<html><body>
<a href="../../packages/foo_bar-1.0.tar.gz#sha256=ABCDEF">foo_bar-1.0.tar.gz</a>
<a href="/x/foo_bar-0.9.zip" data-dist-info-metadata="true" data-yanked="">  </a>
<a href="foo_bar-0.8.tar.gz#md5=0123" data-core-metadata="false">foo_bar-0.8.tar.gz</a>
<a name="no-href">ignored</a>
</body></html>
<!-- generated -->
`,
		`<html><head><meta name="pypi:repository-version" content="2.0"></head><body></body></html>`,
		`<html><body><a href="http://[::1">x</a></body></html>`,
		// Resolves to "https://::", which net/url does not parse again.
		`<html><body><a href="//::">x</a></body></html>`,
		`<html><body><a href="x-1.0.tar.gz#sha256=00">x-1.0.tar.gz</a>`,
		`<html><body><a href="//evil.example/x-1.0.tar.gz#sha256=00">x-1.0.tar.gz</a><!--SERIAL 99999999999999999999--></body></html>`,
		`<HTML><a href="data:text/plain,hi" data-yanked data-core-metadata="SHA256=AB">&lt;x&gt;</a></HTML>`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := parseSimpleHTML(body, fuzzBase)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		checkPage(t, p, true)
	})
}

func FuzzParseSimpleJSON(f *testing.F) {
	for _, seed := range []string{
		// What pypi.org serves (PEP 691).
		`{"meta":{"_last-serial":24013426,"api-version":"1.3"},"name":"requests","versions":["2.32.0","2.32.3"],"files":[
{"filename":"requests-2.32.3-py3-none-any.whl","url":"https://files.pythonhosted.org/packages/ba/91/requests-2.32.3-py3-none-any.whl","hashes":{"sha256":"70761cfe03c773ceb22aa2f671b4757976145175cdfca038c02654d061d6dcc6"},"requires-python":">=3.8","core-metadata":{"sha256":"ec0a9a0ed81e6efd7a8c7a2a4c4d2b1ea61a0c4ff7a6e1b9c6b55d2d1a3a0f7b"},"data-dist-info-metadata":{"sha256":"ec0a9a0ed81e6efd7a8c7a2a4c4d2b1ea61a0c4ff7a6e1b9c6b55d2d1a3a0f7b"},"size":64928,"upload-time":"2024-05-29T15:37:47.027801Z","yanked":false,"provenance":"https://pypi.org/integrity/requests/2.32.3/requests-2.32.3-py3-none-any.whl/provenance"},
{"filename":"requests-2.32.0.tar.gz","url":"https://files.pythonhosted.org/packages/a2/f4/requests-2.32.0.tar.gz","hashes":{"sha256":"fa5490319474c82ef1d2c9bc459d3652e3ae4ef4c4ebdd18a21145a47ca4b6b8"},"requires-python":">=3.8","core-metadata":false,"data-dist-info-metadata":false,"size":130994,"upload-time":"2024-05-20T15:22:24.512Z","yanked":"Yanked due to conflicts with CVE-2024-35195 mitigation","provenance":null}]}`,
		`{"meta":{"_last-serial":7,"api-version":"1.0"},"name":"foo-bar","files":[
{"filename":"foo_bar-1.0.tar.gz","url":"../../f/foo_bar-1.0.tar.gz#sha256=AB","hashes":{"sha256":"AB"},"size":12,"upload-time":"2026-08-21T16:57:37+02:00","yanked":true,"data-dist-info-metadata":true}]}`,
		`{"meta":{"api-version":"2.0"},"files":[]}`,
		`{"meta":{"api-version":"1.0"},"files":[{"filename":"x-1.0.tar.gz"}]}`,
		`{"meta":{"_last-serial":-1},"files":[{"filename":"x","url":"http://[::1"}]}`,
		`{"files":[{"filename":"x","url":"//evil.example/x#y","yanked":{"why":1},"core-metadata":{"SHA256":"AB"},"upload-time":"not a time"}]}`,
		`{"name":"x"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := parseSimpleJSON(body, fuzzBase)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		checkPage(t, p, false)
	})
}
