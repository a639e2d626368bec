package runner

// The external tests (package runner_test) require the backends through
// the internal tests' helpers, so that whether a backend can run here,
// and what CI makes of it when it cannot, is decided in one place.
var (
	RequireNamespace = requireNamespace
	RequireDocker    = requireDocker
)
