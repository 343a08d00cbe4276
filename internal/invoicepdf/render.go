// Package invoicepdf renders an invoice as a printable PDF.
//
// Entities: a Document is one invoice (billing.Invoice with its lines and
// taxes), its payments, its issuer and its recipient (Party). The issuer
// is the SP's venture, or the partner for the invoices it issues to its
// customers; the recipient is the customer billed, or the partner billed at
// cost by the SP.
//
// Invariants: every figure is printed as the JSON shows it (decimal, two
// places, never through a float); what is printed is read from the stored
// invoice, so a PDF rendered for a mail and one served over HTTP agree; any
// text renders (see cp1252), and the same invoice state renders to the
// same bytes (the creation date is the invoice's). Who may see an invoice
// is the caller's business: Load reads any invoice by id.
package invoicepdf

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"codeberg.org/go-pdf/fpdf"

	"github.com/acronis-platform/platform/internal/billing"
	"github.com/acronis-platform/platform/internal/money"
)

// ContentType is the media type of a rendered invoice.
const ContentType = "application/pdf"

// Party is an issuer or a recipient as printed.
type Party struct {
	Name string
	// Lines follow the name: address, country, email, phone, as known.
	Lines []string
}

// Document is what one invoice's PDF shows.
type Document struct {
	Invoice   billing.Invoice // with Lines and Taxes
	Payments  []billing.Payment
	Issuer    Party
	Recipient Party
}

// Filename is the PDF's file name: the invoice number (its id while it has
// none), safe in a Content-Disposition header.
func Filename(inv billing.Invoice) string {
	name := inv.ID.String()
	if inv.Number != nil && *inv.Number != "" {
		name = *inv.Number
	}
	safe := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, name)
	return safe + ".pdf"
}

// Page geometry, in mm (A4 portrait).
const (
	margin     = 15.0
	bottom     = 18.0
	lineH      = 4.2 // a line of 9 pt text
	noteH      = 3.5 // a line of 7.5 pt text
	maxWrapped = 40  // lines of one description or explanation kept
)

// Columns of the lines table (180 mm wide).
var cols = []struct {
	title string
	w     float64
	align string
}{
	{"#", 7, "L"},
	{"Description", 83, "L"},
	{"Period", 30, "L"},
	{"Quantity", 16, "R"},
	{"Unit price", 21, "R"},
	{"Amount", 23, "R"},
}

// Render draws the document. The output is compressed PDF 1.3 with the
// core Helvetica font.
func Render(d Document) ([]byte, error) {
	inv := d.Invoice
	number := "(draft, no number yet)"
	if inv.Number != nil && *inv.Number != "" {
		number = *inv.Number
	}
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetMargins(margin, margin, margin)
	pdf.SetAutoPageBreak(true, bottom)
	pdf.SetCompression(true)
	pdf.SetCatalogSort(true) // resources in a fixed order: the same bytes each time
	pdf.AliasNbPages("{nb}")
	created := inv.CreatedAt.UTC()
	if created.IsZero() {
		created = time.Unix(0, 0).UTC()
	}
	pdf.SetCreationDate(created)
	pdf.SetModificationDate(created)
	pdf.SetTitle("Invoice "+number, true)
	pdf.SetAuthor(d.Issuer.Name, true)
	pdf.SetSubject("Invoice "+number+" to "+d.Recipient.Name, true)
	pdf.SetCreator("acronis-platform", false)
	pdf.SetProducer("acronis-platform", false)
	pdf.SetTextColor(20, 20, 20)

	r := &renderer{pdf: pdf}
	pdf.SetHeaderFunc(func() {
		if pdf.PageNo() > 1 {
			pdf.SetFont("Helvetica", "", 8)
			pdf.SetTextColor(110, 110, 110)
			pdf.CellFormat(0, 5, cp1252("Invoice "+number+" (continued) - "+d.Issuer.Name), "", 1, "L", false, 0, "")
			pdf.SetTextColor(20, 20, 20)
			pdf.Ln(2)
		}
	})
	pdf.SetFooterFunc(func() {
		pdf.SetY(-12)
		pdf.SetFont("Helvetica", "", 8)
		pdf.SetTextColor(110, 110, 110)
		pdf.CellFormat(0, 5, cp1252(fmt.Sprintf("Invoice %s - page %d of {nb}", number, pdf.PageNo())), "", 0, "C", false, 0, "")
		pdf.SetTextColor(20, 20, 20)
	})
	pdf.AddPage()

	r.head(d, number)
	r.lines(d)
	r.totals(d)
	r.payments(d)

	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, fmt.Errorf("render invoice %s: %w", inv.ID, err)
	}
	return buf.Bytes(), nil
}

