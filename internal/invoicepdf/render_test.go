package invoicepdf_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/billing"
	"github.com/acronis-platform/platform/internal/invoicepdf"
	"github.com/acronis-platform/platform/internal/invoicepdf/pdftest"
)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func day(s string) *time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return &d
}

// renewal is a renewal bill of 3 units at 12.34 with a setup fee, under
// VAT 21 % and a city tax of 2.5 %, 10.00 of it paid.
func renewal() invoicepdf.Document {
	vat, city := uuid.New(), uuid.New()
	number := "ACME-2026-000042"
	svc := uuid.New()
	inv := billing.Invoice{ID: uuid.New(), Number: &number, Kind: billing.InvoiceRenewal, Status: billing.StatusUnpaid, Currency: "USD",
		IssueDate: day("2026-11-24"), DueDate: day("2026-12-01"), PeriodStart: *day("2026-12-01"), PeriodEnd: *day("2026-12-31"),
		Subtotal: dec("42.02"), TaxTotal: dec("9.87"), Total: dec("51.89"), AmountPaid: dec("10.00"),
		CreatedAt: time.Date(2026, 11, 24, 0, 5, 0, 0, time.UTC)}
	ids := pq.StringArray{vat.String(), city.String()}
	inv.Lines = []billing.InvoiceLine{
		{Position: 1, Kind: "recurring", ServiceID: &svc, Description: "Backup 100 GB (monthly), 2026-12-01 to 2026-12-31",
			PeriodStart: day("2026-12-01"), PeriodEnd: day("2026-12-31"), Quantity: dec("3"), UnitPrice: dec("12.34"), Amount: dec("37.02"),
			TaxIDs: ids, Detail: []byte(`{"plan":"Backup 100 GB","frequency":"monthly","unit_price":"12.34","quantity":3,"period":["2026-12-01","2026-12-31"]}`)},
		{Position: 2, Kind: "proration", ServiceID: &svc, Description: "Backup 100 GB, 1 more unit, 2026-11-15 to 2026-11-30",
			PeriodStart: day("2026-11-15"), PeriodEnd: day("2026-11-30"), Quantity: dec("1"), UnitPrice: dec("9.375"), Amount: dec("5.00"),
			TaxIDs: ids, Detail: []byte(`{"from_quantity":2,"to_quantity":3,"days_left":16,"days_in_period":30}`)},
	}
	inv.Taxes = []billing.InvoiceTax{
		{TaxID: city, Name: "City tax", Rate: dec("2.5"), Base: dec("42.02"), Amount: dec("1.05")},
		{TaxID: vat, Name: "VAT", Rate: dec("21"), Base: dec("42.02"), Amount: dec("8.82")},
	}
	return invoicepdf.Document{Invoice: inv,
		Payments:  []billing.Payment{{Amount: dec("10.00"), Method: "bank_transfer", Reference: "wire 77", PaidAt: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)}},
		Issuer:    invoicepdf.Party{Name: "Acme Cloud Venture"},
		Recipient: invoicepdf.Party{Name: "Fabrikam Inc.", Lines: []string{"1 Main Street", "Springfield", "US", "billing@fabrikam.example"}}}
}

func render(t *testing.T, d invoicepdf.Document) pdftest.Doc {
	t.Helper()
	b, err := invoicepdf.Render(d)
	require.NoError(t, err)
	return pdftest.Read(t, b)
}

func TestRenderShowsEveryFigureToTheCent(t *testing.T) {
	t.Parallel()
	doc := render(t, renewal())
	require.Len(t, doc.Pages, 1)
	for _, row := range []string{
		"Acme Cloud Venture",
		"INVOICE",
		"Number ACME-2026-000042",
		"Issue date 2026-11-24",
		"Due date 2026-12-01",
		"Period 2026-12-01 to 2026-12-31",
		"Status unpaid",
		"Kind renewal",
		"Currency USD",
		"BILL TO",
		"Fabrikam Inc.",
		"1 Main Street",
		"billing@fabrikam.example",
		"# Description Period Quantity Unit price Amount",
		"1 Backup 100 GB (monthly), 2026-12-01 to 2026-12-31 2026-12-01 3 12.34 37.02",
		"plan Backup 100 GB, monthly; taxed: VAT 21%, City tax 2.5%",
		"to 2026-12-31",
		// The unit price is shown as the JSON shows it (two places).
		"2 Backup 100 GB, 1 more unit, 2026-11-15 to 2026-11-30 2026-11-15 1 9.38 5.00",
		"Subtotal 42.02 USD",
		"City tax 2.5% of 42.02 1.05 USD",
		"VAT 21% of 42.02 8.82 USD",
		"Tax total 9.87 USD",
		"Total 51.89 USD",
		"Amount paid 10.00 USD",
		"Balance due 41.89 USD",
		"Payments",
		"2026-11-26 bank transfer wire 77 10.00 USD",
		"Invoice ACME-2026-000042 - page 1 of 1",
	} {
		doc.RequireRow(t, row)
	}
	// A long explanation wraps within the description column.
	doc.RequireRow(t, "quantity changed from 2 to 3; 16 of 30 days left in the period; taxed:")
	doc.RequireRow(t, "VAT 21%, City tax 2.5%")
}

