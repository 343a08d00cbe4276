package httpapi

import (
	"bytes"
	"context"
	"mime"

	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/money"
	"github.com/acronis-platform/platform/internal/usagereport"
)

// GetServiceUsageReport answers the report as JSON, CSV or XLSX: ?format=
// when given, else what Accept negotiated.
func (s *Server) GetServiceUsageReport(ctx context.Context, req oapi.GetServiceUsageReportRequestObject) (oapi.GetServiceUsageReportResponseObject, error) {
	p := usagereport.Params{}
	if req.Params.Kind != nil {
		p.Kind = string(*req.Params.Kind)
	}
	if req.Params.From != nil {
		p.From = &req.Params.From.Time
	}
	if req.Params.To != nil {
		p.To = &req.Params.To.Time
	}
	media := negotiated(ctx)
	if f := req.Params.Format; f != nil {
		media = map[oapi.GetServiceUsageReportParamsFormat]string{oapi.GetServiceUsageReportParamsFormatJson: mediaJSON, oapi.GetServiceUsageReportParamsFormatCsv: mediaCSV,
			oapi.GetServiceUsageReportParamsFormatXlsx: mediaXLSX}[*f]
	}
	p.Both = media == mediaXLSX
	r, err := s.usageReports.Build(ctx, principal(ctx), req.Id, p)
	if err != nil {
		return nil, err
	}
	switch media {
	case mediaCSV:
		data, err := r.CSV()
		if err != nil {
			return nil, err
		}
		h := oapi.GetServiceUsageReport200ResponseHeaders{ContentDisposition: ptr(mime.FormatMediaType("attachment", map[string]string{"filename": r.FileName("csv")}))}
		return oapi.GetServiceUsageReport200TextcsvResponse{Body: bytes.NewReader(data), ContentLength: int64(len(data)), Headers: h}, nil
	case mediaXLSX:
		data, err := r.XLSX()
		if err != nil {
			return nil, err
		}
		h := oapi.GetServiceUsageReport200ResponseHeaders{ContentDisposition: ptr(mime.FormatMediaType("attachment", map[string]string{"filename": r.FileName("xlsx")}))}
		return oapi.GetServiceUsageReport200ApplicationvndOpenxmlformatsOfficedocumentSpreadsheetmlSheetResponse{Body: bytes.NewReader(data),
			ContentLength: int64(len(data)), Headers: h}, nil
	}
	return oapi.GetServiceUsageReport200JSONResponse{Body: usageReportOut(r)}, nil
}

func usageReportOut(r usagereport.Report) oapi.UsageReport {
	out := oapi.UsageReport{ServiceId: r.ServiceID, PlanId: r.PlanID, PlanName: r.PlanName, Kind: oapi.UsageReportKind(r.Kind),
		From: openapi_types.Date{Time: r.From}, To: openapi_types.Date{Time: r.To}, Currency: r.Currency}
	if r.StorageItem != "" {
		out.StorageItem = ptr(r.StorageItem)
	}
	nonEmpty := func(v string) *string {
		if v == "" {
			return nil
		}
		return &v
	}
	if r.Kind == usagereport.KindDaily {
		rows := make([]oapi.UsageDailyRow, len(r.Daily))
		for i, d := range r.Daily {
			rows[i] = oapi.UsageDailyRow{Day: openapi_types.Date{Time: d.Day}, Item: d.Item, Unit: nonEmpty(d.Unit), Value: d.Value,
				Quantity: d.Quantity, SoftQuota: d.Soft, HardQuota: d.Hard, OverageGb: d.OverageGB}
		}
		out.Daily = &rows
		return out
	}
	rows := make([]oapi.UsageSummaryRow, len(r.Summary))
	for i, sr := range r.Summary {
		row := oapi.UsageSummaryRow{Type: oapi.UsageSummaryRowType(sr.Type), Item: sr.Item, Unit: nonEmpty(sr.Unit),
			QuantityMin: sr.QuantityMin, QuantityMax: sr.QuantityMax, SoftQuotaMin: sr.SoftMin, SoftQuotaMax: sr.SoftMax,
			HardQuotaMin: sr.HardMin, HardQuotaMax: sr.HardMax, OverageGb: sr.OverageGB,
			Amount: oapi.Money{Amount: money.String(sr.Amount), Currency: r.Currency}, Invoices: append([]string{}, sr.Invoices...)}
		if sr.Aggregation != "" {
			row.Aggregation = ptr(oapi.Aggregation(sr.Aggregation))
		}
		if sr.Usage != nil {
			row.Usage = ptr(sr.Usage.String())
		}
		rows[i] = row
	}
	out.Summary = &rows
	return out
}
