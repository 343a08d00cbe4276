package catalog

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/acronis-platform/platform/internal/clock"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/page"
	"github.com/acronis-platform/platform/internal/postgres"
)

// Service is the catalog's unit of work. Reads are open to admins and
// partners; the HTTP layer lets only admins write.
type Service struct {
	db      *gorm.DB
	clk     clock.Clock
	box     Sealer
	inspect Inspector
	offers  *offerCache
	// checkURL vets a datacenter_url before anything calls it (nil: any).
	checkURL func(ctx context.Context, raw string) error
}

// NewService wires the service; box keeps vendor secrets, inspect checks
// module settings against the vendor.
func NewService(db *gorm.DB, clk clock.Clock, box Sealer, inspect Inspector) *Service {
	return &Service{db: db, clk: clk, box: box, inspect: inspect, offers: newOfferCache()}
}

// UseURLCheck makes module settings refuse a datacenter_url that check
// refuses (internal/egress: ErrURL, ErrScheme, ErrAddress). Call before use.
func (s *Service) UseURLCheck(check func(ctx context.Context, raw string) error) { s.checkURL = check }

func (s *Service) now() time.Time { return s.clk.Now().Truncate(time.Microsecond) }

// newMeta is a new row's id, version and times; the id is random unless
// ctx carries one (WithID).
func (s *Service) newMeta(ctx context.Context) Meta {
	now := s.now()
	id, ok := ctx.Value(idKey{}).(uuid.UUID)
	if !ok {
		id = uuid.New()
	}
	return Meta{ID: id, Version: 1, CreatedAt: now, UpdatedAt: now}
}

type idKey struct{}

// WithID makes the row a Create call with this context adds take id rather
// than a random one. Seeding uses it: fixed ids find what an earlier seed
// made whatever was renamed since.
func WithID(ctx context.Context, id uuid.UUID) context.Context {
	return context.WithValue(ctx, idKey{}, id)
}

// get reads one row by id.
func get[T any](ctx context.Context, db *gorm.DB, id uuid.UUID, what string, lock bool) (T, error) {
	var v T
	q := db.WithContext(ctx)
	if lock {
		q = q.Clauses(clause.Locking{Strength: "NO KEY UPDATE"})
	}
	err := q.Take(&v, "id = ?", id).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return v, errs.NotFound(what)
	}
	if err != nil {
		return v, errs.Internal(err)
	}
	return v, nil
}

// list pages through a table in (created_at, id) order.
func list[T any](ctx context.Context, db *gorm.DB, table string, r page.Request, where map[string]any, meta func(T) Meta) ([]T, string, error) {
	q := db.WithContext(ctx).Table(table)
	for col, v := range where {
		q = q.Where(table+"."+col+" = ?", v)
	}
	var rows []T
	if err := r.Apply(q, table).Find(&rows).Error; err != nil {
		return nil, "", errs.Internal(err)
	}
	rows, next := page.Trim(r, rows, func(v T) page.Key { m := meta(v); return page.Key{CreatedAt: m.CreatedAt, ID: m.ID} })
	return rows, next, nil
}

// update locks the row, checks the version, applies change and saves.
func update[T any](ctx context.Context, s *Service, id uuid.UUID, what string, ifVersion *int64, meta func(*T) *Meta, change func(tx *gorm.DB, v *T) error) (T, error) {
	var out T
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		v, err := get[T](ctx, tx, id, what, true)
		if err != nil {
			return err
		}
		m := meta(&v)
		if ifVersion != nil && *ifVersion != m.Version {
			return errs.VersionMismatch()
		}
		if err := change(tx, &v); err != nil {
			return err
		}
		m.Version++
		m.UpdatedAt = s.now()
		if err := tx.Save(&v).Error; err != nil {
			return storeErr(err, what)
		}
		out = v
		return offersChanged(tx)
	})
	if err == nil {
		s.offers.clear()
	}
	return out, err
}

// remove deletes a row at the expected version; a row still referenced is 409.
func remove[T any](ctx context.Context, s *Service, id uuid.UUID, what string, ifVersion *int64, meta func(*T) *Meta) error {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		v, err := get[T](ctx, tx, id, what, true)
		if err != nil {
			return err
		}
		if ifVersion != nil && *ifVersion != meta(&v).Version {
			return errs.VersionMismatch()
		}
		if err := tx.Delete(&v).Error; err != nil {
			return storeErr(err, what)
		}
		return offersChanged(tx)
	})
	if err == nil {
		s.offers.clear()
	}
	return err
}

