package billing_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/billing"
	"github.com/acronis-platform/platform/internal/catalog"
	"github.com/acronis-platform/platform/internal/money"
)

func (b *book) pay(t *testing.T, inv billing.Invoice) {
	t.Helper()
	_, _, err := b.env.App.Billing.Pay(context.Background(), admin, inv.ID, billing.PaymentInput{
		Amount: money.Input{Amount: money.String(inv.Balance()), Currency: "USD"}, Method: "card"})
	require.NoError(t, err)
}

func (b *book) dueDate(t *testing.T, id uuid.UUID) string {
	t.Helper()
	v, err := b.env.App.Services.Get(context.Background(), admin, id)
	require.NoError(t, err)
	return v.NextDueDate.Format(time.DateOnly)
}

func (b *book) renewals(t *testing.T, asOf string) billing.Run {
	t.Helper()
	b.env.Clock.Set(date(asOf).Add(12 * time.Hour))
	run, err := b.env.App.Billing.RunNow(context.Background(), "test", billing.RunRenewals, date(asOf))
	require.NoError(t, err)
	require.JSONEq(t, "[]", string(run.Failures))
	return run
}

func (b *book) creditLeft(t *testing.T, where string, args ...any) string {
	t.Helper()
	var left string
	require.NoError(t, b.env.App.DB.Gorm.Raw("SELECT coalesce(sum(remaining), 0)::numeric(14,2)::text FROM credits WHERE "+where, args...).Scan(&left).Error)
	return left
}

// A renewal that credit pays in full is born paid and moves the due date
// on like a payment; once the credit is used up the renewal is owed again.
// Month ends in a leap year: 31 Jan, 29 Feb, 31 Mar, 30 Apr.
func TestRenewalSettledByCreditMovesTheServiceOn(t *testing.T) {
	t.Parallel()
	b := newBook(t, "2028-01-31T09:00:00Z", "")
	p := b.plan(t, catalog.Prepaid, cycles("monthly", "10.00", "0.00"), false)
	id := b.service(t, svc{plan: p, customer: b.customer(t, nil), frequency: "monthly", quantity: 3, unit: "10.00", fee: "0.00"})
	firstInvoice(t, b, id)
	b.pay(t, b.invoices(t, "kind = 'prepaid'")[0])
	require.Equal(t, "2028-02-29", b.dueDate(t, id))

	// 3 -> 1 on the first day: 10.00 x 2 x 29 of 29 days = 20.00 of credit.
	_, credits := b.changeQuantity(t, id, "2028-01-31T15:00:00Z", 1)
	require.Len(t, credits, 1)
	require.Equal(t, "20.00", money.String(credits[0].Amount))

	zero := want{lines: []line{{"recurring", "1", "10.00", "10.00"}, {"credit", "1", "-10.00", "-10.00"}},
		taxes: map[string]string{"VAT": "0.00", "City": "0.00"}, subtotal: "0.00", taxTotal: "0.00", total: "0.00"}
	require.Equal(t, 1, b.renewals(t, "2028-02-22").Invoices)
	feb := b.invoices(t, "kind = 'renewal' AND period_start = ?", date("2028-02-29"))
	require.Len(t, feb, 1)
	requireInvoice(t, feb[0], zero)
	require.Equal(t, billing.StatusPaid, feb[0].Status)
	require.Equal(t, "2028-03-31", b.dueDate(t, id), "settled by credit, the period is paid")

	require.Equal(t, 1, b.renewals(t, "2028-03-24").Invoices)
	mar := b.invoices(t, "kind = 'renewal' AND period_start = ?", date("2028-03-31"))
	require.Len(t, mar, 1)
	requireInvoice(t, mar[0], zero)
	require.Equal(t, "2028-04-30", b.dueDate(t, id))
	require.Equal(t, "0.00", b.creditLeft(t, "service_id = ?", id))

	require.Equal(t, 1, b.renewals(t, "2028-04-23").Invoices)
	apr := b.invoices(t, "kind = 'renewal' AND period_start = ?", date("2028-04-30"))
	require.Len(t, apr, 1)
	// 10.00; VAT 2.10; City 0.25
	requireInvoice(t, apr[0], want{lines: []line{{"recurring", "1", "10.00", "10.00"}},
		taxes: map[string]string{"VAT": "2.10", "City": "0.25"}, subtotal: "10.00", taxTotal: "2.35", total: "12.35"})
	require.Equal(t, billing.StatusUnpaid, apr[0].Status)
	require.Equal(t, "2028-04-30", b.dueDate(t, id), "owed until paid")
	b.pay(t, apr[0])
	require.Equal(t, "2028-05-31", b.dueDate(t, id))
}

