package httpapi

import (
	"context"
	"sort"
	"strconv"

	"github.com/lib/pq"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/catalog"
	"github.com/acronis-platform/platform/internal/money"
	"github.com/acronis-platform/platform/internal/page"
)

func planOut(p catalog.Plan) oapi.Plan {
	return oapi.Plan{Id: p.ID, VentureId: p.VentureID, ProductTypeId: p.ProductTypeID, ProductId: p.ProductID,
		ProductGroupId: p.ProductGroupID, Name: p.Name, PartnerVisible: p.PartnerVisible, AutoApprove: p.AutoApprove, Status: oapi.PlanStatus(p.Status),
		Version: p.Version, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
}

func (s *Server) ListPlans(ctx context.Context, req oapi.ListPlansRequestObject) (oapi.ListPlansResponseObject, error) {
	r, err := page.Parse(req.Params.Limit, req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	var status *string
	if req.Params.Status != nil {
		st := string(*req.Params.Status)
		status = &st
	}
	rows, next, err := s.catalog.ListPlans(ctx, principal(ctx), status, req.Params.ProductGroupId, r)
	if err != nil {
		return nil, err
	}
	return oapi.ListPlans200JSONResponse{Data: mapAll(rows, planOut), NextCursor: nonEmpty(next), HasMore: next != ""}, nil
}

func (s *Server) CreatePlan(ctx context.Context, req oapi.CreatePlanRequestObject) (oapi.CreatePlanResponseObject, error) {
	b := req.Body
	p, err := s.catalog.CreatePlan(ctx, catalog.PlanInput{VentureID: &b.VentureId, ProductTypeID: &b.ProductTypeId,
		ProductID: &b.ProductId, ProductGroupID: &b.ProductGroupId, Name: &b.Name, PartnerVisible: b.PartnerVisible, AutoApprove: b.AutoApprove})
	if err != nil {
		return nil, err
	}
	return oapi.CreatePlan201JSONResponse{Body: planOut(p), Headers: oapi.CreatePlan201ResponseHeaders{ETag: etag(p.Version)}}, nil
}

func (s *Server) GetPlan(ctx context.Context, req oapi.GetPlanRequestObject) (oapi.GetPlanResponseObject, error) {
	p, err := s.catalog.GetPlan(ctx, principal(ctx), req.Id)
	if err != nil {
		return nil, err
	}
	return oapi.GetPlan200JSONResponse{Body: planOut(p), Headers: oapi.GetPlan200ResponseHeaders{ETag: etag(p.Version)}}, nil
}

func (s *Server) UpdatePlan(ctx context.Context, req oapi.UpdatePlanRequestObject) (oapi.UpdatePlanResponseObject, error) {
	ifv, err := parseIfMatch(req.Params.IfMatch)
	if err != nil {
		return nil, err
	}
	b := req.Body
	in := catalog.PlanInput{VentureID: b.VentureId, ProductTypeID: b.ProductTypeId, ProductID: b.ProductId,
		ProductGroupID: b.ProductGroupId, Name: b.Name, PartnerVisible: b.PartnerVisible, AutoApprove: b.AutoApprove}
	if b.Status != nil {
		st := string(*b.Status)
		in.Status = &st
	}
	p, err := s.catalog.UpdatePlan(ctx, req.Id, in, ifv)
	if err != nil {
		return nil, err
	}
	return oapi.UpdatePlan200JSONResponse{Body: planOut(p), Headers: oapi.UpdatePlan200ResponseHeaders{ETag: etag(p.Version)}}, nil
}

func (s *Server) DeletePlan(ctx context.Context, req oapi.DeletePlanRequestObject) (oapi.DeletePlanResponseObject, error) {
	ifv, err := parseIfMatch(req.Params.IfMatch)
	if err != nil {
		return nil, err
	}
	if err := s.catalog.DeletePlan(ctx, req.Id, ifv); err != nil {
		return nil, err
	}
	return oapi.DeletePlan204Response{}, nil
}

// months orders billing frequencies.
var months = catalog.FrequencyMonths

func (s *Server) money(a money.Amount) oapi.Money {
	return oapi.Money{Amount: money.String(a), Currency: s.currency}
}

func (s *Server) pricingOut(p catalog.Pricing) oapi.PlanPricing {
	cycles := append([]catalog.Cycle{}, p.Cycles...)
	sort.Slice(cycles, func(i, j int) bool { return months[cycles[i].Frequency] < months[cycles[j].Frequency] })
	out := oapi.PlanPricing{BillingModel: oapi.BillingModel(p.BillingModel), EnableQuantity: &p.EnableQuantity,
		Cycles: make([]oapi.PlanCycle, len(cycles))}
	for i, c := range cycles {
		fee := s.money(c.SetupFee)
		out.Cycles[i] = oapi.PlanCycle{Frequency: oapi.BillingFrequency(c.Frequency), Price: s.money(c.Price), SetupFee: &fee}
	}
	charges := make([]oapi.MeteredCharge, len(p.MeteredCharges))
	for i, m := range p.MeteredCharges {
		agg := oapi.Aggregation(m.Aggregation)
		charges[i] = oapi.MeteredCharge{OfferingItem: m.OfferingItem, UnitPrice: s.money(m.UnitPrice), Aggregation: &agg}
	}
	out.MeteredCharges = &charges
	if p.OveragePricePerGB != nil {
		o := s.money(*p.OveragePricePerGB)
		out.OveragePricePerGb = &o
	}
	return out
}

func (s *Server) pricingIn(b oapi.PlanPricing) (catalog.Pricing, error) {
	p := catalog.Pricing{BillingModel: string(b.BillingModel)}
	if b.EnableQuantity != nil {
		p.EnableQuantity = *b.EnableQuantity
	}
	parse := func(field string, m oapi.Money) (money.Amount, error) {
		return money.Parse(field, m.Amount, m.Currency, s.currency)
	}
	for i, c := range b.Cycles {
		price, err := parse(fieldAt("cycles", i, "price"), c.Price)
		if err != nil {
			return p, err
		}
		cy := catalog.Cycle{Frequency: string(c.Frequency), Price: price}
		if c.SetupFee != nil {
			if cy.SetupFee, err = parse(fieldAt("cycles", i, "setup_fee"), *c.SetupFee); err != nil {
				return p, err
			}
		}
		p.Cycles = append(p.Cycles, cy)
	}
	if b.OveragePricePerGb != nil {
		o, err := parse("overage_price_per_gb", *b.OveragePricePerGb)
		if err != nil {
			return p, err
		}
		p.OveragePricePerGB = &o
	}
	if b.MeteredCharges != nil {
		for i, m := range *b.MeteredCharges {
			price, err := parse(fieldAt("metered_charges", i, "unit_price"), m.UnitPrice)
			if err != nil {
				return p, err
			}
			agg := "max"
			if m.Aggregation != nil {
				agg = string(*m.Aggregation)
			}
			p.MeteredCharges = append(p.MeteredCharges, catalog.MeteredCharge{OfferingItem: m.OfferingItem, UnitPrice: price, Aggregation: agg})
		}
	}
	return p, nil
}

func fieldAt(list string, i int, field string) string {
	return list + "." + strconv.Itoa(i) + "." + field
}

func (s *Server) GetPlanPricing(ctx context.Context, req oapi.GetPlanPricingRequestObject) (oapi.GetPlanPricingResponseObject, error) {
	p, err := s.catalog.GetPricing(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	return oapi.GetPlanPricing200JSONResponse(s.pricingOut(p)), nil
}

func (s *Server) SetPlanPricing(ctx context.Context, req oapi.SetPlanPricingRequestObject) (oapi.SetPlanPricingResponseObject, error) {
	in, err := s.pricingIn(*req.Body)
	if err != nil {
		return nil, err
	}
	p, err := s.catalog.SetPricing(ctx, req.Id, in)
	if err != nil {
		return nil, err
	}
	return oapi.SetPlanPricing200JSONResponse(s.pricingOut(p)), nil
}

func notificationOut(n catalog.NotificationSettings) oapi.NotificationSettings {
	days := make([]int32, len(n.ReminderDays))
	for i, d := range n.ReminderDays {
		days[i] = int32(d) // stored within [-60, termination_days)
	}
	return oapi.NotificationSettings{SuspensionDays: n.SuspensionDays, SuspensionTemplateId: n.SuspensionTemplateID,
		TerminationDays: n.TerminationDays, TerminationTemplateId: n.TerminationTemplateID, CreditLimitTemplateId: n.CreditLimitTemplateID,
		ReminderDays: &days, ReminderTemplateId: n.ReminderTemplateID, SuspendOnCreditLimit: ptr(n.SuspendOnCreditLimit)}
}

func reminderDaysIn(in *[]int32) pq.Int64Array {
	out := pq.Int64Array{}
	if in != nil {
		for _, d := range *in {
			out = append(out, int64(d))
		}
	}
	return out
}

func (s *Server) GetPlanNotificationSettings(ctx context.Context, req oapi.GetPlanNotificationSettingsRequestObject) (oapi.GetPlanNotificationSettingsResponseObject, error) {
	n, err := s.catalog.GetNotificationSettings(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	return oapi.GetPlanNotificationSettings200JSONResponse(notificationOut(n)), nil
}

func (s *Server) SetPlanNotificationSettings(ctx context.Context, req oapi.SetPlanNotificationSettingsRequestObject) (oapi.SetPlanNotificationSettingsResponseObject, error) {
	b := req.Body
	n, err := s.catalog.SetNotificationSettings(ctx, req.Id, catalog.NotificationSettings{
		SuspensionDays: b.SuspensionDays, SuspensionTemplateID: b.SuspensionTemplateId,
		TerminationDays: b.TerminationDays, TerminationTemplateID: b.TerminationTemplateId, CreditLimitTemplateID: b.CreditLimitTemplateId,
		ReminderDays: reminderDaysIn(b.ReminderDays), ReminderTemplateID: b.ReminderTemplateId, SuspendOnCreditLimit: deref(b.SuspendOnCreditLimit)})
	if err != nil {
		return nil, err
	}
	return oapi.SetPlanNotificationSettings200JSONResponse(notificationOut(n)), nil
}

func moduleOut(m catalog.ModuleSettings) oapi.ModuleSettings {
	items := m.Items()
	toFloat := func(in map[string]int64) *oapi.OfferingItemQuotas {
		out := oapi.OfferingItemQuotas{}
		for k, v := range in {
			out[k] = float64(v)
		}
		return &out
	}
	return oapi.ModuleSettings{DatacenterUrl: m.DatacenterURL, ClientId: m.ClientID, ClientSecretSet: len(m.ClientSecretEnc) > 0,
		FreeTrial: m.FreeTrial, StorageQuotaGb: m.StorageQuotaGB, OverageQuotaGb: m.OverageQuotaGB, Edition: m.Edition,
		BackupLocation: m.BackupLocation, OfferingItems: oapi.OfferingItemGroups{Common: toFloat(items.Common), Independent: toFloat(items.Independent)}}
}

func (s *Server) GetPlanModuleSettings(ctx context.Context, req oapi.GetPlanModuleSettingsRequestObject) (oapi.GetPlanModuleSettingsResponseObject, error) {
	m, err := s.catalog.GetModuleSettings(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	return oapi.GetPlanModuleSettings200JSONResponse(moduleOut(m)), nil
}

func (s *Server) SetPlanModuleSettings(ctx context.Context, req oapi.SetPlanModuleSettingsRequestObject) (oapi.SetPlanModuleSettingsResponseObject, error) {
	b := req.Body
	in := catalog.ModuleInput{DatacenterURL: b.DatacenterUrl, ClientID: b.ClientId, ClientSecret: b.ClientSecret,
		StorageQuotaGB: b.StorageQuotaGb, OverageQuotaGB: b.OverageQuotaGb, Edition: b.Edition, BackupLocation: b.BackupLocation}
	if b.FreeTrial != nil {
		in.FreeTrial = *b.FreeTrial
	}
	if b.OfferingItems != nil {
		if b.OfferingItems.Common != nil {
			in.Common = *b.OfferingItems.Common
		}
		if b.OfferingItems.Independent != nil {
			in.Independent = *b.OfferingItems.Independent
		}
	}
	m, err := s.catalog.SetModuleSettings(ctx, req.Id, in)
	if err != nil {
		return nil, err
	}
	return oapi.SetPlanModuleSettings200JSONResponse(moduleOut(m)), nil
}

func (s *Server) ListPlanOrderUrls(ctx context.Context, req oapi.ListPlanOrderUrlsRequestObject) (oapi.ListPlanOrderUrlsResponseObject, error) {
	urls, err := s.catalog.OrderURLs(ctx, principal(ctx), req.Id)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(urls, func(i, j int) bool { return months[urls[i].Frequency] < months[urls[j].Frequency] })
	return oapi.ListPlanOrderUrls200JSONResponse{Data: mapAll(urls, s.orderURLOut)}, nil
}

func (s *Server) GetStorefrontOffer(ctx context.Context, req oapi.GetStorefrontOfferRequestObject) (oapi.GetStorefrontOfferResponseObject, error) {
	o, err := s.catalog.OfferByToken(ctx, req.Token)
	if err != nil {
		return nil, err
	}
	return oapi.GetStorefrontOffer200JSONResponse{Body: oapi.Offer{Token: o.Token, PlanId: o.PlanID, PlanName: o.PlanName,
		ProductGroupName: o.ProductGroupName, BillingModel: oapi.BillingModel(o.BillingModel), Frequency: oapi.BillingFrequency(o.Frequency),
		Price: s.money(o.Price), SetupFee: s.money(o.SetupFee), EnableQuantity: o.EnableQuantity, FreeTrial: o.FreeTrial,
		OveragePricePerGb: s.moneyPtr(o.Overage), PartnerId: o.PartnerID}}, nil
}
