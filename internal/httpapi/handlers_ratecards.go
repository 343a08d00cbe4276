package httpapi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/page"
	"github.com/acronis-platform/platform/internal/ratecard"
)

// uploadLimits are the operations whose body may be larger than the
// global 1 MiB: the file's limit plus room for the form around it.
var uploadLimits = map[string]int64{"importRateCard": ratecard.MaxFileBytes + 64<<10}

// isUpload skips the global body limit for those operations' routes.
func isUpload(c echo.Context) bool {
	return c.Request().Method == http.MethodPost && c.Path() == "/v1/product-groups/:id/rate-cards"
}

// limitUpload reads an upload's body up to n bytes, refusing a larger one
// with 413 file_too_large before anything else reads it.
func limitUpload(n int64) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			if r.ContentLength > n {
				return ratecard.TooLarge()
			}
			if r.Body != nil {
				body, err := io.ReadAll(io.LimitReader(r.Body, n+1))
				if err != nil {
					return errs.Invalid("body", "malformed", "The request body could not be read.")
				}
				if int64(len(body)) > n {
					return ratecard.TooLarge()
				}
				r.Body = io.NopCloser(bytes.NewReader(body))
			}
			return next(c)
		}
	}
}

func rateCardOut(c ratecard.Card, withRows bool) oapi.RateCard {
	out := oapi.RateCard{Id: c.ID, ProductGroupId: c.ProductGroupID, Year: c.Year, Month: c.Month, Version: c.Version,
		Status: oapi.RateCardStatus(c.Status()), Currency: c.Currency, ExchangeRate: c.ExchangeRate.String(), BaseCurrency: c.BaseCurrency,
		FileName: c.FileName, FileSha256: c.FileSHA256, RowCount: c.RowCount, ImportedBy: c.ImportedBy, Replaces: c.Replaces,
		ReplacedAt: c.ReplacedAt, ReplacedBy: c.ReplacedBy, CreatedAt: c.CreatedAt}
	if withRows {
		rows := make([]oapi.RateCardRow, len(c.Rows))
		for i, r := range c.Rows {
			rows[i] = oapi.RateCardRow{Row: r.Row, Sku: r.SKU, Description: r.Description, Unit: r.Unit, UnitCost: r.UnitCost.String(),
				Basis: oapi.RateCardRowBasis(r.Basis)}
		}
		out.Rows = &rows
	}
	return out
}

func (s *Server) ImportRateCard(ctx context.Context, req oapi.ImportRateCardRequestObject) (oapi.ImportRateCardResponseObject, error) {
	in := ratecard.ImportInput{GroupID: req.Id}
	seen := map[string]bool{}
	for {
		part, err := req.Body.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, errs.Invalid("body", "malformed", "The multipart body could not be read.")
		}
		name := part.FormName()
		if seen[name] {
			return nil, errs.Invalid(name, "duplicate_field", "is sent more than once")
		}
		seen[name] = true
		if name == "file" {
			b, err := io.ReadAll(io.LimitReader(part, ratecard.MaxFileBytes+1))
			if err != nil {
				return nil, errs.Invalid("file", "malformed", "The file could not be read.")
			}
			if len(b) > ratecard.MaxFileBytes {
				return nil, ratecard.TooLarge()
			}
			in.File, in.FileName = b, part.FileName()
			continue
		}
		b, err := io.ReadAll(io.LimitReader(part, 256))
		if err != nil {
			return nil, errs.Invalid(name, "malformed", "could not be read")
		}
		v := strings.TrimSpace(string(b))
		switch name {
		case "month", "year":
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, errs.Invalid(name, "invalid_type", "must be an integer")
			}
			if name == "month" {
				in.Month = n
			} else {
				in.Year = n
			}
		case "currency":
			in.Currency = v
		case "exchange_rate":
			in.ExchangeRate = v
		}
	}
	for _, name := range []string{"file", "month", "year", "currency", "exchange_rate"} {
		if !seen[name] {
			return nil, errs.Invalid(name, "required", "is required")
		}
	}
	c, err := s.rateCards.Import(ctx, principal(ctx), in)
	if err != nil {
		return nil, err
	}
	return oapi.ImportRateCard201JSONResponse(rateCardOut(c, true)), nil
}

func (s *Server) ListProductGroupRateCards(ctx context.Context, req oapi.ListProductGroupRateCardsRequestObject) (oapi.ListProductGroupRateCardsResponseObject, error) {
	limit := page.DefaultLimit
	if l := req.Params.Limit; l != nil {
		if *l < 1 || *l > page.MaxLimit {
			return nil, errs.Invalid("limit", "out_of_range", "limit must be between 1 and 200")
		}
		limit = *l
	}
	f := ratecard.ListFilter{Month: req.Params.Month, Year: req.Params.Year, Limit: limit}
	if req.Params.Status != nil {
		f.Status = string(*req.Params.Status)
	}
	if req.Params.Cursor != nil {
		f.Cursor = *req.Params.Cursor
	}
	cards, next, err := s.rateCards.List(ctx, req.Id, f)
	if err != nil {
		return nil, err
	}
	return oapi.ListProductGroupRateCards200JSONResponse{Data: mapAll(cards, func(c ratecard.Card) oapi.RateCard { return rateCardOut(c, false) }),
		NextCursor: nonEmpty(next), HasMore: next != ""}, nil
}

// GetRateCard answers the card as JSON, or the file as imported: ?format=
// when given, else what Accept negotiated.
func (s *Server) GetRateCard(ctx context.Context, req oapi.GetRateCardRequestObject) (oapi.GetRateCardResponseObject, error) {
	media := negotiated(ctx)
	if f := req.Params.Format; f != nil {
		media = map[oapi.GetRateCardParamsFormat]string{oapi.GetRateCardParamsFormatJson: mediaJSON, oapi.GetRateCardParamsFormatXlsx: mediaXLSX}[*f]
	}
	if media == mediaXLSX {
		b, name, err := s.rateCards.File(ctx, req.Id)
		if err != nil {
			return nil, err
		}
		cd := mime.FormatMediaType("attachment", map[string]string{"filename": name})
		if cd == "" {
			cd = "attachment; filename=rate-card.xlsx"
		}
		return oapi.GetRateCard200ApplicationvndOpenxmlformatsOfficedocumentSpreadsheetmlSheetResponse{Body: bytes.NewReader(b),
			ContentLength: int64(len(b)), Headers: oapi.GetRateCard200ResponseHeaders{ContentDisposition: &cd}}, nil
	}
	c, err := s.rateCards.Get(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	return oapi.GetRateCard200JSONResponse{Body: rateCardOut(c, true)}, nil
}