// Plan and term changes report the credit they keep.
func TestChangesReportTheirCredit(t *testing.T) {
	t.Parallel()
	b := newBook(t, "2027-02-28T09:00:00Z", "")
	ctx := context.Background()
	basic := b.plan(t, catalog.Prepaid, []catalog.Cycle{{Frequency: "monthly", Price: dec("10.00"), SetupFee: dec("0.00")},
		{Frequency: "quarterly", Price: dec("3.00"), SetupFee: dec("0.00")}}, false)
	lite := b.plan(t, catalog.Prepaid, cycles("monthly", "4.00", "0.00"), false)
	cust := b.customer(t, nil)
	planned := b.service(t, svc{plan: basic, customer: cust, frequency: "monthly", quantity: 1, unit: "10.00", fee: "0.00"})
	termed := b.service(t, svc{plan: basic, customer: cust, frequency: "monthly", quantity: 1, unit: "10.00", fee: "0.00"})
	firstInvoice(t, b, planned)
	firstInvoice(t, b, termed)

	// 28 Feb to 27 Mar is 28 days; on 14 Mar 14 are left: 10.00 x 14/28 = 5.00 unused,
	// 4.00 x 14/28 = 2.00 charged, 3.00 kept.
	b.env.Clock.Set(mustTime(t, "2027-03-14T10:00:00Z"))
	down, err := b.env.App.Services.ChangePlan(ctx, admin, planned, lite.ID, nil, b.env.App.Billing)
	require.NoError(t, err)
	require.Len(t, down.Credits, 1)
	require.Equal(t, billing.PartyCustomer, down.Credits[0].Party)
	require.Equal(t, "3.00", money.String(down.Credits[0].Amount))
	require.Equal(t, "3.00", b.creditLeft(t, "service_id = ?", planned))

	// Monthly to quarterly at 3.00: 5.00 unused, 3.00 of it pays the new term, 2.00 kept.
	term, err := b.env.App.Services.ChangeTerm(ctx, admin, termed, "quarterly", nil, b.env.App.Billing)
	require.NoError(t, err)
	require.Len(t, term.Credits, 1)
	require.Equal(t, "2.00", money.String(term.Credits[0].Amount))
	require.Equal(t, "2.00", b.creditLeft(t, "service_id = ?", termed))
	require.Len(t, term.Invoices, 1)
	require.Equal(t, "0.00", money.String(term.Invoices[0].Total))
}

