package billing_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/app/apptest"
	"github.com/acronis-platform/platform/internal/auth"
	"github.com/acronis-platform/platform/internal/billing"
	"github.com/acronis-platform/platform/internal/catalog"
	"github.com/acronis-platform/platform/internal/customer"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/money"
	"github.com/acronis-platform/platform/internal/postgres/pgtest"
	"github.com/acronis-platform/platform/internal/subscription"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var admin = auth.Principal{Role: auth.RoleAdmin, Kind: auth.KindUser, Subject: "test"}

// book is a platform on a database of its own (billing runs see every
// service) with a clock set to a known time.
type book struct {
	env     *apptest.Env
	venture uuid.UUID
	group   uuid.UUID
	vat     uuid.UUID
	city    uuid.UUID
}

func newBook(t *testing.T, at string, zone string) *book {
	t.Helper()
	cfg := apptest.Config(t)
	cfg.DatabaseURL = pgtest.NewDatabase(t, true)
	if zone != "" {
		cfg.TimeZone = zone
	}
	env := apptest.Start(t, cfg)
	env.Clock.Set(mustTime(t, at))
	ctx := context.Background()
	c := env.App.Catalog
	v, err := c.CreateVenture(ctx, "Acme", "ACME")
	require.NoError(t, err)
	vat, err := c.CreateTax(ctx, "VAT", "21")
	require.NoError(t, err)
	city, err := c.CreateTax(ctx, "City", "2.5")
	require.NoError(t, err)
	pt, err := c.CreateProductType(ctx, "Backup")
	require.NoError(t, err)
	p, err := c.CreateProduct(ctx, pt.ID, "Cyber Protect")
	require.NoError(t, err)
	name, module, taxes := "Group", catalog.ModuleNone, []uuid.UUID{vat.ID, city.ID}
	g, err := c.CreateProductGroup(ctx, catalog.GroupInput{ProductID: &p.ID, Name: &name, Module: &module, TaxIDs: &taxes})
	require.NoError(t, err)
	return &book{env: env, venture: v.ID, group: g.ID, vat: vat.ID, city: city.ID}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	require.NoError(t, err)
	return v
}

