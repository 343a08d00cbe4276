package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/egress"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/webhook"
)

// TestRetriedUntilItSucceeds: a receiver that fails twice then succeeds
// gets the event three times with one webhook-id and the same body, each
// signed so the Standard Webhooks library verifies it; the failures start
// the endpoint's failure record and the success clears it; a redelivery
// carries the same webhook-id again.
func TestRetriedUntilItSucceeds(t *testing.T) {
	t.Parallel()
	h := newHarness(t, egress.Policy{})
	failingDuringThird := make(chan *time.Time, 1)
	var ep webhook.Endpoint
	rcv := newReceiver(t, func(n int, w http.ResponseWriter) {
		if n <= 2 {
			http.Error(w, "not yet", http.StatusServiceUnavailable)
			return
		}
		if n == 3 {
			failingDuringThird <- h.endpointRow(t, ep.ID).FailingSince
		}
		w.WriteHeader(http.StatusOK)
	})
	ep, sec := h.endpoint(t, admin, rcv.URL+"/hooks")
	rcv.trust(sec)
	ev := event("invoice.issued", nil)
	h.enqueue(t, ev)
	h.start(t)

	d := h.waitStatus(t, ep.ID, ev.ID, webhook.StatusSucceeded)
	require.Equal(t, 3, d.Attempts)
	require.Equal(t, 200, *d.LastResponseCode)
	require.NotNil(t, d.LastLatencyMS)
	require.Nil(t, d.LastError)
	got := rcv.requests()
	require.Len(t, got, 3)
	for _, r := range got {
		require.Equal(t, ev.ID.String(), r.ID, "one webhook-id on every try")
		require.Equal(t, got[0].Body, r.Body, "the same body on every try")
		require.Equal(t, []bool{true}, r.Verified)
		require.True(t, strings.HasPrefix(r.Signature, "v1,"), r.Signature)
	}
	var body struct {
		Type      string          `json:"type"`
		Timestamp time.Time       `json:"timestamp"`
		Data      json.RawMessage `json:"data"`
	}
	require.NoError(t, json.Unmarshal(got[0].Body, &body))
	require.Equal(t, "invoice.issued", body.Type)
	require.True(t, epoch.Equal(body.Timestamp))
	require.JSONEq(t, string(ev.Payload), string(body.Data))
	require.NotNil(t, <-failingDuringThird, "the failures were recorded")
	require.Nil(t, h.endpointRow(t, ep.ID).FailingSince, "a success clears the failure record")

	// Redelivery: the same id and body, verified again.
	_, err := h.svc.Redeliver(context.Background(), admin, ep.ID, d.ID)
	require.NoError(t, err)
	d = h.waitStatus(t, ep.ID, ev.ID, webhook.StatusSucceeded)
	require.Equal(t, 4, d.Attempts)
	got = rcv.requests()
	require.Len(t, got, 4)
	require.Equal(t, ev.ID.String(), got[3].ID)
	require.Equal(t, got[0].Body, got[3].Body)
	require.Equal(t, []bool{true}, got[3].Verified)
}