// Credit is the customer's with the issuer: it outlives its service, is
// shown per issuer, pays the customer's next bill from that issuer
// whatever the service, and a void gives it back.
func TestCreditBelongsToTheCustomerAndIssuer(t *testing.T) {
	t.Parallel()
	b := newBook(t, "2027-03-31T09:00:00Z", "")
	ctx := context.Background()
	p := b.plan(t, catalog.Prepaid, cycles("monthly", "10.00", "0.00"), false)
	other, err := b.env.App.Catalog.CreateVenture(ctx, "Other", "OTHR")
	require.NoError(t, err)
	p2 := b.plan(t, catalog.Prepaid, cycles("monthly", "10.00", "0.00"), false)
	_, err = b.env.App.Catalog.UpdatePlan(ctx, p2.ID, catalog.PlanInput{VentureID: &other.ID}, nil)
	require.NoError(t, err)
	cust := b.customer(t, nil)
	gone := b.service(t, svc{plan: p, customer: cust, frequency: "monthly", quantity: 2, unit: "10.00", fee: "0.00"})
	firstInvoice(t, b, gone)
	// 2 -> 1 on 14 Apr, 16 of 30 days left (31 Mar to 29 Apr): 10.00 x 16/30 = 5.33.
	_, credits := b.changeQuantity(t, gone, "2027-04-14T10:00:00Z", 1)
	require.Len(t, credits, 1)
	require.Equal(t, "5.33", money.String(credits[0].Amount))
	require.NoError(t, b.env.App.DB.Gorm.Exec("UPDATE services SET status = 'terminated', end_date = ? WHERE id = ?", date("2027-04-14"), gone).Error)

	bal, err := b.env.App.Billing.CustomerCredit(ctx, cust)
	require.NoError(t, err)
	require.Len(t, bal, 1)
	require.Equal(t, b.venture, *bal[0].VentureID)
	require.Nil(t, bal[0].IssuerPartnerID)
	require.Equal(t, "5.33", money.String(bal[0].Amount))

	// Another venture's bill does not take it.
	elsewhere := b.service(t, svc{plan: p2, customer: cust, frequency: "monthly", quantity: 1, unit: "10.00", fee: "0.00"})
	firstInvoice(t, b, elsewhere)
	require.Len(t, b.invoices(t, "kind = 'prepaid' AND venture_id = ?", other.ID)[0].Lines, 1)
	require.Equal(t, "5.33", b.creditLeft(t, "customer_id = ?", cust))

	// The same issuer's bill for another service does: 10.00 - 5.33 = 4.67; VAT 0.9807 -> 0.98; City 0.11675 -> 0.12.
	next := b.service(t, svc{plan: p, customer: cust, frequency: "monthly", quantity: 1, unit: "10.00", fee: "0.00"})
	firstInvoice(t, b, next)
	got := b.invoices(t, "kind = 'prepaid' AND venture_id = ? AND issue_date = ?", b.venture, date("2027-04-14"))
	require.Len(t, got, 1)
	requireInvoice(t, got[0], want{lines: []line{{"recurring", "1", "10.00", "10.00"}, {"credit", "1", "-5.33", "-5.33"}},
		taxes: map[string]string{"VAT": "0.98", "City": "0.12"}, subtotal: "4.67", taxTotal: "1.10", total: "5.77"})
	require.Equal(t, gone.String(), detailOf(t, got[0].Lines[1])["credits"].([]any)[0].(map[string]any)["service_id"])
	require.Equal(t, "0.00", b.creditLeft(t, "customer_id = ?", cust))
	bal, err = b.env.App.Billing.CustomerCredit(ctx, cust)
	require.NoError(t, err)
	require.Empty(t, bal)

	// Voided, the bill gives its credit back.
	_, err = b.env.App.Billing.Void(ctx, admin, got[0].ID, nil)
	require.NoError(t, err)
	require.Equal(t, "5.33", b.creditLeft(t, "customer_id = ?", cust))
}