func date(s string) time.Time {
	v, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return v
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// plan makes an active plan priced per cycle; charges are PAYG metered charges.
func (b *book) plan(t *testing.T, model string, cycles []catalog.Cycle, partnerVisible bool, charges ...catalog.MeteredCharge) catalog.Plan {
	t.Helper()
	ctx := context.Background()
	c := b.env.App.Catalog
	g, err := c.GetProductGroup(ctx, b.group)
	require.NoError(t, err)
	p, err := c.GetProduct(ctx, g.ProductID)
	require.NoError(t, err)
	name := "Backup " + uuid.NewString()[:6]
	plan, err := c.CreatePlan(ctx, catalog.PlanInput{VentureID: &b.venture, ProductTypeID: &p.ProductTypeID, ProductID: &p.ID,
		ProductGroupID: &b.group, Name: &name, PartnerVisible: &partnerVisible})
	require.NoError(t, err)
	_, err = c.SetPricing(ctx, plan.ID, catalog.Pricing{BillingModel: model, Cycles: cycles, MeteredCharges: charges})
	require.NoError(t, err)
	return plan
}

func (b *book) customer(t *testing.T, partnerID *uuid.UUID) uuid.UUID {
	t.Helper()
	c, err := b.env.App.Customers.Create(context.Background(), admin, customer.CreateInput{PartnerID: partnerID,
		Name: "Customer", Email: uuid.NewString() + "@example.com"})
	require.NoError(t, err)
	return c.ID
}

// service seeds an active service of a plan; start is its first billed day.
type svc struct {
	plan      catalog.Plan
	customer  uuid.UUID
	partner   *uuid.UUID
	frequency string
	quantity  int
	unit, fee string
	cost      *string // partner sale: unit cost (fee cost = fee x the same)
	feeCost   *string
	start     string
	end       string
	tenant    string
}

func (b *book) service(t *testing.T, s svc) uuid.UUID {
	t.Helper()
	now := b.env.Clock.Now()
	v := subscription.Subscription{ID: uuid.New(), CustomerID: s.customer, PartnerID: s.partner, PlanID: s.plan.ID, Frequency: s.frequency,
		Quantity: s.quantity, Username: "u-" + uuid.NewString()[:8], Status: subscription.StatusActive,
		UnitPrice: dec(s.unit), SetupFee: dec(s.fee), Version: 1, CreatedAt: now, UpdatedAt: now, ActivatedAt: &now}
	if s.cost != nil {
		c, f := dec(*s.cost), dec(*s.feeCost)
		v.UnitCost, v.SetupFeeCost = &c, &f
	}
	if s.start != "" {
		st := date(s.start)
		anchor := st.Day()
		v.StartDate, v.AnchorDay = &st, &anchor
	}
	if s.end != "" {
		e := date(s.end)
		v.EndDate, v.Status = &e, subscription.StatusTerminated
	}
	if s.tenant != "" {
		v.VendorTenantID = &s.tenant
	}
	require.NoError(t, b.env.App.DB.Gorm.Create(&v).Error)
	return v.ID
}

func (b *book) invoices(t *testing.T, where string, args ...any) []billing.Invoice {
	t.Helper()
	var ids []uuid.UUID
	q := b.env.App.DB.Gorm.Table("invoices").Order("number")
	if where != "" {
		q = q.Where(where, args...)
	}
	require.NoError(t, q.Pluck("id", &ids).Error)
	out := make([]billing.Invoice, len(ids))
	for i, id := range ids {
		inv, err := b.env.App.Billing.Get(context.Background(), admin, id)
		require.NoError(t, err)
		out[i] = inv
	}
	return out
}

// line is an expected line: kind, quantity, unit price, amount.
type line struct{ kind, qty, unit, amount string }

type want struct {
	lines                     []line
	taxes                     map[string]string // name -> amount
	subtotal, taxTotal, total string
}

func requireInvoice(t *testing.T, inv billing.Invoice, w want) {
	t.Helper()
	require.Len(t, inv.Lines, len(w.lines), "lines of %s", *inv.Number)
	for i, l := range w.lines {
		got := inv.Lines[i]
		require.Equal(t, l.kind, got.Kind, "line %d kind", i+1)
		require.Equal(t, l.qty, got.Quantity.String(), "line %d quantity", i+1)
		require.Equal(t, l.unit, money.String(got.UnitPrice), "line %d unit price", i+1)
		require.Equal(t, l.amount, money.String(got.Amount), "line %d amount", i+1)
	}
	gotTaxes := map[string]string{}
	for _, tx := range inv.Taxes {
		gotTaxes[tx.Name] = money.String(tx.Amount)
	}
	require.Equal(t, w.taxes, gotTaxes)
	require.Equal(t, w.subtotal, money.String(inv.Subtotal), "subtotal")
	require.Equal(t, w.taxTotal, money.String(inv.TaxTotal), "tax total")
	require.Equal(t, w.total, money.String(inv.Total), "total")
}

func cycles(freq, price, fee string) []catalog.Cycle {
	return []catalog.Cycle{{Frequency: freq, Price: dec(price), SetupFee: dec(fee)}}
}

func ptr[T any](v T) *T { return &v }

func firstInvoice(t *testing.T, b *book, serviceID uuid.UUID) {
	t.Helper()
	require.NoError(t, b.env.App.DB.Gorm.Transaction(func(tx *gorm.DB) error {
		return b.env.App.Billing.FirstInvoiceTx(context.Background(), tx, serviceID)
	}))
}

func TestHandComputedInvoices(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		at    string
		setup func(t *testing.T, b *book)
		asOf  string // a run as of this day, when set
		want  []want // every invoice, by number
	}{
		{
			name: "prepaid monthly with setup fee and two taxes",
			at:   "2026-11-25T10:00:00Z",
			setup: func(t *testing.T, b *book) {
				p := b.plan(t, catalog.Prepaid, cycles("monthly", "10.00", "5.00"), false)
				firstInvoice(t, b, b.service(t, svc{plan: p, customer: b.customer(t, nil), frequency: "monthly", quantity: 1, unit: "10.00", fee: "5.00"}))
			},
			// VAT 21% of 15.00 = 3.15; City 2.5% of 15.00 = 0.375 -> 0.38
			want: []want{{lines: []line{{"recurring", "1", "10.00", "10.00"}, {"setup", "1", "5.00", "5.00"}},
				taxes: map[string]string{"VAT": "3.15", "City": "0.38"}, subtotal: "15.00", taxTotal: "3.53", total: "18.53"}},
		},
		{
			name: "prepaid annual, quantity 3",
			at:   "2026-11-25T10:00:00Z",
			setup: func(t *testing.T, b *book) {
				p := b.plan(t, catalog.Prepaid, cycles("annually", "100.00", "5.00"), false)
				firstInvoice(t, b, b.service(t, svc{plan: p, customer: b.customer(t, nil), frequency: "annually", quantity: 3, unit: "100.00", fee: "5.00"}))
			},
			// 300.00 + 5.00 = 305.00; VAT 64.05; City 7.625 -> 7.63
			want: []want{{lines: []line{{"recurring", "3", "100.00", "300.00"}, {"setup", "1", "5.00", "5.00"}},
				taxes: map[string]string{"VAT": "64.05", "City": "7.63"}, subtotal: "305.00", taxTotal: "71.68", total: "376.68"}},
		},
		{
			name: "post-paid fixed starting mid-month",
			at:   "2026-12-01T09:00:00Z",
			setup: func(t *testing.T, b *book) {
				p := b.plan(t, catalog.PostpaidFixed, cycles("monthly", "30.00", "0.00"), false)
				b.service(t, svc{plan: p, customer: b.customer(t, nil), frequency: "monthly", quantity: 2, unit: "30.00", fee: "0.00", start: "2026-11-15"})
			},
			asOf: "2026-12-01",
			// 60.00 x 16/30 = 32.00; VAT 6.72; City 0.80
			want: []want{{lines: []line{{"proration", "2", "30.00", "32.00"}},
				taxes: map[string]string{"VAT": "6.72", "City": "0.80"}, subtotal: "32.00", taxTotal: "7.52", total: "39.52"}},
		},
		{
			name: "post-paid fixed, annual price spread by days, with a setup fee in the first month",
			at:   "2026-12-01T09:00:00Z",
			setup: func(t *testing.T, b *book) {
				p := b.plan(t, catalog.PostpaidFixed, cycles("annually", "365.00", "7.50"), false)
				b.service(t, svc{plan: p, customer: b.customer(t, nil), frequency: "annually", quantity: 1, unit: "365.00", fee: "7.50", start: "2026-11-21"})
			},
			asOf: "2026-12-01",
			// 365.00 x 10 active days / 365 days in the cycle from 1 Nov = 10.00; setup 7.50
			// subtotal 17.50; VAT 3.675 -> 3.68; City 0.4375 -> 0.44
			want: []want{{lines: []line{{"proration", "1", "365.00", "10.00"}, {"setup", "1", "7.50", "7.50"}},
				taxes: map[string]string{"VAT": "3.68", "City": "0.44"}, subtotal: "17.50", taxTotal: "4.12", total: "21.62"}},
		},
		{
			name: "post-paid fixed: a full month, one ended inside it, rounding at .005",
			at:   "2026-12-01T09:00:00Z",
			setup: func(t *testing.T, b *book) {
				p := b.plan(t, catalog.PostpaidFixed, cycles("monthly", "10.05", "0.00"), false)
				c := b.customer(t, nil)
				b.service(t, svc{plan: p, customer: c, frequency: "monthly", quantity: 1, unit: "10.05", fee: "0.00", start: "2026-10-02"})
				b.service(t, svc{plan: p, customer: c, frequency: "monthly", quantity: 1, unit: "10.05", fee: "0.00", start: "2026-10-02", end: "2026-11-15"})
			},
			asOf: "2026-12-01",
			// Oct (catch-up): 10.05 x 30/31 = 9.7258 -> 9.73, twice; Nov: 10.05 full, and 10.05 x 15/30 = 5.025 -> 5.03.
			// Oct: subtotal 19.46; VAT 4.0866 -> 4.09; City 0.4865 -> 0.49.
			// Nov: subtotal 15.08; VAT 3.1668 -> 3.17; City 0.377 -> 0.38.
			want: []want{
				{lines: []line{{"proration", "1", "10.05", "9.73"}, {"proration", "1", "10.05", "9.73"}},
					taxes: map[string]string{"VAT": "4.09", "City": "0.49"}, subtotal: "19.46", taxTotal: "4.58", total: "24.04"},
				{lines: []line{{"recurring", "1", "10.05", "10.05"}, {"proration", "1", "10.05", "5.03"}},
					taxes: map[string]string{"VAT": "3.17", "City": "0.38"}, subtotal: "15.08", taxTotal: "3.55", total: "18.63"},
			},
		},
		{
			name: "PAYG with max and avg",
			at:   "2026-12-01T09:00:00Z",
			setup: func(t *testing.T, b *book) {
				p := b.plan(t, catalog.PostpaidPAYG, cycles("monthly", "0.00", "0.00"), false,
					catalog.MeteredCharge{OfferingItem: "pw_base_storage", UnitPrice: dec("0.05"), Aggregation: billing.AggMax},
					catalog.MeteredCharge{OfferingItem: "pw_base_workstations", UnitPrice: dec("2.00"), Aggregation: billing.AggAvg})
				b.service(t, svc{plan: p, customer: b.customer(t, nil), frequency: "monthly", quantity: 1, unit: "0.00", fee: "0.00",
					start: "2026-11-01", tenant: "tenant-payg"})
				for d := 1; d <= 30; d++ {
					storage, ws := int64(3)<<30, int64(2)
					if d <= 10 {
						storage, ws = int64(5)<<30+1, 1 // 5 GiB and a byte is 6 GB
					}
					day := time.Date(2026, 11, d, 0, 0, 0, 0, time.UTC)
					require.NoError(t, b.env.App.DB.Gorm.Exec(`INSERT INTO usage_daily (tenant_id, item, day, value, unit, synced_at) VALUES
						('tenant-payg', 'pw_base_storage', ?, ?, 'bytes', now()), ('tenant-payg', 'pw_base_workstations', ?, ?, 'quantity', now())`,
						day, storage, day, ws).Error)
				}
			},
			asOf: "2026-12-01",
			// storage: max(6, 3) = 6 GB x 0.05 = 0.30; workstations: (10x1 + 20x2)/30 = 1.6667 -> 1.67 x 2.00 = 3.34
			// subtotal 3.64; VAT 0.7644 -> 0.76; City 0.091 -> 0.09
			want: []want{{lines: []line{{"usage", "6", "0.05", "0.30"}, {"usage", "1.67", "2.00", "3.34"}},
				taxes: map[string]string{"VAT": "0.76", "City": "0.09"}, subtotal: "3.64", taxTotal: "0.85", total: "4.49"}},
		},
		{
			name: "partner sale: the customer's bill at end price, the partner's at cost",
			at:   "2026-11-25T10:00:00Z",
			setup: func(t *testing.T, b *book) {
				pid := b.env.NewPartner(t)
				p := b.plan(t, catalog.Prepaid, cycles("monthly", "10.00", "5.00"), true)
				// discount 20%: cost 8.00 (fee 4.00); markup 25%: end 10.00 (fee 5.00)
				firstInvoice(t, b, b.service(t, svc{plan: p, customer: b.customer(t, &pid), partner: &pid, frequency: "monthly", quantity: 1,
					unit: "10.00", fee: "5.00", cost: ptr("8.00"), feeCost: ptr("4.00")}))
			},
			want: []want{
				// ACME-... (the SP to the partner, at cost) sorts before P... (the partner's own numbers)
				{lines: []line{{"recurring", "1", "8.00", "8.00"}, {"setup", "1", "4.00", "4.00"}},
					taxes: map[string]string{"VAT": "2.52", "City": "0.30"}, subtotal: "12.00", taxTotal: "2.82", total: "14.82"},
				{lines: []line{{"recurring", "1", "10.00", "10.00"}, {"setup", "1", "5.00", "5.00"}},
					taxes: map[string]string{"VAT": "3.15", "City": "0.38"}, subtotal: "15.00", taxTotal: "3.53", total: "18.53"},
			},
		},
		{
			name: "post-paid partner sale from mid-month: the customer's month at end price, the partner's at cost",
			at:   "2026-12-01T09:00:00Z",
			setup: func(t *testing.T, b *book) {
				pid := b.env.NewPartner(t)
				p := b.plan(t, catalog.PostpaidFixed, cycles("monthly", "20.00", "0.00"), true)
				// cost 15.00 (25% off); end 18.00 (20% on)
				b.service(t, svc{plan: p, customer: b.customer(t, &pid), partner: &pid, frequency: "monthly", quantity: 1,
					unit: "18.00", fee: "0.00", cost: ptr("15.00"), feeCost: ptr("0.00"), start: "2026-11-11"})
			},
			asOf: "2026-12-01",
			// 20 of 30 days: the partner pays 15.00 x 20/30 = 10.00; its customer 18.00 x 20/30 = 12.00
			want: []want{
				{lines: []line{{"proration", "1", "15.00", "10.00"}},
					taxes: map[string]string{"VAT": "2.10", "City": "0.25"}, subtotal: "10.00", taxTotal: "2.35", total: "12.35"},
				{lines: []line{{"proration", "1", "18.00", "12.00"}},
					taxes: map[string]string{"VAT": "2.52", "City": "0.30"}, subtotal: "12.00", taxTotal: "2.82", total: "14.82"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := newBook(t, tt.at, "")
			tt.setup(t, b)
			if tt.asOf != "" {
				run, err := b.env.App.Billing.RunNow(context.Background(), "test", billing.RunAll, date(tt.asOf))
				require.NoError(t, err)
				require.Equal(t, "[]", string(run.Failures))
			}
			invs := b.invoices(t, "")
			require.Len(t, invs, len(tt.want))
			for i, w := range tt.want {
				requireInvoice(t, invs[i], w)
				require.Equal(t, billing.StatusUnpaid, invs[i].Status)
			}
		})
	}
}

func TestInvoiceNumbersAreGapFreePerIssuerAndYear(t *testing.T) {
	t.Parallel()
	b := newBook(t, "2026-12-30T10:00:00Z", "")
	p := b.plan(t, catalog.Prepaid, cycles("monthly", "10.00", "0.00"), false)
	for range 3 {
		firstInvoice(t, b, b.service(t, svc{plan: p, customer: b.customer(t, nil), frequency: "monthly", quantity: 1, unit: "10.00", fee: "0.00"}))
	}
	b.env.Clock.Set(mustTime(t, "2027-01-02T10:00:00Z"))
	firstInvoice(t, b, b.service(t, svc{plan: p, customer: b.customer(t, nil), frequency: "monthly", quantity: 1, unit: "10.00", fee: "0.00"}))
	var numbers []string
	for _, inv := range b.invoices(t, "") {
		numbers = append(numbers, *inv.Number)
	}
	require.Equal(t, []string{"ACME-2026-000001", "ACME-2026-000002", "ACME-2026-000003", "ACME-2027-000001"}, numbers)
}

func TestRenewalsKeepTheAnniversaryDay(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, start, freq string
		dues              []string // next due dates, renewal after renewal
	}{
		{"month ends", "2027-01-31T12:00:00Z", "monthly", []string{"2027-02-28", "2027-03-31", "2027-04-30", "2027-05-31"}},
		{"leap year", "2028-01-31T12:00:00Z", "monthly", []string{"2028-02-29", "2028-03-31"}},
		{"annual from a leap day", "2028-02-29T12:00:00Z", "annually", []string{"2029-02-28", "2030-02-28"}},
		{"quarterly", "2026-11-30T12:00:00Z", "quarterly", []string{"2027-02-28", "2027-05-30"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := newBook(t, tt.start, "")
			ctx := context.Background()
			p := b.plan(t, catalog.Prepaid, cycles(tt.freq, "10.00", "0.00"), false)
			id := b.service(t, svc{plan: p, customer: b.customer(t, nil), frequency: tt.freq, quantity: 1, unit: "10.00", fee: "0.00"})
			firstInvoice(t, b, id)
			for i, due := range tt.dues {
				v, err := b.env.App.Services.Get(ctx, admin, id)
				require.NoError(t, err)
				require.Equal(t, due, v.NextDueDate.Format(time.DateOnly), "due date %d", i+1)
				if i == len(tt.dues)-1 {
					break
				}
				// A week ahead the run bills the next period; paying it moves the due date.
				asOf := date(due).AddDate(0, 0, -7)
				b.env.Clock.Set(asOf.Add(12 * time.Hour))
				run, err := b.env.App.Billing.RunNow(ctx, "test", billing.RunRenewals, asOf)
				require.NoError(t, err)
				require.Equal(t, 1, run.Invoices)
				again, err := b.env.App.Billing.RunNow(ctx, "test", billing.RunRenewals, asOf)
				require.NoError(t, err)
				require.Zero(t, again.Invoices, "a second run bills nothing more")
				invs := b.invoices(t, "kind = 'renewal' AND period_start = ?", date(due))
				require.Len(t, invs, 1)
				require.Equal(t, due, invs[0].DueDate.Format(time.DateOnly))
				_, _, err = b.env.App.Billing.Pay(ctx, admin, invs[0].ID, billing.PaymentInput{
					Amount: money.Input{Amount: money.String(invs[0].Total), Currency: "USD"}, Method: "card"})
				require.NoError(t, err)
			}
		})
	}
}

