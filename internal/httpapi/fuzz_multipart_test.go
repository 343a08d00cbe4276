package httpapi_test

import (
	"archive/zip"
	"bytes"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// The multipart side of the spec fuzz: operations whose body is a
// multipart/form-data form (the rate card import) get forms built part by
// part, valid or broken one way: a part missing, extra or sent twice,
// fields of the wrong type or huge, a file of random bytes, a truncated
// zip, a workbook with hostile cells or malformed XML, a wrong
// Content-Type, a boundary that never closes. All of it comes from the
// request's rng, so a seed replays the same bytes.

// formPart is one part of a generated form.
type formPart struct {
	name, fileName, contentType string
	value                       []byte
	// header, when set, is sent as the part's headers instead.
	header string
}

const xlsxType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

// formBody builds the form of an import, broken when target is set.
func (f *fuzzer) formBody(rng *rand.Rand, req *fuzzReq, target string) {
	currency := []string{"EUR", "EUR", "GBP", "CHF", "JPY", "USD"}[rng.IntN(6)]
	rate := []string{"1.08", "0.9", "151.123456", "1"}[rng.IntN(4)]
	if currency == "USD" {
		rate = "1"
	}
	// The test clock is in November 2026: November 2027 is the last
	// month a card may price.
	month, year := 1+rng.IntN(12), []string{"2026", "2026", "2025", "2027", "2000"}[rng.IntN(5)]
	if year == "2027" {
		month = min(month, 11)
	}
	parts := []formPart{
		{name: "month", value: []byte(strconv.Itoa(month))},
		{name: "year", value: []byte(year)},
		{name: "currency", value: []byte(currency)},
		{name: "exchange_rate", value: []byte(rate)},
		{name: "file", fileName: "card.xlsx", contentType: xlsxType, value: cleanWorkbook(rng)},
	}
	if rng.IntN(3) == 0 {
		rng.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
	}
	at := func(name string) int {
		for i, p := range parts {
			if p.name == name {
				return i
			}
		}
		return -1
	}
	fieldNames := []string{"month", "year", "currency", "exchange_rate", "file"}
	boundary := fmt.Sprintf("fuzz%016x", rng.Uint64())
	contentType := "multipart/form-data; boundary=" + boundary
	unclosed, cut := false, -1
	mut := func(s string) { req.mutations = append(req.mutations, s) }

	if target != "" {
		switch rng.IntN(14) {
		case 0:
			i := rng.IntN(len(parts))
			mut("form: drop " + parts[i].name)
			parts = append(parts[:i], parts[i+1:]...)
		case 1:
			parts = append(parts, formPart{name: randomName(rng), value: []byte(randomString(rng))})
			mut("form: unknown part")
		case 2:
			i := rng.IntN(len(parts))
			dup := parts[i]
			if rng.IntN(2) == 0 && dup.name != "file" {
				dup.value = []byte(strconv.Itoa(rng.IntN(20)))
			}
			parts = append(parts, dup)
			mut("form: " + dup.name + " twice")
		case 3:
			name := fieldNames[rng.IntN(4)]
			v := badFormValue(rng, name)
			parts[at(name)].value = v
			mut(fmt.Sprintf("form: %s = %q", name, truncateString(string(v), 40)))
		case 4:
			name := fieldNames[rng.IntN(4)]
			parts[at(name)].value = bytes.Repeat([]byte("9"), 1<<20+rng.IntN(1000))
			mut("form: huge " + name)
		case 5:
			b := make([]byte, rng.IntN(64<<10))
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			if rng.IntN(2) == 0 && len(b) > 4 {
				copy(b, "PK\x03\x04") // a zip's magic and then noise
			}
			parts[at("file")].value = b
			mut("form: random bytes as the file")
		case 6:
			w := cleanWorkbook(rng)
			parts[at("file")].value = w[:rng.IntN(len(w))]
			mut("form: truncated zip")
		case 7, 8, 9:
			w, what := hostileWorkbook(rng)
			parts[at("file")].value = w
			mut("form: workbook " + what)
		case 10:
			contentType = []string{"application/json", "text/plain", "multipart/form-data", "multipart/form-data; boundary=",
				"multipart/mixed; boundary=" + boundary, "multipart/form-data; boundary=other", "application/x-www-form-urlencoded",
				"multipart/form-data; boundary=\"" + boundary, xlsxType, ""}[rng.IntN(10)]
			mut("form: content type " + strconv.Quote(contentType))
		case 11:
			unclosed = true
			if rng.IntN(2) == 0 {
				cut = rng.IntN(1 << 16)
			}
			mut("form: boundary never ends")
		case 12:
			i := rng.IntN(len(parts))
			switch rng.IntN(5) {
			case 0:
				parts[i].header = "Content-Type: text/plain"
				mut("form: part without Content-Disposition")
			case 1:
				parts[i].header = `Content-Disposition: form-data; name="` + parts[i].name
				mut("form: unterminated Content-Disposition")
			case 2:
				parts[i].fileName = ""
				parts[i].contentType = ""
				mut("form: " + parts[i].name + " without a file name")
			case 3:
				parts[i].fileName = []string{"../../etc/passwd", "a\x00b.xlsx", strings.Repeat("n", 5000) + ".xlsx", "\xff\xfe.xlsx", "card.csv"}[rng.IntN(5)]
				mut("form: file name " + strconv.Quote(truncateString(parts[i].fileName, 30)))
			case 4:
				parts[i].contentType = []string{"application/json", "text/csv", "", "application/octet-stream", "multipart/mixed; boundary=x"}[rng.IntN(5)]
				mut("form: part content type " + strconv.Quote(parts[i].contentType))
			}
		case 13:
			if rng.IntN(10) == 0 {
				parts[at("file")].value = bytes.Repeat([]byte("x"), 5<<20+1)
				mut("form: file over 5 MiB")
			} else {
				parts = nil
				mut("form: no parts")
			}
		}
	}

	var b bytes.Buffer
	for _, p := range parts {
		fmt.Fprintf(&b, "--%s\r\n", boundary)
		switch {
		case p.header != "":
			b.WriteString(p.header + "\r\n")
		default:
			fmt.Fprintf(&b, "Content-Disposition: form-data; name=%q", p.name)
			if p.fileName != "" {
				fmt.Fprintf(&b, "; filename=%q", p.fileName)
			}
			b.WriteString("\r\n")
			if p.contentType != "" {
				fmt.Fprintf(&b, "Content-Type: %s\r\n", p.contentType)
			}
		}
		b.WriteString("\r\n")
		b.Write(p.value)
		b.WriteString("\r\n")
	}
	if !unclosed {
		fmt.Fprintf(&b, "--%s--\r\n", boundary)
	}
	req.body = b.Bytes()
	if cut >= 0 && cut < len(req.body) {
		req.body = req.body[:cut]
	}
	if contentType != "" {
		req.header.Set("Content-Type", contentType)
	}
}

func truncateString(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

func badFormValue(rng *rand.Rand, name string) []byte {
	common := []string{"", " ", "abc", "\x00", "\xff\xfe", "null", "[]", "{}", "1e3", "-0", "99999999999999999999",
		"9223372036854775807", "-9223372036854775808", "0x0C", " 12 ", "١٢", "1.5", strings.Repeat("7", 300)}
	var own []string
	switch name {
	case "month":
		own = []string{"0", "13", "-1", "+11", "011", "2147483648"}
	case "year":
		own = []string{"1999", "0", "-2026", "10000", "2028", "+2026", "2147483648"}
	case "currency":
		own = []string{"eur", " EUR ", "E", "EURO", "€", "XXX", "ZZZ", "usd", "123", "EU\x00"}
	case "exchange_rate":
		own = []string{"0", "-1", "1,08", "1e3", ".5", "1.", "1.0000001", "00000000001.08", "1000000000000", "NaN", "Infinity",
			strings.Repeat("1", 33), "0.000000", "+1.08", "1 08"}
	}
	all := append(own, common...)
	return []byte(all[rng.IntN(len(all))])
}

// --- workbooks ----------------------------------------------------------

// xcell is one cell of a generated sheet, written as given: ref (its r
// attribute; "" for none), t (its type), v (its value), f (a formula),
// inline (an inline string instead of v).
type xcell struct {
	ref, t, v, f, inline string
	noV                  bool
}

type xsheet struct {
	rows    [][]xcell
	rowRefs []string // the r attribute of each row; "" for none
	shared  []string // the shared strings
	// raw, when set, replaces the sheet's XML; sharedRaw the shared
	// strings'.
	raw, sharedRaw string
	noShared       bool
}

var fuzzUnits = []string{"GB", "TB", "workstation", "server", "seat", "mailbox"}

// cleanWorkbook is a card every rule accepts: unique SKUs, known units,
// costs with up to 6 places.
func cleanWorkbook(rng *rand.Rand) []byte {
	s := &xsheet{}
	s.row(headerCells(s, rng, false))
	for i := range 1 + rng.IntN(8) {
		s.row([]xcell{s.str(fmt.Sprintf("sku-%d-%d", i, rng.IntN(1000))), s.str("item"), s.str(fuzzUnits[rng.IntN(len(fuzzUnits))]),
			{v: strconv.FormatFloat(float64(rng.IntN(100000))/1000, 'f', -1, 64)}, s.str([]string{"", "usage", "quota"}[rng.IntN(3)])})
	}
	return s.zip()
}

func headerCells(s *xsheet, rng *rand.Rand, odd bool) []xcell {
	names := []string{"SKU or offering item", "Description", "Unit", "Unit cost", "Billed by"}
	if odd {
		switch rng.IntN(4) {
		case 0:
			names = append(names[:3], names[4]) // no Unit cost
		case 1:
			names = append(names, "Unit") // a column twice
		case 2:
			names = []string{" sku  OR offering ITEM ", "description", "UNIT", "unit COST"}
		case 3:
			names = append(names, "Notes", "", "Extra")
		}
	}
	out := make([]xcell, len(names))
	for i, n := range names {
		out[i] = s.str(n)
	}
	return out
}

// str is a text cell, shared or inline.
func (s *xsheet) str(v string) xcell {
	if len(s.shared)%2 == 0 && len(v) < 1000 {
		s.shared = append(s.shared, v)
		return xcell{t: "s", v: strconv.Itoa(len(s.shared) - 1)}
	}
	return xcell{t: "inlineStr", inline: v}
}

func (s *xsheet) row(cells []xcell) {
	s.rows = append(s.rows, cells)
	s.rowRefs = append(s.rowRefs, strconv.Itoa(len(s.rows)))
}

// hostileCell is a cell for the unit cost (or any) column that the import
// must refuse or read right, never trip on.
func hostileCell(s *xsheet, rng *rand.Rand) xcell {
	texts := []string{"+1", " 3 ", "1,000.50", "1 000", "1e308", "1E-7", "#DIV/0!", "TRUE", "", "   ", "0x10", "١٢", "１２",
		"1.0000000", "-0", "NaN", "Infinity", "1e-400", "1e400", "12.5", "0", "_x0000_", "€1", "1.5.5", strings.Repeat("9", 400)}
	switch rng.IntN(9) {
	case 0:
		return s.str(texts[rng.IntN(len(texts))])
	case 1:
		return xcell{v: []string{"1e308", "1E-7", "-0", "NaN", "Infinity", "1.7976931348623157e309", "0.1", "12.5", "-3",
			strings.Repeat("9", 400), "4.9e-324", "abc", "", "0.30000000000000004", "1e15", "999999999999.9999999"}[rng.IntN(16)]}
	case 2:
		return xcell{t: "e", v: []string{"#DIV/0!", "#N/A", "#VALUE!", "#REF!", "#NAME?"}[rng.IntN(5)]}
	case 3:
		return xcell{t: "b", v: []string{"1", "0", "2", "true", ""}[rng.IntN(5)]}
	case 4:
		return xcell{t: "d", v: []string{"2026-11-01T00:00:00Z", "2026-11-01", "garbage", ""}[rng.IntN(4)]}
	case 5:
		return xcell{t: "s", v: []string{"999999", "-1", "abc", "", "18446744073709551616"}[rng.IntN(5)]}
	case 6:
		return xcell{f: []string{"1/0", "SUM(A1:XFD1048576)", "4*2.5", "A1", "\"x\""}[rng.IntN(5)],
			v: []string{"", "10", "#DIV/0!"}[rng.IntN(3)], t: []string{"", "str", "e", "n"}[rng.IntN(4)], noV: rng.IntN(2) == 0}
	case 7:
		return xcell{t: []string{"n", "str", "zz", "inlineStr"}[rng.IntN(4)], v: "7"}
	}
	if rng.IntN(20) == 0 {
		return s.str(strings.Repeat("é", 1<<19)) // a 1 MB cell
	}
	return xcell{v: strconv.Itoa(rng.IntN(100))}
}

// hostileWorkbook is a workbook with one kind of trouble, and its name.
func hostileWorkbook(rng *rand.Rand) ([]byte, string) {
	s := &xsheet{}
	s.row(headerCells(s, rng, rng.IntN(4) == 0))
	n := 1 + rng.IntN(12)
	for i := range n {
		sku := s.str(fmt.Sprintf("sku-%d", i))
		switch rng.IntN(8) {
		case 0:
			sku = s.str(" sku-0 ") // the first row's SKU with spaces
		case 1:
			sku = s.str("SKU-0")
		case 2:
			sku = hostileCell(s, rng)
		case 3:
			sku = s.str(strings.Repeat("s", 256+rng.IntN(2000)))
		}
		unit := s.str(fuzzUnits[rng.IntN(len(fuzzUnits))])
		if rng.IntN(3) == 0 {
			unit = s.str([]string{"gb", "Gb", " GB ", "G B", "litre", "", "tb", "WORKSTATION", "virtual  machine"}[rng.IntN(9)])
		}
		s.row([]xcell{sku, s.str("d"), unit, hostileCell(s, rng), s.str([]string{"", "usage", "QUOTA", "monthly"}[rng.IntN(4)])})
	}
	what := "with hostile cells"
	switch rng.IntN(12) {
	case 0:
		s.row(headerCells(s, rng, false))
		what = "with the header row repeated"
	case 1:
		i := 1 + rng.IntN(n)
		s.rows[i] = append(s.rows[i], xcell{ref: "XFD" + s.rowRefs[i], v: "1"})
		what = "with a cell in column XFD (16,384)"
	case 2:
		s.rows[1] = append(s.rows[1], xcell{ref: []string{"XFE2", "A1048577", "A0", "1A", "", "ZZZZZ2", "A-1"}[rng.IntN(7)], v: "1"})
		what = "with a cell reference beyond the sheet"
	case 3:
		s.rowRefs[len(s.rowRefs)-1] = []string{"1048577", "0", "-1", "", "abc", "99999999999"}[rng.IntN(6)]
		what = "with a row number beyond the sheet"
	case 4:
		s.rowRefs[len(s.rowRefs)-1] = "1" // rows out of order
		what = "with rows out of order"
	case 5:
		x := s.sheetXML()
		s.raw = x[:rng.IntN(len(x))]
		what = "with truncated sheet XML"
	case 6:
		x := s.sheetXML()
		s.raw = strings.Replace(x, "<sheetData>", []string{"<sheetData><row><c>", "<sheetData><!--", "<sheetData>&bogus;", "<sheetData>\xff\xfe",
			"<sheetData><row r=\"2\"><c r=\"A2\"><v>1</v></c><row>"}[rng.IntN(5)], 1)
		what = "with malformed sheet XML"
	case 7:
		s.sharedRaw = []string{"", "<sst>", "<sst><si><t>x</si></sst>", "<sst xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><si><r><t>a</t></r><si>",
			"\xff\xfe<sst/>", "<?xml version=\"1.0\"?><!DOCTYPE sst [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]><sst><si><t>&b;</t></si></sst>"}[rng.IntN(6)]
		what = "with malformed shared strings"
	case 8:
		s.noShared = true
		what = "without its shared strings"
	case 9:
		for range 20 + rng.IntN(200) {
			s.row([]xcell{})
		}
		s.row([]xcell{s.str("late"), s.str(""), s.str("GB"), {v: "1"}})
		what = "with empty rows before the last"
	}
	return s.zip(), what
}

func (s *xsheet) sheetXML() string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` +
		`<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>`)
	for i, cells := range s.rows {
		if s.rowRefs[i] != "" {
			fmt.Fprintf(&b, `<row r="%s">`, s.rowRefs[i])
		} else {
			b.WriteString("<row>")
		}
		for j, c := range cells {
			ref := c.ref
			if ref == "" {
				ref = colLetters(j+1) + s.rowRefs[i]
			}
			b.WriteString(`<c r="` + xmlEscape(ref) + `"`)
			if c.t != "" {
				b.WriteString(` t="` + c.t + `"`)
			}
			b.WriteString(">")
			if c.f != "" {
				b.WriteString("<f>" + xmlEscape(c.f) + "</f>")
			}
			switch {
			case c.t == "inlineStr":
				b.WriteString("<is><t>" + xmlEscape(c.inline) + "</t></is>")
			case !c.noV:
				b.WriteString("<v>" + xmlEscape(c.v) + "</v>")
			}
			b.WriteString("</c>")
		}
		b.WriteString("</row>")
	}
	b.WriteString("</sheetData></worksheet>")
	return b.String()
}

func (s *xsheet) sharedXML() string {
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>`+
		`<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="%d" uniqueCount="%d">`, len(s.shared), len(s.shared))
	for _, v := range s.shared {
		b.WriteString(`<si><t xml:space="preserve">` + xmlEscape(v) + "</t></si>")
	}
	b.WriteString("</sst>")
	return b.String()
}

