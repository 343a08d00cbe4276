package margin_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/app/apptest"
	"github.com/acronis-platform/platform/internal/auth"
	"github.com/acronis-platform/platform/internal/margin"
	"github.com/acronis-platform/platform/internal/postgres/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const gib = int64(1) << 30

func ptr[T any](v T) *T { return &v }

// seed writes rows with SQL: the catalog, customers and services, their
// invoices, usage and rate cards, each test on a database of its own (the
// report reads every service).
type seed struct {
	t  testing.TB
	db *gorm.DB
}

func (s seed) exec(q string, args ...any) {
	s.t.Helper()
	require.NoError(s.t, s.db.Exec(q, args...).Error, q)
}

const now = "2026-12-05 09:00:00+00"

func (s seed) group(name, module string) uuid.UUID {
	id := uuid.New()
	pt, p := uuid.New(), uuid.New()
	s.exec(`INSERT INTO product_types (id, name, created_at, updated_at) VALUES (?, ?, ?, ?)`, pt, "Type "+id.String(), now, now)
	s.exec(`INSERT INTO products (id, product_type_id, name, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`, p, pt, "Product", now, now)
	s.exec(`INSERT INTO product_groups (id, product_id, name, module, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`, id, p, name, module, now, now)
	return id
}

// plan is a plan of group with Acronis settings: storage and overage
// quota per unit (nil: none) and offering item quotas (JSON).
func (s seed) plan(venture, group uuid.UUID, name string, storage, overage *int, items string) uuid.UUID {
	id := uuid.New()
	s.exec(`INSERT INTO plans (id, venture_id, product_type_id, product_id, product_group_id, name, status, created_at, updated_at)
		SELECT ?, ?, p.product_type_id, p.id, g.id, ?, 'active', ?, ? FROM product_groups g JOIN products p ON p.id = g.product_id WHERE g.id = ?`,
		id, venture, name, now, now, group)
	s.exec(`INSERT INTO plan_module_settings (plan_id, datacenter_url, client_id, client_secret_enc, free_trial, storage_quota_gb,
		overage_quota_gb, edition, backup_location, offering_items, updated_at)
		VALUES (?, 'https://dc.example', 'client', '\x00', false, ?, ?, 'pck_per_workload', 'loc', ?::jsonb, ?)`, id, storage, overage, items, now)
	return id
}

func (s seed) venture() uuid.UUID {
	id := uuid.New()
	s.exec(`INSERT INTO ventures (id, name, invoice_prefix, created_at, updated_at) VALUES (?, 'Acme', ?, ?, ?)`, id, "P"+id.String()[:8], now, now)
	return id
}

func (s seed) partner(name string) uuid.UUID {
	id := uuid.New()
	s.exec(`INSERT INTO partners (id, name, email, vendor_login, status, vendor_tenant_id, created_at, updated_at)
		VALUES (?, ?, ?, ?, 'active', ?, ?, ?)`, id, name, id.String()+"@p.example", "p-"+id.String(), "pt-"+id.String(), now, now)
	return id
}

func (s seed) customer(partner *uuid.UUID) uuid.UUID {
	id := uuid.New()
	s.exec(`INSERT INTO customers (id, partner_id, name, email, currency, created_at, updated_at) VALUES (?, ?, 'Customer', ?, 'USD', ?, ?)`,
		id, partner, id.String()+"@c.example", now, now)
	return id
}

// svc is a service; start nil is a free trial not converted; end and
// terminated set end it.
type svc struct {
	customer, plan uuid.UUID
	partner        *uuid.UUID
	quantity       int
	tenant         string
	trial          bool
	start          *string
	activated      string
	end            *string
}

func (s seed) service(v svc) uuid.UUID {
	id := uuid.New()
	status, terminated := "active", (*string)(nil)
	if v.end != nil {
		status, terminated = "terminated", ptr(*v.end+" 12:00:00+00")
	}
	s.exec(`INSERT INTO services (id, customer_id, partner_id, plan_id, frequency, quantity, username, status, free_trial, vendor_tenant_id,
		unit_price, setup_fee, start_date, end_date, activated_at, terminated_at, storage_item, created_at, updated_at)
		VALUES (?, ?, ?, ?, 'monthly', ?, ?, ?, ?, ?, 10, 0, ?, ?, ?, ?, 'pw_base_storage', ?, ?)`,
		id, v.customer, v.partner, v.plan, v.quantity, "u-"+id.String(), status, v.trial, v.tenant, v.start, v.end, v.activated, terminated, now, now)
	return id
}

