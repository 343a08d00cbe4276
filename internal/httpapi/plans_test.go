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
	"github.com/acronis-platform/platform/internal/auth"
)

// chain is a venture, type, product and group to hang plans on.
type chain struct {
	venture, ptype, product, group uuid.UUID
}

func newChain(t *testing.T, admin *oapi.ClientWithResponses, module oapi.Module) chain {
	t.Helper()
	ctx := context.Background()
	v, err := admin.CreateVentureWithResponse(ctx, nil, oapi.VentureCreate{Name: "V", InvoicePrefix: strings.ToUpper(uuid.NewString()[:8])})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, v.StatusCode(), string(v.Body))
	pt, err := admin.CreateProductTypeWithResponse(ctx, nil, oapi.ProductTypeCreate{Name: uniq("T")})
	require.NoError(t, err)
	p, err := admin.CreateProductWithResponse(ctx, nil, oapi.ProductCreate{ProductTypeId: pt.JSON201.Id, Name: "P"})
	require.NoError(t, err)
	g, err := admin.CreateProductGroupWithResponse(ctx, nil, oapi.ProductGroupCreate{ProductId: p.JSON201.Id, Name: "G", Module: module})
	require.NoError(t, err)
	return chain{v.JSON201.Id, pt.JSON201.Id, p.JSON201.Id, g.JSON201.Id}
}

func (c chain) plan(name string, partnerVisible bool) oapi.PlanCreate {
	return oapi.PlanCreate{VentureId: c.venture, ProductTypeId: c.ptype, ProductId: c.product, ProductGroupId: c.group,
		Name: name, PartnerVisible: &partnerVisible}
}

func TestPlanChain(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	admin, _ := env.Admin(t)
	ctx := context.Background()
	a, b := newChain(t, admin, oapi.None), newChain(t, admin, oapi.None)
	tests := []struct {
		name string
		body oapi.PlanCreate
		code string
	}{
		{"product of another type", oapi.PlanCreate{VentureId: a.venture, ProductTypeId: b.ptype, ProductId: a.product, ProductGroupId: a.group, Name: "X"}, "plan_chain_broken"},
		{"group of another product", oapi.PlanCreate{VentureId: a.venture, ProductTypeId: a.ptype, ProductId: a.product, ProductGroupId: b.group, Name: "X"}, "plan_chain_broken"},
		{"unknown venture", oapi.PlanCreate{VentureId: uuid.New(), ProductTypeId: a.ptype, ProductId: a.product, ProductGroupId: a.group, Name: "X"}, "venture_not_found"},
		{"unknown group", oapi.PlanCreate{VentureId: a.venture, ProductTypeId: a.ptype, ProductId: a.product, ProductGroupId: uuid.New(), Name: "X"}, "product_group_not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := admin.CreatePlanWithResponse(ctx, nil, tt.body)
			require.NoError(t, err)
			require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode(), string(res.Body))
			require.Equal(t, tt.code, res.ApplicationproblemJSON422.Code)
		})
	}
	ok, err := admin.CreatePlanWithResponse(ctx, nil, a.plan("Good", false))
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, ok.StatusCode(), string(ok.Body))
	require.Equal(t, oapi.PlanStatusDraft, ok.JSON201.Status)

	// Moving it to the other chain's group alone breaks the chain.
	moved, err := admin.UpdatePlanWithResponse(ctx, ok.JSON201.Id, nil, oapi.PlanUpdate{ProductGroupId: &b.group})
	require.NoError(t, err)
	require.Equal(t, http.StatusUnprocessableEntity, moved.StatusCode())
}

func pricing(model oapi.BillingModel, cycles ...oapi.PlanCycle) oapi.PlanPricing {
	return oapi.PlanPricing{BillingModel: model, Cycles: append([]oapi.PlanCycle{}, cycles...)}
}

func cycle(freq oapi.BillingFrequency, amount string) oapi.PlanCycle {
	return oapi.PlanCycle{Frequency: freq, Price: oapi.Money{Amount: amount, Currency: "USD"}}
}

