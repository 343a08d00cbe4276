package ratecard

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/auth"
	"github.com/acronis-platform/platform/internal/clock"
	"github.com/acronis-platform/platform/internal/errs"
)

// Service imports and reads rate cards.
type Service struct {
	db   *gorm.DB
	clk  clock.Clock
	loc  *time.Location
	base string
}

// New returns the service; base is the SP's base currency, loc its time
// zone (the current month is counted in it).
func New(db *gorm.DB, clk clock.Clock, loc *time.Location, base string) *Service {
	if loc == nil {
		loc = time.UTC
	}
	return &Service{db: db, clk: clk, loc: loc, base: base}
}

// BaseCurrency is the SP's base currency.
func (s *Service) BaseCurrency() string { return s.base }

// ImportInput is one upload: the form's fields and the file.
type ImportInput struct {
	GroupID      uuid.UUID
	Month, Year  int
	Currency     string
	ExchangeRate string
	FileName     string
	File         []byte
}

// maxRate bounds the exchange rate (numeric(18,6)).
var maxRate = decimal.New(1, 12)

const cardColumns = "rate_cards.id, rate_cards.product_group_id, rate_cards.year, rate_cards.month, rate_cards.version, rate_cards.currency, " +
	"rate_cards.exchange_rate, rate_cards.base_currency, rate_cards.file_name, rate_cards.file_sha256, rate_cards.row_count, " +
	"rate_cards.imported_by, rate_cards.replaced_at, rate_cards.replaced_by, rate_cards.created_at, " +
	"(SELECT p.id FROM rate_cards p WHERE p.replaced_by = rate_cards.id) AS replaces"

// group checks the product group exists and uses the acronis module.
func (s *Service) group(ctx context.Context, id uuid.UUID) error {
	var modules []string
	if err := s.db.WithContext(ctx).Raw("SELECT module FROM product_groups WHERE id = ?", id).Scan(&modules).Error; err != nil {
		return errs.Internal(err)
	}
	if len(modules) == 0 {
		return errs.NotFound("product group")
	}
	if modules[0] != "acronis" {
		return errs.Unprocessable("module_not_applicable", "Rate cards are kept for product groups with the acronis module.").WithField("id")
	}
	return nil
}

// checkPeriod: month 1..12, year from 2000 up to 12 months after the
// current month in the SP's time zone.
func (s *Service) checkPeriod(year, month int) error {
	if month < 1 || month > 12 {
		return errs.Unprocessable("month_out_of_range", "month must be from 1 to 12.").WithField("month")
	}
	now := s.clk.Now().In(s.loc)
	latest := now.Year()*12 + int(now.Month()) - 1 + 12
	// The year alone first: year*12 of a huge year wraps around.
	if year < 2000 || year > latest/12 || year*12+month-1 > latest {
		return errs.Unprocessable("year_out_of_range",
			fmt.Sprintf("The card's month must be from January 2000 to %s.", time.Date(latest/12, time.Month(latest%12+1), 1, 0, 0, 0, 0, time.UTC).Format("January 2006"))).WithField("year")
	}
	return nil
}

// rate checks the currency and exchange rate.
func (s *Service) rate(currency, rate string) (string, decimal.Decimal, error) {
	cur := strings.ToUpper(strings.TrimSpace(currency))
	if !IsCurrency(cur) {
		return "", decimal.Decimal{}, errs.Unprocessable("unknown_currency", "currency must be an ISO 4217 code such as EUR.").WithField("currency")
	}
	if !decimalText.MatchString(strings.TrimSpace(rate)) || strings.ContainsAny(rate, "eE") {
		return "", decimal.Decimal{}, errs.Invalid("exchange_rate", "invalid_decimal", "exchange_rate is a decimal string such as 1.08")
	}
	d, err := decimal.NewFromString(strings.TrimSpace(rate))
	if err != nil {
		return "", decimal.Decimal{}, errs.Invalid("exchange_rate", "invalid_decimal", "exchange_rate is a decimal string such as 1.08")
	}
	switch {
	case !d.IsPositive():
		return "", d, errs.Unprocessable("exchange_rate_not_positive", "exchange_rate must be greater than 0.").WithField("exchange_rate")
	case places(d) > MaxDecimals:
		return "", d, errs.Unprocessable("too_precise", fmt.Sprintf("exchange_rate has at most %d decimal places.", MaxDecimals)).WithField("exchange_rate")
	case d.Cmp(maxRate) >= 0:
		return "", d, errs.Unprocessable("exchange_rate_too_large", "exchange_rate must be less than 1,000,000,000,000.").WithField("exchange_rate")
	case cur == s.base && !d.Equal(decimal.NewFromInt(1)):
		return "", d, errs.Unprocessable("exchange_rate_must_be_one", "The card is in the base currency "+s.base+"; its exchange_rate is 1.").WithField("exchange_rate")
	}
	return cur, d, nil
}