func storeErr(err error, what string) error {
	switch {
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return errs.Conflict(strings.ReplaceAll(what, " ", "_")+"_taken", "Another "+what+" already has this name.")
	case errors.Is(err, gorm.ErrForeignKeyViolated):
		// A delete of a row in use (409), or a row pointing at one deleted
		// since it was checked (422 <thing>_not_found).
		if e := postgres.InputError(err); e != nil && e.Kind == errs.KindUnprocessable {
			return e
		}
		return errs.Conflict("in_use", "This "+what+" is still in use.")
	}
	return errs.Internal(err)
}

func clean(s string) string { return strings.TrimSpace(s) }

func required(field, v string) error {
	if v == "" {
		return errs.Invalid(field, "required", field+" must not be blank")
	}
	return nil
}

// --- ventures ---

// CreateVenture adds a venture; invoice prefixes are unique, and a prefix
// any invoice ever used is never given again.
func (s *Service) CreateVenture(ctx context.Context, name, prefix string) (Venture, error) {
	v := Venture{Meta: s.newMeta(ctx), Name: clean(name), InvoicePrefix: clean(prefix)}
	if err := required("name", v.Name); err != nil {
		return Venture{}, err
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := prefixFree(tx, v.InvoicePrefix); err != nil {
			return err
		}
		return tx.Create(&v).Error
	})
	if err != nil {
		return Venture{}, ventureErr(err)
	}
	return v, nil
}

// partnerPrefix is the shape of a partner's invoice prefix ("P" and the
// first 8 hex digits of its id): no venture may take it.
var partnerPrefix = regexp.MustCompile(`^P[0-9A-F]{8}$`)

// prefixFree refuses a prefix that partners' numbers are made of, or that
// any invoice ever used (whoever used it).
func prefixFree(tx *gorm.DB, prefix string) error {
	if partnerPrefix.MatchString(prefix) {
		return errs.Unprocessable("invoice_prefix_reserved",
			"Prefixes of the form P followed by 8 hex digits number partners' invoices; choose another.")
	}
	var used int64
	if err := tx.Table("used_invoice_prefixes").Where("prefix = ?", prefix).Count(&used).Error; err != nil {
		return errs.Internal(err)
	}
	if used > 0 {
		return errs.Conflict("invoice_prefix_taken", "Invoices were numbered with this prefix; it is never given again.")
	}
	return nil
}

func ventureErr(err error) error {
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return errs.Conflict("invoice_prefix_taken", "Another venture already uses this invoice prefix.")
	}
	if errs.As(err) != nil {
		return err
	}
	return storeErr(err, "venture")
}

// GetVenture reads a venture.
func (s *Service) GetVenture(ctx context.Context, id uuid.UUID) (Venture, error) {
	return get[Venture](ctx, s.db, id, "venture", false)
}

// ListVentures pages through ventures.
func (s *Service) ListVentures(ctx context.Context, r page.Request) ([]Venture, string, error) {
	return list(ctx, s.db, "ventures", r, nil, func(v Venture) Meta { return v.Meta })
}

// UpdateVenture changes name or invoice prefix.
func (s *Service) UpdateVenture(ctx context.Context, id uuid.UUID, name, prefix *string, ifVersion *int64) (Venture, error) {
	v, err := update(ctx, s, id, "venture", ifVersion, func(v *Venture) *Meta { return &v.Meta }, func(tx *gorm.DB, v *Venture) error {
		if name != nil {
			v.Name = clean(*name)
		}
		if prefix != nil && clean(*prefix) != v.InvoicePrefix {
			// The venture row is locked: an invoice being numbered holds
			// it shared, so this waits for it and then sees its prefix used.
			var issued int64
			if err := tx.Table("used_invoice_prefixes").Where("scope = ?", "venture:"+v.ID.String()).Count(&issued).Error; err != nil {
				return errs.Internal(err)
			}
			if issued > 0 {
				return errs.Conflict("invoice_prefix_locked",
					"This venture has issued invoices; its invoice prefix can no longer change.")
			}
			if err := prefixFree(tx, clean(*prefix)); err != nil {
				return err
			}
			v.InvoicePrefix = clean(*prefix)
		}
		return required("name", v.Name)
	})
	if err != nil && errs.CodeOf(err) == "venture_taken" {
		return v, errs.Conflict("invoice_prefix_taken", "Another venture already uses this invoice prefix.")
	}
	return v, err
}

