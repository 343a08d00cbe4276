package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/acronis/sim"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/event"
)

// eventsOf lists every event the client may see with params, page by page.
func eventsOf(t *testing.T, c *oapi.ClientWithResponses, params oapi.ListEventsParams) []oapi.Event {
	t.Helper()
	var out []oapi.Event
	for {
		res, err := c.ListEventsWithResponse(context.Background(), &params)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
		out = append(out, res.JSON200.Data...)
		if !res.JSON200.HasMore {
			require.Nil(t, res.JSON200.NextCursor)
			return out
		}
		params.Cursor = res.JSON200.NextCursor
	}
}

func typesOf(evs []oapi.Event) []oapi.EventType {
	out := make([]oapi.EventType, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}

// requireSameJSON compares a payload with a GET's body as JSON values.
func requireSameJSON(t *testing.T, want []byte, got any, msg string) {
	t.Helper()
	b, err := json.Marshal(got)
	require.NoError(t, err)
	var w, g any
	require.NoError(t, json.Unmarshal(want, &w))
	require.NoError(t, json.Unmarshal(b, &g))
	require.Equal(t, w, g, msg)
}

// one is the only event of typ about id.
func one(t *testing.T, c *oapi.ClientWithResponses, typ oapi.EventType, id uuid.UUID) oapi.Event {
	t.Helper()
	evs := eventsOf(t, c, oapi.ListEventsParams{Type: &[]oapi.EventType{typ}, ResourceId: &id})
	require.Len(t, evs, 1, "one %s of %s", typ, id)
	return evs[0]
}

// An order's way from the storefront to a paid, provisioned service is told
// by its events, in order, each with the resource as its GET shows it.
func TestOrderFlowEvents(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	_, token := s.plan(t, planOpts{autoApprove: true})
	res := place(t, s.env.Client(t, ""), storefrontOrder(token, newLogin()))
	require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
	_, custToken := s.env.CustomerUser(t, &res.JSON202.CustomerId)
	customer := s.env.Client(t, custToken)
	inv := invoicesOf(t, s.admin, &oapi.ListInvoicesParams{CustomerId: &res.JSON202.CustomerId})[0]

	issued, err := s.admin.GetInvoiceWithResponse(ctx, inv.Id)
	require.NoError(t, err)
	requireSameJSON(t, issued.Body, one(t, customer, oapi.EventTypeInvoiceIssued, inv.Id).Data.Object, "invoice.issued is the invoice as issued")
	created := one(t, customer, oapi.EventTypeOrderCreated, res.JSON202.Id)
	require.Equal(t, "pending", created.Data.Object["status"])
	require.Nil(t, created.PartnerId)
	require.Equal(t, res.JSON202.CustomerId, *created.CustomerId)

	paid := pay(t, s.admin, inv.Id, inv.Total.Amount)
	require.Equal(t, http.StatusCreated, paid.StatusCode(), string(paid.Body))
	done := waitOrder(t, s.admin, res.JSON202.Id)
	require.Equal(t, oapi.OrderStatusCompleted, done.Status, "failure: %v", done.FailureReason)

	evs := eventsOf(t, customer, oapi.ListEventsParams{Limit: ptr(2)})
	require.Equal(t, []oapi.EventType{oapi.EventTypeOrderCreated, oapi.EventTypeInvoiceIssued, oapi.EventTypePaymentCreated, oapi.EventTypeInvoicePaid, oapi.EventTypeOrderCompleted},
		typesOf(evs))
	byType := map[oapi.EventType]oapi.Event{}
	for _, e := range evs {
		byType[e.Type] = e
		require.Equal(t, res.JSON202.CustomerId, *e.CustomerId)
	}
	got, err := s.admin.GetInvoiceWithResponse(ctx, inv.Id)
	require.NoError(t, err)
	requireSameJSON(t, got.Body, byType[oapi.EventTypeInvoicePaid].Data.Object, "invoice.paid is the invoice as paid")
	payment, err := json.Marshal((*got.JSON200.Payments)[0])
	require.NoError(t, err)
	requireSameJSON(t, payment, byType[oapi.EventTypePaymentCreated].Data.Object, "payment.created is the payment")
	require.Equal(t, paid.JSON201.Payment.Id, byType[oapi.EventTypePaymentCreated].ResourceId)
	order, err := s.admin.GetOrderWithResponse(ctx, res.JSON202.Id)
	require.NoError(t, err)
	requireSameJSON(t, order.Body, byType[oapi.EventTypeOrderCompleted].Data.Object, "order.completed is the order as completed")
	require.NotContains(t, string(mustJSON(t, evs)), "\"password\"", "no event carries a password")

	// One event read on its own is the listed one.
	ev, err := customer.GetEventWithResponse(ctx, byType[oapi.EventTypeInvoicePaid].Id)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, ev.StatusCode(), string(ev.Body))
	requireSameJSON(t, mustJSON(t, byType[oapi.EventTypeInvoicePaid]), ev.JSON200, "GET /v1/events/{id}")
	// Several types at once.
	two := eventsOf(t, customer, oapi.ListEventsParams{Type: &[]oapi.EventType{oapi.EventTypeOrderCreated, oapi.EventTypeOrderCompleted}})
	require.Equal(t, []oapi.EventType{oapi.EventTypeOrderCreated, oapi.EventTypeOrderCompleted}, typesOf(two))
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// Each change has its event, made by the path that makes the change, with
// the resource as its GET shows it afterwards.
func TestEachChangeHasItsEvent(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	_, quantityToken := s.plan(t, planOpts{autoApprove: true, quantity: true, model: oapi.BillingModelPostpaidFixed, partnerVisible: true})
	_, prepaidToken := s.plan(t, planOpts{autoApprove: true})
	bigger, _ := s.plan(t, planOpts{autoApprove: true, storageGB: 250})
	service := func(t *testing.T, id uuid.UUID) []byte {
		r, err := s.admin.GetServiceWithResponse(ctx, id)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, r.StatusCode(), string(r.Body))
		return r.Body
	}
	invoice := func(t *testing.T, id uuid.UUID) []byte {
		r, err := s.admin.GetInvoiceWithResponse(ctx, id)
		require.NoError(t, err)
		return r.Body
	}
	ok := func(t *testing.T, status int, body []byte) {
		require.Contains(t, []int{http.StatusOK, http.StatusAccepted}, status, string(body))
	}
	tests := []struct {
		name string
		typ  oapi.EventType
		// change makes the change and returns the resource and its GET.
		change func(t *testing.T) (uuid.UUID, func(*testing.T) []byte)
	}{
		{"suspend", oapi.EventTypeServiceSuspended, func(t *testing.T) (uuid.UUID, func(*testing.T) []byte) {
			o := s.activeService(t, quantityToken)
			r, err := s.admin.SuspendServiceWithResponse(ctx, o.ServiceId, nil)
			require.NoError(t, err)
			ok(t, r.StatusCode(), r.Body)
			return o.ServiceId, func(t *testing.T) []byte { return service(t, o.ServiceId) }
		}},
		{"unsuspend", oapi.EventTypeServiceUnsuspended, func(t *testing.T) (uuid.UUID, func(*testing.T) []byte) {
			o := s.activeService(t, quantityToken)
			r, err := s.admin.SuspendServiceWithResponse(ctx, o.ServiceId, nil)
			require.NoError(t, err)
			ok(t, r.StatusCode(), r.Body)
			u, err := s.admin.UnsuspendServiceWithResponse(ctx, o.ServiceId, nil)
			require.NoError(t, err)
			ok(t, u.StatusCode(), u.Body)
			return o.ServiceId, func(t *testing.T) []byte { return service(t, o.ServiceId) }
		}},
		{"terminate", oapi.EventTypeServiceTerminated, func(t *testing.T) (uuid.UUID, func(*testing.T) []byte) {
			o := s.activeService(t, quantityToken)
			r, err := s.admin.TerminateServiceWithResponse(ctx, o.ServiceId, nil)
			require.NoError(t, err)
			ok(t, r.StatusCode(), r.Body)
			return o.ServiceId, func(t *testing.T) []byte { return service(t, o.ServiceId) }
		}},
		{"quantity", oapi.EventTypeServiceQuantityChanged, func(t *testing.T) (uuid.UUID, func(*testing.T) []byte) {
			o := s.activeService(t, quantityToken)
			r, err := s.admin.ChangeServiceQuantityWithResponse(ctx, o.ServiceId, nil, oapi.QuantityChange{Quantity: 3})
			require.NoError(t, err)
			ok(t, r.StatusCode(), r.Body)
			return o.ServiceId, func(t *testing.T) []byte { return service(t, o.ServiceId) }
		}},
		{"plan change", oapi.EventTypeServicePlanChanged, func(t *testing.T) (uuid.UUID, func(*testing.T) []byte) {
			o := s.paidPrepaidService(t, prepaidToken)
			r, err := s.admin.ChangeServicePlanWithResponse(ctx, o.ServiceId, nil, oapi.PlanChange{PlanId: bigger})
			require.NoError(t, err)
			ok(t, r.StatusCode(), r.Body)
			return o.ServiceId, func(t *testing.T) []byte { return service(t, o.ServiceId) }
		}},
		{"void", oapi.EventTypeInvoiceVoided, func(t *testing.T) (uuid.UUID, func(*testing.T) []byte) {
			res := place(t, s.env.Client(t, ""), storefrontOrder(prepaidToken, newLogin()))
			require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
			inv := invoicesOf(t, s.admin, &oapi.ListInvoicesParams{CustomerId: &res.JSON202.CustomerId})[0]
			r, err := s.admin.VoidInvoiceWithResponse(ctx, inv.Id, nil)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, r.StatusCode(), string(r.Body))
			return inv.Id, func(t *testing.T) []byte { return invoice(t, inv.Id) }
		}},
		{"order cancelled voids its invoice", oapi.EventTypeInvoiceVoided, func(t *testing.T) (uuid.UUID, func(*testing.T) []byte) {
			res := place(t, s.env.Client(t, ""), storefrontOrder(prepaidToken, newLogin()))
			require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
			inv := invoicesOf(t, s.admin, &oapi.ListInvoicesParams{CustomerId: &res.JSON202.CustomerId})[0]
			r, err := s.admin.CancelOrderWithResponse(ctx, res.JSON202.Id, nil)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, r.StatusCode(), string(r.Body))
			return inv.Id, func(t *testing.T) []byte { return invoice(t, inv.Id) }
		}},
		{"partner active", oapi.EventTypePartnerActive, func(t *testing.T) (uuid.UUID, func(*testing.T) []byte) {
			p, _ := s.activePartner(t)
			return p.Id, func(t *testing.T) []byte {
				r, err := s.admin.GetPartnerWithResponse(ctx, p.Id)
				require.NoError(t, err)
				return r.Body
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id, get := tt.change(t)
			ev := one(t, s.admin, tt.typ, id)
			requireSameJSON(t, get(t), ev.Data.Object, string(tt.typ)+" is the resource as changed")
		})
	}
}