func TestRunsAreSafeToRepeatAndToKill(t *testing.T) {
	t.Parallel()
	b := newBook(t, "2026-12-01T09:00:00Z", "")
	ctx := context.Background()
	p := b.plan(t, catalog.PostpaidFixed, cycles("monthly", "10.00", "0.00"), false)
	// A second venture: its invoices take another counter, which this test holds.
	v2, err := b.env.App.Catalog.CreateVenture(ctx, "Other", "OTHR")
	require.NoError(t, err)
	p2 := b.plan(t, catalog.PostpaidFixed, cycles("monthly", "10.00", "0.00"), false)
	_, err = b.env.App.Catalog.UpdatePlan(ctx, p2.ID, catalog.PlanInput{VentureID: &v2.ID}, nil)
	require.NoError(t, err)
	for range 3 {
		b.service(t, svc{plan: p, customer: b.customer(t, nil), frequency: "monthly", quantity: 1, unit: "10.00", fee: "0.00", start: "2026-11-01"})
		b.service(t, svc{plan: p2, customer: b.customer(t, nil), frequency: "monthly", quantity: 1, unit: "10.00", fee: "0.00", start: "2026-11-01"})
	}

	// Kill a run halfway: it blocks on the held counter and is cancelled there.
	lock := b.env.App.DB.Gorm.Begin()
	t.Cleanup(func() { lock.Rollback() })
	require.NoError(t, lock.Exec(`INSERT INTO invoice_counters (scope, year, last) VALUES (?, 2026, 0)
		ON CONFLICT (scope, year) DO UPDATE SET last = invoice_counters.last`, "venture:"+v2.ID.String()).Error)
	killed, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := b.env.App.Billing.RunNow(killed, "test", billing.RunAll, date("2026-12-01"))
		done <- err
	}()
	require.Eventually(t, func() bool {
		var waiting int64
		require.NoError(t, b.env.App.DB.Gorm.Raw("SELECT count(*) FROM pg_locks WHERE NOT granted AND pid IN (SELECT pid FROM pg_stat_activity WHERE datname = current_database())").Scan(&waiting).Error)
		return waiting > 0
	}, 10*time.Second, 10*time.Millisecond, "the run waits on the held counter")
	cancel()
	require.Error(t, <-done)
	require.NoError(t, lock.Rollback().Error)
	partial := b.invoices(t, "")
	require.Less(t, len(partial), 6, "the killed run billed part")
	for _, inv := range partial {
		require.NotEmpty(t, inv.Lines, "whole invoices only")
		require.True(t, strings.HasPrefix(*inv.Number, "ACME-"), "none of the held venture's")
	}

	// Run it again, twice: the rest is billed once.
	for range 2 {
		_, err := b.env.App.Billing.RunNow(ctx, "test", billing.RunAll, date("2026-12-01"))
		require.NoError(t, err)
	}
	invs := b.invoices(t, "")
	require.Len(t, invs, 6)
	var numbers []string
	for _, inv := range invs {
		numbers = append(numbers, *inv.Number)
		requireInvoice(t, inv, want{lines: []line{{"recurring", "1", "10.00", "10.00"}},
			taxes: map[string]string{"VAT": "2.10", "City": "0.25"}, subtotal: "10.00", taxTotal: "2.35", total: "12.35"})
	}
	require.Equal(t, []string{"ACME-2026-000001", "ACME-2026-000002", "ACME-2026-000003",
		"OTHR-2026-000001", "OTHR-2026-000002", "OTHR-2026-000003"}, numbers, "numbers stay gap-free through the kill")
}

