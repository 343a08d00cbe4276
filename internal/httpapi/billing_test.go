package httpapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	openapi_types "github.com/oapi-codegen/runtime/types"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/acronis/sim"
	"github.com/acronis-platform/platform/internal/app/apptest"
	"github.com/acronis-platform/platform/internal/config"
)

func pay(t *testing.T, c *oapi.ClientWithResponses, invoice uuid.UUID, amount string) *oapi.CreateInvoicePaymentResponse {
	t.Helper()
	res, err := c.CreateInvoicePaymentWithResponse(context.Background(), invoice, &oapi.CreateInvoicePaymentParams{IdempotencyKey: uuid.NewString()},
		oapi.PaymentCreate{Amount: oapi.Money{Amount: amount, Currency: "USD"}, Method: oapi.BankTransfer, Reference: ptr("ref-" + amount)})
	require.NoError(t, err)
	return res
}

func invoicesOf(t *testing.T, c *oapi.ClientWithResponses, params *oapi.ListInvoicesParams) []oapi.Invoice {
	t.Helper()
	res, err := c.ListInvoicesWithResponse(context.Background(), params)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
	return res.JSON200.Data
}

func TestPrepaidOrderIsApprovedWhenItsFirstInvoiceIsPaid(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	_, token := s.plan(t, planOpts{autoApprove: true})
	res := place(t, s.env.Client(t, ""), storefrontOrder(token, newLogin()))
	require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
	require.Equal(t, oapi.OrderStatusPending, res.JSON202.Status, "prepaid waits for payment")

	invs := invoicesOf(t, s.admin, &oapi.ListInvoicesParams{CustomerId: &res.JSON202.CustomerId})
	require.Len(t, invs, 1)
	inv := invs[0]
	require.Equal(t, oapi.InvoiceKindPrepaid, inv.Kind)
	require.Equal(t, "10.00", inv.Total.Amount)
	require.Equal(t, oapi.InvoiceStatusUnpaid, inv.Status)
	require.NotNil(t, inv.Number)

	t.Run("refused payments", func(t *testing.T) {
		tests := []struct {
			name, amount, currency string
			status                 int
			code                   string
		}{
			{"more than the balance", "10.01", "USD", http.StatusUnprocessableEntity, "overpayment"},
			{"zero", "0.00", "USD", http.StatusUnprocessableEntity, "amount_not_positive"},
			{"negative", "-1.00", "USD", http.StatusUnprocessableEntity, "negative_amount"},
			{"another currency", "1.00", "EUR", http.StatusUnprocessableEntity, "currency_mismatch"},
			{"over-precise", "1.001", "USD", http.StatusUnprocessableEntity, "amount_too_precise"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				r, err := s.admin.CreateInvoicePaymentWithResponse(ctx, inv.Id, &oapi.CreateInvoicePaymentParams{IdempotencyKey: uuid.NewString()},
					oapi.PaymentCreate{Amount: oapi.Money{Amount: tt.amount, Currency: tt.currency}, Method: oapi.Card})
				require.NoError(t, err)
				requireProblem(t, r.StatusCode(), r.HTTPResponse.Header, r.Body, tt.status, tt.code)
			})
		}
		t.Run("no Idempotency-Key", func(t *testing.T) {
			t.Parallel()
			status, h, b := raw(t, "POST", s.env.Server.URL+"/v1/invoices/"+inv.Id.String()+"/payments", adminToken(t, s.env), "application/json",
				`{"amount":{"amount":"1.00","currency":"USD"},"method":"card"}`)
			requireProblem(t, status, h, b, http.StatusBadRequest, "validation_failed")
		})
		t.Run("unknown method", func(t *testing.T) {
			t.Parallel()
			status, h, b := raw(t, "POST", s.env.Server.URL+"/v1/invoices/"+inv.Id.String()+"/payments", adminToken(t, s.env), "application/json",
				`{"amount":{"amount":"1.00","currency":"USD"},"method":"bitcoin"}`, "Idempotency-Key", uuid.NewString())
			requireProblem(t, status, h, b, http.StatusBadRequest, "validation_failed")
		})
		t.Run("in the future", func(t *testing.T) {
			t.Parallel()
			future := s.env.Clock.Now().Add(48 * time.Hour)
			r, err := s.admin.CreateInvoicePaymentWithResponse(ctx, inv.Id, &oapi.CreateInvoicePaymentParams{IdempotencyKey: uuid.NewString()},
				oapi.PaymentCreate{Amount: oapi.Money{Amount: "1.00", Currency: "USD"}, Method: oapi.Card, PaidAt: &future})
			require.NoError(t, err)
			requireProblem(t, r.StatusCode(), r.HTTPResponse.Header, r.Body, http.StatusUnprocessableEntity, "paid_at_in_future")
		})
	})
	got, err := s.admin.GetInvoiceWithResponse(ctx, inv.Id)
	require.NoError(t, err)
	require.Equal(t, "0.00", got.JSON200.AmountPaid.Amount, "refused payments record nothing")

	part := pay(t, s.admin, inv.Id, "4.00")
	require.Equal(t, http.StatusCreated, part.StatusCode(), string(part.Body))
	require.Equal(t, oapi.InvoiceStatusUnpaid, part.JSON201.Invoice.Status)
	require.Equal(t, "6.00", part.JSON201.Invoice.Balance.Amount)
	o, err := s.admin.GetOrderWithResponse(ctx, res.JSON202.Id)
	require.NoError(t, err)
	require.Equal(t, oapi.OrderStatusPending, o.JSON200.Status, "a partial payment approves nothing")
	paidCancel, err := s.admin.CancelOrderWithResponse(ctx, res.JSON202.Id, nil)
	require.NoError(t, err)
	requireProblem(t, paidCancel.StatusCode(), paidCancel.HTTPResponse.Header, paidCancel.Body, http.StatusConflict, "order_has_payments")

	voidPaid, err := s.admin.VoidInvoiceWithResponse(ctx, inv.Id, nil)
	require.NoError(t, err)
	requireProblem(t, voidPaid.StatusCode(), voidPaid.HTTPResponse.Header, voidPaid.Body, http.StatusConflict, "invoice_not_voidable")

	rest := pay(t, s.admin, inv.Id, "6.00")
	require.Equal(t, http.StatusCreated, rest.StatusCode(), string(rest.Body))
	require.Equal(t, oapi.InvoiceStatusPaid, rest.JSON201.Invoice.Status)
	require.Len(t, *rest.JSON201.Invoice.Payments, 2)
	again := pay(t, s.admin, inv.Id, "1.00")
	requireProblem(t, again.StatusCode(), again.HTTPResponse.Header, again.Body, http.StatusConflict, "invoice_paid")

	done := waitOrder(t, s.admin, res.JSON202.Id)
	require.Equal(t, oapi.OrderStatusCompleted, done.Status, "paying the first invoice approved the order: %v", done.FailureReason)
	require.Equal(t, "first invoice paid", *done.History[1].Reason)

	// Voiding: an unpaid invoice without payments, once.
	other := place(t, s.env.Client(t, ""), storefrontOrder(token, newLogin()))
	require.Equal(t, http.StatusAccepted, other.StatusCode(), string(other.Body))
	oinv := invoicesOf(t, s.admin, &oapi.ListInvoicesParams{CustomerId: &other.JSON202.CustomerId})[0]
	void, err := s.admin.VoidInvoiceWithResponse(ctx, oinv.Id, nil)
	require.NoError(t, err)
	require.Equal(t, oapi.InvoiceStatusVoid, void.JSON200.Status)
	payVoid := pay(t, s.admin, oinv.Id, "1.00")
	requireProblem(t, payVoid.StatusCode(), payVoid.HTTPResponse.Header, payVoid.Body, http.StatusConflict, "invoice_void")
}

