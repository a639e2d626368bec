package report

import (
	"context"
	"errors"
	"fmt"
	"html"
	"math"
	"net/http"
	"net/url"
	"strings"

	"github.com/pysmoke/pysmoke/outcome"
	"github.com/pysmoke/pysmoke/store"
)

// Badge colours, as shields.io's.
const (
	colorGreen  = "#4c1"
	colorRed    = "#e05d44"
	colorYellow = "#dfb317"
	colorGrey   = "#9f9f9f"
	colorLabel  = "#555"
)

const badgeLabel = "smoke"

// badgeFor says what a project's badge shows, from rd, the newest release
// that has a cell on a recorded Python (nil if none has):
//
//   - "failing 3.12, 3.13" (red) when a cell has the package's fault
//     (failed or rejected), listing those Pythons compactly, once reruns
//     confirmed it where the service confirms (store/confirm.go): a
//     failure being confirmed, or a flaky one, is not a fault;
//   - "passing" (green) when none has and at least one passed;
//   - "inconclusive" when cells exist but none passed or failed: yellow if
//     one hit a limit, found no tests, is being confirmed or is flaky,
//     grey if all were machinery errors or not available;
//   - "pending" (grey) when no release has a cell yet.
func badgeFor(pys []store.Python, rd *releaseData) (message, color string) {
	if rd == nil {
		return "pending", colorGrey
	}
	var faults []string
	passed, warned := false, false
	for _, c := range rd.Cells {
		if c.Cell == nil {
			continue
		}
		switch st := c.Cell.Status; {
		case c.Cell.Confirmation.Unsettled():
			// Red only once confirmed; a flaky result is not the
			// package's failure.
			warned = true
		case st.PackageFault():
			faults = append(faults, c.Python)
		case st == outcome.Passed:
			passed = true
		case st == outcome.ResourceLimit || st == outcome.NoTests:
			warned = true
		}
	}
	switch {
	case len(faults) > 0:
		return "failing " + compact(pys, faults), colorRed
	case passed:
		return "passing", colorGreen
	case warned:
		return "inconclusive", colorYellow
	}
	return "inconclusive", colorGrey
}

// badgeRelease finds the newest release with a cell on a recorded Python,
// reading cells only as far back as needed. It returns errNoProject for a
// project without releases and a nil release when none has a cell.
func badgeRelease(ctx context.Context, src Source, name string) ([]store.Python, *releaseData, error) {
	rels, err := src.Releases(ctx, name)
	if err != nil {
		return nil, nil, fmt.Errorf("releases of %s: %w", name, err)
	}
	if len(rels) == 0 {
		return nil, nil, errNoProject
	}
	pys, err := src.Pythons(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("pythons: %w", err)
	}
	for _, r := range rels {
		rd, err := loadRelease(ctx, src, pys, r)
		if err != nil {
			return nil, nil, err
		}
		if rd.hasCell() {
			return pys, &rd, nil
		}
	}
	return pys, nil, nil
}

func (h *Handler) badge(w http.ResponseWriter, r *http.Request) {
	name, ok := h.open(w, r, r.PathValue("file"), ".svg", badgePath)
	if !ok {
		return
	}
	message, color := "unknown", colorGrey
	pys, rd, err := badgeRelease(r.Context(), h.src, name)
	switch {
	case errors.Is(err, errNoProject):
		// 200 with an honest grey badge: see the package comment.
	case err != nil:
		h.fail(w, r, err)
		return
	default:
		message, color = badgeFor(pys, rd)
	}
	serveBadge(w, r, badgeLabel, message, color)
}

// serveBadge answers with a badge: an image that runs nothing, cached for
// five minutes.
func serveBadge(w http.ResponseWriter, r *http.Request, label, message, color string) {
	w.Header().Set("Content-Security-Policy", "script-src 'none'")
	serve(w, r, "image/svg+xml", "max-age=300", badgeSVG(label, message, color))
}

// colorBlue is the works-on badge's, as shields.io's Python badges.
const colorBlue = "#007ec6"

// pythonBadgeFor says what a project's badge for one Python shows: its
// cell there in the newest release that has one. As badgeFor, a failure
// is red only once confirmed.
func pythonBadgeFor(c *store.Cell) (message, color string) {
	if c == nil {
		return "pending", colorGrey
	}
	switch st := c.Status; {
	case c.Confirmation.Unsettled():
		return "inconclusive", colorYellow
	case st.PackageFault():
		return "failing", colorRed
	case st == outcome.Passed:
		return "passing", colorGreen
	case st == outcome.ResourceLimit || st == outcome.NoTests:
		return "inconclusive", colorYellow
	case st == outcome.DeclaredUnsupported:
		return "unsupported", colorGrey
	}
	return "inconclusive", colorGrey
}

// worksOnFor says on which Pythons the newest release with a cell really
// works: those whose cell passed, from the results, not from what the
// project claims ("2.7, 3.6-3.13").
func worksOnFor(pys []store.Python, rd *releaseData) (message, color string) {
	if rd == nil {
		return "pending", colorGrey
	}
	var ok []string
	for _, c := range rd.Cells {
		if c.Cell != nil && c.Cell.Status == outcome.Passed {
			ok = append(ok, c.Python)
		}
	}
	if len(ok) == 0 {
		return "none", colorGrey
	}
	// A range never spans two majors: 2.7 and 3.6 are neighbours in the
	// list, not in the language ("2.7 | 3.6-3.13").
	var parts []string
	for i := 0; i < len(ok); {
		j := i
		for j < len(ok) && major(ok[j]) == major(ok[i]) {
			j++
		}
		parts = append(parts, compact(pys, ok[i:j]))
		i = j
	}
	return strings.Join(parts, " | "), colorBlue
}

