package usagereport

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"

	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/money"
)

// Columns of each kind, the same in CSV and XLSX.
var (
	SummaryColumns = []string{"type", "item", "unit", "aggregation", "usage", "quantity_min", "quantity_max",
		"soft_quota_min", "soft_quota_max", "hard_quota_min", "hard_quota_max", "overage_gb", "amount", "currency", "invoices"}
	DailyColumns = []string{"day", "item", "unit", "value", "quantity", "soft_quota", "hard_quota", "overage_gb"}
)

// FileName names a report's file.
func (r Report) FileName(ext string) string {
	return fmt.Sprintf("usage-%s-%s-%s-%s.%s", r.ServiceID, r.Kind, r.From.Format(time.DateOnly), r.To.Format(time.DateOnly), ext)
}

func intText(v *int64) string {
	if v == nil {
		return ""
	}
	return strconv.FormatInt(*v, 10)
}

// CSV is the report as RFC 4180 CSV in UTF-8 with a header row (CRLF line
// ends); an empty cell is no value (unlimited quota, no usage reported).
func (r Report) CSV() ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.UseCRLF = true
	if r.Kind == KindDaily {
		_ = w.Write(DailyColumns)
		for _, d := range r.Daily {
			_ = w.Write([]string{d.Day.Format(time.DateOnly), d.Item, d.Unit, intText(d.Value), strconv.Itoa(d.Quantity),
				intText(d.Soft), intText(d.Hard), strconv.FormatInt(d.OverageGB, 10)})
		}
	} else {
		_ = w.Write(SummaryColumns)
		for _, s := range r.Summary {
			usage := ""
			if s.Usage != nil {
				usage = s.Usage.String()
			}
			_ = w.Write([]string{s.Type, s.Item, s.Unit, s.Aggregation, usage, strconv.Itoa(s.QuantityMin), strconv.Itoa(s.QuantityMax),
				intText(s.SoftMin), intText(s.SoftMax), intText(s.HardMin), intText(s.HardMax), strconv.FormatInt(s.OverageGB, 10),
				money.String(s.Amount), r.Currency, strings.Join(s.Invoices, " ")})
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return nil, errs.Internal(err)
	}
	return buf.Bytes(), nil
}

// Sheet names.
const (
	SheetSummary = "Summary"
	SheetDaily   = "Daily"
)

// XLSX is the report as a workbook: a sheet of its kind first and, when
// the report holds both, a sheet of the other kind. Typed cells (numbers,
// dates, money with two places), the header frozen, and on the daily sheet
// a line chart of storage per day against its soft and hard quota.
func (r Report) XLSX() ([]byte, error) {
	f := excelize.NewFile()
	defer func() { _ = f.Close() }()
	st, err := newStyles(f)
	if err != nil {
		return nil, errs.Internal(err)
	}
	sheets := []string{SheetSummary, SheetDaily}
	if r.Kind == KindDaily {
		sheets = []string{SheetDaily, SheetSummary}
	}
	for i, sheet := range sheets {
		if i > 0 && (sheet == SheetDaily && r.Daily == nil || sheet == SheetSummary && r.Summary == nil) {
			continue
		}
		if i == 0 {
			err = f.SetSheetName("Sheet1", sheet)
		} else {
			_, err = f.NewSheet(sheet)
		}
		if err == nil && sheet == SheetDaily {
			err = r.dailySheet(f, st)
		} else if err == nil {
			err = r.summarySheet(f, st)
		}
		if err != nil {
			return nil, errs.Internal(err)
		}
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		return nil, errs.Internal(err)
	}
	return buf.Bytes(), nil
}

// styles are a workbook's cell styles.
type styles struct{ header, date, money int }

func newStyles(f *excelize.File) (st styles, err error) {
	dateFmt, moneyFmt := "yyyy-mm-dd", "0.00"
	if st.header, err = f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}}); err != nil {
		return st, err
	}
	if st.date, err = f.NewStyle(&excelize.Style{CustomNumFmt: &dateFmt}); err != nil {
		return st, err
	}
	st.money, err = f.NewStyle(&excelize.Style{CustomNumFmt: &moneyFmt})
	return st, err
}