func adminToken(t *testing.T, env *apptest.Env) string {
	t.Helper()
	u := env.NewUser(t, "admin", nil, nil)
	return env.Login(t, u)
}

func TestPartnerSaleInvoicesAndWhoMayPayThem(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	planID, _ := s.plan(t, planOpts{partnerVisible: true})
	p, partner := s.activePartner(t)
	_, err := s.admin.SetPartnerPlanPricingWithResponse(ctx, p.Id, planID, nil, oapi.PartnerPlanPricing{DiscountPercent: ptr("20")})
	require.NoError(t, err)
	_, err = partner.SetPartnerPlanPricingWithResponse(ctx, p.Id, planID, nil, oapi.PartnerPlanPricing{MarkupPercent: ptr("50")})
	require.NoError(t, err)
	res, err := partner.CreateOrderWithResponse(ctx, nil, oapi.OrderCreate{PlanId: planID, Frequency: oapi.Monthly, Username: newLogin(),
		Customer: &oapi.NewCustomer{Name: "C", Email: oapiEmail(uuid.NewString() + "@example.com")}})
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))

	mine := invoicesOf(t, partner, nil)
	require.Len(t, mine, 2, "the bill it issued to its customer and the SP's bill to it")
	var toCustomer, toPartner oapi.Invoice
	for _, inv := range mine {
		if inv.CustomerId != nil {
			toCustomer = inv
		} else {
			toPartner = inv
		}
	}
	require.Equal(t, p.Id, *toCustomer.IssuerPartnerId)
	require.Equal(t, "12.00", toCustomer.Total.Amount, "end price")
	require.Equal(t, p.Id, *toPartner.PartnerId)
	require.Equal(t, "8.00", toPartner.Total.Amount, "cost")
	require.Nil(t, toPartner.IssuerPartnerId, "the SP issues it")

	own := pay(t, partner, toCustomer.Id, "12.00")
	require.Equal(t, http.StatusCreated, own.StatusCode(), "a partner records its customers' payments: %s", own.Body)
	sp := pay(t, partner, toPartner.Id, "8.00")
	requireProblem(t, sp.StatusCode(), sp.HTTPResponse.Header, sp.Body, http.StatusForbidden, "payment_not_allowed")

	_, stranger := s.activePartner(t)
	for _, id := range []uuid.UUID{toCustomer.Id, toPartner.Id} {
		r, err := stranger.GetInvoiceWithResponse(ctx, id)
		require.NoError(t, err)
		require.Equal(t, http.StatusNotFound, r.StatusCode())
		pr := pay(t, stranger, id, "1.00")
		require.Equal(t, http.StatusNotFound, pr.StatusCode())
	}
	require.Empty(t, invoicesOf(t, stranger, nil))
}

