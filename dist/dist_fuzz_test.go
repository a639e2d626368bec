package dist

// Fuzzing of the parsers of what packages and the index say about
// themselves: project names, PEP 440 versions, file names, core metadata,
// PEP 508 requirements and their markers. All of it comes from outside.
// Beyond not panicking, each target checks the properties the rest of
// pysmoke builds keys, paths and orderings on: normalising is idempotent
// and keeps a valid name valid (and ASCII), versions sort as a total order
// and their canonical form round-trips, a parsed file name says what the
// name says. Run one with
//
//	go test -run '^$' -fuzz '^FuzzCompareVersions$' -fuzztime 20s ./dist/
//
// (scripts/fuzz.sh runs every target).

import (
	"bytes"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// fuzzVersions are realistic versions of every PEP 440 shape, and some
// that are not.
var fuzzVersions = []string{
	"1.0", "1.0.0", "0", "2024.5.29", "1.0.post1.dev2+local", "1!2.0", "1.0-RC1", "v1.0",
	"1.0a", "1.0b2", "1.0c3", "1.0.post", "1.0-1", "1.0.dev0", "1.0+ubuntu-1", "1.0+a.B.3",
	"1.0rc1", "1.0.post1", "1.10", "1.9", " 1.0 ", "1.0.*", "not.a.version", "", "01.002",
	"1.0+a-b", "1.0+a.b", "1.0+1", "1.0+01", "18446744073709551616",
}

var (
	asciiName     = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	canonicalName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)
)

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"Foo.Bar", "foo__bar", "FOO-_.bar", "zope.interface", "a", "-a", "a-",
		"../etc", "a/b", "a b", "é", "Django", "typing_extensions", "ruamel.yaml.clib", "X1", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		n := Normalize(name)
		if Normalize(n) != n {
			t.Errorf("Normalize(%q) = %q, not a fixed point (%q)", name, n, Normalize(n))
		}
		valid := ValidName(name)
		got, err := NormalizeValid(name)
		if (err == nil) != valid {
			t.Fatalf("ValidName(%q) = %v but NormalizeValid err = %v", name, valid, err)
		}
		if !valid {
			return
		}
		if got != n {
			t.Errorf("NormalizeValid(%q) = %q, Normalize %q", name, got, n)
		}
		// A valid name is ASCII (PEP 508), and normalises to a valid name
		// of lower-case letters, digits and single hyphens: the form of
		// keys and paths.
		if !asciiName.MatchString(name) {
			t.Errorf("ValidName(%q) = true for a name not of ASCII letters, digits, '.', '_', '-'", name)
		}
		if !ValidName(n) || !canonicalName.MatchString(n) || strings.Contains(n, "--") {
			t.Errorf("valid name %q normalises to %q", name, n)
		}
	})
}

func FuzzParseVersion(f *testing.F) {
	for _, v := range fuzzVersions {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseVersion(s)
		if err != nil {
			return
		}
		if v.String() != s {
			t.Errorf("ParseVersion(%q).String() = %q", s, v.String())
		}
		c := v.Canonical()
		cv, err := ParseVersion(c)
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", c, s, err)
		}
		if cv.Canonical() != c {
			t.Errorf("canonical form of %q is %q, whose canonical form is %q", s, c, cv.Canonical())
		}
		if v.Compare(cv) != 0 || cv.Compare(v) != 0 || v.Compare(v) != 0 || CompareVersions(s, c) != 0 {
			t.Errorf("%q and its canonical form %q compare %d, %d", s, c, v.Compare(cv), cv.Compare(v))
		}
		if v.IsPrerelease() != cv.IsPrerelease() {
			t.Errorf("%q prerelease %v, canonical %q prerelease %v", s, v.IsPrerelease(), c, cv.IsPrerelease())
		}
		if strings.ContainsAny(c, " \t\n-_") || strings.HasPrefix(c, "v") {
			t.Errorf("canonical form %q of %q has separators or a prefix to normalise", c, s)
		}
	})
}

