package httpapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/acronis"
	"github.com/acronis-platform/platform/internal/acronis/sim"
	"github.com/acronis-platform/platform/internal/config"
)

// shortWait makes service changes answer 202 quickly when the vendor fails.
func shortWait(c *config.Config) { c.ServiceOpWait = 300 * time.Millisecond }

// activeService orders an auto-approved post-paid service with a quantity
// and waits until it is active.
func (s *shop) activeService(t *testing.T, token string) oapi.Order {
	t.Helper()
	body := storefrontOrder(token, newLogin())
	body.Quantity = ptr(1)
	res := place(t, s.env.Client(t, ""), body)
	require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
	done := waitOrder(t, s.admin, res.JSON202.Id)
	require.Equal(t, oapi.OrderStatusCompleted, done.Status, "failure: %v", done.FailureReason)
	return done
}

// paidPrepaidService orders a prepaid service, pays its first invoice and
// waits until it is active.
func (s *shop) paidPrepaidService(t *testing.T, token string) oapi.Order {
	t.Helper()
	res := place(t, s.env.Client(t, ""), storefrontOrder(token, newLogin()))
	require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
	first := invoicesOf(t, s.admin, &oapi.ListInvoicesParams{CustomerId: &res.JSON202.CustomerId})[0]
	require.Equal(t, http.StatusCreated, pay(t, s.admin, first.Id, first.Total.Amount).StatusCode())
	done := waitOrder(t, s.admin, res.JSON202.Id)
	require.Equal(t, oapi.OrderStatusCompleted, done.Status, "failure: %v", done.FailureReason)
	return done
}

// opShop is a shop with the plans the service-change tests use.
type opShop struct {
	*shop
	quantityToken, prepaidToken string
	bigger                      uuid.UUID
}

// opAnswer is what a service change answered: 200, or 202 with its operation.
type opAnswer struct {
	status   int
	body     []byte
	op       *oapi.ServiceOperation
	location string
	// password of a reset answered 200
	password string
}