func TestBillingRunsAndUsageSyncsThroughTheAPI(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	_, token := s.plan(t, planOpts{model: oapi.BillingModelPostpaidFixed, autoApprove: true})
	res := place(t, s.env.Client(t, ""), storefrontOrder(token, newLogin()))
	require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
	require.Equal(t, oapi.OrderStatusCompleted, waitOrder(t, s.admin, res.JSON202.Id).Status)

	sync, err := s.admin.CreateUsageSyncWithResponse(ctx, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, sync.StatusCode(), string(sync.Body))
	var first oapi.UsageSync
	require.Eventually(t, func() bool {
		r, err := s.admin.GetUsageSyncWithResponse(ctx, sync.JSON202.Id)
		require.NoError(t, err)
		first = *r.JSON200
		return first.Status == oapi.UsageSyncStatusCompleted
	}, 20*time.Second, 20*time.Millisecond)
	require.Equal(t, 1, first.Tenants)
	require.Positive(t, first.Rows)
	var before []string
	require.NoError(t, s.env.App.DB.Gorm.Raw("SELECT tenant_id||item||day||value||synced_at FROM usage_daily ORDER BY 1").Scan(&before).Error)
	again, err := s.env.App.Usage.RunNow(ctx, "test")
	require.NoError(t, err)
	require.Equal(t, "completed", again.Status)
	var after []string
	require.NoError(t, s.env.App.DB.Gorm.Raw("SELECT tenant_id||item||day||value||synced_at FROM usage_daily ORDER BY 1").Scan(&after).Error)
	require.Equal(t, before, after, "syncing the day again changes nothing")

	today := openapi_types.Date{Time: s.env.App.Billing.Today()}
	run, err := s.admin.CreateBillingRunWithResponse(ctx, nil, oapi.BillingRunCreate{Kind: oapi.BillingRunKindAll, AsOf: &today})
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, run.StatusCode(), string(run.Body))
	require.Eventually(t, func() bool {
		r, err := s.admin.GetBillingRunWithResponse(ctx, run.JSON202.Id)
		require.NoError(t, err)
		return r.JSON200.Status == oapi.BillingRunStatusCompleted
	}, 20*time.Second, 20*time.Millisecond)
	list, err := s.admin.ListBillingRunsWithResponse(ctx, nil)
	require.NoError(t, err)
	require.NotEmpty(t, list.JSON200.Data)

	future := openapi_types.Date{Time: s.env.App.Billing.Today().AddDate(0, 0, 1)}
	bad, err := s.admin.CreateBillingRunWithResponse(ctx, nil, oapi.BillingRunCreate{Kind: oapi.BillingRunKindAll, AsOf: &future})
	require.NoError(t, err)
	requireProblem(t, bad.StatusCode(), bad.HTTPResponse.Header, bad.Body, http.StatusUnprocessableEntity, "as_of_in_future")
}

