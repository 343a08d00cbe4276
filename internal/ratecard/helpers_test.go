package ratecard_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/app/apptest"
	"github.com/acronis-platform/platform/internal/postgres/pgtest"
	"github.com/acronis-platform/platform/internal/ratecard"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// header is the template's header row.
var header = []any{ratecard.ColSKU, ratecard.ColDescription, ratecard.ColUnit, ratecard.ColUnitCost, ratecard.ColBasis}

// book builds a workbook whose data sheet holds rows (the first usually
// the header), and lets edit change it before it is written.
func book(t testing.TB, rows [][]any, edit ...func(f *excelize.File)) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	require.NoError(t, f.SetSheetName("Sheet1", ratecard.DataSheet))
	sw, err := f.NewStreamWriter(ratecard.DataSheet)
	require.NoError(t, err)
	for i, r := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		require.NoError(t, sw.SetRow(cell, r))
	}
	require.NoError(t, sw.Flush())
	for _, e := range edit {
		e(f)
	}
	buf, err := f.WriteToBuffer()
	require.NoError(t, err)
	return buf.Bytes()
}

// rewrite changes the data sheet's XML inside a workbook.
func rewrite(t testing.TB, data []byte, change func(string) string) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	require.NoError(t, err)
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, f := range zr.File {
		r, err := f.Open()
		require.NoError(t, err)
		b, err := io.ReadAll(r)
		require.NoError(t, err)
		if f.Name == "xl/worksheets/sheet1.xml" {
			b = []byte(change(string(b)))
		}
		w, err := zw.Create(f.Name)
		require.NoError(t, err)
		_, err = w.Write(b)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	return out.Bytes()
}

// form is an import's multipart body.
type form struct {
	month, year, currency, rate string
	file                        []byte
	name                        string
}

func goodForm(file []byte) form {
	return form{month: "11", year: "2026", currency: "EUR", rate: "1.08", file: file, name: "card.xlsx"}
}

func (f form) body(t testing.TB) (string, []byte) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for _, kv := range [][2]string{{"month", f.month}, {"year", f.year}, {"currency", f.currency}, {"exchange_rate", f.rate}} {
		require.NoError(t, w.WriteField(kv[0], kv[1]))
	}
	fw, err := w.CreateFormFile("file", f.name)
	require.NoError(t, err)
	_, err = fw.Write(f.file)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return w.FormDataContentType(), b.Bytes()
}

func importCard(t testing.TB, c *oapi.ClientWithResponses, group uuid.UUID, f form, key ...string) *oapi.ImportRateCardResponse {
	t.Helper()
	ct, body := f.body(t)
	params := &oapi.ImportRateCardParams{}
	if len(key) > 0 {
		params.IdempotencyKey = &key[0]
	}
	res, err := c.ImportRateCardWithBodyWithResponse(context.Background(), group, params, ct, bytes.NewReader(body))
	require.NoError(t, err)
	return res
}

// problem is an error answer's body.
type problem struct {
	Code   string `json:"code"`
	Errors []struct {
		Field  string `json:"field"`
		Code   string `json:"code"`
		Row    int    `json:"row"`
		Column string `json:"column"`
	} `json:"errors"`
}

func requireProblem(t testing.TB, status int, body []byte, wantStatus int, wantCode string) problem {
	t.Helper()
	require.Equal(t, wantStatus, status, string(body))
	var p problem
	require.NoError(t, json.Unmarshal(body, &p), string(body))
	require.Equal(t, wantCode, p.Code, string(body))
	return p
}

// newGroup makes a product group with module (acronis or none).
func newGroup(t testing.TB, admin *oapi.ClientWithResponses, module oapi.Module) uuid.UUID {
	t.Helper()
	ctx := context.Background()
	pt, err := admin.CreateProductTypeWithResponse(ctx, nil, oapi.ProductTypeCreate{Name: "T " + uuid.NewString()})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, pt.StatusCode(), string(pt.Body))
	p, err := admin.CreateProductWithResponse(ctx, nil, oapi.ProductCreate{ProductTypeId: pt.JSON201.Id, Name: "P"})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, p.StatusCode(), string(p.Body))
	g, err := admin.CreateProductGroupWithResponse(ctx, nil, oapi.ProductGroupCreate{ProductId: p.JSON201.Id, Name: "G " + uuid.NewString(), Module: module})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, g.StatusCode(), string(g.Body))
	return g.JSON201.Id
}

// stored counts a group's cards and their rows.
func stored(t testing.TB, env *apptest.Env, group uuid.UUID) (cards, rows int) {
	t.Helper()
	require.NoError(t, env.App.DB.Gorm.Raw(`SELECT (SELECT count(*) FROM rate_cards WHERE product_group_id = ?),
		(SELECT count(*) FROM rate_card_rows r JOIN rate_cards c ON c.id = r.rate_card_id WHERE c.product_group_id = ?)`, group, group).
		Row().Scan(&cards, &rows))
	return cards, rows
}

func repeat(s string, n int) string { return strings.Repeat(s, n) }
