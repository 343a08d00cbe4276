// Package webhook tells other systems what happened, as signed HTTP POSTs
// that follow the Standard Webhooks specification (standardwebhooks.com).
//
// Entities: an Endpoint (a URL owned by the SP — partner_id empty — or by
// one partner, the event types it wants, a signing secret) and a Delivery
// (one event for one endpoint: the body sent, its status and how its last
// try went).
//
// States: a delivery is pending (tries left), succeeded (a 2xx within 10 s)
// or failed (tries used up, its URL refused, or its endpoint disabled). An
// endpoint is enabled or disabled (by its owner, or by the platform after
// three days of failures, disabled_reason "failing").
//
// Invariants:
//   - Deliveries are written by Enqueue in the transaction that records the
//     event, with their River jobs: a rollback sends nothing, a commit is
//     sent even if the process dies right after.
//   - The webhook-id header is the event id, the same on every try and
//     redelivery, so receivers can drop duplicates; the body is stored and
//     sent byte for byte the same each time.
//   - A partner's endpoints receive only events whose PartnerID is that
//     partner; the SP's endpoints receive every event (the SP's own and its
//     partners').
//   - The secret is stored sealed and shown only when made (create, rotate).
//     For 24 hours after a rotation both secrets sign.
//   - Every connection goes through internal/egress: https to public
//     addresses only (http to loopback outside production; private,
//     loopback and link-local addresses with WEBHOOK_ALLOW_PRIVATE), checked
//     on save and at connect time; redirects are not followed; at most
//     64 KiB of a reply is read.
package webhook

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"
)

// Event is one thing that happened, as the event log records it (the same
// fields as event.Event, so neither package imports the other).
type Event struct {
	ID           uuid.UUID
	Type         string
	ResourceType string
	ResourceID   uuid.UUID
	// PartnerID is the owning partner; nil for the SP's own.
	PartnerID  *uuid.UUID
	CustomerID *uuid.UUID
	// Payload is the resource as the API returns it, at that moment.
	Payload   json.RawMessage
	CreatedAt time.Time
}

// TypeEndpointDisabled is the event recorded when the platform disables a
// failing endpoint.
const TypeEndpointDisabled = "webhook_endpoint.disabled"

// EventTypes are the types an endpoint may subscribe to.
var EventTypes = []string{
	"order.created", "order.completed", "order.failed",
	"service.suspended", "service.unsuspended", "service.terminated",
	"service.quantity_changed", "service.plan_changed",
	"invoice.issued", "invoice.paid", "invoice.voided",
	"payment.created",
	"partner.active", "partner.failed",
	TypeEndpointDisabled,
	"invoice.payment_reminder", "customer.credit_limit_exceeded", "partner.credit_limit_exceeded",
}

// KnownType reports whether t is an event type endpoints may subscribe to.
func KnownType(t string) bool { return slices.Contains(EventTypes, t) }

// Endpoint is where events are posted.
type Endpoint struct {
	ID        uuid.UUID  `gorm:"primaryKey" json:"id"`
	PartnerID *uuid.UUID `json:"partner_id,omitempty"`
	URL       string     `json:"url"`
	// EventTypes empty means every type.
	EventTypes  pq.StringArray `gorm:"type:text[]" json:"event_types"`
	Enabled     bool           `json:"enabled"`
	Description string         `json:"description"`
	// Secret and PreviousSecret are sealed (secret.Box, bound to the id).
	Secret                  []byte     `json:"-"`
	PreviousSecret          []byte     `json:"-"`
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at,omitempty"`
	FailingSince            *time.Time `json:"failing_since,omitempty"`
	// DisabledReason is "failing" when the platform disabled it.
	DisabledReason *string   `json:"disabled_reason,omitempty"`
	Version        int64     `json:"version"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// TableName keeps GORM on the migration's table.
func (Endpoint) TableName() string { return "webhook_endpoints" }

// Status is where a delivery stands.
type Status string

const (
	StatusPending   Status = "pending"
	StatusSucceeded Status = "succeeded"
	StatusFailed    Status = "failed"
)

// Delivery is one event for one endpoint.
type Delivery struct {
	ID         uuid.UUID `gorm:"primaryKey"`
	EndpointID uuid.UUID
	EventID    uuid.UUID
	EventType  string
	// Body is what is posted, the same bytes on every try.
	Body             string
	Status           Status
	Attempts         int
	LastResponseCode *int
	LastLatencyMS    *int `gorm:"column:last_latency_ms"`
	LastError        *string
	NextAttemptAt    *time.Time
	LastAttemptAt    *time.Time
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// TableName keeps GORM on the migration's table.
func (Delivery) TableName() string { return "webhook_deliveries" }

// Delivery tries and their schedule.
const (
	// MaxAttempts is how often one delivery is tried.
	MaxAttempts = 15
	// Timeout is how long one try may take: a 2xx within it is success.
	Timeout = 10 * time.Second
	// MaxReply is how much of a reply is read.
	MaxReply = 64 << 10
	// DisableAfter is how long an endpoint's deliveries may keep failing
	// before it is disabled.
	DisableAfter = 72 * time.Hour
	// RotationOverlap is how long the previous secret still signs.
	RotationOverlap = 24 * time.Hour
	// MaxEndpoints bounds the endpoints of one owner (the SP or a partner).
	MaxEndpoints = 20

	backoffBase = 30 * time.Second
	backoffCap  = 20 * time.Hour
)

// Backoff is the wait after the n-th failed try (n from 1): 30 s doubling
// each time, at most 20 h — 30s, 1m, 2m, 4m, 8m, 16m, 32m, 1h04m, 2h08m,
// 4h16m, 8h32m, 17h04m, 20h, 20h. The 15th and last try comes about
// 3 days and 2 hours after the first, past DisableAfter, so an endpoint
// that never answers is disabled by its first event's last try.
func Backoff(n int) time.Duration {
	if n < 1 {
		n = 1
	}
	if n > 20 {
		return backoffCap
	}
	return min(backoffBase<<(n-1), backoffCap)
}