func major(py string) string { m, _, _ := strings.Cut(py, "."); return m }

// pythonBadge serves /badge/NAME/3.13.svg (the project on one Python) and
// /badge/NAME/pythons.svg (the Pythons it works on).
func (h *Handler) pythonBadge(w http.ResponseWriter, r *http.Request) {
	file := r.PathValue("file")
	py, ok := strings.CutSuffix(file, ".svg")
	if !ok || (py != "pythons" && !pythonRE.MatchString(py)) {
		notFound(w)
		return
	}
	name, ok := h.projectName(w, r, r.PathValue("name"), func(n string) string { return "/badge/" + url.PathEscape(n) + "/" + file })
	if !ok {
		return
	}
	label, message, color := "python "+py, "unknown", colorGrey
	if py == "pythons" {
		label = "python"
	}
	pys, rd, err := badgeRelease(r.Context(), h.src, name)
	switch {
	case errors.Is(err, errNoProject):
	case err != nil:
		h.fail(w, r, err)
		return
	case py == "pythons":
		message, color = worksOnFor(pys, rd)
	default:
		c, known, err := newestCellOn(r.Context(), h.src, pys, name, py)
		switch {
		case err != nil:
			h.fail(w, r, err)
			return
		case !known:
			message = "not tested"
		default:
			message, color = pythonBadgeFor(c)
		}
	}
	serveBadge(w, r, label, message, color)
}

// newestCellOn finds a project's cell on one Python in the newest release
// that has one (nil while every release is pending there); known is
// false when the service does not run that Python.
func newestCellOn(ctx context.Context, src Source, pys []store.Python, name, py string) (c *store.Cell, known bool, err error) {
	for _, p := range pys {
		known = known || p.Python == py
	}
	if !known {
		return nil, false, nil
	}
	rels, err := src.Releases(ctx, name)
	if err != nil {
		return nil, true, err
	}
	for _, r := range rels {
		rd, err := loadRelease(ctx, src, pys, r)
		if err != nil {
			return nil, true, err
		}
		for _, cd := range rd.Cells {
			if cd.Python == py && cd.Cell != nil {
				return cd.Cell, true, nil
			}
		}
	}
	return nil, true, nil
}

// charWidths are advance widths in px of Verdana at 11 px, the badge font
// (its 2048-unit advances scaled by 11/2048). Other characters count as
// 7.5 px (capitals) or 7 px; an estimate, used the same way everywhere.
var charWidths = map[rune]float64{
	' ': 3.87, '!': 4.33, '(': 4.54, ')': 4.54, '+': 9.0, ',': 3.64, '-': 4.62, '.': 3.64, '/': 4.9, ':': 4.9,
	'0': 7.0, '1': 7.0, '2': 7.0, '3': 7.0, '4': 7.0, '5': 7.0, '6': 7.0, '7': 7.0, '8': 7.0, '9': 7.0,
	'a': 6.74, 'b': 6.98, 'c': 6.05, 'd': 6.98, 'e': 6.62, 'f': 3.92, 'g': 6.98, 'h': 6.97, 'i': 3.02,
	'j': 3.63, 'k': 6.41, 'l': 3.02, 'm': 10.72, 'n': 6.97, 'o': 6.73, 'p': 6.98, 'q': 6.98, 'r': 4.69,
	's': 5.73, 't': 4.33, 'u': 6.97, 'v': 6.41, 'w': 8.83, 'x': 6.41, 'y': 6.41, 'z': 5.76,
}

// textWidth is the estimated width in px of s in the badge font.
func textWidth(s string) float64 {
	var w float64
	for _, r := range s {
		switch cw, ok := charWidths[r]; {
		case ok:
			w += cw
		case r >= 'A' && r <= 'Z':
			w += 7.5
		default:
			w += 7
		}
	}
	return w
}

// badgeSVG draws a flat shields.io-style badge, 20 px high: the label on
// grey at the left, the message on color at the right, each with 5 px of
// padding. Text is drawn at 10x scale (as shields.io does) so that the
// textLength hint can be given in tenths of a pixel.
func badgeSVG(label, message, color string) []byte {
	lt, mt := math.Ceil(textWidth(label)), math.Ceil(textWidth(message))
	lw, mw := int(lt)+10, int(mt)+10
	w := lw + mw
	aria := html.EscapeString(label + ": " + message)
	l, m := html.EscapeString(label), html.EscapeString(message)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="20" role="img" aria-label="%s">`, w, aria)
	fmt.Fprintf(&b, `<title>%s</title>`, aria)
	b.WriteString(`<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>`)
	fmt.Fprintf(&b, `<clipPath id="r"><rect width="%d" height="20" rx="3" fill="#fff"/></clipPath>`, w)
	fmt.Fprintf(&b, `<g clip-path="url(#r)"><rect width="%d" height="20" fill="%s"/><rect x="%d" width="%d" height="20" fill="%s"/><rect width="%d" height="20" fill="url(#s)"/></g>`,
		lw, colorLabel, lw, mw, html.EscapeString(color), w)
	b.WriteString(`<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" text-rendering="geometricPrecision" font-size="110">`)
	for _, t := range []struct {
		x, length int
		text      string
	}{{lw * 5, int(lt) * 10, l}, {lw*10 + mw*5, int(mt) * 10, m}} {
		fmt.Fprintf(&b, `<text aria-hidden="true" x="%d" y="150" fill="#010101" fill-opacity=".3" transform="scale(.1)" textLength="%d">%s</text>`, t.x, t.length, t.text)
		fmt.Fprintf(&b, `<text x="%d" y="140" transform="scale(.1)" fill="#fff" textLength="%d">%s</text>`, t.x, t.length, t.text)
	}
	b.WriteString(`</g></svg>`)
	return []byte(b.String())
}
