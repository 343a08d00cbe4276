package ratecard_test

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/app/apptest"
	"github.com/acronis-platform/platform/internal/ratecard"
)

// plainBook is book without the stream writer: text in shared strings,
// and edits (styles) that apply to the cells written.
func plainBook(t testing.TB, rows [][]any, edit ...func(f *excelize.File)) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	require.NoError(t, f.SetSheetName("Sheet1", ratecard.DataSheet))
	for i, r := range rows {
		require.NoError(t, f.SetSheetRow(ratecard.DataSheet, fmt.Sprintf("A%d", i+1), &r))
	}
	for _, e := range edit {
		e(f)
	}
	buf, err := f.WriteToBuffer()
	require.NoError(t, err)
	return buf.Bytes()
}

// rewritePart changes one part (by its name in the zip) of a workbook.
func rewritePart(t testing.TB, data []byte, name string, change func(string) string) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	require.NoError(t, err)
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	found := false
	for _, f := range zr.File {
		r, err := f.Open()
		require.NoError(t, err)
		b, err := io.ReadAll(r)
		require.NoError(t, err)
		if f.Name == name {
			b, found = []byte(change(string(b))), true
		}
		w, err := zw.Create(f.Name)
		require.NoError(t, err)
		_, err = w.Write(b)
		require.NoError(t, err)
	}
	require.True(t, found, "no part %s", name)
	require.NoError(t, zw.Close())
	return out.Bytes()
}

