package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/clock"
	"github.com/acronis-platform/platform/internal/egress"
	"github.com/acronis-platform/platform/internal/jobs"
)

// DeliverArgs is the River job that tries one delivery.
type DeliverArgs struct {
	DeliveryID uuid.UUID `json:"delivery_id"`
}

// Kind names the job.
func (DeliverArgs) Kind() string { return "webhook_delivery" }

// InsertOpts gives a delivery its tries and its queue (workers of its
// own, WEBHOOK_WORKERS).
func (DeliverArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: MaxAttempts, Queue: jobs.QueueWebhooks}
}

type worker struct {
	river.WorkerDefaults[DeliverArgs]
	s *Service
}

// Worker is the delivery job's worker, to register with River.
func (s *Service) Worker() river.Worker[DeliverArgs] { return &worker{s: s} }

// NextRetry follows the schedule of Backoff. River compares it with the
// database's clock, so it is on the wall clock.
func (w *worker) NextRetry(job *river.Job[DeliverArgs]) time.Time {
	return clock.Wall().Add(w.s.backoff(job.Attempt))
}

// Timeout leaves room for the try itself (Timeout) and the bookkeeping.
func (w *worker) Timeout(*river.Job[DeliverArgs]) time.Duration { return Timeout + 20*time.Second }

func (w *worker) Work(ctx context.Context, job *river.Job[DeliverArgs]) error {
	return w.s.deliver(ctx, job.Args.DeliveryID, job.Attempt, job.MaxAttempts)
}

// try is how one try went.
type try struct {
	code    int
	latency time.Duration
	err     string
	ok      bool
	// final: another try cannot help (the URL is refused).
	final bool
	// skipped: not tried (the endpoint is disabled).
	skipped bool
}

func (s *Service) deliver(ctx context.Context, id uuid.UUID, attempt, maxAttempts int) error {
	var d Delivery
	err := s.db.WithContext(ctx).Take(&d, "id = ?", id).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil // its endpoint was deleted
	}
	if err != nil {
		return err
	}
	if d.Status != StatusPending {
		return nil // done already (a job run again after its instance died)
	}
	var ep Endpoint
	err = s.db.WithContext(ctx).Take(&ep, "id = ?", d.EndpointID).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var t try
	if !ep.Enabled {
		t = try{err: "endpoint disabled", final: true, skipped: true}
	} else {
		t = s.send(ctx, ep, d)
	}
	if !t.ok && !t.final && ctx.Err() != nil && attempt < maxAttempts {
		return ctx.Err() // the worker is stopping: not the receiver's failure
	}
	final := t.ok || t.final || attempt >= maxAttempts
	if err := s.record(context.WithoutCancel(ctx), ep, d, t, final, attempt); err != nil {
		return err
	}
	switch {
	case t.ok:
		return nil
	case final:
		return river.JobCancel(errors.New(t.err))
	default:
		return errors.New(t.err)
	}
}

// send makes one try: sign, post, read at most MaxReply of the answer.
func (s *Service) send(ctx context.Context, ep Endpoint, d Delivery) try {
	keys, err := s.keys(ep)
	if err != nil {
		return try{err: "signing secret unreadable", final: true}
	}
	// The timestamp guards receivers against replays, so it is the wall
	// clock's (a sandbox clock moved ahead would fail their tolerance
	// check); which secrets sign follows the platform clock, as the
	// rotation's expiry does.
	now := clock.Wall()
	body := []byte(d.Body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		return try{err: "invalid URL", final: true}
	}
	msgID := d.EventID.String()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "acronis-platform-webhooks/1")
	req.Header.Set("webhook-id", msgID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", Signature(keys, msgID, now, body))
	elapsed := clock.Stopwatch()
	resp, err := s.http.Do(req)
	if err != nil {
		return try{latency: elapsed(), err: clean(err.Error()), final: egress.Refused(err)}
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(io.LimitReader(resp.Body, MaxReply))
	t := try{code: resp.StatusCode, latency: elapsed()}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		t.ok = true
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		t.err = "redirect not followed: HTTP " + strconv.Itoa(resp.StatusCode)
	default:
		t.err = "HTTP " + strconv.Itoa(resp.StatusCode)
		if r := clean(string(reply)); r != "" {
			t.err += ": " + r
		}
	}
	return t
}

// keys opens the secrets that sign now: the current one, and the previous
// one until it expires.
func (s *Service) keys(ep Endpoint) ([][]byte, error) {
	key, err := s.box.Open(ep.Secret, secretContext(ep.ID))
	if err != nil {
		return nil, err
	}
	keys := [][]byte{key}
	if ep.PreviousSecret != nil && ep.PreviousSecretExpiresAt != nil && s.clk.Now().Before(*ep.PreviousSecretExpiresAt) {
		prev, err := s.box.Open(ep.PreviousSecret, secretContext(ep.ID))
		if err != nil {
			return nil, err
		}
		keys = append(keys, prev)
	}
	return keys, nil
}