// DeleteVenture removes a venture no plan uses.
func (s *Service) DeleteVenture(ctx context.Context, id uuid.UUID, ifVersion *int64) error {
	return remove(ctx, s, id, "venture", ifVersion, func(v *Venture) *Meta { return &v.Meta })
}

// --- taxes ---

var hundred = decimal.NewFromInt(100)

func checkRate(rate decimal.Decimal) error {
	if rate.IsNegative() || rate.GreaterThan(hundred) {
		return errs.Unprocessable("tax_rate_out_of_range", "A tax rate is a percent from 0 to 100.")
	}
	return nil
}

func parseRate(raw string) (decimal.Decimal, error) {
	d, err := decimal.NewFromString(raw)
	if err != nil {
		return d, errs.Invalid("rate", "invalid_format", "rate must be a decimal string such as \"20.00\"")
	}
	return d, checkRate(d)
}

// CreateTax adds a tax.
func (s *Service) CreateTax(ctx context.Context, name, rate string) (Tax, error) {
	t := Tax{Meta: s.newMeta(ctx), Name: clean(name)}
	if err := required("name", t.Name); err != nil {
		return Tax{}, err
	}
	r, err := parseRate(rate)
	if err != nil {
		return Tax{}, err
	}
	t.Rate = r
	if err := s.db.WithContext(ctx).Create(&t).Error; err != nil {
		return Tax{}, storeErr(err, "tax")
	}
	return t, nil
}

// GetTax reads a tax.
func (s *Service) GetTax(ctx context.Context, id uuid.UUID) (Tax, error) {
	return get[Tax](ctx, s.db, id, "tax", false)
}

// ListTaxes pages through taxes.
func (s *Service) ListTaxes(ctx context.Context, r page.Request) ([]Tax, string, error) {
	return list(ctx, s.db, "taxes", r, nil, func(t Tax) Meta { return t.Meta })
}

// UpdateTax changes name or rate.
func (s *Service) UpdateTax(ctx context.Context, id uuid.UUID, name, rate *string, ifVersion *int64) (Tax, error) {
	return update(ctx, s, id, "tax", ifVersion, func(t *Tax) *Meta { return &t.Meta }, func(_ *gorm.DB, t *Tax) error {
		if name != nil {
			t.Name = clean(*name)
		}
		if rate != nil {
			r, err := parseRate(*rate)
			if err != nil {
				return err
			}
			t.Rate = r
		}
		return required("name", t.Name)
	})
}

// DeleteTax removes a tax no product group uses.
func (s *Service) DeleteTax(ctx context.Context, id uuid.UUID, ifVersion *int64) error {
	return remove(ctx, s, id, "tax", ifVersion, func(t *Tax) *Meta { return &t.Meta })
}

// --- product types ---

// CreateProductType adds a product type with a unique name.
func (s *Service) CreateProductType(ctx context.Context, name string) (ProductType, error) {
	t := ProductType{Meta: s.newMeta(ctx), Name: clean(name)}
	if err := required("name", t.Name); err != nil {
		return ProductType{}, err
	}
	if err := s.db.WithContext(ctx).Create(&t).Error; err != nil {
		return ProductType{}, storeErr(err, "product type")
	}
	return t, nil
}

// GetProductType reads a product type.
func (s *Service) GetProductType(ctx context.Context, id uuid.UUID) (ProductType, error) {
	return get[ProductType](ctx, s.db, id, "product type", false)
}

// ListProductTypes pages through product types.
func (s *Service) ListProductTypes(ctx context.Context, r page.Request) ([]ProductType, string, error) {
	return list(ctx, s.db, "product_types", r, nil, func(t ProductType) Meta { return t.Meta })
}

