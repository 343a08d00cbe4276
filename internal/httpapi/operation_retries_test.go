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

// fewTries makes an operation fail after 3 tries a second apart, and keeps
// the periodic sweep out of the way unless a test sets it.
func fewTries(c *config.Config) {
	c.ServiceOpWait, c.ServiceOpAttempts, c.ServiceOpBackoffMax, c.ServiceOpSweep = 300*time.Millisecond, 3, time.Second, time.Hour
}

func isFailed(op oapi.ServiceOperation) bool { return op.Status == oapi.ServiceOperationStatusFailed }

func isSucceeded(op oapi.ServiceOperation) bool {
	return op.Status == oapi.ServiceOperationStatusSucceeded
}

// opOf is the operation of a change answered 202.
func opOf(t *testing.T, status int, body []byte, op *oapi.ServiceOperation) oapi.ServiceOperation {
	t.Helper()
	require.Equal(t, http.StatusAccepted, status, string(body))
	require.NotNil(t, op)
	return *op
}

func (s *shop) tenantOf(t *testing.T, id uuid.UUID) string {
	t.Helper()
	res, err := s.admin.GetServiceWithResponse(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
	return *res.JSON200.VendorTenantId
}

// TestFailedOperationConvergesBySweep: a terminate whose vendor calls fail
// (503) until its tries are spent ends failed and transient, the service
// stays terminated (and cannot be terminated again), the tenant stays at
// the vendor; once the vendor answers again the periodic sweep queues the
// operation again and the tenant is deleted, without anyone asking.
func TestFailedOperationConvergesBySweep(t *testing.T) {
	t.Parallel()
	s := newShop(t, fewTries, func(c *config.Config) { c.ServiceOpSweep = 2 * time.Second })
	ctx := context.Background()
	_, token := s.plan(t, planOpts{model: oapi.BillingModelPostpaidFixed, autoApprove: true, quantity: true})
	o := s.activeService(t, token)
	tenant := s.tenantOf(t, o.ServiceId)

	s.vendor.SetFault(sim.Fault{Method: "DELETE", PathPrefix: "/api/2/tenants/", Status: http.StatusServiceUnavailable, Rate: 1})
	term, err := s.admin.TerminateServiceWithResponse(ctx, o.ServiceId, nil)
	require.NoError(t, err)
	op := opOf(t, term.StatusCode(), term.Body, term.JSON202)

	failed := waitOp(t, s.admin, o.ServiceId, op.Id, isFailed)
	require.NotNil(t, failed.ErrorClass)
	require.Equal(t, oapi.Transient, *failed.ErrorClass, "a 503 may pass")
	require.GreaterOrEqual(t, failed.Attempts, 3, "its tries were spent")
	require.NotNil(t, failed.LastError)
	require.Contains(t, *failed.LastError, "503")
	require.NotNil(t, failed.FinishedAt)

	v, err := s.admin.GetServiceWithResponse(ctx, o.ServiceId)
	require.NoError(t, err)
	require.Equal(t, oapi.ServiceStatusTerminated, v.JSON200.Status, "the platform keeps its new state")
	_, err = s.vc.GetTenant(ctx, tenant)
	require.NoError(t, err, "the tenant is still at the vendor")
	again, err := s.admin.TerminateServiceWithResponse(ctx, o.ServiceId, nil)
	require.NoError(t, err)
	requireProblem(t, again.StatusCode(), again.HTTPResponse.Header, again.Body, http.StatusConflict, "service_terminated")

	// Listed among the failed operations while it waits for the sweep.
	list, err := s.admin.ListAllServiceOperationsWithResponse(ctx, &oapi.ListAllServiceOperationsParams{
		Kind: ptr(oapi.ServiceOperationKindTerminate), ServiceId: &o.ServiceId})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, list.StatusCode(), string(list.Body))
	require.Len(t, list.JSON200.Data, 1)
	require.Equal(t, op.Id, list.JSON200.Data[0].Id)

	s.vendor.ClearFaults()
	done := waitOp(t, s.admin, o.ServiceId, op.Id, isSucceeded)
	require.GreaterOrEqual(t, done.Retries, 1)
	require.Equal(t, "system:sweep", *done.RetriedBy, "the sweep queued it, nobody asked")
	require.Nil(t, done.ErrorClass)
	_, err = s.vc.GetTenant(ctx, tenant)
	require.True(t, acronis.IsStatus(err, http.StatusNotFound), "deleted at the vendor: %v", err)
}