// invoice stores an invoice of the SP (issuer nil) or of a partner, to a
// customer or (customer nil) a partner, with its lines.
type line struct {
	service    *uuid.UUID
	kind       string
	from, to   *string
	amount     string
	detailJSON string
}

func (s seed) invoice(issuer, customer, partner *uuid.UUID, venture uuid.UUID, status, from, to string, lines ...line) {
	id := uuid.New()
	s.exec(`INSERT INTO invoices (id, number, billing_key, venture_id, issuer_partner_id, customer_id, partner_id, kind, status, currency,
		subtotal, tax_total, total, period_start, period_end, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, 'postpaid', ?, 'USD', 0, 0, 0, ?, ?, ?, ?)`,
		id, "N-"+id.String(), "k-"+id.String(), venture, issuer, customer, partner, status, from, to, now, now)
	for i, l := range lines {
		detail := l.detailJSON
		if detail == "" {
			detail = "{}"
		}
		s.exec(`INSERT INTO invoice_lines (id, invoice_id, position, kind, service_id, description, period_start, period_end, quantity,
			unit_price, amount, detail) VALUES (?, ?, ?, ?, ?, 'line', ?, ?, 1, ?, ?, ?::jsonb)`,
			uuid.New(), id, i+1, l.kind, l.service, l.from, l.to, l.amount, l.amount, detail)
	}
}

func (s seed) usage(tenant, item, day string, value int64, unit string) {
	s.exec(`INSERT INTO usage_daily (tenant_id, item, day, value, unit, synced_at) VALUES (?, ?, ?, ?, ?, ?)`, tenant, item, day, value, unit, now)
}

// card stores a group's card for a month; rows are sku, unit, cost, basis.
func (s seed) card(group uuid.UUID, year, month, version int, currency, rate string, replaced bool, rows ...[4]string) uuid.UUID {
	id := uuid.New()
	var replacedAt *string
	if replaced {
		replacedAt = ptr(now)
	}
	s.exec(`INSERT INTO rate_cards (id, product_group_id, year, month, version, currency, exchange_rate, base_currency, file_name, file,
		file_sha256, row_count, imported_by, replaced_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'USD', 'card.xlsx', '\x00', 'x', ?, 'test', ?, ?)`,
		id, group, year, month, version, currency, rate, len(rows), replacedAt, now)
	for i, r := range rows {
		s.exec(`INSERT INTO rate_card_rows (rate_card_id, row, sku, description, unit, unit_cost, basis) VALUES (?, ?, ?, '', ?, ?, ?)`,
			id, i+2, r[0], r[1], r[2], r[3])
	}
	return id
}

func (s seed) quantityChange(service uuid.UUID, day string, q int) {
	s.exec(`INSERT INTO service_quantity_changes (service_id, day, quantity, changed_at) VALUES (?, ?, ?, ?)`, service, day, q, now)
}

// world is the hand-computed month, November 2026, on 5 December.
type world struct {
	env                    *apptest.Env
	backup, security       uuid.UUID // product groups
	p1, p2, p3             uuid.UUID // plans
	partner                uuid.UUID
	backupCard, octCard    uuid.UUID
	s1, s2, s3, s4, s5, s6 uuid.UUID
}