func FuzzCompareVersions(f *testing.F) {
	for i, a := range fuzzVersions {
		f.Add(a, fuzzVersions[(i+1)%len(fuzzVersions)], fuzzVersions[(i+7)%len(fuzzVersions)])
	}
	f.Fuzz(func(t *testing.T, a, b, c string) {
		ab, ba := CompareVersions(a, b), CompareVersions(b, a)
		if !slices.Contains([]int{-1, 0, 1}, ab) {
			t.Fatalf("CompareVersions(%q, %q) = %d", a, b, ab)
		}
		if ab != -ba {
			t.Errorf("CompareVersions(%q, %q) = %d but (%q, %q) = %d", a, b, ab, b, a, ba)
		}
		for _, x := range []string{a, b, c} {
			if r := CompareVersions(x, x); r != 0 {
				t.Errorf("CompareVersions(%q, itself) = %d", x, r)
			}
		}
		bc, ac := CompareVersions(b, c), CompareVersions(a, c)
		if ab <= 0 && bc <= 0 && ac > 0 {
			t.Errorf("not transitive: %q <= %q <= %q but %q > %q", a, b, c, a, c)
		}
		if ab == 0 && bc == 0 && ac != 0 {
			t.Errorf("equality not transitive: %q == %q == %q but %q vs %q = %d", a, b, c, a, c, ac)
		}
	})
}

func FuzzParseFilename(f *testing.F) {
	for _, s := range []string{
		"foo_bar-1.0.tar.gz", "Foo-Bar-2.1.zip", "x-0.1rc1.tar.bz2", "pkg-1.0.tgz",
		"foo-1.0-py2.py3-none-any.whl", "foo-1.0-1-cp311-cp311-manylinux_2_17_x86_64.whl",
		"numpy-2.0.0-cp312-cp312-macosx_14_0_arm64.whl", "requests-2.32.3.tar.gz",
		"legacy-name-with-hyphens-1.0.post1.dev2+local.tar.gz", "foo.tar.gz", "foo-1.0.exe",
		"../foo-1.0.tar.gz", "foo-1.0-py3.whl", `a\b-1.0.zip`, "-1.0.tar.gz", "a--1.0.tar.gz",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		got, err := ParseFilename(name)
		if err != nil {
			return
		}
		if !ValidName(got.Name) {
			t.Errorf("ParseFilename(%q): name %q not valid", name, got.Name)
		}
		if _, err := ParseVersion(got.Version); err != nil {
			t.Errorf("ParseFilename(%q): version %q: %v", name, got.Version, err)
		}
		if strings.ContainsAny(name, `/\`) {
			t.Errorf("ParseFilename(%q) accepted a path", name)
		}
		switch got.Kind {
		case Wheel:
			if got.Ext != ".whl" || !strings.HasPrefix(name, got.Name+"-"+got.Version+"-") || !strings.HasSuffix(name, ".whl") {
				t.Errorf("ParseFilename(%q) = %+v", name, got)
			}
			if tags, err := WheelTags(name); err != nil || len(tags) == 0 {
				t.Errorf("wheel %q: tags %v, %v", name, tags, err)
			}
		case Sdist:
			if name != got.Name+"-"+got.Version+got.Ext || SdistPreference(got.Ext) >= len(sdistExts) {
				t.Errorf("ParseFilename(%q) = %+v", name, got)
			}
			// The PEP 625 name of the same release reads back as it.
			std := SdistFilename(got.Name, got.Version)
			again, err := ParseFilename(std)
			if err != nil || Normalize(again.Name) != Normalize(got.Name) || CompareVersions(again.Version, got.Version) != 0 || again.Ext != ".tar.gz" {
				t.Errorf("SdistFilename(%q, %q) = %q, which reads as %+v, %v", got.Name, got.Version, std, again, err)
			}
		default:
			t.Errorf("ParseFilename(%q): kind %q", name, got.Kind)
		}
	})
}

// fuzzEnvs are fixed marker environments: every variable PEP 508 names,
// as two real interpreters report them.
var fuzzEnvs = []Environment{
	{
		"python_version": "3.12", "python_full_version": "3.12.1", "os_name": "posix", "sys_platform": "linux",
		"platform_release": "6.1.0-18-amd64", "platform_system": "Linux", "platform_machine": "x86_64",
		"platform_python_implementation": "CPython", "implementation_name": "cpython", "implementation_version": "3.12.1",
		"platform_version": "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)", "extra": "",
	},
	{
		"python_version": "2.7", "python_full_version": "2.7.18", "os_name": "posix", "sys_platform": "linux2",
		"platform_release": "6.1.0-18-amd64", "platform_system": "Linux", "platform_machine": "x86_64",
		"platform_python_implementation": "CPython", "implementation_name": "cpython", "implementation_version": "0",
		"platform_version": "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)", "extra": "test",
	},
}

// checkMarker evaluates m in each fixed environment and checks that its
// text parses back to a marker that evaluates the same, also wrapped in
// parentheses and joined to itself by "and" and "or".
func checkMarker(t *testing.T, m *Marker) {
	t.Helper()
	text := m.String()
	forms := []string{text, "(" + text + ")", "(" + text + ") and (" + text + ")", "(" + text + ") or (" + text + ")"}
	for _, env := range fuzzEnvs {
		want, werr := m.Evaluate(env)
		if werr != nil && strings.Contains(werr.Error(), "not known for this interpreter") {
			t.Errorf("marker %q: %v, though every variable is set", text, werr)
		}
		for _, form := range forms {
			m2, err := ParseMarker(form)
			if err != nil {
				t.Fatalf("marker %q parsed, but %q does not: %v", text, form, err)
			}
			got, err := m2.Evaluate(env)
			if got != want || (err == nil) != (werr == nil) {
				t.Errorf("marker %q = %v, %v but %q = %v, %v", text, want, werr, form, got, err)
			}
		}
	}
}

func FuzzParseMarker(f *testing.F) {
	for _, s := range []string{
		`python_version < "3.8"`, `python_version >= "3.8"`, `python_version > "3.9"`,
		`python_full_version >= "3.12.0" and platform_python_implementation == 'CPython'`,
		`sys_platform == "win32" or (python_version == "2.7" and os_name == "posix")`,
		`"linux" in sys_platform`, `sys_platform not in "win32 cygwin"`, `python_implementation == "CPython"`,
		`extra == "Test_Extras"`, `os.name == "nt"`, `platform_release ~= "6.1"`, `python_version === "3.12"`,
		`implementation_version != "3.12.*"`, `python_version == "3.*"`, `python_version < "abc"`,
		`((python_version<'3'))`, `python_version <`, `bogus == "1"`, `python_version == "3`, `and`, ``,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMarker(s)
		if err != nil {
			return
		}
		if m.String() != strings.TrimSpace(s) {
			t.Errorf("ParseMarker(%q).String() = %q", s, m.String())
		}
		checkMarker(t, m)
	})
}

