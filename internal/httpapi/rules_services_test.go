package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/api/oapi"
)

// requireField checks that a problem names the field at fault ("" for
// none) with the problem's code.
func requireField(t *testing.T, p problem, field string) {
	t.Helper()
	if field == "" {
		require.Empty(t, p.Errors, "no field is named")
		return
	}
	require.Len(t, p.Errors, 1)
	require.Equal(t, field, p.Errors[0].Field)
	require.Equal(t, p.Code, p.Errors[0].Code)
}

// serviceSnapshot is what a refused service change must leave as it was:
// the service as read, its invoices and its vendor operations.
type serviceSnapshot struct {
	service    string
	invoices   int
	operations int
}

func snapshotService(t *testing.T, c *oapi.ClientWithResponses, id uuid.UUID) serviceSnapshot {
	t.Helper()
	ctx := context.Background()
	svc, err := c.GetServiceWithResponse(ctx, id)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, svc.StatusCode(), string(svc.Body))
	ops, err := c.ListServiceOperationsWithResponse(ctx, id, &oapi.ListServiceOperationsParams{Limit: ptr(200)})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, ops.StatusCode(), string(ops.Body))
	return serviceSnapshot{service: string(svc.Body), invoices: len(invoicesOf(t, c, &oapi.ListInvoicesParams{ServiceId: &id})),
		operations: len(ops.JSON200.Data)}
}

// partnerService has the partner order a service on a plan for a new
// customer of its own and waits until it is active.
func (s *shop) partnerService(t *testing.T, partner *oapi.ClientWithResponses, planID uuid.UUID) oapi.Order {
	t.Helper()
	login := newLogin()
	res, err := partner.CreateOrderWithResponse(context.Background(), nil, oapi.OrderCreate{PlanId: planID, Frequency: oapi.Monthly, Username: login,
		Customer: &oapi.NewCustomer{Name: "Partner customer " + login, Email: oapiEmail(login + "@example.com")}})
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
	done := waitOrder(t, s.admin, res.JSON202.Id)
	require.Equal(t, oapi.OrderStatusCompleted, done.Status, "failure: %v", done.FailureReason)
	return done
}

// Each plan change below breaks one rule of POST /v1/services/{id}/plan-change
// and nothing else: it is refused with its status, code and field, and the
// service, its invoices and its vendor operations stay as they were.
func TestPlanChangeRules(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	_, prepaidToken := s.plan(t, planOpts{autoApprove: true})
	bigger, _ := s.plan(t, planOpts{autoApprove: true, storageGB: 250})
	otherEdition, _ := s.plan(t, planOpts{autoApprove: true, bare: true, edition: "pck_per_gigabyte"})
	annualOnly, _ := s.plan(t, planOpts{autoApprove: true, cycles: []oapi.PlanCycle{cycle(oapi.Annually, "100.00")}})
	postpaidPlan, postpaidToken := s.plan(t, planOpts{autoApprove: true, quantity: true, model: oapi.BillingModelPostpaidFixed})
	otherPostpaid, _ := s.plan(t, planOpts{autoApprove: true, quantity: true, model: oapi.BillingModelPostpaidFixed, storageGB: 250})
	retired, _ := s.plan(t, planOpts{autoApprove: true})
	ret, err := s.admin.UpdatePlanWithResponse(ctx, retired, nil, oapi.PlanUpdate{Status: ptr(oapi.PlanStatusRetired)})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, ret.StatusCode(), string(ret.Body))

	// A partner's free trial, a hidden paid plan, a visible paid plan and
	// another visible trial plan.
	trialPlan, _ := s.plan(t, planOpts{autoApprove: true, trial: true, partnerVisible: true})
	otherTrial, _ := s.plan(t, planOpts{autoApprove: true, trial: true, partnerVisible: true, storageGB: 250})
	hiddenPaid, _ := s.plan(t, planOpts{autoApprove: true})
	visiblePaid, _ := s.plan(t, planOpts{autoApprove: true, partnerVisible: true})
	_, partner := s.activePartner(t)

	prepaid := s.paidPrepaidService(t, prepaidToken).ServiceId
	postpaid := s.activeService(t, postpaidToken).ServiceId
	trial := s.partnerService(t, partner, trialPlan).ServiceId

	tests := []struct {
		name    string
		caller  *oapi.ClientWithResponses
		service uuid.UUID
		plan    uuid.UUID
		status  int
		code    string
		field   string
	}{
		{"the plan it is on", s.admin, prepaid, mustPlanOf(t, s.admin, prepaid), http.StatusUnprocessableEntity, "plan_unchanged", "plan_id"},
		{"an unknown plan", s.admin, prepaid, uuid.New(), http.StatusUnprocessableEntity, "plan_not_found", "plan_id"},
		{"a retired plan", s.admin, prepaid, retired, http.StatusUnprocessableEntity, "plan_not_active", "plan_id"},
		{"another edition", s.admin, prepaid, otherEdition, http.StatusUnprocessableEntity, "plan_not_compatible", "plan_id"},
		{"no price for the service's cycle", s.admin, prepaid, annualOnly, http.StatusUnprocessableEntity, "frequency_not_offered", "plan_id"},
		{"a prepaid service to a post-paid plan", s.admin, prepaid, postpaidPlan, http.StatusUnprocessableEntity, "billing_model_mismatch", "plan_id"},
		{"a post-paid service", s.admin, postpaid, otherPostpaid, http.StatusUnprocessableEntity, "plan_change_prepaid_only", ""},
		{"a partner to a plan it may not sell", partner, trial, hiddenPaid, http.StatusForbidden, "plan_not_available_to_partner", ""},
		{"a trial to another trial", partner, trial, otherTrial, http.StatusUnprocessableEntity, "plan_not_paid", "plan_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := snapshotService(t, s.admin, tt.service)
			res, err := tt.caller.ChangeServicePlanWithResponse(ctx, tt.service, nil, oapi.PlanChange{PlanId: tt.plan})
			require.NoError(t, err)
			p := requireProblem(t, res.StatusCode(), res.HTTPResponse.Header, res.Body, tt.status, tt.code)
			requireField(t, p, tt.field)
			require.Equal(t, before, snapshotService(t, s.admin, tt.service), "nothing changed")
		})
	}

	// The same services move to plans that break no rule.
	for _, ok := range []struct {
		caller        *oapi.ClientWithResponses
		service, plan uuid.UUID
	}{{s.admin, prepaid, bigger}, {partner, trial, visiblePaid}} {
		res, err := ok.caller.ChangeServicePlanWithResponse(ctx, ok.service, nil, oapi.PlanChange{PlanId: ok.plan})
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
		require.Equal(t, ok.plan, res.JSON200.Service.PlanId)
	}
}