func newWorld(t testing.TB) *world {
	t.Helper()
	cfg := apptest.Config(t)
	cfg.DatabaseURL = pgtest.NewDatabase(t, true)
	env := apptest.Start(t, cfg)
	env.Clock.Set(time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC))
	s := seed{t: t, db: env.App.DB.Gorm}
	w := &world{env: env}
	v := s.venture()
	w.backup, w.security = s.group("Backup", "acronis"), s.group("Security", "acronis")
	s.group("Hosting", "none") // no services: no row
	// P1: 100 GB (+20 overage) and 5 workstations per unit; P2 (PAYG):
	// 50 GB, unlimited workstations; P3: 10 GB.
	w.p1 = s.plan(v, w.backup, "Backup Pro", ptr(100), ptr(20), `{"common": {"pw_base_workstations": 5}}`)
	w.p2 = s.plan(v, w.backup, "Backup PAYG", ptr(50), nil, `{"common": {"pw_base_workstations": -1}}`)
	w.p3 = s.plan(v, w.security, "Security", ptr(10), nil, `{}`)
	w.partner = s.partner("Reseller")
	c1, c2, c3, c4 := s.customer(nil), s.customer(nil), s.customer(&w.partner), s.customer(nil)

	// The Backup card of November in EUR at 1.08 (version 2; version 1,
	// replaced, would price storage at 0.50); no row for mobiles; servers
	// (counted) priced per TB. Security has a card for October only.
	s.card(w.backup, 2026, 11, 1, "EUR", "1.08", true, [4]string{"pw_base_storage", "GB", "0.50", "usage"})
	w.backupCard = s.card(w.backup, 2026, 11, 2, "EUR", "1.08", false,
		[4]string{"PW_BASE_STORAGE", "GB", "0.02", "usage"},
		[4]string{"pw_base_workstations", "workstation", "1.50", "quota"},
		[4]string{"pw_base_servers", "TB", "3.00", "usage"})
	w.octCard = s.card(w.security, 2026, 10, 1, "GBP", "1.27", false, [4]string{"pw_base_storage", "GB", "0.05", "usage"})

	// S1: direct, prepaid for a quarter from 15 Oct: 300.00 x 30/92 days =
	// 97.83 in November. Storage peak 110 GiB + 1 byte = 111 GB x 0.02;
	// workstations by quota 5 x 1.50; mobiles no_rate; servers unit_mismatch.
	w.s1 = s.service(svc{customer: c1, plan: w.p1, quantity: 1, tenant: "t1", start: ptr("2026-10-15"), activated: "2026-10-15 09:00:00+00"})
	s.invoice(nil, &c1, nil, v, "paid", "2026-10-15", "2027-01-14",
		line{service: &w.s1, kind: "recurring", from: ptr("2026-10-15"), to: ptr("2027-01-14"), amount: "300.00"})
	s.invoice(nil, &c1, nil, v, "void", "2026-11-01", "2026-11-30",
		line{service: &w.s1, kind: "recurring", from: ptr("2026-11-01"), to: ptr("2026-11-30"), amount: "500.00"})
	s.invoice(nil, &c1, nil, v, "draft", "2026-11-01", "2026-11-30",
		line{service: &w.s1, kind: "recurring", from: ptr("2026-11-01"), to: ptr("2026-11-30"), amount: "700.00"})
	s.usage("t1", "pw_base_storage", "2026-10-31", 900*gib, "bytes") // October
	s.usage("t1", "pw_base_storage", "2026-11-03", 50*gib, "bytes")
	s.usage("t1", "pw_base_storage", "2026-11-20", 110*gib+1, "bytes")
	s.usage("t1", "pw_base_workstations", "2026-11-10", 3, "quantity")
	s.usage("t1", "pw_base_mobiles", "2026-11-10", 2, "quantity")
	s.usage("t1", "pw_base_servers", "2026-11-10", 2, "quantity")

	// S2: direct, PAYG at quantity 1 then 2: 20.00 + 15.00 and a credit of
	// 2.00 that names no service (unattributed). Storage 180 GB, above its
	// 100 GB quota, by usage; workstations by quota, unlimited: the peak 7.
	w.s2 = s.service(svc{customer: c2, plan: w.p2, quantity: 2, tenant: "t2", start: ptr("2026-09-01"), activated: "2026-09-01 09:00:00+00"})
	s.quantityChange(w.s2, "2026-09-01", 1)
	s.quantityChange(w.s2, "2026-11-10", 2)
	s.invoice(nil, &c2, nil, v, "unpaid", "2026-11-01", "2026-11-30",
		line{service: &w.s2, kind: "recurring", from: ptr("2026-11-01"), to: ptr("2026-11-30"), amount: "20.00"},
		line{service: &w.s2, kind: "usage", from: ptr("2026-11-01"), to: ptr("2026-11-30"), amount: "15.00"},
		line{kind: "credit", amount: "-2.00", detailJSON: `{"credit": "2.00", "credits": [{"credit_id": "` + uuid.NewString() + `", "amount": "2.00", "reason": "goodwill"}]}`})
	s.usage("t2", "pw_base_storage", "2026-11-12", 180*gib, "bytes")
	s.usage("t2", "pw_base_workstations", "2026-11-12", 7, "quantity")

	// S3: the partner's sale: the SP's invoice to the partner at cost
	// (80.00 less a credit of 5.00 taken from S3's credit) counts; the
	// partner's invoice to its customer does not. Quantity 1, 3 from 20 Nov,
	// 2 from 25 Nov: workstations by the peak quota 5 x 3 = 15.
	w.s3 = s.service(svc{customer: c3, partner: &w.partner, plan: w.p1, quantity: 2, tenant: "t3", start: ptr("2026-11-01"), activated: "2026-11-01 09:00:00+00"})
	s.quantityChange(w.s3, "2026-11-01", 1)
	s.quantityChange(w.s3, "2026-11-20", 3)
	s.quantityChange(w.s3, "2026-11-25", 2)
	s.invoice(nil, nil, &w.partner, v, "paid", "2026-11-01", "2026-11-30",
		line{service: &w.s3, kind: "recurring", from: ptr("2026-11-01"), to: ptr("2026-11-30"), amount: "80.00"},
		line{kind: "credit", amount: "-5.00", detailJSON: `{"credit": "5.00", "credits": [{"credit_id": "` + uuid.NewString() + `", "amount": "5.00", "service_id": "` + w.s3.String() + `"}]}`})
	s.invoice(&w.partner, &c3, nil, v, "paid", "2026-11-01", "2026-11-30",
		line{service: &w.s3, kind: "recurring", from: ptr("2026-11-01"), to: ptr("2026-11-30"), amount: "100.00"})
	s.usage("t3", "pw_base_storage", "2026-11-05", 20*gib, "bytes")
	s.usage("t3", "pw_base_workstations", "2026-11-05", 1, "quantity")

	// S4: Security, whose group has no card for November: no_card.
	w.s4 = s.service(svc{customer: c4, plan: w.p3, quantity: 1, tenant: "t4", start: ptr("2026-06-01"), activated: "2026-06-01 09:00:00+00"})
	s.invoice(nil, &c4, nil, v, "paid", "2026-11-01", "2026-11-30",
		line{service: &w.s4, kind: "recurring", from: ptr("2026-11-01"), to: ptr("2026-11-30"), amount: "40.00"})
	s.usage("t4", "pw_base_storage", "2026-11-08", 10*gib, "bytes")
	s.usage("t4", "pw_base_workstations", "2026-11-08", 0, "quantity")

	// S5: in its free trial: the vendor does not bill it.
	w.s5 = s.service(svc{customer: c1, plan: w.p1, quantity: 1, tenant: "t5", trial: true, activated: "2026-11-05 09:00:00+00"})
	s.usage("t5", "pw_base_storage", "2026-11-06", 30*gib, "bytes")

	// S6: terminated on 10 Nov: usage after it is not its.
	w.s6 = s.service(svc{customer: c1, plan: w.p1, quantity: 1, tenant: "t6", start: ptr("2026-08-01"), activated: "2026-08-01 09:00:00+00", end: ptr("2026-11-10")})
	s.usage("t6", "pw_base_storage", "2026-11-05", 10*gib, "bytes")
	s.usage("t6", "pw_base_storage", "2026-11-20", 500*gib, "bytes")
	return w
}