// Signature is the webhook-signature header: "v1,<base64 HMAC-SHA256 of
// id.timestamp.body>" under each key, space-separated.
func Signature(keys [][]byte, msgID string, ts time.Time, body []byte) string {
	sigs := make([]string, len(keys))
	for i, k := range keys {
		h := hmac.New(sha256.New, k)
		h.Write([]byte(msgID + "." + strconv.FormatInt(ts.Unix(), 10) + "."))
		h.Write(body)
		sigs[i] = "v1," + base64.StdEncoding.EncodeToString(h.Sum(nil))
	}
	return strings.Join(sigs, " ")
}

// clean makes a receiver's words storable and short: valid UTF-8, no NUL,
// at most 300 bytes.
func clean(s string) string {
	s = strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "?")
	s = strings.TrimSpace(s)
	if len(s) > 300 {
		s = strings.ToValidUTF8(s[:300], "") + "…"
	}
	return s
}

// record keeps how a try went, and the endpoint's failure record: a success
// clears it; a failure starts it, and one three days after it started
// disables the endpoint and records webhook_endpoint.disabled.
func (s *Service) record(ctx context.Context, ep Endpoint, d Delivery, t try, final bool, attempt int) error {
	now := s.now()
	if t.ok {
		// The common case in one statement (atomic as one): a delivery
		// costs the database little beside the change that caused it.
		return s.db.WithContext(ctx).Exec(`
			WITH done AS (
				UPDATE webhook_deliveries SET status = ?, attempts = attempts + 1, last_attempt_at = ?, updated_at = ?,
					last_response_code = ?, last_latency_ms = ?, last_error = NULL, next_attempt_at = NULL
				WHERE id = ? AND status = ?)
			UPDATE webhook_endpoints SET failing_since = NULL WHERE id = ? AND failing_since IS NOT NULL`,
			StatusSucceeded, now, now, t.code, int(t.latency.Milliseconds()), d.ID, StatusPending, ep.ID).Error
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		up := map[string]any{"attempts": gorm.Expr("attempts + 1"), "last_attempt_at": now, "updated_at": now,
			"last_response_code": nil, "last_latency_ms": nil, "last_error": nil, "next_attempt_at": nil}
		if t.code != 0 {
			up["last_response_code"] = t.code
		}
		if t.latency > 0 || t.code != 0 {
			up["last_latency_ms"] = int(t.latency.Milliseconds())
		}
		switch {
		case t.ok:
			up["status"] = StatusSucceeded
		case final:
			up["status"], up["last_error"] = StatusFailed, t.err
		default:
			up["last_error"] = t.err
			up["next_attempt_at"] = now.Add(s.backoff(attempt))
		}
		if err := tx.Model(&Delivery{}).Where("id = ? AND status = ?", d.ID, StatusPending).Updates(up).Error; err != nil {
			return err
		}
		if t.skipped {
			return nil
		}
		if t.ok {
			return tx.Exec("UPDATE webhook_endpoints SET failing_since = NULL WHERE id = ? AND failing_since IS NOT NULL", ep.ID).Error
		}
		var since *time.Time
		if err := tx.Raw("UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, ?) WHERE id = ? RETURNING failing_since",
			now, ep.ID).Scan(&since).Error; err != nil {
			return err
		}
		if since == nil || now.Sub(*since) < DisableAfter {
			return nil
		}
		return s.disable(ctx, tx, ep.ID, now)
	})
}

// disable turns off an endpoint whose deliveries have failed for
// DisableAfter and records the event that says so.
func (s *Service) disable(ctx context.Context, tx *gorm.DB, id uuid.UUID, now time.Time) error {
	var eps []Endpoint
	if err := tx.Raw(`UPDATE webhook_endpoints SET enabled = false, disabled_reason = 'failing', version = version + 1, updated_at = ?
		WHERE id = ? AND enabled RETURNING *`, now, id).Scan(&eps).Error; err != nil {
		return err
	}
	if len(eps) == 0 {
		return nil // disabled already
	}
	ep := eps[0]
	payload, err := json.Marshal(ep)
	if err != nil {
		return err
	}
	ev := Event{ID: uuid.New(), Type: TypeEndpointDisabled, ResourceType: "webhook_endpoint", ResourceID: ep.ID,
		PartnerID: ep.PartnerID, Payload: payload, CreatedAt: now}
	if err := s.recorder(ctx, tx, ev); err != nil {
		return fmt.Errorf("webhook: record %s: %w", TypeEndpointDisabled, err)
	}
	return nil
}