// Overage billed on request is not billed again by the month's post-paid
// bill: every path reads and claims the same window per party, and the
// database refuses two windows sharing a day.
func TestOverageWindowIsSharedByEveryPath(t *testing.T) {
	t.Parallel()
	const gib = int64(1) << 30
	b := newBook(t, "2028-02-01T09:00:00Z", "")
	ctx := context.Background()
	p := b.plan(t, catalog.PostpaidFixed, cycles("monthly", "29.00", "0.00"), false)
	b.withStorage(t, p, 100, "0.10")
	id := b.service(t, svc{plan: p, customer: b.customer(t, nil), frequency: "monthly", quantity: 1, unit: "29.00", fee: "0.00",
		start: "2028-02-01", tenant: "t-month"})
	require.NoError(t, b.env.App.DB.Gorm.Exec("UPDATE services SET storage_item = 'pw_base_storage' WHERE id = ?", id).Error)
	b.storage(t, "t-month", "2028-02-05", 113*gib)   // 13 GB over
	b.storage(t, "t-month", "2028-02-20", 105*gib+1) // 6 GB over, after the request

	b.env.Clock.Set(mustTime(t, "2028-02-14T10:00:00Z"))
	made, err := b.env.App.Billing.BillOverage(ctx, admin, id, false)
	require.NoError(t, err)
	require.Len(t, made, 1)
	// 13 x 0.10 = 1.30 for 1-14 Feb
	requireInvoice(t, b.invoices(t, "kind = 'overage'")[0], want{lines: []line{{"overage", "13", "0.10", "1.30"}},
		taxes: map[string]string{"VAT": "0.27", "City": "0.03"}, subtotal: "1.30", taxTotal: "0.30", total: "1.60"})

	// 1 Mar: February (29 days) at 29.00 and the overage of 15-29 Feb only: 6 x 0.10 = 0.60.
	b.env.Clock.Set(mustTime(t, "2028-03-01T09:00:00Z"))
	run, err := b.env.App.Billing.RunNow(ctx, "test", billing.RunAll, date("2028-03-01"))
	require.NoError(t, err)
	require.Equal(t, 1, run.Invoices, "%s", run.Failures)
	month := b.invoices(t, "kind = 'postpaid'")
	require.Len(t, month, 1)
	// 29.60; VAT 6.216 -> 6.22; City 0.74
	requireInvoice(t, month[0], want{lines: []line{{"recurring", "1", "29.00", "29.00"}, {"overage", "6", "0.10", "0.60"}},
		taxes: map[string]string{"VAT": "6.22", "City": "0.74"}, subtotal: "29.60", taxTotal: "6.96", total: "36.56"})
	require.Equal(t, []any{"2028-02-15", "2028-02-29"}, detailOf(t, month[0].Lines[1])["window"])

	// Nothing left of February to bill on request; the database refuses an overlapping window.
	again, err := b.env.App.Billing.BillOverage(ctx, admin, id, true)
	require.NoError(t, err)
	require.Empty(t, again)
	err = b.env.App.DB.Gorm.Exec(`INSERT INTO overage_windows (service_id, party, first_day, last_day) VALUES (?, 'customer', ?, ?)`,
		id, date("2028-02-10"), date("2028-02-16")).Error
	require.ErrorContains(t, err, "overage_windows_once")
}

