// Package event keeps the event log: each change a storefront cares about
// (an order created, completed or failed; a service suspended, unsuspended,
// terminated, its quantity or plan changed; an invoice issued, paid or
// voided, or its payment reminder mailed; a payment recorded; a partner's
// vendor account active or failed; a customer or partner above its credit
// limit; a webhook endpoint disabled) is one Event row, written in the
// transaction that makes the change.
//
// Entities: Event (a row of events): its type, the resource it is about
// (type and id), whom that resource belongs to (partner, customer) and the
// resource as the API's GET returned it at that moment (the payload).
//
// Invariants:
//   - An event exists if and only if its change committed: it is inserted
//     by the domain services' hooks in their transaction, so a change that
//     rolls back leaves no event, and a committed one always has its event.
//   - Events are immutable; seq is the order they were written in, so the
//     events of one resource (whose changes lock it) are in the order the
//     changes were made.
//   - The payload is rendered by the same mapping as the resource's GET,
//     never with a one-time password.
//   - Callers see the events of the resources they may see: admins all, a
//     partner those whose partner_id is its own, a customer those whose
//     customer_id is its own.
package event

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/auth"
	"github.com/acronis-platform/platform/internal/clock"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/page"
)

// Event types.
const (
	OrderCreated            = "order.created"
	OrderCompleted          = "order.completed"
	OrderFailed             = "order.failed"
	ServiceSuspended        = "service.suspended"
	ServiceUnsuspended      = "service.unsuspended"
	ServiceTerminated       = "service.terminated"
	ServiceQuantityChanged  = "service.quantity_changed"
	ServicePlanChanged      = "service.plan_changed"
	InvoiceIssued           = "invoice.issued"
	InvoicePaid             = "invoice.paid"
	InvoiceVoided           = "invoice.voided"
	PaymentCreated          = "payment.created"
	PartnerActive           = "partner.active"
	PartnerFailed           = "partner.failed"
	WebhookEndpointDisabled = "webhook_endpoint.disabled"
	// Dunning: a payment reminder mailed, a credit limit crossed.
	InvoicePaymentReminder      = "invoice.payment_reminder"
	CustomerCreditLimitExceeded = "customer.credit_limit_exceeded"
	PartnerCreditLimitExceeded  = "partner.credit_limit_exceeded"
)

// Types are every event type, in the spec's order.
var Types = []string{OrderCreated, OrderCompleted, OrderFailed, ServiceSuspended, ServiceUnsuspended, ServiceTerminated,
	ServiceQuantityChanged, ServicePlanChanged, InvoiceIssued, InvoicePaid, InvoiceVoided, PaymentCreated,
	PartnerActive, PartnerFailed, WebhookEndpointDisabled, InvoicePaymentReminder, CustomerCreditLimitExceeded,
	PartnerCreditLimitExceeded}

// Resource types (what the payload is).
const (
	ResourceOrder           = "order"
	ResourceService         = "service"
	ResourceInvoice         = "invoice"
	ResourcePayment         = "payment"
	ResourcePartner         = "partner"
	ResourceWebhookEndpoint = "webhook_endpoint"
	ResourceCustomer        = "customer"
)

// Event is one change of one resource.
type Event struct {
	ID           uuid.UUID `gorm:"primaryKey"`
	Seq          int64     `gorm:"->"` // set by the database; 0 before it is read back
	Type         string
	ResourceType string
	ResourceID   uuid.UUID
	PartnerID    *uuid.UUID      // the partner the resource belongs to; nil for the SP's own
	CustomerID   *uuid.UUID      // the customer it belongs to; nil for partners' own resources
	Payload      json.RawMessage `gorm:"type:jsonb"` // the resource as the API returned it then
	CreatedAt    time.Time
}

// TableName keeps GORM on the migration's table.
func (Event) TableName() string { return "events" }

// Hook is told of each event in the transaction that records it, after
// the insert; an error rolls the change back.
type Hook func(ctx context.Context, tx *gorm.DB, ev Event) error

// Service records and reads events.
type Service struct {
	db       *gorm.DB
	clk      clock.Clock
	onRecord []Hook
}

// NewService wires the service; Watch connects it to the domain services.
func NewService(db *gorm.DB, clk clock.Clock) *Service { return &Service{db: db, clk: clk} }

// OnRecord adds a hook run after each event is inserted, in its
// transaction (webhook fan-out goes here).
func (s *Service) OnRecord(f Hook) { s.onRecord = append(s.onRecord, f) }

