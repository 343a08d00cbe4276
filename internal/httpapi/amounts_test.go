package httpapi_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/app/apptest"
)

// Amounts the platform would compute beyond what it stores (999999999999.99)
// are 422 amount_too_large naming the input at fault, and store nothing.
func TestAmountsThatDoNotFitAre422(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	admin, _ := env.Admin(t)
	tok := adminToken(t, env)
	ctx := context.Background()
	base := env.Server.URL

	// quantityPlan is an active prepaid plan with a quantity, priced per
	// month with a setup fee, in a group with the given taxes.
	quantityPlan := func(t *testing.T, price, setup string, taxes ...string) uuid.UUID {
		t.Helper()
		c := newChain(t, admin, oapi.None)
		if len(taxes) > 0 {
			var ids []uuid.UUID
			for _, rate := range taxes {
				tx, err := admin.CreateTaxWithResponse(ctx, nil, oapi.TaxCreate{Name: uniq("Tax"), Rate: rate})
				require.NoError(t, err)
				require.Equal(t, http.StatusCreated, tx.StatusCode(), string(tx.Body))
				ids = append(ids, tx.JSON201.Id)
			}
			g, err := admin.UpdateProductGroupWithResponse(ctx, c.group, nil, oapi.ProductGroupUpdate{TaxIds: &ids})
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, g.StatusCode(), string(g.Body))
		}
		p, err := admin.CreatePlanWithResponse(ctx, nil, c.plan(uniq("Big"), true))
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, p.StatusCode(), string(p.Body))
		pr := pricing(oapi.BillingModelPrepaid, withFee(cycle(oapi.Monthly, price), setup))
		pr.EnableQuantity = ptr(true)
		res, err := admin.SetPlanPricingWithResponse(ctx, p.JSON201.Id, pr)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
		return p.JSON201.Id
	}
	priciest := quantityPlan(t, "999999999.99", "0.00")
	huge := quantityPlan(t, "999999999999.99", "0.01")
	taxed := quantityPlan(t, "600000000000.00", "0.00", "100")
	fine := quantityPlan(t, "999999999.99", "0.00")
	offer := tokens(t, admin, priciest)[oapi.Monthly]
	partnerID := env.NewPartner(t)
	_, partnerTok := env.PartnerUser(t, &partnerID)
	cust := env.NewCustomer(t, nil)
	// tag marks the usernames and emails of the refused requests, to find
	// anything they stored.
	tag := "amt" + uuid.NewString()[:8]
	order := func(plan uuid.UUID, quantity int) string {
		return `{"plan_id":"` + plan.String() + `","frequency":"monthly","username":"` + tag + newLogin() + `","quantity":` + itoa(int64(quantity)) + `,"customer_id":"` + cust.String() + `"}`
	}

	tests := []struct {
		name, method, path, token, body string
		idempotent                      bool
		status                          int
		code, field                     string
	}{
		{"anonymous order of 1001 at 999,999,999.99", "POST", "/v1/storefront/orders", "",
			`{"token":"` + offer + `","username":"` + tag + newLogin() + `","quantity":1001,"customer":{"name":"Big Buyer","email":"` + tag + `@buyer.example"}}`,
			true, 422, "amount_too_large", "quantity"},
		{"order of 10000 at 999,999,999.99", "POST", "/v1/orders", tok, order(priciest, 10000), true, 422, "amount_too_large", "quantity"},
		{"price plus setup fee", "POST", "/v1/orders", tok, order(huge, 1), true, 422, "amount_too_large", "quantity"},
		{"total with 100% tax", "POST", "/v1/orders", tok, order(taxed, 1), true, 422, "amount_too_large", "quantity"},
		{"a markup that fits", "PUT", "/v1/partners/" + partnerID.String() + "/plans/" + priciest.String() + "/pricing", partnerTok,
			`{"markup_percent":"1000"}`, false, 200, "", ""},
		{"markup on the largest price", "PUT", "/v1/partners/" + partnerID.String() + "/plans/" + huge.String() + "/pricing", partnerTok,
			`{"markup_percent":"0.01"}`, false, 422, "amount_too_large", "markup_percent"},
		{"amount with 13 digits", "PUT", "/v1/plans/" + fine.String() + "/pricing", tok,
			`{"billing_model":"prepaid","cycles":[{"frequency":"monthly","price":{"amount":"1000000000000.00","currency":"USD"}}]}`, false, 400, "validation_failed", "cycles.0.price.amount"},
		{"quantity past the bound", "POST", "/v1/orders", tok, order(fine, 10001), true, 400, "validation_failed", "quantity"},
	}
	t.Run("cases", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				var headers []string
				if tt.idempotent {
					headers = []string{"Idempotency-Key", uuid.NewString()}
				}
				status, h, body := raw(t, tt.method, base+tt.path, tt.token, "application/json", tt.body, headers...)
				if tt.code == "" {
					require.Equal(t, tt.status, status, string(body))
					return
				}
				p := requireProblem(t, status, h, body, tt.status, tt.code)
				require.NotEmpty(t, p.Errors, string(body))
				require.Equal(t, tt.field, p.Errors[0].Field, string(body))
			})
		}
	})
	db := env.App.DB.Gorm
	for _, table := range []string{"orders", "services"} {
		var n int64
		require.NoError(t, db.Table(table).Where("username LIKE ?", tag+"%").Count(&n).Error)
		require.Zero(t, n, "a refused order stored a row in %s", table)
	}
	var n int64
	require.NoError(t, db.Table("customers").Where("email LIKE ?", tag+"%").Count(&n).Error)
	require.Zero(t, n, "a refused order stored its customer")
	require.NoError(t, db.Table("invoices").Where("customer_id = ?", cust).Count(&n).Error)
	require.Zero(t, n, "a refused order was invoiced")
	var markups []string
	require.NoError(t, db.Table("partner_plan_pricing").Where("partner_id = ?", partnerID).Order("plan_id").
		Pluck("markup_percent::text", &markups).Error)
	require.Equal(t, []string{"1000.0000"}, markups, "only the markup that fits is stored")
}
