package simulation

import (
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"
	openapi_types "github.com/oapi-codegen/runtime/types"
	"github.com/shopspring/decimal"

	"github.com/acronis-platform/platform/api/oapi"
)

// action is one thing a user of the shop may do on a day.
type action struct {
	name   string
	weight int
	do     func(*sim)
}

var actions = []action{
	{"order", 21, (*sim).order},
	{"pay", 21, (*sim).payInvoice},
	{"quantity", 6, (*sim).changeQuantity},
	{"plan_change", 6, (*sim).changePlan},
	{"term_change", 3, (*sim).changeTerm},
	{"trial_upgrade", 4, (*sim).upgradeTrial},
	{"suspend", 3, (*sim).suspend},
	{"unsuspend", 3, (*sim).unsuspend},
	{"terminate", 3, (*sim).terminate},
	{"overage_invoice", 6, (*sim).overageInvoice},
	{"usage", 12, (*sim).pushUsage},
	{"fault_spell", 3, (*sim).startSpell},
	{"venture_prefix", 1, (*sim).renamePrefix}, // an operator's rare edit
	{"dunning_pause", 2, (*sim).pauseDunning},
	{"credit_limit", 1, (*sim).changeCreditLimit},
	{"usage_report", 8, (*sim).usageReport},
	{"bad_rate_card", 1, (*sim).badRateCard},
}

func (s *sim) act() {
	total := 0
	for _, a := range actions {
		total += a.weight
	}
	n := s.rng.IntN(total)
	for _, a := range actions {
		if n < a.weight {
			a.do(s)
			return
		}
		n -= a.weight
	}
}

// pick is a random element of xs (ok false when empty).
func pick[T any](s *sim, xs []T) (T, bool) {
	var zero T
	if len(xs) == 0 {
		return zero, false
	}
	i := s.rng.IntN(len(xs))
	s.note("pick %d/%d", i, len(xs))
	return xs[i], true
}

// service picks a service whose status is one of statuses and that fits.
func (s *sim) service(fits func(oapi.Service, *plan) bool, statuses ...oapi.ServiceStatus) (oapi.Service, *plan, bool) {
	var c []oapi.Service
	for _, v := range s.services() {
		if slices.Contains(statuses, v.Status) && (fits == nil || fits(v, s.planByID(v.PlanId))) {
			c = append(c, v)
		}
	}
	// Lists are in creation order, ties (one day's services) by random id:
	// pick by username, which the seed decides.
	slices.SortFunc(c, func(a, b oapi.Service) int { return strings.Compare(a.Username, b.Username) })
	v, ok := pick(s, c)
	return v, s.planByID(v.PlanId), ok
}

// seller is who acts on a service: its partner most of the time, else the SP.
func (s *sim) sellerOf(partnerID *uuid.UUID) *actor {
	if partnerID != nil && s.rng.IntN(10) < 7 {
		return s.partner(*partnerID).user
	}
	return s.admin
}

func (s *sim) order() {
	c, _ := pick(s, s.customers)
	body := oapi.OrderCreate{CustomerId: &c.id}
	if s.rng.IntN(10) == 0 { // a new customer with the order
		s.users++
		body.CustomerId = nil
		body.Customer = &oapi.NewCustomer{Name: fmt.Sprintf("Walk-in %d", s.users),
			Email: openapi_types.Email(fmt.Sprintf("walkin-%d-%s@customer.example", s.users, uuid.NewString()[:6]))}
	}
	// The bare plan is sold rarely; a partner's customer now and then asks
	// for a plan its partner may not sell.
	var choice []*plan
	for _, p := range s.plans {
		if c.partner == nil || p.partnerVisible || s.rng.IntN(20) == 0 {
			choice = append(choice, p)
		}
	}
	p, _ := pick(s, choice)
	if p.name == "Bare" && s.rng.IntN(3) > 0 {
		p = s.plans[0]
	}
	freqs := make([]oapi.BillingFrequency, 0, len(p.cycles))
	for f := range p.cycles {
		freqs = append(freqs, f)
	}
	slices.Sort(freqs)
	body.Frequency, _ = pick(s, freqs)
	body.PlanId = p.id
	if p.quantity {
		body.Quantity = ptr(1 + s.rng.IntN(3))
	}
	s.users++
	body.Username = fmt.Sprintf("sim%d-u%d", s.seed, s.users)
	if s.rng.IntN(2) == 0 { // a storefront's own ids
		body.Metadata = &oapi.Metadata{"shop_order": fmt.Sprintf("so-%d", s.users), "channel": []string{"web", "phone"}[s.rng.IntN(2)]}
	}
	who := s.admin
	if c.partner != nil {
		who = s.sellerOf(&c.partner.id)
	}
	r, err := who.c.CreateOrderWithResponse(s.ctx, &oapi.CreateOrderParams{IdempotencyKey: ptr(uuid.NewString())}, body)
	if !s.ok("order", r, err) {
		return
	}
	o := *r.JSON202
	if body.Metadata != nil {
		s.metadata[body.Username] = *body.Metadata
	}
	if o.Status == oapi.OrderStatusPending && s.rng.IntN(10) < 9 {
		for _, inv := range s.invoices(oapi.ListInvoicesParams{ServiceId: &o.ServiceId, Status: ptr(oapi.InvoiceStatusUnpaid)}) {
			s.pay(s.payer(inv), inv, inv.Balance.Amount)
		}
	}
}