// Failures are events too: an order the vendor refuses, a partner whose
// vendor account cannot be made.
func TestFailureEvents(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	_, token := s.plan(t, planOpts{autoApprove: true, trial: true})
	s.vendor.SetFault(sim.Fault{Method: "POST", PathPrefix: "/api/2/tenants", Rate: 1, Status: http.StatusBadRequest})
	res := place(t, s.env.Client(t, ""), storefrontOrder(token, newLogin()))
	require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
	done := waitOrder(t, s.admin, res.JSON202.Id)
	require.Equal(t, oapi.OrderStatusFailed, done.Status)
	p, err := s.admin.CreatePartnerWithResponse(ctx, nil, newPartnerBody())
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, p.StatusCode(), string(p.Body))
	require.Equal(t, oapi.PartnerStatusFailed, waitPartner(t, s.admin, p.JSON202.Id).Status)

	order, err := s.admin.GetOrderWithResponse(ctx, done.Id)
	require.NoError(t, err)
	requireSameJSON(t, order.Body, one(t, s.admin, oapi.EventTypeOrderFailed, done.Id).Data.Object, "order.failed")
	partner, err := s.admin.GetPartnerWithResponse(ctx, p.JSON202.Id)
	require.NoError(t, err)
	pf := one(t, s.admin, oapi.EventTypePartnerFailed, p.JSON202.Id)
	requireSameJSON(t, partner.Body, pf.Data.Object, "partner.failed")
	require.Equal(t, p.JSON202.Id, *pf.PartnerId, "a partner's events are its own")
}