// TestRetryServiceOperation: an admin retries a terminate that failed for
// good (a 403 no later try changes) on a terminated service, and a reset
// whose password reaches its requester once; a pending or succeeded
// operation is refused (operation_not_failed), one a newer operation
// replaced too (operation_superseded); customers may not retry, other
// partners do not see it. The sweep leaves permanent failures alone,
// queues a transient one once per period and never a superseded one.
func TestRetryServiceOperation(t *testing.T) {
	t.Parallel()
	s := newShop(t, fewTries)
	ctx := context.Background()
	sweep := s.env.App.Services.SweepOperations
	_, token := s.plan(t, planOpts{model: oapi.BillingModelPostpaidFixed, autoApprove: true, quantity: true})
	retry := func(c *oapi.ClientWithResponses, serviceID, opID uuid.UUID) *oapi.RetryServiceOperationResponse {
		t.Helper()
		r, err := c.RetryServiceOperationWithResponse(ctx, serviceID, opID)
		require.NoError(t, err)
		return r
	}
	refused := func(r *oapi.RetryServiceOperationResponse, status int, code string) {
		t.Helper()
		requireProblem(t, r.StatusCode(), r.HTTPResponse.Header, r.Body, status, code)
	}

	// A terminate the vendor refuses (403) fails at once, permanent.
	o := s.activeService(t, token)
	tenant := s.tenantOf(t, o.ServiceId)
	s.vendor.SetFault(sim.Fault{Method: "DELETE", PathPrefix: "/api/2/tenants/", Status: http.StatusForbidden, Rate: 1})
	term, err := s.admin.TerminateServiceWithResponse(ctx, o.ServiceId, nil)
	require.NoError(t, err)
	op := opOf(t, term.StatusCode(), term.Body, term.JSON202)
	failed := waitOp(t, s.admin, o.ServiceId, op.Id, isFailed)
	require.Equal(t, oapi.Permanent, *failed.ErrorClass)
	require.Equal(t, 1, failed.Attempts, "a refusal is not tried again")
	n, err := sweep(ctx, time.Now())
	require.NoError(t, err)
	require.Zero(t, n, "the sweep leaves a permanent failure to people")

	_, customerToken := s.env.CustomerUser(t, &o.CustomerId)
	refused(retry(s.env.Client(t, customerToken), o.ServiceId, op.Id), http.StatusForbidden, "forbidden")
	_, otherPartner := s.env.PartnerUser(t, nil)
	refused(retry(s.env.Client(t, otherPartner), o.ServiceId, op.Id), http.StatusNotFound, "not_found")
	refused(retry(s.admin, o.ServiceId, uuid.New()), http.StatusNotFound, "not_found")
	refused(retry(s.admin, uuid.New(), op.Id), http.StatusNotFound, "not_found")
	same := waitOp(t, s.admin, o.ServiceId, op.Id, func(oapi.ServiceOperation) bool { return true })
	require.Equal(t, oapi.ServiceOperationStatusFailed, same.Status, "refusals change nothing")
	require.Zero(t, same.Retries)

	s.vendor.ClearFaults()
	r := retry(s.admin, o.ServiceId, op.Id)
	require.Equal(t, http.StatusAccepted, r.StatusCode(), string(r.Body))
	require.Equal(t, "/v1/services/"+o.ServiceId.String()+"/operations/"+op.Id.String(), r.HTTPResponse.Header.Get("Location"))
	require.Contains(t, []oapi.ServiceOperationStatus{oapi.ServiceOperationStatusPending, oapi.ServiceOperationStatusRunning, oapi.ServiceOperationStatusSucceeded}, r.JSON202.Status)
	require.Equal(t, 1, r.JSON202.Retries)
	require.Nil(t, r.JSON202.ErrorClass)
	done := waitOp(t, s.admin, o.ServiceId, op.Id, isSucceeded)
	require.NotNil(t, done.RetriedAt)
	require.Contains(t, *done.RetriedBy, "user:")
	_, err = s.vc.GetTenant(ctx, tenant)
	require.True(t, acronis.IsStatus(err, http.StatusNotFound), "deleted at the vendor: %v", err)
	refused(retry(s.admin, o.ServiceId, op.Id), http.StatusConflict, "operation_not_failed")

	// A reset that failed keeps its sealed password; retried, the vendor
	// gets it and the requester reads it once.
	o = s.activeService(t, token)
	s.vendor.SetFault(sim.Fault{Method: "POST", PathPrefix: "/api/2/users/", Status: http.StatusForbidden, Rate: 1})
	reset, err := s.admin.ResetServiceCredentialsWithResponse(ctx, o.ServiceId)
	require.NoError(t, err)
	op = opOf(t, reset.StatusCode(), reset.Body, reset.JSON202)
	failed = waitOp(t, s.admin, o.ServiceId, op.Id, isFailed)
	require.Nil(t, failed.Password)
	s.vendor.ClearFaults()
	r = retry(s.admin, o.ServiceId, op.Id)
	require.Equal(t, http.StatusAccepted, r.StatusCode(), string(r.Body))
	require.Nil(t, r.JSON202.Password)
	done = waitOp(t, s.admin, o.ServiceId, op.Id, isSucceeded)
	require.NotNil(t, done.Password, "the requester's first read shows the password")
	requireVendorLogin(t, s.vendor.URL, o.Username, *done.Password)
	require.Nil(t, waitOp(t, s.admin, o.ServiceId, op.Id, func(oapi.ServiceOperation) bool { return true }).Password, "once")

	// A suspend the vendor fails with 503: pending, it is refused; failed,
	// the sweep queues it once per period; once the service is unsuspended
	// the failed suspend is superseded and never runs again.
	o = s.activeService(t, token)
	s.vendor.SetFault(sim.Fault{Method: "PUT", PathPrefix: "/api/2/tenants/", Status: http.StatusServiceUnavailable, Rate: 1})
	susp, err := s.admin.SuspendServiceWithResponse(ctx, o.ServiceId, nil)
	require.NoError(t, err)
	op = opOf(t, susp.StatusCode(), susp.Body, susp.JSON202)
	require.NotEqual(t, oapi.ServiceOperationStatusFailed, op.Status)
	refused(retry(s.admin, o.ServiceId, op.Id), http.StatusConflict, "operation_not_failed")
	failed = waitOp(t, s.admin, o.ServiceId, op.Id, isFailed)
	require.Equal(t, oapi.Transient, *failed.ErrorClass)

	period := time.Now().UTC().Truncate(time.Minute)
	n, err = sweep(ctx, period)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	again := waitOp(t, s.admin, o.ServiceId, op.Id, func(op oapi.ServiceOperation) bool { return isFailed(op) && op.Retries == 1 })
	require.Equal(t, "system:sweep", *again.RetriedBy)
	require.Greater(t, again.Attempts, failed.Attempts, "it was tried again")
	n, err = sweep(ctx, period)
	require.NoError(t, err)
	require.Zero(t, n, "at most once per period")

	s.vendor.ClearFaults()
	un, err := s.admin.UnsuspendServiceWithResponse(ctx, o.ServiceId, nil)
	require.NoError(t, err)
	if un.JSON202 != nil { // the short wait ran out before the job ran
		waitOp(t, s.admin, o.ServiceId, un.JSON202.Id, isSucceeded)
	} else {
		require.Equal(t, http.StatusOK, un.StatusCode(), string(un.Body))
	}
	moot := waitOp(t, s.admin, o.ServiceId, op.Id, func(oapi.ServiceOperation) bool { return true })
	require.NotNil(t, moot.SupersededBy, "the unsuspend replaced it")
	refused(retry(s.admin, o.ServiceId, op.Id), http.StatusConflict, "operation_superseded")
	n, err = sweep(ctx, period.Add(time.Minute))
	require.NoError(t, err)
	require.Zero(t, n, "a superseded operation is not swept")
	tn, err := s.vc.GetTenant(ctx, s.tenantOf(t, o.ServiceId))
	require.NoError(t, err)
	require.True(t, tn.Enabled, "the vendor agrees with the platform: active")
}