func TestTheSPZoneDecidesTheFirst(t *testing.T) {
	t.Parallel()
	// 30 Nov 23:00 in Auckland is 30 Nov 10:00 UTC; 1 Dec 01:00 there is 30 Nov 12:00 UTC.
	b := newBook(t, "2026-11-30T10:00:00Z", "Pacific/Auckland")
	ctx := context.Background()
	p := b.plan(t, catalog.PostpaidFixed, cycles("monthly", "10.00", "0.00"), false)
	b.service(t, svc{plan: p, customer: b.customer(t, nil), frequency: "monthly", quantity: 1, unit: "10.00", fee: "0.00", start: "2026-11-01"})
	require.Equal(t, "2026-11-30", b.env.App.Billing.Today().Format(time.DateOnly))
	run, err := b.env.App.Billing.RunNow(ctx, "test", billing.RunAll, b.env.App.Billing.Today())
	require.NoError(t, err)
	require.Zero(t, run.Invoices, "November is not over in Auckland")
	b.env.Clock.Set(mustTime(t, "2026-11-30T12:00:00Z"))
	require.Equal(t, "2026-12-01", b.env.App.Billing.Today().Format(time.DateOnly))
	run, err = b.env.App.Billing.RunNow(ctx, "test", billing.RunAll, b.env.App.Billing.Today())
	require.NoError(t, err)
	require.Equal(t, 1, run.Invoices)
	invs := b.invoices(t, "")
	require.Equal(t, "2026-11-01", invs[0].PeriodStart.Format(time.DateOnly))
	require.Equal(t, "2026-12-01", invs[0].IssueDate.Format(time.DateOnly))
	require.Equal(t, "2026-12-15", invs[0].DueDate.Format(time.DateOnly), "due after INVOICE_TERMS_DAYS")
}

