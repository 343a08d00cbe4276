package usagereport_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	openapi_types "github.com/oapi-codegen/runtime/types"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/app/apptest"
	"github.com/acronis-platform/platform/internal/auth"
	"github.com/acronis-platform/platform/internal/billing"
	"github.com/acronis-platform/platform/internal/catalog"
	"github.com/acronis-platform/platform/internal/customer"
	"github.com/acronis-platform/platform/internal/postgres/pgtest"
	"github.com/acronis-platform/platform/internal/subscription"
	"github.com/acronis-platform/platform/internal/usagereport"
	"github.com/acronis-platform/platform/internal/user"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const gib = int64(1) << 30

// mediaXLSX is the media type of a workbook.
const mediaXLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

var admin = auth.Principal{Role: auth.RoleAdmin, Kind: auth.KindUser, Subject: "test"}

func day(s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return d
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// world is a platform on a database of its own (its billing run sees only
// its services) with one post-paid service billed for November 2026.
type world struct {
	env        *apptest.Env
	plan       catalog.Plan
	service    uuid.UUID
	customer   uuid.UUID
	overageInv string // billed at the quantity change
	monthInv   string // November's bill
}

// setup is a platform on a database of its own (a billing run sees only
// its services) at a time, with a post-paid pay-as-you-go plan at 10.00 a
// month per unit, workstations metered at 2.00 (max of the month; 5 per
// unit) and 100 GB of storage per unit (hard: 10 GB more per unit) at 0.10
// a GB over, and a customer of the SP.
func setup(t testing.TB, at time.Time) *world {
	t.Helper()
	cfg := apptest.Config(t)
	cfg.DatabaseURL = pgtest.NewDatabase(t, true)
	env := apptest.Start(t, cfg)
	env.Clock.Set(at)
	ctx := context.Background()
	db := env.App.DB.Gorm
	c := env.App.Catalog
	v, err := c.CreateVenture(ctx, "Acme", "ACME")
	require.NoError(t, err)
	vat, err := c.CreateTax(ctx, "VAT", "21")
	require.NoError(t, err)
	pt, err := c.CreateProductType(ctx, "Backup")
	require.NoError(t, err)
	p, err := c.CreateProduct(ctx, pt.ID, "Cyber Protect")
	require.NoError(t, err)
	name, module, taxes := "Group", catalog.ModuleNone, []uuid.UUID{vat.ID}
	g, err := c.CreateProductGroup(ctx, catalog.GroupInput{ProductID: &p.ID, Name: &name, Module: &module, TaxIDs: &taxes})
	require.NoError(t, err)
	planName, visible := "Backup 100 GB", true
	plan, err := c.CreatePlan(ctx, catalog.PlanInput{VentureID: &v.ID, ProductTypeID: &pt.ID, ProductID: &p.ID,
		ProductGroupID: &g.ID, Name: &planName, PartnerVisible: &visible})
	require.NoError(t, err)
	require.NoError(t, db.Exec(`INSERT INTO plan_module_settings (plan_id, datacenter_url, client_id, client_secret_enc,
		free_trial, storage_quota_gb, overage_quota_gb, edition, backup_location, offering_items, updated_at)
		VALUES (?, 'https://dc.example', 'client', '\x00', false, 100, 10, 'pck_per_workload', 'loc',
		'{"common": {"pw_base_workstations": 5}}', now())`, plan.ID).Error)
	over := dec("0.10")
	_, err = c.SetPricing(ctx, plan.ID, catalog.Pricing{BillingModel: catalog.PostpaidPAYG, OveragePricePerGB: &over,
		Cycles:         []catalog.Cycle{{Frequency: "monthly", Price: dec("10.00"), SetupFee: dec("0.00")}},
		MeteredCharges: []catalog.MeteredCharge{{OfferingItem: "pw_base_workstations", UnitPrice: dec("2.00"), Aggregation: billing.AggMax}}})
	require.NoError(t, err)
	cust, err := env.App.Customers.Create(ctx, admin, customer.CreateInput{Name: "Contoso", Email: uuid.NewString() + "@example.com"})
	require.NoError(t, err)

	return &world{env: env, plan: plan, customer: cust.ID}
}

// newWorld is setup with a service of the SP's customer at quantity 2
// from 1 Nov 2026, raised to 3 on 15 Nov (which bills the overage of 1-14
// Nov by the old quota), then November's bill on 1 Dec.
func newWorld(t *testing.T) *world {
	t.Helper()
	w := setup(t, time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC))
	env, db, ctx := w.env, w.env.App.DB.Gorm, context.Background()
	w.service = w.newService(t, w.customer, nil, "t-report", "2026-11-01")
	storage := func(d string, bytes int64) { w.usage(t, "t-report", "pw_base_storage", d, bytes, "bytes") }
	stations := func(d string, n int64) { w.usage(t, "t-report", "pw_base_workstations", d, n, "quantity") }
	storage("2026-11-03", 150*gib)
	storage("2026-11-10", 212*gib+1) // 213 GB: 13 over 2 x 100
	stations("2026-11-03", 4)

	// 2 -> 3 on 15 Nov: 1-14 Nov billed for overage by the old quota.
	env.Clock.Set(time.Date(2026, 11, 15, 10, 0, 0, 0, time.UTC))
	var invs []billing.Invoice
	require.NoError(t, db.Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec("UPDATE services SET quantity = 3 WHERE id = ?", w.service).Error; err != nil {
			return err
		}
		var err error
		invs, _, err = env.App.Billing.AdjustQuantityTx(ctx, tx, w.service, 2)
		return err
	}))
	require.Len(t, invs, 1)
	require.Equal(t, "1.30", invs[0].Total.Sub(invs[0].TaxTotal).StringFixed(2)) // 13 x 0.10
	w.overageInv = *invs[0].Number

	storage("2026-11-20", 305*gib) // 5 over 3 x 100
	storage("2026-11-25", 280*gib)
	stations("2026-11-20", 6)
	stations("2026-11-25", 5)

	env.Clock.Set(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
	run, err := env.App.Billing.RunNow(ctx, "test", billing.RunPostpaid, day("2026-12-01"))
	require.NoError(t, err)
	require.Equal(t, 1, run.Invoices, "%s", run.Failures)
	var monthID uuid.UUID
	require.NoError(t, db.Raw("SELECT id FROM invoices WHERE kind = 'postpaid'").Row().Scan(&monthID))
	month, err := env.App.Billing.Get(ctx, admin, monthID)
	require.NoError(t, err)
	w.monthInv = *month.Number
	// 10 x 2 x 14/30 = 9.33, 10 x 3 x 16/30 = 16.00, 6 x 2.00 = 12.00, 5 GB x 0.10 = 0.50
	var amounts []string
	for _, l := range month.Lines {
		amounts = append(amounts, l.Kind+" "+l.Amount.StringFixed(2))
	}
	require.ElementsMatch(t, []string{"proration 9.33", "proration 16.00", "usage 12.00", "overage 0.50"}, amounts)
	return w
}