type renderer struct{ pdf *fpdf.Fpdf }

// text writes one line of UTF-8 text in a cell, folded to the font's code
// page and cut to the cell's width.
func (r *renderer) text(w, h float64, s, align string, ln int) {
	if w <= 0 { // to the right margin, as fpdf reads 0
		pageW, _ := r.pdf.GetPageSize()
		_, _, right, _ := r.pdf.GetMargins()
		w = pageW - right - r.pdf.GetX()
	}
	r.pdf.CellFormat(w, h, r.fit(cp1252(s), w), "", ln, align, false, 0, "")
}

// fit cuts encoded text to width w, marking the cut with "...".
func (r *renderer) fit(s string, w float64) string {
	room := w - 2*r.pdf.GetCellMargin()
	if r.pdf.GetStringWidth(s) <= room {
		return s
	}
	for len(s) > 0 && r.pdf.GetStringWidth(s+"...") > room {
		s = s[:len(s)-1]
	}
	return s + "..."
}

// wrap splits UTF-8 text into lines of width w in the current font, at
// spaces where it can, within words where one is wider than w. At most
// maxWrapped lines are kept, the last marked when text was left out.
func (r *renderer) wrap(s string, w float64) []string {
	s = cp1252(s) // single bytes from here, as the font measures them
	room := w - 2*r.pdf.GetCellMargin()
	var out []string
	line := ""
	flush := func() {
		out = append(out, line)
		line = ""
	}
	for _, word := range strings.Fields(s) {
		try := word
		if line != "" {
			try = line + " " + word
		}
		if r.pdf.GetStringWidth(try) <= room {
			line = try
			continue
		}
		if line != "" {
			flush()
		}
		for r.pdf.GetStringWidth(word) > room {
			n := 1
			for n < len(word) && r.pdf.GetStringWidth(word[:n+1]) <= room {
				n++
			}
			line = word[:n]
			flush()
			word = word[n:]
		}
		line = word
	}
	if line != "" {
		flush()
	}
	if len(out) > maxWrapped {
		out = out[:maxWrapped]
		out[maxWrapped-1] = r.fit(out[maxWrapped-1]+" ...", w)
	}
	return out
}

