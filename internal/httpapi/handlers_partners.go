package httpapi

import (
	"context"

	"github.com/google/uuid"
	openapi_types "github.com/oapi-codegen/runtime/types"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/catalog"
	"github.com/acronis-platform/platform/internal/credit"
	"github.com/acronis-platform/platform/internal/money"
	"github.com/acronis-platform/platform/internal/page"
	"github.com/acronis-platform/platform/internal/partner"
)

func (s *Server) partnerOut(p partner.Partner) oapi.Partner {
	out := oapi.Partner{Id: p.ID, Name: p.Name, Email: openapi_types.Email(p.Email), VendorLogin: p.VendorLogin,
		Status: oapi.PartnerStatus(p.Status), VendorTenantId: p.VendorTenantID, VendorError: p.VendorError,
		AdminUserId: p.AdminUserID, CreditLimitExceededAt: p.CreditLimitExceededAt,
		Version: p.Version, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
	if p.CreditLimit != nil {
		out.CreditLimit = &oapi.Money{Amount: p.CreditLimit.StringFixed(2), Currency: s.currency}
	}
	return out
}

// partnersOut answers partners with what each owes the SP now (one query a
// page).
func (s *Server) partnersOut(ctx context.Context, db *gorm.DB, ps ...partner.Partner) ([]oapi.Partner, error) {
	ids := make([]uuid.UUID, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	owed, err := credit.PartnerBalances(ctx, db, ids)
	if err != nil {
		return nil, err
	}
	out := make([]oapi.Partner, len(ps))
	for i, p := range ps {
		out[i] = s.partnerOut(p)
		out[i].UnpaidBalance = &oapi.Money{Amount: owed[p.ID].StringFixed(2), Currency: s.currency}
	}
	return out, nil
}

func (s *Server) onePartnerOut(ctx context.Context, p partner.Partner) (oapi.Partner, error) {
	out, err := s.partnersOut(ctx, s.db, p)
	if err != nil {
		return oapi.Partner{}, err
	}
	return out[0], nil
}

func (s *Server) ListPartners(ctx context.Context, req oapi.ListPartnersRequestObject) (oapi.ListPartnersResponseObject, error) {
	r, err := page.Parse(req.Params.Limit, req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	rows, next, err := s.partners.List(ctx, principal(ctx), (*string)(req.Params.Status), r)
	if err != nil {
		return nil, err
	}
	data, err := s.partnersOut(ctx, s.db, rows...)
	if err != nil {
		return nil, err
	}
	return oapi.ListPartners200JSONResponse{Data: data, NextCursor: nonEmpty(next), HasMore: next != ""}, nil
}

func (s *Server) CreatePartner(ctx context.Context, req oapi.CreatePartnerRequestObject) (oapi.CreatePartnerResponseObject, error) {
	b := req.Body
	in := partner.CreateInput{Name: b.Name, Email: string(b.Email), VendorLogin: b.VendorLogin,
		Admin: partner.Admin{Name: b.Admin.Name, Email: string(b.Admin.Email), Password: deref(b.Admin.Password)}}
	p, err := s.partners.Create(ctx, in)
	if err != nil {
		return nil, err
	}
	out, err := s.onePartnerOut(ctx, p)
	if err != nil {
		return nil, err
	}
	return oapi.CreatePartner202JSONResponse{Body: out, Headers: oapi.CreatePartner202ResponseHeaders{ETag: etag(p.Version)}}, nil
}

func (s *Server) GetPartner(ctx context.Context, req oapi.GetPartnerRequestObject) (oapi.GetPartnerResponseObject, error) {
	p, err := s.partners.Get(ctx, principal(ctx), req.Id)
	if err != nil {
		return nil, err
	}
	out, err := s.onePartnerOut(ctx, p)
	if err != nil {
		return nil, err
	}
	if out.CreditBalances, err = s.partnerCreditBalances(ctx, p.ID); err != nil {
		return nil, err
	}
	return oapi.GetPartner200JSONResponse{Body: out, Headers: oapi.GetPartner200ResponseHeaders{ETag: etag(p.Version)}}, nil
}

func (s *Server) UpdatePartner(ctx context.Context, req oapi.UpdatePartnerRequestObject) (oapi.UpdatePartnerResponseObject, error) {
	ifv, err := parseIfMatch(req.Params.IfMatch)
	if err != nil {
		return nil, err
	}
	b := req.Body
	in := partner.UpdateInput{Name: b.Name, Email: (*string)(b.Email), VendorLogin: b.VendorLogin, Status: (*string)(b.Status),
		CreditLimit: moneyIn(b.CreditLimit), RemoveCreditLimit: deref(b.RemoveCreditLimit)}
	p, err := s.partners.Update(ctx, principal(ctx), req.Id, in, ifv)
	if err != nil {
		return nil, err
	}
	out, err := s.onePartnerOut(ctx, p)
	if err != nil {
		return nil, err
	}
	return oapi.UpdatePartner200JSONResponse{Body: out, Headers: oapi.UpdatePartner200ResponseHeaders{ETag: etag(p.Version)}}, nil
}

func (s *Server) orderURLOut(u catalog.OrderURL) oapi.OrderUrl {
	return oapi.OrderUrl{Frequency: oapi.BillingFrequency(u.Frequency), Token: u.Token, Url: "/v1/storefront/offers/" + u.Token, PartnerId: u.PartnerID}
}

func (s *Server) partnerPlanOut(p partner.Plan) oapi.PartnerPlan {
	out := oapi.PartnerPlan{PlanId: p.Plan.ID, PlanName: p.Plan.Name,
		DiscountPercent: p.Pricing.DiscountPercent.String(), MarkupPercent: p.Pricing.MarkupPercent.String(),
		PricingVersion: p.Pricing.Version, Prices: make([]oapi.PartnerPlanPrice, len(p.Prices))}
	if p.SPPricing.BillingModel != "" { // the SP has priced the plan
		out.BillingModel = ptr(oapi.BillingModel(p.SPPricing.BillingModel))
	}
	out.SpOveragePricePerGb = s.moneyPtr(p.SPOverage)
	out.OveragePricePerGb = s.moneyPtr(p.EndOverage)
	for i, pr := range p.Prices {
		o := oapi.PartnerPlanPrice{Frequency: oapi.BillingFrequency(pr.Frequency),
			SpPrice: s.money(pr.SPPrice), Cost: s.money(pr.Cost), EndPrice: s.money(pr.EndPrice),
			SpSetupFee: s.money(pr.SPSetupFee), SetupFeeCost: s.money(pr.SetupFeeCost), EndSetupFee: s.money(pr.EndSetupFee)}
		if pr.OrderURL != nil {
			u := s.orderURLOut(*pr.OrderURL)
			o.OrderUrl = &u
		}
		out.Prices[i] = o
	}
	return out
}

func (s *Server) moneyPtr(a *money.Amount) *oapi.Money {
	if a == nil {
		return nil
	}
	m := s.money(*a)
	return &m
}

func moneyIn(m *oapi.Money) *money.Input {
	if m == nil {
		return nil
	}
	return &money.Input{Amount: m.Amount, Currency: m.Currency}
}

func (s *Server) ListPartnerPlans(ctx context.Context, req oapi.ListPartnerPlansRequestObject) (oapi.ListPartnerPlansResponseObject, error) {
	r, err := page.Parse(req.Params.Limit, req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	rows, next, err := s.partners.Plans(ctx, principal(ctx), req.Id, r)
	if err != nil {
		return nil, err
	}
	return oapi.ListPartnerPlans200JSONResponse{Data: mapAll(rows, s.partnerPlanOut), NextCursor: nonEmpty(next), HasMore: next != ""}, nil
}

func (s *Server) SetPartnerPlanPricing(ctx context.Context, req oapi.SetPartnerPlanPricingRequestObject) (oapi.SetPartnerPlanPricingResponseObject, error) {
	ifv, err := parseIfMatch(req.Params.IfMatch)
	if err != nil {
		return nil, err
	}
	b := req.Body
	in := partner.PricingInput{DiscountPercent: b.DiscountPercent, MarkupPercent: b.MarkupPercent, OveragePricePerGB: moneyIn(b.OveragePricePerGb)}
	p, err := s.partners.SetPlanPricing(ctx, principal(ctx), req.Id, req.PlanId, in, ifv)
	if err != nil {
		return nil, err
	}
	return oapi.SetPartnerPlanPricing200JSONResponse{Body: s.partnerPlanOut(p),
		Headers: oapi.SetPartnerPlanPricing200ResponseHeaders{ETag: etag(p.Pricing.Version)}}, nil
}

// deref is the value behind an optional field, or its zero value.
func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
