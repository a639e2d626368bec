package toolchain

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

const distPackages = "usr/lib/python3/dist-packages/"

// debFiles reads the files a .deb installs under dist-packages, by path
// relative to it, skipping byte code. dpkg-deb (Debian's own tool) unpacks
// the data member; the Go side reads its tar stream.
func debFiles(ctx context.Context, deb string) (map[string][]byte, error) {
	cmd := exec.CommandContext(ctx, "dpkg-deb", "--fsys-tarfile", deb)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("dpkg-deb --fsys-tarfile %s: %w: %s", deb, err, stderr.String())
	}
	files := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(out))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", deb, err)
		}
		name := strings.TrimPrefix(path.Clean(h.Name), "./")
		rel, ok := strings.CutPrefix(name, distPackages)
		if !ok || h.Typeflag != tar.TypeReg || strings.Contains(rel, "__pycache__/") || strings.HasSuffix(rel, ".pyc") {
			continue
		}
		if strings.Contains(rel, "..") {
			return nil, fmt.Errorf("%s: odd member %q", deb, h.Name)
		}
		b, err := io.ReadAll(io.LimitReader(tr, 64<<20))
		if err != nil {
			return nil, err
		}
		files[rel] = b
	}
	return files, nil
}

// patches undo Debian changes that break on a Python that is not
// Debian's. Debian's install_layout patch makes setuptools' install_lib
// and install_egg_info copy an install_layout option from the install
// command, which only Debian's patched distutils has: on any other Python
// "setup.py bdist" fails with AttributeError: install_layout. Without the
// copy the option stays None and the code is upstream's.
var patches = map[string][]struct{ file, old, new string }{
	"python3-setuptools": {
		{"setuptools/command/install_lib.py", "self.set_undefined_options('install',('install_layout','install_layout'))", "pass  # pysmoke: Debian's install_layout patch undone"},
		{"setuptools/command/install_egg_info.py", debianEggInfo, upstreamEggInfo},
	},
}

// Debian's install_egg_info also drops the "-pyX.Y" of the egg-info name
// outside a virtualenv; upstream keeps it.
const debianEggInfo = `        self.set_undefined_options('install',('install_layout','install_layout'))
        if sys.hexversion > 0x2060000:
            self.set_undefined_options('install',('prefix_option','prefix_option'))
        ei_cmd = self.get_finalized_command("egg_info")
        basename = f"{ei_cmd._get_egg_basename()}.egg-info"

        if self.install_layout:
            if not self.install_layout.lower() in ['deb']:
                raise DistutilsOptionError("unknown value for --install-layout")
            self.install_layout = self.install_layout.lower()
            basename = basename.replace('-py%s' % sys.version[:4], '')
        elif self.prefix_option or 'real_prefix' in sys.__dict__:
            # don't modify for virtualenv
            pass
        else:
            basename = basename.replace('-py%s' % sys.version[:4], '')
`

const upstreamEggInfo = `        # pysmoke: Debian's install_layout patch undone
        ei_cmd = self.get_finalized_command("egg_info")
        basename = f"{ei_cmd._get_egg_basename()}.egg-info"
`

var metaVersion = regexp.MustCompile(`(?m)^Metadata-Version: *(\S+)\s*$`)