func (w *world) admin(t testing.TB) *oapi.ClientWithResponses {
	c, _ := w.env.Admin(t)
	return c
}

func money(a string) oapi.Money { return oapi.Money{Amount: a, Currency: "USD"} }

// want is a row's expected figures.
type want struct {
	typ, name                      string
	id                             *uuid.UUID
	revenue, cost, margin, percent string
	services                       int
	flags                          []oapi.MarginRowFlags
	cards                          []uuid.UUID
	unpriced                       []oapi.MarginUnpriced
	notes                          []string
}

func check(t *testing.T, w want, got oapi.MarginRow) {
	t.Helper()
	require.Equal(t, w.typ, string(got.Group.Type), w.name)
	require.Equal(t, w.name, got.Group.Name)
	require.Equal(t, w.id, got.Group.Id, w.name)
	require.Equal(t, money(w.revenue), got.Revenue, w.name+" revenue")
	require.Equal(t, money(w.cost), got.VendorCost, w.name+" cost")
	require.Equal(t, money(w.margin), got.Margin, w.name+" margin")
	if w.percent == "" {
		require.Nil(t, got.MarginPercent, w.name)
	} else {
		require.NotNil(t, got.MarginPercent, w.name)
		require.Equal(t, w.percent, *got.MarginPercent, w.name+" percent")
	}
	require.Equal(t, w.services, got.Services, w.name+" services")
	if w.flags == nil {
		w.flags = []oapi.MarginRowFlags{}
	}
	require.Equal(t, w.flags, got.Flags, w.name+" flags")
	cards := []uuid.UUID{}
	for _, c := range got.RateCards {
		cards = append(cards, c.RateCardId)
	}
	if w.cards == nil {
		w.cards = []uuid.UUID{}
	}
	require.Equal(t, w.cards, cards, w.name+" cards")
	if w.unpriced == nil {
		w.unpriced = []oapi.MarginUnpriced{}
	}
	require.Equal(t, w.unpriced, got.Unpriced, w.name+" unpriced")
	if w.notes == nil {
		w.notes = []string{}
	}
	require.Equal(t, w.notes, got.Notes, w.name+" notes")
}

