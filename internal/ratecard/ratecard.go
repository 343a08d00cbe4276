// Package ratecard keeps what the vendor charges the SP per unit, per
// product group (module acronis) and month, imported from a workbook
// (POST /v1/product-groups/{id}/rate-cards), and reads it back for the
// API and for the margin report (Current).
//
// Entities: Card (a row of rate_cards: group, year, month, version,
// currency and exchange rate to the SP's base currency, the file as
// imported) and Row (a row of rate_card_rows: SKU or offering item,
// description, unit, unit cost, and whether the vendor bills usage or
// quota).
//
// States: a card is current (replaced_at null) or replaced. Re-importing a
// month inserts a new current card with version + 1 and marks the old one
// replaced by it, in one transaction; nothing else ever changes a card.
//
// Invariants:
//   - One current card per group and month (a partial unique index); the
//     month's imports are serialised by an advisory lock.
//   - An import is all or nothing: any bad field, file or cell refuses it
//     and stores nothing. Row errors name the row and column as the
//     spreadsheet shows them.
//   - A card has at least one row; SKUs are unique in it, case ignored;
//     unit costs are >= 0 with at most 6 decimal places; units are in
//     Units; basis is usage or quota.
//   - Formulas: the value the workbook saved with a formula is taken; a
//     formula without a saved value is refused.
//   - The stored file is the upload byte for byte (file_sha256 its hash).
package ratecard

import (
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
)

// Card statuses, as the API shows them.
const (
	StatusCurrent  = "current"
	StatusReplaced = "replaced"
)

// Card is one product group's rate card for a month.
type Card struct {
	ID             uuid.UUID
	ProductGroupID uuid.UUID
	Year           int
	Month          int
	Version        int
	Currency       string
	// ExchangeRate is units of BaseCurrency per unit of Currency.
	ExchangeRate decimal.Decimal
	BaseCurrency string
	FileName     string
	FileSHA256   string `gorm:"column:file_sha256"`
	RowCount     int
	ImportedBy   string
	ReplacedAt   *time.Time
	ReplacedBy   *uuid.UUID
	// Replaces is the card this one replaced (not a column: read from the
	// replaced card's replaced_by).
	Replaces  *uuid.UUID `gorm:"->;-:migration"`
	CreatedAt time.Time
	Rows      []Row `gorm:"-"`
}

// Status is current or replaced.
func (c Card) Status() string {
	if c.ReplacedAt != nil {
		return StatusReplaced
	}
	return StatusCurrent
}

// Row is one priced SKU of a card.
type Row struct {
	Row         int `gorm:"column:row"` // as the spreadsheet shows it
	SKU         string
	Description string
	Unit        string
	UnitCost    decimal.Decimal
	Basis       string // BasisUsage or BasisQuota
}
