package margin

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"

	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/money"
)

// Columns of the CSV and of the XLSX's Margin sheet; UnpricedColumns of
// its Unpriced sheet.
var (
	Columns = []string{"group_type", "group_id", "group_name", "revenue", "vendor_cost", "margin", "margin_percent", "currency",
		"services", "flags", "rate_cards", "unpriced", "notes"}
	UnpricedColumns = []string{"group_type", "group_id", "group_name", "item", "unit", "quantity", "services", "reason"}
)

// Sheet names.
const (
	SheetMargin   = "Margin"
	SheetUnpriced = "Unpriced"
)

// FileName names a report's file.
func (r Report) FileName(ext string) string {
	return fmt.Sprintf("margin-%04d-%02d-%s.%s", r.Year, r.Month, r.GroupBy, ext)
}

// all is the rows then the totals.
func (r Report) all() []Row { return append(append([]Row{}, r.Rows...), r.Totals) }

func (g Group) id() string {
	if g.ID == nil {
		return ""
	}
	return g.ID.String()
}

func percentText(p *decimal.Decimal) string {
	if p == nil {
		return ""
	}
	return p.StringFixed(2)
}

// CardText is a card as one cell: "<id> v<version> <currency> <rate>".
func CardText(c Card) string {
	return fmt.Sprintf("%s v%d %s %s", c.ID, c.Version, c.Currency, c.ExchangeRate.String())
}

// UnpricedText is an unpriced item as one cell.
func UnpricedText(u Unpriced) string {
	return fmt.Sprintf("%s %s %s on %d services (%s)", u.Item, u.Quantity.String(), u.Unit, u.Services, u.Reason)
}

func joined[T any](xs []T, f func(T) string) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = f(x)
	}
	return strings.Join(parts, "; ")
}

// CSV is the report as RFC 4180 CSV in UTF-8 with a header row and CRLF
// line ends: a row per group, then the totals. Lists are joined with "; ".
func (r Report) CSV() ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.UseCRLF = true
	_ = w.Write(Columns)
	for _, row := range r.all() {
		_ = w.Write([]string{row.Group.Type, row.Group.id(), row.Group.Name, money.String(row.Revenue), money.String(row.VendorCost),
			money.String(row.Margin), percentText(row.MarginPercent), r.Currency, strconv.Itoa(row.Services),
			strings.Join(row.Flags, " "), joined(row.Cards, CardText), joined(row.Unpriced, UnpricedText), strings.Join(row.Notes, "; ")})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return nil, errs.Internal(err)
	}
	return buf.Bytes(), nil
}

// XLSX is the report as a workbook: a Margin sheet (a row per group, then
// the totals; money as numbers with two places, the margin as a percent)
// and an Unpriced sheet (an unpriced item per row and group), headers
// frozen.
func (r Report) XLSX() ([]byte, error) {
	f := excelize.NewFile()
	defer func() { _ = f.Close() }()
	if err := r.xlsx(f); err != nil {
		return nil, errs.Internal(err)
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		return nil, errs.Internal(err)
	}
	return buf.Bytes(), nil
}

func (r Report) xlsx(f *excelize.File) error {
	moneyFmt, pctFmt := "0.00", "0.00\\%"
	header, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	if err != nil {
		return err
	}
	money2, err := f.NewStyle(&excelize.Style{CustomNumFmt: &moneyFmt})
	if err != nil {
		return err
	}
	// The percent is stored as the report's number (83.41), shown with a
	// percent sign, so the cell holds the same figure as JSON and CSV.
	pct, err := f.NewStyle(&excelize.Style{CustomNumFmt: &pctFmt})
	if err != nil {
		return err
	}
	if err := f.SetSheetName("Sheet1", SheetMargin); err != nil {
		return err
	}
	if _, err := f.NewSheet(SheetUnpriced); err != nil {
		return err
	}
	start := func(sheet string, cols []string) (*excelize.StreamWriter, error) {
		sw, err := f.NewStreamWriter(sheet)
		if err != nil {
			return nil, err
		}
		if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
			return nil, err
		}
		if err := sw.SetColWidth(2, 3, 38); err != nil {
			return nil, err
		}
		head := make([]any, len(cols))
		for i, c := range cols {
			head[i] = excelize.Cell{StyleID: header, Value: c}
		}
		return sw, sw.SetRow("A1", head)
	}
	sw, err := start(SheetMargin, Columns)
	if err != nil {
		return err
	}
	for i, row := range r.all() {
		var p any
		if row.MarginPercent != nil {
			p = excelize.Cell{StyleID: pct, Value: number(*row.MarginPercent)}
		}
		cell, _ := excelize.CoordinatesToCellName(1, i+2)
		if err := sw.SetRow(cell, []any{row.Group.Type, row.Group.id(), row.Group.Name,
			excelize.Cell{StyleID: money2, Value: number(row.Revenue)}, excelize.Cell{StyleID: money2, Value: number(row.VendorCost)},
			excelize.Cell{StyleID: money2, Value: number(row.Margin)}, p, r.Currency, row.Services,
			strings.Join(row.Flags, " "), joined(row.Cards, CardText), joined(row.Unpriced, UnpricedText), strings.Join(row.Notes, "; ")}); err != nil {
			return err
		}
	}
	if err := sw.Flush(); err != nil {
		return err
	}
	sw, err = start(SheetUnpriced, UnpricedColumns)
	if err != nil {
		return err
	}
	n := 2
	for _, row := range r.all() {
		for _, u := range row.Unpriced {
			cell, _ := excelize.CoordinatesToCellName(1, n)
			if err := sw.SetRow(cell, []any{row.Group.Type, row.Group.id(), row.Group.Name, u.Item, u.Unit, number(u.Quantity),
				u.Services, u.Reason}); err != nil {
				return err
			}
			n++
		}
	}
	return sw.Flush()
}

// number is a decimal as a spreadsheet number.
func number(d decimal.Decimal) float64 {
	v, _ := d.Float64()
	return v
}
