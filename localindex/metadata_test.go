package localindex

import (
	"encoding/json"
	"net/http"
	"testing"
)

// TestCoreMetadataFile: a wheel's METADATA is served at its URL +
// ".metadata" (PEP 658), byte for byte, and the JSON page announces it
// under both names with its hash (PEP 714); an sdist has none, and asking
// for one is a 404, as on the real index.
func TestCoreMetadataFile(t *testing.T) {
	fx := newFixture(t, Options{})
	_, body := mustGet(t, http.StatusOK, fx.url+"/simple/foo-bar/", "Accept", pipAccept)
	var doc struct {
		Files []struct {
			Filename     string          `json:"filename"`
			URL          string          `json:"url"`
			CoreMetadata json.RawMessage `json:"core-metadata"`
			DistInfo     json.RawMessage `json:"data-dist-info-metadata"`
		} `json:"files"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	// Written by hand: what tinyWheel put into the wheel's METADATA.
	wantMeta := "Metadata-Version: 2.1\nName: Foo.Bar\nVersion: 1.0\nSummary: Foo & <bar>\nRequires-Python: >=3.8\n\nLong description.\nSummary: not this\n"
	seen := 0
	for _, f := range doc.Files {
		if f.Filename != "foo_bar-1.0-py3-none-any.whl" {
			if string(f.CoreMetadata) != "false" || string(f.DistInfo) != "false" {
				t.Errorf("%s: core-metadata %s, data-dist-info-metadata %s; want false for an sdist", f.Filename, f.CoreMetadata, f.DistInfo)
			}
			mustGet(t, http.StatusNotFound, f.URL+".metadata")
			continue
		}
		seen++
		want := `{"sha256":"` + sha256Hex([]byte(wantMeta)) + `"}`
		if string(f.CoreMetadata) != want || string(f.DistInfo) != want {
			t.Errorf("wheel: core-metadata %s, data-dist-info-metadata %s; want %s", f.CoreMetadata, f.DistInfo, want)
		}
		_, got := mustGet(t, http.StatusOK, f.URL+".metadata")
		if string(got) != wantMeta {
			t.Errorf("metadata file:\n%q\nwant:\n%q", got, wantMeta)
		}
	}
	if seen != 1 {
		t.Errorf("%d wheels on the page, want 1", seen)
	}
}