func (r *renderer) head(d Document, number string) {
	pdf, inv := r.pdf, d.Invoice
	left := 105.0
	top := pdf.GetY()

	// Issuer, top left.
	pdf.SetFont("Helvetica", "B", 14)
	for _, l := range r.wrap(d.Issuer.Name, left-margin) {
		pdf.CellFormat(left-margin, 6.5, l, "", 2, "L", false, 0, "")
	}
	pdf.SetFont("Helvetica", "", 9)
	for _, l := range d.Issuer.Lines {
		r.text(left-margin, lineH, l, "L", 2)
	}
	issuerEnd := pdf.GetY()

	// What the document is, top right.
	pdf.SetXY(left, top)
	pdf.SetFont("Helvetica", "B", 18)
	title := "INVOICE"
	switch inv.Status {
	case billing.StatusVoid:
		title = "INVOICE - VOID"
	case billing.StatusPaid:
		title = "INVOICE - PAID"
	}
	pdf.CellFormat(0, 8, title, "", 2, "R", false, 0, "")
	pdf.SetFont("Helvetica", "", 9)
	facts := [][2]string{
		{"Number", number},
		{"Issue date", dateOr(inv.IssueDate, "-")},
		{"Due date", dateOr(inv.DueDate, "-")},
		{"Period", date(inv.PeriodStart) + " to " + date(inv.PeriodEnd)},
		{"Status", inv.Status},
		{"Kind", inv.Kind},
		{"Currency", inv.Currency},
	}
	for _, f := range facts {
		pdf.SetX(left)
		pdf.SetFont("Helvetica", "", 9)
		pdf.CellFormat(30, lineH+0.6, f[0], "", 0, "L", false, 0, "")
		pdf.SetFont("Helvetica", "B", 9)
		r.text(0, lineH+0.6, f[1], "R", 2)
	}
	y := max(issuerEnd, pdf.GetY()) + 6

	// Recipient.
	pdf.SetXY(margin, y)
	pdf.SetFont("Helvetica", "", 8)
	pdf.SetTextColor(110, 110, 110)
	pdf.CellFormat(0, lineH, "BILL TO", "", 2, "L", false, 0, "")
	pdf.SetTextColor(20, 20, 20)
	pdf.SetFont("Helvetica", "B", 11)
	for _, l := range r.wrap(d.Recipient.Name, 120) {
		pdf.CellFormat(120, 5.5, l, "", 2, "L", false, 0, "")
	}
	pdf.SetFont("Helvetica", "", 9)
	for _, l := range d.Recipient.Lines {
		for _, w := range r.wrap(l, 120) {
			pdf.CellFormat(120, lineH, w, "", 2, "L", false, 0, "")
		}
	}
	pdf.Ln(6)
}

func (r *renderer) tableHead() {
	pdf := r.pdf
	pdf.SetFont("Helvetica", "B", 8.5)
	pdf.SetFillColor(235, 235, 235)
	for _, c := range cols {
		pdf.CellFormat(c.w, 6, c.title, "", 0, c.align, true, 0, "")
	}
	pdf.Ln(-1)
	pdf.Ln(1)
}

func (r *renderer) lines(d Document) {
	pdf, inv := r.pdf, d.Invoice
	taxes := map[string]billing.InvoiceTax{}
	for _, t := range inv.Taxes {
		taxes[t.TaxID.String()] = t
	}
	r.tableHead()
	if len(inv.Lines) == 0 {
		pdf.SetFont("Helvetica", "", 9)
		pdf.CellFormat(0, lineH*1.5, "No lines.", "", 1, "L", false, 0, "")
	}
	for _, l := range inv.Lines {
		pdf.SetFont("Helvetica", "", 9)
		desc := r.wrap(l.Description, cols[1].w)
		pdf.SetFont("Helvetica", "", 7.5)
		note := r.wrap(explain(l, taxes), cols[1].w)
		period := []string{"-"}
		if l.PeriodStart != nil && l.PeriodEnd != nil {
			period = []string{date(*l.PeriodStart), "to " + date(*l.PeriodEnd)}
		}
		h := max(float64(len(desc))*lineH+float64(len(note))*noteH, float64(len(period))*lineH) + 2
		_, pageH := pdf.GetPageSize()
		if pdf.GetY()+h > pageH-bottom {
			pdf.AddPage()
			r.tableHead()
		}
		x, y := pdf.GetXY()
		pdf.SetFont("Helvetica", "", 9)
		pdf.CellFormat(cols[0].w, lineH, fmt.Sprint(l.Position), "", 0, "L", false, 0, "")
		cx := x + cols[0].w
		for i, s := range desc {
			pdf.SetXY(cx, y+float64(i)*lineH)
			pdf.CellFormat(cols[1].w, lineH, s, "", 0, "L", false, 0, "")
		}
		pdf.SetFont("Helvetica", "", 7.5)
		pdf.SetTextColor(90, 90, 90)
		for i, s := range note {
			pdf.SetXY(cx, y+float64(len(desc))*lineH+float64(i)*noteH)
			pdf.CellFormat(cols[1].w, noteH, s, "", 0, "L", false, 0, "")
		}
		pdf.SetTextColor(20, 20, 20)
		pdf.SetFont("Helvetica", "", 9)
		cx += cols[1].w
		for i, s := range period {
			pdf.SetXY(cx, y+float64(i)*lineH)
			pdf.CellFormat(cols[2].w, lineH, s, "", 0, "L", false, 0, "")
		}
		cx += cols[2].w
		pdf.SetXY(cx, y)
		r.text(cols[3].w, lineH, l.Quantity.String(), "R", 0)
		r.text(cols[4].w, lineH, money.String(l.UnitPrice), "R", 0)
		r.text(cols[5].w, lineH, money.String(l.Amount), "R", 0)
		pdf.SetDrawColor(220, 220, 220)
		pdf.Line(x, y+h-0.5, x+180, y+h-0.5)
		pdf.SetXY(x, y+h)
	}
	pdf.Ln(3)
}