// waitOp polls an operation until done(op) holds.
func waitOp(t *testing.T, c *oapi.ClientWithResponses, serviceID, opID uuid.UUID, done func(oapi.ServiceOperation) bool) oapi.ServiceOperation {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		res, err := c.GetServiceOperationWithResponse(context.Background(), serviceID, opID)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
		if done(*res.JSON200) {
			return *res.JSON200
		}
		if time.Now().After(deadline) {
			require.Failf(t, "operation not done", "%+v", *res.JSON200)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func enabledItems(t *testing.T, vc *acronis.Client, tenant string) map[string]acronis.OfferingItem {
	t.Helper()
	items, err := vc.OfferingItems(context.Background(), tenant)
	require.NoError(t, err)
	got := map[string]acronis.OfferingItem{}
	for _, it := range items {
		if it.Enabled() {
			got[it.Name] = it
		}
	}
	return got
}

// TestServiceOperationsConvergeThroughVendorFaults injects, on each of the
// six service changes, a vendor that applies the change and then fails
// (after_effect) and a plain spell of 503s; once the vendor answers again
// the platform and the vendor agree without anyone retrying, and a reset
// password reaches its caller once and works at the vendor.
func TestServiceOperationsConvergeThroughVendorFaults(t *testing.T) {
	t.Parallel()
	type op struct {
		name  string
		fault sim.Fault // where the vendor fails (method and path)
		// prepare makes a service ready for the change; call makes the change.
		prepare func(t *testing.T, s *opShop) oapi.Order
		call    func(t *testing.T, s *opShop, o oapi.Order) opAnswer
		// check compares the platform and the vendor once the operation is done.
		check func(t *testing.T, s *opShop, o oapi.Order, password string)
	}
	answer := func(r *http.Response, body []byte, op *oapi.ServiceOperation) opAnswer {
		return opAnswer{status: r.StatusCode, body: body, op: op, location: r.Header.Get("Location")}
	}
	// changeAnswer: a quantity or plan change's 202 carries the platform's
	// outcome (the service at its new quantity, invoices, credits) beside
	// the operation.
	changeAnswer := func(t *testing.T, r *http.Response, body []byte, p *oapi.ChangePending, quantity int) opAnswer {
		if p == nil {
			return answer(r, body, nil)
		}
		require.Equal(t, quantity, p.Service.Quantity, string(body))
		require.NotNil(t, p.Invoices)
		require.NotNil(t, p.Credits)
		return answer(r, body, &p.Operation)
	}
	service := func(t *testing.T, s *opShop, id uuid.UUID) oapi.Service {
		res, err := s.admin.GetServiceWithResponse(context.Background(), id)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
		return *res.JSON200
	}
	tenantOf := func(t *testing.T, s *opShop, o oapi.Order) acronis.Tenant {
		v := service(t, s, o.ServiceId)
		tn, err := s.vc.GetTenant(context.Background(), *v.VendorTenantId)
		require.NoError(t, err)
		return tn
	}
	ops := []op{
		{name: "suspend", fault: sim.Fault{Method: "PUT", PathPrefix: "/api/2/tenants/"},
			prepare: func(t *testing.T, s *opShop) oapi.Order { return s.activeService(t, s.quantityToken) },
			call: func(t *testing.T, s *opShop, o oapi.Order) opAnswer {
				r, err := s.admin.SuspendServiceWithResponse(context.Background(), o.ServiceId, nil)
				require.NoError(t, err)
				return answer(r.HTTPResponse, r.Body, r.JSON202)
			},
			check: func(t *testing.T, s *opShop, o oapi.Order, _ string) {
				require.Equal(t, oapi.ServiceStatusSuspended, service(t, s, o.ServiceId).Status)
				require.False(t, tenantOf(t, s, o).Enabled, "disabled at the vendor")
			}},
		{name: "unsuspend", fault: sim.Fault{Method: "PUT", PathPrefix: "/api/2/tenants/"},
			prepare: func(t *testing.T, s *opShop) oapi.Order {
				o := s.activeService(t, s.quantityToken)
				r, err := s.admin.SuspendServiceWithResponse(context.Background(), o.ServiceId, nil)
				require.NoError(t, err)
				if r.JSON202 != nil { // the short wait ran out before the job ran
					waitOp(t, s.admin, o.ServiceId, r.JSON202.Id, func(op oapi.ServiceOperation) bool {
						return op.Status == oapi.ServiceOperationStatusSucceeded
					})
				} else {
					require.Equal(t, http.StatusOK, r.StatusCode(), string(r.Body))
				}
				return o
			},
			call: func(t *testing.T, s *opShop, o oapi.Order) opAnswer {
				r, err := s.admin.UnsuspendServiceWithResponse(context.Background(), o.ServiceId, nil)
				require.NoError(t, err)
				return answer(r.HTTPResponse, r.Body, r.JSON202)
			},
			check: func(t *testing.T, s *opShop, o oapi.Order, _ string) {
				require.Equal(t, oapi.ServiceStatusActive, service(t, s, o.ServiceId).Status)
				require.True(t, tenantOf(t, s, o).Enabled, "enabled at the vendor")
			}},
		{name: "terminate", fault: sim.Fault{Method: "DELETE", PathPrefix: "/api/2/tenants/"},
			prepare: func(t *testing.T, s *opShop) oapi.Order { return s.activeService(t, s.quantityToken) },
			call: func(t *testing.T, s *opShop, o oapi.Order) opAnswer {
				r, err := s.admin.TerminateServiceWithResponse(context.Background(), o.ServiceId, nil)
				require.NoError(t, err)
				return answer(r.HTTPResponse, r.Body, r.JSON202)
			},
			check: func(t *testing.T, s *opShop, o oapi.Order, _ string) {
				v := service(t, s, o.ServiceId)
				require.Equal(t, oapi.ServiceStatusTerminated, v.Status)
				_, err := s.vc.GetTenant(context.Background(), *v.VendorTenantId)
				require.True(t, acronis.IsStatus(err, http.StatusNotFound), "deleted at the vendor: %v", err)
			}},
		{name: "reset password", fault: sim.Fault{Method: "POST", PathPrefix: "/api/2/users/"},
			prepare: func(t *testing.T, s *opShop) oapi.Order { return s.activeService(t, s.quantityToken) },
			call: func(t *testing.T, s *opShop, o oapi.Order) opAnswer {
				r, err := s.admin.ResetServiceCredentialsWithResponse(context.Background(), o.ServiceId)
				require.NoError(t, err)
				a := answer(r.HTTPResponse, r.Body, r.JSON202)
				if r.JSON200 != nil {
					a.password = r.JSON200.Password
				}
				return a
			},
			check: func(t *testing.T, s *opShop, o oapi.Order, password string) {
				require.NotEmpty(t, password, "the caller got the new password")
				requireVendorLogin(t, s.vendor.URL, service(t, s, o.ServiceId).Username, password)
			}},
		{name: "update credentials", fault: sim.Fault{Method: "PUT", PathPrefix: "/api/2/users/"},
			prepare: func(t *testing.T, s *opShop) oapi.Order { return s.activeService(t, s.quantityToken) },
			call: func(t *testing.T, s *opShop, o oapi.Order) opAnswer {
				login := newLogin()
				r, err := s.admin.UpdateServiceCredentialsWithResponse(context.Background(), o.ServiceId, nil,
					oapi.CredentialsUpdate{Username: &login, Password: ptr("Renamed-Passw0rd-ok")})
				require.NoError(t, err)
				return answer(r.HTTPResponse, r.Body, r.JSON202)
			},
			check: func(t *testing.T, s *opShop, o oapi.Order, _ string) {
				v := service(t, s, o.ServiceId)
				require.NotEqual(t, o.Username, v.Username, "renamed on the platform")
				u, found, err := s.vc.FindUser(context.Background(), *v.VendorTenantId, v.Username)
				require.NoError(t, err)
				require.True(t, found, "renamed at the vendor")
				require.Equal(t, v.Username, u.Login)
				requireVendorLogin(t, s.vendor.URL, v.Username, "Renamed-Passw0rd-ok")
			}},
		{name: "quantity", fault: sim.Fault{Method: "PUT", PathPrefix: "/api/2/tenants/"},
			prepare: func(t *testing.T, s *opShop) oapi.Order { return s.activeService(t, s.quantityToken) },
			call: func(t *testing.T, s *opShop, o oapi.Order) opAnswer {
				r, err := s.admin.ChangeServiceQuantityWithResponse(context.Background(), o.ServiceId, nil, oapi.QuantityChange{Quantity: 3})
				require.NoError(t, err)
				return changeAnswer(t, r.HTTPResponse, r.Body, r.JSON202, 3)
			},
			check: func(t *testing.T, s *opShop, o oapi.Order, _ string) {
				v := service(t, s, o.ServiceId)
				require.Equal(t, 3, v.Quantity)
				require.Equal(t, int64(300)<<30, *enabledItems(t, s.vc, *v.VendorTenantId)["pw_base_storage"].Quota.Value, "3 x 100 GB at the vendor")
			}},
		{name: "plan change", fault: sim.Fault{Method: "PUT", PathPrefix: "/api/2/tenants/"},
			prepare: func(t *testing.T, s *opShop) oapi.Order { return s.paidPrepaidService(t, s.prepaidToken) },
			call: func(t *testing.T, s *opShop, o oapi.Order) opAnswer {
				r, err := s.admin.ChangeServicePlanWithResponse(context.Background(), o.ServiceId, nil, oapi.PlanChange{PlanId: s.bigger})
				require.NoError(t, err)
				a := changeAnswer(t, r.HTTPResponse, r.Body, r.JSON202, 1)
				if r.JSON202 != nil {
					require.Equal(t, s.bigger, r.JSON202.Service.PlanId, "a 202 shows the platform side done")
					require.NotEmpty(t, r.JSON202.Invoices, "and what the change billed")
				}
				return a
			},
			check: func(t *testing.T, s *opShop, o oapi.Order, _ string) {
				v := service(t, s, o.ServiceId)
				require.Equal(t, s.bigger, v.PlanId)
				require.Equal(t, int64(250)<<30, *enabledItems(t, s.vc, *v.VendorTenantId)["pw_base_storage"].Quota.Value, "the new plan's quota at the vendor")
			}},
	}
	faults := []struct {
		name  string
		shape func(sim.Fault) sim.Fault
	}{
		{"applied then failed", func(f sim.Fault) sim.Fault { f.AfterEffect, f.Rate = true, 1; return f }},
		{"a spell of 503", func(f sim.Fault) sim.Fault { f.Status, f.Rate = http.StatusServiceUnavailable, 1; return f }},
	}
	for _, tt := range ops {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &opShop{shop: newShop(t, shortWait)}
			_, s.quantityToken = s.plan(t, planOpts{model: oapi.BillingModelPostpaidFixed, autoApprove: true, quantity: true})
			_, s.prepaidToken = s.plan(t, planOpts{autoApprove: true})
			s.bigger, _ = s.plan(t, planOpts{autoApprove: true, storageGB: 250})
			for _, f := range faults {
				o := tt.prepare(t, s)
				s.vendor.SetFault(f.shape(tt.fault))
				a := tt.call(t, s, o)
				password := a.password
				switch a.status {
				case http.StatusOK:
					// The vendor's own retries got through (a delete found gone).
				case http.StatusAccepted:
					require.NotNil(t, a.op, string(a.body))
					require.Contains(t, []oapi.ServiceOperationStatus{oapi.ServiceOperationStatusPending, oapi.ServiceOperationStatusRunning}, a.op.Status, "%s: %s", f.name, a.body)
					require.Equal(t, "/v1/services/"+o.ServiceId.String()+"/operations/"+a.op.Id.String(), a.location)
					require.Nil(t, a.op.Password)
					// Let the fault bite at least once, then let the vendor answer.
					waitOp(t, s.admin, o.ServiceId, a.op.Id, func(op oapi.ServiceOperation) bool {
						return op.LastError != nil || op.Status == oapi.ServiceOperationStatusSucceeded
					})
					s.vendor.ClearFaults()
					done := waitOp(t, s.admin, o.ServiceId, a.op.Id, func(op oapi.ServiceOperation) bool {
						return op.Status == oapi.ServiceOperationStatusSucceeded || op.Status == oapi.ServiceOperationStatusFailed
					})
					require.Equal(t, oapi.ServiceOperationStatusSucceeded, done.Status, "%s: %v", f.name, done.LastError)
					if tt.name == "reset password" {
						require.NotNil(t, done.Password, "the requester's first read of the done reset shows the password")
						password = *done.Password
						again := waitOp(t, s.admin, o.ServiceId, a.op.Id, func(oapi.ServiceOperation) bool { return true })
						require.Nil(t, again.Password, "shown once")
					}
				default:
					require.Failf(t, "unexpected answer", "%s: %d %s", f.name, a.status, a.body)
				}
				s.vendor.ClearFaults()
				tt.check(t, s, o, password)
				require.NotContains(t, s.env.Logs.String(), "Renamed-Passw0rd-ok")
			}
		})
	}
}