// payer records a payment: the SP for its own bills, the partner or the SP
// for a bill issued in the partner's name.
func (s *sim) payer(inv oapi.Invoice) *actor {
	return s.sellerOf(inv.IssuerPartnerId)
}

func (s *sim) payInvoice() {
	unpaid := s.invoices(oapi.ListInvoicesParams{Status: ptr(oapi.InvoiceStatusUnpaid)})
	slices.SortFunc(unpaid, func(a, b oapi.Invoice) int { return strings.Compare(num(a), num(b)) })
	inv, ok := pick(s, unpaid)
	if !ok {
		return
	}
	bal := decimal.RequireFromString(inv.Balance.Amount)
	amount := bal
	if cents := bal.Shift(2).IntPart(); cents > 1 && s.rng.IntN(3) == 0 {
		amount = decimal.New(1+s.rng.Int64N(cents-1), -2)
	}
	s.pay(s.payer(inv), inv, amount.StringFixed(2))
}

func (s *sim) changeQuantity() {
	v, _, ok := s.service(func(_ oapi.Service, p *plan) bool { return p.quantity }, oapi.ServiceStatusActive)
	if !ok {
		return
	}
	r, err := s.sellerOf(v.PartnerId).c.ChangeServiceQuantityWithResponse(s.ctx, v.Id, nil, oapi.QuantityChange{Quantity: 1 + s.rng.IntN(4)})
	if s.ok("quantity", r, err) {
		s.noteCredits(v.Id, changed(r.JSON200, r.JSON202))
	}
}

// changed is what a change answered, whether the vendor confirmed it (200)
// or not yet (202, which carries the same platform outcome).
func changed(done *oapi.QuantityChanged, pending *oapi.ChangePending) *oapi.QuantityChanged {
	if pending != nil {
		return &oapi.QuantityChanged{Service: pending.Service, Invoices: pending.Invoices, Credits: pending.Credits}
	}
	return done
}

// noteCredits keeps the credits a change answered with.
func (s *sim) noteCredits(id uuid.UUID, ch *oapi.QuantityChanged) {
	if ch == nil {
		s.unreported[id] = true
		return
	}
	for _, c := range ch.Credits {
		s.credited[id] = s.credited[id].Add(dec(c.Amount))
	}
}

func (s *sim) changePlan() {
	v, cur, ok := s.service(func(v oapi.Service, p *plan) bool { return p.model == oapi.BillingModelPrepaid && !v.FreeTrial }, oapi.ServiceStatusActive)
	if !ok {
		return
	}
	var to []*plan
	for _, p := range s.plans {
		if p.model == oapi.BillingModelPrepaid && !p.trial && p != cur {
			to = append(to, p)
		}
	}
	p, _ := pick(s, to)
	r, err := s.sellerOf(v.PartnerId).c.ChangeServicePlanWithResponse(s.ctx, v.Id, nil, oapi.PlanChange{PlanId: p.id})
	if s.ok("plan_change", r, err) {
		s.noteCredits(v.Id, changed(r.JSON200, r.JSON202))
	}
}

