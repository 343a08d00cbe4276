package httpapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	openapi_types "github.com/oapi-codegen/runtime/types"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/app/apptest"
)

// requireNamed checks that a problem names exactly one field, whatever its
// per-field code (a 400 is validation_failed with the field's own code).
func requireNamed(t *testing.T, p problem, field string) {
	t.Helper()
	if field == "" {
		require.Empty(t, p.Errors, "no field is named")
		return
	}
	require.Len(t, p.Errors, 1)
	require.Equal(t, field, p.Errors[0].Field)
}

func usd(amount string) *oapi.Money { return &oapi.Money{Amount: amount, Currency: "USD"} }

// Each PUT below breaks one rule of a plan's reminder settings: 422 with
// its code and the entry at fault, and the stored settings stay as they
// were. Within the rules the days are stored in order, and a PUT without
// them replaces them with none.
func TestPlanReminderSettings(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	admin, _ := env.Admin(t)
	ctx := context.Background()
	c := newChain(t, admin, oapi.None)
	plan, err := admin.CreatePlanWithResponse(ctx, nil, c.plan("Reminded", false))
	require.NoError(t, err)
	id := plan.JSON201.Id
	tpl, err := admin.CreateEmailTemplateWithResponse(ctx, nil, oapi.EmailTemplateCreate{Name: uniq("Reminder"), Subject: "Please pay", Body: "An invoice is due."})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, tpl.StatusCode(), string(tpl.Body))
	initial := oapi.NotificationSettings{SuspensionDays: 7, TerminationDays: 30, ReminderDays: &[]int32{-3}}
	set, err := admin.SetPlanNotificationSettingsWithResponse(ctx, id, initial)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, set.StatusCode(), string(set.Body))
	stored := func() string {
		got, err := admin.GetPlanNotificationSettingsWithResponse(ctx, id)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, got.StatusCode(), string(got.Body))
		return string(got.Body)
	}
	before := stored()
	missing := uuid.New()
	days := func(d ...int32) *[]int32 { return &d }

	tests := []struct {
		name  string
		body  oapi.NotificationSettings
		code  string
		field string
	}{
		{"eleven reminder days", oapi.NotificationSettings{SuspensionDays: 7, TerminationDays: 30, ReminderDays: days(-10, -9, -8, -7, -6, -5, -4, -3, -2, -1, 0)},
			"too_many_reminders", "reminder_days"},
		{"a day given twice", oapi.NotificationSettings{SuspensionDays: 7, TerminationDays: 30, ReminderDays: days(-3, 0, -3)},
			"duplicate_reminder_day", "reminder_days[2]"},
		{"more than 60 days before the due date", oapi.NotificationSettings{SuspensionDays: 7, TerminationDays: 30, ReminderDays: days(0, -61)},
			"reminder_day_out_of_range", "reminder_days[1]"},
		{"on the termination day", oapi.NotificationSettings{SuspensionDays: 7, TerminationDays: 30, ReminderDays: days(3, 30)},
			"reminder_day_out_of_range", "reminder_days[1]"},
		{"after termination", oapi.NotificationSettings{SuspensionDays: 2, TerminationDays: 5, ReminderDays: days(40)},
			"reminder_day_out_of_range", "reminder_days[0]"},
		{"an unknown reminder template", oapi.NotificationSettings{SuspensionDays: 7, TerminationDays: 30, ReminderTemplateId: &missing},
			"template_not_found", "reminder_template_id"},
	}
	t.Run("refused", func(t *testing.T) { // the group ends when its cases do
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				res, err := admin.SetPlanNotificationSettingsWithResponse(ctx, id, tt.body)
				require.NoError(t, err)
				p := requireProblem(t, res.StatusCode(), res.HTTPResponse.Header, res.Body, http.StatusUnprocessableEntity, tt.code)
				requireField(t, p, tt.field)
				require.JSONEq(t, before, stored(), "the settings stay as they were")
			})
		}
	})

	// The bounds are allowed; the days come back in order.
	ok, err := admin.SetPlanNotificationSettingsWithResponse(ctx, id, oapi.NotificationSettings{SuspensionDays: 7, TerminationDays: 30,
		ReminderDays: days(29, -60, 0, 3), ReminderTemplateId: &tpl.JSON201.Id, SuspendOnCreditLimit: ptr(true)})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, ok.StatusCode(), string(ok.Body))
	got, err := admin.GetPlanNotificationSettingsWithResponse(ctx, id)
	require.NoError(t, err)
	require.Equal(t, []int32{-60, 0, 3, 29}, *got.JSON200.ReminderDays)
	require.Equal(t, tpl.JSON201.Id, *got.JSON200.ReminderTemplateId)
	require.True(t, *got.JSON200.SuspendOnCreditLimit)

	// A template the plan reminds with cannot be deleted.
	del, err := admin.DeleteEmailTemplateWithResponse(ctx, tpl.JSON201.Id, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusConflict, del.StatusCode(), string(del.Body))

	// PUT replaces: without them, no reminders and no credit-limit suspension.
	plain, err := admin.SetPlanNotificationSettingsWithResponse(ctx, id, oapi.NotificationSettings{SuspensionDays: 7, TerminationDays: 30})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, plain.StatusCode(), string(plain.Body))
	require.Empty(t, *plain.JSON200.ReminderDays)
	require.Nil(t, plain.JSON200.ReminderTemplateId)
	require.False(t, *plain.JSON200.SuspendOnCreditLimit)
}