// TestPartnerSellsAfterATermination: terminating a partner's service
// removes the partner's read-only grant on its tenant, and a grant on a
// tenant deleted some other way no longer stops the partner's next sale.
func TestPartnerSellsAfterATermination(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	planID, _ := s.plan(t, planOpts{model: oapi.BillingModelPostpaidFixed, partnerVisible: true, autoApprove: true})
	p, partner := s.activePartner(t)
	sell := func() oapi.Order {
		login := newLogin()
		res, err := partner.CreateOrderWithResponse(ctx, nil, oapi.OrderCreate{PlanId: planID, Frequency: oapi.Monthly, Username: login,
			Customer: &oapi.NewCustomer{Name: "Partner's customer " + login, Email: oapiEmail(login + "@example.com")}})
		require.NoError(t, err)
		require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
		done := waitOrder(t, partner, res.JSON202.Id)
		require.Equal(t, oapi.OrderStatusCompleted, done.Status, "failure: %v", done.FailureReason)
		return done
	}
	tenantOf := func(o oapi.Order) string {
		r, err := partner.GetServiceWithResponse(ctx, o.ServiceId)
		require.NoError(t, err)
		return *r.JSON200.VendorTenantId
	}
	pu, found, err := s.vc.FindUser(ctx, *p.VendorTenantId, p.VendorLogin)
	require.NoError(t, err)
	require.True(t, found)
	grants := func() map[string]bool {
		policies, err := s.vc.AccessPolicies(ctx, pu.ID)
		require.NoError(t, err)
		out := map[string]bool{}
		for _, ap := range policies {
			out[ap.TenantID] = true
		}
		return out
	}

	first, second := sell(), sell()
	firstTenant, secondTenant := tenantOf(first), tenantOf(second)
	require.True(t, grants()[firstTenant])

	term, err := partner.TerminateServiceWithResponse(ctx, first.ServiceId, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, term.StatusCode(), string(term.Body))
	_, err = s.vc.GetTenant(ctx, firstTenant)
	require.True(t, acronis.IsStatus(err, http.StatusNotFound), "%v", err)
	require.False(t, grants()[firstTenant], "terminating removed the partner's grant on the deleted tenant")
	third := sell()
	require.True(t, grants()[tenantOf(third)])

	// A tenant deleted at the vendor by someone else leaves a grant behind;
	// the next sale drops it instead of failing.
	require.NoError(t, s.vc.DeleteTenant(ctx, secondTenant))
	require.True(t, grants()[secondTenant], "the vendor keeps the stale grant")
	fourth := sell()
	g := grants()
	require.True(t, g[tenantOf(fourth)])
	require.True(t, g[tenantOf(third)], "grants on live tenants are kept")
	require.False(t, g[secondTenant], "the grant on the gone tenant was dropped")
	require.False(t, g[firstTenant])
}