// UpdateProductType renames a product type.
func (s *Service) UpdateProductType(ctx context.Context, id uuid.UUID, name *string, ifVersion *int64) (ProductType, error) {
	return update(ctx, s, id, "product type", ifVersion, func(t *ProductType) *Meta { return &t.Meta }, func(_ *gorm.DB, t *ProductType) error {
		if name != nil {
			t.Name = clean(*name)
		}
		return required("name", t.Name)
	})
}

// DeleteProductType removes a product type without products.
func (s *Service) DeleteProductType(ctx context.Context, id uuid.UUID, ifVersion *int64) error {
	return remove(ctx, s, id, "product type", ifVersion, func(t *ProductType) *Meta { return &t.Meta })
}

// --- products ---

func exists(tx *gorm.DB, table string, id uuid.UUID) (bool, error) {
	var n int64
	err := tx.Table(table).Where("id = ?", id).Count(&n).Error
	return n > 0, err
}

func mustExist(tx *gorm.DB, table string, id uuid.UUID, field, code, msg string) error {
	ok, err := exists(tx, table, id)
	if err != nil {
		return errs.Internal(err)
	}
	if !ok {
		return errs.Unprocessable(code, msg).WithField(field)
	}
	return nil
}

// CreateProduct adds a product under an existing product type.
func (s *Service) CreateProduct(ctx context.Context, typeID uuid.UUID, name string) (Product, error) {
	p := Product{Meta: s.newMeta(ctx), ProductTypeID: typeID, Name: clean(name)}
	if err := required("name", p.Name); err != nil {
		return Product{}, err
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := mustExist(tx, "product_types", typeID, "product_type_id", "product_type_not_found", "No product type has this id."); err != nil {
			return err
		}
		return storeErrOrNil(tx.Create(&p).Error, "product")
	})
	return p, err
}

func storeErrOrNil(err error, what string) error {
	if err == nil {
		return nil
	}
	return storeErr(err, what)
}

// GetProduct reads a product.
func (s *Service) GetProduct(ctx context.Context, id uuid.UUID) (Product, error) {
	return get[Product](ctx, s.db, id, "product", false)
}

// ListProducts pages through products, optionally of one type.
func (s *Service) ListProducts(ctx context.Context, typeID *uuid.UUID, r page.Request) ([]Product, string, error) {
	where := map[string]any{}
	if typeID != nil {
		where["product_type_id"] = *typeID
	}
	return list(ctx, s.db, "products", r, where, func(p Product) Meta { return p.Meta })
}

// UpdateProduct renames a product or moves it to another type.
func (s *Service) UpdateProduct(ctx context.Context, id uuid.UUID, typeID *uuid.UUID, name *string, ifVersion *int64) (Product, error) {
	return update(ctx, s, id, "product", ifVersion, func(p *Product) *Meta { return &p.Meta }, func(tx *gorm.DB, p *Product) error {
		if typeID != nil {
			if err := mustExist(tx, "product_types", *typeID, "product_type_id", "product_type_not_found", "No product type has this id."); err != nil {
				return err
			}
			p.ProductTypeID = *typeID
		}
		if name != nil {
			p.Name = clean(*name)
		}
		return required("name", p.Name)
	})
}

// DeleteProduct removes a product without groups.
func (s *Service) DeleteProduct(ctx context.Context, id uuid.UUID, ifVersion *int64) error {
	return remove(ctx, s, id, "product", ifVersion, func(p *Product) *Meta { return &p.Meta })
}

// --- product groups ---

// GroupInput is a product group's fields; nil means unchanged on update.
type GroupInput struct {
	ProductID *uuid.UUID
	Name      *string
	Module    *string
	TaxIDs    *[]uuid.UUID
}

