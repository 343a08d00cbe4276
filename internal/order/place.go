package order

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/auth"
	"github.com/acronis-platform/platform/internal/catalog"
	"github.com/acronis-platform/platform/internal/credit"
	"github.com/acronis-platform/platform/internal/customer"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/metadata"
	"github.com/acronis-platform/platform/internal/money"
	"github.com/acronis-platform/platform/internal/provisioning"
	"github.com/acronis-platform/platform/internal/subscription"
)

// Details are a new customer's, given with an order.
type Details struct {
	Name, Email, Phone, Address, Country string
	Metadata                             map[string]string
}

// PlaceInput is an order: by order-URL token (storefronts) or by plan and
// frequency (admins and partners); for an existing customer or a new one.
type PlaceInput struct {
	Token      string
	PlanID     *uuid.UUID
	Frequency  string
	CustomerID *uuid.UUID
	Customer   *Details
	Username   string
	Quantity   *int
	Metadata   map[string]string // the order's; its service starts with a copy
}

// Placed is a new order; StatusToken is set for anonymous orders, which
// read their order with it.
type Placed struct {
	Detail
	StatusToken string
}

// what the order resolves to before anything is stored
type plan struct {
	catalog.Plan
	frequency string
	token     *string
	seller    *uuid.UUID // the selling partner
	price     catalog.Cycle
	pricing   catalog.Pricing
}

// Place checks an order against the catalog, the seller and the vendor,
// then stores the customer (when new), the pending service and the order in
// one transaction. Trial and post-paid orders on auto-approving plans are
// approved in it too. Nothing is stored when any check fails.
func (s *Service) Place(ctx context.Context, who *auth.Principal, in PlaceInput) (Placed, error) {
	in.Username = strings.TrimSpace(in.Username)
	if err := metadata.Check("metadata", in.Metadata); err != nil {
		return Placed{}, err
	}
	if in.Customer != nil {
		if err := metadata.Check("customer.metadata", in.Customer.Metadata); err != nil {
			return Placed{}, err
		}
	}
	p, err := s.resolve(ctx, who, in)
	if err != nil {
		return Placed{}, err
	}
	cust, err := s.orderCustomer(ctx, who, in, &p)
	if err != nil {
		return Placed{}, err
	}
	if p.seller != nil {
		if err := s.sellerMaySell(ctx, *p.seller, p.Plan); err != nil {
			return Placed{}, err
		}
	}
	if err := s.withinCredit(ctx, cust, p.seller); err != nil {
		return Placed{}, err
	}
	quantity := 1
	if in.Quantity != nil {
		if !p.pricing.EnableQuantity {
			return Placed{}, errs.Unprocessable("quantity_not_enabled", "This plan is sold without a quantity.").WithField("quantity")
		}
		quantity = *in.Quantity
	}
	settings, module, err := s.moduleOf(ctx, p.ID)
	if err != nil {
		return Placed{}, err
	}
	free, err := s.subs.UsernameFree(ctx, module, in.Username)
	if err != nil {
		return Placed{}, err
	}
	if !free {
		return Placed{}, errs.Conflict("username_taken", "This username is taken.").WithField("username")
	}
	if module != nil {
		if err := s.checkItems(ctx, module, p.seller, settings); err != nil {
			return Placed{}, err
		}
	}
	return s.store(ctx, who, in, p, cust, quantity, settings)
}

// resolve finds the plan, frequency and selling partner of an order.
func (s *Service) resolve(ctx context.Context, who *auth.Principal, in PlaceInput) (plan, error) {
	var p plan
	admin := auth.Principal{Role: auth.RoleAdmin}
	if in.Token != "" {
		offer, err := s.catalog.OfferByToken(ctx, in.Token)
		if err != nil {
			return p, err
		}
		if offer.PartnerID != nil && who != nil && who.Role == auth.RolePartner && *who.PartnerID != *offer.PartnerID {
			return p, errs.NotFound("offer") // another partner's URL
		}
		in.PlanID, in.Frequency, p.seller, p.token = &offer.PlanID, offer.Frequency, offer.PartnerID, &in.Token
	}
	if in.PlanID == nil || in.Frequency == "" {
		return p, errs.Invalid("plan_id", "required", "give an order-URL token, or plan_id and frequency")
	}
	pl, err := s.catalog.GetPlan(ctx, admin, *in.PlanID)
	if err != nil {
		if errs.KindOf(err) == errs.KindNotFound {
			return p, errs.Unprocessable("plan_not_found", "No plan has this id.").WithField("plan_id")
		}
		return p, err
	}
	if pl.Status != catalog.PlanActive {
		return p, errs.Unprocessable("plan_not_active", "This plan takes no orders ("+pl.Status+").").WithField("plan_id")
	}
	pricing, err := s.catalog.GetPricing(ctx, pl.ID)
	if err != nil {
		return p, err
	}
	for _, c := range pricing.Cycles {
		if c.Frequency == in.Frequency {
			p.price = c
		}
	}
	if p.price.Frequency == "" {
		return p, errs.Unprocessable("frequency_not_offered", "This plan has no price for "+in.Frequency+".").WithField("frequency")
	}
	p.Plan, p.frequency, p.pricing = pl, in.Frequency, pricing
	if p.seller == nil && who != nil && who.Role == auth.RolePartner {
		p.seller = who.PartnerID
	}
	return p, nil
}