func TestUnitMath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"GB of a byte", decimal.NewFromInt(billing.GB(1)).String(), "1"},
		{"GB of 1 GiB", decimal.NewFromInt(billing.GB(1 << 30)).String(), "1"},
		{"GB of 1 GiB and a byte", decimal.NewFromInt(billing.GB(1<<30 + 1)).String(), "2"},
		{"GB of nothing", decimal.NewFromInt(billing.GB(0)).String(), "0"},
		{"prorate .005 up", billing.Prorate(dec("10.05"), 15, 30).String(), "5.03"},
		{"prorate .005 negative away from zero", billing.Prorate(dec("-10.05"), 15, 30).String(), "-5.03"},
		{"avg rounded", billing.Aggregate(billing.AggAvg, []decimal.Decimal{dec("1"), dec("2"), dec("2")}).String(), "1.67"},
		{"last", billing.Aggregate(billing.AggLast, []decimal.Decimal{dec("5"), dec("2")}).String(), "2"},
		{"max", billing.Aggregate(billing.AggMax, []decimal.Decimal{dec("5"), dec("7"), dec("2")}).String(), "7"},
		{"no days", billing.Aggregate(billing.AggMax, nil).String(), "0"},
		{"31 Jan + 1 month", billing.AddCycle(date("2027-01-31"), 1, 31).Format(time.DateOnly), "2027-02-28"},
		{"28 Feb + 1 month, anchor 31", billing.AddCycle(date("2027-02-28"), 1, 31).Format(time.DateOnly), "2027-03-31"},
		{"31 Jan + 1 month, leap", billing.AddCycle(date("2028-01-31"), 1, 31).Format(time.DateOnly), "2028-02-29"},
		{"Auckland day", billing.Day(mustTime(t, "2026-11-30T12:00:00Z"), mustLoc(t, "Pacific/Auckland")).Format(time.DateOnly), "2026-12-01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, tt.got)
		})
	}
}

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	l, err := time.LoadLocation(name)
	require.NoError(t, err)
	return l
}

// withStorage gives a plan module settings (a soft and hard storage quota)
// and an overage price, as the catalog would after a vendor check.
func (b *book) withStorage(t *testing.T, p catalog.Plan, softGB int, overage string) {
	t.Helper()
	require.NoError(t, b.env.App.DB.Gorm.Exec(`INSERT INTO plan_module_settings (plan_id, datacenter_url, client_id, client_secret_enc,
		free_trial, storage_quota_gb, overage_quota_gb, edition, backup_location, offering_items, updated_at)
		VALUES (?, 'https://dc.example', 'client', '\x00', false, ?, 10, 'pck_per_workload', 'loc', '{}', now())`, p.ID, softGB).Error)
	pr, err := b.env.App.Catalog.GetPricing(context.Background(), p.ID)
	require.NoError(t, err)
	o := dec(overage)
	pr.OveragePricePerGB = &o
	_, err = b.env.App.Catalog.SetPricing(context.Background(), p.ID, pr)
	require.NoError(t, err)
}

func (b *book) storage(t *testing.T, tenant, day string, bytes int64) {
	t.Helper()
	require.NoError(t, b.env.App.DB.Gorm.Exec(`INSERT INTO usage_daily (tenant_id, item, day, value, unit, synced_at)
		VALUES (?, 'pw_base_storage', ?, ?, 'bytes', now())`, tenant, date(day), bytes).Error)
}

