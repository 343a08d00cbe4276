package ratecard

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"

	"github.com/acronis-platform/platform/internal/errs"
)

// Limits of a row's text, and how many bad cells an answer lists.
const (
	maxSKU         = 255
	maxDescription = 1000
	maxUnit        = 64
	maxErrors      = 100
	// maxCells bounds the cells the rows are read into, counted from
	// column A to each row's last cell, blank rows too: a row reaching
	// column XFD is 16,384 of them however little the file holds, and
	// reading many such rows would take minutes. 10,000 rows of 400
	// columns fit.
	maxCells = 1 << 22
	// Worksheets bigger than this are read from a temporary file, not
	// memory (the whole workbook is bounded by MaxUnzippedBytes anyway).
	xmlInMemory = 16 << 20
)

// oleMagic starts an encrypted workbook (and a legacy .xls file).
var oleMagic = []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}

var decimalText = regexp.MustCompile(`^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$`)

// fields name each column in errors (rows[<row>].<field>).
var fields = map[string]string{ColSKU: "sku", ColDescription: "description", ColUnit: "unit", ColUnitCost: "unit_cost", ColBasis: "basis"}

// required columns must be present and their cells filled.
var required = []string{ColSKU, ColUnit, ColUnitCost}

func fileError(code, msg string) *errs.Error {
	e := errs.Unprocessable(code, msg)
	e.Fields = []errs.FieldError{{Field: "file", Code: code, Message: msg}}
	return e
}

// TooLarge is the answer to a file over MaxFileBytes (413).
func TooLarge() *errs.Error {
	msg := fmt.Sprintf("The file is larger than %d MiB.", MaxFileBytes>>20)
	return &errs.Error{Kind: errs.KindTooLarge, Code: "file_too_large", Message: msg,
		Fields: []errs.FieldError{{Field: "file", Code: "file_too_large", Message: msg}}}
}

func notXLSX(msg string) *errs.Error { return fileError("not_xlsx", msg) }

// Parse reads a workbook's data sheet into rows, or says why it cannot:
// the first error about the file as a whole, or every bad cell (up to
// maxErrors) in one rate_card_invalid. It never panics on bad input.
func Parse(data []byte) (rows []Row, err error) {
	defer func() {
		if r := recover(); r != nil { // a workbook the library trips on
			rows, err = nil, notXLSX("The file could not be read as an XLSX workbook.")
		}
	}()
	if len(data) > MaxFileBytes {
		return nil, TooLarge()
	}
	if bytes.HasPrefix(data, oleMagic) {
		return nil, notXLSX("The file is encrypted or in the old .xls format; save it as an .xlsx workbook without a password.")
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, notXLSX("The file is not an XLSX workbook.")
	}
	// The sizes the archive declares: reading never goes past them (the
	// zip reader refuses a part that inflates beyond its declared size),
	// so a bomb is refused here without inflating anything.
	var total uint64
	for _, f := range zr.File {
		if f.UncompressedSize64 > MaxUnzippedBytes-total {
			return nil, fileError("file_too_large_unzipped",
				fmt.Sprintf("The workbook would unzip to more than %d MiB.", MaxUnzippedBytes>>20))
		}
		total += f.UncompressedSize64
	}
	f, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{UnzipSizeLimit: MaxUnzippedBytes, UnzipXMLSizeLimit: xmlInMemory})
	if err != nil {
		if strings.Contains(err.Error(), "unzip size") {
			return nil, fileError("file_too_large_unzipped",
				fmt.Sprintf("The workbook would unzip to more than %d MiB.", MaxUnzippedBytes>>20))
		}
		return nil, notXLSX("The file is not an XLSX workbook.")
	}
	defer func() { _ = f.Close() }()
	sheets := f.GetSheetList()
	if len(sheets) == 0 {
		return nil, notXLSX("The file holds no workbook.")
	}
	sheet := sheets[0]
	for _, s := range sheets {
		if strings.EqualFold(strings.TrimSpace(s), DataSheet) {
			sheet = s
			break
		}
	}
	it, err := f.Rows(sheet)
	if err != nil {
		return nil, fileError("empty_sheet", fmt.Sprintf("The sheet %q could not be read as rows.", sheet))
	}
	defer func() { _ = it.Close() }()
	formulas, typed, ok := inspectSheets(zr)
	if !ok {
		return nil, notXLSX("A sheet of the workbook is not well-formed XML.")
	}
	p := &parser{f: f, sheet: sheet, skus: map[string]int{}, formulas: formulas, typed: typed, dates: dateStyles(f)}
	r, n, width := 0, 0, 0
	for it.Next() {
		r++
		cells, err := it.Columns(excelize.Options{RawCellValue: true})
		if err != nil {
			return nil, notXLSX(fmt.Sprintf("Row %d of the sheet could not be read.", r))
		}
		if width += max(len(cells), 1); width > maxCells {
			return nil, fileError("too_many_cells", fmt.Sprintf("The sheet's rows reach too far to the right (row %d has a cell in column %s); "+
				"delete the cells right of the card's columns.", r, colName(len(cells)-1)))
		}
		if blank(cells) {
			continue
		}
		if p.cols == nil {
			if e := p.header(r, cells); e != nil {
				return nil, e
			}
			continue
		}
		if n++; n > MaxRows {
			return nil, fileError("too_many_rows", fmt.Sprintf("The sheet has more than %d rows; split the card.", MaxRows))
		}
		p.row(r, cells)
		if len(p.errs) > maxErrors {
			break
		}
	}
	if it.Error() != nil {
		return nil, notXLSX("The sheet could not be read.")
	}
	if p.cols == nil {
		return nil, fileError("empty_sheet", fmt.Sprintf("The sheet %q has no header row.", sheet))
	}
	if n == 0 && len(p.errs) == 0 {
		return nil, fileError("empty_sheet", fmt.Sprintf("The sheet %q has no rows below its header.", sheet))
	}
	if len(p.errs) > 0 {
		if len(p.errs) > maxErrors {
			p.errs = append(p.errs[:maxErrors], errs.FieldError{Field: "file", Code: "too_many_errors",
				Message: fmt.Sprintf("more than %d cells are bad; only the first %d are listed", maxErrors, maxErrors)})
		}
		e := errs.Unprocessable("rate_card_invalid", "Some rows of the rate card are not valid; nothing was imported.")
		e.Fields = p.errs
		return nil, e
	}
	return p.rows, nil
}

