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

// Every id in a request body that must name an existing row is checked:
// 422 `<thing>_not_found` naming the field, never a foreign-key 500, and
// nothing is stored.
func TestUnknownReferencesAre422(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	admin, _ := env.Admin(t)
	tok := adminToken(t, env)
	base := env.Server.URL
	ctx := context.Background()
	c := newChain(t, admin, oapi.None)
	plan := activePlan(t, admin, false, cycle(oapi.Monthly, "10.00"))
	offer := tokens(t, admin, plan)[oapi.Monthly]
	prod, err := admin.CreateProductWithResponse(ctx, nil, oapi.ProductCreate{ProductTypeId: c.ptype, Name: uniq("P")})
	require.NoError(t, err)
	grp, err := admin.CreateProductGroupWithResponse(ctx, nil, oapi.ProductGroupCreate{ProductId: prod.JSON201.Id, Name: uniq("G"), Module: oapi.None})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, grp.StatusCode(), string(grp.Body))
	draft, err := admin.CreatePlanWithResponse(ctx, nil, c.plan("Draft", false))
	require.NoError(t, err)
	cust := env.NewCustomer(t, nil)
	key, err := admin.CreateApiKeyWithResponse(ctx, nil, oapi.ApiKeyCreate{Name: "storefront"})
	require.NoError(t, err)
	missing := uuid.NewString()
	s := func(id uuid.UUID) string { return id.String() }
	// tag marks every name, email and username the refused requests carry,
	// to find anything they stored.
	tag := "ref" + uuid.NewString()[:8]

	tests := []struct {
		name, method, path, body string
		headers                  []string
		code, field              string
	}{
		{"api key for an unknown partner", "POST", "/v1/api-keys", `{"name":"` + tag + `","partner_id":"` + missing + `"}`, nil, "partner_not_found", "partner_id"},
		{"customer of an unknown partner", "POST", "/v1/customers", `{"name":"` + tag + `","email":"` + tag + `@x.example","partner_id":"` + missing + `"}`, nil, "partner_not_found", "partner_id"},
		{"user of an unknown partner", "POST", "/v1/users", `{"email":"` + tag + `1@x.example","name":"` + tag + `","password":"long-enough-pass","role":"partner","partner_id":"` + missing + `"}`, nil, "partner_not_found", "partner_id"},
		{"user of an unknown customer", "POST", "/v1/users", `{"email":"` + tag + `2@x.example","name":"` + tag + `","password":"long-enough-pass","role":"customer","customer_id":"` + missing + `"}`, nil, "customer_not_found", "customer_id"},
		{"order of an unknown plan", "POST", "/v1/orders", `{"plan_id":"` + missing + `","frequency":"monthly","username":"` + tag + newLogin() + `","customer_id":"` + s(cust) + `"}`, []string{"Idempotency-Key", uuid.NewString()}, "plan_not_found", "plan_id"},
		{"order for an unknown customer", "POST", "/v1/orders", `{"plan_id":"` + s(plan) + `","frequency":"monthly","username":"` + tag + newLogin() + `","customer_id":"` + missing + `"}`, []string{"Idempotency-Key", uuid.NewString()}, "customer_not_found", "customer_id"},
		{"storefront order for an unknown customer", "POST", "/v1/storefront/orders", `{"token":"` + offer + `","username":"` + tag + newLogin() + `","customer_id":"` + missing + `"}`, []string{"Idempotency-Key", uuid.NewString(), "Authorization", "Bearer " + key.JSON201.Secret}, "customer_not_found", "customer_id"},
		{"plan in an unknown venture", "POST", "/v1/plans", `{"venture_id":"` + missing + `","product_type_id":"` + s(c.ptype) + `","product_id":"` + s(c.product) + `","product_group_id":"` + s(c.group) + `","name":"` + tag + `"}`, nil, "venture_not_found", "venture_id"},
		{"plan of an unknown product type", "POST", "/v1/plans", `{"venture_id":"` + s(c.venture) + `","product_type_id":"` + missing + `","product_id":"` + s(c.product) + `","product_group_id":"` + s(c.group) + `","name":"` + tag + `"}`, nil, "product_type_not_found", "product_type_id"},
		{"plan of an unknown product", "POST", "/v1/plans", `{"venture_id":"` + s(c.venture) + `","product_type_id":"` + s(c.ptype) + `","product_id":"` + missing + `","product_group_id":"` + s(c.group) + `","name":"` + tag + `"}`, nil, "product_not_found", "product_id"},
		{"plan of an unknown group", "POST", "/v1/plans", `{"venture_id":"` + s(c.venture) + `","product_type_id":"` + s(c.ptype) + `","product_id":"` + s(c.product) + `","product_group_id":"` + missing + `","name":"` + tag + `"}`, nil, "product_group_not_found", "product_group_id"},
		{"plan moved to an unknown venture", "PATCH", "/v1/plans/" + s(draft.JSON201.Id), `{"venture_id":"` + missing + `"}`, nil, "venture_not_found", "venture_id"},
		{"plan moved to an unknown product type", "PATCH", "/v1/plans/" + s(draft.JSON201.Id), `{"product_type_id":"` + missing + `"}`, nil, "product_type_not_found", "product_type_id"},
		{"product of an unknown type", "POST", "/v1/products", `{"product_type_id":"` + missing + `","name":"` + tag + `"}`, nil, "product_type_not_found", "product_type_id"},
		{"product moved to an unknown type", "PATCH", "/v1/products/" + s(prod.JSON201.Id), `{"product_type_id":"` + missing + `"}`, nil, "product_type_not_found", "product_type_id"},
		{"group of an unknown product", "POST", "/v1/product-groups", `{"product_id":"` + missing + `","name":"` + tag + `","module":"none"}`, nil, "product_not_found", "product_id"},
		{"group with an unknown tax", "POST", "/v1/product-groups", `{"product_id":"` + s(c.product) + `","name":"` + tag + `","module":"none","tax_ids":["` + missing + `"]}`, nil, "tax_not_found", "tax_ids"},
		{"group moved to an unknown product", "PATCH", "/v1/product-groups/" + s(grp.JSON201.Id), `{"product_id":"` + missing + `"}`, nil, "product_not_found", "product_id"},
		{"notification with an unknown template", "PUT", "/v1/plans/" + s(draft.JSON201.Id) + "/notification-settings", `{"suspension_days":7,"termination_days":30,"suspension_template_id":"` + missing + `"}`, nil, "template_not_found", "suspension_template_id"},
	}
	t.Run("cases", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				status, h, body := raw(t, tt.method, base+tt.path, tok, "application/json", tt.body, tt.headers...)
				p := requireProblem(t, status, h, body, http.StatusUnprocessableEntity, tt.code)
				require.NotEmpty(t, p.Errors, string(body))
				require.Equal(t, tt.field, p.Errors[0].Field, string(body))
				require.Equal(t, tt.code, p.Errors[0].Code, string(body))
			})
		}
	})
	for table, column := range map[string]string{"api_keys": "name", "customers": "name", "users": "name", "orders": "username",
		"services": "username", "plans": "name", "products": "name", "product_groups": "name"} {
		var n int64
		require.NoError(t, env.App.DB.Gorm.Table(table).Where(column+" LIKE ?", tag+"%").Count(&n).Error)
		require.Zero(t, n, "a refused request stored a row in %s", table)
	}
}