func TestSandboxClock(t *testing.T) {
	t.Parallel()
	t.Run("refused outside sandbox mode", func(t *testing.T) {
		t.Parallel()
		env := apptest.New(t)
		admin, _ := env.Admin(t)
		res, err := admin.AdvanceSandboxClockWithResponse(context.Background(), oapi.SandboxClockAdvance{Days: ptr(1)})
		require.NoError(t, err)
		requireProblem(t, res.StatusCode(), res.HTTPResponse.Header, res.Body, http.StatusForbidden, "sandbox_disabled")
	})
	t.Run("a month of billing", func(t *testing.T) {
		t.Parallel()
		s := newShop(t, func(c *config.Config) { c.Sandbox = true })
		ctx := context.Background()
		_, token := s.plan(t, planOpts{model: oapi.BillingModelPostpaidFixed, autoApprove: true})
		res := place(t, s.env.Client(t, ""), storefrontOrder(token, newLogin()))
		require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
		require.Equal(t, oapi.OrderStatusCompleted, waitOrder(t, s.admin, res.JSON202.Id).Status)
		simBefore := s.vendor.Now()

		adv, err := s.admin.AdvanceSandboxClockWithResponse(ctx, oapi.SandboxClockAdvance{Days: ptr(40)})
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, adv.StatusCode(), string(adv.Body))
		require.Equal(t, 40, adv.JSON200.Days)
		require.Len(t, adv.JSON200.BillingRuns, 40)
		require.Positive(t, adv.JSON200.UsageRows, "usage synced every day")
		require.GreaterOrEqual(t, adv.JSON200.Invoices, 1, "the 1st of the month billed the month before")
		require.WithinDuration(t, simBefore.Add(40*24*time.Hour), s.vendor.Now(), time.Minute, "the simulator's clock moved too")
		admin, _ := s.env.Admin(t) // tokens issued 40 days ago have expired
		invs := invoicesOf(t, admin, &oapi.ListInvoicesParams{CustomerId: &res.JSON202.CustomerId})
		require.NotEmpty(t, invs)
		require.Equal(t, oapi.InvoiceKindPostpaid, invs[0].Kind)
		var days int64
		require.NoError(t, s.env.App.DB.Gorm.Raw("SELECT count(DISTINCT day) FROM usage_daily").Scan(&days).Error)
		require.GreaterOrEqual(t, days, int64(40), "a usage row per day")
	})
}