// orderCustomer is the customer an order is for: the caller itself, one
// the caller may act for, or a new one (nil; made in store).
func (s *Service) orderCustomer(ctx context.Context, who *auth.Principal, in PlaceInput, p *plan) (*customer.Customer, error) {
	mismatch := errs.Unprocessable("offer_of_another_seller", "This customer buys from another seller than this offer's.")
	switch {
	case who != nil && who.Role == auth.RoleCustomer:
		if in.Customer != nil || (in.CustomerID != nil && *in.CustomerID != *who.CustomerID) {
			return nil, errs.Forbidden("customer_not_allowed", "Customers order for themselves.")
		}
		in.CustomerID = who.CustomerID
	case in.CustomerID == nil && in.Customer == nil:
		return nil, errs.Invalid("customer", "required", "give customer_id or the new customer's details")
	case in.CustomerID != nil && in.Customer != nil:
		return nil, errs.Invalid("customer", "not_allowed", "give customer_id or customer, not both")
	case who == nil && in.CustomerID != nil:
		return nil, errs.Invalid("customer_id", "not_allowed", "anonymous orders are for new customers")
	}
	if in.CustomerID == nil {
		return nil, nil // a new customer of the seller, made with the order
	}
	scope := auth.Principal{Role: auth.RoleAdmin}
	if who != nil {
		scope = *who
	}
	c, err := s.customers.Get(ctx, scope, *in.CustomerID)
	if err != nil {
		if errs.KindOf(err) == errs.KindNotFound {
			return nil, errs.Unprocessable("customer_not_found", "No customer has this id.").WithField("customer_id")
		}
		return nil, err
	}
	if c.Status != customer.StatusActive {
		return nil, errs.Unprocessable("customer_closed", "This customer is closed.").WithField("customer_id")
	}
	switch {
	case p.token != nil && !samePartner(p.seller, c.PartnerID):
		return nil, mismatch
	case p.token == nil:
		p.seller = c.PartnerID // an admin's order for a partner's customer is the partner's sale
	}
	return &c, nil
}

// withinCredit refuses an order while the ordering customer (an existing
// one) or the selling partner owes more than its credit limit, on live
// figures: dunning's flag may be a day old. A balance at the limit is
// within it. 422, not 402: a credit rule is broken, no payment is asked.
func (s *Service) withinCredit(ctx context.Context, cust *customer.Customer, seller *uuid.UUID) error {
	if cust != nil {
		over, owed, err := credit.CustomerOver(ctx, s.db, cust.ID)
		if err != nil {
			return err
		}
		if over {
			return errs.Unprocessable("credit_limit_exceeded", "The customer owes "+owed.StringFixed(2)+
				" unpaid, above its credit limit; pay the open invoices first.").WithField("customer_id")
		}
	}
	if seller != nil {
		// The partner's figures are not for its buyers: no amount here.
		over, _, err := credit.PartnerOver(ctx, s.db, *seller)
		if err != nil {
			return err
		}
		if over {
			return errs.Unprocessable("credit_limit_exceeded",
				"The seller is above its credit limit with the service provider and takes no new orders until it pays.").WithField("partner_id")
		}
	}
	return nil
}

func samePartner(a, b *uuid.UUID) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

// sellerMaySell enforces: partners sell only partner-visible plans, once
// their vendor account exists.
func (s *Service) sellerMaySell(ctx context.Context, partnerID uuid.UUID, p catalog.Plan) error {
	if !p.PartnerVisible {
		return errs.Forbidden("plan_not_available_to_partner", "Partners cannot sell this plan.")
	}
	var status string
	if err := s.db.WithContext(ctx).Table("partners").Where("id = ?", partnerID).Pluck("status", &status).Error; err != nil {
		return errs.Internal(err)
	}
	if status != "active" {
		return errs.Conflict("partner_not_active", "The partner's vendor account is not ready.")
	}
	return nil
}

