package outcome

// Artifact is one file a step produced, as the runner collected it.
type Artifact struct {
	Path   string // relative to the step's output folder
	Size   int64
	SHA256 string
	// Members lists every member of an archive (sdist, bdist, wheel), the
	// manifest that two builds are compared by: an archive's own bytes
	// carry timestamps, its members' contents should not differ.
	Members []Member
	// MembersError says why an archive's members could not be listed.
	MembersError string
}

// Member is one member of an archive a step produced.
type Member struct {
	Path   string
	Size   int64
	Mode   string // type and permissions, "-rw-r--r--"
	SHA256 string // of regular files
	Link   string // a link's target
}
