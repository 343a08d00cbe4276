package reconcile

import (
	"context"
	"io"
	"time"

	"github.com/google/uuid"
	"github.com/xuri/excelize/v2"

	"github.com/acronis-platform/platform/internal/errs"
)

// sheetNames are the flags' sheet titles.
var sheetNames = map[string]string{
	FlagOK: "OK", FlagOrphanTenant: "Orphan tenants", FlagMissingTenant: "Missing tenants", FlagStatusMismatch: "Status mismatches",
	FlagQuotaMismatch: "Quota mismatches", FlagUsageMismatch: "Usage mismatches", FlagEditionMismatch: "Edition mismatches",
}

var rowHeader = []any{"Position", "Flag", "Account", "Tenant ID", "Tenant name", "Service ID", "Customer ID", "Partner ID", "Plan ID",
	"Item", "Platform value", "Vendor value", "Detail"}

// WriteXLSX writes a completed report as a workbook: a summary sheet and
// one sheet per flag, exceptions filled red. A report not completed is
// 409 report_not_completed.
func (s *Service) WriteXLSX(ctx context.Context, id uuid.UUID, w io.Writer) error {
	r, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	if r.Status != StatusCompleted {
		return errs.Conflict("report_not_completed", "The report can be downloaded once it is completed.")
	}
	f := excelize.NewFile()
	defer f.Close()
	bold, _ := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	red, _ := f.NewStyle(&excelize.Style{Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"FFC7CE"}},
		Font: &excelize.Font{Color: "9C0006"}})
	dateStyle, _ := f.NewStyle(&excelize.Style{NumFmt: 14})
	pct, _ := f.NewStyle(&excelize.Style{CustomNumFmt: ptr("0.00")})

	// Summary.
	const summary = "Summary"
	f.SetSheetName("Sheet1", summary)
	sw, err := f.NewStreamWriter(summary)
	if err != nil {
		return errs.Internal(err)
	}
	_ = sw.SetColWidth(1, 1, 28)
	_ = sw.SetColWidth(2, 2, 40)
	lines := [][]any{
		{cell(bold, "Reconciliation report"), r.ID.String()},
		{cell(bold, "From"), cell(dateStyle, r.PeriodFrom)},
		{cell(bold, "To"), cell(dateStyle, r.PeriodTo)},
		{cell(bold, "Usage tolerance (%)"), cell(pct, r.TolerancePercent.InexactFloat64())},
		{cell(bold, "Rows compared"), r.RowsCompared},
		{cell(bold, "Finished at"), r.FinishedAt.UTC().Format(time.RFC3339)},
		{},
		{cell(bold, "Flag"), cell(bold, "Rows")},
	}
	counts := r.Counts()
	for _, fl := range Flags {
		var v any = counts[fl]
		if fl != FlagOK && counts[fl] > 0 {
			v = cell(red, counts[fl])
		}
		lines = append(lines, []any{fl, v})
	}
	for i, l := range lines {
		c, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := sw.SetRow(c, l); err != nil {
			return errs.Internal(err)
		}
	}
	if err := sw.Flush(); err != nil {
		return errs.Internal(err)
	}

	// One sheet per flag, in position order, read a page at a time.
	for _, fl := range Flags {
		name := sheetNames[fl]
		if _, err := f.NewSheet(name); err != nil {
			return errs.Internal(err)
		}
		sw, err := f.NewStreamWriter(name)
		if err != nil {
			return errs.Internal(err)
		}
		_ = sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"})
		_ = sw.SetColWidth(3, 12, 22)
		head := make([]any, len(rowHeader))
		for i, h := range rowHeader {
			head[i] = cell(bold, h)
		}
		if err := sw.SetRow("A1", head); err != nil {
			return errs.Internal(err)
		}
		style := 0
		if fl != FlagOK {
			style = red
		}
		n, after := 2, 0
		flag := fl
		for {
			rows, more, err := s.Rows(ctx, id, &flag, after, 5000)
			if err != nil {
				return err
			}
			for _, row := range rows {
				vals := []any{row.Position, row.Flag, row.Account, row.TenantID, row.TenantName, idStr(row.ServiceID), idStr(row.CustomerID),
					idStr(row.PartnerID), idStr(row.PlanID), row.Item, row.PlatformValue, row.VendorValue, string(row.Detail)}
				if style != 0 {
					for i, v := range vals {
						vals[i] = cell(style, v)
					}
				}
				c, _ := excelize.CoordinatesToCellName(1, n)
				if err := sw.SetRow(c, vals); err != nil {
					return errs.Internal(err)
				}
				n++
				after = row.Position
			}
			if !more {
				break
			}
		}
		if err := sw.Flush(); err != nil {
			return errs.Internal(err)
		}
	}
	f.SetActiveSheet(0)
	if _, err := f.WriteTo(w); err != nil {
		return errs.Internal(err)
	}
	return nil
}

func cell(style int, v any) excelize.Cell { return excelize.Cell{StyleID: style, Value: v} }

func idStr(id *uuid.UUID) string {
	if id == nil {
		return ""
	}
	return id.String()
}

func ptr[T any](v T) *T { return &v }
