package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/acronis"
	"github.com/acronis-platform/platform/internal/acronis/sim"
	"github.com/acronis-platform/platform/internal/app/apptest"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/provisioning"
	"github.com/acronis-platform/platform/internal/subscription"
)

// dueAlways and dueNever are StillDue answers that do not change.
func dueAlways(context.Context, *gorm.DB, subscription.Subscription) (bool, error) { return true, nil }
func dueNever(context.Context, *gorm.DB, subscription.Subscription) (bool, error)  { return false, nil }

// dueCounted answers with answers[i] on its i-th call (the last one after)
// and counts the calls.
func dueCounted(calls *atomic.Int32, answers ...bool) subscription.StillDue {
	return func(context.Context, *gorm.DB, subscription.Subscription) (bool, error) {
		i := int(calls.Add(1)) - 1
		return answers[min(i, len(answers)-1)], nil
	}
}

const dunningBy = "system:dunning"

// vfService is a fresh active service with a tenant at the simulator.
func (s *shop) vfService(t *testing.T, token string) oapi.Service {
	t.Helper()
	return s.service(t, s.activeService(t, token).ServiceId)
}

func (s *shop) service(t *testing.T, id uuid.UUID) oapi.Service {
	t.Helper()
	res, err := s.admin.GetServiceWithResponse(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
	return *res.JSON200
}

// tenantEnabled reads the tenant at the simulator; gone is false, false.
func (s *shop) tenantEnabled(t *testing.T, tenant string) (enabled, exists bool) {
	t.Helper()
	tn, err := s.vc.GetTenant(context.Background(), tenant)
	if acronis.IsStatus(err, http.StatusNotFound) {
		return false, false
	}
	require.NoError(t, err)
	return tn.Enabled, true
}

// tenantCalls counts the simulator's calls about tenant that change it.
func (s *shop) tenantCalls(tenant string) int {
	n := 0
	for _, c := range s.vendor.Calls() {
		if c.Method != http.MethodGet && strings.Contains(c.Path, tenant) {
			n++
		}
	}
	return n
}

func (s *shop) opsOf(t *testing.T, id uuid.UUID) []oapi.ServiceOperation {
	t.Helper()
	res, err := s.admin.ListServiceOperationsWithResponse(context.Background(), id, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
	return res.JSON200.Data
}

// opOfKind is the only operation of kind among ops.
func opOfKind(t *testing.T, ops []oapi.ServiceOperation, kind oapi.ServiceOperationKind) oapi.ServiceOperation {
	t.Helper()
	var found []oapi.ServiceOperation
	for _, op := range ops {
		if op.Kind == kind {
			found = append(found, op)
		}
	}
	require.Len(t, found, 1, "one %s operation in %+v", kind, ops)
	return found[0]
}

func (s *shop) eventsAbout(t *testing.T, typ oapi.EventType, id uuid.UUID) []oapi.Event {
	t.Helper()
	return eventsOf(t, s.admin, oapi.ListEventsParams{Type: &[]oapi.EventType{typ}, ResourceId: &id})
}

// mailsOfKind are the mails of kind recorded to the service's customer.
func (s *shop) mailsOfKind(t *testing.T, v oapi.Service, kind oapi.MailKind) int {
	t.Helper()
	n := 0
	for _, m := range mailsTo(t, s.admin, customerEmail(t, s.admin, v.CustomerId)) {
		if m.Kind != nil && *m.Kind == string(kind) {
			n++
		}
	}
	return n
}

// TestVendorFirstChanges: dunning's suspension and termination reach the
// vendor first; only then does the platform change, with its operation
// recorded as done, its event and its mail. A vendor failure, a change no
// longer due or an unfinished earlier operation leave the platform as it
// was.
func TestVendorFirstChanges(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	_, token := s.plan(t, planOpts{model: oapi.BillingModelPostpaidFixed, autoApprove: true, quantity: true})
	subs := s.env.App.Services

	// requireUnchanged: still active, no reason, no event, no mail.
	requireUnchanged := func(t *testing.T, v oapi.Service) {
		t.Helper()
		got := s.service(t, v.Id)
		require.Equal(t, oapi.ServiceStatusActive, got.Status)
		require.Nil(t, got.SuspensionReason)
		require.Equal(t, v.Version, got.Version)
		require.Empty(t, s.eventsAbout(t, oapi.EventTypeServiceSuspended, v.Id))
		require.Zero(t, s.mailsOfKind(t, v, oapi.MailKindSuspensionNotice))
	}

	tests := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"suspend reaches the vendor, then the platform, once", func(t *testing.T) {
			v := s.vfService(t, token)
			got, err := subs.SuspendVendorFirst(ctx, v.Id, subscription.ReasonOverdue, dunningBy, dueAlways)
			require.NoError(t, err)
			require.Equal(t, subscription.OutcomeApplied, got.Outcome)
			require.Equal(t, subscription.StatusSuspended, got.Service.Status)
			enabled, _ := s.tenantEnabled(t, *v.VendorTenantId)
			require.False(t, enabled, "the tenant is disabled")

			after := s.service(t, v.Id)
			require.Equal(t, oapi.ServiceStatusSuspended, after.Status)
			require.Equal(t, oapi.SuspensionReasonOverdue, *after.SuspensionReason)
			require.NotNil(t, after.SuspendedAt)
			ops := s.opsOf(t, v.Id)
			require.Len(t, ops, 1)
			require.Equal(t, oapi.ServiceOperationKindSuspend, ops[0].Kind)
			require.Equal(t, oapi.ServiceOperationStatusSucceeded, ops[0].Status)
			require.Equal(t, dunningBy, ops[0].RequestedBy)
			ev := s.eventsAbout(t, oapi.EventTypeServiceSuspended, v.Id)
			require.Len(t, ev, 1)
			require.Equal(t, "overdue", ev[0].Data.Object["suspension_reason"])
			require.Equal(t, 1, s.mailsOfKind(t, v, oapi.MailKindSuspensionNotice))

			calls := s.tenantCalls(*v.VendorTenantId)
			again, err := subs.SuspendVendorFirst(ctx, v.Id, subscription.ReasonOverdue, dunningBy, dueAlways)
			require.NoError(t, err)
			require.Equal(t, subscription.OutcomeAlready, again.Outcome)
			require.Equal(t, calls, s.tenantCalls(*v.VendorTenantId), "nothing more at the vendor")
			require.Len(t, s.opsOf(t, v.Id), 1)
			require.Len(t, s.eventsAbout(t, oapi.EventTypeServiceSuspended, v.Id), 1)
			require.Equal(t, 1, s.mailsOfKind(t, v, oapi.MailKindSuspensionNotice))

			// Over its credit limit too: the stricter reason holds.
			again, err = subs.SuspendVendorFirst(ctx, v.Id, subscription.ReasonCreditLimit, dunningBy, dueAlways)
			require.NoError(t, err)
			require.Equal(t, subscription.OutcomeAlready, again.Outcome)
			require.Equal(t, subscription.ReasonCreditLimit, *again.Service.SuspensionReason)
			again, err = subs.SuspendVendorFirst(ctx, v.Id, subscription.ReasonOverdue, dunningBy, dueAlways)
			require.NoError(t, err)
			require.Equal(t, subscription.ReasonCreditLimit, *again.Service.SuspensionReason)
			require.Len(t, s.eventsAbout(t, oapi.EventTypeServiceSuspended, v.Id), 1)
		}},
		{"a vendor failure leaves the platform as it was; the next try applies", func(t *testing.T) {
			// The only case with faults: each names its own tenant.
			susp, term := s.vfService(t, token), s.vfService(t, token)
			s.vendor.SetFault(sim.Fault{Method: http.MethodPut, PathPrefix: "/api/2/tenants/" + *susp.VendorTenantId, Rate: 1, Status: http.StatusServiceUnavailable})
			s.vendor.SetFault(sim.Fault{Method: http.MethodDelete, PathPrefix: "/api/2/tenants/" + *term.VendorTenantId, Rate: 1, Status: http.StatusBadGateway})
			_, err := subs.SuspendVendorFirst(ctx, susp.Id, subscription.ReasonOverdue, dunningBy, dueAlways)
			require.Error(t, err)
			require.True(t, provisioning.Retryable(err), "a 503 is worth another try: %v", err)
			requireUnchanged(t, susp)
			require.Empty(t, s.opsOf(t, susp.Id))
			enabled, _ := s.tenantEnabled(t, *susp.VendorTenantId)
			require.True(t, enabled)

			_, err = subs.TerminateVendorFirst(ctx, term.Id, dunningBy, dueAlways)
			require.Error(t, err)
			require.True(t, provisioning.Retryable(err), "%v", err)
			after := s.service(t, term.Id)
			require.Equal(t, oapi.ServiceStatusActive, after.Status)
			require.Equal(t, term.Version, after.Version)
			require.Empty(t, s.eventsAbout(t, oapi.EventTypeServiceTerminated, term.Id))
			require.Zero(t, s.mailsOfKind(t, term, oapi.MailKindTerminationNotice))
			require.Empty(t, s.opsOf(t, term.Id))
			_, exists := s.tenantEnabled(t, *term.VendorTenantId)
			require.True(t, exists)

			s.vendor.ClearFaults()
			got, err := subs.SuspendVendorFirst(ctx, susp.Id, subscription.ReasonOverdue, dunningBy, dueAlways)
			require.NoError(t, err)
			require.Equal(t, subscription.OutcomeApplied, got.Outcome)
			got, err = subs.TerminateVendorFirst(ctx, term.Id, dunningBy, dueAlways)
			require.NoError(t, err)
			require.Equal(t, subscription.OutcomeApplied, got.Outcome)
		}},
		{"not due before the vendor: nothing is called", func(t *testing.T) {
			v := s.vfService(t, token)
			calls := s.tenantCalls(*v.VendorTenantId)
			var n atomic.Int32
			got, err := subs.SuspendVendorFirst(ctx, v.Id, subscription.ReasonOverdue, dunningBy, dueCounted(&n, false))
			require.NoError(t, err)
			require.Equal(t, subscription.OutcomeNotDue, got.Outcome)
			require.Equal(t, int32(1), n.Load())
			require.Equal(t, calls, s.tenantCalls(*v.VendorTenantId))
			requireUnchanged(t, v)
			require.Empty(t, s.opsOf(t, v.Id))
		}},
		{"no longer due once the vendor disabled it: enabled again", func(t *testing.T) {
			v := s.vfService(t, token)
			var n atomic.Int32
			got, err := subs.SuspendVendorFirst(ctx, v.Id, subscription.ReasonOverdue, dunningBy, dueCounted(&n, true, false))
			require.NoError(t, err)
			require.Equal(t, subscription.OutcomeNotDue, got.Outcome)
			require.Equal(t, int32(2), n.Load())
			requireUnchanged(t, v)
			ops := s.opsOf(t, v.Id)
			require.Len(t, ops, 1)
			require.Equal(t, oapi.ServiceOperationKindUnsuspend, ops[0].Kind)
			waitOp(t, s.admin, v.Id, ops[0].Id, isSucceeded)
			enabled, _ := s.tenantEnabled(t, *v.VendorTenantId)
			require.True(t, enabled, "the unsuspend operation enabled the tenant again")
		}},
		{"an unfinished earlier operation: operation_in_progress", func(t *testing.T) {
			v := s.vfService(t, token)
			db := s.env.App.DB.Gorm
			now := time.Now()
			pending := subscription.Operation{ID: uuid.New(), ServiceID: v.Id, Kind: subscription.OpUnsuspend,
				Status: subscription.OpPending, Params: []byte("{}"), RequestedBy: "test", CreatedAt: now, UpdatedAt: now}
			require.NoError(t, db.Create(&pending).Error)
			calls := s.tenantCalls(*v.VendorTenantId)
			for _, call := range []func() (subscription.VendorFirst, error){
				func() (subscription.VendorFirst, error) {
					return subs.SuspendVendorFirst(ctx, v.Id, subscription.ReasonOverdue, dunningBy, dueAlways)
				},
				func() (subscription.VendorFirst, error) {
					return subs.TerminateVendorFirst(ctx, v.Id, dunningBy, dueAlways)
				},
			} {
				_, err := call()
				require.Equal(t, errs.KindConflict, errs.KindOf(err), "%v", err)
				require.Equal(t, "operation_in_progress", errs.CodeOf(err))
			}
			require.Equal(t, calls, s.tenantCalls(*v.VendorTenantId), "the vendor was not called")
			requireUnchanged(t, v)

			require.NoError(t, db.Model(&pending).Update("status", subscription.OpSucceeded).Error)
			got, err := subs.SuspendVendorFirst(ctx, v.Id, subscription.ReasonOverdue, dunningBy, dueAlways)
			require.NoError(t, err)
			require.Equal(t, subscription.OutcomeApplied, got.Outcome)
		}},
		{"an operation that ran while the vendor was called: the suspension runs again after it", func(t *testing.T) {
			v := s.vfService(t, token)
			var n atomic.Int32
			// The second check runs once the tenant is disabled: an unsuspend
			// recorded and carried out meanwhile has enabled it again.
			meanwhile := func(ctx context.Context, tx *gorm.DB, cur subscription.Subscription) (bool, error) {
				if n.Add(1) == 2 {
					now := time.Now()
					require.NoError(t, tx.Create(&subscription.Operation{ID: uuid.New(), ServiceID: v.Id, Kind: subscription.OpUnsuspend,
						Status: subscription.OpSucceeded, Params: []byte("{}"), RequestedBy: "test", CreatedAt: now, UpdatedAt: now}).Error)
					_, err := s.vc.SetTenantEnabled(ctx, *v.VendorTenantId, true)
					require.NoError(t, err)
				}
				return true, nil
			}
			got, err := subs.SuspendVendorFirst(ctx, v.Id, subscription.ReasonOverdue, dunningBy, meanwhile)
			require.NoError(t, err)
			require.Equal(t, subscription.OutcomeApplied, got.Outcome)
			op := opOfKind(t, s.opsOf(t, v.Id), oapi.ServiceOperationKindSuspend)
			waitOp(t, s.admin, v.Id, op.Id, isSucceeded)
			enabled, _ := s.tenantEnabled(t, *v.VendorTenantId)
			require.False(t, enabled, "the suspend operation ran after the other and disabled the tenant again")
		}},
		{"terminate deletes the tenant, then terminates the service", func(t *testing.T) {
			v := s.vfService(t, token)
			_, err := subs.SuspendVendorFirst(ctx, v.Id, subscription.ReasonOverdue, dunningBy, dueAlways)
			require.NoError(t, err)
			got, err := subs.TerminateVendorFirst(ctx, v.Id, dunningBy, dueAlways)
			require.NoError(t, err)
			require.Equal(t, subscription.OutcomeApplied, got.Outcome)
			_, exists := s.tenantEnabled(t, *v.VendorTenantId)
			require.False(t, exists, "the tenant is deleted")
			after := s.service(t, v.Id)
			require.Equal(t, oapi.ServiceStatusTerminated, after.Status)
			require.Nil(t, after.SuspensionReason, "a terminated service has no suspension reason")
			require.NotNil(t, after.TerminatedAt)
			op := opOfKind(t, s.opsOf(t, v.Id), oapi.ServiceOperationKindTerminate)
			require.Equal(t, oapi.ServiceOperationStatusSucceeded, op.Status)
			require.Len(t, s.eventsAbout(t, oapi.EventTypeServiceTerminated, v.Id), 1)
			require.Equal(t, 1, s.mailsOfKind(t, v, oapi.MailKindTerminationNotice))

			again, err := subs.TerminateVendorFirst(ctx, v.Id, dunningBy, dueAlways)
			require.NoError(t, err)
			require.Equal(t, subscription.OutcomeAlready, again.Outcome)
			susp, err := subs.SuspendVendorFirst(ctx, v.Id, subscription.ReasonOverdue, dunningBy, dueAlways)
			require.NoError(t, err)
			require.Equal(t, subscription.OutcomeNotLive, susp.Outcome)
			require.Len(t, s.eventsAbout(t, oapi.EventTypeServiceTerminated, v.Id), 1)
		}},
		{"a service without a vendor side changes on the platform only", func(t *testing.T) {
			v := s.vfService(t, token)
			require.NoError(t, s.env.App.DB.Gorm.Model(&subscription.Subscription{}).Where("id = ?", v.Id).
				Update("vendor_tenant_id", nil).Error)
			calls := s.tenantCalls(*v.VendorTenantId)
			got, err := subs.SuspendVendorFirst(ctx, v.Id, subscription.ReasonCreditLimit, dunningBy, dueAlways)
			require.NoError(t, err)
			require.Equal(t, subscription.OutcomeApplied, got.Outcome)
			require.Equal(t, subscription.ReasonCreditLimit, *got.Service.SuspensionReason)
			require.Len(t, s.eventsAbout(t, oapi.EventTypeServiceSuspended, v.Id), 1)
			got, err = subs.TerminateVendorFirst(ctx, v.Id, dunningBy, dueAlways)
			require.NoError(t, err)
			require.Equal(t, subscription.OutcomeApplied, got.Outcome)
			require.Equal(t, subscription.StatusTerminated, got.Service.Status)
			require.Empty(t, s.opsOf(t, v.Id), "no vendor work, no operation")
			require.Equal(t, calls, s.tenantCalls(*v.VendorTenantId))
			enabled, _ := s.tenantEnabled(t, *v.VendorTenantId)
			require.True(t, enabled)
		}},
		{"manual suspension has its reason; unsuspension clears it", func(t *testing.T) {
			v := s.vfService(t, token)
			susp, err := s.admin.SuspendServiceWithResponse(ctx, v.Id, nil)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, susp.StatusCode(), string(susp.Body))
			require.Equal(t, oapi.SuspensionReasonManual, *susp.JSON200.SuspensionReason)
			// Dunning finds it suspended already and leaves its reason.
			got, err := subs.SuspendVendorFirst(ctx, v.Id, subscription.ReasonCreditLimit, dunningBy, dueAlways)
			require.NoError(t, err)
			require.Equal(t, subscription.OutcomeAlready, got.Outcome)
			require.Equal(t, subscription.ReasonManual, *got.Service.SuspensionReason)
			// Not dunning's to lift.
			up, err := subs.UnsuspendFor(ctx, v.Id, subscription.ReasonCreditLimit, dunningBy, dueAlways)
			require.NoError(t, err)
			require.Equal(t, subscription.OutcomeNotDue, up.Outcome)
			uns, err := s.admin.UnsuspendServiceWithResponse(ctx, v.Id, nil)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, uns.StatusCode(), string(uns.Body))
			require.Nil(t, uns.JSON200.SuspensionReason)
			require.NotContains(t, string(uns.Body), "suspension_reason")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t)
		})
	}
}

