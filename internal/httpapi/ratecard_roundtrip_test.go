package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/acronis/sim"
	"github.com/acronis-platform/platform/internal/app/apptest"
	"github.com/acronis-platform/platform/internal/ratecard"
)

// filledRow is a data sheet row as a program fills it: cost is the number
// written (or the cached value of formula), want the stored unit cost.
type filledRow struct {
	sku, description, unit string
	cost                   float64
	formula                string
	basis                  string // "" leaves the cell empty
	want                   oapi.RateCardRow
}

// TestRateCardTemplateRoundTrip downloads the template, fills its data
// sheet the way a program does (excelize, into the template itself: its
// validations, styles and other sheets stay) and imports it.
func TestRateCardTemplateRoundTrip(t *testing.T) {
	t.Parallel()
	vendor := sim.New(sim.Options{ClientID: "sp-client", ClientSecret: "sp-secret", Seed: 1})
	vsrv := httptest.NewServer(vendor)
	t.Cleanup(vsrv.Close)
	require.NoError(t, vendor.SetSPOfferingItems([]string{"pw_base_storage", "pw_base_workstations", "pw_base_m365_mailboxes", "fc_seats"}))
	cfg := apptest.Config(t)
	cfg.AcronisURL, cfg.AcronisClientID, cfg.AcronisClientSecret = vsrv.URL, "sp-client", "sp-secret"
	env := apptest.Start(t, cfg)
	admin, _ := env.Admin(t)
	group := roundTripGroup(t, admin)

	// The SKU drop-down's list, read from the template as a program would.
	list := dropDown(t, downloadTemplate(t, env).file)
	require.Equal(t, []string{"fc_seats", "pw_base_m365_mailboxes", "pw_base_storage", "pw_base_workstations"}, list)

	t.Run("filled by a program, imports cleanly", func(t *testing.T) {
		t.Parallel()
		var rows []filledRow
		// Every unit, both bases (and the empty one, usage), costs with 6 places.
		for i, unit := range ratecard.Units {
			sku := "sku-" + strings.ReplaceAll(unit, " ", "-")
			if unit == "GB" {
				sku = list[2] // pw_base_storage, from the drop-down
			}
			basis, want := []string{ratecard.BasisUsage, ratecard.BasisQuota, ""}[i%3], oapi.RateCardRowBasisUsage
			if basis == ratecard.BasisQuota {
				want = oapi.RateCardRowBasisQuota
			}
			cost := float64(i*1000003+123456) / 1e6 // e.g. 0.123456, 1.123459
			rows = append(rows, filledRow{sku: sku, description: "Vendor price of " + unit, unit: unit, cost: cost, basis: basis,
				want: oapi.RateCardRow{Sku: sku, Description: "Vendor price of " + unit, Unit: unit, UnitCost: decimal.NewFromFloat(cost).String(), Basis: want}})
		}
		// A formula with the value a spreadsheet saves with it.
		rows = append(rows, filledRow{sku: list[3], description: "Workstations at a tenth off", unit: "workstation",
			cost: 2.025, formula: "ROUND(2.25*0.9,6)", basis: ratecard.BasisQuota,
			want: oapi.RateCardRow{Sku: list[3], Description: "Workstations at a tenth off", Unit: "workstation", UnitCost: "2.025", Basis: oapi.RateCardRowBasisQuota}})

		file := fillTemplate(t, downloadTemplate(t, env).file, rows)
		res := importTemplate(t, admin, group, "11", file)
		require.Equal(t, http.StatusCreated, res.StatusCode(), string(res.Body))
		want := make([]oapi.RateCardRow, len(rows))
		for i, r := range rows {
			want[i] = r.want
			want[i].Row = i + 2
		}
		require.Equal(t, len(rows), res.JSON201.RowCount)
		require.Equal(t, want, *res.JSON201.Rows)

		got, err := admin.GetRateCardWithResponse(context.Background(), res.JSON201.Id, &oapi.GetRateCardParams{})
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, got.StatusCode(), string(got.Body))
		require.Equal(t, want, *got.JSON200.Rows, "the stored rows are the ones filled")
	})

	t.Run("formula without a saved value is refused at its cell", func(t *testing.T) {
		t.Parallel()
		rows := []filledRow{
			{sku: list[2], unit: "GB", cost: 0.021, basis: ratecard.BasisUsage},
			{sku: list[3], unit: "workstation", formula: "1.5*2", basis: ratecard.BasisQuota},
		}
		file := fillTemplate(t, downloadTemplate(t, env).file, rows)
		res := importTemplate(t, admin, group, "10", file)
		require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode(), string(res.Body))
		var p struct {
			Code   string `json:"code"`
			Errors []struct {
				Field  string `json:"field"`
				Code   string `json:"code"`
				Row    int    `json:"row"`
				Column string `json:"column"`
			} `json:"errors"`
		}
		require.NoError(t, json.Unmarshal(res.Body, &p), string(res.Body))
		require.Equal(t, "rate_card_invalid", p.Code)
		require.Len(t, p.Errors, 1, string(res.Body))
		require.Equal(t, "formula_without_value", p.Errors[0].Code)
		require.Equal(t, 3, p.Errors[0].Row)
		require.Equal(t, "D", p.Errors[0].Column)
		require.Equal(t, "rows[3].unit_cost", p.Errors[0].Field)

		list, err := admin.ListProductGroupRateCardsWithResponse(context.Background(), group, &oapi.ListProductGroupRateCardsParams{Month: ptr(10), Year: ptr(2026)})
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, list.StatusCode(), string(list.Body))
		require.Empty(t, list.JSON200.Data, "nothing stored")
	})
}