func (r *renderer) totals(d Document) {
	pdf, inv := r.pdf, d.Invoice
	rows := []struct {
		label, amount string
		bold          bool
	}{{"Subtotal", money.String(inv.Subtotal), false}}
	for _, t := range inv.Taxes {
		rows = append(rows, struct {
			label, amount string
			bold          bool
		}{t.Name + " " + t.Rate.String() + "% of " + money.String(t.Base), money.String(t.Amount), false})
	}
	rows = append(rows, []struct {
		label, amount string
		bold          bool
	}{
		{"Tax total", money.String(inv.TaxTotal), false},
		{"Total", money.String(inv.Total), true},
		{"Amount paid", money.String(inv.AmountPaid), false},
		{"Balance due", money.String(inv.Balance()), true},
	}...)
	_, pageH := pdf.GetPageSize()
	if pdf.GetY()+float64(len(rows))*(lineH+1.5) > pageH-bottom {
		pdf.AddPage()
	}
	labelW, amountW, curW := 62.0, 28.0, 12.0
	x := margin + 180 - labelW - amountW - curW
	for _, row := range rows {
		pdf.SetX(x)
		style := ""
		if row.bold {
			style = "B"
		}
		pdf.SetFont("Helvetica", style, 9.5)
		r.text(labelW, lineH+1.5, row.label, "L", 0)
		r.text(amountW, lineH+1.5, row.amount, "R", 0)
		r.text(curW, lineH+1.5, inv.Currency, "R", 1)
	}
}

func (r *renderer) payments(d Document) {
	if len(d.Payments) == 0 {
		return
	}
	pdf := r.pdf
	pdf.Ln(5)
	_, pageH := pdf.GetPageSize()
	if pdf.GetY()+3*lineH > pageH-bottom {
		pdf.AddPage()
	}
	pdf.SetFont("Helvetica", "B", 9.5)
	pdf.CellFormat(0, 6, "Payments", "", 1, "L", false, 0, "")
	pdf.SetFont("Helvetica", "", 9)
	for _, p := range d.Payments {
		r.text(30, lineH+0.6, p.PaidAt.UTC().Format(time.DateOnly), "L", 0)
		r.text(35, lineH+0.6, strings.ReplaceAll(p.Method, "_", " "), "L", 0)
		r.text(80, lineH+0.6, p.Reference, "L", 0)
		r.text(23, lineH+0.6, money.String(p.Amount), "R", 0)
		r.text(12, lineH+0.6, d.Invoice.Currency, "R", 1)
	}
}

func date(t time.Time) string { return t.Format(time.DateOnly) }

func dateOr(t *time.Time, none string) string {
	if t == nil {
		return none
	}
	return date(*t)
}