var (
	mobiles   = oapi.MarginUnpriced{Item: "pw_base_mobiles", Unit: "quantity", Quantity: "2", Services: 1, Reason: oapi.MarginUnpricedReasonNoRate}
	servers   = oapi.MarginUnpriced{Item: "pw_base_servers", Unit: "quantity", Quantity: "2", Services: 1, Reason: oapi.MarginUnpricedReasonUnitMismatch}
	security  = oapi.MarginUnpriced{Item: "pw_base_storage", Unit: "GB", Quantity: "10", Services: 1, Reason: oapi.MarginUnpricedReasonNoCard}
	unlimited = "pw_base_workstations: quota unlimited on 1 service(s), priced at the usage peak"
)

// TestMarginHandComputed checks every figure of November against the
// sums worked by hand in newWorld (costs in USD = quantity x EUR cost x 1.08):
//
//	S1 111 GB x 0.02 + 5 ws x 1.50          = 2.3976 + 8.10   = 10.4976
//	S2 180 GB x 0.02 + 7 ws x 1.50          = 3.888 + 11.34   = 15.228
//	S3  20 GB x 0.02 + 15 ws x 1.50         = 0.432 + 24.30   = 24.732
//	S6  10 GB x 0.02                        = 0.216
//	revenue S1 97.83, S2 35.00, S3 75.00, S4 40.00, unattributed -2.00
func TestMarginHandComputed(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	c := w.admin(t)
	ctx := context.Background()
	total := want{typ: "total", name: "Total", revenue: "245.83", cost: "50.67", margin: "195.16", percent: "79.39", services: 5,
		flags: []oapi.MarginRowFlags{oapi.MarginRowFlagsNoRate, oapi.MarginRowFlagsNoCard, oapi.MarginRowFlagsUnitMismatch}, cards: []uuid.UUID{w.backupCard},
		unpriced: []oapi.MarginUnpriced{mobiles, servers, security}, notes: []string{unlimited}}
	unattributed := want{typ: "unattributed", name: "Unattributed", revenue: "-2.00", cost: "0.00", margin: "-2.00", percent: "100.00"}
	cases := []struct {
		groupBy *oapi.GetMarginReportParamsGroupBy
		rows    []want
	}{
		{nil, []want{
			{typ: "product_group", name: "Backup", id: &w.backup, revenue: "207.83", cost: "50.67", margin: "157.16", percent: "75.62", services: 4,
				flags: []oapi.MarginRowFlags{oapi.MarginRowFlagsNoRate, oapi.MarginRowFlagsUnitMismatch}, cards: []uuid.UUID{w.backupCard},
				unpriced: []oapi.MarginUnpriced{mobiles, servers}, notes: []string{unlimited}},
			{typ: "product_group", name: "Security", id: &w.security, revenue: "40.00", cost: "0.00", margin: "40.00", percent: "100.00", services: 1,
				flags: []oapi.MarginRowFlags{oapi.MarginRowFlagsNoCard}, unpriced: []oapi.MarginUnpriced{security}},
			unattributed,
		}},
		{ptr(oapi.GetMarginReportParamsGroupByPlan), []want{
			{typ: "plan", name: "Backup PAYG", id: &w.p2, revenue: "35.00", cost: "15.23", margin: "19.77", percent: "56.49", services: 1,
				cards: []uuid.UUID{w.backupCard}, notes: []string{unlimited}},
			// 10.4976 + 24.732 + 0.216 = 35.4456: the rows' costs add up
			// to 50.68, the totals' (from full precision) 50.67.
			{typ: "plan", name: "Backup Pro", id: &w.p1, revenue: "172.83", cost: "35.45", margin: "137.38", percent: "79.49", services: 3,
				flags: []oapi.MarginRowFlags{oapi.MarginRowFlagsNoRate, oapi.MarginRowFlagsUnitMismatch}, cards: []uuid.UUID{w.backupCard},
				unpriced: []oapi.MarginUnpriced{mobiles, servers}},
			{typ: "plan", name: "Security", id: &w.p3, revenue: "40.00", cost: "0.00", margin: "40.00", percent: "100.00", services: 1,
				flags: []oapi.MarginRowFlags{oapi.MarginRowFlagsNoCard}, unpriced: []oapi.MarginUnpriced{security}},
			unattributed,
		}},
		{ptr(oapi.GetMarginReportParamsGroupByPartner), []want{
			{typ: "direct", name: "Direct", revenue: "172.83", cost: "25.94", margin: "146.89", percent: "84.99", services: 4,
				flags: []oapi.MarginRowFlags{oapi.MarginRowFlagsNoRate, oapi.MarginRowFlagsNoCard, oapi.MarginRowFlagsUnitMismatch}, cards: []uuid.UUID{w.backupCard},
				unpriced: []oapi.MarginUnpriced{mobiles, servers, security}, notes: []string{unlimited}},
			{typ: "partner", name: "Reseller", id: &w.partner, revenue: "75.00", cost: "24.73", margin: "50.27", percent: "67.03", services: 1,
				cards: []uuid.UUID{w.backupCard}},
			unattributed,
		}},
	}
	for _, tc := range cases {
		name := "product_group"
		if tc.groupBy != nil {
			name = string(*tc.groupBy)
		}
		t.Run(name, func(t *testing.T) {
			res, err := c.GetMarginReportWithResponse(ctx, &oapi.GetMarginReportParams{Month: 11, Year: 2026, GroupBy: tc.groupBy})
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
			r := res.JSON200
			require.Equal(t, "USD", r.Currency)
			require.Len(t, r.Rows, len(tc.rows))
			for i, wr := range tc.rows {
				check(t, wr, r.Rows[i])
			}
			check(t, total, r.Totals)
			compareFiles(t, c, &oapi.GetMarginReportParams{Month: 11, Year: 2026, GroupBy: tc.groupBy}, r)
		})
	}
}