// A customer's dunning pause is set by an admin or the owning partner. Each
// PATCH below breaks one rule: refused with its status, code and field, and
// the customer stays as it was.
func TestCustomerDunningPause(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	admin, _ := env.Admin(t)
	ctx := context.Background()
	partnerID, partnerToken := env.PartnerUser(t, nil)
	_, otherPartnerToken := env.PartnerUser(t, nil)
	id := env.NewCustomer(t, &partnerID)
	_, customerToken := env.CustomerUser(t, &id)
	owner, other, self := env.Client(t, partnerToken), env.Client(t, otherPartnerToken), env.Client(t, customerToken)
	read := func() string {
		res, err := admin.GetCustomerWithResponse(ctx, id)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
		return string(res.Body)
	}
	before := read()
	day := openapi_types.Date{Time: time.Date(2026, time.December, 31, 0, 0, 0, 0, time.UTC)}

	tests := []struct {
		name   string
		c      *oapi.ClientWithResponses
		body   oapi.CustomerUpdate
		status int
		code   string
		field  string
	}{
		{"the customer pausing itself", self, oapi.CustomerUpdate{DunningPausedUntil: &day},
			http.StatusForbidden, "field_not_allowed", "dunning_paused_until"},
		{"the customer lifting a pause", self, oapi.CustomerUpdate{RemoveDunningPause: ptr(true)},
			http.StatusForbidden, "field_not_allowed", "remove_dunning_pause"},
		{"another partner", other, oapi.CustomerUpdate{DunningPausedUntil: &day},
			http.StatusNotFound, "not_found", ""},
		{"a pause and its removal at once", admin, oapi.CustomerUpdate{DunningPausedUntil: &day, RemoveDunningPause: ptr(true)},
			http.StatusBadRequest, "validation_failed", "remove_dunning_pause"},
	}
	t.Run("refused", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				res, err := tt.c.UpdateCustomerWithResponse(ctx, id, nil, tt.body)
				require.NoError(t, err)
				p := requireProblem(t, res.StatusCode(), res.HTTPResponse.Header, res.Body, tt.status, tt.code)
				requireNamed(t, p, tt.field)
				require.JSONEq(t, before, read(), "the customer stays as it was")
			})
		}
		// Read-only fields and malformed days are not input.
		for name, body := range map[string]string{
			"credit_limit_exceeded_at": `{"credit_limit_exceeded_at": "2026-11-01T00:00:00Z"}`,
			"unpaid_balance":           `{"unpaid_balance": {"amount": "0.00", "currency": "USD"}}`,
			"a malformed day":          `{"dunning_paused_until": "2026-12-32"}`,
		} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				status, header, b := raw(t, http.MethodPatch, env.Server.URL+"/v1/customers/"+id.String(), partnerToken, "application/json", body)
				requireProblem(t, status, header, b, http.StatusBadRequest, "validation_failed")
				require.JSONEq(t, before, read(), "the customer stays as it was")
			})
		}
	})

	// The owning partner pauses; the customer reads its pause and what it
	// owes; an admin lifts the pause.
	paused, err := owner.UpdateCustomerWithResponse(ctx, id, nil, oapi.CustomerUpdate{DunningPausedUntil: &day})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, paused.StatusCode(), string(paused.Body))
	require.Equal(t, "2026-12-31", paused.JSON200.DunningPausedUntil.String())
	seen, err := self.GetCustomerWithResponse(ctx, id)
	require.NoError(t, err)
	require.Equal(t, "2026-12-31", seen.JSON200.DunningPausedUntil.String())
	require.Equal(t, oapi.Money{Amount: "0.00", Currency: "USD"}, *seen.JSON200.UnpaidBalance)
	require.Nil(t, seen.JSON200.CreditLimitExceededAt)
	lifted, err := admin.UpdateCustomerWithResponse(ctx, id, nil, oapi.CustomerUpdate{RemoveDunningPause: ptr(true)})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, lifted.StatusCode(), string(lifted.Body))
	require.Nil(t, lifted.JSON200.DunningPausedUntil)
}

