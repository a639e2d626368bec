package dist

import (
	"strings"
	"testing"
)

func TestWheelTagsAndRank(t *testing.T) {
	tags, err := WheelTags("six-1.16.0-py2.py3-none-any.whl")
	if err != nil || len(tags) != 2 || tags[1].String() != "py3-none-any" {
		t.Fatalf("tags %v %v", tags, err)
	}
	py312 := CPythonTags(3, 12, 36, false)
	py27 := CPythonTags(2, 7, 36, false)
	py36 := CPythonTags(3, 6, 36, false)
	cases := []struct {
		wheel             string
		on27, on36, on312 bool
	}{
		{"six-1.16.0-py2.py3-none-any.whl", true, true, true},
		{"x-1.0-py3-none-any.whl", false, true, true},
		{"x-1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", false, false, true},
		{"x-1.0-cp36-cp36m-manylinux1_x86_64.whl", false, true, false},
		{"x-1.0-cp27-cp27mu-manylinux2010_x86_64.whl", true, false, false},
		{"x-1.0-cp38-abi3-manylinux_2_28_x86_64.whl", false, false, true},
		{"x-1.0-cp312-cp312-musllinux_1_1_x86_64.whl", false, false, false},
		{"x-1.0-cp312-cp312-manylinux_2_39_x86_64.whl", false, false, false}, // newer glibc than Debian 12's
		{"x-1.0-cp312-cp312-win_amd64.whl", false, false, false},
	}
	for _, c := range cases {
		wt, err := WheelTags(c.wheel)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range []struct {
			name string
			sup  []Tag
			want bool
		}{{"2.7", py27, c.on27}, {"3.6", py36, c.on36}, {"3.12", py312, c.on312}} {
			if got := TagRank(wt, e.sup) >= 0; got != e.want {
				t.Errorf("%s on %s: fits=%v, want %v", c.wheel, e.name, got, e.want)
			}
		}
	}
	// A platform wheel is preferred over a pure one.
	plat, _ := WheelTags("x-1.0-cp312-cp312-manylinux_2_17_x86_64.whl")
	pure, _ := WheelTags("x-1.0-py3-none-any.whl")
	if !(TagRank(plat, py312) < TagRank(pure, py312)) {
		t.Error("pure wheel ranked above the platform wheel")
	}
}

func TestParseMetadata(t *testing.T) {
	in := "Metadata-Version: 2.1\nName: Foo\nVersion: 1.0\nRequires-Python: >=3.8\n" +
		"Requires-Dist: requests (>=2)\nRequires-Dist: pytest ; extra == 'test'\nProvides-Extra: Test\n\nLong description\nName: not a header\n"
	m, err := ParseMetadata(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "Foo" || m.Version != "1.0" || m.RequiresPython != ">=3.8" || len(m.RequiresDist) != 2 ||
		m.RequiresDist[1] != "pytest ; extra == 'test'" || m.ProvidesExtra[0] != "test" {
		t.Errorf("metadata %+v", m)
	}
	if _, err := ParseMetadata(strings.NewReader("Summary: nothing\n\n")); err == nil {
		t.Error("metadata without a name accepted")
	}
}
