package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/app/apptest"
	"github.com/acronis-platform/platform/internal/auth"
)

func uniq(prefix string) string { return prefix + " " + uuid.NewString()[:8] }

func TestCatalogChainAndDeletes(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	admin, _ := env.Admin(t)
	ctx := context.Background()

	pt, err := admin.CreateProductTypeWithResponse(ctx, nil, oapi.ProductTypeCreate{Name: uniq("Backup")})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, pt.StatusCode(), string(pt.Body))
	require.Equal(t, `"1"`, pt.HTTPResponse.Header.Get("ETag"))
	prod, err := admin.CreateProductWithResponse(ctx, nil, oapi.ProductCreate{ProductTypeId: pt.JSON201.Id, Name: "Cyber Protect"})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, prod.StatusCode(), string(prod.Body))
	tax, err := admin.CreateTaxWithResponse(ctx, nil, oapi.TaxCreate{Name: "VAT", Rate: "20"})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, tax.StatusCode(), string(tax.Body))
	require.Equal(t, "20.00", tax.JSON201.Rate)
	taxes := []uuid.UUID{tax.JSON201.Id}
	grp, err := admin.CreateProductGroupWithResponse(ctx, nil, oapi.ProductGroupCreate{ProductId: prod.JSON201.Id, Name: "Acronis Cyber Protect", Module: oapi.Acronis, TaxIds: &taxes})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, grp.StatusCode(), string(grp.Body))
	got, err := admin.GetProductGroupWithResponse(ctx, grp.JSON201.Id)
	require.NoError(t, err)
	require.Equal(t, taxes, *got.JSON200.TaxIds)

	list, err := admin.ListProductsWithResponse(ctx, &oapi.ListProductsParams{ProductTypeId: &pt.JSON201.Id})
	require.NoError(t, err)
	require.Len(t, list.JSON200.Data, 1)

	inUse := []struct {
		name string
		del  func() (int, []byte)
	}{
		{"type with products", func() (int, []byte) {
			r, err := admin.DeleteProductTypeWithResponse(ctx, pt.JSON201.Id, nil)
			require.NoError(t, err)
			return r.StatusCode(), r.Body
		}},
		{"product with groups", func() (int, []byte) {
			r, err := admin.DeleteProductWithResponse(ctx, prod.JSON201.Id, nil)
			require.NoError(t, err)
			return r.StatusCode(), r.Body
		}},
		{"tax of a group", func() (int, []byte) {
			r, err := admin.DeleteTaxWithResponse(ctx, tax.JSON201.Id, nil)
			require.NoError(t, err)
			return r.StatusCode(), r.Body
		}},
	}
	for _, tt := range inUse {
		status, body := tt.del()
		require.Equal(t, http.StatusConflict, status, tt.name)
		require.Contains(t, string(body), `"code":"in_use"`, tt.name)
	}

	// Taking the tax off the group frees it.
	none := []uuid.UUID{}
	upd, err := admin.UpdateProductGroupWithResponse(ctx, grp.JSON201.Id, &oapi.UpdateProductGroupParams{IfMatch: ptr(`"1"`)}, oapi.ProductGroupUpdate{TaxIds: &none})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, upd.StatusCode(), string(upd.Body))
	require.Empty(t, *upd.JSON200.TaxIds)
	require.Equal(t, int64(2), upd.JSON200.Version)
	for _, del := range []func() (*http.Response, error){
		func() (*http.Response, error) {
			r, err := admin.DeleteTaxWithResponse(ctx, tax.JSON201.Id, nil)
			return r.HTTPResponse, err
		},
		func() (*http.Response, error) {
			r, err := admin.DeleteProductGroupWithResponse(ctx, grp.JSON201.Id, nil)
			return r.HTTPResponse, err
		},
		func() (*http.Response, error) {
			r, err := admin.DeleteProductWithResponse(ctx, prod.JSON201.Id, nil)
			return r.HTTPResponse, err
		},
		func() (*http.Response, error) {
			r, err := admin.DeleteProductTypeWithResponse(ctx, pt.JSON201.Id, nil)
			return r.HTTPResponse, err
		},
	} {
		res, err := del()
		require.NoError(t, err)
		require.Equal(t, http.StatusNoContent, res.StatusCode)
	}
	gone, err := admin.GetProductTypeWithResponse(ctx, pt.JSON201.Id)
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, gone.StatusCode())
}

