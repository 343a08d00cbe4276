// Package idempotency stores the outcome of creating requests per caller and
// Idempotency-Key, so a retry gets the first response instead of a second
// effect.
package idempotency

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/clock"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/secret"
)

const (
	// TTL is how long a key is remembered.
	TTL = 24 * time.Hour
	// staleAfter is when an in-flight claim whose process died may be taken over.
	staleAfter = 5 * time.Minute
)

// Response is a stored response, replayed byte for byte.
type Response struct {
	Status      int
	ContentType string
	Body        []byte
	// Headers are the answer's own headers a replay repeats (Replayed).
	Headers map[string]string
}

// Replayed are the headers of an answer that a replay repeats; the rest
// (request id, rate limits) belong to the request that reads it.
var Replayed = []string{"ETag", "Location", "Retry-After"}

// Store keeps idempotency records in PostgreSQL. Response bodies are
// encrypted: they may carry secrets shown once, such as a new API key.
type Store struct {
	db  *gorm.DB
	clk clock.Clock
	box *secret.Box
}

// New returns a store over db.
func New(db *gorm.DB, clk clock.Clock, box *secret.Box) *Store {
	return &Store{db: db, clk: clk, box: box}
}

func aad(scope, key string) []byte { return []byte(scope + "\x00" + key) }

// Begin claims (scope, key) for a request with the given hash. It returns
// (nil, nil) when the caller should go ahead, a stored Response to replay,
// or a 422 (same key, other request) or 409 (first one still in flight).
func (s *Store) Begin(ctx context.Context, scope, key string, hash []byte) (*Response, error) {
	for range 3 {
		now := s.clk.Now()
		var claimed []bool
		err := s.db.WithContext(ctx).Raw(`
			INSERT INTO idempotency_keys (scope, key, request_hash, state, locked_at, created_at, expires_at)
			VALUES (?, ?, ?, 'in_flight', ?, ?, ?)
			ON CONFLICT (scope, key) DO UPDATE SET
				request_hash = EXCLUDED.request_hash, state = 'in_flight',
				locked_at = EXCLUDED.locked_at, created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at,
				response_status = NULL, response_type = NULL, response_body = NULL, response_headers = NULL
			WHERE idempotency_keys.expires_at <= EXCLUDED.created_at
			   OR (idempotency_keys.state = 'in_flight' AND idempotency_keys.locked_at < ?
			       AND idempotency_keys.request_hash = EXCLUDED.request_hash)
			RETURNING true`, scope, key, hash, now, now, now.Add(TTL), now.Add(-staleAfter)).Scan(&claimed).Error
		if err != nil {
			return nil, errs.Internal(err)
		}
		if len(claimed) == 1 {
			return nil, nil
		}
		var row struct {
			RequestHash     []byte
			State           string
			ResponseStatus  *int
			ResponseType    *string
			ResponseBody    []byte
			ResponseHeaders []byte
		}
		err = s.db.WithContext(ctx).Raw(`SELECT request_hash, state, response_status, response_type, response_body, response_headers
			FROM idempotency_keys WHERE scope = ? AND key = ?`, scope, key).Take(&row).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			continue // released or cleaned up meanwhile: claim again
		}
		if err != nil {
			return nil, errs.Internal(err)
		}
		if !bytes.Equal(row.RequestHash, hash) {
			return nil, errs.Unprocessable("idempotency_key_reused", "This Idempotency-Key was used with a different request.")
		}
		if row.State == "in_flight" || row.ResponseStatus == nil {
			return nil, errs.Conflict("idempotency_request_in_flight", "A request with this Idempotency-Key is still being processed; retry shortly.")
		}
		body, err := s.box.Open(row.ResponseBody, aad(scope, key))
		if err != nil {
			return nil, errs.Internal(err)
		}
		r := &Response{Status: *row.ResponseStatus, Body: body}
		if row.ResponseType != nil {
			r.ContentType = *row.ResponseType
		}
		if len(row.ResponseHeaders) > 0 {
			if err := json.Unmarshal(row.ResponseHeaders, &r.Headers); err != nil {
				return nil, errs.Internal(err)
			}
		}
		return r, nil
	}
	return nil, errs.Conflict("idempotency_request_in_flight", "A request with this Idempotency-Key is still being processed; retry shortly.")
}

// Complete stores the response of a claimed request.
func (s *Store) Complete(ctx context.Context, scope, key string, r Response) error {
	sealed, err := s.box.Seal(r.Body, aad(scope, key))
	if err != nil {
		return err
	}
	r.Body = sealed
	var headers []byte
	if len(r.Headers) > 0 {
		if headers, err = json.Marshal(r.Headers); err != nil {
			return err
		}
	}
	return s.db.WithContext(ctx).Exec(`UPDATE idempotency_keys
		SET state = 'done', response_status = ?, response_type = ?, response_body = ?, response_headers = ?
		WHERE scope = ? AND key = ?`, r.Status, r.ContentType, r.Body, headers, scope, key).Error
}

// Release forgets a claim whose request failed on our side, so it may be retried.
func (s *Store) Release(ctx context.Context, scope, key string) error {
	return s.db.WithContext(ctx).Exec(`DELETE FROM idempotency_keys WHERE scope = ? AND key = ? AND state = 'in_flight'`,
		scope, key).Error
}

// DeleteExpired drops keys past their 24 hours.
func (s *Store) DeleteExpired(ctx context.Context) (int64, error) {
	res := s.db.WithContext(ctx).Exec(`DELETE FROM idempotency_keys WHERE expires_at <= ?`, s.clk.Now())
	return res.RowsAffected, res.Error
}