// TestServiceOperationsAcrossServices: GET /v1/service-operations shows
// admins every operation and a partner only its customers' services';
// filters and pages; the owning partner retries its own failed operation
// and cannot touch another partner's.
func TestServiceOperationsAcrossServices(t *testing.T) {
	t.Parallel()
	s := newShop(t, fewTries)
	ctx := context.Background()
	planID, _ := s.plan(t, planOpts{model: oapi.BillingModelPostpaidFixed, partnerVisible: true, autoApprove: true})
	sell := func(partner *oapi.ClientWithResponses) oapi.Order {
		login := newLogin()
		res, err := partner.CreateOrderWithResponse(ctx, nil, oapi.OrderCreate{PlanId: planID, Frequency: oapi.Monthly, Username: login,
			Customer: &oapi.NewCustomer{Name: "Customer " + login, Email: oapiEmail(login + "@example.com")}})
		require.NoError(t, err)
		require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
		done := waitOrder(t, partner, res.JSON202.Id)
		require.Equal(t, oapi.OrderStatusCompleted, done.Status, "failure: %v", done.FailureReason)
		return done
	}
	_, a := s.activePartner(t)
	_, b := s.activePartner(t)
	oa, ob := sell(a), sell(b)

	// Both partners suspend; the vendor refuses both.
	s.vendor.SetFault(sim.Fault{Method: "PUT", PathPrefix: "/api/2/tenants/", Status: http.StatusForbidden, Rate: 1})
	suspend := func(c *oapi.ClientWithResponses, o oapi.Order) oapi.ServiceOperation {
		r, err := c.SuspendServiceWithResponse(ctx, o.ServiceId, nil)
		require.NoError(t, err)
		op := opOf(t, r.StatusCode(), r.Body, r.JSON202)
		return waitOp(t, c, o.ServiceId, op.Id, isFailed)
	}
	opA, opB := suspend(a, oa), suspend(b, ob)
	s.vendor.ClearFaults()

	list := func(c *oapi.ClientWithResponses, p *oapi.ListAllServiceOperationsParams) []oapi.ServiceOperation {
		t.Helper()
		r, err := c.ListAllServiceOperationsWithResponse(ctx, p)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, r.StatusCode(), string(r.Body))
		return r.JSON200.Data
	}
	ids := func(ops []oapi.ServiceOperation) []uuid.UUID {
		out := make([]uuid.UUID, len(ops))
		for i, op := range ops {
			out[i] = op.Id
		}
		return out
	}
	failedOnly := &oapi.ListAllServiceOperationsParams{Status: ptr(oapi.ServiceOperationStatusFailed)}
	require.ElementsMatch(t, []uuid.UUID{opA.Id, opB.Id}, ids(list(s.admin, failedOnly)), "the admin sees every failed operation")
	require.Equal(t, []uuid.UUID{opA.Id}, ids(list(a, failedOnly)), "partner A sees its own only")
	require.Equal(t, []uuid.UUID{opB.Id}, ids(list(b, failedOnly)), "partner B sees its own only")
	for _, op := range list(a, nil) {
		require.Equal(t, oa.ServiceId, op.ServiceId, "nothing of partner B's reaches partner A")
	}
	require.Equal(t, []uuid.UUID{opB.Id}, ids(list(s.admin, &oapi.ListAllServiceOperationsParams{
		Status: ptr(oapi.ServiceOperationStatusFailed), ServiceId: &ob.ServiceId})))
	require.Empty(t, list(a, &oapi.ListAllServiceOperationsParams{ServiceId: &ob.ServiceId}), "another partner's service is empty, not an error")
	require.Empty(t, list(s.admin, &oapi.ListAllServiceOperationsParams{Kind: ptr(oapi.ServiceOperationKindTerminate)}))

	// Pages, newest first.
	first, err := s.admin.ListAllServiceOperationsWithResponse(ctx, &oapi.ListAllServiceOperationsParams{Status: failedOnly.Status, Limit: ptr(1)})
	require.NoError(t, err)
	require.Len(t, first.JSON200.Data, 1)
	require.NotNil(t, first.JSON200.NextCursor)
	second := list(s.admin, &oapi.ListAllServiceOperationsParams{Status: failedOnly.Status, Limit: ptr(1), Cursor: first.JSON200.NextCursor})
	require.Len(t, second, 1)
	require.ElementsMatch(t, []uuid.UUID{opA.Id, opB.Id}, []uuid.UUID{first.JSON200.Data[0].Id, second[0].Id})

	// Bad filters are 400; customers may not list across services.
	status, header, body := raw(t, http.MethodGet, s.env.Server.URL+"/v1/service-operations?status=broken", adminToken(t, s.env), "", "")
	requireProblem(t, status, header, body, http.StatusBadRequest, "validation_failed")
	_, customerToken := s.env.CustomerUser(t, &oa.CustomerId)
	c, err := s.env.Client(t, customerToken).ListAllServiceOperationsWithResponse(ctx, nil)
	require.NoError(t, err)
	requireProblem(t, c.StatusCode(), c.HTTPResponse.Header, c.Body, http.StatusForbidden, "forbidden")

	// The owning partner retries; the other one gets 404.
	r, err := a.RetryServiceOperationWithResponse(ctx, ob.ServiceId, opB.Id)
	require.NoError(t, err)
	requireProblem(t, r.StatusCode(), r.HTTPResponse.Header, r.Body, http.StatusNotFound, "not_found")
	r, err = a.RetryServiceOperationWithResponse(ctx, oa.ServiceId, opA.Id)
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, r.StatusCode(), string(r.Body))
	waitOp(t, a, oa.ServiceId, opA.Id, isSucceeded)
	tn, err := s.vc.GetTenant(ctx, s.tenantOf(t, oa.ServiceId))
	require.NoError(t, err)
	require.False(t, tn.Enabled, "suspended at the vendor after the retry")
	require.Equal(t, []uuid.UUID{opB.Id}, ids(list(s.admin, failedOnly)))
}