func (s *Service) applyGroup(tx *gorm.DB, g *ProductGroup, in GroupInput) error {
	if in.ProductID != nil {
		if err := mustExist(tx, "products", *in.ProductID, "product_id", "product_not_found", "No product has this id."); err != nil {
			return err
		}
		g.ProductID = *in.ProductID
	}
	if in.Name != nil {
		g.Name = clean(*in.Name)
	}
	if in.Module != nil {
		g.Module = *in.Module
	}
	if err := required("name", g.Name); err != nil {
		return err
	}
	if in.TaxIDs != nil {
		ids := make([]uuid.UUID, 0, len(*in.TaxIDs)) // a tax named twice counts once
		for _, id := range *in.TaxIDs {
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
		var n int64
		if len(ids) > 0 {
			if err := tx.Table("taxes").Where("id IN ?", ids).Count(&n).Error; err != nil {
				return errs.Internal(err)
			}
		}
		if int(n) != len(ids) {
			return errs.Unprocessable("tax_not_found", "Every tax_ids entry must name an existing tax.").WithField("tax_ids")
		}
		g.TaxIDs = ids
	}
	return nil
}

func saveGroupTaxes(tx *gorm.DB, g ProductGroup) error {
	if err := tx.Where("product_group_id = ?", g.ID).Delete(&groupTax{}).Error; err != nil {
		return errs.Internal(err)
	}
	for _, id := range g.TaxIDs {
		if err := tx.Create(&groupTax{ProductGroupID: g.ID, TaxID: id}).Error; err != nil {
			return storeErr(err, "product group")
		}
	}
	return nil
}

func (s *Service) loadTaxes(ctx context.Context, groups []ProductGroup) error {
	if len(groups) == 0 {
		return nil
	}
	ids := make([]uuid.UUID, len(groups))
	for i, g := range groups {
		ids[i] = g.ID
	}
	var links []groupTax
	if err := s.db.WithContext(ctx).Where("product_group_id IN ?", ids).Order("tax_id").Find(&links).Error; err != nil {
		return errs.Internal(err)
	}
	by := map[uuid.UUID][]uuid.UUID{}
	for _, l := range links {
		by[l.ProductGroupID] = append(by[l.ProductGroupID], l.TaxID)
	}
	for i := range groups {
		groups[i].TaxIDs = by[groups[i].ID]
		if groups[i].TaxIDs == nil {
			groups[i].TaxIDs = []uuid.UUID{}
		}
	}
	return nil
}

// CreateProductGroup adds a group under an existing product with existing taxes.
func (s *Service) CreateProductGroup(ctx context.Context, in GroupInput) (ProductGroup, error) {
	g := ProductGroup{Meta: s.newMeta(ctx), TaxIDs: []uuid.UUID{}}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := s.applyGroup(tx, &g, in); err != nil {
			return err
		}
		if err := tx.Create(&g).Error; err != nil {
			return storeErr(err, "product group")
		}
		return saveGroupTaxes(tx, g)
	})
	return g, err
}

// GetProductGroup reads a group with its taxes.
func (s *Service) GetProductGroup(ctx context.Context, id uuid.UUID) (ProductGroup, error) {
	g, err := get[ProductGroup](ctx, s.db, id, "product group", false)
	if err != nil {
		return g, err
	}
	gs := []ProductGroup{g}
	err = s.loadTaxes(ctx, gs)
	return gs[0], err
}

// ListProductGroups pages through groups, optionally of one product.
func (s *Service) ListProductGroups(ctx context.Context, productID *uuid.UUID, r page.Request) ([]ProductGroup, string, error) {
	where := map[string]any{}
	if productID != nil {
		where["product_id"] = *productID
	}
	rows, next, err := list(ctx, s.db, "product_groups", r, where, func(g ProductGroup) Meta { return g.Meta })
	if err != nil {
		return nil, "", err
	}
	return rows, next, s.loadTaxes(ctx, rows)
}

// UpdateProductGroup changes a group.
func (s *Service) UpdateProductGroup(ctx context.Context, id uuid.UUID, in GroupInput, ifVersion *int64) (ProductGroup, error) {
	g, err := update(ctx, s, id, "product group", ifVersion, func(g *ProductGroup) *Meta { return &g.Meta }, func(tx *gorm.DB, g *ProductGroup) error {
		if err := s.applyGroup(tx, g, in); err != nil {
			return err
		}
		if in.TaxIDs != nil {
			return saveGroupTaxes(tx, *g)
		}
		return nil
	})
	if err != nil {
		return g, err
	}
	return s.GetProductGroup(ctx, g.ID)
}

// DeleteProductGroup removes a group no plan uses.
func (s *Service) DeleteProductGroup(ctx context.Context, id uuid.UUID, ifVersion *int64) error {
	return remove(ctx, s, id, "product group", ifVersion, func(g *ProductGroup) *Meta { return &g.Meta })
}
