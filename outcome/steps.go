package outcome

// Step names, in the order a job runs them. They name a step in the store,
// the public JSON, the allowlist's per-step timeouts (timeout.STEP) and the
// expected outcomes of the samples.
const (
	StepUnpack = "unpack" // the sdist unpacked safely, on the host
	StepSdist  = "sdist"  // setup.py sdist, or a PEP 517 sdist build
	StepBdist  = "bdist"  // setup.py bdist
	StepWheel  = "wheel"  // a wheel build
	StepImport = "import" // the built wheel's top-level modules imported in a fresh environment
	StepTests  = "tests"  // the package's tests against its installed wheel
	Step2to3   = "2to3"   // lib2to3 over the source, byte-compiled on Python 3
)

// Steps lists the step names in the order a job runs them.
var Steps = []string{StepUnpack, StepSdist, StepBdist, StepWheel, StepImport, StepTests, Step2to3}

// IsStep reports whether name is one of Steps.
func IsStep(name string) bool {
	for _, s := range Steps {
		if s == name {
			return true
		}
	}
	return false
}
