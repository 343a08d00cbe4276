// Package catalog holds what the service provider sells: ventures, taxes,
// product types, products and product groups (plans build on them).
package catalog

import (
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
)

// Meta is what every catalog row carries.
type Meta struct {
	ID        uuid.UUID `gorm:"primaryKey"`
	Version   int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Venture is a business unit; plans belong to one and invoice numbers run
// per venture.
type Venture struct {
	Meta
	Name          string
	InvoicePrefix string
}

// Tax is a rate in percent (0..100).
type Tax struct {
	Meta
	Name string
	Rate decimal.Decimal
}

// ProductType groups products; names are unique.
type ProductType struct {
	Meta
	Name string
}

// Product belongs to a product type; names are unique per type.
type Product struct {
	Meta
	ProductTypeID uuid.UUID
	Name          string
}

// Modules a product group can be provisioned through.
const (
	ModuleAcronis = "acronis"
	ModuleNone    = "none"
)

// ProductGroup is a package within a product, with its taxes and module.
type ProductGroup struct {
	Meta
	ProductID uuid.UUID
	Name      string
	Module    string
	TaxIDs    []uuid.UUID `gorm:"-"`
}

// TableName keeps GORM on the migration's tables.
func (Venture) TableName() string      { return "ventures" }
func (Tax) TableName() string          { return "taxes" }
func (ProductType) TableName() string  { return "product_types" }
func (Product) TableName() string      { return "products" }
func (ProductGroup) TableName() string { return "product_groups" }

type groupTax struct {
	ProductGroupID uuid.UUID
	TaxID          uuid.UUID
}

func (groupTax) TableName() string { return "product_group_taxes" }
