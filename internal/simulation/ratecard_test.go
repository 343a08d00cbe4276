package simulation

import (
	"bytes"
	"fmt"
	"mime/multipart"
	"net/textproto"
	"slices"
	"strconv"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/ratecard"
)

// cardItems are the SKUs a card prices, with their unit; the first group's
// card bills workstations by the quota set, the second by usage.
var cardItems = []struct {
	sku, unit string
	most      int64 // the highest unit cost drawn, in millionths
}{
	{"pw_base_storage", "GB", 60_000}, {"pw_base_workstations", "workstation", 5_000_000}, {"pw_base_servers", "server", 20_000_000},
}

// rateCards: on the run's first day and the first of each month the SP
// imports each product group's card for the month, made from the template
// (GET /v1/rate-cards/template, filled by the harness, as an operator
// would): the first group's in EUR at a rate drawn per month, the second's
// in USD; now and then a month's card leaves a SKU out (its usage must be
// flagged no_rate) or is imported again (it replaces the first).
// rate_cards_kept: each import answers 201 with the rows sent; the month
// has exactly one current card, the latest; earlier versions are kept,
// each replaced by the next; the card's file comes back byte for byte.
func (s *sim) rateCards() {
	today := s.date()
	if s.day != 1 && today.Day() != 1 && s.rng.IntN(20) != 0 {
		return
	}
	for gi, g := range s.groups {
		s.importCard(gi, g, today.Year(), int(today.Month()))
	}
}

// badRateCard: a workbook an operator got wrong is refused with 422 and
// its rows named, and changes nothing (rate_cards_kept).
func (s *sim) badRateCard() {
	if len(s.groups) == 0 {
		return
	}
	gi := s.rng.IntN(len(s.groups))
	today := s.date()
	y, m := today.Year(), int(today.Month())
	before := s.cards(s.groups[gi], y, m)
	rows := s.cardRows(gi)
	var code string
	switch s.rng.IntN(4) {
	case 0:
		rows[s.rng.IntN(len(rows))][3] = "-" + rows[0][3]
		code = "negative_cost"
	case 1:
		rows = append(rows, slices.Clone(rows[0]))
		code = "duplicate_sku"
	case 2:
		rows[s.rng.IntN(len(rows))][3] = "0.1234567"
		code = "too_precise"
	default:
		rows[s.rng.IntN(len(rows))][2] = "parsec"
		code = "unknown_unit"
	}
	file, ok := s.cardFile(rows)
	if !ok {
		return
	}
	r := s.postCard(s.groups[gi], y, m, "USD", "1", file)
	if r == nil {
		return
	}
	subject := fmt.Sprintf("bad/%d-%02d/%d", y, m, s.day)
	if r.StatusCode() != 422 || problemCode(r.Body) != "rate_card_invalid" || !bytes.Contains(r.Body, []byte(`"`+code+`"`)) {
		s.fail("rate_cards_kept", subject, "a card with %s answered %d: %s", code, r.StatusCode(), r.Body)
	}
	if after := s.cards(s.groups[gi], y, m); len(after) != len(before) {
		s.fail("rate_cards_kept", subject+"/changed", "a refused card left %d cards for %d-%02d, %d before", len(after), y, m, len(before))
	}
}

// cardRows are a card's data rows (SKU, description, unit, cost, basis),
// costs drawn with up to 6 places (storage up to 0.06 per GB, a
// workstation up to 5, a server up to 20); a quarter of the cards leave
// one out.
func (s *sim) cardRows(gi int) [][]string {
	var rows [][]string
	for _, it := range cardItems {
		basis := ratecard.BasisUsage
		if gi == 0 && it.sku == "pw_base_workstations" {
			basis = ratecard.BasisQuota
		}
		cost := decimal.New(1+s.rng.Int64N(it.most), -6)
		rows = append(rows, []string{it.sku, "Cyber Protect " + it.sku, it.unit, cost.String(), basis})
	}
	if s.rng.IntN(4) == 0 {
		i := s.rng.IntN(len(rows))
		rows = slices.Delete(rows, i, i+1)
	}
	return rows
}

// cardFile fills the platform's template with rows.
func (s *sim) cardFile(rows [][]string) ([]byte, bool) {
	t, err := s.admin.c.GetRateCardTemplateWithResponse(s.ctx)
	if !s.ok("get_rate_card_template", t, err) {
		s.fail("rate_cards_kept", "template/"+uuid.NewString(), "the template answered %d: %s", t.StatusCode(), t.Body)
		return nil, false
	}
	f, err := excelize.OpenReader(bytes.NewReader(t.Body))
	if err != nil {
		s.fail("rate_cards_kept", "template/"+uuid.NewString(), "the template does not open: %v", err)
		return nil, false
	}
	defer func() { _ = f.Close() }()
	for i, row := range rows {
		for j, v := range row {
			cell, _ := excelize.CoordinatesToCellName(j+1, i+2)
			if j == 3 { // the cost as a number, as a spreadsheet holds it
				if n, err := strconv.ParseFloat(v, 64); err == nil {
					_ = f.SetCellFloat(ratecard.DataSheet, cell, n, -1, 64)
					continue
				}
			}
			_ = f.SetCellStr(ratecard.DataSheet, cell, v)
		}
	}
	b, err := f.WriteToBuffer()
	if err != nil {
		s.fail("rate_cards_kept", "template/"+uuid.NewString(), "the filled template does not save: %v", err)
		return nil, false
	}
	return b.Bytes(), true
}