func TestUsageSyncKeepsGoodBatchesAndRetriesFailedOnes(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	_, token := s.plan(t, planOpts{model: oapi.BillingModelPostpaidFixed, autoApprove: true})
	for range 3 {
		res := place(t, s.env.Client(t, ""), storefrontOrder(token, newLogin()))
		require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
		require.Equal(t, oapi.OrderStatusCompleted, waitOrder(t, s.admin, res.JSON202.Id).Status)
	}
	u := s.env.App.Usage.With(1, 1, 0)

	// Every usage read refused: each batch fails on its own, and is recorded.
	s.vendor.SetFault(sim.Fault{Method: "GET", PathPrefix: "/api/2/tenants/usages", Rate: 1, Status: http.StatusBadRequest})
	failed, err := u.RunNow(context.Background(), "test")
	require.NoError(t, err)
	require.Equal(t, "failed", failed.Status)
	require.Contains(t, string(failed.Failures), "400")

	// Half of them refused: the good batches are kept, the sync is partial.
	s.vendor.ClearFaults()
	s.vendor.SetFault(sim.Fault{Method: "GET", PathPrefix: "/api/2/tenants/usages", Rate: 0.5, Status: http.StatusBadRequest})
	retried, err := s.env.App.Usage.With(1, 20, time.Millisecond).RunNow(context.Background(), "test")
	require.NoError(t, err)
	require.Equal(t, "completed", retried.Status, "failed batches are tried again until they pass: %s", retried.Failures)
	require.Equal(t, 3, retried.Tenants)
	var tenants int64
	require.NoError(t, s.env.App.DB.Gorm.Raw("SELECT count(DISTINCT tenant_id) FROM usage_daily").Scan(&tenants).Error)
	require.Equal(t, int64(3), tenants)

	// A tenant gone at the vendor fails alone; its batch is split so the
	// others still get their usage.
	s.vendor.ClearFaults()
	var gone string
	require.NoError(t, s.env.App.DB.Gorm.Raw("SELECT vendor_tenant_id FROM services WHERE vendor_tenant_id IS NOT NULL LIMIT 1").Scan(&gone).Error)
	require.NoError(t, s.vc.DeleteTenant(context.Background(), gone))
	require.NoError(t, s.env.App.DB.Gorm.Exec("DELETE FROM usage_daily").Error)
	split, err := s.env.App.Usage.With(100, 1, 0).RunNow(context.Background(), "test")
	require.NoError(t, err)
	require.Equal(t, "partial", split.Status)
	require.Contains(t, string(split.Failures), gone)
	require.NoError(t, s.env.App.DB.Gorm.Raw("SELECT count(DISTINCT tenant_id) FROM usage_daily").Scan(&tenants).Error)
	require.Equal(t, int64(2), tenants, "the two others")
}

func TestPayingTheLastUnpaidInvoiceUnsuspends(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	_, token := s.plan(t, planOpts{autoApprove: true})
	res := place(t, s.env.Client(t, ""), storefrontOrder(token, newLogin()))
	require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
	first := invoicesOf(t, s.admin, &oapi.ListInvoicesParams{CustomerId: &res.JSON202.CustomerId})[0]
	require.Equal(t, http.StatusCreated, pay(t, s.admin, first.Id, first.Total.Amount).StatusCode())
	done := waitOrder(t, s.admin, res.JSON202.Id)
	require.Equal(t, oapi.OrderStatusCompleted, done.Status, "failure: %v", done.FailureReason)
	susp, err := s.admin.SuspendServiceWithResponse(ctx, done.ServiceId, nil)
	require.NoError(t, err)
	require.Equal(t, oapi.ServiceStatusSuspended, susp.JSON200.Status)

	// A week before the due date the renewal is billed; paying it brings the service back.
	svc, err := s.env.App.Services.Get(ctx, apptest.AdminPrincipal, done.ServiceId)
	require.NoError(t, err)
	s.env.Clock.Set(svc.NextDueDate.AddDate(0, 0, -7).Add(12 * time.Hour))
	run, err := s.env.App.Billing.RunNow(ctx, "test", "renewals", s.env.App.Billing.Today())
	require.NoError(t, err)
	require.Equal(t, 1, run.Invoices)
	admin, _ := s.env.Admin(t)
	renewal := invoicesOf(t, admin, &oapi.ListInvoicesParams{CustomerId: &res.JSON202.CustomerId, Status: ptr(oapi.InvoiceStatusUnpaid)})
	require.Len(t, renewal, 1)
	require.Equal(t, oapi.InvoiceKindRenewal, renewal[0].Kind)
	require.Equal(t, http.StatusCreated, pay(t, admin, renewal[0].Id, renewal[0].Total.Amount).StatusCode())
	require.Eventually(t, func() bool {
		v, err := s.env.App.Services.Get(ctx, apptest.AdminPrincipal, done.ServiceId)
		require.NoError(t, err)
		return v.Status == "active"
	}, 20*time.Second, 20*time.Millisecond, "unsuspended once nothing is owed")
	// The platform is active from the paying transaction; its unsuspend
	// operation, recorded there, enables the tenant.
	require.Eventually(t, func() bool {
		tenant, err := s.vc.GetTenant(ctx, *svc.VendorTenantID)
		require.NoError(t, err)
		return tenant.Enabled
	}, 20*time.Second, 20*time.Millisecond, "at the vendor too")
	ops, err := admin.ListServiceOperationsWithResponse(ctx, done.ServiceId, nil)
	require.NoError(t, err)
	require.Equal(t, oapi.ServiceOperationKindUnsuspend, ops.JSON200.Data[0].Kind)
	require.Equal(t, "system:payment", ops.JSON200.Data[0].RequestedBy)
	after, err := s.env.App.Services.Get(ctx, apptest.AdminPrincipal, done.ServiceId)
	require.NoError(t, err)
	require.Equal(t, svc.NextDueDate.AddDate(0, 1, 0).Format(time.DateOnly)[:7], after.NextDueDate.Format(time.DateOnly)[:7], "and the due date moved a cycle on")
}