func (w *world) newService(t testing.TB, cust uuid.UUID, partner *uuid.UUID, tenant, from string) uuid.UUID {
	t.Helper()
	now := w.env.Clock.Now()
	start, item := day(from), "pw_base_storage"
	anchor := start.Day()
	v := subscription.Subscription{ID: uuid.New(), CustomerID: cust, PartnerID: partner, PlanID: w.plan.ID, Frequency: "monthly",
		Quantity: 2, Username: "u-" + uuid.NewString()[:8], Status: subscription.StatusActive, UnitPrice: dec("10.00"),
		SetupFee: dec("0.00"), StartDate: &start, AnchorDay: &anchor, VendorTenantID: &tenant, StorageItem: &item,
		Version: 1, CreatedAt: now, UpdatedAt: now, ActivatedAt: &now}
	if partner != nil {
		cost := dec("8.00")
		v.UnitCost, v.SetupFeeCost = &cost, &cost
	}
	require.NoError(t, w.env.App.DB.Gorm.Create(&v).Error)
	return v.ID
}

func (w *world) usage(t testing.TB, tenant, item, d string, value int64, unit string) {
	t.Helper()
	require.NoError(t, w.env.App.DB.Gorm.Exec(`INSERT INTO usage_daily (tenant_id, item, day, value, unit, synced_at)
		VALUES (?, ?, ?, ?, ?, now())`, tenant, item, day(d), value, unit).Error)
}