func mustPlanOf(t *testing.T, c *oapi.ClientWithResponses, service uuid.UUID) uuid.UUID {
	t.Helper()
	res, err := c.GetServiceWithResponse(context.Background(), service)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
	return res.JSON200.PlanId
}

// orderSnapshot is what a refused order action must leave as it was.
type orderSnapshot struct {
	status  oapi.OrderStatus
	version int64
	history int
}

func snapshotOrder(t *testing.T, c *oapi.ClientWithResponses, id uuid.UUID) orderSnapshot {
	t.Helper()
	res, err := c.GetOrderWithResponse(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
	return orderSnapshot{status: res.JSON200.Status, version: res.JSON200.Version, history: len(res.JSON200.History)}
}

// Approve and cancel take a pending order only, retry a failed one only
// (409 order_not_pending, order_not_failed); the order stays as it was.
func TestOrderActionRules(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	_, postpaidToken := s.plan(t, planOpts{autoApprove: true, quantity: true, model: oapi.BillingModelPostpaidFixed})
	_, manualToken := s.plan(t, planOpts{})
	completed := s.activeService(t, postpaidToken).Id
	placed := place(t, s.env.Client(t, ""), storefrontOrder(manualToken, newLogin()))
	require.Equal(t, http.StatusAccepted, placed.StatusCode(), string(placed.Body))
	pending := placed.JSON202.Id
	require.Equal(t, oapi.OrderStatusPending, placed.JSON202.Status)
	cancelledRes := place(t, s.env.Client(t, ""), storefrontOrder(manualToken, newLogin()))
	require.Equal(t, http.StatusAccepted, cancelledRes.StatusCode(), string(cancelledRes.Body))
	cancelled := cancelledRes.JSON202.Id
	c, err := s.admin.CancelOrderWithResponse(ctx, cancelled, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, c.StatusCode(), string(c.Body))

	type action func(uuid.UUID) (int, http.Header, []byte)
	approve := func(id uuid.UUID) (int, http.Header, []byte) {
		r, err := s.admin.ApproveOrderWithResponse(ctx, id, nil)
		require.NoError(t, err)
		return r.StatusCode(), r.HTTPResponse.Header, r.Body
	}
	cancel := func(id uuid.UUID) (int, http.Header, []byte) {
		r, err := s.admin.CancelOrderWithResponse(ctx, id, nil)
		require.NoError(t, err)
		return r.StatusCode(), r.HTTPResponse.Header, r.Body
	}
	retry := func(id uuid.UUID) (int, http.Header, []byte) {
		r, err := s.admin.RetryOrderWithResponse(ctx, id, nil)
		require.NoError(t, err)
		return r.StatusCode(), r.HTTPResponse.Header, r.Body
	}
	tests := []struct {
		name  string
		do    action
		order uuid.UUID
		code  string
	}{
		{"approve a completed order", approve, completed, "order_not_pending"},
		{"approve a cancelled order", approve, cancelled, "order_not_pending"},
		{"cancel a completed order", cancel, completed, "order_not_pending"},
		{"cancel a cancelled order", cancel, cancelled, "order_not_pending"},
		{"retry a completed order", retry, completed, "order_not_failed"},
		{"retry a pending order", retry, pending, "order_not_failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := snapshotOrder(t, s.admin, tt.order)
			status, header, body := tt.do(tt.order)
			requireProblem(t, status, header, body, http.StatusConflict, tt.code)
			require.Equal(t, before, snapshotOrder(t, s.admin, tt.order), "nothing changed")
		})
	}
	// The pending order is approved: the action itself works.
	status, _, body := approve(pending)
	require.Equal(t, http.StatusOK, status, string(body))
}