func (s *sim) postCard(group uuid.UUID, y, m int, currency, rate string, file []byte) *oapi.ImportRateCardResponse {
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename="card-%d-%02d.xlsx"`, y, m))
	h.Set("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
	part, _ := w.CreatePart(h)
	_, _ = part.Write(file)
	for _, kv := range [][2]string{{"month", strconv.Itoa(m)}, {"year", strconv.Itoa(y)}, {"currency", currency}, {"exchange_rate", rate}} {
		_ = w.WriteField(kv[0], kv[1])
	}
	_ = w.Close()
	r, err := s.admin.c.ImportRateCardWithBodyWithResponse(s.ctx, group, &oapi.ImportRateCardParams{}, w.FormDataContentType(), &body)
	if err != nil {
		s.ok("import_rate_card", r, err)
		return nil
	}
	s.ok("import_rate_card", r, nil)
	return r
}

// importCard imports a group's card for a month and checks what is kept.
func (s *sim) importCard(gi int, group uuid.UUID, y, m int) {
	rows := s.cardRows(gi)
	currency, rate := "USD", "1"
	if gi == 0 {
		currency, rate = "EUR", []string{"1.05", "1.08", "1.1", "1.123456"}[s.rng.IntN(4)]
	}
	file, ok := s.cardFile(rows)
	if !ok {
		return
	}
	before := s.cards(group, y, m)
	s.note("rate_card %d %d-%02d %s %s %d rows", gi, y, m, currency, rate, len(rows))
	r := s.postCard(group, y, m, currency, rate, file)
	subject := fmt.Sprintf("%d/%d-%02d/%d", gi, y, m, s.day)
	if r == nil || r.JSON201 == nil {
		if r != nil {
			s.fail("rate_cards_kept", subject, "importing the %d-%02d card answered %d: %s", y, m, r.StatusCode(), r.Body)
		}
		return
	}
	c := *r.JSON201
	var got [][]string
	if c.Rows != nil {
		for _, x := range *c.Rows {
			d, _ := decimal.NewFromString(x.UnitCost)
			got = append(got, []string{x.Sku, x.Description, x.Unit, d.String(), string(x.Basis)})
		}
	}
	want := make([][]string, len(rows))
	for i, row := range rows {
		d, _ := decimal.NewFromString(row[3])
		want[i] = []string{row[0], row[1], row[2], d.String(), row[4]}
	}
	if d := tableDiff(want, got, false); d != "" {
		s.fail("rate_cards_kept", subject+"/rows", "the imported card's rows differ from the file's: %s", d)
	}
	if c.Currency != currency || !decEq(c.ExchangeRate, rate) || c.Version != len(before)+1 {
		s.fail("rate_cards_kept", subject+"/card", "the imported card is %s at %s version %d, want %s at %s version %d", c.Currency, c.ExchangeRate, c.Version, currency, rate, len(before)+1)
	}
	after := s.cards(group, y, m)
	current := 0
	for i, x := range after {
		if x.Status == oapi.RateCardStatusCurrent {
			current++
			if x.Id != c.Id {
				s.fail("rate_cards_kept", subject+"/current", "the current %d-%02d card is %s, the latest import %s", y, m, x.Id, c.Id)
			}
		} else if i+1 >= len(after) || x.ReplacedBy == nil || *x.ReplacedBy != after[i+1].Id {
			s.fail("rate_cards_kept", subject+"/chain", "card %s version %d is not replaced by the next version", x.Id, x.Version)
		}
	}
	if current != 1 || len(after) != len(before)+1 {
		s.fail("rate_cards_kept", subject+"/count", "%d-%02d has %d cards (%d current) after an import, %d before", y, m, len(after), current, len(before))
	}
	fx, err := s.admin.c.GetRateCardWithResponse(s.ctx, c.Id, &oapi.GetRateCardParams{Format: ptr(oapi.GetRateCardParamsFormatXlsx)})
	if s.ok("get_rate_card", fx, err) && !bytes.Equal(fx.Body, file) {
		s.fail("rate_cards_kept", subject+"/file", "card %s's file comes back as %d bytes, %d imported", c.Id, len(fx.Body), len(file))
	}
}

// cards lists a group's cards of a month, oldest version first.
func (s *sim) cards(group uuid.UUID, y, m int) []oapi.RateCard {
	return all(s, "list_rate_cards", func(c *string) (response, []oapi.RateCard, *string, error) {
		r, err := s.admin.c.ListProductGroupRateCardsWithResponse(s.ctx, group, &oapi.ListProductGroupRateCardsParams{Month: &m, Year: &y, Cursor: c, Limit: ptr(pageSize)})
		if err != nil || r.JSON200 == nil {
			return r, nil, nil, err
		}
		return r, r.JSON200.Data, r.JSON200.NextCursor, nil
	})
}

func derefStr(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func decEq(a, b string) bool {
	x, e1 := decimal.NewFromString(a)
	y, e2 := decimal.NewFromString(b)
	return e1 == nil && e2 == nil && x.Equal(y)
}
