package event

import (
	"context"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/billing"
	"github.com/acronis-platform/platform/internal/customer"
	"github.com/acronis-platform/platform/internal/dunning"
	"github.com/acronis-platform/platform/internal/order"
	"github.com/acronis-platform/platform/internal/partner"
	"github.com/acronis-platform/platform/internal/subscription"
)

// Render turns domain values into what the API's GET of each resource
// returns (set at wiring from the HTTP layer's mapping, so this package
// does not depend on it). Each may read in tx what the GET shows beside
// the row (an order's history, a service's quotas, an invoice's payments).
type Render struct {
	Order   func(ctx context.Context, tx *gorm.DB, o order.Order) (any, error)
	Service func(ctx context.Context, tx *gorm.DB, v subscription.Subscription) (any, error)
	Invoice func(ctx context.Context, tx *gorm.DB, inv billing.Invoice) (any, error)
	Payment func(ctx context.Context, tx *gorm.DB, p billing.Payment) (any, error)
	Partner func(ctx context.Context, tx *gorm.DB, p partner.Partner) (any, error)
	// Customer renders a customer (its credit-limit crossing).
	Customer func(ctx context.Context, tx *gorm.DB, c customer.Customer) (any, error)
}

// Sources are the domain services whose changes become events.
type Sources struct {
	Billing  *billing.Service
	Orders   *order.Service
	Services *subscription.Service
	Partners *partner.Service
	Dunning  *dunning.Service
}

// Watch registers the hooks that record an event for every change of src,
// rendered by r. Call it before any other OnPaid hook is added, so that
// invoice.paid comes before what paying causes (a renewal issued, a
// service unsuspended).
func (s *Service) Watch(src Sources, r Render) {
	if b := src.Billing; b != nil {
		b.OnIssued(func(ctx context.Context, tx *gorm.DB, inv billing.Invoice) error {
			return s.invoice(ctx, tx, r, InvoiceIssued, inv)
		})
		b.OnPayment(func(ctx context.Context, tx *gorm.DB, p billing.Payment, inv billing.Invoice) error {
			obj, err := r.Payment(ctx, tx, p)
			if err != nil {
				return err
			}
			partnerID, customerID := invoiceOwner(inv)
			return s.record(ctx, tx, PaymentCreated, ResourcePayment, p.ID, partnerID, customerID, obj)
		})
		b.OnPaid(func(ctx context.Context, tx *gorm.DB, inv billing.Invoice, _ []uuid.UUID) error {
			return s.invoice(ctx, tx, r, InvoicePaid, inv)
		})
		b.OnVoided(func(ctx context.Context, tx *gorm.DB, inv billing.Invoice) error {
			return s.invoice(ctx, tx, r, InvoiceVoided, inv)
		})
	}
	if o := src.Orders; o != nil {
		for typ, on := range map[string]func(order.Hook){
			OrderCreated: o.OnCreated, OrderCompleted: o.OnCompleted, OrderFailed: o.OnFailed,
		} {
			on(func(ctx context.Context, tx *gorm.DB, v order.Order) error {
				obj, err := r.Order(ctx, tx, v)
				if err != nil {
					return err
				}
				return s.record(ctx, tx, typ, ResourceOrder, v.ID, v.PartnerID, &v.CustomerID, obj)
			})
		}
	}
	if sv := src.Services; sv != nil {
		for typ, on := range map[string]func(subscription.Hook){
			ServiceSuspended: sv.OnSuspended, ServiceUnsuspended: sv.OnUnsuspended, ServiceTerminated: sv.OnTerminated,
			ServiceQuantityChanged: sv.OnQuantityChanged, ServicePlanChanged: sv.OnPlanChanged,
		} {
			on(func(ctx context.Context, tx *gorm.DB, v subscription.Subscription) error {
				obj, err := r.Service(ctx, tx, v)
				if err != nil {
					return err
				}
				return s.record(ctx, tx, typ, ResourceService, v.ID, v.PartnerID, &v.CustomerID, obj)
			})
		}
	}
	if d := src.Dunning; d != nil {
		s.watchDunning(d, r)
	}
	if p := src.Partners; p != nil {
		for typ, on := range map[string]func(partner.Hook){PartnerActive: p.OnActive, PartnerFailed: p.OnFailed} {
			on(func(ctx context.Context, tx *gorm.DB, v partner.Partner) error {
				obj, err := r.Partner(ctx, tx, v)
				if err != nil {
					return err
				}
				return s.record(ctx, tx, typ, ResourcePartner, v.ID, &v.ID, nil, obj)
			})
		}
	}
}

// watchDunning records the reminders and credit-limit crossings of
// dunning, in the transaction that mails them.
func (s *Service) watchDunning(d *dunning.Service, r Render) {
	d.OnReminder(func(ctx context.Context, tx *gorm.DB, rm dunning.Reminder) error {
		return s.invoice(ctx, tx, r, InvoicePaymentReminder, rm.Invoice)
	})
	d.OnCustomerCreditAlert(func(ctx context.Context, tx *gorm.DB, c customer.Customer, _ dunning.CreditAlert) error {
		obj, err := r.Customer(ctx, tx, c)
		if err != nil {
			return err
		}
		return s.record(ctx, tx, CustomerCreditLimitExceeded, ResourceCustomer, c.ID, c.PartnerID, &c.ID, obj)
	})
	d.OnPartnerCreditAlert(func(ctx context.Context, tx *gorm.DB, p partner.Partner, _ dunning.CreditAlert) error {
		obj, err := r.Partner(ctx, tx, p)
		if err != nil {
			return err
		}
		return s.record(ctx, tx, PartnerCreditLimitExceeded, ResourcePartner, p.ID, &p.ID, nil, obj)
	})
}

func (s *Service) record(ctx context.Context, tx *gorm.DB, typ, resource string, id uuid.UUID, partnerID, customerID *uuid.UUID, obj any) error {
	ev, err := New(typ, resource, id, partnerID, customerID, obj)
	if err != nil {
		return err
	}
	_, err = s.Record(ctx, tx, ev)
	return err
}

func (s *Service) invoice(ctx context.Context, tx *gorm.DB, r Render, typ string, inv billing.Invoice) error {
	obj, err := r.Invoice(ctx, tx, inv)
	if err != nil {
		return err
	}
	partnerID, customerID := invoiceOwner(inv)
	return s.record(ctx, tx, typ, ResourceInvoice, inv.ID, partnerID, customerID, obj)
}

// invoiceOwner is whom an invoice (and its payments) belongs to, as
// invoices are scoped: a customer's bill is its customer's and its issuing
// partner's; a bill to a partner is that partner's.
func invoiceOwner(inv billing.Invoice) (partnerID, customerID *uuid.UUID) {
	if inv.CustomerID != nil {
		return inv.IssuerPartnerID, inv.CustomerID
	}
	return inv.PartnerID, nil
}