// A suspended service gives no one-click login (409 service_not_active)
// and stays as it was; unsuspended, it does.
func TestSSOLinkNeedsAnActiveService(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	_, token := s.plan(t, planOpts{autoApprove: true, quantity: true, model: oapi.BillingModelPostpaidFixed})
	id := s.activeService(t, token).ServiceId
	sus, err := s.admin.SuspendServiceWithResponse(ctx, id, nil)
	require.NoError(t, err)
	require.Contains(t, []int{http.StatusOK, http.StatusAccepted}, sus.StatusCode(), string(sus.Body))
	before := snapshotService(t, s.admin, id)
	link, err := s.admin.CreateServiceSsoLinkWithResponse(ctx, id)
	require.NoError(t, err)
	p := requireProblem(t, link.StatusCode(), link.HTTPResponse.Header, link.Body, http.StatusConflict, "service_not_active")
	requireField(t, p, "")
	require.Equal(t, before, snapshotService(t, s.admin, id), "nothing changed")

	un, err := s.admin.UnsuspendServiceWithResponse(ctx, id, nil)
	require.NoError(t, err)
	require.Contains(t, []int{http.StatusOK, http.StatusAccepted}, un.StatusCode(), string(un.Body))
	link, err = s.admin.CreateServiceSsoLinkWithResponse(ctx, id)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, link.StatusCode(), string(link.Body))
}

// New credentials that break one rule each are refused with the status,
// code and field, and change nothing on the platform or at the vendor: a
// password needs 10 to 128 characters with a lower-case letter, an
// upper-case letter and a digit; a username must be free here and at the
// vendor.
func TestCredentialsUpdateRules(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	_, token := s.plan(t, planOpts{autoApprove: true, quantity: true, model: oapi.BillingModelPostpaidFixed})
	id := s.activeService(t, token).ServiceId
	// A pending order holds its username on the platform only.
	_, manualToken := s.plan(t, planOpts{})
	held := newLogin()
	pending := place(t, s.env.Client(t, ""), storefrontOrder(manualToken, held))
	require.Equal(t, http.StatusAccepted, pending.StatusCode(), string(pending.Body))
	reset, err := s.admin.ResetServiceCredentialsWithResponse(ctx, id)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, reset.StatusCode(), string(reset.Body))
	login, password := reset.JSON200.Username, reset.JSON200.Password

	long := "Aa1" + strings.Repeat("x", 126) // 129
	tests := []struct {
		name   string
		body   oapi.CredentialsUpdate
		status int
		code   string
		field  string
	}{
		{"password of 9 characters", oapi.CredentialsUpdate{Password: ptr("Abcdefg12")}, http.StatusUnprocessableEntity, "password_too_weak", "password"},
		{"password of 129 characters", oapi.CredentialsUpdate{Password: &long}, http.StatusUnprocessableEntity, "password_too_weak", "password"},
		{"password without a lower-case letter", oapi.CredentialsUpdate{Password: ptr("ABCDEFGH12")}, http.StatusUnprocessableEntity, "password_too_weak", "password"},
		{"password without an upper-case letter", oapi.CredentialsUpdate{Password: ptr("abcdefgh12")}, http.StatusUnprocessableEntity, "password_too_weak", "password"},
		{"password without a digit", oapi.CredentialsUpdate{Password: ptr("Abcdefghij")}, http.StatusUnprocessableEntity, "password_too_weak", "password"},
		{"username a pending order holds", oapi.CredentialsUpdate{Username: &held}, http.StatusConflict, "username_taken", "username"},
		{"username taken at the vendor", oapi.CredentialsUpdate{Username: ptr("sp-admin")}, http.StatusConflict, "username_taken", "username"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := snapshotService(t, s.admin, id)
			res, err := s.admin.UpdateServiceCredentialsWithResponse(ctx, id, nil, tt.body)
			require.NoError(t, err)
			p := requireProblem(t, res.StatusCode(), res.HTTPResponse.Header, res.Body, tt.status, tt.code)
			requireField(t, p, tt.field)
			require.Equal(t, before, snapshotService(t, s.admin, id), "nothing changed")
		})
	}
	requireVendorLogin(t, s.vendor.URL, login, password)

	// The shortest and the longest good passwords are taken.
	for _, good := range []string{"Abcdefgh12", "Aa1" + strings.Repeat("x", 125)} {
		res, err := s.admin.UpdateServiceCredentialsWithResponse(ctx, id, nil, oapi.CredentialsUpdate{Password: &good})
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
	}
}
