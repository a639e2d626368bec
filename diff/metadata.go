package diff

import (
	"bufio"
	"bytes"
	"slices"
	"strings"
)

// metadataKind says how a member is compared field by field: "headers"
// (PKG-INFO, METADATA, WHEEL), "entry-points", "lines" (top_level.txt), or
// "" when it is no metadata file.
func metadataKind(p string) string {
	base := p[strings.LastIndex(p, "/")+1:]
	dir := strings.TrimSuffix(p, "/"+base)
	meta := strings.HasSuffix(dir, ".dist-info") || strings.HasSuffix(dir, ".egg-info") || dir == "EGG-INFO"
	switch {
	case base == "PKG-INFO" && (meta || !strings.Contains(dir, "/")):
		return "headers" // an sdist's own PKG-INFO sits in its top folder
	case meta && (base == "METADATA" || base == "WHEEL"):
		return "headers"
	case meta && base == "entry_points.txt":
		return "entry-points"
	case meta && base == "top_level.txt":
		return "lines"
	}
	return ""
}

// field is one header of a metadata file.
type field struct{ name, value string }

// headerFields reads an email-style metadata file: "Name: value" headers,
// continuation lines (starting with white space) folded in, then the body
// (the long description) as the field "Description".
func headerFields(b []byte) []field {
	var out []field
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), len(b)+1)
	var body strings.Builder
	inBody := false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case inBody:
			body.WriteString(line + "\n")
		case line == "":
			inBody = true
		case (strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t")) && len(out) > 0:
			out[len(out)-1].value += "\n" + strings.TrimSpace(line)
		default:
			name, value, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			out = append(out, field{strings.TrimSpace(name), strings.TrimSpace(value)})
		}
	}
	if s := strings.TrimSpace(body.String()); s != "" {
		out = append(out, field{"Description", s})
	}
	return out
}

// entryPointFields reads entry_points.txt: "[group] name" -> value.
func entryPointFields(b []byte) []field {
	var out []field
	group := ""
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			group = strings.TrimSpace(line[1 : len(line)-1])
		default:
			name, value, _ := strings.Cut(line, "=")
			out = append(out, field{"[" + group + "] " + strings.TrimSpace(name), strings.TrimSpace(value)})
		}
	}
	return out
}

// lineFields reads a list of names (top_level.txt) as one field.
func lineFields(b []byte) []field {
	var out []field
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, field{"names", line})
		}
	}
	return out
}

// compareMetadata compares a metadata file of both sides field by field:
// each field's values, in order; a field on one side only has no values
// on the other.
func compareMetadata(p string, a, b []byte, n *normaliser) []Field {
	parse := headerFields
	switch metadataKind(p) {
	case "entry-points":
		parse = entryPointFields
	case "lines":
		parse = lineFields
	}
	group := func(fs []field, forA bool) (map[string][]string, []string) {
		by := map[string][]string{}
		var order []string
		for _, f := range fs {
			v := f.value
			if f.name == "Tag" {
				v = n.value(forA, v) // cp311-cp311-linux_x86_64 names the Python
			}
			if _, ok := by[f.name]; !ok {
				order = append(order, f.name)
			}
			by[f.name] = append(by[f.name], v)
		}
		return by, order
	}
	fa, order := group(parse(a), true)
	fb, orderB := group(parse(b), false)
	for _, name := range orderB {
		if _, ok := fa[name]; !ok {
			order = append(order, name)
		}
	}
	var out []Field
	for _, name := range order {
		va, vb := fa[name], fb[name]
		if name == "names" || name == "Requires-Dist" || name == "Classifier" || name == "Provides-Extra" {
			// Lists whose order carries no meaning (the maps' own
			// slices, sorted in place).
			slices.Sort(va)
			slices.Sort(vb)
		}
		if !slices.Equal(va, vb) {
			out = append(out, Field{File: p, Name: name, A: va, B: vb})
		}
	}
	return out
}