// TestSuspensionReasonsAndPayment: paying a service's last unpaid invoice
// lifts an overdue suspension, and a credit-limit one only once its
// customer is within its limit; dunning lifts a credit-limit suspension
// itself when it finds the customer within.
func TestSuspensionReasonsAndPayment(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	planID, token := s.plan(t, planOpts{autoApprove: true})
	subs := s.env.App.Services

	// Each case's customer has a paid service A and a second order B whose
	// first invoice stays unpaid; A's renewal is then billed.
	type customerCase struct {
		name     string
		reason   string
		limit    func(other oapi.Invoice) string // the credit limit, given B's invoice
		want     oapi.ServiceStatus
		customer uuid.UUID
		service  oapi.Service
	}
	cases := []*customerCase{
		{name: "credit limit, still over after paying", reason: subscription.ReasonCreditLimit,
			limit: func(oapi.Invoice) string { return "0.00" }, want: oapi.ServiceStatusSuspended},
		{name: "credit limit, within after paying", reason: subscription.ReasonCreditLimit,
			limit: func(b oapi.Invoice) string { return b.Total.Amount }, want: oapi.ServiceStatusActive},
		{name: "overdue, lifted whatever the balance", reason: subscription.ReasonOverdue,
			limit: func(oapi.Invoice) string { return "0.00" }, want: oapi.ServiceStatusActive},
	}
	for _, c := range cases {
		o := s.paidPrepaidService(t, token)
		c.customer, c.service = o.CustomerId, s.service(t, o.ServiceId)
		res, err := s.admin.CreateOrderWithResponse(ctx, &oapi.CreateOrderParams{IdempotencyKey: ptr(uuid.NewString())},
			oapi.OrderCreate{CustomerId: &c.customer, PlanId: planID, Frequency: oapi.Monthly, Username: newLogin()})
		require.NoError(t, err)
		require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
	}
	svc, err := subs.Get(ctx, apptest.AdminPrincipal, cases[0].service.Id)
	require.NoError(t, err)
	s.env.Clock.Set(svc.NextDueDate.AddDate(0, 0, -7).Add(12 * time.Hour))
	run, err := s.env.App.Billing.RunNow(ctx, "test", "renewals", s.env.App.Billing.Today())
	require.NoError(t, err)
	require.Equal(t, len(cases), run.Invoices)
	s.admin, _ = s.env.Admin(t) // the first admin's token expired as the clock moved

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			unpaid := invoicesOf(t, s.admin, &oapi.ListInvoicesParams{CustomerId: &c.customer, Status: ptr(oapi.InvoiceStatusUnpaid)})
			require.Len(t, unpaid, 2)
			var renewal, other oapi.Invoice
			for _, inv := range unpaid {
				if inv.Kind == oapi.InvoiceKindRenewal {
					renewal = inv
				} else {
					other = inv
				}
			}
			require.Equal(t, oapi.InvoiceKindRenewal, renewal.Kind)
			upd, err := s.admin.UpdateCustomerWithResponse(ctx, c.customer, nil,
				oapi.CustomerUpdate{CreditLimit: &oapi.Money{Amount: c.limit(other), Currency: other.Total.Currency}})
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, upd.StatusCode(), string(upd.Body))

			got, err := subs.SuspendVendorFirst(ctx, c.service.Id, c.reason, dunningBy, dueAlways)
			require.NoError(t, err)
			require.Equal(t, subscription.OutcomeApplied, got.Outcome)
			require.Equal(t, http.StatusCreated, pay(t, s.admin, renewal.Id, renewal.Total.Amount).StatusCode())
			after := s.service(t, c.service.Id)
			require.Equal(t, c.want, after.Status)
			if c.want == oapi.ServiceStatusActive {
				require.Nil(t, after.SuspensionReason)
				return
			}
			require.Equal(t, oapi.ServiceSuspensionReason(c.reason), *after.SuspensionReason)

			// Dunning lifts it once it finds the customer within.
			up, err := subs.UnsuspendFor(ctx, c.service.Id, subscription.ReasonCreditLimit, dunningBy, dueNever)
			require.NoError(t, err)
			require.Equal(t, subscription.OutcomeNotDue, up.Outcome)
			up, err = subs.UnsuspendFor(ctx, c.service.Id, subscription.ReasonOverdue, dunningBy, dueAlways)
			require.NoError(t, err)
			require.Equal(t, subscription.OutcomeNotDue, up.Outcome, "not suspended for that reason")
			up, err = subs.UnsuspendFor(ctx, c.service.Id, subscription.ReasonCreditLimit, dunningBy, dueAlways)
			require.NoError(t, err)
			require.Equal(t, subscription.OutcomeApplied, up.Outcome)
			require.Equal(t, subscription.StatusActive, up.Service.Status)
			require.Nil(t, up.Service.SuspensionReason)
			require.Len(t, s.eventsAbout(t, oapi.EventTypeServiceUnsuspended, c.service.Id), 1)
			op := opOfKind(t, s.opsOf(t, c.service.Id), oapi.ServiceOperationKindUnsuspend)
			require.Equal(t, "system:dunning", op.RequestedBy)
			waitOp(t, s.admin, c.service.Id, op.Id, isSucceeded)
			enabled, _ := s.tenantEnabled(t, *c.service.VendorTenantId)
			require.True(t, enabled)
			again, err := subs.UnsuspendFor(ctx, c.service.Id, subscription.ReasonCreditLimit, dunningBy, dueAlways)
			require.NoError(t, err)
			require.Equal(t, subscription.OutcomeAlready, again.Outcome)
		})
	}
}