// A partner's credit limit is the SP's to set. Each PATCH below breaks one
// rule: refused with its status, code and field, and the partner stays as
// it was. A partner may still rename itself.
func TestPartnerCreditLimitRules(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	admin, _ := env.Admin(t)
	ctx := context.Background()
	id, token := env.PartnerUser(t, nil)
	otherID := env.NewPartner(t)
	self := env.Client(t, token)
	read := func(pid uuid.UUID) string {
		res, err := admin.GetPartnerWithResponse(ctx, pid)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
		return string(res.Body)
	}
	before, otherBefore := read(id), read(otherID)

	tests := []struct {
		name   string
		c      *oapi.ClientWithResponses
		target uuid.UUID
		body   oapi.PartnerUpdate
		status int
		code   string
		field  string
	}{
		{"the partner setting its own limit", self, id, oapi.PartnerUpdate{CreditLimit: usd("1000000.00")},
			http.StatusForbidden, "field_not_allowed", "credit_limit"},
		{"the partner removing its limit", self, id, oapi.PartnerUpdate{RemoveCreditLimit: ptr(true)},
			http.StatusForbidden, "field_not_allowed", "remove_credit_limit"},
		{"the partner changing its vendor login", self, id, oapi.PartnerUpdate{VendorLogin: ptr("another-login")},
			http.StatusForbidden, "field_not_allowed", "vendor_login"},
		{"the partner renaming another partner", self, otherID, oapi.PartnerUpdate{Name: ptr("Taken over")},
			http.StatusNotFound, "not_found", ""},
		{"a negative limit", admin, id, oapi.PartnerUpdate{CreditLimit: usd("-1.00")},
			http.StatusUnprocessableEntity, "negative_amount", "credit_limit.amount"},
		{"a limit in another currency", admin, id, oapi.PartnerUpdate{CreditLimit: &oapi.Money{Amount: "100.00", Currency: "EUR"}},
			http.StatusUnprocessableEntity, "currency_mismatch", "credit_limit.currency"},
		{"a limit with tenths of a cent", admin, id, oapi.PartnerUpdate{CreditLimit: usd("100.005")},
			http.StatusUnprocessableEntity, "amount_too_precise", "credit_limit.amount"},
		{"a limit and its removal at once", admin, id, oapi.PartnerUpdate{CreditLimit: usd("100.00"), RemoveCreditLimit: ptr(true)},
			http.StatusBadRequest, "validation_failed", "remove_credit_limit"},
	}
	t.Run("refused", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				res, err := tt.c.UpdatePartnerWithResponse(ctx, tt.target, nil, tt.body)
				require.NoError(t, err)
				p := requireProblem(t, res.StatusCode(), res.HTTPResponse.Header, res.Body, tt.status, tt.code)
				requireNamed(t, p, tt.field)
				require.JSONEq(t, before, read(id), "the partner stays as it was")
				require.JSONEq(t, otherBefore, read(otherID), "so does the other")
			})
		}
	})

	set, err := admin.UpdatePartnerWithResponse(ctx, id, nil, oapi.PartnerUpdate{CreditLimit: usd("250.00")})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, set.StatusCode(), string(set.Body))
	require.Equal(t, *usd("250.00"), *set.JSON200.CreditLimit)
	require.Equal(t, *usd("0.00"), *set.JSON200.UnpaidBalance)
	require.Nil(t, set.JSON200.CreditLimitExceededAt)

	renamed, err := self.UpdatePartnerWithResponse(ctx, id, nil, oapi.PartnerUpdate{Name: ptr("Renamed " + id.String())})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, renamed.StatusCode(), string(renamed.Body))
	require.Equal(t, *usd("250.00"), *renamed.JSON200.CreditLimit, "the partner reads its limit")
	listed, err := self.ListPartnersWithResponse(ctx, nil)
	require.NoError(t, err)
	require.Len(t, listed.JSON200.Data, 1)
	require.Equal(t, *usd("0.00"), *listed.JSON200.Data[0].UnpaidBalance)

	removed, err := admin.UpdatePartnerWithResponse(ctx, id, nil, oapi.PartnerUpdate{RemoveCreditLimit: ptr(true)})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, removed.StatusCode(), string(removed.Body))
	require.Nil(t, removed.JSON200.CreditLimit)
}

