package index

import (
	"errors"
	"net/url"
	"reflect"
	"testing"
	"time"
)

func TestParseSimpleHTML(t *testing.T) {
	base, _ := url.Parse("https://mirror.example/pypi/simple/foo-bar/")
	page := `<!DOCTYPE html>
<html><head><meta name="pypi:repository-version" content="1.1"><title>Links for Foo.Bar</title></head>
<body><h1>Links for Foo.Bar</h1>
<a href="../../packages/ab/foo_bar-1.0.tar.gz#sha256=ABCDEF" data-requires-python="&gt;=3.8">foo_bar-1.0.tar.gz</a><br/>
<a href="https://files.example/foo_bar-1.0-py3-none-any.whl#sha256=0123" data-core-metadata="sha256=CAFE"
   data-dist-info-metadata="sha256=old" data-provenance="https://files.example/p.json" data-yanked="">foo_bar-1.0-py3-none-any.whl</a>
<a href="/x/foo_bar-0.9.zip" data-dist-info-metadata="true" data-yanked="bad &quot;build&quot;">  </a>
<a name="no-href">ignored</a>
</body></html>
<!--SERIAL 42-->
`
	p, err := parseSimpleHTML([]byte(page), base)
	if err != nil {
		t.Fatal(err)
	}
	want := []File{
		{Filename: "foo_bar-1.0.tar.gz", URL: "https://mirror.example/pypi/packages/ab/foo_bar-1.0.tar.gz", SHA256: "abcdef", Size: -1, RequiresPython: ">=3.8"},
		{Filename: "foo_bar-1.0-py3-none-any.whl", URL: "https://files.example/foo_bar-1.0-py3-none-any.whl", SHA256: "0123", Size: -1,
			Yanked: true, CoreMetadata: "sha256=cafe", Provenance: "https://files.example/p.json"},
		{Filename: "foo_bar-0.9.zip", URL: "https://mirror.example/x/foo_bar-0.9.zip", Size: -1, Yanked: true, YankedReason: `bad "build"`, CoreMetadata: "true"},
	}
	if p.serial != 42 || !reflect.DeepEqual(p.files, want) {
		t.Errorf("got serial %d\n%+v\nwant\n%+v", p.serial, p.files, want)
	}

	bad := map[string]string{
		"cut short":      page[:len(page)/2],
		"API version 2":  `<html><head><meta name="pypi:repository-version" content="2.0"></head><body></body></html>`,
		"bad href":       `<html><body><a href="http://[::1">x</a></body></html>`,
		"no closing tag": `<html><body><a href="x-1.0.tar.gz#sha256=00">x-1.0.tar.gz</a>`,
	}
	for name, doc := range bad {
		if _, err := parseSimpleHTML([]byte(doc), base); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err %v, want malformed", name, err)
		}
	}
	// Comments and blank lines after </html> are fine; so is a page
	// without a serial.
	p, err = parseSimpleHTML([]byte("<html><body></body></HTML>\n<!-- generated -->\n\n"), base)
	if err != nil || p.serial != 0 || len(p.files) != 0 {
		t.Errorf("minimal page: %+v, %v", p, err)
	}
}

func TestParseSimpleJSON(t *testing.T) {
	base, _ := url.Parse("https://pypi.example/simple/foo-bar/")
	doc := `{"meta":{"_last-serial":7,"api-version":"1.4"},"name":"foo-bar","files":[
 {"filename":"foo_bar-1.0.tar.gz","url":"../../f/foo_bar-1.0.tar.gz","hashes":{"sha256":"AB"},"size":12,
  "upload-time":"2026-08-21T16:57:37.123456Z","requires-python":">=3.8","yanked":false,"core-metadata":false,"provenance":null},
 {"filename":"foo_bar-1.0-py3-none-any.whl","url":"https://files.example/w.whl#frag","hashes":{"sha256":"cd"},
  "yanked":"broken","core-metadata":{"sha256":"EF"},"provenance":"https://files.example/p"},
 {"filename":"foo_bar-0.9.zip","url":"/z.zip","hashes":{},"yanked":true,"data-dist-info-metadata":true}]}`
	p, err := parseSimpleJSON([]byte(doc), base)
	if err != nil {
		t.Fatal(err)
	}
	want := []File{
		{Filename: "foo_bar-1.0.tar.gz", URL: "https://pypi.example/f/foo_bar-1.0.tar.gz", SHA256: "ab", Size: 12, RequiresPython: ">=3.8",
			UploadTime: time.Date(2026, 8, 21, 16, 57, 37, 123456000, time.UTC)},
		{Filename: "foo_bar-1.0-py3-none-any.whl", URL: "https://files.example/w.whl", SHA256: "cd", Size: -1, Yanked: true,
			YankedReason: "broken", CoreMetadata: "sha256=ef", Provenance: "https://files.example/p"},
		{Filename: "foo_bar-0.9.zip", URL: "https://pypi.example/z.zip", Size: -1, Yanked: true, CoreMetadata: "true"},
	}
	if p.serial != 7 || !reflect.DeepEqual(p.files, want) {
		t.Errorf("got serial %d\n%+v\nwant\n%+v", p.serial, p.files, want)
	}
	for name, doc := range map[string]string{
		"cut short":     doc[:len(doc)/2],
		"no files":      `{"meta":{"api-version":"1.4"},"name":"x"}`,
		"API version 2": `{"meta":{"api-version":"2.0"},"files":[]}`,
		"no url":        `{"meta":{"api-version":"1.0"},"files":[{"filename":"x-1.0.tar.gz"}]}`,
	} {
		if _, err := parseSimpleJSON([]byte(doc), base); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err %v, want malformed", name, err)
		}
	}
}