func TestRenderExplainsLines(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, detail, want string
	}{
		{"proration", `{"active_days":16,"days_in_period":30,"quantity":2}`, "16 of 30 days active"},
		{"usage", `{"offering_item":"workstations","aggregation":"max","days":[["2026-11-01","3"],["2026-11-02","4"]],"quantity":"4"}`,
			"usage of workstations, max of 2 daily values = 4"},
		{"overage", `{"storage_item":"storage","peak_bytes":128849018880,"peak_day":"2026-11-20","soft_quota_gb":100,"quantity":1,"over_gb":20,"price_per_gb":"0.50"}`,
			"storage storage: peak 120 GB on 2026-11-20, quota 100 GB x 1 units, 20 GB over at 0.50 per GB"},
		{"plan change", `{"from_plan":"Small","to_plan":"Large","days_left":10,"days_in_period":30,"old_unit_price":"5.00"}`,
			"plan changed from Small to Large; 10 of 30 days left in the period; previous unit price 5.00"},
		{"term change", `{"from_frequency":"monthly","to_frequency":"annual","unused_days":20,"days_in_period":30}`,
			"term changed from monthly to annual; 20 of 30 days unused"},
		{"setup", `{"setup_fee":"25.00"}`, "one-time setup fee"},
		{"credit", `{"credit":"3.00"}`, "credit applied 3.00"},
		{"unknown keys only", `{"something":"else"}`, ""},
		{"not an object", `[1,2]`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := renewal()
			d.Invoice.Lines = d.Invoice.Lines[:1]
			d.Invoice.Lines[0].Detail = []byte(tt.detail)
			d.Invoice.Lines[0].TaxIDs = nil
			doc := render(t, d)
			rows := doc.Rows()
			i := indexOf(rows, "1 Backup 100 GB (monthly), 2026-12-01 to 2026-12-31 2026-12-01 3 12.34 37.02")
			require.GreaterOrEqual(t, i, 0, doc.Text())
			// The explanation is the rows under the line (wrapped), the
			// period's second row among them.
			var got []string
			for _, r := range rows[i+1:] {
				if r == "Subtotal 42.02 USD" {
					break
				}
				if r != "to 2026-12-31" {
					got = append(got, r)
				}
			}
			require.Equal(t, tt.want, strings.Join(got, " "))
		})
	}
}

func indexOf(rows []string, want string) int {
	for i, r := range rows {
		if r == want {
			return i
		}
	}
	return -1
}

// Names in any script render: the code page's own letters as they are,
// accents it lacks dropped, Cyrillic transliterated, the rest as "?".
func TestRenderAnyScript(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, want string }{
		{"Zoë Müller-Søndergaard € ½", "Zoë Müller-Søndergaard € ½"},
		{"Łódź Spółka Polska, Đakovo", "Lódz Spólka Polska, Dakovo"},
		{"ООО «Ромашка» Щукин", "OOO «Romashka» Shchukin"},
		{"株式会社テスト Tokyo", "??????? Tokyo"},
		{"عربي 😀 Ελλάδα", "???? ? ??????"},
		{"tab\tnew\nline\x00nul", "tab new line nul"},
		{"\xff\xfe broken utf-8", "?? broken utf-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := renewal()
			d.Issuer.Name = tt.name
			d.Recipient = invoicepdf.Party{Name: tt.name, Lines: []string{tt.name}}
			d.Invoice.Lines[0].Description = tt.name
			d.Payments[0].Reference = tt.name
			doc := render(t, d)
			require.Contains(t, doc.Rows()[0], tt.want, "issuer")
			doc.RequireRow(t, tt.want) // recipient
			require.Contains(t, doc.Text(), "1 "+tt.want+" 2026-12-01 3 12.34 37.02", "line")
			require.Contains(t, doc.Text(), "bank transfer "+tt.want, "payment reference")
		})
	}
}