// inspectSheets reads the worksheets' XML once, to its end: whether each
// parses with every element closed (the row reader stops quietly where the
// XML breaks, dropping the rows after it without a word), and whether any
// holds a formula (<f>) or a cell typed boolean, date or error (t="b",
// "d", "e"), which need the slower look-ups.
func inspectSheets(zr *zip.Reader) (formulas, typed, ok bool) {
	for _, zf := range zr.File {
		if !strings.HasPrefix(zf.Name, "xl/worksheets/") || !strings.HasSuffix(zf.Name, ".xml") {
			continue
		}
		r, err := zf.Open()
		if err != nil {
			return formulas, typed, false
		}
		dec := xml.NewDecoder(r)
		for err == nil {
			var tok xml.Token
			if tok, err = dec.Token(); err != nil {
				break
			}
			el, start := tok.(xml.StartElement)
			if !start {
				continue
			}
			switch el.Name.Local {
			case "f":
				formulas = true
			case "c":
				for _, at := range el.Attr {
					if at.Name.Local == "t" && (at.Value == "b" || at.Value == "d" || at.Value == "e") {
						typed = true
					}
				}
			}
		}
		_ = r.Close()
		if !errors.Is(err, io.EOF) {
			return formulas, typed, false
		}
	}
	return formulas, typed, true
}

// dateStyles are the workbook's cell styles that show a number as a date
// or time: a spreadsheet stores a date as a number (days since 1900),
// which is no unit cost.
func dateStyles(f *excelize.File) map[int]bool {
	out := map[int]bool{}
	for id := 0; id < excelize.MaxCellStyles; id++ {
		st, err := f.GetStyle(id)
		if err != nil || st == nil {
			break
		}
		if isDateFormat(st.NumFmt, st.CustomNumFmt) {
			out[id] = true
		}
	}
	return out
}

// isDateFormat tells a date or time number format: the built-in ones by
// id, a custom one by a date or time letter outside quotes and brackets.
func isDateFormat(id int, custom *string) bool {
	if custom != nil {
		var b strings.Builder
		quoted, bracket := false, false
		for i := 0; i < len(*custom); i++ {
			c := (*custom)[i]
			switch {
			case c == '"':
				quoted = !quoted
			case quoted:
			case c == '\\':
				i++ // an escaped character is shown as it is
			case c == '[':
				bracket = true
			case c == ']':
				bracket = false
			case !bracket:
				b.WriteByte(c)
			}
		}
		return strings.ContainsAny(strings.ToLower(b.String()), "ymdhs")
	}
	return (id >= 14 && id <= 22) || (id >= 27 && id <= 36) || (id >= 45 && id <= 47) || (id >= 50 && id <= 58)
}

