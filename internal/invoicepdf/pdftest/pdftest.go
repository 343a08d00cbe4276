// Package pdftest reads the text of a PDF back for tests, with a reader
// independent of the one that wrote it (github.com/ledongthuc/pdf), row by
// row as a person reads the page.
package pdftest

import (
	"bytes"
	"math"
	"sort"
	"strings"
	"testing"

	"github.com/ledongthuc/pdf"
	"github.com/stretchr/testify/require"
)

// Doc is a PDF's text: per page, its rows top to bottom, each row's pieces
// left to right joined by one space.
type Doc struct {
	Pages [][]string
}

// Read parses b and returns its text.
func Read(t testing.TB, b []byte) Doc {
	t.Helper()
	require.True(t, bytes.HasPrefix(b, []byte("%PDF-")), "not a PDF: %.40q", b)
	r, err := pdf.NewReader(bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err)
	var d Doc
	for i := 1; i <= r.NumPage(); i++ {
		p := r.Page(i)
		require.False(t, p.V.IsNull(), "page %d", i)
		d.Pages = append(d.Pages, rows(p.Content().Text))
	}
	return d
}

// rows groups glyphs by baseline, top to bottom, and joins each row left
// to right; a gap wider than a fifth of the font size is a space (cells
// side by side), and runs of spaces are one.
func rows(glyphs []pdf.Text) []string {
	byY := map[int64][]pdf.Text{}
	for _, g := range glyphs {
		y := int64(math.Round(g.Y * 10))
		byY[y] = append(byY[y], g)
	}
	ys := make([]int64, 0, len(byY))
	for y := range byY {
		ys = append(ys, y)
	}
	sort.Slice(ys, func(i, j int) bool { return ys[i] > ys[j] })
	var out []string
	for _, y := range ys {
		row := byY[y]
		sort.SliceStable(row, func(i, j int) bool { return row[i].X < row[j].X })
		var b strings.Builder
		for i, g := range row {
			if i > 0 {
				prev := row[i-1]
				if g.X-(prev.X+prev.W) > g.FontSize/5 {
					b.WriteByte(' ')
				}
			}
			b.WriteString(g.S)
		}
		if line := strings.Join(strings.Fields(b.String()), " "); line != "" {
			out = append(out, line)
		}
	}
	return out
}

// Rows are all rows of all pages in order.
func (d Doc) Rows() []string {
	var out []string
	for _, p := range d.Pages {
		out = append(out, p...)
	}
	return out
}

// Text is all rows joined by newlines.
func (d Doc) Text() string { return strings.Join(d.Rows(), "\n") }

// HasRow reports whether some row reads exactly want.
func (d Doc) HasRow(want string) bool {
	for _, r := range d.Rows() {
		if r == want {
			return true
		}
	}
	return false
}

// RequireRow fails unless some row reads exactly want.
func (d Doc) RequireRow(t testing.TB, want string) {
	t.Helper()
	require.True(t, d.HasRow(want), "no row %q in:\n%s", want, d.Text())
}