// compareFiles reads the report as CSV and XLSX and requires the same
// figures as the JSON.
func compareFiles(t *testing.T, c *oapi.ClientWithResponses, p *oapi.GetMarginReportParams, r *oapi.MarginReport) {
	t.Helper()
	ctx := context.Background()
	rows := append(append([]oapi.MarginRow{}, r.Rows...), r.Totals)
	expect := [][]string{margin.Columns}
	var unpriced [][]string
	for _, row := range rows {
		id := ""
		if row.Group.Id != nil {
			id = row.Group.Id.String()
		}
		pct := ""
		if row.MarginPercent != nil {
			pct = *row.MarginPercent
		}
		expect = append(expect, []string{string(row.Group.Type), id, row.Group.Name, row.Revenue.Amount, row.VendorCost.Amount,
			row.Margin.Amount, pct, "USD", strconv.Itoa(row.Services)})
		for _, u := range row.Unpriced {
			unpriced = append(unpriced, []string{string(row.Group.Type), id, row.Group.Name, u.Item, u.Unit, u.Quantity,
				strconv.Itoa(u.Services), string(u.Reason)})
		}
	}

	pc := *p
	pc.Format = ptr(oapi.GetMarginReportParamsFormatCsv)
	res, err := c.GetMarginReportWithResponse(ctx, &pc)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
	require.Equal(t, "text/csv", res.HTTPResponse.Header.Get("Content-Type"))
	require.Contains(t, res.HTTPResponse.Header.Get("Content-Disposition"), "margin-2026-11-")
	require.Contains(t, string(res.Body), "\r\n")
	recs, err := csv.NewReader(bytes.NewReader(res.Body)).ReadAll()
	require.NoError(t, err)
	require.Len(t, recs, len(expect))
	for i, e := range expect {
		require.Equal(t, e, recs[i][:len(e)], "csv row %d", i)
	}

	px := *p
	px.Format = ptr(oapi.GetMarginReportParamsFormatXlsx)
	res, err = c.GetMarginReportWithResponse(ctx, &px)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
	f, err := excelize.OpenReader(bytes.NewReader(res.Body))
	require.NoError(t, err)
	defer func() { _ = f.Close() }()
	got, err := f.GetRows(margin.SheetMargin, excelize.Options{RawCellValue: true})
	require.NoError(t, err)
	require.Len(t, got, len(expect))
	require.Equal(t, expect[0], got[0][:len(expect[0])])
	for i, e := range expect[1:] {
		g := got[i+1]
		require.Equal(t, e[:3], g[:3], "xlsx row %d", i+1)
		for col := 3; col <= 6; col++ { // money and percent: typed numbers
			if e[col] == "" {
				require.True(t, len(g) <= col || g[col] == "", "xlsx row %d col %d", i+1, col)
				continue
			}
			require.Equal(t, e[col], num(t, g[col]), "xlsx row %d col %d", i+1, col)
			typ, err := f.GetCellType(margin.SheetMargin, cellName(col+1, i+2))
			require.NoError(t, err)
			require.NotEqual(t, excelize.CellTypeSharedString, typ)
		}
		require.Equal(t, e[7:], g[7:9], "xlsx row %d", i+1)
	}
	up, err := f.GetRows(margin.SheetUnpriced)
	require.NoError(t, err)
	require.Equal(t, margin.UnpricedColumns, up[0])
	require.Equal(t, unpriced, up[1:])
	panes, err := f.GetPanes(margin.SheetMargin)
	require.NoError(t, err)
	require.True(t, panes.Freeze)
}

