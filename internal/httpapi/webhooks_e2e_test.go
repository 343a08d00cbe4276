package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/acronis"
	"github.com/acronis-platform/platform/internal/app/apptest"
	"github.com/acronis-platform/platform/internal/postgres/pgtest"
)

// hook is one request a receiver got.
type hook struct {
	ID, Type  string
	Timestamp time.Time
	Data      json.RawMessage
	// Err says why the request did not verify (Standard Webhooks library).
	Err error
}

// hookReceiver is a webhook endpoint on 127.0.0.1 that verifies every
// request with an implementation of Standard Webhooks independent of the
// platform's, and answers 500 to the first fail requests.
type hookReceiver struct {
	*httptest.Server
	mu   sync.Mutex
	wh   *standardwebhooks.Webhook
	got  []hook
	fail int
}

func newHookReceiver(t *testing.T, fail int) *hookReceiver {
	t.Helper()
	r := &hookReceiver{fail: fail}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		h := hook{ID: req.Header.Get("webhook-id"), Err: fmt.Errorf("no secret yet")}
		if r.wh != nil {
			h.Err = r.wh.Verify(body, req.Header)
		}
		var b struct {
			Type      string          `json:"type"`
			Timestamp time.Time       `json:"timestamp"`
			Data      json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(body, &b); err != nil && h.Err == nil {
			h.Err = err
		}
		h.Type, h.Timestamp, h.Data = b.Type, b.Timestamp, b.Data
		r.got = append(r.got, h)
		if len(r.got) <= r.fail {
			http.Error(w, "not now", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.Close)
	return r
}

// subscribe creates an endpoint for the receiver (as c: an admin's is the
// SP's, a partner's its own) and verifies with its secret from then on.
func (r *hookReceiver) subscribe(t *testing.T, c *oapi.ClientWithResponses, types ...string) uuid.UUID {
	t.Helper()
	body := oapi.WebhookEndpointCreate{Url: r.URL}
	if len(types) > 0 {
		body.EventTypes = &types
	}
	res, err := c.CreateWebhookEndpointWithResponse(context.Background(), nil, body)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, res.StatusCode(), string(res.Body))
	wh, err := standardwebhooks.NewWebhook(res.JSON201.Secret)
	require.NoError(t, err)
	r.mu.Lock()
	r.wh = wh
	r.mu.Unlock()
	return res.JSON201.Id
}

func (r *hookReceiver) hooks() []hook {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hook(nil), r.got...)
}