// A partner sees the events of its own customers' resources and of itself,
// never another partner's; a customer only its own.
func TestEventScoping(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	planID, _ := s.plan(t, planOpts{model: oapi.BillingModelPostpaidFixed, partnerVisible: true, autoApprove: true})
	pa, a := s.activePartner(t)
	pb, b := s.activePartner(t)
	oa := s.partnerService(t, a, planID)
	ob := s.partnerService(t, b, planID)

	for _, c := range []struct {
		name           string
		client         *oapi.ClientWithResponses
		mine, theirs   uuid.UUID
		mineO, theirsO oapi.Order
	}{
		{"partner A", a, pa.Id, pb.Id, oa, ob},
		{"partner B", b, pb.Id, pa.Id, ob, oa},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			evs := eventsOf(t, c.client, oapi.ListEventsParams{})
			require.NotEmpty(t, evs)
			for _, e := range evs {
				require.NotNil(t, e.PartnerId)
				require.Equal(t, c.mine, *e.PartnerId, "%s about %s", e.Type, e.ResourceId)
			}
			require.Contains(t, typesOf(evs), oapi.EventTypePartnerActive)
			require.Contains(t, typesOf(evs), oapi.EventTypeOrderCompleted)
			theirs := one(t, s.admin, oapi.EventTypeOrderCompleted, c.theirsO.Id)
			r, err := c.client.GetEventWithResponse(ctx, theirs.Id)
			require.NoError(t, err)
			requireProblem(t, r.StatusCode(), r.HTTPResponse.Header, r.Body, http.StatusNotFound, "not_found")
			none := eventsOf(t, c.client, oapi.ListEventsParams{ResourceId: &c.theirsO.Id})
			require.Empty(t, none, "filtering by another's resource shows nothing")
			mine := one(t, c.client, oapi.EventTypeOrderCompleted, c.mineO.Id)
			r, err = c.client.GetEventWithResponse(ctx, mine.Id)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, r.StatusCode(), string(r.Body))
		})
	}
	t.Run("customer", func(t *testing.T) {
		t.Parallel()
		_, tok := s.env.CustomerUser(t, &oa.CustomerId)
		c := s.env.Client(t, tok)
		evs := eventsOf(t, c, oapi.ListEventsParams{})
		require.Contains(t, typesOf(evs), oapi.EventTypeOrderCompleted)
		for _, e := range evs {
			require.Equal(t, oa.CustomerId, *e.CustomerId)
		}
		r, err := c.GetEventWithResponse(ctx, one(t, s.admin, oapi.EventTypePartnerActive, pa.Id).Id)
		require.NoError(t, err)
		requireProblem(t, r.StatusCode(), r.HTTPResponse.Header, r.Body, http.StatusNotFound, "not_found")
	})
	t.Run("admin", func(t *testing.T) {
		t.Parallel()
		one(t, s.admin, oapi.EventTypeOrderCompleted, oa.Id)
		one(t, s.admin, oapi.EventTypeOrderCompleted, ob.Id)
	})
}