// TestImportHostileWorkbooks: workbooks made to trip the reader, and cells
// whose raw value is not what the sheet shows. Each is refused with its
// code (and row and column for a cell) and stores nothing, or, where the
// sheet is fine, imports what it shows.
func TestImportHostileWorkbooks(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	admin, _ := env.Admin(t)
	good := book(t, [][]any{header, {"a", "", "GB", 1}, {"b", "", "GB", 2}})
	// The same with its text in shared strings (the stream writer puts
	// text inline).
	shared := plainBook(t, [][]any{header, {"a", "", "GB", 1}, {"b", "", "GB", 2}})
	cost := func(xml string) []byte { // D2 replaced by a raw cell
		return rewrite(t, good, func(s string) string {
			i := strings.Index(s, `<c r="D2"`)
			j := i + strings.Index(s[i:], "</c>") + len("</c>")
			return s[:i] + xml + s[j:]
		})
	}
	var wide [][]any
	wide = append(wide, header)
	for i := range 300 {
		wide = append(wide, []any{fmt.Sprintf("sku-%d", i), "", "GB", 1})
	}
	// 300 rows each with a cell in column XFD: 4.9 million cells to read.
	tooWide := rewrite(t, book(t, wide), func(s string) string {
		return strings.ReplaceAll(s, "</row>", `<c r="XFD1" t="inlineStr"><is><t> </t></is></c></row>`)
	})
	// The same, but each row otherwise blank: rows that count for nothing
	// still cost their width.
	blankWide := rewrite(t, good, func(s string) string {
		return strings.Replace(s, "</sheetData>", strings.Repeat(`<row><c r="XFD1" t="inlineStr"><is><t> </t></is></c></row>`, 300)+"</sheetData>", 1)
	})
	dateStyle := func(f *excelize.File) {
		st, err := f.NewStyle(&excelize.Style{NumFmt: 14})
		require.NoError(t, err)
		require.NoError(t, f.SetCellStyle(ratecard.DataSheet, "D3", "D3", st))
	}
	customDate := func(f *excelize.File) {
		st, err := f.NewStyle(&excelize.Style{CustomNumFmt: ptr(`dd"."mm"."yyyy`)})
		require.NoError(t, err)
		require.NoError(t, f.SetCellStyle(ratecard.DataSheet, "D2", "D2", st))
	}
	// A money format is no date, whatever letters its brackets hold.
	moneyStyle := func(f *excelize.File) {
		st, err := f.NewStyle(&excelize.Style{CustomNumFmt: ptr(`#,##0.00\ [$EUR];[Red]-#,##0.00 "due"`)})
		require.NoError(t, err)
		require.NoError(t, f.SetCellStyle(ratecard.DataSheet, "D2", "D2", st))
	}

	tests := []struct {
		name  string
		file  []byte
		code  string // "" when the import succeeds
		field string
		cells []cellErr
		rows  []oapi.RateCardRow // what a successful import stored
	}{
		{name: "malformed shared strings", file: rewritePart(t, shared, "xl/sharedStrings.xml", func(string) string { return "<sst><si><t>x</si></sst>" }),
			code: "not_xlsx", field: "file"},
		{name: "shared strings an entity bomb", file: rewritePart(t, shared, "xl/sharedStrings.xml", func(string) string {
			return `<?xml version="1.0"?><!DOCTYPE sst [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><sst><si><t>&b;</t></si></sst>`
		}), code: "not_xlsx", field: "file"},
		{name: "malformed sheet XML", file: rewrite(t, good, func(s string) string { return strings.Replace(s, "</sheetData>", "<row><c>", 1) }),
			code: "not_xlsx", field: "file"},
		{name: "sheet XML cut short", file: rewrite(t, good, func(s string) string { return s[:strings.Index(s, `<c r="D3"`)] }),
			code: "not_xlsx", field: "file"},
		{name: "a cell beyond column XFD", file: rewrite(t, good, func(s string) string {
			return strings.Replace(s, "</row>", `<c r="XFE1"><v>1</v></c></row>`, 1)
		}), code: "not_xlsx", field: "file"},
		{name: "a row beyond 1,048,576", file: rewrite(t, good, func(s string) string {
			return strings.Replace(s, "</sheetData>", `<row r="1048577"><c r="A1048577"><v>1</v></c></row></sheetData>`, 1)
		}), code: "not_xlsx", field: "file"},
		{name: "rows reaching column XFD", file: tooWide, code: "too_many_cells", field: "file"},
		{name: "blank rows reaching column XFD", file: blankWide, code: "too_many_cells", field: "file"},
		{name: "one cell in column XFD is fine", file: book(t, [][]any{header, {"a", "", "GB", 1}},
			func(f *excelize.File) { require.NoError(t, f.SetCellValue(ratecard.DataSheet, "XFD2", "a note")) }),
			rows: []oapi.RateCardRow{{Row: 2, Sku: "a", Unit: "GB", UnitCost: "1", Basis: oapi.RateCardRowBasisUsage}}},
		{name: "a 1 MB SKU", file: book(t, [][]any{header, {strings.Repeat("x", 1<<20), "", "GB", 1}}),
			cells: []cellErr{{2, "A", "too_long"}}},
		{name: "a 1 MB description", file: book(t, [][]any{header, {"a", strings.Repeat("é", 1<<19), "GB", 1}}),
			cells: []cellErr{{2, "B", "too_long"}}},
		{name: "the header row repeated", file: book(t, [][]any{header, {"a", "", "GB", 1}, header}),
			cells: []cellErr{{3, "D", "not_a_number"}, {3, "E", "unknown_basis"}}}, // "Unit" is a unit
		{name: "a boolean cost", file: book(t, [][]any{header, {"a", "", "GB", 1}, {"b", "", "GB", true}}),
			cells: []cellErr{{3, "D", "not_a_number"}}},
		{name: "a date cost", file: book(t, [][]any{header, {"a", "", "GB", 1}, {"b", "", "GB", time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)}}),
			cells: []cellErr{{3, "D", "not_a_number"}}},
		{name: "a number shown as a date", file: plainBook(t, [][]any{header, {"a", "", "GB", 1}, {"b", "", "GB", 46024}}, dateStyle),
			cells: []cellErr{{3, "D", "not_a_number"}}},
		{name: "a number in a custom date format", file: plainBook(t, [][]any{header, {"a", "", "GB", 46024}}, customDate),
			cells: []cellErr{{2, "D", "not_a_number"}}},
		{name: "a money format is a number", file: plainBook(t, [][]any{header, {"a", "", "GB", 12.5}}, moneyStyle),
			rows: []oapi.RateCardRow{{Row: 2, Sku: "a", Unit: "GB", UnitCost: "12.5", Basis: oapi.RateCardRowBasisUsage}}},
		{name: "an ISO date cell", file: cost(`<c r="D2" t="d"><v>2026-01-02T00:00:00Z</v></c>`), cells: []cellErr{{2, "D", "not_a_number"}}},
		{name: "a boolean cell", file: cost(`<c r="D2" t="b"><v>1</v></c>`), cells: []cellErr{{2, "D", "not_a_number"}}},
		{name: "#DIV/0!", file: cost(`<c r="D2" t="e"><v>#DIV/0!</v></c>`), cells: []cellErr{{2, "D", "not_a_number"}}},
		{name: "a formula whose value is #DIV/0!", file: cost(`<c r="D2" t="e"><f>1/0</f><v>#DIV/0!</v></c>`), cells: []cellErr{{2, "D", "not_a_number"}}},
		{name: "a shared string index out of range", file: cost(`<c r="D2" t="s"><v>999999</v></c>`), cells: []cellErr{{2, "D", "required"}}},
		{name: "1e308", file: book(t, [][]any{header, {"a", "", "GB", 1e308}}), cells: []cellErr{{2, "D", "too_large"}}},
		{name: "1e308 as text", file: book(t, [][]any{header, {"a", "", "GB", "1e308"}}), cells: []cellErr{{2, "D", "too_large"}}},
		{name: "1e-400 as text", file: book(t, [][]any{header, {"a", "", "GB", "1e-400"}}), cells: []cellErr{{2, "D", "too_precise"}}},
		{name: "1E-7", file: book(t, [][]any{header, {"a", "", "GB", 1e-7}}), cells: []cellErr{{2, "D", "too_precise"}}},
		{name: "1E-7 as text", file: book(t, [][]any{header, {"a", "", "GB", "1E-7"}}), cells: []cellErr{{2, "D", "too_precise"}}},
		{name: "NaN and Infinity as numbers", file: rewrite(t, good, func(s string) string {
			s = strings.Replace(s, `<c r="D2"><v>1</v></c>`, `<c r="D2"><v>NaN</v></c>`, 1)
			return strings.Replace(s, `<c r="D3"><v>2</v></c>`, `<c r="D3"><v>Infinity</v></c>`, 1)
		}), cells: []cellErr{{2, "D", "not_a_number"}, {3, "D", "not_a_number"}}},
		{name: "a thousands separator", file: book(t, [][]any{header, {"a", "", "GB", "1,000.50"}, {"b", "", "GB", "1 000"}}),
			cells: []cellErr{{2, "D", "not_a_number"}, {3, "D", "not_a_number"}}},
		// What the cell shows is unambiguous: +1.5 and " 2 " are taken, as
		// a spreadsheet would read them typed in.
		{name: "a leading + and spaces", file: book(t, [][]any{header, {"a", "", "GB", "+1.5"}, {"b", "", "GB", " 2 "}}),
			rows: []oapi.RateCardRow{{Row: 2, Sku: "a", Unit: "GB", UnitCost: "1.5", Basis: oapi.RateCardRowBasisUsage},
				{Row: 3, Sku: "b", Unit: "GB", UnitCost: "2", Basis: oapi.RateCardRowBasisUsage}}},
		{name: "a unit in another case", file: book(t, [][]any{header, {"a", "", "gb", 1}, {"b", "", " WorkStation ", 1}}),
			rows: []oapi.RateCardRow{{Row: 2, Sku: "a", Unit: "GB", UnitCost: "1", Basis: oapi.RateCardRowBasisUsage},
				{Row: 3, Sku: "b", Unit: "workstation", UnitCost: "1", Basis: oapi.RateCardRowBasisUsage}}},
		{name: "a SKU with spaces and the same without", file: book(t, [][]any{header, {" sku-1 ", "", "GB", 1}, {"sku-1", "", "GB", 1}}),
			cells: []cellErr{{3, "A", "duplicate_sku"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			group := newGroup(t, admin, oapi.Acronis)
			res := importCard(t, admin, group, goodForm(tt.file))
			if tt.rows != nil {
				require.Equal(t, http.StatusCreated, res.StatusCode(), string(res.Body))
				require.Equal(t, tt.rows, *res.JSON201.Rows)
				return
			}
			want := tt.code
			if want == "" {
				want = "rate_card_invalid"
			}
			p := requireProblem(t, res.StatusCode(), res.Body, http.StatusUnprocessableEntity, want)
			if tt.field != "" {
				require.Len(t, p.Errors, 1, string(res.Body))
				require.Equal(t, tt.field, p.Errors[0].Field, string(res.Body))
			}
			if tt.cells != nil {
				var got []cellErr
				for _, e := range p.Errors {
					got = append(got, cellErr{e.Row, e.Column, e.Code})
					require.True(t, strings.HasPrefix(e.Field, fmt.Sprintf("rows[%d].", e.Row)), string(res.Body))
				}
				require.Equal(t, tt.cells, got, string(res.Body))
			}
			cards, rows := stored(t, env, group)
			require.Zero(t, cards)
			require.Zero(t, rows)
		})
	}
}