func TestCatalogRules(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	admin, _ := env.Admin(t)
	tok := env.Login(t, env.NewUser(t, auth.RoleAdmin, nil, nil))
	ctx := context.Background()
	typeName := uniq("Type")
	pt, err := admin.CreateProductTypeWithResponse(ctx, nil, oapi.ProductTypeCreate{Name: typeName})
	require.NoError(t, err)
	prod, err := admin.CreateProductWithResponse(ctx, nil, oapi.ProductCreate{ProductTypeId: pt.JSON201.Id, Name: "Product"})
	require.NoError(t, err)
	prefix := strings.ToUpper(uuid.NewString()[:6])
	v, err := admin.CreateVentureWithResponse(ctx, nil, oapi.VentureCreate{Name: "Venture", InvoicePrefix: prefix})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, v.StatusCode(), string(v.Body))
	missing := uuid.NewString()

	tests := []struct {
		name, path, body string
		status           int
		code             string
	}{
		{"tax above 100", "/v1/taxes", `{"name":"T","rate":"100.01"}`, 422, "tax_rate_out_of_range"},
		{"tax not a number", "/v1/taxes", `{"name":"T","rate":"twenty"}`, 400, "validation_failed"},
		{"tax as a JSON number", "/v1/taxes", `{"name":"T","rate":20}`, 400, "validation_failed"},
		{"tax too precise", "/v1/taxes", `{"name":"T","rate":"1.23456"}`, 400, "validation_failed"},
		{"blank name", "/v1/product-types", `{"name":"   "}`, 400, "validation_failed"},
		{"type name taken in other case", "/v1/product-types", `{"name":"` + strings.ToUpper(typeName) + `"}`, 409, "product_type_taken"},
		{"product of unknown type", "/v1/products", `{"product_type_id":"` + missing + `","name":"P"}`, 422, "product_type_not_found"},
		{"product name taken in its type", "/v1/products", `{"product_type_id":"` + pt.JSON201.Id.String() + `","name":"product"}`, 409, "product_taken"},
		{"group of unknown product", "/v1/product-groups", `{"product_id":"` + missing + `","name":"G","module":"none"}`, 422, "product_not_found"},
		{"group with unknown tax", "/v1/product-groups", `{"product_id":"` + prod.JSON201.Id.String() + `","name":"G","module":"none","tax_ids":["` + missing + `"]}`, 422, "tax_not_found"},
		{"group with unknown module", "/v1/product-groups", `{"product_id":"` + prod.JSON201.Id.String() + `","name":"G","module":"plesk"}`, 400, "validation_failed"},
		{"venture prefix taken", "/v1/ventures", `{"name":"Other","invoice_prefix":"` + prefix + `"}`, 409, "invoice_prefix_taken"},
		{"venture prefix lower case", "/v1/ventures", `{"name":"Other","invoice_prefix":"bkp"}`, 400, "validation_failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status, h, body := raw(t, "POST", env.Server.URL+tt.path, tok, "application/json", tt.body)
			requireProblem(t, status, h, body, tt.status, tt.code)
		})
	}

	stale, err := admin.UpdateVentureWithResponse(ctx, v.JSON201.Id, &oapi.UpdateVentureParams{IfMatch: ptr(`"9"`)}, oapi.VentureUpdate{Name: ptr("Renamed")})
	require.NoError(t, err)
	require.Equal(t, http.StatusPreconditionFailed, stale.StatusCode())
	ok, err := admin.UpdateVentureWithResponse(ctx, v.JSON201.Id, &oapi.UpdateVentureParams{IfMatch: ptr(`"1"`)}, oapi.VentureUpdate{Name: ptr("Renamed")})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, ok.StatusCode())
	require.Equal(t, "Renamed", ok.JSON200.Name)
	require.Equal(t, int64(2), ok.JSON200.Version)
}

func TestCatalogRoles(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	ctx := context.Background()
	partnerID := env.NewPartner(t)
	partner := env.Client(t, env.Login(t, env.NewUser(t, auth.RolePartner, &partnerID, nil)))
	customer := env.Client(t, env.Login(t, env.NewUser(t, auth.RoleCustomer, nil, ptr(env.NewCustomer(t, nil)))))

	read, err := partner.ListProductTypesWithResponse(ctx, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, read.StatusCode(), "partners read the catalog")
	write, err := partner.CreateProductTypeWithResponse(ctx, nil, oapi.ProductTypeCreate{Name: uniq("P")})
	require.NoError(t, err)
	require.Equal(t, http.StatusForbidden, write.StatusCode(), "only admins write it")
	cust, err := customer.ListTaxesWithResponse(ctx, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusForbidden, cust.StatusCode())
	var p problem
	require.NoError(t, json.Unmarshal(cust.Body, &p))
	require.Equal(t, "forbidden", p.Code)
}