// TestFreeTrialsEnd: on the sandbox clock a trial left alone expires after
// 30 days (disabled at the vendor, expired here, once); one moved to a paid
// plan on day 10 is billed from that day, in production mode and never
// expires; an expired one moved to a paid plan is enabled again.
func TestFreeTrialsEnd(t *testing.T) {
	t.Parallel()
	s := newShop(t, func(c *config.Config) { c.Sandbox = true })
	ctx := context.Background()
	_, trialToken := s.plan(t, planOpts{trial: true, autoApprove: true})
	paidPlan, _ := s.plan(t, planOpts{autoApprove: true})
	order := func() oapi.Order {
		res := place(t, s.env.Client(t, ""), storefrontOrder(trialToken, newLogin()))
		require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
		done := waitOrder(t, s.admin, res.JSON202.Id)
		require.Equal(t, oapi.OrderStatusCompleted, done.Status, "failure: %v", done.FailureReason)
		return done
	}
	advance := func(days int) {
		res, err := s.admin.AdvanceSandboxClockWithResponse(ctx, oapi.SandboxClockAdvance{Days: ptr(days)})
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
		s.admin, _ = s.env.Admin(t) // tokens issued days ago have expired
	}
	service := func(id uuid.UUID) oapi.Service {
		res, err := s.admin.GetServiceWithResponse(ctx, id)
		require.NoError(t, err)
		return *res.JSON200
	}
	// vendorEnabled waits until the tenant's enabled flag is want (the
	// vendor side runs as an operation) and its pricing mode.
	vendorEnabled := func(tenant string, want bool) string {
		deadline := time.Now().Add(30 * time.Second)
		for {
			tn, err := s.vc.GetTenant(ctx, tenant)
			require.NoError(t, err)
			if tn.Enabled == want {
				break
			}
			require.True(t, time.Now().Before(deadline), "tenant enabled=%v never became %v", tn.Enabled, want)
			time.Sleep(50 * time.Millisecond)
		}
		mode, err := s.vc.GetPricing(ctx, tenant)
		require.NoError(t, err)
		return mode.Mode
	}
	upgrade := func(id uuid.UUID) oapi.ChangeServicePlanResponse {
		res, err := s.admin.ChangeServicePlanWithResponse(ctx, id, nil, oapi.PlanChange{PlanId: paidPlan})
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
		return *res
	}

	left, moved, late := order(), order(), order()
	advance(10)
	up := upgrade(moved.ServiceId)
	today := s.env.App.Billing.Today().Format(time.DateOnly)
	require.False(t, up.JSON200.Service.FreeTrial)
	require.Len(t, up.JSON200.Invoices, 1, "the first paid period, invoiced at once")
	require.Equal(t, today, up.JSON200.Invoices[0].PeriodStart.Format(time.DateOnly), "billing starts the day of the move")
	require.Equal(t, "10.00", up.JSON200.Invoices[0].Total.Amount)
	require.Equal(t, "production", vendorEnabled(*up.JSON200.Service.VendorTenantId, true))

	advance(21)
	v := service(left.ServiceId)
	require.Equal(t, oapi.ServiceStatusExpired, v.Status, "30 days on, the trial has ended")
	require.NotNil(t, v.ExpiredAt)
	require.Equal(t, "trial", vendorEnabled(*v.VendorTenantId, false), "disabled at the vendor")
	m := service(moved.ServiceId)
	require.Equal(t, oapi.ServiceStatusActive, m.Status, "moved to a paid plan before its end: not expired")
	require.Equal(t, "production", vendorEnabled(*m.VendorTenantId, true))
	ops, err := s.admin.ListServiceOperationsWithResponse(ctx, left.ServiceId, nil)
	require.NoError(t, err)
	require.Len(t, ops.JSON200.Data, 1)
	require.Equal(t, oapi.ServiceOperationKindExpireTrial, ops.JSON200.Data[0].Kind)
	advance(2)
	ops, err = s.admin.ListServiceOperationsWithResponse(ctx, left.ServiceId, nil)
	require.NoError(t, err)
	require.Len(t, ops.JSON200.Data, 1, "a trial expires once")

	// Expired trials refuse other changes, and come back on a paid plan.
	susp, err := s.admin.SuspendServiceWithResponse(ctx, late.ServiceId, nil)
	require.NoError(t, err)
	requireProblem(t, susp.StatusCode(), susp.HTTPResponse.Header, susp.Body, http.StatusConflict, "service_expired")
	back := upgrade(late.ServiceId)
	require.Equal(t, oapi.ServiceStatusActive, back.JSON200.Service.Status)
	require.Equal(t, "production", vendorEnabled(*back.JSON200.Service.VendorTenantId, true), "enabled again, in production")
	require.Equal(t, s.env.App.Billing.Today().Format(time.DateOnly), back.JSON200.Invoices[0].PeriodStart.Format(time.DateOnly))
}
