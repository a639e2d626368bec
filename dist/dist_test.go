package dist

import (
	"sort"
	"testing"
)

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"Foo.Bar":        "foo-bar",
		"foo__bar":       "foo-bar",
		"FOO-_.bar":      "foo-bar",
		"zope.interface": "zope-interface",
		"a":              "a",
	} {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestValidName(t *testing.T) {
	for _, ok := range []string{"a", "Foo.Bar", "x1", "a-b_c.d"} {
		if !ValidName(ok) {
			t.Errorf("ValidName(%q) = false", ok)
		}
	}
	for _, bad := range []string{"", "-a", "a-", "../etc", "a/b", "a b", "é"} {
		if ValidName(bad) {
			t.Errorf("ValidName(%q) = true", bad)
		}
		if _, err := NormalizeValid(bad); err == nil {
			t.Errorf("NormalizeValid(%q) succeeded", bad)
		}
	}
}

func TestVersionOrder(t *testing.T) {
	vs := []string{"1.10", "1.9", "1.0rc1", "1.0", "1.0.post1", "0.9", "1.0.dev1", "2!0.1"}
	sort.Slice(vs, func(i, j int) bool { return CompareVersions(vs[i], vs[j]) < 0 })
	want := []string{"0.9", "1.0.dev1", "1.0rc1", "1.0", "1.0.post1", "1.9", "1.10", "2!0.1"}
	for i := range want {
		if vs[i] != want[i] {
			t.Fatalf("sorted = %v, want %v", vs, want)
		}
	}
	if CompareVersions("1.0", "1.0.0") != 0 {
		t.Error("1.0 != 1.0.0")
	}
	v, _ := ParseVersion("1.0rc1")
	if !v.IsPrerelease() {
		t.Error("1.0rc1 not a prerelease")
	}
}

func TestParseFilename(t *testing.T) {
	cases := []struct {
		in   string
		want File
	}{
		{"foo_bar-1.0.tar.gz", File{"foo_bar", "1.0", Sdist, ".tar.gz"}},
		{"Foo-Bar-2.1.zip", File{"Foo-Bar", "2.1", Sdist, ".zip"}},
		{"x-0.1rc1.tar.bz2", File{"x", "0.1rc1", Sdist, ".tar.bz2"}},
		{"foo-1.0-py2.py3-none-any.whl", File{"foo", "1.0", Wheel, ".whl"}},
		{"foo-1.0-1-cp311-cp311-manylinux_2_17_x86_64.whl", File{"foo", "1.0", Wheel, ".whl"}},
	}
	for _, c := range cases {
		got, err := ParseFilename(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseFilename(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"foo.tar.gz", "foo-1.0.exe", "../foo-1.0.tar.gz", "foo-1.0-py3.whl"} {
		if _, err := ParseFilename(bad); err == nil {
			t.Errorf("ParseFilename(%q) succeeded", bad)
		}
	}
	if got := SdistFilename("Foo.Bar", "1.0-RC1"); got != "foo_bar-1.0rc1.tar.gz" {
		t.Errorf("SdistFilename = %q", got)
	}
}