// waitFor waits until the receiver has got every event (at least once)
// and returns what it got; every request must have verified.
func (r *hookReceiver) waitFor(t *testing.T, evs []oapi.Event) []hook {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := r.hooks()
		seen := map[string]bool{}
		for _, h := range got {
			require.NoError(t, h.Err, "every delivery verifies")
			seen[h.ID] = true
		}
		missing := 0
		for _, e := range evs {
			if !seen[e.Id.String()] {
				missing++
			}
		}
		if missing == 0 {
			return got
		}
		if time.Now().After(deadline) {
			require.Failf(t, "events not delivered", "%d of %d missing", missing, len(evs))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// requireHooksAre checks the receiver got exactly the events evs, each
// once, its body the event: type, time and data.object.
func requireHooksAre(t *testing.T, got []hook, evs []oapi.Event) {
	t.Helper()
	require.Len(t, got, len(evs), "each event once, no other")
	byID := map[string]hook{}
	for _, h := range got {
		byID[h.ID] = h
	}
	for _, e := range evs {
		h, ok := byID[e.Id.String()]
		require.True(t, ok, "%s %s not delivered", e.Type, e.Id)
		require.Equal(t, string(e.Type), h.Type)
		require.True(t, e.CreatedAt.Equal(h.Timestamp.Truncate(time.Microsecond)), "%s: %s vs %s", e.Type, e.CreatedAt, h.Timestamp)
		requireSameJSON(t, h.Data, e.Data.Object, string(e.Type)+" posts the event's data")
	}
}

// positions maps each delivered event to where it arrived first.
func positions(got []hook) map[string]int {
	out := map[string]int{}
	for i, h := range got {
		if _, ok := out[h.ID]; !ok {
			out[h.ID] = i
		}
	}
	return out
}

// An order's flow reaches the SP's endpoint as its event log tells it:
// every event once, signed, its body the event; what one step caused
// arrives after what the step before caused.
func TestWebhooksCarryAnOrdersEvents(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	rcv := newHookReceiver(t, 0)
	rcv.subscribe(t, s.admin)
	_, token := s.plan(t, planOpts{autoApprove: true})

	res := place(t, s.env.Client(t, ""), storefrontOrder(token, newLogin()))
	require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
	placed := eventsOf(t, s.admin, oapi.ListEventsParams{})
	require.Equal(t, []oapi.EventType{oapi.EventTypeOrderCreated, oapi.EventTypeInvoiceIssued}, typesOf(placed))
	rcv.waitFor(t, placed)

	inv := invoicesOf(t, s.admin, &oapi.ListInvoicesParams{CustomerId: &res.JSON202.CustomerId})[0]
	require.Equal(t, http.StatusCreated, pay(t, s.admin, inv.Id, inv.Total.Amount).StatusCode())
	done := waitOrder(t, s.admin, res.JSON202.Id)
	require.Equal(t, oapi.OrderStatusCompleted, done.Status, "failure: %v", done.FailureReason)
	all := eventsOf(t, s.admin, oapi.ListEventsParams{})
	require.Equal(t, []oapi.EventType{oapi.EventTypeOrderCreated, oapi.EventTypeInvoiceIssued,
		oapi.EventTypePaymentCreated, oapi.EventTypeInvoicePaid, oapi.EventTypeOrderCompleted}, typesOf(all))
	got := rcv.waitFor(t, all)
	requireHooksAre(t, got, all)
	at := positions(got)
	for _, first := range all[:2] {
		for _, then := range all[2:] {
			require.Less(t, at[first.Id.String()], at[then.Id.String()], "%s before %s", first.Type, then.Type)
		}
	}
}

// Two partners, each with an endpoint and a customer's order: each
// endpoint gets exactly its partner's events; the SP's gets both.
func TestPartnerEndpointsGetOnlyTheirEvents(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	sp := newHookReceiver(t, 0)
	sp.subscribe(t, s.admin)
	planID, _ := s.plan(t, planOpts{model: oapi.BillingModelPostpaidFixed, partnerVisible: true, autoApprove: true})
	type side struct {
		id       uuid.UUID
		client   *oapi.ClientWithResponses
		rcv      *hookReceiver
		endpoint uuid.UUID
	}
	var sides []side
	for range 2 {
		p, c := s.activePartner(t)
		sides = append(sides, side{id: p.Id, client: c})
	}
	// Each subscribes once both exist; what came before is not theirs to get.
	before := map[uuid.UUID]bool{}
	for i := range sides {
		sides[i].rcv = newHookReceiver(t, 0)
		sides[i].endpoint = sides[i].rcv.subscribe(t, sides[i].client)
	}
	for _, e := range eventsOf(t, s.admin, oapi.ListEventsParams{}) {
		before[e.Id] = true
	}
	for _, sd := range sides {
		s.partnerService(t, sd.client, planID)
	}
	for i, sd := range sides {
		other := sides[1-i]
		var mine []oapi.Event
		for _, e := range eventsOf(t, sd.client, oapi.ListEventsParams{}) {
			if !before[e.Id] {
				mine = append(mine, e)
			}
		}
		require.Contains(t, typesOf(mine), oapi.EventTypeOrderCompleted)
		for _, e := range mine {
			require.Equal(t, sd.id, *e.PartnerId)
		}
		requireHooksAre(t, sd.rcv.waitFor(t, mine), mine)
		// Its deliveries are rows written with the events: none is another's.
		ds, err := sd.client.ListWebhookDeliveriesWithResponse(ctx, sd.endpoint, &oapi.ListWebhookDeliveriesParams{Limit: ptr(100)})
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, ds.StatusCode(), string(ds.Body))
		require.Len(t, ds.JSON200.Data, len(mine))
		theirs := map[uuid.UUID]bool{}
		for _, e := range eventsOf(t, other.client, oapi.ListEventsParams{}) {
			theirs[e.Id] = true
		}
		require.NotEmpty(t, theirs)
		for _, d := range ds.JSON200.Data {
			require.False(t, theirs[d.EventId], "%s of the other partner", d.EventType)
		}
	}
	all := eventsOf(t, s.admin, oapi.ListEventsParams{})
	requireHooksAre(t, sp.waitFor(t, all), all)
}

// A receiver that fails twice gets the same event a third time, with the
// same webhook-id and body, and the delivery ends succeeded after three
// attempts.
func TestWebhookRetriedUntilAccepted(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	rcv := newHookReceiver(t, 2)
	ep := rcv.subscribe(t, s.admin, "order.created")
	_, token := s.plan(t, planOpts{autoApprove: true})
	res := place(t, s.env.Client(t, ""), storefrontOrder(token, newLogin()))
	require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
	created := one(t, s.admin, oapi.EventTypeOrderCreated, res.JSON202.Id)

	// The retries are due in 30 s and 1 min; the test brings them forward.
	deadline := time.Now().Add(90 * time.Second)
	for len(rcv.hooks()) < 3 {
		require.NoError(t, s.env.App.DB.Gorm.Exec(`UPDATE river_job SET scheduled_at = now()
			WHERE kind = 'webhook_delivery' AND state = 'retryable'`).Error)
		require.True(t, time.Now().Before(deadline), "only %d tries", len(rcv.hooks()))
		time.Sleep(100 * time.Millisecond)
	}
	var d oapi.WebhookDelivery
	require.Eventually(t, func() bool {
		r, err := s.admin.ListWebhookDeliveriesWithResponse(ctx, ep, nil)
		require.NoError(t, err)
		require.Len(t, r.JSON200.Data, 1)
		d = r.JSON200.Data[0]
		return d.Status == oapi.WebhookDeliveryStatusSucceeded
	}, 30*time.Second, 20*time.Millisecond)
	require.Equal(t, 3, d.Attempts)
	require.Equal(t, created.Id, d.EventId)
	require.Equal(t, 204, *d.LastResponseCode)
	got := rcv.hooks()
	require.Len(t, got, 3)
	for _, h := range got {
		require.NoError(t, h.Err)
		require.Equal(t, created.Id.String(), h.ID, "one webhook-id on every try")
		requireSameJSON(t, h.Data, created.Data.Object, "the same body")
	}
}

// Events committed while no job runs (the process died after the commit)
// are delivered by the next instance that runs the jobs: nothing is lost.
func TestWebhooksSurviveACrashBetweenCommitAndDelivery(t *testing.T) {
	t.Parallel()
	vendor := apptest.StartVendor(t)
	cfg := apptest.Config(t)
	cfg.DatabaseURL = pgtest.NewDatabase(t, true)
	cfg.AcronisURL, cfg.AcronisClientID, cfg.AcronisClientSecret = vendor.URL, "sp-client", "sp-secret"
	first := apptest.Start(t, cfg) // its jobs never start
	s := shopOn(t, first, vendor)
	rcv := newHookReceiver(t, 0)
	ep := rcv.subscribe(t, s.admin)
	_, token := s.plan(t, planOpts{autoApprove: true})
	res := place(t, s.env.Client(t, ""), storefrontOrder(token, newLogin()))
	require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
	inv := invoicesOf(t, s.admin, &oapi.ListInvoicesParams{CustomerId: &res.JSON202.CustomerId})[0]
	require.Equal(t, http.StatusCreated, pay(t, s.admin, inv.Id, inv.Total.Amount).StatusCode())
	committed := eventsOf(t, s.admin, oapi.ListEventsParams{})
	require.Equal(t, []oapi.EventType{oapi.EventTypeOrderCreated, oapi.EventTypeInvoiceIssued,
		oapi.EventTypePaymentCreated, oapi.EventTypeInvoicePaid}, typesOf(committed))
	ds, err := s.admin.ListWebhookDeliveriesWithResponse(context.Background(), ep, nil)
	require.NoError(t, err)
	require.Len(t, ds.JSON200.Data, len(committed))
	for _, d := range ds.JSON200.Data {
		require.Equal(t, oapi.WebhookDeliveryStatusPending, d.Status)
	}
	require.Empty(t, rcv.hooks(), "nothing sent without jobs")

	// Another instance on the same database runs the jobs.
	second := apptest.Start(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, second.App.Jobs.Start(ctx))
	t.Cleanup(func() {
		cancel()
		_ = second.App.Jobs.Stop(context.Background())
	})
	admin, _ := second.Admin(t)
	done := waitOrder(t, admin, res.JSON202.Id)
	require.Equal(t, oapi.OrderStatusCompleted, done.Status, "failure: %v", done.FailureReason)
	all := eventsOf(t, admin, oapi.ListEventsParams{})
	require.Equal(t, append(typesOf(committed), oapi.EventTypeOrderCompleted), typesOf(all))
	requireHooksAre(t, rcv.waitFor(t, all), all)
}

// shopOn is newShop on a platform the caller started (its jobs running or not).
func shopOn(t *testing.T, env *apptest.Env, vendor *apptest.Vendor) *shop {
	t.Helper()
	vc, err := acronis.New(acronis.Config{BaseURL: vendor.URL, ClientID: "sp-client", ClientSecret: "sp-secret"})
	require.NoError(t, err)
	locs, err := vc.TenantLocations(context.Background(), vendor.SPTenantID())
	require.NoError(t, err)
	admin, _ := env.Admin(t)
	return &shop{env: env, vendor: vendor, vc: vc, admin: admin, chain: newChain(t, admin, oapi.Acronis), loc: locs[0].ID}
}
