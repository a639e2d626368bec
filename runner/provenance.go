package runner

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"sync"

	"github.com/pysmoke/pysmoke/interpreter"
	"github.com/pysmoke/pysmoke/sandbox"
)

// Provenance is everything besides the release that a cell's outcome
// depends on. When any of it changes (a rebuilt interpreter, a new
// toolchain, another backend or image, other limits), the cell is stale
// and is run again.
type Provenance struct {
	Interpreter string `json:"interpreter"` // path
	Version     string `json:"version"`
	// TreeHash is a hash of the interpreter's installation tree: every
	// file's path, size, mode and modification time under its prefix (a
	// rebuild or an installed package changes it; reading every byte of
	// nine installations at each start would not be worth it).
	TreeHash string `json:"tree_hash"`
	// Toolchain is the offline wheelhouse's key; Wheels the sha256 of each
	// wheel this interpreter's jobs install.
	Toolchain string            `json:"toolchain,omitempty"`
	Wheels    map[string]string `json:"wheels,omitempty"`
	Backend   string            `json:"backend"`
	Image     string            `json:"image,omitempty"`
	Limits    sandbox.Limits    `json:"limits"`
}

// Digest is a short stable hash of the provenance, to compare with.
func (p Provenance) Digest() string {
	b, _ := json.Marshal(p) // map keys are sorted
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// treeHashes caches each prefix's tree hash for the life of the process.
var treeHashes sync.Map // prefix -> string

// Provenance returns the provenance of the cells this runner makes on in.
func (r *Runner) Provenance(in interpreter.Interpreter) Provenance {
	p := Provenance{Interpreter: in.Path, Version: in.Version, TreeHash: treeHash(in.Prefix),
		Backend: r.opts.Backend.Name(), Limits: r.opts.Limits}
	// A backend that runs jobs in an image names it: another image is
	// another root for every step.
	if im, ok := r.opts.Backend.(interface{ ImageName() string }); ok {
		p.Image = im.ImageName()
	}
	if r.opts.Toolchain != nil {
		p.Toolchain = r.opts.Toolchain.Key
		if set, err := r.opts.Toolchain.For(in.Minor); err == nil {
			p.Wheels = r.opts.Toolchain.Hashes(set)
		}
	}
	return p
}

func treeHash(prefix string) string {
	if v, ok := treeHashes.Load(prefix); ok {
		return v.(string)
	}
	type entry struct {
		path string
		line string
	}
	var entries []entry
	err := filepath.WalkDir(prefix, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "__pycache__" {
			return fs.SkipDir // byte code is written as the interpreter runs
		}
		rel, _ := filepath.Rel(prefix, p)
		entries = append(entries, entry{rel, fmt.Sprintf("%s\x00%d\x00%o\x00%d\n", rel, fi.Size(), fi.Mode(), fi.ModTime().UnixNano())})
		return nil
	})
	if err != nil {
		return "unreadable: " + err.Error()
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].path < entries[j].path })
	h := sha256.New()
	for _, e := range entries {
		h.Write([]byte(e.line))
	}
	sum := hex.EncodeToString(h.Sum(nil))
	treeHashes.Store(prefix, sum)
	return sum
}