func TestBillingRoles(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	ctx := context.Background()
	_, ptok := env.PartnerUser(t, nil)
	_, ctok := env.CustomerUser(t, nil)
	partner, customer := env.Client(t, ptok), env.Client(t, ctok)
	id := uuid.New()
	tests := []struct {
		name string
		call func() int
	}{
		{"customer starts a billing run", func() int {
			r, _ := customer.CreateBillingRunWithResponse(ctx, nil, oapi.BillingRunCreate{Kind: oapi.BillingRunKindAll})
			return r.StatusCode()
		}},
		{"partner starts a billing run", func() int {
			r, _ := partner.CreateBillingRunWithResponse(ctx, nil, oapi.BillingRunCreate{Kind: oapi.BillingRunKindAll})
			return r.StatusCode()
		}},
		{"partner lists billing runs", func() int { r, _ := partner.ListBillingRunsWithResponse(ctx, nil); return r.StatusCode() }},
		{"partner syncs usage", func() int { r, _ := partner.CreateUsageSyncWithResponse(ctx, nil); return r.StatusCode() }},
		{"partner moves the clock", func() int {
			r, _ := partner.AdvanceSandboxClockWithResponse(ctx, oapi.SandboxClockAdvance{Days: ptr(1)})
			return r.StatusCode()
		}},
		{"customer pays", func() int {
			r, _ := customer.CreateInvoicePaymentWithResponse(ctx, id, &oapi.CreateInvoicePaymentParams{IdempotencyKey: uuid.NewString()},
				oapi.PaymentCreate{Amount: oapi.Money{Amount: "1.00", Currency: "USD"}, Method: oapi.Card})
			return r.StatusCode()
		}},
		{"customer voids", func() int { r, _ := customer.VoidInvoiceWithResponse(ctx, id, nil); return r.StatusCode() }},
		{"customer changes the term", func() int {
			r, _ := customer.ChangeServiceTermWithResponse(ctx, id, nil, oapi.TermChange{Frequency: oapi.Annually})
			return r.StatusCode()
		}},
		{"customer changes the quantity", func() int {
			r, _ := customer.ChangeServiceQuantityWithResponse(ctx, id, nil, oapi.QuantityChange{Quantity: 2})
			return r.StatusCode()
		}},
		{"customer bills overage", func() int {
			r, _ := customer.CreateServiceInvoiceWithResponse(ctx, id, &oapi.CreateServiceInvoiceParams{Preview: ptr(true)})
			return r.StatusCode()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, http.StatusForbidden, tt.call())
		})
	}
	admin, _ := env.Admin(t)
	unknown, err := admin.CreateServiceInvoiceWithResponse(ctx, id, nil)
	require.NoError(t, err)
	requireProblem(t, unknown.StatusCode(), unknown.HTTPResponse.Header, unknown.Body, http.StatusNotFound, "not_found")
	term, err := admin.ChangeServiceTermWithResponse(ctx, id, nil, oapi.TermChange{Frequency: oapi.Annually})
	require.NoError(t, err)
	requireProblem(t, term.StatusCode(), term.HTTPResponse.Header, term.Body, http.StatusNotFound, "not_found")
}

