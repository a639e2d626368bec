package toolchain

// recipe says where one group of interpreters gets its toolchain. Roots are
// Debian packages; their Python dependencies (Debian's Depends) come along.
type recipe struct {
	Minors []string `json:"minors"`
	// EnsurepipSetuptools: setuptools is the interpreter's own ensurepip
	// wheel; otherwise it is one of Build's Debian roots.
	EnsurepipSetuptools bool      `json:"ensurepip_setuptools"`
	Build               []debRoot `json:"build"`
	Test                []debRoot `json:"test"`
	// Frontend517 is the PEP 517 front end that builds sdists of projects
	// without a setup.py ("python -m build --sdist"); Backends the build
	// backends a pyproject.toml may require, by requirement name.
	Frontend517 []debRoot          `json:"frontend517,omitempty"`
	Backends    map[string]debRoot `json:"backends,omitempty"`
	// Plugins are pytest plugins a package may require for its tests. They
	// are not installed by default: dependency resolution offers them as
	// candidates, so a package that asks for one gets it, and a package
	// that does not is tested without it (a plugin changes how pytest runs).
	Plugins  []debRoot `json:"plugins,omitempty"`
	Runner   string    `json:"runner"`
	Frontend string    `json:"frontend"`
}

// debRoot is a Debian binary package to repack, with the wheel tag it gets.
type debRoot struct {
	Suite   string `json:"suite"`
	Package string `json:"package"`
	// Version pins the Debian version of the root ("" takes the suite's).
	Version string `json:"version,omitempty"`
	// Dist takes only this distribution of a package that ships several
	// (flit_core in Debian's flit), without the package's dependencies.
	Dist string `json:"dist,omitempty"`
}

// suites are the Debian releases used, by codename.
var suites = map[string]string{"bullseye": "11", "bookworm": "12", "trixie": "13"}

// recipes: why each choice.
//   - 2.7 and 3.6: their own setuptools (41.2, 40.6); Debian 11's wheel
//     0.34.2, the last that supports both (Debian 12's is a syntax error
//     there). Their pip (19.2, 18.1) has no usable PEP 517 front end, so the
//     wheel is "setup.py bdist_wheel"; tests run under unittest (no pytest
//     from these registries runs there).
//   - 3.7 to 3.11: their own setuptools (47.1 to 65.5); Debian 12's wheel
//     0.38.4 and pytest 7.2.1 (both support 3.7); pip is the front end.
//   - 3.12 and 3.13 ship no setuptools, and 3.11's fails there
//     (pkgutil.ImpImporter): Debian 13's setuptools 78.1.1 with its
//     install_layout patch undone, wheel 0.46.1, pytest 8.3.5.
//   - pytest-mock (Debian 12's 3.8.2, 13's 3.14.0) is the one pytest
//     plugin offered where pytest runs: the fixture most test suites that
//     need a plugin ask for, with no dependency but pytest.
//   - Build backends are candidates, not givens: a project's
//     build-system.requires is resolved over them (and the index), its
//     version ranges checked. 2.7 and 3.6 get Debian 11's setuptools-scm
//     5.0.1, the last line that runs on Python 2 (6.0 dropped it); 3.7 to
//     3.11 get Debian 12's backends and also Debian 13's flit_core 3.12 and
//     pdm-backend 2.4, so that "flit_core >=3.11" (PEP 639 license
//     strings) and pdm-backend resolve where their Requires-Python admits
//     the interpreter.
var recipes = []recipe{
	{
		Minors: []string{"2.7", "3.6"}, EnsurepipSetuptools: true,
		Build:    []debRoot{{Suite: "bullseye", Package: "python3-wheel", Version: "0.34.2-1"}},
		Backends: map[string]debRoot{"setuptools-scm": {Suite: "bullseye", Package: "python3-setuptools-scm"}},
		Runner:   RunnerUnittest, Frontend: FrontendSetupPy,
	},
	{
		Minors: []string{"3.7", "3.8", "3.9", "3.10", "3.11"}, EnsurepipSetuptools: true,
		Build:       []debRoot{{Suite: "bookworm", Package: "python3-wheel"}},
		Test:        []debRoot{{Suite: "bookworm", Package: "python3-pytest"}},
		Frontend517: []debRoot{{Suite: "bookworm", Package: "python3-build"}},
		Backends: with(backends("bookworm"), map[string]debRoot{
			"flit-core (Debian 13)":   {Suite: "trixie", Package: "flit", Dist: "flit_core"},
			"pdm-backend (Debian 13)": {Suite: "trixie", Package: "python3-pdm-backend"},
		}),
		Plugins: []debRoot{{Suite: "bookworm", Package: "python3-pytest-mock"}},
		Runner:  RunnerPytest, Frontend: FrontendPip,
	},
	{
		Minors:      []string{"3.12", "3.13"},
		Build:       []debRoot{{Suite: "trixie", Package: "python3-setuptools"}, {Suite: "trixie", Package: "python3-wheel"}},
		Test:        []debRoot{{Suite: "trixie", Package: "python3-pytest"}},
		Frontend517: []debRoot{{Suite: "trixie", Package: "python3-build"}},
		Backends:    backends("trixie"),
		Plugins:     []debRoot{{Suite: "trixie", Package: "python3-pytest-mock"}},
		Runner:      RunnerPytest, Frontend: FrontendPip,
	},
}