func TestOverageIsBilledOncePerWindow(t *testing.T) {
	t.Parallel()
	const gib = int64(1) << 30
	b := newBook(t, "2026-11-01T09:00:00Z", "")
	ctx := context.Background()
	p := b.plan(t, catalog.Prepaid, cycles("monthly", "10.00", "0.00"), false)
	b.withStorage(t, p, 100, "0.10")
	id := b.service(t, svc{plan: p, customer: b.customer(t, nil), frequency: "monthly", quantity: 2, unit: "10.00", fee: "0.00", tenant: "t-over"})
	firstInvoice(t, b, id)
	require.NoError(t, b.env.App.DB.Gorm.Exec("UPDATE services SET storage_item = 'pw_base_storage' WHERE id = ?", id).Error)
	b.storage(t, "t-over", "2026-11-10", 150*gib)
	b.storage(t, "t-over", "2026-11-20", 212*gib+1) // 12 GiB and a byte over 2 x 100 GB: 13 GB

	renew := func(asOf string) billing.Invoice {
		t.Helper()
		b.env.Clock.Set(date(asOf).Add(10 * time.Hour))
		run, err := b.env.App.Billing.RunNow(ctx, "test", billing.RunRenewals, date(asOf))
		require.NoError(t, err)
		require.Equal(t, 1, run.Invoices, "%s", run.Failures)
		invs := b.invoices(t, "kind = 'renewal' AND issue_date = ?", date(asOf))
		require.Len(t, invs, 1)
		_, _, err = b.env.App.Billing.Pay(ctx, admin, invs[0].ID, billing.PaymentInput{
			Amount: money.Input{Amount: money.String(invs[0].Total), Currency: "USD"}, Method: "card"})
		require.NoError(t, err)
		return invs[0]
	}
	// 20.00 + 13 x 0.10 = 21.30; VAT 4.473 -> 4.47; City 0.5325 -> 0.53
	requireInvoice(t, renew("2026-11-24"), want{lines: []line{{"recurring", "2", "10.00", "20.00"}, {"overage", "13", "0.10", "1.30"}},
		taxes: map[string]string{"VAT": "4.47", "City": "0.53"}, subtotal: "21.30", taxTotal: "5.00", total: "26.30"})

	// The next renewal looks only at the days since: 205 GiB on 5 Dec is 5 GB over.
	b.storage(t, "t-over", "2026-12-05", 205*gib)
	next := renew("2026-12-25")
	requireInvoice(t, next, want{lines: []line{{"recurring", "2", "10.00", "20.00"}, {"overage", "5", "0.10", "0.50"}},
		taxes: map[string]string{"VAT": "4.31", "City": "0.51"}, subtotal: "20.50", taxTotal: "4.82", total: "25.32"})
	require.Equal(t, []any{"2026-11-25", "2026-12-25"}, detailOf(t, next.Lines[1])["window"])
}

func detailOf(t *testing.T, l billing.InvoiceLine) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(l.Detail, &m))
	return m
}

func TestOverageOnRequest(t *testing.T) {
	t.Parallel()
	const gib = int64(1) << 30
	b := newBook(t, "2026-11-01T09:00:00Z", "")
	ctx := context.Background()
	p := b.plan(t, catalog.Prepaid, cycles("monthly", "10.00", "0.00"), false)
	b.withStorage(t, p, 100, "0.10")
	id := b.service(t, svc{plan: p, customer: b.customer(t, nil), frequency: "monthly", quantity: 2, unit: "10.00", fee: "0.00", tenant: "t-req"})
	firstInvoice(t, b, id)
	require.NoError(t, b.env.App.DB.Gorm.Exec("UPDATE services SET storage_item = 'pw_base_storage' WHERE id = ?", id).Error)
	b.storage(t, "t-req", "2026-11-20", 212*gib+1)
	b.env.Clock.Set(mustTime(t, "2026-11-22T10:00:00Z"))

	preview, err := b.env.App.Billing.BillOverage(ctx, admin, id, true)
	require.NoError(t, err)
	require.Len(t, preview, 1)
	require.Nil(t, preview[0].Number, "a preview is not issued")
	require.Len(t, b.invoices(t, ""), 1, "a preview stores nothing")

	made, err := b.env.App.Billing.BillOverage(ctx, admin, id, false)
	require.NoError(t, err)
	require.Len(t, made, 1)
	got := b.invoices(t, "kind = 'overage'")
	require.Len(t, got, 1)
	// 13 GB x 0.10 = 1.30; VAT 0.273 -> 0.27; City 0.0325 -> 0.03
	requireInvoice(t, got[0], want{lines: []line{{"overage", "13", "0.10", "1.30"}},
		taxes: map[string]string{"VAT": "0.27", "City": "0.03"}, subtotal: "1.30", taxTotal: "0.30", total: "1.60"})

	again, err := b.env.App.Billing.BillOverage(ctx, admin, id, false)
	require.NoError(t, err)
	require.Empty(t, again, "the window is billed")
	b.env.Clock.Set(mustTime(t, "2026-11-24T10:00:00Z"))
	_, err = b.env.App.Billing.RunNow(ctx, "test", billing.RunRenewals, date("2026-11-24"))
	require.NoError(t, err)
	renewal := b.invoices(t, "kind = 'renewal'")
	require.Len(t, renewal, 1)
	requireInvoice(t, renewal[0], want{lines: []line{{"recurring", "2", "10.00", "20.00"}},
		taxes: map[string]string{"VAT": "4.20", "City": "0.50"}, subtotal: "20.00", taxTotal: "4.70", total: "24.70"})

	other := b.service(t, svc{plan: b.plan(t, catalog.Prepaid, cycles("monthly", "1.00", "0.00"), false), customer: b.customer(t, nil),
		frequency: "monthly", quantity: 1, unit: "1.00", fee: "0.00", start: "2026-11-01"})
	_, err = b.env.App.Billing.BillOverage(ctx, admin, other, false)
	require.Equal(t, "overage_not_applicable", errsCode(err))
	_, err = b.env.App.Billing.BillOverage(ctx, auth.Principal{Role: auth.RolePartner, PartnerID: ptr(uuid.New())}, id, true)
	require.Equal(t, "not_found", errsCode(err), "another partner's service is not found")
}

func errsCode(err error) string { return errs.CodeOf(err) }