// owed is what the API says a customer or a partner owes, as a decimal.
func owed(t *testing.T, m *oapi.Money) decimal.Decimal {
	t.Helper()
	require.NotNil(t, m, "unpaid_balance is shown")
	d, err := decimal.NewFromString(m.Amount)
	require.NoError(t, err)
	return d
}

// An order is refused with 422 credit_limit_exceeded on every path while
// the ordering customer, or the selling partner, owes more than its credit
// limit (live balances: dunning has not run). Nothing is stored or made at
// the vendor. At the limit exactly, orders go through.
func TestOrdersRefusedAboveCreditLimit(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	// Prepaid and not auto-approved: each order leaves an unpaid first
	// invoice (and, for a partner's sale, an unpaid bill to the partner).
	planID, spToken := s.plan(t, planOpts{partnerVisible: true})

	// Customers who owe one first invoice: one a cent above its limit, one
	// at it.
	owing := func(limit func(decimal.Decimal) decimal.Decimal) (uuid.UUID, string) {
		id := s.env.NewCustomer(t, nil)
		res, err := s.admin.CreateOrderWithResponse(ctx, nil, oapi.OrderCreate{PlanId: planID, Frequency: oapi.Monthly, Username: newLogin(), CustomerId: &id})
		require.NoError(t, err)
		require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
		c, err := s.admin.GetCustomerWithResponse(ctx, id)
		require.NoError(t, err)
		b := owed(t, c.JSON200.UnpaidBalance)
		require.True(t, b.IsPositive(), "the first invoice is unpaid")
		up, err := s.admin.UpdateCustomerWithResponse(ctx, id, nil, oapi.CustomerUpdate{CreditLimit: usd(limit(b).StringFixed(2))})
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, up.StatusCode(), string(up.Body))
		_, token := s.env.CustomerUser(t, &id)
		return id, token
	}
	centBelow := func(b decimal.Decimal) decimal.Decimal { return b.Sub(decimal.New(1, -2)) }
	same := func(b decimal.Decimal) decimal.Decimal { return b }
	overCustomer, overCustomerToken := owing(centBelow)
	atCustomer, atCustomerToken := owing(same)

	// Partners who owe the SP one bill: one above its limit, one at it.
	// Each has a customer of its own (without a limit).
	selling := func(limit func(decimal.Decimal) decimal.Decimal) (oapi.Partner, *oapi.ClientWithResponses, uuid.UUID, string) {
		p, client := s.activePartner(t)
		login := newLogin()
		res, err := client.CreateOrderWithResponse(ctx, nil, oapi.OrderCreate{PlanId: planID, Frequency: oapi.Monthly, Username: login,
			Customer: &oapi.NewCustomer{Name: "Partner customer " + login, Email: oapiEmail(login + "@example.com")}})
		require.NoError(t, err)
		require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
		got, err := s.admin.GetPartnerWithResponse(ctx, p.Id)
		require.NoError(t, err)
		b := owed(t, got.JSON200.UnpaidBalance)
		require.True(t, b.IsPositive(), "the SP's bill to the partner is unpaid")
		up, err := s.admin.UpdatePartnerWithResponse(ctx, p.Id, nil, oapi.PartnerUpdate{CreditLimit: usd(limit(b).StringFixed(2))})
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, up.StatusCode(), string(up.Body))
		customerID := res.JSON202.CustomerId
		_, token := s.env.CustomerUser(t, &customerID)
		return p, client, customerID, token
	}
	overPartner, overPartnerClient, overPartnersCustomer, overPartnersCustomerToken := selling(centBelow)
	atPartner, atPartnerClient, atPartnersCustomer, _ := selling(same)
	overURL := tokens(t, s.admin, planID, overPartner.Id)[oapi.Monthly]
	atURL := tokens(t, s.admin, planID, atPartner.Id)[oapi.Monthly]

	type answer = func() (int, http.Header, []byte)
	storefront := func(token string, body oapi.StorefrontOrderCreate) answer {
		return func() (int, http.Header, []byte) {
			r := place(t, s.env.Client(t, token), body)
			return r.StatusCode(), r.HTTPResponse.Header, r.Body
		}
	}
	order := func(c *oapi.ClientWithResponses, customer *uuid.UUID) answer {
		return func() (int, http.Header, []byte) {
			body := oapi.OrderCreate{PlanId: planID, Frequency: oapi.Monthly, Username: newLogin(), CustomerId: customer}
			if customer == nil {
				body.Customer = &oapi.NewCustomer{Name: "New " + body.Username, Email: oapiEmail(body.Username + "@example.com")}
			}
			r, err := c.CreateOrderWithResponse(ctx, nil, body)
			require.NoError(t, err)
			return r.StatusCode(), r.HTTPResponse.Header, r.Body
		}
	}
	asItself := func(token string) oapi.StorefrontOrderCreate {
		return oapi.StorefrontOrderCreate{Token: token, Username: newLogin()}
	}

	refused := []struct {
		name  string
		do    answer
		field string
	}{
		{"an admin's order for the customer", order(s.admin, &overCustomer), "customer_id"},
		{"the customer on the SP's storefront", storefront(overCustomerToken, asItself(spToken)), "customer_id"},
		{"the partner's order for a new customer", order(overPartnerClient, nil), "partner_id"},
		{"the partner's order for its customer", order(overPartnerClient, &overPartnersCustomer), "partner_id"},
		{"an admin's order for the partner's customer", order(s.admin, &overPartnersCustomer), "partner_id"},
		{"a new customer on the partner's order URL", storefront("", storefrontOrder(overURL, newLogin())), "partner_id"},
		{"the partner's customer on the partner's order URL", storefront(overPartnersCustomerToken, asItself(overURL)), "partner_id"},
	}
	counts := func() [4]int64 {
		return [4]int64{countRows(t, s.env, "orders"), countRows(t, s.env, "services"), countRows(t, s.env, "customers"), countRows(t, s.env, "invoices")}
	}
	before, tenants := counts(), s.vendor.CountTenants("customer")
	t.Run("refused", func(t *testing.T) {
		for _, tt := range refused {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				status, header, body := tt.do()
				p := requireProblem(t, status, header, body, http.StatusUnprocessableEntity, "credit_limit_exceeded")
				requireField(t, p, tt.field)
				require.Equal(t, before, counts(), "nothing stored")
			})
		}
	})
	require.Equal(t, tenants, s.vendor.CountTenants("customer"), "nothing made at the vendor")

	// At the limit exactly is within it: every path goes through.
	accepted := []struct {
		name string
		do   answer
	}{
		{"an admin's order for the customer at its limit", order(s.admin, &atCustomer)},
		{"the customer at its limit on the storefront", storefront(atCustomerToken, asItself(spToken))},
		{"the partner at its limit, for a new customer", order(atPartnerClient, nil)},
		{"an admin's order for that partner's customer", order(s.admin, &atPartnersCustomer)},
		{"a new customer on that partner's order URL", storefront("", storefrontOrder(atURL, newLogin()))},
	}
	// Each accepted order adds to what is owed: the limits follow, so the
	// next order meets balances at their limits again.
	atLimits := func() {
		c, err := s.admin.GetCustomerWithResponse(ctx, atCustomer)
		require.NoError(t, err)
		cu, err := s.admin.UpdateCustomerWithResponse(ctx, atCustomer, nil, oapi.CustomerUpdate{CreditLimit: c.JSON200.UnpaidBalance})
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, cu.StatusCode(), string(cu.Body))
		p, err := s.admin.GetPartnerWithResponse(ctx, atPartner.Id)
		require.NoError(t, err)
		pu, err := s.admin.UpdatePartnerWithResponse(ctx, atPartner.Id, nil, oapi.PartnerUpdate{CreditLimit: p.JSON200.UnpaidBalance})
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, pu.StatusCode(), string(pu.Body))
	}
	for _, tt := range accepted {
		atLimits()
		status, _, body := tt.do()
		require.Equal(t, http.StatusAccepted, status, "%s: %s", tt.name, body)
	}

	// Raising the limit lets the refused customer order again.
	up, err := s.admin.UpdateCustomerWithResponse(ctx, overCustomer, nil, oapi.CustomerUpdate{RemoveCreditLimit: ptr(true)})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, up.StatusCode(), string(up.Body))
	status, _, body := order(s.admin, &overCustomer)()
	require.Equal(t, http.StatusAccepted, status, string(body))
}