// moduleOf is a plan's vendor settings and module; both nil for plans
// provisioned by no module.
func (s *Service) moduleOf(ctx context.Context, planID uuid.UUID) (*catalog.ModuleSettings, provisioning.Module, error) {
	m, cred, err := s.catalog.Credentials(ctx, planID)
	if errs.CodeOf(err) == "module_settings_not_set" {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	mod, err := s.pool.Module(cred)
	if err != nil {
		return nil, nil, errs.Internal(err)
	}
	return &m, mod, nil
}

// parentTenant is where the customer's tenant goes: under the partner's
// tenant, or the SP's.
func (s *Service) parentTenant(ctx context.Context, m provisioning.Module, seller *uuid.UUID) (tenant, readOnlyUser string, err error) {
	if seller == nil {
		t, err := m.ParentTenant(ctx)
		if err != nil {
			return "", "", vendorErr(err)
		}
		return t, "", nil
	}
	var row struct {
		VendorTenantID *string
		VendorUserID   *string
	}
	if err := s.db.WithContext(ctx).Table("partners").Where("id = ?", *seller).Select("vendor_tenant_id, vendor_user_id").Take(&row).Error; err != nil {
		return "", "", errs.Internal(err)
	}
	if row.VendorTenantID == nil {
		return "", "", errs.Conflict("partner_not_active", "The partner's vendor account is not ready.")
	}
	ro := ""
	if row.VendorUserID != nil {
		ro = *row.VendorUserID
	}
	return *row.VendorTenantID, ro, nil
}

// checkItems refuses an order whose items the parent tenant cannot give.
func (s *Service) checkItems(ctx context.Context, m provisioning.Module, seller *uuid.UUID, settings *catalog.ModuleSettings) error {
	parent, _, err := s.parentTenant(ctx, m, seller)
	if err != nil {
		return err
	}
	q := subscription.QuotasOf(*settings, 1)
	names := make([]string, 0, len(q.Items))
	for n := range q.Items {
		names = append(names, n)
	}
	missing, err := m.CheckItems(ctx, parent, settings.Edition, names, q.StorageGB != nil)
	if err != nil {
		return vendorErr(err)
	}
	if len(missing) > 0 {
		return itemsErr(missing)
	}
	return nil
}

func itemsErr(missing []string) error {
	e := errs.Unprocessable("offering_items_not_available", "The vendor account cannot give: "+strings.Join(missing, ", ")+".")
	for _, n := range missing {
		e.Fields = append(e.Fields, errs.FieldError{Field: "offering_items." + n, Code: "offering_items_not_available", Message: n + " is not available"})
	}
	return e
}

func vendorErr(err error) error {
	var na *provisioning.ItemsNotAvailableError
	if errors.As(err, &na) {
		return itemsErr(na.Items)
	}
	e := errs.E(errs.KindBadGateway, "vendor_unreachable", "The vendor could not be reached; nothing was ordered.")
	e.Err = err
	return e
}

// prices are what the customer pays (end prices) and, for a partner's sale,
// what the partner pays the SP.
func (s *Service) prices(ctx context.Context, p plan) (unit, setup decimal.Decimal, unitCost, setupCost *decimal.Decimal, err error) {
	unit, setup = p.price.Price, p.price.SetupFee
	if p.seller == nil {
		return unit, setup, nil, nil, nil
	}
	var t struct{ DiscountPercent, MarkupPercent decimal.Decimal }
	err = s.db.WithContext(ctx).Table("partner_plan_pricing").Where("partner_id = ? AND plan_id = ?", *p.seller, p.ID).
		Select("discount_percent, markup_percent").Take(&t).Error
	if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
		return unit, setup, nil, nil, errs.Internal(err)
	}
	uc, sc := money.PartnerCost(unit, t.DiscountPercent), money.PartnerCost(setup, t.DiscountPercent)
	return money.EndPrice(uc, t.MarkupPercent), money.EndPrice(sc, t.MarkupPercent), &uc, &sc, nil
}

// autoApproves: trial and post-paid orders at once; prepaid ones wait for
// payment of their first invoice.
func autoApproves(p plan, trial bool) bool {
	return p.AutoApprove && (trial || p.pricing.BillingModel != catalog.Prepaid)
}