func FuzzParseRequirement(f *testing.F) {
	for _, s := range []string{
		"requests", `requests[security]>=2.8.1; python_version < "3.8"`,
		"Requests[Security,socks] >=2.8.1, ==2.8.*", "zope.interface (>=4.0)", `mock; python_version < "3.3"`,
		`pip @ https://example.org/pip.zip#sha256=ab ; extra == 'dev'`, `pip@https://x.example/a;b.zip`,
		`pytest>=7,<9 ; extra == "test" and python_version >= "3.8"`, "typing-extensions~=4.12",
		`importlib-metadata>=4.6; python_version < "3.10"`, "numpy===1.26.4", "foo 1.0", "foo ||",
		"pywin32>=306; sys_platform == 'win32' and platform_python_implementation != 'PyPy'",
		"", "-x", "foo[bar", "foo (>=1", "foo >>1", `foo; python_version <`, `foo; bogus == "1"`, "foo[-bar]",
	} {
		f.Add(s, "2.8.1")
	}
	f.Add("foo>=1.0rc1", "1.0rc2")
	f.Add("foo!=1.0.*,<2", "1.0.post1.dev2+local")
	f.Fuzz(func(t *testing.T, s, version string) {
		r, err := ParseRequirement(s)
		if err != nil {
			return
		}
		if !ValidName(r.Name) || Normalize(r.Name) != r.Name {
			t.Errorf("ParseRequirement(%q): name %q", s, r.Name)
		}
		for _, e := range r.Extras {
			if !ValidName(e) || Normalize(e) != e {
				t.Errorf("ParseRequirement(%q): extra %q", s, e)
			}
		}
		if r.URL != "" && r.Specifier != "" {
			t.Errorf("ParseRequirement(%q): both URL %q and specifier %q", s, r.URL, r.Specifier)
		}
		if r.Marker != nil {
			checkMarker(t, r.Marker)
		}
		// A version that parses is always judged: the specifier was
		// checked when the requirement was read. Letting pre-releases in
		// only ever widens what is allowed.
		for _, v := range []string{"1.0", version} {
			strict, err1 := r.Allows(v, false)
			loose, err2 := r.Allows(v, true)
			_, verr := ParseVersion(v)
			if (err1 == nil) != (verr == nil) || (err2 == nil) != (verr == nil) {
				t.Errorf("%q Allows(%q) errors %v, %v (version error %v)", s, v, err1, err2, verr)
			}
			if strict && !loose {
				t.Errorf("%q allows %q without pre-releases but not with them", s, v)
			}
		}
	})
}

