package simulation

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	openapi_types "github.com/oapi-codegen/runtime/types"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/api/oapi"
)

// plan is a plan of the shop as the harness knows it.
type plan struct {
	id             uuid.UUID
	name           string
	model          oapi.BillingModel
	cycles         map[oapi.BillingFrequency]decimal.Decimal // price per cycle
	softGB, hardGB *int
	overage        bool
	quantity       bool
	trial          bool
	partnerVisible bool
	group          int            // index into sim.groups
	items          map[string]int // per-unit offering item quotas
}

// seller is a partner with its admin.
type seller struct {
	id       uuid.UUID
	tenant   string
	user     *actor
	discount decimal.Decimal
	markup   decimal.Decimal
}

type customer struct {
	id      uuid.UUID
	partner *seller // nil for the SP's own
}

type planSpec struct {
	name           string
	venture, group int
	model          oapi.BillingModel
	cycles         []oapi.PlanCycle
	softGB, hardGB *int
	overage        string
	quantity       bool
	trial          bool
	partnerVisible bool
	items          map[string]int
	metered        []oapi.MeteredCharge
}

func usd(a string) oapi.Money { return oapi.Money{Amount: a, Currency: "USD"} }

func cycle(f oapi.BillingFrequency, price, setup string) oapi.PlanCycle {
	c := oapi.PlanCycle{Frequency: f, Price: usd(price)}
	if setup != "" {
		c.SetupFee = ptr(usd(setup))
	}
	return c
}

var shopPlans = []planSpec{
	{name: "Standard", venture: 0, group: 0, model: oapi.BillingModelPrepaid, quantity: true, partnerVisible: true,
		cycles: []oapi.PlanCycle{cycle(oapi.Monthly, "10.00", "5.00"), cycle(oapi.Annually, "100.00", "5.00")},
		softGB: ptr(100), hardGB: ptr(10), overage: "0.50", items: map[string]int{"pw_base_workstations": 5}},
	{name: "Plus", venture: 0, group: 0, model: oapi.BillingModelPrepaid, quantity: true, partnerVisible: true,
		cycles: []oapi.PlanCycle{cycle(oapi.Monthly, "18.00", ""), cycle(oapi.Annually, "180.00", "")},
		softGB: ptr(200), hardGB: ptr(20), overage: "0.40", items: map[string]int{"pw_base_workstations": 10}},
	{name: "Trial", venture: 0, group: 0, model: oapi.BillingModelPrepaid, trial: true, partnerVisible: true,
		cycles: []oapi.PlanCycle{cycle(oapi.Monthly, "10.00", "")}, softGB: ptr(50), hardGB: ptr(5), items: map[string]int{"pw_base_workstations": 2}},
	{name: "Monthly", venture: 1, group: 1, model: oapi.BillingModelPostpaidFixed, quantity: true, partnerVisible: true,
		cycles: []oapi.PlanCycle{cycle(oapi.Monthly, "15.00", "3.00")}, softGB: ptr(50), hardGB: ptr(10), overage: "0.30",
		items: map[string]int{"pw_base_servers": 1}},
	{name: "Metered", venture: 1, group: 1, model: oapi.BillingModelPostpaidPayg, partnerVisible: true,
		cycles: []oapi.PlanCycle{cycle(oapi.Monthly, "2.00", "")}, softGB: ptr(-1), items: map[string]int{"pw_base_workstations": -1},
		metered: []oapi.MeteredCharge{{OfferingItem: "pw_base_storage", UnitPrice: usd("0.05")},
			{OfferingItem: "pw_base_workstations", UnitPrice: usd("1.50"), Aggregation: ptr(oapi.Last)}}},
	// The smallest plan that activates: no storage quota, no items.
	{name: "Bare", venture: 1, group: 1, model: oapi.BillingModelPostpaidFixed, cycles: []oapi.PlanCycle{cycle(oapi.Monthly, "5.00", "")}},
}