// A first period that costs nothing is settled as it is issued, through
// the same path as a payment: an auto-approve prepaid order goes on at once.
func TestFreeFirstPeriodApprovesTheOrder(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	id, token := s.plan(t, planOpts{autoApprove: true})
	pr, err := s.admin.SetPlanPricingWithResponse(ctx, id, pricing(oapi.BillingModelPrepaid, cycle(oapi.Monthly, "0.00")))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, pr.StatusCode(), string(pr.Body))
	res := place(t, s.env.Client(t, ""), storefrontOrder(token, newLogin()))
	require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
	invs := invoicesOf(t, s.admin, &oapi.ListInvoicesParams{CustomerId: &res.JSON202.CustomerId})
	require.Len(t, invs, 1)
	require.Equal(t, "0.00", invs[0].Total.Amount)
	require.Equal(t, oapi.InvoiceStatusPaid, invs[0].Status)
	done := waitOrder(t, s.admin, res.JSON202.Id)
	require.Equal(t, oapi.OrderStatusCompleted, done.Status, "born paid, the first invoice approved the order: %v", done.FailureReason)
	require.Equal(t, "first invoice paid", *done.History[1].Reason)

	c, err := s.admin.GetCustomerWithResponse(ctx, res.JSON202.CustomerId)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, c.StatusCode(), string(c.Body))
	require.NotNil(t, c.JSON200.CreditBalances)
	require.Empty(t, *c.JSON200.CreditBalances, "no credit held")
}

// An adjustment invoice (a quantity raised mid-period) bills no period of
// its own: paying it, or voiding it, when it is the last thing owed still
// brings its suspended service back.
func TestSettlingAnAdjustmentInvoiceUnsuspends(t *testing.T) {
	t.Parallel()
	for _, settle := range []string{"pay", "void"} {
		t.Run(settle, func(t *testing.T) {
			t.Parallel()
			s := newShop(t)
			ctx := context.Background()
			s.at(t, "2027-01-31T10:00:00Z")
			_, token := s.plan(t, planOpts{quantity: true, autoApprove: true})
			res := place(t, s.env.Client(t, ""), storefrontOrder(token, newLogin()))
			require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
			cust := res.JSON202.CustomerId
			first := invoicesOf(t, s.admin, &oapi.ListInvoicesParams{CustomerId: &cust})[0]
			require.Equal(t, http.StatusCreated, pay(t, s.admin, first.Id, first.Total.Amount).StatusCode())
			done := waitOrder(t, s.admin, res.JSON202.Id)
			require.Equal(t, oapi.OrderStatusCompleted, done.Status, "failure: %v", done.FailureReason)

			s.at(t, "2027-02-14T10:00:00Z")
			up, err := s.admin.ChangeServiceQuantityWithResponse(ctx, done.ServiceId, nil, oapi.QuantityChange{Quantity: 2})
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, up.StatusCode(), string(up.Body))
			owed := invoicesOf(t, s.admin, &oapi.ListInvoicesParams{CustomerId: &cust, Status: ptr(oapi.InvoiceStatusUnpaid)})
			require.Len(t, owed, 1)
			require.Equal(t, oapi.InvoiceKindAdjustment, owed[0].Kind)
			susp, err := s.admin.SuspendServiceWithResponse(ctx, done.ServiceId, nil)
			require.NoError(t, err)
			require.Equal(t, oapi.ServiceStatusSuspended, susp.JSON200.Status)

			if settle == "pay" {
				require.Equal(t, http.StatusCreated, pay(t, s.admin, owed[0].Id, owed[0].Total.Amount).StatusCode())
			} else {
				v, err := s.admin.VoidInvoiceWithResponse(ctx, owed[0].Id, nil)
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, v.StatusCode(), string(v.Body))
			}
			got, err := s.admin.GetServiceWithResponse(ctx, done.ServiceId)
			require.NoError(t, err)
			require.Equal(t, oapi.ServiceStatusActive, got.JSON200.Status, "nothing is owed any more")
			require.Nil(t, got.JSON200.SuspensionReason)
		})
	}
}
