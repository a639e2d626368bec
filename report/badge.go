package report

import (
	"context"
	"errors"
	"fmt"
	"html"
	"math"
	"net/http"
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
	w.Header().Set("Content-Security-Policy", "script-src 'none'")
	serve(w, r, "image/svg+xml", "max-age=300", badgeSVG(badgeLabel, message, color))
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
