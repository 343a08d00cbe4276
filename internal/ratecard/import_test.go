package ratecard_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/app/apptest"
	"github.com/acronis-platform/platform/internal/ratecard"
)

// goodBook is a valid card: a number, a decimal string, a formula with
// its saved value and a float that shows as 0.3.
func goodBook(t testing.TB) []byte {
	return book(t, [][]any{
		header,
		{"pw_base_storage", "Backup storage", "GB", 0.021, "usage"},
		{"workstations", "Workstation backup", "Workstation", "1.75", "Quota"},
		{"servers", "", "server", excelize.Cell{Formula: "4*2.5", Value: 10}, ""},
		{"mailboxes", "Mailbox backup", "mailbox", 0.1 + 0.2},
	})
}

func TestImportRateCard(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	admin, _ := env.Admin(t)
	ctx := context.Background()
	group := newGroup(t, admin, oapi.Acronis)
	file := goodBook(t)

	res := importCard(t, admin, group, goodForm(file))
	require.Equal(t, http.StatusCreated, res.StatusCode(), string(res.Body))
	first := res.JSON201
	require.Equal(t, 1, first.Version)
	require.Equal(t, oapi.RateCardStatusCurrent, first.Status)
	require.Equal(t, "EUR", first.Currency)
	require.Equal(t, "1.08", first.ExchangeRate)
	require.Equal(t, "USD", first.BaseCurrency)
	require.Equal(t, "card.xlsx", first.FileName)
	require.Equal(t, 4, first.RowCount)
	require.Nil(t, first.Replaces)
	require.Equal(t, []oapi.RateCardRow{
		{Row: 2, Sku: "pw_base_storage", Description: "Backup storage", Unit: "GB", UnitCost: "0.021", Basis: oapi.RateCardRowBasisUsage},
		{Row: 3, Sku: "workstations", Description: "Workstation backup", Unit: "workstation", UnitCost: "1.75", Basis: oapi.RateCardRowBasisQuota},
		{Row: 4, Sku: "servers", Description: "", Unit: "server", UnitCost: "10", Basis: oapi.RateCardRowBasisUsage},
		{Row: 5, Sku: "mailboxes", Description: "Mailbox backup", Unit: "mailbox", UnitCost: "0.3", Basis: oapi.RateCardRowBasisUsage},
	}, *first.Rows)

	// Re-importing the month replaces the card and keeps the old one.
	second := importCard(t, admin, group, form{month: "11", year: "2026", currency: "USD", rate: "1", file: book(t, [][]any{header,
		{"pw_base_storage", "Backup storage", "TB", "20.5"}}), name: "v2.xlsx"})
	require.Equal(t, http.StatusCreated, second.StatusCode(), string(second.Body))
	require.Equal(t, 2, second.JSON201.Version)
	require.Equal(t, first.Id, *second.JSON201.Replaces)

	got, err := admin.GetRateCardWithResponse(ctx, first.Id, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, got.StatusCode(), string(got.Body))
	require.Equal(t, oapi.RateCardStatusReplaced, got.JSON200.Status)
	require.Equal(t, second.JSON201.Id, *got.JSON200.ReplacedBy)
	require.NotNil(t, got.JSON200.ReplacedAt)
	require.Equal(t, *first.Rows, *got.JSON200.Rows)

	t.Run("the file as imported", func(t *testing.T) {
		t.Parallel()
		xlsx := oapi.GetRateCardParamsFormatXlsx
		byFormat, err := admin.GetRateCardWithResponse(ctx, first.Id, &oapi.GetRateCardParams{Format: &xlsx})
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, byFormat.StatusCode())
		require.Equal(t, file, byFormat.Body)
		require.Equal(t, "attachment; filename=card.xlsx", byFormat.HTTPResponse.Header.Get("Content-Disposition"))
		accept := func(v string) oapi.RequestEditorFn {
			return func(_ context.Context, r *http.Request) error { r.Header.Set("Accept", v); return nil }
		}
		byAccept, err := admin.GetRateCardWithResponse(ctx, first.Id, nil, accept("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))
		require.NoError(t, err)
		require.Equal(t, file, byAccept.Body)
		jsonWins, err := admin.GetRateCardWithResponse(ctx, first.Id, &oapi.GetRateCardParams{Format: ptr(oapi.GetRateCardParamsFormatJson)},
			accept("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))
		require.NoError(t, err)
		require.Equal(t, first.Id, jsonWins.JSON200.Id)
		csv, err := admin.GetRateCardWithResponse(ctx, first.Id, nil, accept("text/csv"))
		require.NoError(t, err)
		requireProblem(t, csv.StatusCode(), csv.Body, http.StatusNotAcceptable, "not_acceptable")
		missing, err := admin.GetRateCardWithResponse(ctx, uuid.New(), nil)
		require.NoError(t, err)
		requireProblem(t, missing.StatusCode(), missing.Body, http.StatusNotFound, "not_found")
	})

	t.Run("list", func(t *testing.T) {
		t.Parallel()
		// Another month, imported before: the list is in (year, month) order.
		other := newGroup(t, admin, oapi.Acronis)
		for _, m := range []string{"12", "3", "3"} {
			f := goodForm(goodBook(t))
			f.month = m
			require.Equal(t, http.StatusCreated, importCard(t, admin, other, f).StatusCode())
		}
		list := func(p oapi.ListProductGroupRateCardsParams) []string {
			res, err := admin.ListProductGroupRateCardsWithResponse(ctx, other, &p)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
			var out []string
			for _, c := range res.JSON200.Data {
				require.Nil(t, c.Rows)
				out = append(out, fmt.Sprintf("%d-%d v%d %s", c.Year, c.Month, c.Version, c.Status))
			}
			return out
		}
		require.Equal(t, []string{"2026-3 v1 replaced", "2026-3 v2 current", "2026-12 v1 current"}, list(oapi.ListProductGroupRateCardsParams{}))
		require.Equal(t, []string{"2026-3 v2 current", "2026-12 v1 current"}, list(oapi.ListProductGroupRateCardsParams{Status: ptr(oapi.ListProductGroupRateCardsParamsStatusCurrent)}))
		require.Equal(t, []string{"2026-3 v1 replaced"}, list(oapi.ListProductGroupRateCardsParams{Status: ptr(oapi.ListProductGroupRateCardsParamsStatusReplaced)}))
		require.Equal(t, []string{"2026-12 v1 current"}, list(oapi.ListProductGroupRateCardsParams{Month: ptr(12), Year: ptr(2026)}))
		require.Empty(t, list(oapi.ListProductGroupRateCardsParams{Year: ptr(2025)}))

		var pages []string
		p := oapi.ListProductGroupRateCardsParams{Limit: ptr(1)}
		for range 5 {
			res, err := admin.ListProductGroupRateCardsWithResponse(ctx, other, &p)
			require.NoError(t, err)
			require.Len(t, res.JSON200.Data, 1)
			pages = append(pages, fmt.Sprintf("%d v%d", res.JSON200.Data[0].Month, res.JSON200.Data[0].Version))
			if !res.JSON200.HasMore {
				break
			}
			p.Cursor = res.JSON200.NextCursor
		}
		require.Equal(t, []string{"3 v1", "3 v2", "12 v1"}, pages)

		bad, err := admin.ListProductGroupRateCardsWithResponse(ctx, other, &oapi.ListProductGroupRateCardsParams{Cursor: ptr("nonsense")})
		require.NoError(t, err)
		requireProblem(t, bad.StatusCode(), bad.Body, http.StatusBadRequest, "validation_failed")
		unknown, err := admin.ListProductGroupRateCardsWithResponse(ctx, uuid.New(), nil)
		require.NoError(t, err)
		requireProblem(t, unknown.StatusCode(), unknown.Body, http.StatusNotFound, "not_found")
		none, err := admin.ListProductGroupRateCardsWithResponse(ctx, newGroup(t, admin, oapi.None), nil)
		require.NoError(t, err)
		requireProblem(t, none.StatusCode(), none.Body, http.StatusUnprocessableEntity, "module_not_applicable")
	})

	t.Run("current", func(t *testing.T) {
		t.Parallel()
		c, err := ratecard.Current(ctx, env.App.DB.Gorm, group, 2026, 11)
		require.NoError(t, err)
		require.NotNil(t, c)
		require.Equal(t, second.JSON201.Id, c.ID)
		require.Equal(t, 2, c.Version)
		require.Equal(t, "USD", c.Currency)
		require.Equal(t, "1", c.ExchangeRate.String())
		require.Equal(t, []ratecard.Row{{Row: 2, SKU: "pw_base_storage", Description: "Backup storage", Unit: "TB",
			UnitCost: c.Rows[0].UnitCost, Basis: "usage"}}, c.Rows)
		require.Equal(t, "20.5", c.Rows[0].UnitCost.String())
		none, err := ratecard.Current(ctx, env.App.DB.Gorm, group, 2026, 10)
		require.NoError(t, err)
		require.Nil(t, none)
	})
}

func ptr[T any](v T) *T { return &v }

// bomb is a workbook whose sheet inflates past MaxUnzippedBytes from a
// file of a few hundred KiB.
func bomb(t testing.TB) []byte {
	t.Helper()
	good := goodBook(t)
	zr, err := zip.NewReader(bytes.NewReader(good), int64(len(good)))
	require.NoError(t, err)
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, f := range zr.File {
		r, err := f.Open()
		require.NoError(t, err)
		b, err := io.ReadAll(r)
		require.NoError(t, err)
		w, err := zw.Create(f.Name)
		require.NoError(t, err)
		if f.Name == "xl/worksheets/sheet1.xml" {
			i := bytes.LastIndex(b, []byte("</worksheet>"))
			_, _ = w.Write(b[:i])
			pad := bytes.Repeat([]byte(" "), 1<<20)
			for range ratecard.MaxUnzippedBytes>>20 + 1 {
				_, _ = w.Write(pad)
			}
			b = b[i:]
		}
		_, err = w.Write(b)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	require.Less(t, out.Len(), 1<<20)
	return out.Bytes()
}

type cellErr struct {
	row    int
	column string
	code   string
}

func TestImportRefused(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	admin, _ := env.Admin(t)
	acronis := newGroup(t, admin, oapi.Acronis)
	good := goodBook(t)

	noWorkbook := func() []byte {
		var b bytes.Buffer
		zw := zip.NewWriter(&b)
		w, _ := zw.Create("hello.txt")
		_, _ = w.Write([]byte("hello"))
		_ = zw.Close()
		return b.Bytes()
	}()
	encrypted := func() []byte {
		f := excelize.NewFile()
		defer f.Close()
		var buf bytes.Buffer
		require.NoError(t, f.Write(&buf, excelize.Options{Password: "secret"}))
		return buf.Bytes()
	}()
	noise := make([]byte, 4096)
	_, _ = rand.Read(noise)
	var many [][]any
	many = append(many, header)
	for i := range ratecard.MaxRows + 1 {
		many = append(many, []any{fmt.Sprintf("sku-%d", i), "", "GB", 1})
	}
	var negative [][]any
	negative = append(negative, header)
	for i := range 150 {
		negative = append(negative, []any{fmt.Sprintf("sku-%d", i), "", "GB", -1})
	}
	bad := book(t, [][]any{
		header,
		{"a", "fine", "GB", 1, ""},
		{"", "no sku", "GB", 1, ""},
		{"A", "duplicate", "GB", 1, ""},
		{"b", "", "GB", "abc", ""},
		{"c", "", "GB", -1, ""},
		{"d", "", "GB", "0.1234567", ""},
		{"e", "", "litre", 1, ""},
		{"f", "", "GB", 1, "monthly"},
		{"g", "", "", "", ""},
		{},
		{"h", "", "GB", excelize.Cell{Formula: "1+1"}, ""},
		{"i", "", "GB", 1e12, ""},
	})

	with := func(change func(*form)) form {
		f := goodForm(good)
		change(&f)
		return f
	}
	tests := []struct {
		name   string
		group  uuid.UUID
		form   form
		status int
		code   string
		field  string
		cells  []cellErr
	}{
		{"unknown group", uuid.New(), goodForm(good), http.StatusNotFound, "not_found", "", nil},
		{"module none", newGroup(t, admin, oapi.None), goodForm(good), http.StatusUnprocessableEntity, "module_not_applicable", "id", nil},
		{"month 0", acronis, with(func(f *form) { f.month = "0" }), http.StatusUnprocessableEntity, "month_out_of_range", "month", nil},
		{"month 13", acronis, with(func(f *form) { f.month = "13" }), http.StatusUnprocessableEntity, "month_out_of_range", "month", nil},
		{"month not a number", acronis, with(func(f *form) { f.month = "May" }), http.StatusBadRequest, "validation_failed", "month", nil},
		{"year 1999", acronis, with(func(f *form) { f.year = "1999" }), http.StatusUnprocessableEntity, "year_out_of_range", "year", nil},
		// The clock is at 2026-11-25: November 2027 is the last month allowed.
		{"year at int64's top", acronis, with(func(f *form) { f.year = "9223372036854775807" }), http.StatusUnprocessableEntity, "year_out_of_range", "year", nil},
		{"year whose months wrap around", acronis, with(func(f *form) { f.year, f.month = "768614336404564651", "1" }), http.StatusUnprocessableEntity, "year_out_of_range", "year", nil},
		{"13 months ahead", acronis, with(func(f *form) { f.year, f.month = "2027", "12" }), http.StatusUnprocessableEntity, "year_out_of_range", "year", nil},
		{"unknown currency", acronis, with(func(f *form) { f.currency = "ZZZ" }), http.StatusUnprocessableEntity, "unknown_currency", "currency", nil},
		{"testing currency", acronis, with(func(f *form) { f.currency = "XXX" }), http.StatusUnprocessableEntity, "unknown_currency", "currency", nil},
		{"rate not a decimal", acronis, with(func(f *form) { f.rate = "1,08" }), http.StatusBadRequest, "validation_failed", "exchange_rate", nil},
		{"rate zero", acronis, with(func(f *form) { f.rate = "0" }), http.StatusUnprocessableEntity, "exchange_rate_not_positive", "exchange_rate", nil},
		{"rate negative", acronis, with(func(f *form) { f.rate = "-1.08" }), http.StatusUnprocessableEntity, "exchange_rate_not_positive", "exchange_rate", nil},
		{"rate too precise", acronis, with(func(f *form) { f.rate = "1.0800001" }), http.StatusUnprocessableEntity, "too_precise", "exchange_rate", nil},
		{"rate too large", acronis, with(func(f *form) { f.rate = "1000000000000" }), http.StatusUnprocessableEntity, "exchange_rate_too_large", "exchange_rate", nil},
		{"base currency not at 1", acronis, with(func(f *form) { f.currency, f.rate = "USD", "1.08" }), http.StatusUnprocessableEntity, "exchange_rate_must_be_one", "exchange_rate", nil},
		{"random bytes", acronis, with(func(f *form) { f.file = noise }), http.StatusUnprocessableEntity, "not_xlsx", "file", nil},
		{"empty file", acronis, with(func(f *form) { f.file = nil }), http.StatusUnprocessableEntity, "not_xlsx", "file", nil},
		{"csv", acronis, with(func(f *form) { f.file = []byte("SKU or offering item,Unit,Unit cost\nx,GB,1\n") }), http.StatusUnprocessableEntity, "not_xlsx", "file", nil},
		{"zip of no workbook", acronis, with(func(f *form) { f.file = noWorkbook }), http.StatusUnprocessableEntity, "not_xlsx", "file", nil},
		{"encrypted", acronis, with(func(f *form) { f.file = encrypted }), http.StatusUnprocessableEntity, "not_xlsx", "file", nil},
		{"zip bomb", acronis, with(func(f *form) { f.file = bomb(t) }), http.StatusUnprocessableEntity, "file_too_large_unzipped", "file", nil},
		{"over 5 MiB", acronis, with(func(f *form) { f.file = make([]byte, ratecard.MaxFileBytes+1) }), http.StatusRequestEntityTooLarge, "file_too_large", "file", nil},
		{"no header", acronis, with(func(f *form) { f.file = book(t, nil) }), http.StatusUnprocessableEntity, "empty_sheet", "file", nil},
		{"no rows", acronis, with(func(f *form) { f.file = book(t, [][]any{header, {}, {" "}}) }), http.StatusUnprocessableEntity, "empty_sheet", "file", nil},
		{"too many rows", acronis, with(func(f *form) { f.file = book(t, many) }), http.StatusUnprocessableEntity, "too_many_rows", "file", nil},
		{"missing column", acronis, with(func(f *form) {
			f.file = book(t, [][]any{{ratecard.ColSKU, ratecard.ColUnit}, {"x", "GB"}})
		}), http.StatusUnprocessableEntity, "missing_column", ratecard.ColUnitCost, nil},
		{"bad rows", acronis, with(func(f *form) { f.file = bad }), http.StatusUnprocessableEntity, "rate_card_invalid", "", []cellErr{
			{3, "A", "required"}, {4, "A", "duplicate_sku"}, {5, "D", "not_a_number"}, {6, "D", "negative_cost"}, {7, "D", "too_precise"},
			{8, "C", "unknown_unit"}, {9, "E", "unknown_basis"}, {10, "C", "required"}, {10, "D", "required"},
			{12, "D", "formula_without_value"}, {13, "D", "too_large"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := importCard(t, admin, tt.group, tt.form)
			p := requireProblem(t, res.StatusCode(), res.Body, tt.status, tt.code)
			if tt.field != "" {
				require.NotEmpty(t, p.Errors, string(res.Body))
				require.Equal(t, tt.field, p.Errors[0].Field, string(res.Body))
			}
			if tt.cells != nil {
				var got []cellErr
				for _, e := range p.Errors {
					got = append(got, cellErr{e.Row, e.Column, e.Code})
					require.Equal(t, fmt.Sprintf("rows[%d].", e.Row), e.Field[:len(fmt.Sprintf("rows[%d].", e.Row))])
				}
				require.Equal(t, tt.cells, got)
			}
			cards, rows := stored(t, env, tt.group)
			require.Zero(t, cards)
			require.Zero(t, rows)
		})
	}

	t.Run("too many errors", func(t *testing.T) {
		t.Parallel()
		g := newGroup(t, admin, oapi.Acronis)
		res := importCard(t, admin, g, goodForm(book(t, negative)))
		p := requireProblem(t, res.StatusCode(), res.Body, http.StatusUnprocessableEntity, "rate_card_invalid")
		require.Len(t, p.Errors, 101)
		require.Equal(t, cellErr{101, "D", "negative_cost"}, cellErr{p.Errors[99].Row, p.Errors[99].Column, p.Errors[99].Code})
		require.Equal(t, "too_many_errors", p.Errors[100].Code)
		cards, _ := stored(t, env, g)
		require.Zero(t, cards)
	})

	t.Run("partners and customers may not", func(t *testing.T) {
		t.Parallel()
		_, partner := env.PartnerUser(t, nil)
		_, customer := env.CustomerUser(t, nil)
		for _, token := range []string{partner, customer} {
			c := env.Client(t, token)
			res := importCard(t, c, acronis, goodForm(good))
			requireProblem(t, res.StatusCode(), res.Body, http.StatusForbidden, "forbidden")
			list, err := c.ListProductGroupRateCardsWithResponse(context.Background(), acronis, nil)
			require.NoError(t, err)
			requireProblem(t, list.StatusCode(), list.Body, http.StatusForbidden, "forbidden")
			get, err := c.GetRateCardWithResponse(context.Background(), uuid.New(), nil)
			require.NoError(t, err)
			requireProblem(t, get.StatusCode(), get.Body, http.StatusForbidden, "forbidden")
		}
		cards, _ := stored(t, env, acronis)
		require.Zero(t, cards)
	})
}

// The Idempotency-Key compares the form, not the boundary each send picks.
func TestImportIdempotent(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	admin, _ := env.Admin(t)
	group := newGroup(t, admin, oapi.Acronis)
	key := uuid.NewString()
	first := importCard(t, admin, group, goodForm(goodBook(t)), key)
	require.Equal(t, http.StatusCreated, first.StatusCode(), string(first.Body))
	again := importCard(t, admin, group, goodForm(goodBook(t)), key)
	require.Equal(t, http.StatusCreated, again.StatusCode(), string(again.Body))
	require.Equal(t, "true", again.HTTPResponse.Header.Get("Idempotent-Replayed"))
	require.Equal(t, first.JSON201.Id, again.JSON201.Id)
	other := goodForm(goodBook(t))
	other.rate = "1.09"
	reused := importCard(t, admin, group, other, key)
	requireProblem(t, reused.StatusCode(), reused.Body, http.StatusUnprocessableEntity, "idempotency_key_reused")
	cards, rows := stored(t, env, group)
	require.Equal(t, 1, cards)
	require.Equal(t, 4, rows)
}