// Import checks the upload and stores it as the month's current card,
// replacing the one before (kept as a previous version). All or nothing.
func (s *Service) Import(ctx context.Context, who auth.Principal, in ImportInput) (Card, error) {
	if err := s.group(ctx, in.GroupID); err != nil {
		return Card{}, err
	}
	if err := s.checkPeriod(in.Year, in.Month); err != nil {
		return Card{}, err
	}
	cur, rate, err := s.rate(in.Currency, in.ExchangeRate)
	if err != nil {
		return Card{}, err
	}
	rows, err := Parse(in.File)
	if err != nil {
		return Card{}, err
	}
	sum := sha256.Sum256(in.File)
	now := s.clk.Now()
	c := Card{ID: uuid.New(), ProductGroupID: in.GroupID, Year: in.Year, Month: in.Month, Currency: cur, ExchangeRate: rate,
		BaseCurrency: s.base, FileName: fileName(in.FileName), FileSHA256: hex.EncodeToString(sum[:]), RowCount: len(rows),
		ImportedBy: string(who.Role) + ":" + who.Scope(), CreatedAt: now, Rows: rows}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// One import of a group's month at a time.
		if err := tx.Exec("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))",
			fmt.Sprintf("rate_card:%s:%d:%d", in.GroupID, in.Year, in.Month)).Error; err != nil {
			return errs.Internal(err)
		}
		var prev struct {
			ID      *uuid.UUID
			Version int
		}
		if err := tx.Raw(`SELECT (SELECT id FROM rate_cards WHERE product_group_id = @g AND year = @y AND month = @m AND replaced_at IS NULL) AS id,
			COALESCE((SELECT max(version) FROM rate_cards WHERE product_group_id = @g AND year = @y AND month = @m), 0) AS version`,
			map[string]any{"g": in.GroupID, "y": in.Year, "m": in.Month}).Scan(&prev).Error; err != nil {
			return errs.Internal(err)
		}
		c.Version = prev.Version + 1
		if prev.ID != nil {
			// replaced_by's key is checked at commit, after the insert.
			if err := tx.Exec("UPDATE rate_cards SET replaced_at = ?, replaced_by = ? WHERE id = ?", now, c.ID, *prev.ID).Error; err != nil {
				return errs.Internal(err)
			}
			c.Replaces = prev.ID
		}
		if err := tx.Exec(`INSERT INTO rate_cards (id, product_group_id, year, month, version, currency, exchange_rate, base_currency,
			file_name, file, file_sha256, row_count, imported_by, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
			c.ID, c.ProductGroupID, c.Year, c.Month, c.Version, c.Currency, c.ExchangeRate, c.BaseCurrency,
			c.FileName, in.File, c.FileSHA256, c.RowCount, c.ImportedBy, c.CreatedAt).Error; err != nil {
			return errs.Internal(err)
		}
		return insertRows(tx, c.ID, rows)
	})
	if err != nil {
		return Card{}, err
	}
	return c, nil
}

// insertRows writes a card's rows in statements of rowBatch rows.
func insertRows(tx *gorm.DB, card uuid.UUID, rows []Row) error {
	const rowBatch = 1000
	for start := 0; start < len(rows); start += rowBatch {
		part := rows[start:min(start+rowBatch, len(rows))]
		var sb strings.Builder
		sb.WriteString(`INSERT INTO rate_card_rows (rate_card_id, "row", sku, description, unit, unit_cost, basis) VALUES `)
		args := make([]any, 0, len(part)*7)
		for i, r := range part {
			if i > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString("(?,?,?,?,?,?,?)")
			args = append(args, card, r.Row, r.SKU, r.Description, r.Unit, r.UnitCost, r.Basis)
		}
		if err := tx.Exec(sb.String(), args...).Error; err != nil {
			if strings.Contains(err.Error(), "rate_card_rows_sku") {
				// Go and PostgreSQL lower-case a few letters differently.
				return errs.Unprocessable("rate_card_invalid", "Two rows have the same SKU, case ignored; nothing was imported.")
			}
			return errs.Internal(err)
		}
	}
	return nil
}

// fileName keeps the upload's base name as text PostgreSQL stores.
func fileName(name string) string {
	name = name[strings.LastIndexAny(name, `/\`)+1:]
	name = strings.ToValidUTF8(strings.ReplaceAll(name, "\x00", ""), "")
	if r := []rune(name); len(r) > 200 {
		name = string(r[len(r)-200:])
	}
	if strings.TrimSpace(name) == "" {
		return "rate-card.xlsx"
	}
	return name
}

// Get reads a card with its rows.
func (s *Service) Get(ctx context.Context, id uuid.UUID) (Card, error) {
	var cards []Card
	if err := s.db.WithContext(ctx).Table("rate_cards").Select(cardColumns).Where("rate_cards.id = ?", id).Scan(&cards).Error; err != nil {
		return Card{}, errs.Internal(err)
	}
	if len(cards) == 0 {
		return Card{}, errs.NotFound("rate card")
	}
	c := cards[0]
	rows, err := readRows(s.db.WithContext(ctx), c.ID)
	if err != nil {
		return Card{}, err
	}
	c.Rows = rows
	return c, nil
}

func readRows(db *gorm.DB, card uuid.UUID) ([]Row, error) {
	rows := []Row{}
	if err := db.Raw(`SELECT "row", sku, description, unit, unit_cost, basis FROM rate_card_rows WHERE rate_card_id = ? ORDER BY "row"`, card).
		Scan(&rows).Error; err != nil {
		return nil, errs.Internal(err)
	}
	return rows, nil
}

// File is a card's workbook as imported, and its name.
func (s *Service) File(ctx context.Context, id uuid.UUID) ([]byte, string, error) {
	var out []struct {
		File     []byte
		FileName string
	}
	if err := s.db.WithContext(ctx).Raw("SELECT file, file_name FROM rate_cards WHERE id = ?", id).Scan(&out).Error; err != nil {
		return nil, "", errs.Internal(err)
	}
	if len(out) == 0 {
		return nil, "", errs.NotFound("rate card")
	}
	return out[0].File, out[0].FileName, nil
}

// ListFilter narrows a group's cards.
type ListFilter struct {
	Month, Year *int
	Status      string // "", current or replaced
	Limit       int
	Cursor      string
}

// List pages through a group's cards in (year, month, version) order.
func (s *Service) List(ctx context.Context, group uuid.UUID, f ListFilter) ([]Card, string, error) {
	if err := s.group(ctx, group); err != nil {
		return nil, "", err
	}
	q := s.db.WithContext(ctx).Table("rate_cards").Select(cardColumns).Where("rate_cards.product_group_id = ?", group)
	if f.Month != nil {
		q = q.Where("rate_cards.month = ?", *f.Month)
	}
	if f.Year != nil {
		q = q.Where("rate_cards.year = ?", *f.Year)
	}
	switch f.Status {
	case StatusCurrent:
		q = q.Where("rate_cards.replaced_at IS NULL")
	case StatusReplaced:
		q = q.Where("rate_cards.replaced_at IS NOT NULL")
	}
	if f.Cursor != "" {
		y, m, v, ok := parseCursor(f.Cursor)
		if !ok {
			return nil, "", errs.Invalid("cursor", "invalid_cursor", "cursor is not one this API returned")
		}
		q = q.Where("(rate_cards.year, rate_cards.month, rate_cards.version) > (?, ?, ?)", y, m, v)
	}
	cards := []Card{}
	if err := q.Order("rate_cards.year, rate_cards.month, rate_cards.version").Limit(f.Limit + 1).Scan(&cards).Error; err != nil {
		return nil, "", errs.Internal(err)
	}
	if len(cards) <= f.Limit {
		return cards, "", nil
	}
	cards = cards[:f.Limit]
	last := cards[len(cards)-1]
	return cards, base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%d:%d:%d", last.Year, last.Month, last.Version)), nil
}

func parseCursor(c string) (y, m, v int, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, 0, 0, false
	}
	parts := strings.Split(string(b), ":")
	if len(parts) != 3 {
		return 0, 0, 0, false
	}
	var n [3]int
	for i, p := range parts {
		if n[i], err = strconv.Atoi(p); err != nil {
			return 0, 0, 0, false
		}
	}
	return n[0], n[1], n[2], true
}

// Current is the group's card in force for a month, with its rows; nil
// when the month has none. For the margin report.
func Current(ctx context.Context, db *gorm.DB, groupID uuid.UUID, year, month int) (*Card, error) {
	var cards []Card
	if err := db.WithContext(ctx).Table("rate_cards").Select(cardColumns).
		Where("rate_cards.product_group_id = ? AND rate_cards.year = ? AND rate_cards.month = ? AND rate_cards.replaced_at IS NULL", groupID, year, month).
		Scan(&cards).Error; err != nil {
		return nil, errs.Internal(err)
	}
	if len(cards) == 0 {
		return nil, nil
	}
	c := cards[0]
	rows, err := readRows(db.WithContext(ctx), c.ID)
	if err != nil {
		return nil, err
	}
	c.Rows = rows
	return &c, nil
}