func blank(cells []string) bool {
	for _, c := range cells {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

type parser struct {
	f     *excelize.File
	sheet string
	cols  map[string]int // column header -> index
	skus  map[string]int // lower-case SKU -> first row
	rows  []Row
	errs  []errs.FieldError
	// formulas: some worksheet has a formula; without, an empty cell is
	// empty without asking (which would load the whole sheet).
	formulas bool
	// typed: some cell is a boolean, date or error; without, a unit cost
	// is not asked its type.
	typed bool
	// dates are the styles that show numbers as dates.
	dates map[int]bool
}

// header finds the columns by name, ignoring case and spaces around.
func (p *parser) header(r int, cells []string) *errs.Error {
	cols := map[string]int{}
	var bad []errs.FieldError
	for i, c := range cells {
		for _, name := range Columns {
			if strings.EqualFold(strings.Join(strings.Fields(c), " "), name) {
				if _, dup := cols[name]; dup {
					bad = append(bad, errs.FieldError{Field: name, Code: "duplicate_column", Row: r, Column: colName(i),
						Message: fmt.Sprintf("the column %q appears twice", name)})
				}
				cols[name] = i
			}
		}
	}
	for _, name := range required {
		if _, ok := cols[name]; !ok {
			bad = append(bad, errs.FieldError{Field: name, Code: "missing_column", Row: r,
				Message: fmt.Sprintf("the header row has no %q column", name)})
		}
	}
	if len(bad) > 0 {
		e := errs.Unprocessable(bad[0].Code, "The header row ("+strconv.Itoa(r)+") is not a rate card's: "+bad[0].Message+".")
		e.Fields = bad
		return e
	}
	p.cols = cols
	return nil
}

func colName(i int) string {
	n, _ := excelize.ColumnNumberToName(i + 1)
	return n
}

// cell is the trimmed text of a column in a row ("" when the column is
// absent or the row is short).
func (p *parser) cell(cells []string, col string) (string, bool) {
	i, ok := p.cols[col]
	if !ok {
		return "", false
	}
	if i >= len(cells) {
		return "", true
	}
	return strings.TrimSpace(cells[i]), true
}

func (p *parser) fail(r int, col, code, msg string) {
	p.errs = append(p.errs, errs.FieldError{Field: "rows[" + strconv.Itoa(r) + "]." + fields[col], Code: code, Message: msg,
		Row: r, Column: colName(p.cols[col])})
}

// empty reports an empty cell: a formula without a saved value is refused
// whether or not the cell is required.
func (p *parser) empty(r int, col string, need bool) {
	ref, _ := excelize.CoordinatesToCellName(p.cols[col]+1, r)
	if formula := p.formula(ref); formula != "" {
		p.fail(r, col, "formula_without_value", "the formula ="+short(formula)+" has no saved value; open the file in a spreadsheet, let it calculate, save it, or type the value")
		return
	}
	if need {
		p.fail(r, col, "required", "must not be empty")
	}
}

func (p *parser) formula(ref string) string {
	if !p.formulas {
		return ""
	}
	formula, err := p.f.GetCellFormula(p.sheet, ref)
	if err != nil {
		return ""
	}
	return formula
}

func short(s string) string {
	if utf8.RuneCountInString(s) > 40 {
		return string([]rune(s)[:40]) + "..."
	}
	return s
}

// text checks a cell holds text PostgreSQL can store, within max runes.
func (p *parser) text(r int, col, v string, max int) bool {
	if !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 {
		p.fail(r, col, "invalid_text", "must be valid UTF-8 text without NUL characters")
		return false
	}
	if utf8.RuneCountInString(v) > max {
		p.fail(r, col, "too_long", fmt.Sprintf("must be at most %d characters", max))
		return false
	}
	return true
}

func (p *parser) row(r int, cells []string) {
	before := len(p.errs)
	out := Row{Row: r, Basis: BasisUsage}
	// SKU
	if v, _ := p.cell(cells, ColSKU); v == "" {
		p.empty(r, ColSKU, true)
	} else if p.text(r, ColSKU, v, maxSKU) {
		out.SKU = v
		key := strings.ToLower(v)
		if first, dup := p.skus[key]; dup {
			p.fail(r, ColSKU, "duplicate_sku", fmt.Sprintf("SKU %q is also in row %d", v, first))
		} else {
			p.skus[key] = r
		}
	}
	// Description (optional column and cell)
	if v, ok := p.cell(cells, ColDescription); ok {
		if v == "" {
			p.empty(r, ColDescription, false)
		} else if p.text(r, ColDescription, v, maxDescription) {
			out.Description = v
		}
	}
	// Unit
	if v, _ := p.cell(cells, ColUnit); v == "" {
		p.empty(r, ColUnit, true)
	} else if p.text(r, ColUnit, v, maxUnit) {
		if u, ok := unitOf(v); ok {
			out.Unit = u
		} else {
			p.fail(r, ColUnit, "unknown_unit", "must be one of "+strings.Join(Units, ", "))
		}
	}
	// Unit cost
	if v, _ := p.cell(cells, ColUnitCost); v == "" {
		p.empty(r, ColUnitCost, true)
	} else if what := p.notNumber(r); what != "" {
		p.fail(r, ColUnitCost, "not_a_number", "must be a number such as 12.5, not "+what)
	} else if d, ok := p.cost(r, v); ok {
		out.UnitCost = d
	}
	// Billed by (optional; empty means usage)
	if v, ok := p.cell(cells, ColBasis); ok {
		switch b := strings.ToLower(v); {
		case b == "":
			p.empty(r, ColBasis, false)
		case b == BasisUsage || b == BasisQuota:
			out.Basis = b
		default:
			p.fail(r, ColBasis, "unknown_basis", "must be usage, quota or empty (usage)")
		}
	}
	if len(p.errs) == before {
		p.rows = append(p.rows, out)
	}
}

func unitOf(v string) (string, bool) {
	v = strings.Join(strings.Fields(v), " ")
	for _, u := range Units {
		if strings.EqualFold(u, v) {
			return u, true
		}
	}
	return "", false
}

var maxCost = decimal.New(1, 12) // numeric(18,6)

// cost reads a unit cost: a decimal, at least 0, up to MaxDecimals places.
// A number cell is read as the spreadsheet shows it (15 significant
// digits), so 0.1+0.2 is 0.3, not 0.30000000000000004.
func (p *parser) cost(r int, v string) (decimal.Decimal, bool) {
	if !decimalText.MatchString(v) {
		p.fail(r, ColUnitCost, "not_a_number", "must be a number such as 12.5")
		return decimal.Decimal{}, false
	}
	d, err := decimal.NewFromString(v)
	if err != nil {
		p.fail(r, ColUnitCost, "not_a_number", "must be a number such as 12.5")
		return decimal.Decimal{}, false
	}
	if places(d) > MaxDecimals && p.isNumber(r) {
		if fl, err := strconv.ParseFloat(v, 64); err == nil {
			if shown, err := decimal.NewFromString(strconv.FormatFloat(fl, 'g', 15, 64)); err == nil {
				d = shown
			}
		}
	}
	switch {
	case d.IsNegative():
		p.fail(r, ColUnitCost, "negative_cost", "the unit cost must not be negative")
	case places(d) > MaxDecimals:
		p.fail(r, ColUnitCost, "too_precise", fmt.Sprintf("must have at most %d decimal places", MaxDecimals))
	case d.Cmp(maxCost) >= 0:
		p.fail(r, ColUnitCost, "too_large", "must be less than 1,000,000,000,000")
	default:
		return d, true
	}
	return decimal.Decimal{}, false
}

// notNumber names what a unit cost cell holds when it is typed as
// something other than a number or text (a boolean, a date, an error),
// which its raw value would hide (TRUE is 1, a date its serial number).
func (p *parser) notNumber(r int) string {
	if !p.typed && len(p.dates) == 0 {
		return ""
	}
	ref, _ := excelize.CoordinatesToCellName(p.cols[ColUnitCost]+1, r)
	if p.typed {
		t, err := p.f.GetCellType(p.sheet, ref)
		if err != nil {
			return ""
		}
		switch t {
		case excelize.CellTypeBool:
			return "a boolean"
		case excelize.CellTypeDate:
			return "a date"
		case excelize.CellTypeError:
			return "an error value"
		}
	}
	if len(p.dates) > 0 {
		if id, err := p.f.GetCellStyle(p.sheet, ref); err == nil && p.dates[id] && p.isNumber(r) {
			return "a date (the cell's format shows a date or time)"
		}
	}
	return ""
}

// isNumber tells a number cell (or a formula's number) from text.
func (p *parser) isNumber(r int) bool {
	ref, _ := excelize.CoordinatesToCellName(p.cols[ColUnitCost]+1, r)
	t, err := p.f.GetCellType(p.sheet, ref)
	return err == nil && (t == excelize.CellTypeUnset || t == excelize.CellTypeNumber)
}

// places counts decimal places, trailing zeros aside.
func places(d decimal.Decimal) int {
	s := d.String()
	if i := strings.IndexByte(s, '.'); i >= 0 {
		return len(s) - i - 1
	}
	return 0
}