func date(s string) *openapi_types.Date { return &openapi_types.Date{Time: day(s)} }

func ptr[T any](v T) *T { return &v }

// table is a report as rows of text under the CSV header, whatever the
// format it came in.
type table [][]string

func fromCSV(t *testing.T, body []byte) table {
	t.Helper()
	require.True(t, bytes.Contains(body, []byte("\r\n")), "CRLF line ends")
	rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	require.NoError(t, err)
	return rows
}

func intText(v *int64) string {
	if v == nil {
		return ""
	}
	return strconv.FormatInt(*v, 10)
}

func str(v *string) string {
	if v == nil {
		return ""
	}
	return *v
}

func fromJSON(r *oapi.UsageReport) table {
	if r.Kind == oapi.UsageReportKindDaily {
		out := table{usagereport.DailyColumns}
		for _, d := range *r.Daily {
			out = append(out, []string{d.Day.Format(time.DateOnly), d.Item, str(d.Unit), intText(d.Value), strconv.Itoa(d.Quantity),
				intText(d.SoftQuota), intText(d.HardQuota), strconv.FormatInt(d.OverageGb, 10)})
		}
		return out
	}
	out := table{usagereport.SummaryColumns}
	for _, s := range *r.Summary {
		agg := ""
		if s.Aggregation != nil {
			agg = string(*s.Aggregation)
		}
		out = append(out, []string{string(s.Type), s.Item, str(s.Unit), agg, str(s.Usage), strconv.Itoa(s.QuantityMin), strconv.Itoa(s.QuantityMax),
			intText(s.SoftQuotaMin), intText(s.SoftQuotaMax), intText(s.HardQuotaMin), intText(s.HardQuotaMax),
			strconv.FormatInt(s.OverageGb, 10), s.Amount.Amount, s.Amount.Currency, strings.Join(s.Invoices, " ")})
	}
	return out
}

// fromXLSX reads the kind's sheet as displayed (dates and money by their
// formats) and checks how its cells are typed and the sheet is laid out.
func fromXLSX(t *testing.T, body []byte, kind string) table {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(body))
	require.NoError(t, err)
	defer func() { _ = f.Close() }()
	sheet := usagereport.SheetSummary
	cols := usagereport.SummaryColumns
	if kind == usagereport.KindDaily {
		sheet, cols = usagereport.SheetDaily, usagereport.DailyColumns
	}
	// Both kinds, the one asked for first.
	list := f.GetSheetList()
	require.Len(t, list, 2)
	require.Contains(t, list, sheet)
	panes, err := f.GetPanes(sheet)
	require.NoError(t, err)
	require.True(t, panes.Freeze, "header frozen")
	require.Equal(t, 1, panes.YSplit)
	rows, err := f.GetRows(sheet)
	require.NoError(t, err)
	for i := range rows {
		for len(rows[i]) < len(cols) {
			rows[i] = append(rows[i], "")
		}
	}
	// Typed cells: numbers are numbers; dates and money carry their formats.
	styleOf := func(cell string) string {
		id, err := f.GetCellStyle(sheet, cell)
		require.NoError(t, err)
		st, err := f.GetStyle(id)
		require.NoError(t, err)
		if st.CustomNumFmt == nil {
			return ""
		}
		return *st.CustomNumFmt
	}
	raw := func(cell string) string {
		v, err := f.GetCellValue(sheet, cell, excelize.Options{RawCellValue: true})
		require.NoError(t, err)
		return v
	}
	numeric := func(cell string) {
		typ, err := f.GetCellType(sheet, cell)
		require.NoError(t, err)
		require.NotEqual(t, excelize.CellTypeSharedString, typ, cell)
		require.NotEqual(t, excelize.CellTypeInlineString, typ, cell)
		_, err = strconv.ParseFloat(raw(cell), 64)
		require.NoError(t, err, cell)
	}
	if kind == usagereport.KindDaily {
		require.Equal(t, "yyyy-mm-dd", styleOf("A2"))
		numeric("A2") // a date is a serial number
		numeric("E2") // quantity
		charts := map[string]string{}
		f.Pkg.Range(func(k, v any) bool {
			if name := k.(string); strings.HasPrefix(name, "xl/charts/chart") {
				charts[name] = string(v.([]byte))
			}
			return true
		})
		require.Len(t, charts, 1, "the storage chart")
		for _, xml := range charts {
			// Storage (the first item by name) per day against its soft and hard quota.
			for _, ref := range []string{"!$A$2:$A$31", "!$D$2:$D$31", "!$F$2:$F$31", "!$G$2:$G$31", "!$D$1", "!$F$1", "!$G$1"} {
				require.Contains(t, xml, ref)
			}
			require.Contains(t, xml, "lineChart>")
		}
	} else {
		require.Equal(t, "0.00", styleOf("M2"))
		numeric("M2") // amount
		numeric("F2") // quantity
	}
	return rows
}