func TestPlanPricingRules(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	admin, _ := env.Admin(t)
	ctx := context.Background()
	c := newChain(t, admin, oapi.None)
	plan, err := admin.CreatePlanWithResponse(ctx, nil, c.plan("Priced", false))
	require.NoError(t, err)
	id := plan.JSON201.Id
	usd := func(a string) oapi.Money { return oapi.Money{Amount: a, Currency: "USD"} }
	charges := &[]oapi.MeteredCharge{{OfferingItem: "pw_base_storage", UnitPrice: usd("0.10")}}
	tests := []struct {
		name string
		body oapi.PlanPricing
		code string
	}{
		{"no cycle", pricing(oapi.BillingModelPrepaid), "cycles_required"},
		{"frequency twice", pricing(oapi.BillingModelPrepaid, cycle(oapi.Monthly, "10.00"), cycle(oapi.Monthly, "9.00")), "duplicate_frequency"},
		{"negative price", pricing(oapi.BillingModelPrepaid, cycle(oapi.Monthly, "-1.00")), "negative_amount"},
		{"three decimals", pricing(oapi.BillingModelPrepaid, cycle(oapi.Monthly, "9.999")), "amount_too_precise"},
		{"other currency", pricing(oapi.BillingModelPrepaid, oapi.PlanCycle{Frequency: oapi.Monthly, Price: oapi.Money{Amount: "1.00", Currency: "EUR"}}), "currency_mismatch"},
		{"metered charges on prepaid", func() oapi.PlanPricing {
			p := pricing(oapi.BillingModelPrepaid, cycle(oapi.Monthly, "1.00"))
			p.MeteredCharges = charges
			return p
		}(), "metered_charges_require_payg"},
		{"one item charged twice", func() oapi.PlanPricing {
			p := pricing(oapi.BillingModelPostpaidPayg, cycle(oapi.Monthly, "1.00"))
			p.MeteredCharges = &[]oapi.MeteredCharge{{OfferingItem: "pw_base_storage", UnitPrice: usd("0.10")}, {OfferingItem: "pw_base_storage", UnitPrice: usd("0.20")}}
			return p
		}(), "duplicate_metered_charge"},
		{"overage price without hard quota", func() oapi.PlanPricing {
			p := pricing(oapi.BillingModelPrepaid, cycle(oapi.Monthly, "1.00"))
			o := usd("0.05")
			p.OveragePricePerGb = &o
			return p
		}(), "overage_price_requires_hard_quota"},
	}
	t.Run("refused", func(t *testing.T) { // all done before the checks below
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				res, err := admin.SetPlanPricingWithResponse(ctx, id, tt.body)
				require.NoError(t, err)
				require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode(), string(res.Body))
				require.Equal(t, tt.code, res.ApplicationproblemJSON422.Code)
			})
		}
	})
	t.Run("nothing was saved", func(t *testing.T) {
		res, err := admin.GetPlanPricingWithResponse(ctx, id)
		require.NoError(t, err)
		require.Equal(t, http.StatusNotFound, res.StatusCode())
	})

	payg := pricing(oapi.BillingModelPostpaidPayg, cycle(oapi.Monthly, "0"), cycle(oapi.Annually, "100.5"))
	payg.MeteredCharges = charges
	set, err := admin.SetPlanPricingWithResponse(ctx, id, payg)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, set.StatusCode(), string(set.Body))
	got, err := admin.GetPlanPricingWithResponse(ctx, id)
	require.NoError(t, err)
	require.Equal(t, "0.00", got.JSON200.Cycles[0].Price.Amount)
	require.Equal(t, "100.50", got.JSON200.Cycles[1].Price.Amount, "money is two places on the wire")
	require.Equal(t, oapi.Max, *(*got.JSON200.MeteredCharges)[0].Aggregation, "max is the default aggregation")

	// A plan without a module is active once priced.
	after, err := admin.GetPlanWithResponse(ctx, id)
	require.NoError(t, err)
	require.Equal(t, oapi.PlanStatusActive, after.JSON200.Status)
}