// build sets the shop up through the API: ventures, taxes, groups, plans,
// partners with pricing, customers.
func (s *sim) build() {
	a := s.admin.c
	s.subscribe(nil) // the SP's storefront hears every event from the start
	for i, name := range []string{"Backup Direct", "Backup Metered"} {
		r, err := a.CreateVentureWithResponse(s.ctx, nil, oapi.VentureCreate{Name: name, InvoicePrefix: fmt.Sprintf("S%dV%d", s.seed, i+1)})
		s.must("create venture", r, err)
		s.ventures = append(s.ventures, r.JSON201.Id)
	}
	tax := func(name, rate string) uuid.UUID {
		r, err := a.CreateTaxWithResponse(s.ctx, nil, oapi.TaxCreate{Name: name, Rate: rate})
		s.must("create tax", r, err)
		return r.JSON201.Id
	}
	groupTaxes := [][]uuid.UUID{{tax("VAT", "20"), tax("Levy", "7.5")}, {tax("VAT reduced", "19")}}
	pt, err := a.CreateProductTypeWithResponse(s.ctx, nil, oapi.ProductTypeCreate{Name: "Backup"})
	s.must("create product type", pt, err)
	pr, err := a.CreateProductWithResponse(s.ctx, nil, oapi.ProductCreate{ProductTypeId: pt.JSON201.Id, Name: "Cyber Protect"})
	s.must("create product", pr, err)
	for i, taxes := range groupTaxes {
		g, err := a.CreateProductGroupWithResponse(s.ctx, nil, oapi.ProductGroupCreate{ProductId: pr.JSON201.Id, Name: fmt.Sprintf("Group %d", i+1),
			Module: oapi.Acronis, TaxIds: &taxes})
		s.must("create product group", g, err)
		s.groups = append(s.groups, g.JSON201.Id)
	}
	locs, err := s.vc.TenantLocations(s.ctx, s.vendor.SPTenantID())
	require.NoError(s.t, err)
	s.location = locs[0].ID
	for _, spec := range shopPlans {
		s.plans = append(s.plans, s.newPlan(spec, pt.JSON201.Id, pr.JSON201.Id, s.groups[spec.group]))
	}
	s.partners = append(s.partners, s.newPartner("20", "50", ""))
	s.partners = append(s.partners, s.newPartner("10", "25", "0.90"))
	for i := range s.cfg.customers {
		var p *seller
		if i%2 == 1 {
			p = s.partners[(i/2)%len(s.partners)]
		}
		s.customers = append(s.customers, s.newCustomer(p))
	}
	s.setupDunning()
}

func (s *sim) newPlan(spec planSpec, ptype, product, group uuid.UUID) *plan {
	a := s.admin.c
	r, err := a.CreatePlanWithResponse(s.ctx, nil, oapi.PlanCreate{VentureId: s.ventures[spec.venture], ProductTypeId: ptype, ProductId: product,
		ProductGroupId: group, Name: spec.name, PartnerVisible: &spec.partnerVisible, AutoApprove: ptr(true)})
	s.must("create plan "+spec.name, r, err)
	id := r.JSON201.Id
	ms := oapi.ModuleSettingsInput{DatacenterUrl: s.vurl, ClientId: "sp-client", ClientSecret: ptr("sp-secret"), Edition: "pck_per_workload",
		BackupLocation: s.location, FreeTrial: &spec.trial, StorageQuotaGb: spec.softGB, OverageQuotaGb: spec.hardGB}
	if spec.items != nil {
		q := oapi.OfferingItemQuotas{}
		for k, v := range spec.items {
			q[k] = float64(v)
		}
		ms.OfferingItems = &oapi.OfferingItemGroups{Common: &q}
	}
	m, err := a.SetPlanModuleSettingsWithResponse(s.ctx, id, ms)
	s.must("module settings "+spec.name, m, err)
	pricing := oapi.PlanPricing{BillingModel: spec.model, Cycles: spec.cycles, EnableQuantity: &spec.quantity}
	if spec.overage != "" {
		pricing.OveragePricePerGb = ptr(usd(spec.overage))
	}
	if spec.metered != nil {
		pricing.MeteredCharges = &spec.metered
	}
	p, err := a.SetPlanPricingWithResponse(s.ctx, id, pricing)
	s.must("pricing "+spec.name, p, err)
	g, err := a.GetPlanWithResponse(s.ctx, id)
	s.must("get plan", g, err)
	require.Equal(s.t, oapi.PlanStatusActive, g.JSON200.Status, "plan %s", spec.name)
	out := &plan{id: id, name: spec.name, model: spec.model, cycles: map[oapi.BillingFrequency]decimal.Decimal{}, softGB: spec.softGB, hardGB: spec.hardGB,
		overage: spec.overage != "", quantity: spec.quantity, trial: spec.trial, partnerVisible: spec.partnerVisible,
		group: spec.group, items: spec.items}
	for _, c := range spec.cycles {
		out.cycles[c.Frequency] = decimal.RequireFromString(c.Price.Amount)
	}
	return out
}