// TestImportHostileForms: forms that are no import's. Each is a 4xx naming
// the part at fault and stores nothing.
func TestImportHostileForms(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	admin, u := env.Admin(t)
	token := env.Login(t, u)
	file := book(t, [][]any{header, {"a", "", "GB", 1}})

	type part struct{ name, fileName, value string }
	fields := func(extra ...part) []part {
		return append([]part{{"month", "", "11"}, {"year", "", "2026"}, {"currency", "", "EUR"}, {"exchange_rate", "", "1.08"}}, extra...)
	}
	encode := func(parts []part) (string, []byte) {
		var b bytes.Buffer
		w := multipart.NewWriter(&b)
		require.NoError(t, w.SetBoundary("hostile-form-boundary"))
		for _, p := range parts {
			if p.fileName != "" {
				fw, err := w.CreateFormFile(p.name, p.fileName)
				require.NoError(t, err)
				_, _ = fw.Write([]byte(p.value))
			} else {
				require.NoError(t, w.WriteField(p.name, p.value))
			}
		}
		require.NoError(t, w.Close())
		return w.FormDataContentType(), b.Bytes()
	}
	ct, whole := encode(fields(part{"file", "card.xlsx", string(file)}))
	cut := whole[:len(whole)/2] // stops mid-part, no closing boundary

	tests := []struct {
		name        string
		contentType string
		body        []byte
		status      int
		code        string
		field       string
	}{
		{"two file parts", ct, func() []byte {
			_, b := encode(fields(part{"file", "card.xlsx", string(file)}, part{"file", "other.xlsx", string(file)}))
			return b
		}(), http.StatusBadRequest, "validation_failed", "file"},
		{"two month parts", ct, func() []byte {
			_, b := encode(append(fields(part{"file", "card.xlsx", string(file)}), part{"month", "", "12"}))
			return b
		}(), http.StatusBadRequest, "validation_failed", "month"},
		{"an unknown part", ct, func() []byte {
			_, b := encode(fields(part{"file", "card.xlsx", string(file)}, part{"note", "", "hello"}))
			return b
		}(), http.StatusBadRequest, "validation_failed", "note"},
		{"a field sent as a multipart part", ct, []byte(strings.ReplaceAll(`--hostile-form-boundary
Content-Disposition: form-data; name="month"
Content-Type: multipart/mixed; boundary=x

11
--hostile-form-boundary--
`, "\n", "\r\n")), http.StatusBadRequest, "validation_failed", "month"},
		{"an unnamed part", ct, []byte("--hostile-form-boundary\r\nContent-Type: text/plain\r\n\r\nx\r\n--hostile-form-boundary--\r\n"),
			http.StatusBadRequest, "validation_failed", ""},
		{"no file", ct, func() []byte { _, b := encode(fields()); return b }(), http.StatusBadRequest, "validation_failed", "file"},
		{"a 1 MB month", ct, func() []byte {
			_, b := encode([]part{{"month", "", strings.Repeat("1", 1<<20)}, {"year", "", "2026"}, {"currency", "", "EUR"},
				{"exchange_rate", "", "1.08"}, {"file", "card.xlsx", string(file)}})
			return b
		}(), http.StatusBadRequest, "validation_failed", "month"},
		{"the body stops mid-part", ct, cut, http.StatusBadRequest, "validation_failed", "body"},
		{"a boundary that is not the body's", "multipart/form-data; boundary=other", whole, http.StatusBadRequest, "validation_failed", "body"},
		{"no boundary", "multipart/form-data", whole, http.StatusBadRequest, "validation_failed", "body"},
		// The body is read as what it says it is.
		{"sent as JSON", "application/json", whole, http.StatusBadRequest, "malformed_json", "body"},
		{"JSON", "application/json", []byte(`{"month":11}`), http.StatusBadRequest, "validation_failed", "Content-Type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			group := newGroup(t, admin, oapi.Acronis)
			res, err := admin.ImportRateCardWithBodyWithResponse(context.Background(), group, nil, tt.contentType, bytes.NewReader(tt.body))
			require.NoError(t, err)
			p := requireProblem(t, res.StatusCode(), res.Body, tt.status, tt.code)
			require.NotEmpty(t, p.Errors, string(res.Body))
			require.Equal(t, tt.field, p.Errors[0].Field, string(res.Body))
			cards, rows := stored(t, env, group)
			require.Zero(t, cards)
			require.Zero(t, rows)
		})
	}

	// A client that promises a whole body, sends half and stops sending:
	// the server answers (it does not wait for the rest) and stores
	// nothing.
	t.Run("client disconnects mid-part", func(t *testing.T) {
		t.Parallel()
		group := newGroup(t, admin, oapi.Acronis)
		u, err := url.Parse(env.Server.URL)
		require.NoError(t, err)
		conn, err := net.Dial("tcp", u.Host)
		require.NoError(t, err)
		defer conn.Close()
		fmt.Fprintf(conn, "POST /v1/product-groups/%s/rate-cards HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
			group, u.Host, token, ct, len(whole))
		_, err = conn.Write(cut)
		require.NoError(t, err)
		require.NoError(t, conn.(*net.TCPConn).CloseWrite())
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		require.NoError(t, err)
		body, _ := io.ReadAll(res.Body)
		require.Equal(t, http.StatusBadRequest, res.StatusCode, string(body))
		cards, rows := stored(t, env, group)
		require.Zero(t, cards)
		require.Zero(t, rows)
	})
}