// upgradeTrial moves a free trial, running or expired, to a paid plan of
// any billing model (one its partner may sell): the service is active, no
// longer a trial, and a prepaid plan's first period is invoiced from today.
func (s *sim) upgradeTrial() {
	v, _, ok := s.service(func(v oapi.Service, _ *plan) bool { return v.FreeTrial }, oapi.ServiceStatusActive, oapi.ServiceStatusExpired)
	if !ok {
		return
	}
	var to []*plan
	for _, p := range s.plans {
		if !p.trial && (v.PartnerId == nil || p.partnerVisible) {
			to = append(to, p)
		}
	}
	p, _ := pick(s, to)
	r, err := s.sellerOf(v.PartnerId).c.ChangeServicePlanWithResponse(s.ctx, v.Id, nil, oapi.PlanChange{PlanId: p.id})
	if !s.ok("trial_upgrade", r, err) {
		return
	}
	ch := changed(r.JSON200, r.JSON202)
	s.noteCredits(v.Id, ch)
	g, err := s.admin.c.GetServiceWithResponse(s.ctx, v.Id)
	if !s.ok("get_service", g, err) {
		return
	}
	got := g.JSON200
	if got.FreeTrial || got.PlanId != p.id || got.Status != oapi.ServiceStatusActive {
		s.fail("trial_upgrade", v.Id.String(), "trial %s (%s) moved to %s: now plan %s, free_trial %v, %s", v.Id, v.Status, p.name, got.PlanId, got.FreeTrial, got.Status)
	}
	if p.model != oapi.BillingModelPrepaid || ch == nil {
		return
	}
	today := s.date()
	if !slices.ContainsFunc(ch.Invoices, func(inv oapi.Invoice) bool {
		return inv.CustomerId != nil && inv.Lines != nil && slices.ContainsFunc(*inv.Lines, func(l oapi.InvoiceLine) bool {
			return l.Kind == oapi.InvoiceLineKindRecurring && l.ServiceId != nil && *l.ServiceId == v.Id && date(l.PeriodStart).Equal(today)
		})
	}) {
		s.fail("trial_upgrade", "bill/"+v.Id.String(), "trial %s moved to prepaid %s on %s with no first period invoiced from that day: %d invoices", v.Id, p.name, ds(today), len(r.JSON200.Invoices))
	}
}

func (s *sim) changeTerm() {
	v, _, ok := s.service(func(v oapi.Service, p *plan) bool {
		return p.model == oapi.BillingModelPrepaid && v.Frequency == oapi.Monthly
	}, oapi.ServiceStatusActive)
	if !ok {
		return
	}
	r, err := s.sellerOf(v.PartnerId).c.ChangeServiceTermWithResponse(s.ctx, v.Id, nil, oapi.TermChange{Frequency: oapi.Annually})
	if s.ok("term_change", r, err) {
		s.noteCredits(v.Id, r.JSON200)
	}
}

func (s *sim) suspend() {
	if v, _, ok := s.service(nil, oapi.ServiceStatusActive); ok {
		r, err := s.sellerOf(v.PartnerId).c.SuspendServiceWithResponse(s.ctx, v.Id, nil)
		s.ok("suspend", r, err)
	}
}

func (s *sim) unsuspend() {
	if v, _, ok := s.service(nil, oapi.ServiceStatusSuspended); ok {
		r, err := s.sellerOf(v.PartnerId).c.UnsuspendServiceWithResponse(s.ctx, v.Id, nil)
		s.ok("unsuspend", r, err)
	}
}

func (s *sim) terminate() {
	if v, _, ok := s.service(nil, oapi.ServiceStatusActive, oapi.ServiceStatusSuspended); ok {
		r, err := s.sellerOf(v.PartnerId).c.TerminateServiceWithResponse(s.ctx, v.Id, nil)
		s.ok("terminate", r, err)
	}
}

func (s *sim) overageInvoice() {
	v, _, ok := s.service(func(_ oapi.Service, p *plan) bool { return p.overage }, oapi.ServiceStatusActive, oapi.ServiceStatusSuspended)
	if !ok {
		return
	}
	r, err := s.sellerOf(v.PartnerId).c.CreateServiceInvoiceWithResponse(s.ctx, v.Id, &oapi.CreateServiceInvoiceParams{IdempotencyKey: ptr(uuid.NewString())})
	s.ok("overage_invoice", r, err)
}