// zip packs the sheet into the smallest workbook a spreadsheet opens.
func (s *xsheet) zip() []byte {
	sheet := s.raw
	if sheet == "" {
		sheet = s.sheetXML()
	}
	shared := s.sharedRaw
	if shared == "" {
		shared = s.sharedXML()
	}
	files := [][2]string{
		{"[Content_Types].xml", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` +
			`<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
			`<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>` +
			`<Default Extension="xml" ContentType="application/xml"/>` +
			`<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>` +
			`<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>` +
			`<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>` +
			`</Types>`},
		{"_rels/.rels", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` +
			`<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
			`<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>` +
			`</Relationships>`},
		{"xl/workbook.xml", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` +
			`<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">` +
			`<sheets><sheet name="Rate card" sheetId="1" r:id="rId1"/></sheets></workbook>`},
		{"xl/_rels/workbook.xml.rels", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` +
			`<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
			`<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>` +
			`<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>` +
			`</Relationships>`},
		{"xl/worksheets/sheet1.xml", sheet},
	}
	if !s.noShared {
		files = append(files, [2]string{"xl/sharedStrings.xml", shared})
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, f := range files {
		w, err := zw.Create(f[0])
		if err != nil {
			panic(err)
		}
		_, _ = w.Write([]byte(f[1]))
	}
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return out.Bytes()
}

func colLetters(n int) string {
	var b []byte
	for n > 0 {
		n--
		b = append([]byte{byte('A' + n%26)}, b...)
		n /= 26
	}
	return string(b)
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}