func TestPlanStatusAndVisibility(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	admin, _ := env.Admin(t)
	ctx := context.Background()
	c := newChain(t, admin, oapi.Acronis)
	visible, err := admin.CreatePlanWithResponse(ctx, nil, c.plan("For partners", true))
	require.NoError(t, err)
	hidden, err := admin.CreatePlanWithResponse(ctx, nil, c.plan("SP only", false))
	require.NoError(t, err)

	// An Acronis plan stays a draft with pricing alone.
	_, err = admin.SetPlanPricingWithResponse(ctx, visible.JSON201.Id, pricing(oapi.BillingModelPrepaid, cycle(oapi.Monthly, "5.00")))
	require.NoError(t, err)
	p, err := admin.GetPlanWithResponse(ctx, visible.JSON201.Id)
	require.NoError(t, err)
	require.Equal(t, oapi.PlanStatusDraft, p.JSON200.Status)

	partnerID := env.NewPartner(t)
	partner := env.Client(t, env.Login(t, env.NewUser(t, auth.RolePartner, &partnerID, nil)))
	list, err := partner.ListPlansWithResponse(ctx, &oapi.ListPlansParams{ProductGroupId: &c.group})
	require.NoError(t, err)
	require.Len(t, list.JSON200.Data, 1)
	require.Equal(t, visible.JSON201.Id, list.JSON200.Data[0].Id)
	g, err := partner.GetPlanWithResponse(ctx, hidden.JSON201.Id)
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, g.StatusCode(), "a plan partners may not sell is not found")
	w, err := partner.SetPlanPricingWithResponse(ctx, visible.JSON201.Id, pricing(oapi.BillingModelPrepaid, cycle(oapi.Monthly, "1.00")))
	require.NoError(t, err)
	require.Equal(t, http.StatusForbidden, w.StatusCode())

	activate := oapi.PlanStatusActive
	bad, err := admin.UpdatePlanWithResponse(ctx, hidden.JSON201.Id, nil, oapi.PlanUpdate{Status: &activate})
	require.NoError(t, err)
	require.Equal(t, http.StatusUnprocessableEntity, bad.StatusCode())
	require.Equal(t, "invalid_status_change", bad.ApplicationproblemJSON422.Code)
	retire := oapi.PlanStatusRetired
	stale, err := admin.UpdatePlanWithResponse(ctx, hidden.JSON201.Id, &oapi.UpdatePlanParams{IfMatch: ptr("5")}, oapi.PlanUpdate{Status: &retire})
	require.NoError(t, err)
	require.Equal(t, http.StatusPreconditionFailed, stale.StatusCode())
	ret, err := admin.UpdatePlanWithResponse(ctx, hidden.JSON201.Id, &oapi.UpdatePlanParams{IfMatch: ptr("1")}, oapi.PlanUpdate{Status: &retire})
	require.NoError(t, err)
	require.Equal(t, oapi.PlanStatusRetired, ret.JSON200.Status)
	back := oapi.PlanStatusDraft
	again, err := admin.UpdatePlanWithResponse(ctx, hidden.JSON201.Id, nil, oapi.PlanUpdate{Status: &back})
	require.NoError(t, err)
	require.Equal(t, http.StatusUnprocessableEntity, again.StatusCode(), "retired stays retired")

	// A group with plans cannot be deleted; the plan can.
	dg, err := admin.DeleteProductGroupWithResponse(ctx, c.group, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusConflict, dg.StatusCode())
	for _, id := range []uuid.UUID{visible.JSON201.Id, hidden.JSON201.Id} {
		d, err := admin.DeletePlanWithResponse(ctx, id, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusNoContent, d.StatusCode())
	}
}

func TestPlanNotificationSettings(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	admin, _ := env.Admin(t)
	ctx := context.Background()
	c := newChain(t, admin, oapi.None)
	plan, err := admin.CreatePlanWithResponse(ctx, nil, c.plan("Notified", false))
	require.NoError(t, err)
	tpl, err := admin.CreateEmailTemplateWithResponse(ctx, nil, oapi.EmailTemplateCreate{Name: uniq("Suspended"), Subject: "Suspended", Body: "{{.Service.Name}} is suspended."})
	require.NoError(t, err)
	id := plan.JSON201.Id
	missing := uuid.New()

	none, err := admin.GetPlanNotificationSettingsWithResponse(ctx, id)
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, none.StatusCode())

	tests := []struct {
		name string
		body oapi.NotificationSettings
		code string
	}{
		{"termination before suspension", oapi.NotificationSettings{SuspensionDays: 10, TerminationDays: 10}, "termination_before_suspension"},
		{"unknown template", oapi.NotificationSettings{SuspensionDays: 7, TerminationDays: 30, TerminationTemplateId: &missing}, "template_not_found"},
	}
	for _, tt := range tests {
		res, err := admin.SetPlanNotificationSettingsWithResponse(ctx, id, tt.body)
		require.NoError(t, err)
		require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode(), tt.name)
		require.Equal(t, tt.code, res.ApplicationproblemJSON422.Code, tt.name)
	}
	for _, days := range []int{7, 3} { // setting again replaces
		set, err := admin.SetPlanNotificationSettingsWithResponse(ctx, id, oapi.NotificationSettings{SuspensionDays: days, SuspensionTemplateId: &tpl.JSON201.Id, TerminationDays: 30})
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, set.StatusCode(), string(set.Body))
	}
	got, err := admin.GetPlanNotificationSettingsWithResponse(ctx, id)
	require.NoError(t, err)
	require.Equal(t, 3, got.JSON200.SuspensionDays)
	require.Equal(t, tpl.JSON201.Id, *got.JSON200.SuspensionTemplateId)

	// A template a plan uses cannot be deleted.
	del, err := admin.DeleteEmailTemplateWithResponse(ctx, tpl.JSON201.Id, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusConflict, del.StatusCode())

	unknown, err := admin.SetPlanNotificationSettingsWithResponse(ctx, uuid.New(), oapi.NotificationSettings{SuspensionDays: 1, TerminationDays: 2})
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, unknown.StatusCode())
}