// TestRotation: for 24 hours after a rotation both secrets sign, then only
// the new one.
func TestRotation(t *testing.T) {
	t.Parallel()
	h := newHarness(t, egress.Policy{})
	rcv := newReceiver(t, nil)
	ep, old := h.endpoint(t, admin, rcv.URL)
	ctx := context.Background()
	_, _, err := h.svc.RotateSecret(ctx, admin, ep.ID, &[]int64{2}[0])
	requireCode(t, err, "version_mismatch")
	rotated, fresh, err := h.svc.RotateSecret(ctx, admin, ep.ID, &ep.Version)
	require.NoError(t, err)
	require.NotEqual(t, old, fresh)
	require.True(t, strings.HasPrefix(fresh, "whsec_"))
	require.True(t, epoch.Add(24*time.Hour).Equal(*rotated.PreviousSecretExpiresAt))
	rcv.trust(old, fresh)
	h.start(t)

	steps := []struct {
		name    string
		advance time.Duration
		want    []bool
	}{
		{"right after the rotation both sign", 0, []bool{true, true}},
		{"23 hours on both still sign", 23 * time.Hour, []bool{true, true}},
		{"after 24 hours only the new one", time.Hour + time.Second, []bool{false, true}},
	}
	for i, st := range steps {
		h.clk.Advance(st.advance)
		ev := event("order.completed", nil)
		h.enqueue(t, ev)
		h.waitStatus(t, ep.ID, ev.ID, webhook.StatusSucceeded)
		got := rcv.requests()
		require.Len(t, got, i+1)
		require.Equal(t, ev.ID.String(), got[i].ID)
		require.Equal(t, st.want, got[i].Verified, st.name)
		require.Len(t, strings.Fields(got[i].Signature), 1+btoi(st.want[0]), st.name)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestFanOut: a partner's endpoints get only that partner's events; the
// SP's get every event; type filters and disabled endpoints are honoured;
// the same event enqueued twice is delivered once.
func TestFanOut(t *testing.T) {
	t.Parallel()
	h := newHarness(t, egress.Policy{})
	a, b := h.newPartner(t), h.newPartner(t)
	const url = "https://127.0.0.1:1/hooks"
	sp, _ := h.endpoint(t, admin, url)
	spInvoices, _ := h.endpoint(t, admin, url, "invoice.paid")
	epA, _ := h.endpoint(t, partnerPrincipal(a), url)
	epB, _ := h.endpoint(t, partnerPrincipal(b), url)
	off, _ := h.endpoint(t, partnerPrincipal(a), url)
	_, err := h.svc.Update(context.Background(), partnerPrincipal(a), off.ID, webhook.Input{Enabled: new(bool)}, nil)
	require.NoError(t, err)

	evA, evB, evSP, paidB := event("order.completed", &a), event("order.completed", &b), event("order.completed", nil), event("invoice.paid", &b)
	h.enqueue(t, evA, evB, evSP, paidB)
	h.enqueue(t, evA) // again: nothing more

	ids := func(ep uuid.UUID) []uuid.UUID {
		var out []uuid.UUID
		for _, d := range h.deliveries(t, ep) {
			out = append(out, d.EventID)
		}
		return out
	}
	tests := []struct {
		name string
		ep   uuid.UUID
		want []uuid.UUID
	}{
		{"the SP's endpoint gets every event", sp.ID, []uuid.UUID{evA.ID, evB.ID, evSP.ID, paidB.ID}},
		{"a type filter is honoured", spInvoices.ID, []uuid.UUID{paidB.ID}},
		{"partner A gets only its own", epA.ID, []uuid.UUID{evA.ID}},
		{"partner B gets only its own", epB.ID, []uuid.UUID{evB.ID, paidB.ID}},
		{"a disabled endpoint gets nothing", off.ID, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.ElementsMatch(t, tt.want, ids(tt.ep))
		})
	}
}

// TestNothingLostNothingInvented: an event committed while no worker runs
// is delivered once one starts; one whose transaction rolls back leaves
// no delivery and no job.
func TestNothingLostNothingInvented(t *testing.T) {
	t.Parallel()
	h := newHarness(t, egress.Policy{})
	rcv := newReceiver(t, nil)
	ep, sec := h.endpoint(t, admin, rcv.URL)
	rcv.trust(sec)
	rolledBack, committed := event("payment.created", nil), event("payment.created", nil)
	boom := errors.New("the change failed")
	err := h.db.Gorm.Transaction(func(tx *gorm.DB) error {
		require.NoError(t, h.svc.Enqueue(context.Background(), tx, rolledBack))
		return boom
	})
	require.ErrorIs(t, err, boom)
	h.enqueue(t, committed)
	ds := h.deliveries(t, ep.ID)
	require.Len(t, ds, 1)
	require.Equal(t, committed.ID, ds[0].EventID)
	require.Equal(t, webhook.StatusPending, ds[0].Status)
	require.Empty(t, rcv.requests(), "no worker yet")

	h.start(t)
	h.waitStatus(t, ep.ID, committed.ID, webhook.StatusSucceeded)
	got := rcv.requests()
	require.Len(t, got, 1)
	require.Equal(t, committed.ID.String(), got[0].ID)
	var jobs int64
	require.NoError(t, h.db.Gorm.Raw("SELECT count(*) FROM river_job WHERE kind = 'webhook_delivery' AND queue = 'webhooks'").Scan(&jobs).Error)
	require.EqualValues(t, 1, jobs, "the rolled-back event queued no job; the committed one's is on the webhook queue")
}

// TestDisabledAfterThreeDays: an endpoint whose deliveries fail for three
// days is disabled, once, and the recorder is handed the
// webhook_endpoint.disabled event in the same transaction; its pending
// deliveries then fail without being tried.
func TestDisabledAfterThreeDays(t *testing.T) {
	t.Parallel()
	h := newHarness(t, egress.Policy{})
	p := h.newPartner(t)
	rcv := newReceiver(t, func(_ int, w http.ResponseWriter) { http.Error(w, "down", http.StatusInternalServerError) })
	ep, _ := h.endpoint(t, partnerPrincipal(p), rcv.URL)
	var mu sync.Mutex
	var recorded []webhook.Event
	h.svc.UseRecorder(func(ctx context.Context, tx *gorm.DB, ev webhook.Event) error {
		var enabled bool
		if err := tx.Raw("SELECT enabled FROM webhook_endpoints WHERE id = ?", ev.ResourceID).Scan(&enabled).Error; err != nil {
			return err
		}
		if enabled {
			return errors.New("recorded before the endpoint was disabled")
		}
		mu.Lock()
		defer mu.Unlock()
		recorded = append(recorded, ev)
		return nil
	})
	ev := event("service.suspended", &p)
	h.enqueue(t, ev)
	h.start(t)

	require.Eventually(t, func() bool { return h.endpointRow(t, ep.ID).FailingSince != nil }, 60*time.Second, 20*time.Millisecond)
	require.True(t, epoch.Equal(*h.endpointRow(t, ep.ID).FailingSince))
	require.True(t, h.endpointRow(t, ep.ID).Enabled, "not yet three days")
	h.clk.Advance(webhook.DisableAfter)

	d := h.waitStatus(t, ep.ID, ev.ID, webhook.StatusFailed)
	require.Equal(t, "endpoint disabled", *d.LastError)
	row := h.endpointRow(t, ep.ID)
	require.False(t, row.Enabled)
	require.Equal(t, "failing", *row.DisabledReason)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, recorded, 1)
	got := recorded[0]
	require.Equal(t, webhook.TypeEndpointDisabled, got.Type)
	require.Equal(t, ep.ID, got.ResourceID)
	require.Equal(t, "webhook_endpoint", got.ResourceType)
	require.Equal(t, &p, got.PartnerID)
	var payload webhook.Endpoint
	require.NoError(t, json.Unmarshal(got.Payload, &payload))
	require.Equal(t, ep.ID, payload.ID)
	require.False(t, payload.Enabled)
	require.NotContains(t, string(got.Payload), "secret\":")

	// Enabling it again clears the record.
	up, err := h.svc.Update(context.Background(), partnerPrincipal(p), ep.ID, webhook.Input{Enabled: &[]bool{true}[0]}, nil)
	require.NoError(t, err)
	require.True(t, up.Enabled)
	require.Nil(t, up.FailingSince)
	require.Nil(t, up.DisabledReason)
}