// changeQuantity sets a service's quantity as the service layer does and
// bills the change.
func (b *book) changeQuantity(t *testing.T, id uuid.UUID, at string, to int) ([]billing.Invoice, []billing.Credit) {
	t.Helper()
	b.env.Clock.Set(mustTime(t, at))
	var invs []billing.Invoice
	var credits []billing.Credit
	require.NoError(t, b.env.App.DB.Gorm.Transaction(func(tx *gorm.DB) error {
		var old int
		if err := tx.Table("services").Where("id = ?", id).Pluck("quantity", &old).Error; err != nil {
			return err
		}
		if err := tx.Exec("UPDATE services SET quantity = ? WHERE id = ?", to, id).Error; err != nil {
			return err
		}
		var err error
		invs, credits, err = b.env.App.Billing.AdjustQuantityTx(context.Background(), tx, id, old)
		return err
	}))
	return invs, credits
}

func TestQuantityChanges(t *testing.T) {
	t.Parallel()
	t.Run("prepaid raise mid-period is invoiced for the days left", func(t *testing.T) {
		t.Parallel()
		b := newBook(t, "2026-11-01T09:00:00Z", "")
		p := b.plan(t, catalog.Prepaid, cycles("monthly", "10.00", "0.00"), false)
		id := b.service(t, svc{plan: p, customer: b.customer(t, nil), frequency: "monthly", quantity: 1, unit: "10.00", fee: "0.00"})
		firstInvoice(t, b, id)
		invs, credits := b.changeQuantity(t, id, "2026-11-21T10:00:00Z", 3)
		require.Empty(t, credits)
		require.Len(t, invs, 1)
		got := b.invoices(t, "kind = 'adjustment'")
		require.Len(t, got, 1)
		// 10.00 x 2 more x 10 of 30 days = 6.67; VAT 1.4007 -> 1.40; City 0.16675 -> 0.17
		requireInvoice(t, got[0], want{lines: []line{{"proration", "2", "10.00", "6.67"}},
			taxes: map[string]string{"VAT": "1.40", "City": "0.17"}, subtotal: "6.67", taxTotal: "1.57", total: "8.24"})
	})
	t.Run("prepaid cut is a credit taken off the next renewal", func(t *testing.T) {
		t.Parallel()
		b := newBook(t, "2026-11-01T09:00:00Z", "")
		ctx := context.Background()
		p := b.plan(t, catalog.Prepaid, cycles("monthly", "10.00", "0.00"), false)
		id := b.service(t, svc{plan: p, customer: b.customer(t, nil), frequency: "monthly", quantity: 3, unit: "10.00", fee: "0.00"})
		firstInvoice(t, b, id)
		invs, credits := b.changeQuantity(t, id, "2026-11-21T10:00:00Z", 1)
		require.Empty(t, invs)
		require.Len(t, credits, 1)
		require.Equal(t, "6.67", money.String(credits[0].Amount), "10.00 x 2 fewer x 10 of 30 days")
		b.env.Clock.Set(mustTime(t, "2026-11-24T10:00:00Z"))
		_, err := b.env.App.Billing.RunNow(ctx, "test", billing.RunRenewals, date("2026-11-24"))
		require.NoError(t, err)
		renewal := b.invoices(t, "kind = 'renewal'")
		require.Len(t, renewal, 1)
		// 10.00 - 6.67 = 3.33; VAT 0.6993 -> 0.70; City 0.08325 -> 0.08
		requireInvoice(t, renewal[0], want{lines: []line{{"recurring", "1", "10.00", "10.00"}, {"credit", "1", "-6.67", "-6.67"}},
			taxes: map[string]string{"VAT": "0.70", "City": "0.08"}, subtotal: "3.33", taxTotal: "0.78", total: "4.11"})
		var left string
		require.NoError(t, b.env.App.DB.Gorm.Raw("SELECT remaining::text FROM credits WHERE service_id = ?", id).Scan(&left).Error)
		require.Equal(t, "0.00", left, "the credit is used up")
	})
	t.Run("post-paid month billed per stretch at each quantity", func(t *testing.T) {
		t.Parallel()
		b := newBook(t, "2026-11-01T09:00:00Z", "")
		p := b.plan(t, catalog.PostpaidFixed, cycles("monthly", "10.00", "0.00"), false)
		id := b.service(t, svc{plan: p, customer: b.customer(t, nil), frequency: "monthly", quantity: 1, unit: "10.00", fee: "0.00", start: "2026-11-01"})
		invs, credits := b.changeQuantity(t, id, "2026-11-16T10:00:00Z", 2)
		require.Empty(t, invs)
		require.Empty(t, credits)
		b.env.Clock.Set(mustTime(t, "2026-12-01T09:00:00Z"))
		_, err := b.env.App.Billing.RunNow(context.Background(), "test", billing.RunAll, date("2026-12-01"))
		require.NoError(t, err)
		got := b.invoices(t, "")
		require.Len(t, got, 1)
		// 1 x 10.00 x 15/30 = 5.00; 2 x 10.00 x 15/30 = 10.00; VAT 3.15; City 0.375 -> 0.38
		requireInvoice(t, got[0], want{lines: []line{{"proration", "1", "10.00", "5.00"}, {"proration", "2", "10.00", "10.00"}},
			taxes: map[string]string{"VAT": "3.15", "City": "0.38"}, subtotal: "15.00", taxTotal: "3.53", total: "18.53"})
	})
}

