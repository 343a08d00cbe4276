package simulation

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	openapi_types "github.com/oapi-codegen/runtime/types"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/app/apptest"
	"github.com/acronis-platform/platform/internal/clock"
)

// TestInvariantsCatchBreaks feeds the invoice checks hand-made breaks, so
// a check that silently passes everything fails here.
func TestInvariantsCatchBreaks(t *testing.T) {
	venture, svc, partnerID := uuid.New(), uuid.New(), uuid.New()
	day := func(d int) *openapi_types.Date {
		return &openapi_types.Date{Time: time.Date(2028, 3, d, 0, 0, 0, 0, time.UTC)}
	}
	line := func(kind oapi.InvoiceLineKind, from, to int, amount string) oapi.InvoiceLine {
		return oapi.InvoiceLine{Kind: kind, ServiceId: &svc, PeriodStart: day(from), PeriodEnd: day(to), Quantity: "1", UnitPrice: usd(amount),
			Amount: usd(amount), Detail: map[string]any{}}
	}
	invoice := func(number string, kind oapi.InvoiceKind, lines ...oapi.InvoiceLine) oapi.Invoice {
		sum := "0.00"
		if len(lines) == 1 {
			sum = lines[0].Amount.Amount
		}
		return oapi.Invoice{Id: uuid.New(), Number: &number, VentureId: venture, Kind: kind, Status: oapi.InvoiceStatusUnpaid, Lines: &lines,
			Taxes: &[]oapi.InvoiceTax{}, Payments: &[]oapi.Payment{}, Subtotal: usd(sum), TaxTotal: usd("0.00"), Total: usd(sum), Balance: usd(sum),
			AmountPaid: usd("0.00")}
	}
	broken := func(check func(*sim)) []string {
		s := &sim{t: t, env: &apptest.Env{Clock: clock.NewManual(start)}, reported: map[string]bool{}}
		check(s)
		var names []string
		for _, f := range s.breaks {
			names = append(names, f.invariant)
		}
		return names
	}

	first := invoice("A-2028-000001", oapi.InvoiceKindRenewal, line(oapi.InvoiceLineKindRecurring, 1, 31, "10.00"))
	require.Empty(t, broken(func(s *sim) { s.checkArithmetic(first) }), "a sound invoice")
	bad := first
	bad.Subtotal = usd("9.00")
	require.Contains(t, broken(func(s *sim) { s.checkArithmetic(bad) }), "invoice_arithmetic")

	third := invoice("A-2028-000003", oapi.InvoiceKindRenewal, line(oapi.InvoiceLineKindRecurring, 15, 20, "1.00"))
	require.Contains(t, broken(func(s *sim) { s.checkNumbers([]oapi.Invoice{first, third}) }), "numbering", "a gap")
	require.Equal(t, []string{"billed_once"}, broken(func(s *sim) { s.checkPeriods([]oapi.Invoice{first, third}) }))
	credit := invoice("A-2028-000002", oapi.InvoiceKindAdjustment, line(oapi.InvoiceLineKindCredit, 15, 31, "-2.00"))
	require.Empty(t, broken(func(s *sim) { s.checkPeriods([]oapi.Invoice{first, third, credit}) }), "days given back by a credit line")
	over1 := invoice("A-2028-000004", oapi.InvoiceKindOverage, line(oapi.InvoiceLineKindOverage, 1, 14, "3.00"))
	over2 := invoice("A-2028-000005", oapi.InvoiceKindPostpaid, line(oapi.InvoiceLineKindOverage, 1, 31, "5.00"))
	require.Equal(t, []string{"overage_once"}, broken(func(s *sim) { s.checkPeriods([]oapi.Invoice{over1, over2}) }))

	sale := invoice("P1-2028-000001", oapi.InvoiceKindRenewal, line(oapi.InvoiceLineKindRecurring, 1, 31, "12.00"))
	sale.IssuerPartnerId = &partnerID
	require.Equal(t, []string{"partner_pairs"}, broken(func(s *sim) {
		s.partners = []*seller{{id: partnerID}}
		s.checkPairs([]oapi.Invoice{sale})
	}), "no SP bill to the partner at cost")
}

// TestReportTablesCatchDifferences: the report_formats comparison finds a
// changed cell, a missing row, and takes a spreadsheet's float for the
// decimal it shows.
func TestReportTablesCatchDifferences(t *testing.T) {
	t.Parallel()
	usage, unit, agg := "12.5", "GB", oapi.Max
	rep := oapi.UsageReport{Kind: oapi.UsageReportKind(oapi.GetServiceUsageReportParamsKindSummary), Summary: &[]oapi.UsageSummaryRow{
		{Type: oapi.UsageSummaryRowTypePlan, Item: "Standard", Amount: usd("10.00"), Invoices: []string{"A-2028-000001"}, QuantityMin: 1, QuantityMax: 2},
		{Type: oapi.UsageSummaryRowTypeItem, Item: "pw_base_storage", Unit: &unit, Aggregation: &agg, Usage: &usage, Amount: usd("0.00"), Invoices: []string{}},
	}}
	want := reportTable(rep)
	csv := "type,item,unit,aggregation,usage,quantity_min,quantity_max,soft_quota_min,soft_quota_max,hard_quota_min,hard_quota_max,overage_gb,amount,currency,invoices\r\n" +
		"plan,Standard,,,,1,2,,,,,0,10.00,USD,A-2028-000001\r\n" +
		"item,pw_base_storage,GB,max,12.5,0,0,,,,,0,0.00,USD,\r\n"
	got, err := csvTable([]byte(csv))
	require.NoError(t, err)
	require.Empty(t, tableDiff(want, got, false))
	changed, _ := csvTable([]byte(strings.Replace(csv, "10.00", "10.01", 1)))
	require.Contains(t, tableDiff(want, changed, false), "column amount")
	require.Contains(t, tableDiff(want, got[:2], false), "rows")
	float := [][]string{want[0], want[1], slices.Clone(want[2])}
	float[2][4] = "12.500000000001"
	require.Empty(t, tableDiff(want, float, true), "a spreadsheet's float")
	require.NotEmpty(t, tableDiff(want, float, false))
}