// A run's counts grow as its chunks commit; a run stopped halfway says so
// at once, one whose worker died is marked interrupted once its heartbeat
// is stale, a retry goes on from what is committed, and a rerun counts
// what it found billed already.
func TestRunsCountAsTheyGoAndAreMarkedWhenStopped(t *testing.T) {
	t.Parallel()
	b := newBook(t, "2028-02-05T09:00:00Z", "")
	ctx := context.Background()
	db := b.env.App.DB.Gorm
	pre := b.plan(t, catalog.Prepaid, cycles("monthly", "10.00", "0.00"), false)
	for range 2 {
		firstInvoice(t, b, b.service(t, svc{plan: pre, customer: b.customer(t, nil), frequency: "monthly", quantity: 1, unit: "10.00", fee: "0.00"}))
	}
	other, err := b.env.App.Catalog.CreateVenture(ctx, "Other", "OTHR")
	require.NoError(t, err)
	post := b.plan(t, catalog.PostpaidFixed, cycles("monthly", "10.00", "0.00"), false)
	_, err = b.env.App.Catalog.UpdatePlan(ctx, post.ID, catalog.PlanInput{VentureID: &other.ID}, nil)
	require.NoError(t, err)
	for range 3 {
		b.service(t, svc{plan: post, customer: b.customer(t, nil), frequency: "monthly", quantity: 1, unit: "10.00", fee: "0.00", start: "2028-02-01"})
	}
	b.env.Clock.Set(mustTime(t, "2028-03-01T09:00:00Z"))
	run, err := b.env.App.Billing.NewRun(ctx, db, "test", billing.RunAll, date("2028-03-01"))
	require.NoError(t, err)

	// The renewals (due 5 Mar) commit; the post-paid bills block on the held counter.
	lock := db.Begin()
	t.Cleanup(func() { lock.Rollback() })
	require.NoError(t, lock.Exec(`INSERT INTO invoice_counters (scope, year, last) VALUES (?, 2028, 0)
		ON CONFLICT (scope, year) DO UPDATE SET last = invoice_counters.last`, "venture:"+other.ID.String()).Error)
	killed, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := b.env.App.Billing.Execute(killed, run.ID)
		done <- err
	}()
	require.Eventually(t, func() bool {
		var waiting int64
		require.NoError(t, db.Raw("SELECT count(*) FROM pg_locks WHERE NOT granted AND pid IN (SELECT pid FROM pg_stat_activity WHERE datname = current_database())").Scan(&waiting).Error)
		return waiting > 0
	}, 10*time.Second, 10*time.Millisecond, "the run waits on the held counter")
	mid, err := b.env.App.Billing.GetRun(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, billing.RunRunning, mid.Status)
	require.Equal(t, 2, mid.Invoices, "the renewals' chunk is counted as it commits")
	require.Equal(t, "24.70", money.String(mid.Total), "2 x 12.35")
	require.NotNil(t, mid.HeartbeatAt)
	cancel()
	require.Error(t, <-done)
	require.NoError(t, lock.Rollback().Error)
	stopped, err := b.env.App.Billing.GetRun(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, billing.RunInterrupted, stopped.Status)
	require.Equal(t, 2, stopped.Invoices)

	// A worker that died says nothing: its heartbeat goes stale.
	dead, err := b.env.App.Billing.NewRun(ctx, db, "test", billing.RunAll, date("2028-03-01"))
	require.NoError(t, err)
	alive, err := b.env.App.Billing.NewRun(ctx, db, "test", billing.RunAll, date("2028-03-01"))
	require.NoError(t, err)
	now := b.env.Clock.Now()
	require.NoError(t, db.Exec("UPDATE billing_runs SET status = 'running', heartbeat_at = ? WHERE id = ?", now.Add(-6*time.Minute), dead.ID).Error)
	require.NoError(t, db.Exec("UPDATE billing_runs SET status = 'running', heartbeat_at = ? WHERE id = ?", now.Add(-time.Minute), alive.ID).Error)
	n, err := b.env.App.Billing.MarkInterrupted(ctx, 5*time.Minute)
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	for id, status := range map[uuid.UUID]string{dead.ID: billing.RunInterrupted, alive.ID: billing.RunRunning} {
		r, err := b.env.App.Billing.GetRun(ctx, id)
		require.NoError(t, err)
		require.Equal(t, status, r.Status)
	}
	require.NoError(t, db.Exec("UPDATE billing_runs SET status = 'completed' WHERE id IN ?", []uuid.UUID{dead.ID, alive.ID}).Error)

	// The retry goes on: the rest is its own, nothing is skipped.
	resumed, err := b.env.App.Billing.Execute(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, billing.RunCompleted, resumed.Status)
	require.Equal(t, 5, resumed.Invoices)
	require.Equal(t, 0, resumed.Skipped)
	require.Equal(t, "61.75", money.String(resumed.Total), "5 x 12.35")

	// Another run finds it all billed.
	again, err := b.env.App.Billing.RunNow(ctx, "test", billing.RunAll, date("2028-03-01"))
	require.NoError(t, err)
	require.Equal(t, 0, again.Invoices)
	require.Equal(t, 5, again.Skipped, "2 renewals and 3 post-paid bills found made")

	// Usage syncs are watched the same way.
	sy, err := b.env.App.Usage.New(ctx, db, "test")
	require.NoError(t, err)
	require.NoError(t, db.Exec("UPDATE usage_syncs SET status = 'running', heartbeat_at = ? WHERE id = ?", now.Add(-6*time.Minute), sy.ID).Error)
	n, err = b.env.App.Usage.MarkInterrupted(ctx, 5*time.Minute)
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	sy, err = b.env.App.Usage.Get(ctx, sy.ID)
	require.NoError(t, err)
	require.Equal(t, "interrupted", sy.Status)
}
