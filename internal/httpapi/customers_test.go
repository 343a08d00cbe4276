package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/app/apptest"
)

func newCustomerBody() oapi.CustomerCreate {
	return oapi.CustomerCreate{Name: "Contoso " + uuid.NewString()[:8], Email: oapiEmail(uuid.NewString() + "@contoso.example"),
		Country: ptr("GB"), CreditLimit: &oapi.Money{Amount: "500.00", Currency: "USD"}}
}

func TestCustomers(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	admin, _ := env.Admin(t)
	ctx := context.Background()
	partnerID, tok := env.PartnerUser(t, nil)
	partner := env.Client(t, tok)

	direct, err := admin.CreateCustomerWithResponse(ctx, nil, newCustomerBody())
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, direct.StatusCode(), string(direct.Body))
	require.Nil(t, direct.JSON201.PartnerId)
	require.Equal(t, "USD", direct.JSON201.Currency, "the base currency by default")
	require.Equal(t, "500.00", direct.JSON201.CreditLimit.Amount)

	own, err := partner.CreateCustomerWithResponse(ctx, nil, newCustomerBody())
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, own.StatusCode(), string(own.Body))
	require.Equal(t, partnerID, *own.JSON201.PartnerId, "a partner's customers are its own")
	forPartner := newCustomerBody()
	forPartner.PartnerId = &partnerID
	byAdmin, err := admin.CreateCustomerWithResponse(ctx, nil, forPartner)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, byAdmin.StatusCode(), string(byAdmin.Body))

	// The same email may buy from the SP and from a partner, once each.
	sameEmail := newCustomerBody()
	sameEmail.Email = oapiEmail(strings.ToUpper(string(direct.JSON201.Email)))
	again, err := partner.CreateCustomerWithResponse(ctx, nil, sameEmail)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, again.StatusCode(), string(again.Body))

	with := func(change func(*oapi.CustomerCreate)) oapi.CustomerCreate {
		b := newCustomerBody()
		change(&b)
		return b
	}
	t.Run("refused", func(t *testing.T) {
		tests := []struct {
			name   string
			as     *oapi.ClientWithResponses
			body   oapi.CustomerCreate
			status int
			code   string
			field  string
		}{
			{"email taken at this seller", admin, with(func(b *oapi.CustomerCreate) { b.Email = direct.JSON201.Email }), http.StatusConflict, "customer_email_taken", "email"},
			{"another currency", admin, with(func(b *oapi.CustomerCreate) { b.Currency = ptr("EUR") }), http.StatusUnprocessableEntity, "currency_not_supported", "currency"},
			{"negative credit limit", admin, with(func(b *oapi.CustomerCreate) { b.CreditLimit.Amount = "-1.00" }), http.StatusUnprocessableEntity, "negative_amount", "credit_limit.amount"},
			{"credit limit too precise", admin, with(func(b *oapi.CustomerCreate) { b.CreditLimit.Amount = "1.001" }), http.StatusUnprocessableEntity, "amount_too_precise", "credit_limit.amount"},
			{"credit limit in another currency", admin, with(func(b *oapi.CustomerCreate) { b.CreditLimit.Currency = "EUR" }), http.StatusUnprocessableEntity, "currency_mismatch", "credit_limit.currency"},
			{"unknown partner", admin, with(func(b *oapi.CustomerCreate) { b.PartnerId = ptr(uuid.New()) }), http.StatusUnprocessableEntity, "partner_not_found", "partner_id"},
			{"partner sells for another", partner, with(func(b *oapi.CustomerCreate) { b.PartnerId = ptr(uuid.New()) }), http.StatusForbidden, "partner_not_allowed", "partner_id"},
			{"bad country", admin, with(func(b *oapi.CustomerCreate) { b.Country = ptr("Britain") }), http.StatusBadRequest, "validation_failed", "country"},
			{"blank name", admin, with(func(b *oapi.CustomerCreate) { b.Name = " " }), http.StatusBadRequest, "validation_failed", "name"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				res, err := tt.as.CreateCustomerWithResponse(ctx, nil, tt.body)
				require.NoError(t, err)
				p := requireProblem(t, res.StatusCode(), res.HTTPResponse.Header, res.Body, tt.status, tt.code)
				require.NotEmpty(t, p.Errors, string(res.Body))
				require.Equal(t, tt.field, p.Errors[0].Field)
				require.NoError(t, err)
				found, err := admin.ListCustomersWithResponse(ctx, &oapi.ListCustomersParams{Email: ptr(string(tt.body.Email))})
				require.NoError(t, err)
				if tt.code != "customer_email_taken" {
					require.Empty(t, found.JSON200.Data, "a refused create stores nothing")
				}
			})
		}
	})

	// Lists and filters.
	directOnly, err := admin.ListCustomersWithResponse(ctx, &oapi.ListCustomersParams{Direct: ptr(true), Limit: ptr(200)})
	require.NoError(t, err)
	for _, c := range directOnly.JSON200.Data {
		require.Nil(t, c.PartnerId)
	}
	ofPartner, err := admin.ListCustomersWithResponse(ctx, &oapi.ListCustomersParams{PartnerId: &partnerID})
	require.NoError(t, err)
	require.Len(t, ofPartner.JSON200.Data, 3)
	mine, err := partner.ListCustomersWithResponse(ctx, nil)
	require.NoError(t, err)
	require.Len(t, mine.JSON200.Data, 3)

	// A customer sees itself and edits its contact details only.
	custID := own.JSON201.Id
	_, ctok := env.CustomerUser(t, &custID)
	me := env.Client(t, ctok)
	list, err := me.ListCustomersWithResponse(ctx, nil)
	require.NoError(t, err)
	require.Len(t, list.JSON200.Data, 1)
	require.Equal(t, custID, list.JSON200.Data[0].Id)
	other, err := me.GetCustomerWithResponse(ctx, direct.JSON201.Id)
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, other.StatusCode())
	phone, err := me.UpdateCustomerWithResponse(ctx, custID, nil, oapi.CustomerUpdate{Phone: ptr("+44 1")})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, phone.StatusCode(), string(phone.Body))
	raise, err := me.UpdateCustomerWithResponse(ctx, custID, nil, oapi.CustomerUpdate{CreditLimit: &oapi.Money{Amount: "99999.00", Currency: "USD"}})
	require.NoError(t, err)
	requireProblem(t, raise.StatusCode(), raise.HTTPResponse.Header, raise.Body, http.StatusForbidden, "field_not_allowed")
	create, err := me.CreateCustomerWithResponse(ctx, nil, newCustomerBody())
	require.NoError(t, err)
	require.Equal(t, http.StatusForbidden, create.StatusCode())

	// The seller changes the credit limit, at a version; a stale one is 412.
	stale, err := partner.UpdateCustomerWithResponse(ctx, custID, &oapi.UpdateCustomerParams{IfMatch: ptr(`"1"`)},
		oapi.CustomerUpdate{CreditLimit: &oapi.Money{Amount: "750.00", Currency: "USD"}})
	require.NoError(t, err)
	require.Equal(t, http.StatusPreconditionFailed, stale.StatusCode())
	raised, err := partner.UpdateCustomerWithResponse(ctx, custID, &oapi.UpdateCustomerParams{IfMatch: ptr(`"2"`)},
		oapi.CustomerUpdate{CreditLimit: &oapi.Money{Amount: "750.00", Currency: "USD"}})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, raised.StatusCode(), string(raised.Body))
	require.Equal(t, "750.00", raised.JSON200.CreditLimit.Amount)
	both, err := partner.UpdateCustomerWithResponse(ctx, custID, nil,
		oapi.CustomerUpdate{CreditLimit: &oapi.Money{Amount: "1.00", Currency: "USD"}, RemoveCreditLimit: ptr(true)})
	require.NoError(t, err)
	require.Equal(t, http.StatusBadRequest, both.StatusCode())
	removed, err := partner.UpdateCustomerWithResponse(ctx, custID, nil, oapi.CustomerUpdate{RemoveCreditLimit: ptr(true)})
	require.NoError(t, err)
	require.Nil(t, removed.JSON200.CreditLimit, "no credit limit")
	taken, err := admin.UpdateCustomerWithResponse(ctx, byAdmin.JSON201.Id, nil, oapi.CustomerUpdate{Email: &own.JSON201.Email})
	require.NoError(t, err)
	require.Equal(t, http.StatusConflict, taken.StatusCode())
	closed, err := admin.UpdateCustomerWithResponse(ctx, custID, nil, oapi.CustomerUpdate{Status: ptr(oapi.CustomerStatusClosed)})
	require.NoError(t, err)
	require.Equal(t, oapi.CustomerStatusClosed, closed.JSON200.Status)
}
