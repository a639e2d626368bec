package dist

import (
	"reflect"
	"testing"
)

func TestParseRequirement(t *testing.T) {
	cases := []struct {
		in   string
		want Requirement
		mark string
	}{
		{"requests", Requirement{Name: "requests"}, ""},
		{"Requests[Security,socks] >=2.8.1, ==2.8.*", Requirement{Name: "requests", Extras: []string{"security", "socks"}, Specifier: ">=2.8.1, ==2.8.*"}, ""},
		{"zope.interface (>=4.0)", Requirement{Name: "zope-interface", Specifier: ">=4.0"}, ""},
		{`mock; python_version < "3.3"`, Requirement{Name: "mock"}, `python_version < "3.3"`},
		{`pip @ https://example.org/pip.zip#sha256=ab ; extra == 'dev'`, Requirement{Name: "pip", URL: "https://example.org/pip.zip#sha256=ab"}, `extra == 'dev'`},
	}
	for _, c := range cases {
		got, err := ParseRequirement(c.in)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		mark := ""
		if got.Marker != nil {
			mark = got.Marker.String()
		}
		got.Marker = nil
		if !reflect.DeepEqual(got, c.want) || mark != c.mark {
			t.Errorf("%q = %+v marker %q; want %+v marker %q", c.in, got, mark, c.want, c.mark)
		}
	}
	for _, bad := range []string{"", "-x", "foo[bar", "foo (>=1", "foo >>1", `foo; python_version <`, `foo; bogus == "1"`, `foo; python_version == "3`} {
		if _, err := ParseRequirement(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestMarkers(t *testing.T) {
	py27 := Environment{"python_version": "2.7", "python_full_version": "2.7.18", "sys_platform": "linux2",
		"platform_python_implementation": "CPython", "implementation_name": "cpython", "os_name": "posix"}
	py312 := Environment{"python_version": "3.12", "python_full_version": "3.12.1", "sys_platform": "linux",
		"platform_python_implementation": "CPython", "implementation_name": "cpython", "os_name": "posix"}
	cases := []struct {
		marker      string
		on27, on312 bool
		extraOnly   bool
	}{
		{`python_version < "3.3"`, true, false, false},
		{`python_version >= "3.8"`, false, true, false},
		// Versions compare as versions: "3.12" > "3.9".
		{`python_version > "3.9"`, false, true, false},
		{`python_full_version >= "3.12.0" and platform_python_implementation == 'CPython'`, false, true, false},
		{`sys_platform == "win32" or (python_version == "2.7" and os_name == "posix")`, true, false, false},
		{`"linux" in sys_platform`, true, true, false},
		{`sys_platform not in "win32 cygwin"`, true, true, false},
		{`python_implementation == "CPython"`, true, true, false},
		{`extra == "Test_Extras"`, false, false, true},
	}
	for _, c := range cases {
		m, err := ParseMarker(c.marker)
		if err != nil {
			t.Errorf("%q: %v", c.marker, err)
			continue
		}
		for _, e := range []struct {
			env  Environment
			want bool
		}{{py27, c.on27}, {py312, c.on312}} {
			got, err := m.Evaluate(e.env)
			if err != nil || got != e.want {
				t.Errorf("%q on %s = %v, %v; want %v", c.marker, e.env["python_version"], got, err, e.want)
			}
		}
		if c.extraOnly {
			env := Environment{"extra": "test-extras"}
			if got, err := m.Evaluate(env); err != nil || !got {
				t.Errorf("%q with the extra = %v, %v", c.marker, got, err)
			}
		}
	}
	m, _ := ParseMarker(`platform_machine == "x86_64"`)
	if _, err := m.Evaluate(py27); err == nil {
		t.Error("a variable missing from the environment evaluated without error")
	}
}

func TestAllowsAndRequiresPython(t *testing.T) {
	r, _ := ParseRequirement("foo>=1.0,<2")
	for v, want := range map[string]bool{"1.0": true, "1.9.9": true, "2.0": false, "0.9": false, "1.5rc1": false} {
		if got, err := r.Allows(v, false); err != nil || got != want {
			t.Errorf("Allows(%s) = %v, %v; want %v", v, got, err, want)
		}
	}
	for _, c := range []struct {
		spec, py string
		want     bool
	}{
		{">=3.8", "3.7.16", false}, {">=3.8", "3.8.18", true}, {">=3.8", "3.13.0", true},
		{">=2.7, !=3.0.*, !=3.1.*", "3.1.5", false}, {">=2.7, !=3.0.*, !=3.1.*", "2.7.18", true},
		{"", "2.7.18", true}, {"<3", "3.6.15", false},
	} {
		got, err := PythonSatisfies(c.spec, c.py)
		if err != nil || got != c.want {
			t.Errorf("PythonSatisfies(%q, %s) = %v, %v; want %v", c.spec, c.py, got, err, c.want)
		}
	}
	if _, err := PythonSatisfies(">=banana", "3.8.0"); err == nil {
		t.Error("bad Requires-Python accepted")
	}
}