// startSheet opens a stream on sheet with its header row, frozen.
func startSheet(f *excelize.File, sheet string, cols []string, st styles) (*excelize.StreamWriter, error) {
	sw, err := f.NewStreamWriter(sheet)
	if err != nil {
		return nil, err
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return nil, err
	}
	if err := sw.SetColWidth(1, 1, 12); err != nil {
		return nil, err
	}
	if err := sw.SetColWidth(2, 2, 24); err != nil {
		return nil, err
	}
	head := make([]any, len(cols))
	for i, c := range cols {
		head[i] = excelize.Cell{StyleID: st.header, Value: c}
	}
	return sw, sw.SetRow("A1", head)
}

func num(v *int64) any {
	if v == nil {
		return nil
	}
	return *v
}

func (r Report) summarySheet(f *excelize.File, st styles) error {
	sw, err := startSheet(f, SheetSummary, SummaryColumns, st)
	if err != nil {
		return err
	}
	for i, s := range r.Summary {
		var usage any
		if s.Usage != nil {
			usage = decimalCell(*s.Usage)
		}
		cell, _ := excelize.CoordinatesToCellName(1, i+2)
		if err := sw.SetRow(cell, []any{s.Type, s.Item, s.Unit, s.Aggregation, usage, s.QuantityMin, s.QuantityMax,
			num(s.SoftMin), num(s.SoftMax), num(s.HardMin), num(s.HardMax), s.OverageGB,
			excelize.Cell{StyleID: st.money, Value: decimalCell(s.Amount)}, r.Currency, strings.Join(s.Invoices, " ")}); err != nil {
			return err
		}
	}
	return sw.Flush()
}

func (r Report) dailySheet(f *excelize.File, st styles) error {
	const sheet = SheetDaily
	sw, err := startSheet(f, sheet, DailyColumns, st)
	if err != nil {
		return err
	}
	// The storage item's rows (together: rows go item by item), for the chart.
	first, last := 0, 0
	for i, d := range r.Daily {
		row := i + 2
		cell, _ := excelize.CoordinatesToCellName(1, row)
		if err := sw.SetRow(cell, []any{excelize.Cell{StyleID: st.date, Value: d.Day}, d.Item, d.Unit, num(d.Value), d.Quantity,
			num(d.Soft), num(d.Hard), d.OverageGB}); err != nil {
			return err
		}
		if d.Item == r.StorageItem && r.StorageItem != "" {
			if first == 0 {
				first = row
			}
			last = row
		}
	}
	if err := sw.Flush(); err != nil {
		return err
	}
	if first == 0 {
		return nil
	}
	rng := func(col string) string { return fmt.Sprintf("'%s'!$%s$%d:$%s$%d", sheet, col, first, col, last) }
	head := func(col string) string { return fmt.Sprintf("'%s'!$%s$1", sheet, col) }
	cats := rng("A")
	return f.AddChart(sheet, "J2", &excelize.Chart{
		Type: excelize.Line,
		Series: []excelize.ChartSeries{
			// A series is named by a cell: its column's header.
			{Name: head("D"), Categories: cats, Values: rng("D")},
			{Name: head("F"), Categories: cats, Values: rng("F")},
			{Name: head("G"), Categories: cats, Values: rng("G")},
		},
		Title:        excelize.ChartTitle{Paragraph: []excelize.RichTextRun{{Text: r.StorageItem + " per day (GB)"}}},
		Legend:       excelize.ChartLegend{Position: "bottom"},
		Dimension:    excelize.ChartDimension{Width: 720, Height: 360},
		ShowBlanksAs: "gap",
	})
}

// decimalCell is a decimal as a spreadsheet number.
func decimalCell(d decimal.Decimal) float64 {
	v, _ := d.Float64()
	return v
}
