package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"

	"gorm.io/gorm"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/billing"
	"github.com/acronis-platform/platform/internal/customer"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/event"
	"github.com/acronis-platform/platform/internal/order"
	"github.com/acronis-platform/platform/internal/partner"
	"github.com/acronis-platform/platform/internal/subscription"
)

// EventRender renders event payloads with the mapping of each resource's
// GET, reading in the recording transaction what the GET shows beside the
// row. Invoices come with their lines and taxes (the billing hooks' promise).
func EventRender(currency string, orders *order.Service, subs *subscription.Service, bills *billing.Service) event.Render {
	s := &Server{currency: currency}
	return event.Render{
		Order: func(ctx context.Context, tx *gorm.DB, o order.Order) (any, error) {
			d, err := orders.DetailTx(ctx, tx, o)
			if err != nil {
				return nil, err
			}
			return s.orderOut(d), nil
		},
		Service: func(ctx context.Context, tx *gorm.DB, v subscription.Subscription) (any, error) {
			q, err := subs.QuotasTx(ctx, tx, v)
			if err != nil {
				return nil, err
			}
			return s.serviceWith(v, q), nil
		},
		Invoice: func(ctx context.Context, tx *gorm.DB, inv billing.Invoice) (any, error) {
			// Taxes in the order a read gives them.
			inv.Taxes = slices.Clone(inv.Taxes)
			slices.SortStableFunc(inv.Taxes, func(a, b billing.InvoiceTax) int { return strings.Compare(a.Name, b.Name) })
			ps := []billing.Payment{}
			if !inv.AmountPaid.IsZero() { // no payment without an amount paid
				var err error
				if ps, err = bills.PaymentsTx(ctx, tx, inv.ID); err != nil {
					return nil, err
				}
			}
			return s.invoiceOut(inv, ps), nil
		},
		Payment: func(_ context.Context, _ *gorm.DB, p billing.Payment) (any, error) {
			return s.paymentOut(p), nil
		},
		Partner: func(ctx context.Context, tx *gorm.DB, p partner.Partner) (any, error) {
			outs, err := s.partnersOut(ctx, tx, p)
			if err != nil {
				return nil, err
			}
			out := outs[0]
			bs, err := bills.PartnerCreditTx(ctx, tx, p.ID)
			if err != nil {
				return nil, err
			}
			out.CreditBalances = balancesOut(bs, currency)
			return out, nil
		},
		Customer: func(ctx context.Context, tx *gorm.DB, c customer.Customer) (any, error) {
			outs, err := s.customersOut(ctx, tx, c)
			if err != nil {
				return nil, err
			}
			out := outs[0]
			bs, err := bills.CustomerCreditTx(ctx, tx, c.ID)
			if err != nil {
				return nil, err
			}
			out.CreditBalances = balancesOut(bs, c.Currency)
			return out, nil
		},
	}
}

func eventOut(ev event.Event) (oapi.Event, error) {
	var obj map[string]any
	dec := json.NewDecoder(bytes.NewReader(ev.Payload))
	dec.UseNumber() // numbers go out as they were written
	if err := dec.Decode(&obj); err != nil {
		return oapi.Event{}, errs.Internal(err)
	}
	return oapi.Event{Id: ev.ID, Type: oapi.EventType(ev.Type), ResourceType: oapi.EventResourceType(ev.ResourceType),
		ResourceId: ev.ResourceID, PartnerId: ev.PartnerID, CustomerId: ev.CustomerID, CreatedAt: ev.CreatedAt,
		Data: oapi.EventData{Object: obj}}, nil
}

func (s *Server) ListEvents(ctx context.Context, req oapi.ListEventsRequestObject) (oapi.ListEventsResponseObject, error) {
	p, err := event.ParsePage(req.Params.Limit, req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	f := event.Filter{ResourceID: req.Params.ResourceId}
	if req.Params.Type != nil {
		for _, t := range *req.Params.Type {
			f.Types = append(f.Types, string(t))
		}
	}
	rows, next, err := s.events.List(ctx, principal(ctx), f, p)
	if err != nil {
		return nil, err
	}
	out := oapi.ListEvents200JSONResponse{Data: make([]oapi.Event, len(rows)), NextCursor: nonEmpty(next), HasMore: next != ""}
	for i, ev := range rows {
		if out.Data[i], err = eventOut(ev); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *Server) GetEvent(ctx context.Context, req oapi.GetEventRequestObject) (oapi.GetEventResponseObject, error) {
	ev, err := s.events.Get(ctx, principal(ctx), req.Id)
	if err != nil {
		return nil, err
	}
	out, err := eventOut(ev)
	if err != nil {
		return nil, err
	}
	return oapi.GetEvent200JSONResponse(out), nil
}
