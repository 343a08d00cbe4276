package httpapi

import (
	"strings"

	"context"

	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/auth"
	"github.com/acronis-platform/platform/internal/order"
	"github.com/acronis-platform/platform/internal/page"
	"github.com/acronis-platform/platform/internal/subscription"
)

func (s *Server) orderOut(d order.Detail) oapi.Order {
	out := oapi.Order{Id: d.ID, Status: oapi.OrderStatus(d.Status), PlanId: d.PlanID, Frequency: oapi.BillingFrequency(d.Frequency),
		Quantity: d.Quantity, Username: d.Username, CustomerId: d.CustomerID, PartnerId: d.PartnerID, ServiceId: d.ServiceID,
		UnitPrice: s.money(d.UnitPrice), SetupFee: s.money(d.SetupFee), FailureReason: d.FailureReason,
		History: make([]oapi.OrderEvent, len(d.Events)), Steps: make([]oapi.OrderStep, len(d.Steps)),
		Metadata: metaOut(d.Metadata), Version: d.Version, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
	for i, e := range d.Events {
		// Stored as "public", "system" or "<role>:<kind>:<subject>".
		role, cred, _ := strings.Cut(e.Actor, ":")
		out.History[i] = oapi.OrderEvent{From: (*oapi.OrderStatus)(e.FromStatus), To: oapi.OrderStatus(e.ToStatus),
			Actor: oapi.OrderEventActor(role), ActorCredential: nonEmpty(cred), Reason: e.Reason, At: e.At}
	}
	for i, st := range d.Steps {
		out.Steps[i] = oapi.OrderStep{Step: oapi.OrderStepStep(st.Step), Detail: st.Detail, DoneAt: st.DoneAt}
	}
	if d.Password != "" {
		out.Password = &d.Password
	}
	if d.Login != nil {
		out.Login = &oapi.OrderLogin{PortalUrl: d.Login.PortalURL, Username: d.Login.Username, Instructions: d.Login.Instructions}
	}
	return out
}

func newCustomerIn(c *oapi.NewCustomer) *order.Details {
	if c == nil {
		return nil
	}
	return &order.Details{Name: c.Name, Email: string(c.Email), Phone: deref(c.Phone), Address: deref(c.Address), Country: deref(c.Country),
		Metadata: metaIn(c.Metadata)}
}

// caller is the principal of an operation that may also be anonymous.
func caller(ctx context.Context) *auth.Principal {
	if p, ok := auth.FromContext(ctx); ok {
		return &p
	}
	return nil
}

func (s *Server) PlaceStorefrontOrder(ctx context.Context, req oapi.PlaceStorefrontOrderRequestObject) (oapi.PlaceStorefrontOrderResponseObject, error) {
	b := req.Body
	placed, err := s.orders.Place(ctx, caller(ctx), order.PlaceInput{Token: b.Token, CustomerID: b.CustomerId,
		Customer: newCustomerIn(b.Customer), Username: b.Username, Quantity: b.Quantity, Metadata: metaIn(b.Metadata)})
	if err != nil {
		return nil, err
	}
	out := s.orderOut(placed.Detail)
	out.StatusToken = nonEmpty(placed.StatusToken)
	return oapi.PlaceStorefrontOrder202JSONResponse{Body: out, Headers: oapi.PlaceStorefrontOrder202ResponseHeaders{ETag: etag(placed.Version)}}, nil
}

func (s *Server) GetStorefrontOrder(ctx context.Context, req oapi.GetStorefrontOrderRequestObject) (oapi.GetStorefrontOrderResponseObject, error) {
	d, err := s.orders.GetByToken(ctx, req.Id, req.Params.Token)
	if err != nil {
		return nil, err
	}
	return oapi.GetStorefrontOrder200JSONResponse{Body: s.orderOut(d)}, nil
}

func (s *Server) GetUsernameAvailability(ctx context.Context, req oapi.GetUsernameAvailabilityRequestObject) (oapi.GetUsernameAvailabilityResponseObject, error) {
	free, err := s.subs.UsernameFree(ctx, s.module, req.Username)
	if err != nil {
		return nil, err
	}
	return oapi.GetUsernameAvailability200JSONResponse{Body: oapi.UsernameAvailability{Username: req.Username, Available: free}}, nil
}

func (s *Server) ListOrders(ctx context.Context, req oapi.ListOrdersRequestObject) (oapi.ListOrdersResponseObject, error) {
	r, err := page.Parse(req.Params.Limit, req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	rows, next, err := s.orders.List(ctx, principal(ctx), order.Filter{Status: (*string)(req.Params.Status), CustomerID: req.Params.CustomerId,
		Metadata: metaIn(req.Params.Metadata)}, r)
	if err != nil {
		return nil, err
	}
	out := oapi.ListOrders200JSONResponse{Data: make([]oapi.Order, len(rows)), NextCursor: nonEmpty(next), HasMore: next != ""}
	for i, o := range rows {
		out.Data[i] = s.orderOut(order.Detail{Order: o})
	}
	return out, nil
}

func (s *Server) CreateOrder(ctx context.Context, req oapi.CreateOrderRequestObject) (oapi.CreateOrderResponseObject, error) {
	b := req.Body
	p := principal(ctx)
	placed, err := s.orders.Place(ctx, &p, order.PlaceInput{PlanID: &b.PlanId, Frequency: string(b.Frequency), CustomerID: b.CustomerId,
		Customer: newCustomerIn(b.Customer), Username: b.Username, Quantity: b.Quantity, Metadata: metaIn(b.Metadata)})
	if err != nil {
		return nil, err
	}
	return oapi.CreateOrder202JSONResponse{Body: s.orderOut(placed.Detail), Headers: oapi.CreateOrder202ResponseHeaders{ETag: etag(placed.Version)}}, nil
}

func (s *Server) GetOrder(ctx context.Context, req oapi.GetOrderRequestObject) (oapi.GetOrderResponseObject, error) {
	d, err := s.orders.Get(ctx, principal(ctx), req.Id)
	if err != nil {
		return nil, err
	}
	return oapi.GetOrder200JSONResponse{Body: s.orderOut(d), Headers: oapi.GetOrder200ResponseHeaders{ETag: etag(d.Version)}}, nil
}

func (s *Server) ApproveOrder(ctx context.Context, req oapi.ApproveOrderRequestObject) (oapi.ApproveOrderResponseObject, error) {
	ifv, err := parseIfMatch(req.Params.IfMatch)
	if err != nil {
		return nil, err
	}
	d, err := s.orders.Approve(ctx, principal(ctx), req.Id, ifv)
	if err != nil {
		return nil, err
	}
	return oapi.ApproveOrder200JSONResponse{Body: s.orderOut(d), Headers: oapi.ApproveOrder200ResponseHeaders{ETag: etag(d.Version)}}, nil
}

func (s *Server) CancelOrder(ctx context.Context, req oapi.CancelOrderRequestObject) (oapi.CancelOrderResponseObject, error) {
	ifv, err := parseIfMatch(req.Params.IfMatch)
	if err != nil {
		return nil, err
	}
	d, err := s.orders.Cancel(ctx, principal(ctx), req.Id, ifv)
	if err != nil {
		return nil, err
	}
	return oapi.CancelOrder200JSONResponse{Body: s.orderOut(d), Headers: oapi.CancelOrder200ResponseHeaders{ETag: etag(d.Version)}}, nil
}

func (s *Server) RetryOrder(ctx context.Context, req oapi.RetryOrderRequestObject) (oapi.RetryOrderResponseObject, error) {
	ifv, err := parseIfMatch(req.Params.IfMatch)
	if err != nil {
		return nil, err
	}
	d, err := s.orders.Retry(ctx, principal(ctx), req.Id, ifv)
	if err != nil {
		return nil, err
	}
	return oapi.RetryOrder200JSONResponse{Body: s.orderOut(d), Headers: oapi.RetryOrder200ResponseHeaders{ETag: etag(d.Version)}}, nil
}

func (s *Server) serviceOut(ctx context.Context, v subscription.Subscription) (oapi.Service, error) {
	q, err := s.subs.Quotas(ctx, v)
	if err != nil {
		return oapi.Service{}, err
	}
	return s.serviceWith(v, q), nil
}

func (s *Server) serviceWith(v subscription.Subscription, q subscription.Quotas) oapi.Service {
	out := oapi.Service{Id: v.ID, Status: oapi.ServiceStatus(v.Status), PlanId: v.PlanID, CustomerId: v.CustomerID, PartnerId: v.PartnerID,
		Frequency: oapi.BillingFrequency(v.Frequency), Quantity: v.Quantity, Username: v.Username, VendorTenantId: v.VendorTenantID,
		PortalUrl: v.PortalURL, FreeTrial: v.FreeTrial, TrialEndsAt: v.TrialEndsAt, UnitPrice: s.money(v.UnitPrice),
		Quotas:      oapi.ServiceQuotas{StorageGb: q.StorageGB, OverageGb: q.OverageGB, OfferingItems: q.Items},
		ActivatedAt: v.ActivatedAt, SuspendedAt: v.SuspendedAt, TerminatedAt: v.TerminatedAt, ExpiredAt: v.ExpiredAt,
		Metadata: metaOut(v.Metadata), Version: v.Version, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt}
	if v.NextDueDate != nil {
		out.NextDueDate = &openapi_types.Date{Time: *v.NextDueDate}
	}
	if v.SuspensionReason != nil {
		out.SuspensionReason = (*oapi.ServiceSuspensionReason)(v.SuspensionReason)
	}
	return out
}

func (s *Server) ListServices(ctx context.Context, req oapi.ListServicesRequestObject) (oapi.ListServicesResponseObject, error) {
	r, err := page.Parse(req.Params.Limit, req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	f := subscription.Filter{Status: (*string)(req.Params.Status), CustomerID: req.Params.CustomerId, PlanID: req.Params.PlanId,
		Metadata: metaIn(req.Params.Metadata)}
	rows, next, err := s.subs.List(ctx, principal(ctx), f, r)
	if err != nil {
		return nil, err
	}
	quotas, err := s.subs.QuotasOfAll(ctx, rows)
	if err != nil {
		return nil, err
	}
	out := oapi.ListServices200JSONResponse{Data: make([]oapi.Service, len(rows)), NextCursor: nonEmpty(next), HasMore: next != ""}
	for i, v := range rows {
		out.Data[i] = s.serviceWith(v, quotas[v.ID])
	}
	return out, nil
}

func (s *Server) GetService(ctx context.Context, req oapi.GetServiceRequestObject) (oapi.GetServiceResponseObject, error) {
	v, err := s.subs.Get(ctx, principal(ctx), req.Id)
	if err != nil {
		return nil, err
	}
	out, err := s.serviceOut(ctx, v)
	if err != nil {
		return nil, err
	}
	return oapi.GetService200JSONResponse{Body: out, Headers: oapi.GetService200ResponseHeaders{ETag: etag(v.Version)}}, nil
}

func (s *Server) CreateServiceSsoLink(ctx context.Context, req oapi.CreateServiceSsoLinkRequestObject) (oapi.CreateServiceSsoLinkResponseObject, error) {
	l, err := s.subs.SSOLink(ctx, principal(ctx), req.Id)
	if err != nil {
		return nil, err
	}
	return oapi.CreateServiceSsoLink200JSONResponse{Url: l.URL, ExpiresAt: l.ExpiresAt}, nil
}

func (s *Server) ResetServiceCredentials(ctx context.Context, req oapi.ResetServiceCredentialsRequestObject) (oapi.ResetServiceCredentialsResponseObject, error) {
	o, pw, err := s.subs.ResetPassword(ctx, principal(ctx), req.Id)
	if err != nil {
		return nil, err
	}
	if o.Pending {
		return oapi.ResetServiceCredentials202JSONResponse{OperationAcceptedJSONResponse: s.accepted(*o.Op)}, nil
	}
	return oapi.ResetServiceCredentials200JSONResponse{Username: o.Service.Username, Password: pw}, nil
}

func (s *Server) UpdateServiceCredentials(ctx context.Context, req oapi.UpdateServiceCredentialsRequestObject) (oapi.UpdateServiceCredentialsResponseObject, error) {
	ifv, err := parseIfMatch(req.Params.IfMatch)
	if err != nil {
		return nil, err
	}
	o, err := s.subs.UpdateCredentials(ctx, principal(ctx), req.Id, subscription.CredentialsInput{Username: req.Body.Username, Password: req.Body.Password}, ifv)
	if err != nil {
		return nil, err
	}
	if o.Pending {
		return oapi.UpdateServiceCredentials202JSONResponse{OperationAcceptedJSONResponse: s.accepted(*o.Op)}, nil
	}
	out, err := s.serviceOut(ctx, o.Service)
	if err != nil {
		return nil, err
	}
	return oapi.UpdateServiceCredentials200JSONResponse{Body: out, Headers: oapi.UpdateServiceCredentials200ResponseHeaders{ETag: etag(o.Service.Version)}}, nil
}

type serviceAction func(context.Context, auth.Principal, openapi_types.UUID, *int64) (subscription.Outcome, error)

// serviceAction runs a state change; a nil service means the vendor has
// not confirmed it yet and op is to be answered with 202.
func (s *Server) serviceAction(ctx context.Context, act serviceAction, id openapi_types.UUID, ifMatch *string) (*oapi.Service, *oapi.OperationAcceptedJSONResponse, *string, error) {
	ifv, err := parseIfMatch(ifMatch)
	if err != nil {
		return nil, nil, nil, err
	}
	o, err := act(ctx, principal(ctx), id, ifv)
	if err != nil {
		return nil, nil, nil, err
	}
	if o.Pending {
		acc := s.accepted(*o.Op)
		return nil, &acc, nil, nil
	}
	out, err := s.serviceOut(ctx, o.Service)
	return &out, nil, etag(o.Service.Version), err
}

func (s *Server) SuspendService(ctx context.Context, req oapi.SuspendServiceRequestObject) (oapi.SuspendServiceResponseObject, error) {
	out, acc, tag, err := s.serviceAction(ctx, s.subs.Suspend, req.Id, req.Params.IfMatch)
	switch {
	case err != nil:
		return nil, err
	case acc != nil:
		return oapi.SuspendService202JSONResponse{OperationAcceptedJSONResponse: *acc}, nil
	}
	return oapi.SuspendService200JSONResponse{Body: *out, Headers: oapi.SuspendService200ResponseHeaders{ETag: tag}}, nil
}

func (s *Server) UnsuspendService(ctx context.Context, req oapi.UnsuspendServiceRequestObject) (oapi.UnsuspendServiceResponseObject, error) {
	out, acc, tag, err := s.serviceAction(ctx, s.subs.Unsuspend, req.Id, req.Params.IfMatch)
	switch {
	case err != nil:
		return nil, err
	case acc != nil:
		return oapi.UnsuspendService202JSONResponse{OperationAcceptedJSONResponse: *acc}, nil
	}
	return oapi.UnsuspendService200JSONResponse{Body: *out, Headers: oapi.UnsuspendService200ResponseHeaders{ETag: tag}}, nil
}

func (s *Server) TerminateService(ctx context.Context, req oapi.TerminateServiceRequestObject) (oapi.TerminateServiceResponseObject, error) {
	out, acc, tag, err := s.serviceAction(ctx, s.subs.Terminate, req.Id, req.Params.IfMatch)
	switch {
	case err != nil:
		return nil, err
	case acc != nil:
		return oapi.TerminateService202JSONResponse{OperationAcceptedJSONResponse: *acc}, nil
	}
	return oapi.TerminateService200JSONResponse{Body: *out, Headers: oapi.TerminateService200ResponseHeaders{ETag: tag}}, nil
}

func (s *Server) ChangeServiceQuantity(ctx context.Context, req oapi.ChangeServiceQuantityRequestObject) (oapi.ChangeServiceQuantityResponseObject, error) {
	ifv, err := parseIfMatch(req.Params.IfMatch)
	if err != nil {
		return nil, err
	}
	ch, err := s.subs.ChangeQuantity(ctx, principal(ctx), req.Id, req.Body.Quantity, ifv, s.billing)
	if err != nil {
		return nil, err
	}
	out, err := s.changedOut(ctx, ch)
	if err != nil {
		return nil, err
	}
	if ch.Pending {
		return oapi.ChangeServiceQuantity202JSONResponse{ChangeAcceptedJSONResponse: s.changeAccepted(out, *ch.Op)}, nil
	}
	return oapi.ChangeServiceQuantity200JSONResponse(out), nil
}

// changedOut is what a change did on the platform: the service, what it
// billed and the credit it created, known whether or not the vendor has
// confirmed it yet.
func (s *Server) changedOut(ctx context.Context, ch subscription.Changed) (oapi.QuantityChanged, error) {
	svc, err := s.serviceOut(ctx, ch.Service)
	if err != nil {
		return oapi.QuantityChanged{}, err
	}
	out := oapi.QuantityChanged{Service: svc, Invoices: make([]oapi.Invoice, len(ch.Invoices)), Credits: s.creditsOut(ch.Credits)}
	for i, inv := range ch.Invoices {
		out.Invoices[i] = s.invoiceOut(inv, nil)
	}
	return out, nil
}

// changeAccepted answers a change whose vendor side is still running: the
// platform's outcome and the operation to poll.
func (s *Server) changeAccepted(out oapi.QuantityChanged, op subscription.Operation) oapi.ChangeAcceptedJSONResponse {
	acc := s.accepted(op)
	return oapi.ChangeAcceptedJSONResponse{
		Body:    oapi.ChangePending{Service: out.Service, Invoices: out.Invoices, Credits: out.Credits, Operation: acc.Body},
		Headers: oapi.ChangeAcceptedResponseHeaders{Location: acc.Headers.Location},
	}
}

func (s *Server) ChangeServiceTerm(ctx context.Context, req oapi.ChangeServiceTermRequestObject) (oapi.ChangeServiceTermResponseObject, error) {
	ifv, err := parseIfMatch(req.Params.IfMatch)
	if err != nil {
		return nil, err
	}
	ch, err := s.subs.ChangeTerm(ctx, principal(ctx), req.Id, string(req.Body.Frequency), ifv, s.billing)
	if err != nil {
		return nil, err
	}
	out, err := s.changedOut(ctx, ch)
	if err != nil {
		return nil, err
	}
	return oapi.ChangeServiceTerm200JSONResponse(out), nil
}

func (s *Server) ChangeServicePlan(ctx context.Context, req oapi.ChangeServicePlanRequestObject) (oapi.ChangeServicePlanResponseObject, error) {
	ifv, err := parseIfMatch(req.Params.IfMatch)
	if err != nil {
		return nil, err
	}
	ch, err := s.subs.ChangePlan(ctx, principal(ctx), req.Id, req.Body.PlanId, ifv, s.billing)
	if err != nil {
		return nil, err
	}
	out, err := s.changedOut(ctx, ch)
	if err != nil {
		return nil, err
	}
	if ch.Pending {
		return oapi.ChangeServicePlan202JSONResponse{ChangeAcceptedJSONResponse: s.changeAccepted(out, *ch.Op)}, nil
	}
	return oapi.ChangeServicePlan200JSONResponse(out), nil
}