// requireCode checks err is an *errs.Error with code.
func requireCode(t *testing.T, err error, code string) *errs.Error {
	t.Helper()
	var e *errs.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, code, e.Code, e.Error())
	return e
}

// TestDispatchQueuesEachDeliveryOnce: the event's transaction writes the
// deliveries and no job; the dispatcher queues one job per delivery, once,
// however often it runs.
func TestDispatchQueuesEachDeliveryOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, egress.Policy{})
	rcv := newReceiver(t, nil)
	for range 2 {
		_, sec := h.endpoint(t, admin, rcv.URL)
		rcv.trust(sec)
	}
	for range 3 {
		h.enqueue(t, event("invoice.paid", nil))
	}
	count := func(q string) (n int64) {
		require.NoError(t, h.db.Gorm.Raw(q).Scan(&n).Error)
		return n
	}
	require.EqualValues(t, 6, count("SELECT count(*) FROM webhook_deliveries WHERE NOT queued"))
	require.EqualValues(t, 0, count("SELECT count(*) FROM river_job WHERE kind = 'webhook_delivery'"))
	n, err := h.svc.Dispatch(context.Background())
	require.NoError(t, err)
	require.Equal(t, 6, n)
	n, err = h.svc.Dispatch(context.Background())
	require.NoError(t, err)
	require.Zero(t, n)
	require.EqualValues(t, 6, count("SELECT count(*) FROM river_job WHERE kind = 'webhook_delivery'"))
	require.EqualValues(t, 0, count("SELECT count(*) FROM webhook_deliveries WHERE NOT queued"))
}
