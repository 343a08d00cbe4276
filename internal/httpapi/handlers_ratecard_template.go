package httpapi

import (
	"bytes"
	"context"
	"mime"
	"time"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/ratecard"
)

// rateCardVendorWait bounds the live read of the vendor's offering items:
// past it the template lists what the platform knows.
const rateCardVendorWait = 5 * time.Second

// GetRateCardTemplate answers the rate card template workbook.
func (s *Server) GetRateCardTemplate(ctx context.Context, _ oapi.GetRateCardTemplateRequestObject) (oapi.GetRateCardTemplateResponseObject, error) {
	t, err := ratecard.NewTemplate(ctx, s.db, s.rateCardVendor, rateCardVendorWait, s.currency, s.clk.Now())
	if err != nil {
		return nil, err
	}
	data, err := t.XLSX()
	if err != nil {
		return nil, err
	}
	return oapi.GetRateCardTemplate200ApplicationvndOpenxmlformatsOfficedocumentSpreadsheetmlSheetResponse{Body: bytes.NewReader(data),
		ContentLength: int64(len(data)), Headers: oapi.GetRateCardTemplate200ResponseHeaders{
			ContentDisposition:   ptr(mime.FormatMediaType("attachment", map[string]string{"filename": "rate-card-template.xlsx"})),
			XOfferingItemsSource: t.Source}}, nil
}