func FuzzParseMetadata(f *testing.F) {
	for _, s := range []string{
		// PKG-INFO of an sdist (setuptools).
		"Metadata-Version: 2.1\nName: requests\nVersion: 2.32.3\nSummary: Python HTTP for Humans.\n" +
			"Home-page: https://requests.readthedocs.io\nAuthor: Kenneth Reitz\nLicense: Apache-2.0\n" +
			"Requires-Python: >=3.8\nDescription-Content-Type: text/markdown\nLicense-File: LICENSE\n" +
			"Requires-Dist: charset_normalizer<4,>=2\nRequires-Dist: idna<4,>=2.5\nRequires-Dist: urllib3<3,>=1.21.1\n" +
			"Requires-Dist: certifi>=2017.4.17\nProvides-Extra: security\nProvides-Extra: socks\n" +
			"Requires-Dist: PySocks!=1.5.7,>=1.5.6; extra == \"socks\"\nProvides-Extra: use_chardet_on_py3\n" +
			"Requires-Dist: chardet<6,>=3.0.2; extra == \"use-chardet-on-py3\"\n\n# Requests\n\nName: not a header\n",
		// METADATA of a wheel (hatchling), with a folded header.
		"Metadata-Version: 2.3\r\nName: Foo.Bar\r\nVersion: 1.0.post1.dev2+local\r\nClassifier: Programming Language :: Python\r\n" +
			"Requires-Dist: requests[security]>=2.8.1; python_version < \"3.8\"\r\nRequires-Dist: pytest ; extra == 'test'\r\n" +
			"Provides-Extra: Test\r\nDescription: a long\r\n        folded description\r\n\r\n",
		// Metadata-Version 1.0, as distutils wrote it.
		"Metadata-Version: 1.0\nName: pkg\nVersion: 1.0\nSummary: UNKNOWN\nDescription: UNKNOWN\nPlatform: UNKNOWN\n",
		"Summary: nothing\n\n", "Name: x\n", "Name: x\nVersion: 1\nRequires-Dist: \nProvides-Extra:   \n",
		" leading continuation\nName: x\n", "Name x\nVersion: 1\n", "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMetadata(bytes.NewReader(b))
		if err != nil {
			return
		}
		if m.Name == "" || m.Version == "" || m.Name != strings.TrimSpace(m.Name) || m.Version != strings.TrimSpace(m.Version) {
			t.Errorf("metadata name %q version %q", m.Name, m.Version)
		}
		if m.RequiresPython != strings.TrimSpace(m.RequiresPython) {
			t.Errorf("Requires-Python %q not trimmed", m.RequiresPython)
		}
		for _, r := range m.RequiresDist {
			if r == "" || r != strings.TrimSpace(r) {
				t.Errorf("Requires-Dist %q", r)
			}
			// What the runner does next with each.
			if req, err := ParseRequirement(r); err == nil && req.Marker != nil {
				checkMarker(t, req.Marker)
			}
		}
		for _, e := range m.ProvidesExtra {
			if e == "" || Normalize(e) != e {
				t.Errorf("Provides-Extra %q not normalised", e)
			}
		}
		again, err := ParseMetadata(bytes.NewReader(b))
		if err != nil || again.Name != m.Name || again.Version != m.Version || !slices.Equal(again.RequiresDist, m.RequiresDist) {
			t.Errorf("a second read gave %+v, %v; the first %+v", again, err, m)
		}
	})
}
