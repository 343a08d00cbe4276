package httpapi

import (
	"context"

	"github.com/google/uuid"
	openapi_types "github.com/oapi-codegen/runtime/types"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/credit"
	"github.com/acronis-platform/platform/internal/customer"
	"github.com/acronis-platform/platform/internal/metadata"
	"github.com/acronis-platform/platform/internal/page"
)

func (s *Server) customerOut(c customer.Customer) oapi.Customer {
	out := oapi.Customer{Id: c.ID, PartnerId: c.PartnerID, Name: c.Name, Email: openapi_types.Email(c.Email), Phone: c.Phone,
		Address: c.Address, Country: c.Country, Currency: c.Currency, Status: oapi.CustomerStatus(c.Status),
		Metadata: metaOut(c.Metadata), Version: c.Version, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
	if c.CreditLimit != nil {
		out.CreditLimit = &oapi.Money{Amount: c.CreditLimit.StringFixed(2), Currency: c.Currency}
	}
	if c.DunningPausedUntil != nil {
		out.DunningPausedUntil = &openapi_types.Date{Time: *c.DunningPausedUntil}
	}
	out.CreditLimitExceededAt = c.CreditLimitExceededAt
	return out
}

// customersOut answers customers with what each owes now (one query a
// page), read through db (an event renderer's transaction, or s.db).
func (s *Server) customersOut(ctx context.Context, db *gorm.DB, cs ...customer.Customer) ([]oapi.Customer, error) {
	ids := make([]uuid.UUID, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	owed, err := credit.CustomerBalances(ctx, db, ids)
	if err != nil {
		return nil, err
	}
	out := make([]oapi.Customer, len(cs))
	for i, c := range cs {
		out[i] = s.customerOut(c)
		out[i].UnpaidBalance = &oapi.Money{Amount: owed[c.ID].StringFixed(2), Currency: c.Currency}
	}
	return out, nil
}

func (s *Server) oneCustomerOut(ctx context.Context, c customer.Customer) (oapi.Customer, error) {
	out, err := s.customersOut(ctx, s.db, c)
	if err != nil {
		return oapi.Customer{}, err
	}
	return out[0], nil
}

func (s *Server) ListCustomers(ctx context.Context, req oapi.ListCustomersRequestObject) (oapi.ListCustomersResponseObject, error) {
	r, err := page.Parse(req.Params.Limit, req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	f := customer.Filter{PartnerID: req.Params.PartnerId, Direct: req.Params.Direct, Status: (*string)(req.Params.Status), Email: req.Params.Email,
		Metadata: metaIn(req.Params.Metadata)}
	rows, next, err := s.customers.List(ctx, principal(ctx), f, r)
	if err != nil {
		return nil, err
	}
	data, err := s.customersOut(ctx, s.db, rows...)
	if err != nil {
		return nil, err
	}
	return oapi.ListCustomers200JSONResponse{Data: data, NextCursor: nonEmpty(next), HasMore: next != ""}, nil
}

func (s *Server) CreateCustomer(ctx context.Context, req oapi.CreateCustomerRequestObject) (oapi.CreateCustomerResponseObject, error) {
	b := req.Body
	in := customer.CreateInput{PartnerID: b.PartnerId, Name: b.Name, Email: string(b.Email), Phone: deref(b.Phone),
		Address: deref(b.Address), Country: deref(b.Country), Currency: b.Currency, CreditLimit: moneyIn(b.CreditLimit),
		Metadata: metaIn(b.Metadata)}
	c, err := s.customers.Create(ctx, principal(ctx), in)
	if err != nil {
		return nil, err
	}
	out, err := s.oneCustomerOut(ctx, c)
	if err != nil {
		return nil, err
	}
	return oapi.CreateCustomer201JSONResponse{Body: out, Headers: oapi.CreateCustomer201ResponseHeaders{ETag: etag(c.Version)}}, nil
}

func (s *Server) GetCustomer(ctx context.Context, req oapi.GetCustomerRequestObject) (oapi.GetCustomerResponseObject, error) {
	c, err := s.customers.Get(ctx, principal(ctx), req.Id)
	if err != nil {
		return nil, err
	}
	out, err := s.oneCustomerOut(ctx, c)
	if err != nil {
		return nil, err
	}
	if out.CreditBalances, err = s.creditBalances(ctx, c.ID, c.Currency); err != nil {
		return nil, err
	}
	return oapi.GetCustomer200JSONResponse{Body: out, Headers: oapi.GetCustomer200ResponseHeaders{ETag: etag(c.Version)}}, nil
}

func (s *Server) UpdateCustomer(ctx context.Context, req oapi.UpdateCustomerRequestObject) (oapi.UpdateCustomerResponseObject, error) {
	ifv, err := parseIfMatch(req.Params.IfMatch)
	if err != nil {
		return nil, err
	}
	b := req.Body
	in := customer.UpdateInput{Name: b.Name, Email: (*string)(b.Email), Phone: b.Phone, Address: b.Address, Country: b.Country,
		CreditLimit: moneyIn(b.CreditLimit), RemoveCreditLimit: deref(b.RemoveCreditLimit), Status: (*string)(b.Status),
		RemoveDunningPause: deref(b.RemoveDunningPause)}
	if b.DunningPausedUntil != nil {
		in.DunningPausedUntil = &b.DunningPausedUntil.Time
	}
	if b.Metadata != nil {
		m := metaIn(b.Metadata)
		in.Metadata = &m
	}
	c, err := s.customers.Update(ctx, principal(ctx), req.Id, in, ifv)
	if err != nil {
		return nil, err
	}
	out, err := s.oneCustomerOut(ctx, c)
	if err != nil {
		return nil, err
	}
	return oapi.UpdateCustomer200JSONResponse{Body: out, Headers: oapi.UpdateCustomer200ResponseHeaders{ETag: etag(c.Version)}}, nil
}

// metaOut is stored metadata as answered: `{}`, never null.
func metaOut(m metadata.Map) oapi.Metadata {
	out := make(oapi.Metadata, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// metaIn is metadata from a body or a filter; nil when absent.
func metaIn(m *oapi.Metadata) map[string]string {
	if m == nil {
		return nil
	}
	return *m
}