// pushUsage sets a tenant's storage at the simulator, around its soft
// quota (above it, and now and then above the hard quota too).
func (s *sim) pushUsage() {
	v, p, ok := s.service(func(v oapi.Service, p *plan) bool { return v.VendorTenantId != nil && p.softGB != nil },
		oapi.ServiceStatusActive, oapi.ServiceStatusSuspended)
	if !ok {
		return
	}
	gb := int64(1 + s.rng.IntN(300))
	if *p.softGB >= 0 {
		gb = int64(*p.softGB*v.Quantity) * int64(60+s.rng.IntN(70)) / 100
	}
	s.simControl("POST", "/usage", map[string]any{"tenant_id": *v.VendorTenantId, "name": "pw_base_storage", "value": gb<<30 + int64(s.rng.IntN(1<<30))})
}

// spell is a stretch of days with vendor faults on.
type spell struct {
	name  string
	until int // the first day without them
	calls int // the simulator's call log when it began
}

var faults = []struct {
	name  string
	fault map[string]any
}{
	{"errors", map[string]any{"path_prefix": "/api/2", "rate": 0.3, "status": 503, "per_call": true}},
	{"drops", map[string]any{"path_prefix": "/api/2", "rate": 0.2, "drop": true, "per_call": true}},
	{"applied-then-failed", map[string]any{"path_prefix": "/api/2", "method": "PUT", "rate": 0.4, "status": 503, "after_effect": true, "per_call": true}},
	{"deleted-then-failed", map[string]any{"path_prefix": "/api/2/tenants", "method": "DELETE", "rate": 0.5, "status": 500, "after_effect": true, "per_call": true}},
}

func (s *sim) startSpell() {
	if s.spell != nil {
		return
	}
	f, _ := pick(s, faults)
	s.simControl("POST", "/faults", f.fault)
	s.spell = &spell{name: f.name, until: s.day + 1 + s.rng.IntN(3), calls: len(s.vendor.Calls())}
	s.note("spell %s until day %d", f.name, s.spell.until)
	s.t.Logf("day %d: vendor faults %q until day %d", s.day, f.name, s.spell.until)
}

func (s *sim) endSpell() {
	if s.spell == nil || s.day < s.spell.until {
		return
	}
	s.simControl("DELETE", "/faults", nil)
	calls := s.vendor.Calls()[s.spell.calls:]
	faulted := 0
	for _, c := range calls {
		if c.Status == 0 || c.Status >= 500 {
			faulted++
		}
	}
	s.note("calm after %d of %d vendor calls failed", faulted, len(calls))
	s.t.Logf("day %d: vendor faults %q off; %d of %d vendor calls failed", s.day, s.spell.name, faulted, len(calls))
	s.spell = nil
	s.calmSince = s.now()
	s.quiesce() // retries waiting on the vendor run now
}

// renamePrefix edits a venture's invoice prefix, as an operator might.
func (s *sim) renamePrefix() {
	i := s.rng.IntN(len(s.ventures))
	g, err := s.admin.c.GetVentureWithResponse(s.ctx, s.ventures[i])
	if !s.ok("get_venture", g, err) {
		return
	}
	r, err := s.admin.c.UpdateVentureWithResponse(s.ctx, s.ventures[i], &oapi.UpdateVentureParams{IfMatch: ptr(fmt.Sprintf("%q", fmt.Sprint(g.JSON200.Version)))},
		oapi.VentureUpdate{InvoicePrefix: ptr(fmt.Sprintf("S%dV%dD%d", s.seed, i+1, s.day))})
	s.ok("venture_prefix", r, err)
}

// beginDay logs everyone in again (tokens age with the sandbox clock, so
// they do after each advance too) and ends a spell of faults that is over.
func (s *sim) beginDay() {
	s.loginAll()
	s.endSpell()
	s.endHookFaults()
}

func (s *sim) loginAll() {
	s.login(s.admin)
	for _, p := range s.partners {
		s.login(p.user)
	}
}

// advance moves the sandbox clock a day: renewals, post-paid runs, usage.
func (s *sim) advance() {
	s.noteQuantities()
	s.faultsAtRun = s.spell != nil // the day's dunning run meets them
	r, err := s.admin.c.AdvanceSandboxClockWithResponse(s.ctx, oapi.SandboxClockAdvance{Days: ptr(1)})
	s.ok("advance_clock", r, err)
	s.loginAll()
}