// dropDown is the SKU column's list of offering items: the range its data
// validation names, read from the offering sheet.
func dropDown(t *testing.T, f *excelize.File) []string {
	t.Helper()
	dvs, err := f.GetDataValidations(ratecard.DataSheet)
	require.NoError(t, err)
	for _, dv := range dvs {
		if !strings.HasPrefix(dv.Sqref, "A2:") {
			continue
		}
		sheet, area, ok := strings.Cut(dv.Formula1, "!")
		require.True(t, ok, dv.Formula1)
		sheet = strings.Trim(sheet, "'")
		from, to, ok := strings.Cut(strings.ReplaceAll(area, "$", ""), ":")
		require.True(t, ok, dv.Formula1)
		_, r1, err := excelize.CellNameToCoordinates(from)
		require.NoError(t, err)
		_, r2, err := excelize.CellNameToCoordinates(to)
		require.NoError(t, err)
		var out []string
		for r := r1; r <= r2; r++ {
			cell, _ := excelize.CoordinatesToCellName(1, r)
			v, err := f.GetCellValue(sheet, cell)
			require.NoError(t, err)
			out = append(out, v)
		}
		return out
	}
	t.Fatal("no drop-down on the SKU column")
	return nil
}

// fillTemplate writes rows below the template's header, each cell typed
// as a spreadsheet saves it, and returns the workbook.
func fillTemplate(t *testing.T, f *excelize.File, rows []filledRow) []byte {
	t.Helper()
	sheet := ratecard.DataSheet
	for i, r := range rows {
		n := i + 2
		cell := func(col string) string { return col + strconv.Itoa(n) }
		require.NoError(t, f.SetCellStr(sheet, cell("A"), r.sku))
		if r.description != "" {
			require.NoError(t, f.SetCellStr(sheet, cell("B"), r.description))
		}
		require.NoError(t, f.SetCellStr(sheet, cell("C"), r.unit))
		if r.cost != 0 {
			require.NoError(t, f.SetCellFloat(sheet, cell("D"), r.cost, -1, 64))
		}
		if r.formula != "" { // keeps the value set above as the cached one
			require.NoError(t, f.SetCellFormula(sheet, cell("D"), r.formula))
		}
		if r.basis != "" {
			require.NoError(t, f.SetCellStr(sheet, cell("E"), r.basis))
		}
	}
	buf, err := f.WriteToBuffer()
	require.NoError(t, err)
	return buf.Bytes()
}

func importTemplate(t *testing.T, c *oapi.ClientWithResponses, group uuid.UUID, month string, file []byte) *oapi.ImportRateCardResponse {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for _, kv := range [][2]string{{"month", month}, {"year", "2026"}, {"currency", "EUR"}, {"exchange_rate", "1.08"}} {
		require.NoError(t, w.WriteField(kv[0], kv[1]))
	}
	fw, err := w.CreateFormFile("file", "rate-card-template.xlsx")
	require.NoError(t, err)
	_, err = fw.Write(file)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	res, err := c.ImportRateCardWithBodyWithResponse(context.Background(), group, &oapi.ImportRateCardParams{}, w.FormDataContentType(), &b)
	require.NoError(t, err)
	return res
}

func roundTripGroup(t *testing.T, admin *oapi.ClientWithResponses) uuid.UUID {
	t.Helper()
	ctx := context.Background()
	pt, err := admin.CreateProductTypeWithResponse(ctx, nil, oapi.ProductTypeCreate{Name: "Rate card round trip " + uuid.NewString()})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, pt.StatusCode(), string(pt.Body))
	p, err := admin.CreateProductWithResponse(ctx, nil, oapi.ProductCreate{ProductTypeId: pt.JSON201.Id, Name: "Cyber Protect"})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, p.StatusCode(), string(p.Body))
	g, err := admin.CreateProductGroupWithResponse(ctx, nil, oapi.ProductGroupCreate{ProductId: p.JSON201.Id, Name: "Backup " + uuid.NewString(), Module: oapi.Acronis})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, g.StatusCode(), string(g.Body))
	return g.JSON201.Id
}
