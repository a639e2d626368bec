package outcome

// Claims are what a release says of the Pythons it supports, read from
// its sdist's PKG-INFO before anything of it runs: the project's claims,
// shown beside what it does (pyreadiness-style).
type Claims struct {
	// RequiresPython is its Requires-Python ("" when none).
	RequiresPython string `json:"requires_python,omitempty"`
	// Classifiers are the minor versions its
	// "Programming Language :: Python :: X.Y" classifiers name, in the
	// order written.
	Classifiers []string `json:"classifiers,omitempty"`
}

// Empty reports whether the release claims nothing.
func (c Claims) Empty() bool { return c.RequiresPython == "" && len(c.Classifiers) == 0 }