// The event is written in the change's transaction: when recording it
// fails, the change is undone too, and no event is left.
func TestEventIsWrittenWithItsChange(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	var refuse sync.Map // resource ids whose events fail
	s.env.App.Events.OnRecord(func(_ context.Context, _ *gorm.DB, ev event.Event) error {
		if _, ok := refuse.Load(ev.ResourceID); ok {
			return errs.Conflict("event_refused", "The test refuses this event.")
		}
		return nil
	})
	_, token := s.plan(t, planOpts{autoApprove: true, quantity: true, model: oapi.BillingModelPostpaidFixed})
	_, prepaid := s.plan(t, planOpts{autoApprove: true})
	o := s.activeService(t, token)
	refuse.Store(o.ServiceId, true)
	r, err := s.admin.SuspendServiceWithResponse(ctx, o.ServiceId, nil)
	require.NoError(t, err)
	requireProblem(t, r.StatusCode(), r.HTTPResponse.Header, r.Body, http.StatusConflict, "event_refused")
	svc, err := s.admin.GetServiceWithResponse(ctx, o.ServiceId)
	require.NoError(t, err)
	require.Equal(t, oapi.ServiceStatusActive, svc.JSON200.Status, "the suspension rolled back")
	require.Empty(t, eventsOf(t, s.admin, oapi.ListEventsParams{ResourceId: &o.ServiceId}))

	res := place(t, s.env.Client(t, ""), storefrontOrder(prepaid, newLogin()))
	require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
	inv := invoicesOf(t, s.admin, &oapi.ListInvoicesParams{CustomerId: &res.JSON202.CustomerId})[0]
	refuse.Store(inv.Id, true)
	p := pay(t, s.admin, inv.Id, inv.Total.Amount)
	requireProblem(t, p.StatusCode(), p.HTTPResponse.Header, p.Body, http.StatusConflict, "event_refused")
	got, err := s.admin.GetInvoiceWithResponse(ctx, inv.Id)
	require.NoError(t, err)
	require.Equal(t, oapi.InvoiceStatusUnpaid, got.JSON200.Status)
	require.Empty(t, *got.JSON200.Payments, "the payment rolled back with its event")
	require.Equal(t, []oapi.EventType{oapi.EventTypeInvoiceIssued}, typesOf(eventsOf(t, s.admin, oapi.ListEventsParams{ResourceId: &inv.Id})))
	require.Empty(t, eventsOf(t, s.admin, oapi.ListEventsParams{Type: &[]oapi.EventType{oapi.EventTypePaymentCreated}}))
}

// Bad filters are 400 naming the parameter; changing nothing.
func TestEventListRefusals(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	tok := adminToken(t, s.env)
	tests := []struct{ name, query, field string }{
		{"unknown type", "type=invoice.eaten", "type.0"},
		{"one bad type of two", "type=invoice.paid&type=nope", "type.1"},
		{"resource id not a uuid", "resource_id=42", "resource_id"},
		{"limit zero", "limit=0", "limit"},
		{"cursor not ours", "cursor=bm90LWEtY3Vyc29y", "cursor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status, h, body := raw(t, http.MethodGet, s.env.Server.URL+"/v1/events?"+tt.query, tok, "", "")
			p := requireProblem(t, status, h, body, http.StatusBadRequest, "validation_failed")
			var fields []string
			for _, e := range p.Errors {
				fields = append(fields, e.Field)
			}
			require.Contains(t, fields, tt.field, string(body))
		})
	}
	t.Run("unknown id", func(t *testing.T) {
		t.Parallel()
		r, err := s.admin.GetEventWithResponse(context.Background(), uuid.New())
		require.NoError(t, err)
		requireProblem(t, r.StatusCode(), r.HTTPResponse.Header, r.Body, http.StatusNotFound, "not_found")
	})
}