func TestTermChange(t *testing.T) {
	t.Parallel()
	b := newBook(t, "2026-11-01T09:00:00Z", "")
	ctx := context.Background()
	p := b.plan(t, catalog.Prepaid, []catalog.Cycle{{Frequency: "monthly", Price: dec("10.00"), SetupFee: dec("0.00")},
		{Frequency: "annually", Price: dec("100.00"), SetupFee: dec("0.00")}}, false)
	id := b.service(t, svc{plan: p, customer: b.customer(t, nil), frequency: "monthly", quantity: 1, unit: "10.00", fee: "0.00"})
	firstInvoice(t, b, id)
	b.env.Clock.Set(mustTime(t, "2026-11-21T10:00:00Z"))

	ch, err := b.env.App.Services.ChangeTerm(ctx, admin, id, "annually", nil, b.env.App.Billing)
	require.NoError(t, err)
	require.Len(t, ch.Invoices, 1)
	got := b.invoices(t, "kind = 'adjustment'")
	require.Len(t, got, 1)
	// 100.00 less 10.00 x 10 of 30 unused days (3.33) = 96.67; VAT 20.3007 -> 20.30; City 2.41675 -> 2.42
	requireInvoice(t, got[0], want{lines: []line{{"recurring", "1", "100.00", "100.00"}, {"credit", "1", "-3.33", "-3.33"}},
		taxes: map[string]string{"VAT": "20.30", "City": "2.42"}, subtotal: "96.67", taxTotal: "22.72", total: "119.39"})
	require.Equal(t, "annually", ch.Service.Frequency)
	require.Equal(t, "100.00", money.String(ch.Service.UnitPrice))
	require.Equal(t, "2027-11-21", ch.Service.NextDueDate.Format(time.DateOnly))

	postpaid := b.service(t, svc{plan: b.plan(t, catalog.PostpaidFixed, cycles("monthly", "1.00", "0.00"), false), customer: b.customer(t, nil),
		frequency: "monthly", quantity: 1, unit: "1.00", fee: "0.00", start: "2026-11-01"})
	tests := []struct {
		name, frequency, code string
		service               uuid.UUID
	}{
		{"the same cycle", "annually", "frequency_unchanged", id},
		{"a shorter cycle", "monthly", "term_not_longer", id},
		{"a cycle without a price", "triennially", "frequency_not_offered", id},
		{"a post-paid service", "annually", "term_change_prepaid_only", postpaid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := b.env.App.Services.ChangeTerm(ctx, admin, tt.service, tt.frequency, nil, b.env.App.Billing)
			require.Equal(t, tt.code, errsCode(err))
		})
	}
	require.Len(t, b.invoices(t, "kind = 'adjustment'"), 1, "refused changes bill nothing")
}

func TestPlanChange(t *testing.T) {
	t.Parallel()
	b := newBook(t, "2026-11-01T09:00:00Z", "")
	ctx := context.Background()
	basic := b.plan(t, catalog.Prepaid, cycles("monthly", "10.00", "0.00"), false)
	pro := b.plan(t, catalog.Prepaid, cycles("monthly", "20.00", "0.00"), false)
	lite := b.plan(t, catalog.Prepaid, cycles("monthly", "5.00", "0.00"), false)
	id := b.service(t, svc{plan: basic, customer: b.customer(t, nil), frequency: "monthly", quantity: 1, unit: "10.00", fee: "0.00"})
	firstInvoice(t, b, id)

	// Up on 21 Nov, 10 of 30 days left: 20.00 x 10/30 = 6.67 less 10.00 x 10/30 = 3.33.
	b.env.Clock.Set(mustTime(t, "2026-11-21T10:00:00Z"))
	up, err := b.env.App.Services.ChangePlan(ctx, admin, id, pro.ID, nil, b.env.App.Billing)
	require.NoError(t, err)
	require.Equal(t, pro.ID, up.Service.PlanID)
	require.Equal(t, "20.00", money.String(up.Service.UnitPrice))
	got := b.invoices(t, "kind = 'adjustment'")
	require.Len(t, got, 1)
	// 3.34; VAT 0.7014 -> 0.70; City 0.0835 -> 0.08
	requireInvoice(t, got[0], want{lines: []line{{"proration", "1", "20.00", "6.67"}, {"credit", "1", "-3.33", "-3.33"}},
		taxes: map[string]string{"VAT": "0.70", "City": "0.08"}, subtotal: "3.34", taxTotal: "0.78", total: "4.12"})

	// Down on 26 Nov, 5 days left: 5.00 x 5/30 = 0.83 against 20.00 x 5/30 = 3.33: a zero bill and 2.50 kept as credit.
	b.env.Clock.Set(mustTime(t, "2026-11-26T10:00:00Z"))
	_, err = b.env.App.Services.ChangePlan(ctx, admin, id, lite.ID, nil, b.env.App.Billing)
	require.NoError(t, err)
	down := b.invoices(t, "kind = 'adjustment' AND issue_date = ?", date("2026-11-26"))
	require.Len(t, down, 1)
	require.Equal(t, "0.00", money.String(down[0].Total))
	require.Equal(t, billing.StatusPaid, down[0].Status, "nothing to pay")
	var credit string
	require.NoError(t, b.env.App.DB.Gorm.Raw("SELECT remaining::text FROM credits WHERE service_id = ?", id).Scan(&credit).Error)
	require.Equal(t, "2.50", credit)

	retired := b.plan(t, catalog.Prepaid, cycles("monthly", "1.00", "0.00"), false)
	_, err = b.env.App.Catalog.UpdatePlan(ctx, retired.ID, catalog.PlanInput{Status: ptr(catalog.PlanRetired)}, nil)
	require.NoError(t, err)
	annualOnly := b.plan(t, catalog.Prepaid, cycles("annually", "100.00", "0.00"), false)
	postpaidPlan := b.plan(t, catalog.PostpaidFixed, cycles("monthly", "1.00", "0.00"), false)
	postpaid := b.service(t, svc{plan: postpaidPlan, customer: b.customer(t, nil), frequency: "monthly", quantity: 1, unit: "1.00", fee: "0.00", start: "2026-11-01"})
	tests := []struct {
		name, code string
		service    uuid.UUID
		plan       uuid.UUID
	}{
		{"the same plan", "plan_unchanged", id, lite.ID},
		{"an unknown plan", "plan_not_found", id, uuid.New()},
		{"a retired plan", "plan_not_active", id, retired.ID},
		{"no price for the cycle", "frequency_not_offered", id, annualOnly.ID},
		{"a post-paid plan", "billing_model_mismatch", id, postpaidPlan.ID},
		{"a post-paid service", "plan_change_prepaid_only", postpaid, basic.ID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := b.env.App.Services.ChangePlan(ctx, admin, tt.service, tt.plan, nil, b.env.App.Billing)
			require.Equal(t, tt.code, errsCode(err))
		})
	}
	require.Len(t, b.invoices(t, "kind = 'adjustment'"), 2, "refused changes bill nothing")
}