// repack makes a wheel of a Debian package's dist-packages files (plus
// those of extra, merged in) and writes it into dir. It returns the file
// name.
func repack(pkg, only string, files map[string][]byte, extra map[string][]byte, tag, dir string) (string, error) {
	if only != "" {
		// One distribution of several: its top-level package and its
		// metadata folder.
		for f := range files {
			top, _, _ := strings.Cut(f, "/")
			if top != only && !strings.HasPrefix(top, only+"-") {
				delete(files, f)
			}
		}
	}
	for k, v := range extra {
		if _, dup := files[k]; dup {
			return "", fmt.Errorf("%s: %s is in both merged packages", pkg, k)
		}
		files[k] = v
	}
	for _, p := range patches[pkg] {
		b, ok := files[p.file]
		if !ok || !bytes.Contains(b, []byte(p.old)) {
			return "", fmt.Errorf("%s: patch of %s does not apply", pkg, p.file)
		}
		files[p.file] = bytes.ReplaceAll(b, []byte(p.old), []byte(p.new))
	}
	// The one metadata folder names the distribution.
	var metaDir string
	for f := range files {
		top, _, _ := strings.Cut(f, "/")
		if strings.HasSuffix(top, ".dist-info") || strings.HasSuffix(top, ".egg-info") {
			if metaDir != "" && metaDir != top {
				return "", fmt.Errorf("%s holds two distributions (%s, %s)", pkg, metaDir, top)
			}
			metaDir = top
		}
	}
	if metaDir == "" {
		return "", fmt.Errorf("%s has no .dist-info or .egg-info", pkg)
	}
	meta := files[metaDir+"/METADATA"]
	if meta == nil {
		meta = files[metaDir+"/PKG-INFO"]
	}
	if meta == nil {
		return "", fmt.Errorf("%s: no METADATA or PKG-INFO in %s", pkg, metaDir)
	}
	name, version := header(meta, "Name"), header(meta, "Version")
	if name == "" || version == "" {
		return "", fmt.Errorf("%s: metadata without a name or version", pkg)
	}
	// Older pips read Metadata-Version 2.1 at most; the fields are the same
	// for what pip uses (name, version, Requires-Python).
	if m := metaVersion.FindSubmatch(meta); m != nil {
		switch string(m[1]) {
		case "1.0", "1.1", "1.2", "2.0", "2.1":
		default:
			meta = metaVersion.ReplaceAll(meta, []byte("Metadata-Version: 2.1"))
		}
	}
	dist := regexp.MustCompile(`[-_.]+`).ReplaceAllString(name, "_")
	ver := strings.ReplaceAll(version, "-", "_")
	info := dist + "-" + ver + ".dist-info"
	out := map[string][]byte{}
	for f, b := range files {
		top, rest, _ := strings.Cut(f, "/")
		if top != metaDir {
			out[f] = b
			continue
		}
		switch rest {
		case "entry_points.txt", "top_level.txt", "LICENSE", "LICENSE.txt", "AUTHORS":
			out[info+"/"+rest] = b
		}
		if strings.HasPrefix(rest, "licenses/") {
			out[info+"/"+rest] = b
		}
	}
	out[info+"/METADATA"] = withRequires(meta, unvendored[pkg])
	out[info+"/WHEEL"] = []byte("Wheel-Version: 1.0\nGenerator: pysmoke toolchain (repacked from " + pkg + ")\nRoot-Is-Purelib: true\nTag: " + strings.Join(expandTag(tag), "\nTag: ") + "\n")
	file := dist + "-" + ver + "-" + tag + ".whl"
	return file, writeWheel(filepath.Join(dir, file), info, out)
}

// withRequires adds a Requires-Dist header for each of reqs to metadata,
// at the end of its headers.
func withRequires(meta []byte, reqs []string) []byte {
	if len(reqs) == 0 {
		return meta
	}
	var add bytes.Buffer
	for _, r := range reqs {
		add.WriteString("Requires-Dist: " + r + "\n")
	}
	head, body, found := bytes.Cut(meta, []byte("\n\n"))
	if !found {
		return append(append(bytes.TrimRight(meta, "\n"), '\n'), add.Bytes()...)
	}
	out := append(append(append([]byte(nil), head...), '\n'), add.Bytes()...)
	return append(append(out, '\n'), body...)
}

func expandTag(tag string) []string {
	pys, rest, _ := strings.Cut(tag, "-")
	var out []string
	for _, py := range strings.Split(pys, ".") {
		out = append(out, py+"-"+rest)
	}
	return out
}

func header(meta []byte, key string) string {
	for _, line := range strings.Split(string(meta), "\n") {
		if line == "" {
			break // the body
		}
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// zipTime is the time of every member: the earliest a zip can say, so the
// wheel's bytes depend on its contents only.
var zipTime = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// writeWheel writes files, sorted, with a RECORD, reproducibly.
func writeWheel(dst, info string, files map[string][]byte) error {
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var record strings.Builder
	for _, n := range names {
		sum := sha256.Sum256(files[n])
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", n, base64.RawURLEncoding.EncodeToString(sum[:]), len(files[n]))
	}
	recordName := info + "/RECORD"
	fmt.Fprintf(&record, "%s,,\n", recordName)
	files[recordName] = []byte(record.String())
	names = append(names, recordName)

	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	zw := zip.NewWriter(f)
	for _, n := range names {
		h := &zip.FileHeader{Name: n, Method: zip.Deflate, Modified: zipTime}
		h.SetMode(0o644)
		w, err := zw.CreateHeader(h)
		if err != nil {
			f.Close()
			return err
		}
		if _, err := w.Write(files[n]); err != nil {
			f.Close()
			return err
		}
	}
	if err := zw.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
