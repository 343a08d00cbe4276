package httpapi

import (
	"bytes"
	"context"
	"mime"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/margin"
	"github.com/acronis-platform/platform/internal/money"
)

// GetMarginReport answers the month's margin as JSON, CSV or XLSX:
// ?format= when given, else what Accept negotiated.
func (s *Server) GetMarginReport(ctx context.Context, req oapi.GetMarginReportRequestObject) (oapi.GetMarginReportResponseObject, error) {
	p := margin.Params{Year: req.Params.Year, Month: req.Params.Month}
	if req.Params.GroupBy != nil {
		p.GroupBy = string(*req.Params.GroupBy)
	}
	media := negotiated(ctx)
	if f := req.Params.Format; f != nil {
		media = map[oapi.GetMarginReportParamsFormat]string{oapi.GetMarginReportParamsFormatJson: mediaJSON,
			oapi.GetMarginReportParamsFormatCsv: mediaCSV, oapi.GetMarginReportParamsFormatXlsx: mediaXLSX}[*f]
	}
	r, err := s.margin.Build(ctx, principal(ctx), p)
	if err != nil {
		return nil, err
	}
	attachment := func(ext string) oapi.GetMarginReport200ResponseHeaders {
		return oapi.GetMarginReport200ResponseHeaders{ContentDisposition: ptr(mime.FormatMediaType("attachment", map[string]string{"filename": r.FileName(ext)}))}
	}
	switch media {
	case mediaCSV:
		data, err := r.CSV()
		if err != nil {
			return nil, err
		}
		return oapi.GetMarginReport200TextcsvResponse{Body: bytes.NewReader(data), ContentLength: int64(len(data)), Headers: attachment("csv")}, nil
	case mediaXLSX:
		data, err := r.XLSX()
		if err != nil {
			return nil, err
		}
		return oapi.GetMarginReport200ApplicationvndOpenxmlformatsOfficedocumentSpreadsheetmlSheetResponse{Body: bytes.NewReader(data),
			ContentLength: int64(len(data)), Headers: attachment("xlsx")}, nil
	}
	return oapi.GetMarginReport200JSONResponse{Body: marginReportOut(r)}, nil
}

func marginReportOut(r margin.Report) oapi.MarginReport {
	out := oapi.MarginReport{Year: r.Year, Month: r.Month, GroupBy: oapi.MarginReportGroupBy(r.GroupBy), Currency: r.Currency,
		Rows: make([]oapi.MarginRow, len(r.Rows)), Totals: marginRowOut(r.Totals, r.Currency)}
	for i, row := range r.Rows {
		out.Rows[i] = marginRowOut(row, r.Currency)
	}
	return out
}

func marginRowOut(row margin.Row, currency string) oapi.MarginRow {
	m := func(d money.Amount) oapi.Money { return oapi.Money{Amount: money.String(d), Currency: currency} }
	out := oapi.MarginRow{Group: oapi.MarginGroup{Type: oapi.MarginGroupType(row.Group.Type), Id: row.Group.ID, Name: row.Group.Name},
		Revenue: m(row.Revenue), VendorCost: m(row.VendorCost), Margin: m(row.Margin), Services: row.Services,
		Flags: make([]oapi.MarginRowFlags, len(row.Flags)), RateCards: make([]oapi.MarginRateCard, len(row.Cards)),
		Unpriced: make([]oapi.MarginUnpriced, len(row.Unpriced)), Notes: append([]string{}, row.Notes...)}
	if row.MarginPercent != nil {
		out.MarginPercent = ptr(row.MarginPercent.StringFixed(2))
	}
	for i, f := range row.Flags {
		out.Flags[i] = oapi.MarginRowFlags(f)
	}
	for i, c := range row.Cards {
		out.RateCards[i] = oapi.MarginRateCard{ProductGroupId: c.ProductGroupID, RateCardId: c.ID, Version: c.Version, Currency: c.Currency,
			ExchangeRate: c.ExchangeRate.String()}
	}
	for i, u := range row.Unpriced {
		out.Unpriced[i] = oapi.MarginUnpriced{Item: u.Item, Unit: u.Unit, Quantity: u.Quantity.String(), Services: u.Services,
			Reason: oapi.MarginUnpricedReason(u.Reason)}
	}
	return out
}