// newPartner makes a partner through the API, waits for its vendor account
// and prices every partner-visible plan for it.
func (s *sim) newPartner(discount, markup, overage string) *seller {
	n := len(s.partners) + 1
	tag := fmt.Sprintf("s%d-p%d", s.seed, n)
	pw := "partner-secret-" + tag
	body := oapi.PartnerCreate{Name: "Reseller " + tag, Email: openapi_types.Email("billing-" + tag + "@reseller.example"), VendorLogin: "reseller-" + tag,
		Admin: oapi.PartnerAdmin{Name: "Admin " + tag, Email: openapi_types.Email("admin-" + tag + "@reseller.example"), Password: &pw}}
	r, err := s.admin.c.CreatePartnerWithResponse(s.ctx, nil, body)
	s.must("create partner", r, err)
	require.Equal(s.t, http.StatusAccepted, r.StatusCode())
	s.quiesce()
	var p oapi.Partner
	require.True(s.t, waitFor(30*time.Second, func() bool {
		g, err := s.admin.c.GetPartnerWithResponse(s.ctx, r.JSON202.Id)
		s.must("get partner", g, err)
		p = *g.JSON200
		return p.Status != oapi.PartnerStatusProvisioning
	}), "partner still provisioning")
	require.Equal(s.t, oapi.PartnerStatusActive, p.Status, "partner: %v", p.VendorError)
	sel := &seller{id: p.Id, tenant: *p.VendorTenantId, user: s.newActor(string(body.Admin.Email), pw),
		discount: decimal.RequireFromString(discount), markup: decimal.RequireFromString(markup)}
	for _, pl := range s.plans {
		if !pl.partnerVisible {
			continue
		}
		d, err := s.admin.c.SetPartnerPlanPricingWithResponse(s.ctx, p.Id, pl.id, nil, oapi.PartnerPlanPricing{DiscountPercent: &discount})
		s.must("partner discount", d, err)
		body := oapi.PartnerPlanPricing{MarkupPercent: &markup}
		if overage != "" && pl.overage {
			body.OveragePricePerGb = ptr(usd(overage))
		}
		m, err := sel.user.c.SetPartnerPlanPricingWithResponse(s.ctx, p.Id, pl.id, nil, body)
		s.must("partner markup", m, err)
	}
	s.subscribe(sel) // the partner's storefront hears its own events from now on
	return sel
}

func (s *sim) newCustomer(p *seller) *customer {
	n := len(s.customers) + 1
	body := oapi.CustomerCreate{Name: fmt.Sprintf("Customer %d", n), Email: openapi_types.Email(fmt.Sprintf("c%d-%s@customer.example", n, strings.ToLower(uuid.NewString()[:6])))}
	if p != nil {
		body.PartnerId = &p.id
	}
	r, err := s.admin.c.CreateCustomerWithResponse(s.ctx, nil, body)
	s.must("create customer", r, err)
	return &customer{id: r.JSON201.Id, partner: p}
}

// price is what a party pays per cycle of a plan: the SP's price for its
// own customers, the partner's end price or cost for a partner sale.
func (sel *seller) price(sp decimal.Decimal, cost bool) decimal.Decimal {
	hundred := decimal.NewFromInt(100)
	c := sp.Mul(hundred.Sub(sel.discount)).Div(hundred).Round(2)
	if cost {
		return c
	}
	return c.Mul(hundred.Add(sel.markup)).Div(hundred).Round(2)
}

func (s *sim) planByID(id uuid.UUID) *plan {
	for _, p := range s.plans {
		if p.id == id {
			return p
		}
	}
	return nil
}

func (s *sim) planByName(name string) *plan {
	for _, p := range s.plans {
		if p.name == name {
			return p
		}
	}
	return nil
}

func (s *sim) partner(id uuid.UUID) *seller {
	for _, p := range s.partners {
		if p.id == id {
			return p
		}
	}
	return nil
}