func num(t *testing.T, s string) string {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	require.NoError(t, err, s)
	return strconv.FormatFloat(v, 'f', 2, 64)
}

func cellName(col, row int) string {
	n, _ := excelize.CoordinatesToCellName(col, row)
	return n
}

// TestMarginInputsAndRoles: bounds, a month ahead, bad parameters, Accept,
// and who may read it.
func TestMarginInputsAndRoles(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	admin := w.admin(t)
	_, partnerToken := w.env.PartnerUser(t, &w.partner)
	_, customerToken := w.env.CustomerUser(t, nil)
	ctx := context.Background()
	cases := []struct {
		name   string
		token  string
		params oapi.GetMarginReportParams
		status int
		code   string
		field  string
	}{
		{"month 0", "", oapi.GetMarginReportParams{Month: 0, Year: 2026}, 422, "month_out_of_range", "month"},
		{"month 13", "", oapi.GetMarginReportParams{Month: 13, Year: 2026}, 422, "month_out_of_range", "month"},
		{"month -1", "", oapi.GetMarginReportParams{Month: -1, Year: 2026}, 422, "month_out_of_range", "month"},
		{"year 1999", "", oapi.GetMarginReportParams{Month: 12, Year: 1999}, 422, "year_out_of_range", "year"},
		{"next month", "", oapi.GetMarginReportParams{Month: 1, Year: 2027}, 422, "period_in_future", "month"},
		{"far ahead", "", oapi.GetMarginReportParams{Month: 1, Year: 99999}, 422, "period_in_future", "month"},
		{"the current month", "", oapi.GetMarginReportParams{Month: 12, Year: 2026}, 200, "", ""},
		{"a month long ago", "", oapi.GetMarginReportParams{Month: 1, Year: 2000}, 200, "", ""},
		{"bad group_by", "", oapi.GetMarginReportParams{Month: 11, Year: 2026, GroupBy: ptr(oapi.GetMarginReportParamsGroupBy("customer"))}, 400, "", ""},
		{"bad format", "", oapi.GetMarginReportParams{Month: 11, Year: 2026, Format: ptr(oapi.GetMarginReportParamsFormat("pdf"))}, 400, "", ""},
		{"partner", partnerToken, oapi.GetMarginReportParams{Month: 11, Year: 2026}, 403, "", ""},
		{"customer", customerToken, oapi.GetMarginReportParams{Month: 11, Year: 2026}, 403, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := admin
			if tc.token != "" {
				c = w.env.Client(t, tc.token)
			}
			res, err := c.GetMarginReportWithResponse(ctx, &tc.params)
			require.NoError(t, err)
			require.Equal(t, tc.status, res.StatusCode(), string(res.Body))
			if tc.status == 200 {
				require.NotNil(t, res.JSON200)
				return
			}
			if tc.code != "" {
				require.Equal(t, "application/problem+json", res.HTTPResponse.Header.Get("Content-Type"))
				require.NotNil(t, res.ApplicationproblemJSON422, string(res.Body))
				p := res.ApplicationproblemJSON422
				require.Equal(t, tc.code, string(p.Code))
				require.NotNil(t, p.Errors)
				require.Equal(t, tc.field, (*p.Errors)[0].Field)
			}
		})
	}
	t.Run("anonymous", func(t *testing.T) {
		t.Parallel()
		res, err := w.env.Client(t, "").GetMarginReportWithResponse(ctx, &oapi.GetMarginReportParams{Month: 11, Year: 2026})
		require.NoError(t, err)
		require.Equal(t, http.StatusUnauthorized, res.StatusCode())
	})
	t.Run("month missing", func(t *testing.T) {
		t.Parallel()
		res := rawGet(t, w, "year=2026", "")
		require.Equal(t, http.StatusBadRequest, res.StatusCode)
	})
	t.Run("accept", func(t *testing.T) {
		t.Parallel()
		for accept, status := range map[string]int{"application/pdf": 406, "text/csv": 200, ContentTypeXLSX: 200, "*/*": 200} {
			res := rawGet(t, w, "month=11&year=2026", accept)
			require.Equal(t, status, res.StatusCode, accept)
			if status == 200 && accept != "*/*" {
				require.Equal(t, accept, res.Header.Get("Content-Type"))
			}
		}
		// format wins over Accept
		res := rawGet(t, w, "month=11&year=2026&format=json", "text/csv")
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Contains(t, res.Header.Get("Content-Type"), "application/json")
	})
	t.Run("service call by a partner", func(t *testing.T) {
		t.Parallel()
		svc := margin.New(w.env.App.DB.Gorm, func() time.Time { return time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC) }, nil, "USD")
		_, err := svc.Build(ctx, auth.Principal{Role: auth.RolePartner, PartnerID: &w.partner}, margin.Params{Year: 2026, Month: 11})
		require.Error(t, err)
		require.Contains(t, err.Error(), "admin")
	})
}

const ContentTypeXLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

func rawGet(t *testing.T, w *world, q, accept string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, w.env.Server.URL+"/v1/reports/margin?"+q, nil)
	require.NoError(t, err)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	req.Header.Set("Authorization", "Bearer "+w.adminToken(t))
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { _ = res.Body.Close() })
	return res
}

func (w *world) adminToken(t testing.TB) string {
	return w.env.Login(t, w.env.NewUser(t, auth.RoleAdmin, nil, nil))
}