func TestRenderWrapsAndPaginates(t *testing.T) {
	t.Parallel()
	d := renewal()
	base := d.Invoice.Lines[0]
	d.Invoice.Lines = nil
	for i := 1; i <= 200; i++ {
		l := base
		l.Position = i
		l.Description = fmt.Sprintf("Line %03d %s", i, base.Description)
		l.Amount = dec(fmt.Sprintf("%d.%02d", i, i%100))
		if i == 7 {
			l.Description = "Line 007 " + strings.Repeat("a long description that wraps ", 12) + strings.Repeat("x", 150)
		}
		d.Invoice.Lines = append(d.Invoice.Lines, l)
	}
	b, err := invoicepdf.Render(d)
	require.NoError(t, err)
	doc := pdftest.Read(t, b)
	n := len(doc.Pages)
	require.Greater(t, n, 5, "200 lines take several pages")
	for i, p := range doc.Pages {
		require.Contains(t, p, fmt.Sprintf("Invoice ACME-2026-000042 - page %d of %d", i+1, n), "footer on page %d", i+1)
		require.Contains(t, p, "# Description Period Quantity Unit price Amount", "table head on page %d", i+1)
		if i > 0 {
			require.Contains(t, p, "Invoice ACME-2026-000042 (continued) - Acme Cloud Venture")
		}
	}
	text := doc.Text()
	for i := 1; i <= 200; i++ {
		row := fmt.Sprintf("%d Line %03d ", i, i)
		require.Equal(t, 1, strings.Count(text, "\n"+row), "line %d shown once", i)
	}
	// The long one wraps over rows of the description column, the unbroken
	// word split within it, nothing lost.
	start := strings.Index(text, "\n7 Line 007 ")
	end := strings.Index(text, "\n8 Line 008 ")
	require.Greater(t, end, start)
	long := text[start:end]
	require.GreaterOrEqual(t, strings.Count(long, "\n"), 6, long)
	require.Equal(t, 12, strings.Count(long, "wraps"), long)
	xs := 0
	for _, r := range strings.Split(long, "\n") {
		if r != "" && strings.Trim(r, "x") == "" {
			xs += len(r)
			require.Less(t, len(r), 150, "split within the word")
		}
	}
	require.Equal(t, 150, xs, long)
	last := doc.Pages[n-1]
	require.Contains(t, last, "Balance due 41.89 USD", "totals after the last line")
}

func TestRenderIsStableAndCompressed(t *testing.T) {
	t.Parallel()
	a, err := invoicepdf.Render(renewal())
	require.NoError(t, err)
	d := renewal()
	b, err := invoicepdf.Render(d)
	require.NoError(t, err)
	// Ids differ between the two documents but are not printed.
	require.Equal(t, a, b, "the same invoice renders to the same bytes")
	require.Contains(t, string(a), "/Filter /FlateDecode")
	require.False(t, bytes.Contains(a, []byte("Balance due")), "page text is compressed")
}

func TestRenderStatesAndEmptyParts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(*invoicepdf.Document)
		rows   []string
	}{
		{"void", func(d *invoicepdf.Document) { d.Invoice.Status = billing.StatusVoid }, []string{"INVOICE - VOID", "Status void"}},
		{"paid", func(d *invoicepdf.Document) {
			d.Invoice.Status, d.Invoice.AmountPaid = billing.StatusPaid, d.Invoice.Total
		}, []string{"INVOICE - PAID", "Amount paid 51.89 USD", "Balance due 0.00 USD"}},
		{"no number, no dates", func(d *invoicepdf.Document) {
			d.Invoice.Number, d.Invoice.IssueDate, d.Invoice.DueDate = nil, nil, nil
		}, []string{"Number (draft, no number yet)", "Issue date -", "Due date -"}},
		{"no lines, taxes or payments", func(d *invoicepdf.Document) {
			d.Invoice.Lines, d.Invoice.Taxes, d.Payments = nil, nil, nil
		}, []string{"No lines.", "Subtotal 42.02 USD"}},
		{"line without period", func(d *invoicepdf.Document) {
			d.Invoice.Lines[0].PeriodStart, d.Invoice.Lines[0].PeriodEnd = nil, nil
		}, []string{"1 Backup 100 GB (monthly), 2026-12-01 to 2026-12-31 - 3 12.34 37.02"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := renewal()
			tt.change(&d)
			doc := render(t, d)
			for _, r := range tt.rows {
				doc.RequireRow(t, r)
			}
		})
	}
}

func TestFilename(t *testing.T) {
	t.Parallel()
	id := uuid.MustParse("7b6a5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d")
	num := func(s string) *string { return &s }
	tests := []struct {
		number *string
		want   string
	}{
		{num("ACME-2026-000042"), "ACME-2026-000042.pdf"},
		{num(`A"B/C\D E`), "A_B_C_D_E.pdf"},
		{nil, id.String() + ".pdf"},
		{num(""), id.String() + ".pdf"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, invoicepdf.Filename(billing.Invoice{ID: id, Number: tt.number}))
	}
}
