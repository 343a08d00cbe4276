package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
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
// transaction that records the event): one delivery row per endpoint, so a
// rollback sends nothing and a commit is sent however the process ends. The
// endpoints are those of ev's partner (when it has one) and the SP's,
// subscribed to ev.Type or to every type. It is one statement whether or
// not an endpoint matches: the rows' jobs are queued by the dispatcher
// (Dispatch), not here. Enqueuing the same event twice adds nothing.
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
	err = tx.WithContext(ctx).Exec(`
		INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, body, status, attempts, next_attempt_at, queued, created_at, updated_at)
		SELECT gen_random_uuid(), e.id, ?, ?, ?, 'pending', 0, ?, false, ?, ?
		FROM webhook_endpoints e
		WHERE e.enabled
		  AND (e.partner_id IS NULL OR e.partner_id = ?)
		  AND (cardinality(e.event_types) = 0 OR ? = ANY (e.event_types))
		ON CONFLICT (endpoint_id, event_id) DO NOTHING`,
		ev.ID, ev.Type, string(b), now, now, now, ev.PartnerID, ev.Type).Error
	if err != nil {
		return fmt.Errorf("webhook: enqueue %s: %w", ev.ID, err)
	}
	return nil
}

// dispatchBatch is how many deliveries one dispatch transaction queues.
const dispatchBatch = 500

// Dispatch queues the River jobs of deliveries written without one, oldest
// first, and marks them queued in the same transaction, until none is
// left; it returns how many it queued. Instances dispatching at once take
// different rows (SKIP LOCKED); a crash before the commit leaves the rows
// for the next try, so no delivery is lost or queued twice.
func (s *Service) Dispatch(ctx context.Context) (int, error) {
	if s.jobs == nil {
		return 0, errors.New("webhook: jobs not wired")
	}
	total := 0
	for {
		n := 0
		err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			var ids []uuid.UUID
			if err := tx.Raw(`SELECT id FROM webhook_deliveries WHERE NOT queued
				ORDER BY created_at LIMIT ? FOR UPDATE SKIP LOCKED`, dispatchBatch).Scan(&ids).Error; err != nil {
				return err
			}
			if len(ids) == 0 {
				return nil
			}
			params := make([]river.InsertManyParams, len(ids))
			for i, id := range ids {
				params[i] = river.InsertManyParams{Args: DeliverArgs{DeliveryID: id}}
			}
			if err := s.jobs.InsertManyTx(ctx, tx, params); err != nil {
				return err
			}
			n = len(ids)
			return tx.Exec("UPDATE webhook_deliveries SET queued = true WHERE id IN ?", ids).Error
		})
		if err != nil {
			return total, fmt.Errorf("webhook: dispatch: %w", err)
		}
		total += n
		if n < dispatchBatch {
			return total, nil
		}
	}
}

// DispatchEvery is the dispatcher's loop (a jobs.Loop): Dispatch, then
// wait interval, until ctx ends. A failed dispatch is logged and tried
// again at the next tick.
func (s *Service) DispatchEvery(interval time.Duration, log *slog.Logger) func(ctx context.Context) {
	return func(ctx context.Context) {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			if _, err := s.Dispatch(ctx); err != nil && ctx.Err() == nil {
				log.WarnContext(ctx, "webhook dispatch failed", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}
}