func (s *Service) store(ctx context.Context, who *auth.Principal, in PlaceInput, p plan, cust *customer.Customer, quantity int,
	settings *catalog.ModuleSettings) (Placed, error) {
	unit, setup, unitCost, setupCost, err := s.prices(ctx, p)
	if err != nil {
		return Placed{}, err
	}
	// The first period (and every later one) is billed at price times
	// quantity plus the setup fee: it must be storable.
	if !money.Fits(unit.Mul(decimal.NewFromInt(int64(quantity))).Add(setup)) {
		return Placed{}, money.TooLarge("quantity")
	}
	trial := settings != nil && settings.FreeTrial
	now := s.now()
	sub := subscription.Subscription{ID: uuid.New(), PlanID: p.ID, Frequency: p.frequency, Quantity: quantity,
		Username: in.Username, Status: subscription.StatusPending, FreeTrial: trial, PartnerID: p.seller,
		UnitPrice: unit, SetupFee: setup, UnitCost: unitCost, SetupFeeCost: setupCost, Metadata: metadata.Map(in.Metadata).Clone(),
		Version: 1, CreatedAt: now, UpdatedAt: now}
	pw, err := subscription.NewPassword()
	if err != nil {
		return Placed{}, errs.Internal(err)
	}
	if sub.PasswordEnc, err = s.box.Seal([]byte(pw), subscription.PasswordContext(sub.ID)); err != nil {
		return Placed{}, errs.Internal(err)
	}
	o := Order{ID: uuid.New(), ServiceID: sub.ID, PartnerID: p.seller, PlanID: p.ID, Frequency: p.frequency, Quantity: quantity,
		Username: in.Username, OrderURLToken: p.token, UnitPrice: unit, SetupFee: setup, PlacedBy: "public",
		Metadata: metadata.Map(in.Metadata).Clone(), Version: 1, CreatedAt: now, UpdatedAt: now}
	var out Placed
	if who == nil {
		tok := make([]byte, 24)
		if _, err := rand.Read(tok); err != nil {
			return Placed{}, errs.Internal(err)
		}
		out.StatusToken = base64.RawURLEncoding.EncodeToString(tok)
		sum := sha256.Sum256([]byte(out.StatusToken))
		o.StatusTokenHash = sum[:]
	} else {
		o.PlacedBy = who.Scope()
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if cust == nil {
			d := in.Customer
			creator := auth.Principal{Role: auth.RoleAdmin}
			c, err := s.customers.CreateTx(ctx, tx, creator, customer.CreateInput{PartnerID: p.seller, Name: d.Name, Email: d.Email,
				Phone: d.Phone, Address: d.Address, Country: d.Country, Metadata: d.Metadata})
			if err != nil {
				if errs.CodeOf(err) == "customer_email_taken" {
					return errs.Conflict("customer_exists", "A customer with this email already buys here; order as that customer.").WithField("customer.email")
				}
				return prefixFields(err, "customer.")
			}
			cust = &c
		}
		sub.CustomerID, o.CustomerID = cust.ID, cust.ID
		if err := tx.Create(&sub).Error; err != nil {
			if errors.Is(err, gorm.ErrDuplicatedKey) {
				return errs.Conflict("username_taken", "This username is taken.").WithField("username")
			}
			return errs.Internal(err)
		}
		o.Status = StatusPending
		if err := tx.Create(&o).Error; err != nil {
			return errs.Internal(err)
		}
		if err := tx.Create(&Event{OrderID: o.ID, ToStatus: StatusPending, Actor: actor(who), At: now}).Error; err != nil {
			return errs.Internal(err)
		}
		if err := run(ctx, tx, s.hooks.created, o); err != nil {
			return err
		}
		if err := s.billing.FirstInvoiceTx(ctx, tx, sub.ID); err != nil {
			return money.TooLargeAs(err, "quantity") // with its taxes
		}
		if autoApproves(p, trial) {
			reason := "automatic"
			return s.approveTx(ctx, tx, &o, "system", &reason)
		}
		return nil
	})
	if err != nil {
		return Placed{}, err
	}
	d, err := s.detail(ctx, o, false)
	out.Detail = d
	return out, err
}

func prefixFields(err error, prefix string) error {
	e := errs.As(err)
	if e == nil {
		return err
	}
	for i := range e.Fields {
		e.Fields[i].Field = prefix + e.Fields[i].Field
	}
	return e
}
