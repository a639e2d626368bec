package report

// The project page's history as a small inline SVG: a row per Python, a
// column per release (oldest at the left), each square coloured as its
// cell is on the page, its text in a <title> (a tooltip). Drawn on the
// server: the pages run no JavaScript.

// timelineReleases is how many of the newest releases the chart shows.
const timelineReleases = 40

// Sizes of the chart, in pixels.
const (
	tlLabel = 40 // the Pythons' labels at the left
	tlCell  = 12 // a square, with its gap
	tlGap   = 2
	tlAxis  = 16 // the first and last versions under the squares
)

type timelineView struct {
	Width, Height int
	Rows          []timelineLabel // a Python's label
	Squares       []timelineSquare
	First, Last   timelineLabel // the oldest and newest versions shown
	Title         string        // what the chart is, for readers of the page's text
}

type timelineLabel struct {
	X, Y int
	Text string
}

type timelineSquare struct {
	X, Y, Size int
	Class      string
	Title      string
}

// timeline draws releases (newest first, as the page lists them).
func timeline(pythons []string, releases []releaseView) *timelineView {
	if len(releases) == 0 || len(pythons) == 0 {
		return nil
	}
	if len(releases) > timelineReleases {
		releases = releases[:timelineReleases]
	}
	n := len(releases)
	v := &timelineView{
		Width:  tlLabel + n*tlCell + 60,
		Height: len(pythons)*tlCell + tlAxis + 4,
		Title:  "history of the newest releases on each Python, oldest at the left",
	}
	for row, py := range pythons {
		v.Rows = append(v.Rows, timelineLabel{X: tlLabel - 4, Y: row*tlCell + tlCell - 3, Text: py})
	}
	for col := 0; col < n; col++ {
		rv := releases[n-1-col] // oldest first
		for row, py := range pythons {
			sq := timelineSquare{X: tlLabel + col*tlCell, Y: row * tlCell, Size: tlCell - tlGap, Class: "s-pending",
				Title: rv.Version + " on " + py + ": not tested"}
			for _, c := range rv.Cells {
				if c.Python != py {
					continue
				}
				sq.Class = "s-" + c.Class
				sq.Title = rv.Version + " on " + py + ": " + c.Status
				if c.Reason != "" {
					sq.Title += " (" + c.Reason + ")"
				}
			}
			v.Squares = append(v.Squares, sq)
		}
	}
	axisY := len(pythons)*tlCell + tlAxis - 4
	v.First = timelineLabel{X: tlLabel, Y: axisY, Text: releases[n-1].Version}
	if n > 1 {
		v.Last = timelineLabel{X: tlLabel + (n-1)*tlCell + tlCell - tlGap, Y: axisY, Text: releases[0].Version}
	}
	return v
}