// universal are the repacked wheels that also run on Python 2 (tagged
// py2.py3); every other repacked wheel is py3.
var universal = map[string]bool{"bullseye/python3-wheel": true, "bullseye/python3-setuptools-scm": true}

// unvendored are requirements a Debian package has that its upstream
// metadata does not say, by package: Debian takes out the libraries
// upstream vendors (pdm-backend's "+ds" packages import them from
// dist-packages), and names them in Depends only. Without them in the
// repacked wheel's METADATA, resolving the backend would leave them out,
// and a project's build would fail on an import of the toolchain's.
var unvendored = map[string][]string{
	// flit_core falls back to an installed tomli when its vendored one is
	// gone, as Debian's is.
	"flit": {`tomli; python_version < "3.11"`},
	"python3-pdm-backend": {
		"boolean.py", "Cerberus", "editables", "license-expression", "packaging",
		"pyproject-metadata>=0.9", "pyparsing", "tomli-w", "validate-pyproject",
		`tomli; python_version < "3.11"`,
	},
}

// notPython are Depends that are not wheels: the interpreter itself, and
// Debian's splits of the standard library.
var notPython = map[string]bool{
	"python3": true, "python3:any": true, "python3-supported-min": true,
	"python3-distutils": true, "python3-lib2to3": true,
	// Part of setuptools' own wheel (see mergeInto).
	"python3-pkg-resources": true,
}

// mergeInto: Debian splits pkg_resources out of setuptools; the wheel of
// setuptools holds it again, as upstream's does.
var mergeInto = map[string]string{"python3-setuptools": "python3-pkg-resources"}

// backends are the build backends common on PyPI that a suite has, by
// the (normalised) name a pyproject.toml's build-system.requires gives
// them (Debian 12 has no pdm-backend).
func backends(suite string) map[string]debRoot {
	b := map[string]debRoot{
		"flit-core":      {Suite: suite, Package: "flit", Dist: "flit_core"},
		"hatchling":      {Suite: suite, Package: "python3-hatchling"},
		"hatch-vcs":      {Suite: suite, Package: "python3-hatch-vcs"},
		"poetry-core":    {Suite: suite, Package: "python3-poetry-core"},
		"setuptools-scm": {Suite: suite, Package: "python3-setuptools-scm"},
	}
	if suite != "bookworm" {
		b["pdm-backend"] = debRoot{Suite: suite, Package: "python3-pdm-backend"}
	}
	return b
}

// with returns a's entries and b's.
func with(a, b map[string]debRoot) map[string]debRoot {
	out := map[string]debRoot{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}