// fetch reads a report in a format: ?format= or Accept.
func fetch(t *testing.T, c *oapi.ClientWithResponses, id uuid.UUID, p oapi.GetServiceUsageReportParams, accept string) *oapi.GetServiceUsageReportResponse {
	t.Helper()
	var eds []oapi.RequestEditorFn
	if accept != "" {
		eds = append(eds, func(_ context.Context, r *http.Request) error {
			r.Header.Set("Accept", accept)
			return nil
		})
	}
	res, err := c.GetServiceUsageReportWithResponse(context.Background(), id, &p, eds...)
	require.NoError(t, err)
	return res
}

func TestUsageReport(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	adminC, _ := w.env.Admin(t)

	t.Run("summary in three formats, to the cent", func(t *testing.T) {
		t.Parallel()
		p := oapi.GetServiceUsageReportParams{From: date("2026-11-01"), To: date("2026-11-30")}
		js := fetch(t, adminC, w.service, p, "")
		require.Equal(t, http.StatusOK, js.StatusCode(), string(js.Body))
		require.NotNil(t, js.JSON200)
		p.Format = ptr(oapi.GetServiceUsageReportParamsFormatCsv)
		cs := fetch(t, adminC, w.service, p, "")
		require.Equal(t, http.StatusOK, cs.StatusCode(), string(cs.Body))
		require.Equal(t, "text/csv", cs.HTTPResponse.Header.Get("Content-Type"))
		require.Contains(t, cs.HTTPResponse.Header.Get("Content-Disposition"), `attachment; filename=usage-`+w.service.String()+`-summary-2026-11-01-2026-11-30.csv`)
		xs := fetch(t, adminC, w.service, oapi.GetServiceUsageReportParams{From: p.From, To: p.To}, mediaXLSX)
		require.Equal(t, http.StatusOK, xs.StatusCode(), string(xs.Body))
		require.Equal(t, mediaXLSX, xs.HTTPResponse.Header.Get("Content-Type"))

		want := table{
			usagereport.SummaryColumns,
			// 9.33 + 16.00 at 2 then 3 units
			{"plan", "Backup 100 GB", "", "", "", "2", "3", "", "", "", "", "0", "25.33", "USD", w.monthInv},
			// peak 305 GB; 13 GB over on 10 Nov (2 x 100) is the most; 1.30 at the change + 0.50 in the month
			{"item", "pw_base_storage", "GB", "max", "305", "2", "3", "200", "300", "220", "330", "13", "1.80", "USD", w.overageInv + " " + w.monthInv},
			// max 6 x 2.00; 5 per unit
			{"item", "pw_base_workstations", "quantity", "max", "6", "2", "3", "10", "15", "", "", "0", "12.00", "USD", w.monthInv},
		}
		require.Equal(t, want, fromJSON(js.JSON200))
		require.Equal(t, want, fromCSV(t, cs.Body))
		require.Equal(t, want, fromXLSX(t, xs.Body, usagereport.KindSummary))
	})

	t.Run("daily in three formats", func(t *testing.T) {
		t.Parallel()
		p := oapi.GetServiceUsageReportParams{Kind: ptr(oapi.GetServiceUsageReportParamsKindDaily), From: date("2026-11-01"), To: date("2026-11-30")}
		js := fetch(t, adminC, w.service, p, "application/json")
		require.Equal(t, http.StatusOK, js.StatusCode(), string(js.Body))
		cs := fetch(t, adminC, w.service, p, "text/csv")
		require.Equal(t, http.StatusOK, cs.StatusCode(), string(cs.Body))
		p.Format = ptr(oapi.GetServiceUsageReportParamsFormatXlsx)
		xs := fetch(t, adminC, w.service, p, "")
		require.Equal(t, http.StatusOK, xs.StatusCode(), string(xs.Body))

		got := fromJSON(js.JSON200)
		require.Len(t, got, 1+2*30, "a row per item and day")
		require.Equal(t, got, fromCSV(t, cs.Body))
		require.Equal(t, got, fromXLSX(t, xs.Body, usagereport.KindDaily))
		f, err := excelize.OpenReader(bytes.NewReader(xs.Body))
		require.NoError(t, err)
		require.Equal(t, []string{usagereport.SheetDaily, usagereport.SheetSummary}, f.GetSheetList())
		require.NoError(t, f.Close())
		// The summary sheet of a daily workbook is the summary report.
		sp := oapi.GetServiceUsageReportParams{From: p.From, To: p.To}
		sj := fetch(t, adminC, w.service, sp, "application/json")
		require.Equal(t, http.StatusOK, sj.StatusCode(), string(sj.Body))
		require.Equal(t, fromJSON(sj.JSON200), fromXLSX(t, xs.Body, usagereport.KindSummary))
		byKey := map[string][]string{}
		for _, r := range got[1:] {
			byKey[r[1]+" "+r[0]] = r
		}
		require.Equal(t, []string{"2026-11-10", "pw_base_storage", "GB", "213", "2", "200", "220", "13"}, byKey["pw_base_storage 2026-11-10"])
		require.Equal(t, []string{"2026-11-14", "pw_base_storage", "GB", "", "2", "200", "220", "0"}, byKey["pw_base_storage 2026-11-14"])
		require.Equal(t, []string{"2026-11-15", "pw_base_storage", "GB", "", "3", "300", "330", "0"}, byKey["pw_base_storage 2026-11-15"])
		require.Equal(t, []string{"2026-11-20", "pw_base_storage", "GB", "305", "3", "300", "330", "5"}, byKey["pw_base_storage 2026-11-20"])
		require.Equal(t, []string{"2026-11-20", "pw_base_workstations", "quantity", "6", "3", "15", "", "0"}, byKey["pw_base_workstations 2026-11-20"])
	})

	t.Run("defaults: the current month so far", func(t *testing.T) {
		t.Parallel()
		res := fetch(t, adminC, w.service, oapi.GetServiceUsageReportParams{}, "")
		require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
		r := res.JSON200
		require.Equal(t, oapi.UsageReportKindSummary, r.Kind)
		require.Equal(t, "2026-12-01", r.From.Format(time.DateOnly))
		require.Equal(t, "2026-12-01", r.To.Format(time.DateOnly))
		require.Nil(t, r.Daily)
	})

	t.Run("format wins over Accept", func(t *testing.T) {
		t.Parallel()
		res := fetch(t, adminC, w.service, oapi.GetServiceUsageReportParams{Format: ptr(oapi.GetServiceUsageReportParamsFormatCsv)}, "application/json")
		require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
		require.Equal(t, "text/csv", res.HTTPResponse.Header.Get("Content-Type"))
		require.Equal(t, strings.Join(usagereport.SummaryColumns, ","), strings.SplitN(string(res.Body), "\r\n", 2)[0])
	})

	t.Run("366 days is the longest period", func(t *testing.T) {
		t.Parallel()
		res := fetch(t, adminC, w.service, oapi.GetServiceUsageReportParams{From: date("2025-11-30"), To: date("2026-11-30"),
			Kind: ptr(oapi.GetServiceUsageReportParamsKindDaily)}, "")
		require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
		require.Len(t, *res.JSON200.Daily, 2*366)
	})

	t.Run("bad input", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name   string
			query  string
			accept string
			status int
			code   string
			field  string
		}{
			{"to before from", "from=2026-11-10&to=2026-11-09", "", 422, "invalid_period", "to"},
			{"to in the future", "from=2026-11-10&to=2026-12-02", "", 422, "period_in_future", "to"},
			{"more than 366 days", "from=2025-11-29&to=2026-11-30", "", 422, "period_too_long", "to"},
			{"from alone after today", "from=2026-12-02", "", 422, "invalid_period", "to"},
			{"unknown kind", "kind=weekly", "", 400, "validation_failed", "kind"},
			{"unknown format", "format=pdf", "", 400, "validation_failed", "format"},
			{"not a date", "from=2026-13-01", "", 400, "validation_failed", "from"},
			{"nothing acceptable", "", "application/pdf", 406, "not_acceptable", "Accept"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				req, err := http.NewRequest(http.MethodGet, w.env.Server.URL+"/v1/services/"+w.service.String()+"/usage-report?"+tc.query, nil)
				require.NoError(t, err)
				req.Header.Set("Authorization", "Bearer "+w.env.Login(t, w.adminUser(t)))
				if tc.accept != "" {
					req.Header.Set("Accept", tc.accept)
				}
				res, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				defer func() { _ = res.Body.Close() }()
				p := problem(t, res)
				require.Equal(t, tc.status, res.StatusCode, "%+v", p)
				require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))
				require.Equal(t, tc.code, p.Code)
				require.NotNil(t, p.Errors)
				var fields []string
				for _, e := range *p.Errors {
					fields = append(fields, e.Field)
				}
				require.Contains(t, fields, tc.field)
			})
		}
	})

	t.Run("who may read it", func(t *testing.T) {
		t.Parallel()
		env := w.env
		partner := env.NewPartner(t)
		theirs := env.NewCustomer(t, &partner)
		sold := w.newService(t, theirs, &partner, "t-partner-sale", "2026-11-01")
		_, partnerTok := env.PartnerUser(t, &partner)
		_, otherPartnerTok := env.PartnerUser(t, nil)
		_, ownerTok := env.CustomerUser(t, &theirs)
		_, otherCustomerTok := env.CustomerUser(t, nil)
		_, directTok := env.CustomerUser(t, &w.customer)
		tests := []struct {
			name    string
			token   string
			service uuid.UUID
			status  int
		}{
			{"admin", env.Login(t, w.adminUser(t)), sold, 200},
			{"its partner", partnerTok, sold, 200},
			{"its customer", ownerTok, sold, 200},
			{"the SP's customer, its own", directTok, w.service, 200},
			{"another partner", otherPartnerTok, sold, 404},
			{"another customer", otherCustomerTok, sold, 404},
			{"the partner, for the SP's customer", partnerTok, w.service, 404},
			{"a customer of the partner, another's service", ownerTok, w.service, 404},
			{"no one", "", sold, 401},
			{"no such service", env.Login(t, w.adminUser(t)), uuid.New(), 404},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				c := env.Client(t, tc.token)
				for _, f := range []oapi.GetServiceUsageReportParamsFormat{oapi.GetServiceUsageReportParamsFormatJson, oapi.GetServiceUsageReportParamsFormatCsv, oapi.GetServiceUsageReportParamsFormatXlsx} {
					res := fetch(t, c, tc.service, oapi.GetServiceUsageReportParams{Format: ptr(f)}, "")
					require.Equal(t, tc.status, res.StatusCode(), "%s: %s", f, res.Body)
					if tc.status == 404 {
						require.Equal(t, "not_found", res.ApplicationproblemJSON404.Code)
					}
				}
			})
		}
	})
}

func (w *world) adminUser(t *testing.T) user.User {
	t.Helper()
	return w.env.NewUser(t, auth.RoleAdmin, nil, nil)
}

func problem(t *testing.T, res *http.Response) oapi.Problem {
	t.Helper()
	var p oapi.Problem
	require.NoError(t, json.NewDecoder(res.Body).Decode(&p))
	return p
}