// New is an event of typ about a resource, with object (marshalled as
// JSON) as its payload.
func New(typ, resourceType string, resourceID uuid.UUID, partnerID, customerID *uuid.UUID, object any) (Event, error) {
	b, err := json.Marshal(object)
	if err != nil {
		return Event{}, errs.Internal(err)
	}
	return Event{Type: typ, ResourceType: resourceType, ResourceID: resourceID, PartnerID: partnerID, CustomerID: customerID, Payload: b}, nil
}

// Record inserts ev in tx (one statement) and runs the OnRecord hooks. A
// zero ID or CreatedAt is filled in. Other packages record their own types
// through it (webhooks: webhook_endpoint.disabled).
func (s *Service) Record(ctx context.Context, tx *gorm.DB, ev Event) (Event, error) {
	if ev.ID == uuid.Nil {
		ev.ID = uuid.New()
	}
	if ev.CreatedAt.IsZero() {
		ev.CreatedAt = s.clk.Now().Truncate(time.Microsecond)
	}
	if err := tx.WithContext(ctx).Exec(`INSERT INTO events (id, type, resource_type, resource_id, partner_id, customer_id, payload, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, ev.ID, ev.Type, ev.ResourceType, ev.ResourceID, ev.PartnerID, ev.CustomerID,
		string(ev.Payload), ev.CreatedAt).Error; err != nil {
		return Event{}, errs.Internal(err)
	}
	for _, h := range s.onRecord {
		if err := h(ctx, tx, ev); err != nil {
			return Event{}, err
		}
	}
	return ev, nil
}

// scoped limits a query on events to the caller's.
func scoped(q *gorm.DB, who auth.Principal) *gorm.DB {
	switch {
	case who.IsAdmin():
		return q
	case who.Role == auth.RolePartner && who.PartnerID != nil:
		return q.Where("events.partner_id = ?", *who.PartnerID)
	case who.Role == auth.RoleCustomer && who.CustomerID != nil:
		return q.Where("events.customer_id = ?", *who.CustomerID)
	default:
		return q.Where("false")
	}
}

// Get reads an event the caller may see.
func (s *Service) Get(ctx context.Context, who auth.Principal, id uuid.UUID) (Event, error) {
	return page.Take[Event](scoped(s.db.WithContext(ctx), who), "events", id, "event", false)
}

// Filter narrows a list.
type Filter struct {
	Types      []string // any of these
	ResourceID *uuid.UUID
}

// Page is one page request: how many, after which seq.
type Page struct {
	Limit int
	After int64
}

// ParsePage reads limit and cursor; the cursor is the opaque form of the
// last seq seen, and one that does not decode is a 400 on cursor.
func ParsePage(limit *int, cursor *string) (Page, error) {
	r, err := page.Parse(limit, nil)
	if err != nil {
		return Page{}, err
	}
	p := Page{Limit: r.Limit}
	if cursor != nil && *cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(*cursor)
		var c struct {
			S *int64 `json:"s"`
		}
		if err != nil || json.Unmarshal(b, &c) != nil || c.S == nil || *c.S < 0 {
			return Page{}, errs.Invalid("cursor", "invalid_cursor", "cursor is not one this API returned")
		}
		p.After = *c.S
	}
	return p, nil
}

func cursorOf(seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(`{"s":` + strconv.FormatInt(seq, 10) + `}`))
}

// List pages through the events the caller may see, in the order they
// were written; it returns the next page's cursor, or "".
func (s *Service) List(ctx context.Context, who auth.Principal, f Filter, p Page) ([]Event, string, error) {
	q := scoped(s.db.WithContext(ctx).Model(&Event{}), who)
	if len(f.Types) > 0 {
		for _, t := range f.Types {
			if !known(t) {
				return nil, "", errs.Invalid("type", "invalid_enum", "unknown event type "+strconv.Quote(t))
			}
		}
		q = q.Where("events.type IN ?", f.Types)
	}
	if f.ResourceID != nil {
		q = q.Where("events.resource_id = ?", *f.ResourceID)
	}
	if p.After > 0 {
		q = q.Where("events.seq > ?", p.After)
	}
	var rows []Event
	if err := q.Order("events.seq").Limit(p.Limit + 1).Find(&rows).Error; err != nil {
		return nil, "", errs.Internal(err)
	}
	if len(rows) <= p.Limit {
		return rows, "", nil
	}
	rows = rows[:p.Limit]
	return rows, cursorOf(rows[len(rows)-1].Seq), nil
}

func known(t string) bool {
	for _, k := range Types {
		if k == t {
			return true
		}
	}
	return false
}
