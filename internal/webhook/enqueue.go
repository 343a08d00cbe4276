package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"gorm.io/gorm"
)

// body is what a delivery posts, as the Standard Webhooks specification
// recommends: the type, when it happened, and the resource.
type body struct {
	Type      string          `json:"type"`
	Timestamp time.Time       `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// Enqueue fans ev out to the enabled endpoints that want it, in tx (the
// transaction that records the event): one delivery row and one River job
// per endpoint, so a rollback sends nothing and a commit is sent however
// the process ends. The endpoints are those of ev's partner (when it has
// one) and the SP's, subscribed to ev.Type or to every type. With no such
// endpoint it costs one query. Enqueuing the same event twice adds nothing.
func (s *Service) Enqueue(ctx context.Context, tx *gorm.DB, ev Event) error {
	if ev.ID == uuid.Nil || ev.Type == "" {
		return errors.New("webhook: event without id or type")
	}
	data := ev.Payload
	if len(data) == 0 {
		data = json.RawMessage("{}")
	}
	now := s.now()
	at := ev.CreatedAt
	if at.IsZero() {
		at = now
	}
	b, err := json.Marshal(body{Type: ev.Type, Timestamp: at.UTC(), Data: data})
	if err != nil {
		return fmt.Errorf("webhook: event %s payload: %w", ev.ID, err)
	}
	var ids []uuid.UUID
	err = tx.WithContext(ctx).Raw(`
		INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, body, status, attempts, next_attempt_at, created_at, updated_at)
		SELECT gen_random_uuid(), e.id, ?, ?, ?, 'pending', 0, ?, ?, ?
		FROM webhook_endpoints e
		WHERE e.enabled
		  AND (e.partner_id IS NULL OR e.partner_id = ?)
		  AND (cardinality(e.event_types) = 0 OR ? = ANY (e.event_types))
		ON CONFLICT (endpoint_id, event_id) DO NOTHING
		RETURNING id`,
		ev.ID, ev.Type, string(b), now, now, now, ev.PartnerID, ev.Type).Scan(&ids).Error
	if err != nil {
		return fmt.Errorf("webhook: enqueue %s: %w", ev.ID, err)
	}
	if len(ids) == 0 {
		return nil
	}
	if s.jobs == nil {
		return errors.New("webhook: jobs not wired")
	}
	params := make([]river.InsertManyParams, len(ids))
	for i, id := range ids {
		params[i] = river.InsertManyParams{Args: DeliverArgs{DeliveryID: id}}
	}
	if err := s.jobs.InsertManyTx(ctx, tx, params); err != nil {
		return fmt.Errorf("webhook: enqueue %s jobs: %w", ev.ID, err)
	}
	return nil
}
