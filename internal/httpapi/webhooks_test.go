package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/app/apptest"
	"github.com/acronis-platform/platform/internal/postgres/pgtest"
	"github.com/acronis-platform/platform/internal/webhook"
)

// webhookEnv is a platform on a database of its own, so the endpoint
// limit per owner counts only this test's endpoints.
func webhookEnv(t *testing.T) *apptest.Env {
	t.Helper()
	cfg := apptest.Config(t)
	cfg.DatabaseURL = pgtest.NewDatabase(t, true)
	return apptest.Start(t, cfg)
}

// TestWebhookEndpointsScoping: an admin manages the SP's endpoints and any
// partner's; a partner only its own (another's is 404, naming another
// partner is 403); customers are refused; the secret is shown on create
// and rotate only.
func TestWebhookEndpointsScoping(t *testing.T) {
	t.Parallel()
	env := webhookEnv(t)
	ctx := context.Background()
	admin, _ := env.Admin(t)
	a, tokA := env.PartnerUser(t, nil)
	b, tokB := env.PartnerUser(t, nil)
	partnerA, partnerB := env.Client(t, tokA), env.Client(t, tokB)
	_, tokC := env.CustomerUser(t, nil)
	customer := env.Client(t, tokC)

	sp, err := admin.CreateWebhookEndpointWithResponse(ctx, nil, oapi.WebhookEndpointCreate{
		Url: "https://93.184.216.34/sp", EventTypes: &[]string{"invoice.paid", "invoice.paid", "order.completed"}, Description: ptr("SP")})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, sp.StatusCode(), string(sp.Body))
	require.True(t, strings.HasPrefix(sp.JSON201.Secret, "whsec_"))
	require.Nil(t, sp.JSON201.PartnerId)
	require.Equal(t, []oapi.EventType{oapi.EventTypeInvoicePaid, oapi.EventTypeOrderCompleted}, sp.JSON201.EventTypes, "duplicates dropped")
	require.Equal(t, `"1"`, sp.HTTPResponse.Header.Get("ETag"))
	require.NotEmpty(t, sp.HTTPResponse.Header.Get("X-Request-Id"))

	ownA, err := partnerA.CreateWebhookEndpointWithResponse(ctx, nil, oapi.WebhookEndpointCreate{Url: "https://93.184.216.34/a"})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, ownA.StatusCode(), string(ownA.Body))
	require.Equal(t, a, *ownA.JSON201.PartnerId)
	require.Empty(t, ownA.JSON201.EventTypes, "every type")
	forB, err := admin.CreateWebhookEndpointWithResponse(ctx, nil, oapi.WebhookEndpointCreate{Url: "https://93.184.216.34/b", PartnerId: &b})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, forB.StatusCode(), string(forB.Body))
	require.Equal(t, b, *forB.JSON201.PartnerId)

	// Lists.
	listed := func(c *oapi.ClientWithResponses, params *oapi.ListWebhookEndpointsParams) []uuid.UUID {
		res, err := c.ListWebhookEndpointsWithResponse(ctx, params)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
		require.NotContains(t, string(res.Body), `"secret"`)
		var ids []uuid.UUID
		for _, e := range res.JSON200.Data {
			ids = append(ids, e.Id)
		}
		return ids
	}
	require.ElementsMatch(t, []uuid.UUID{sp.JSON201.Id, ownA.JSON201.Id, forB.JSON201.Id}, listed(admin, nil))
	require.ElementsMatch(t, []uuid.UUID{forB.JSON201.Id}, listed(admin, &oapi.ListWebhookEndpointsParams{PartnerId: &b}))
	require.ElementsMatch(t, []uuid.UUID{ownA.JSON201.Id}, listed(partnerA, nil))
	require.ElementsMatch(t, []uuid.UUID{forB.JSON201.Id}, listed(partnerB, nil))
	page1, err := admin.ListWebhookEndpointsWithResponse(ctx, &oapi.ListWebhookEndpointsParams{Limit: ptr(2)})
	require.NoError(t, err)
	require.True(t, page1.JSON200.HasMore)
	page2, err := admin.ListWebhookEndpointsWithResponse(ctx, &oapi.ListWebhookEndpointsParams{Limit: ptr(2), Cursor: page1.JSON200.NextCursor})
	require.NoError(t, err)
	require.False(t, page2.JSON200.HasMore)
	require.Len(t, page2.JSON200.Data, 1)

	got, err := partnerA.GetWebhookEndpointWithResponse(ctx, ownA.JSON201.Id)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, got.StatusCode())
	require.NotContains(t, string(got.Body), `"secret"`)

	// What each caller may not do.
	idA, idSP := ownA.JSON201.Id, sp.JSON201.Id
	tests := []struct {
		name   string
		call   func() (int, []byte)
		status int
		code   string
	}{
		{"a partner reads another's endpoint", func() (int, []byte) {
			r, _ := partnerB.GetWebhookEndpointWithResponse(ctx, idA)
			return r.StatusCode(), r.Body
		}, 404, "not_found"},
		{"a partner reads the SP's endpoint", func() (int, []byte) {
			r, _ := partnerA.GetWebhookEndpointWithResponse(ctx, idSP)
			return r.StatusCode(), r.Body
		}, 404, "not_found"},
		{"a partner changes another's endpoint", func() (int, []byte) {
			r, _ := partnerB.UpdateWebhookEndpointWithResponse(ctx, idA, nil, oapi.WebhookEndpointUpdate{Enabled: ptr(false)})
			return r.StatusCode(), r.Body
		}, 404, "not_found"},
		{"a partner rotates another's secret", func() (int, []byte) {
			r, _ := partnerB.RotateWebhookEndpointSecretWithResponse(ctx, idA, nil)
			return r.StatusCode(), r.Body
		}, 404, "not_found"},
		{"a partner deletes another's endpoint", func() (int, []byte) {
			r, _ := partnerB.DeleteWebhookEndpointWithResponse(ctx, idA, nil)
			return r.StatusCode(), r.Body
		}, 404, "not_found"},
		{"a partner lists another's deliveries", func() (int, []byte) {
			r, _ := partnerB.ListWebhookDeliveriesWithResponse(ctx, idA, nil)
			return r.StatusCode(), r.Body
		}, 404, "not_found"},
		{"a partner redelivers on another's endpoint", func() (int, []byte) {
			r, _ := partnerB.RedeliverWebhookDeliveryWithResponse(ctx, idA, uuid.New())
			return r.StatusCode(), r.Body
		}, 404, "not_found"},
		{"a partner creates for another partner", func() (int, []byte) {
			r, _ := partnerA.CreateWebhookEndpointWithResponse(ctx, nil, oapi.WebhookEndpointCreate{Url: "https://93.184.216.34/x", PartnerId: &b})
			return r.StatusCode(), r.Body
		}, 403, "partner_not_allowed"},
		{"a customer lists", func() (int, []byte) {
			r, _ := customer.ListWebhookEndpointsWithResponse(ctx, nil)
			return r.StatusCode(), r.Body
		}, 403, "forbidden"},
		{"a customer creates", func() (int, []byte) {
			r, _ := customer.CreateWebhookEndpointWithResponse(ctx, nil, oapi.WebhookEndpointCreate{Url: "https://93.184.216.34/c"})
			return r.StatusCode(), r.Body
		}, 403, "forbidden"},
		{"anonymous", func() (int, []byte) {
			r, _ := env.Client(t, "").ListWebhookEndpointsWithResponse(ctx, nil)
			return r.StatusCode(), r.Body
		}, 401, "unauthenticated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := tt.call()
			var p problem
			require.NoError(t, json.Unmarshal(body, &p), string(body))
			require.Equal(t, tt.status, status, string(body))
			require.Equal(t, tt.code, p.Code, string(body))
		})
	}

	// Rotation shows the new secret once and says until when the old one signs.
	rot, err := partnerA.RotateWebhookEndpointSecretWithResponse(ctx, idA, &oapi.RotateWebhookEndpointSecretParams{IfMatch: ptr(`"1"`)})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, rot.StatusCode(), string(rot.Body))
	require.True(t, strings.HasPrefix(rot.JSON200.Secret, "whsec_"))
	require.NotEqual(t, ownA.JSON201.Secret, rot.JSON200.Secret)
	require.True(t, env.Clock.Now().Add(24*time.Hour).Equal(*rot.JSON200.PreviousSecretExpiresAt))
	require.EqualValues(t, 2, rot.JSON200.Version)
	stale, err := partnerA.RotateWebhookEndpointSecretWithResponse(ctx, idA, &oapi.RotateWebhookEndpointSecretParams{IfMatch: ptr(`"1"`)})
	require.NoError(t, err)
	require.Equal(t, http.StatusPreconditionFailed, stale.StatusCode(), "a retried rotation does not rotate twice")

	// Update and delete.
	upd, err := partnerA.UpdateWebhookEndpointWithResponse(ctx, idA, &oapi.UpdateWebhookEndpointParams{IfMatch: ptr(`"2"`)},
		oapi.WebhookEndpointUpdate{EventTypes: &[]string{"service.suspended"}, Description: ptr("shop")})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, upd.StatusCode(), string(upd.Body))
	require.Equal(t, []oapi.EventType{oapi.EventTypeServiceSuspended}, upd.JSON200.EventTypes)
	require.Equal(t, "shop", upd.JSON200.Description)
	del, err := partnerA.DeleteWebhookEndpointWithResponse(ctx, idA, &oapi.DeleteWebhookEndpointParams{IfMatch: ptr(`"2"`)})
	require.NoError(t, err)
	require.Equal(t, http.StatusPreconditionFailed, del.StatusCode())
	del, err = partnerA.DeleteWebhookEndpointWithResponse(ctx, idA, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, del.StatusCode())
	gone, err := partnerA.GetWebhookEndpointWithResponse(ctx, idA)
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, gone.StatusCode())
}

// TestWebhookEndpointsBadInput: each rule broken gives its status and
// code, names the field and stores nothing.
func TestWebhookEndpointsBadInput(t *testing.T) {
	t.Parallel()
	env := webhookEnv(t)
	ctx := context.Background()
	_, admin := env.Admin(t)
	tok := env.Login(t, admin)
	url := env.Server.URL + "/v1/webhook-endpoints"
	created, err := env.Client(t, tok).CreateWebhookEndpointWithResponse(ctx, nil, oapi.WebhookEndpointCreate{Url: "https://93.184.216.34/"})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, created.StatusCode(), string(created.Body))
	one := url + "/" + created.JSON201.Id.String()
	tests := []struct {
		name, method, url, body string
		status                  int
		code, field             string
	}{
		{"http to a public host", "POST", url, `{"url":"http://93.184.216.34/"}`, 422, "webhook_url_not_https", "url"},
		{"a private address", "POST", url, `{"url":"https://10.1.2.3/hooks"}`, 422, "webhook_url_not_allowed", "url"},
		{"cloud metadata", "POST", url, `{"url":"https://169.254.169.254/latest/meta-data"}`, 422, "webhook_url_not_allowed", "url"},
		{"not a URL", "POST", url, `{"url":"hooks please"}`, 422, "webhook_url_invalid", "url"},
		{"unknown event type", "POST", url, `{"url":"https://93.184.216.34/","event_types":["order.completed","order.shipped"]}`, 422, "webhook_event_type_unknown", "event_types[1]"},
		{"unknown partner", "POST", url, `{"url":"https://93.184.216.34/","partner_id":"` + uuid.NewString() + `"}`, 422, "partner_not_found", "partner_id"},
		{"no url", "POST", url, `{"event_types":[]}`, 400, "validation_failed", ""},
		{"unknown field", "POST", url, `{"url":"https://93.184.216.34/","secret":"whsec_mine"}`, 400, "validation_failed", ""},
		{"description too long", "POST", url, `{"url":"https://93.184.216.34/","description":"` + strings.Repeat("d", 501) + `"}`, 400, "validation_failed", ""},
		{"patch to a private address", "PATCH", one, `{"url":"https://192.168.0.1/"}`, 422, "webhook_url_not_allowed", "url"},
		{"patch an unknown type", "PATCH", one, `{"event_types":["nope"]}`, 422, "webhook_event_type_unknown", "event_types[0]"},
		{"empty patch", "PATCH", one, `{}`, 400, "validation_failed", ""},
		{"deliveries of an unknown status", "GET", one + "/deliveries?status=lost", "", 400, "validation_failed", ""},
		{"redeliver an unknown delivery", "POST", one + "/deliveries/" + uuid.NewString() + "/redeliver", "", 404, "not_found", ""},
		{"unknown endpoint", "GET", url + "/" + uuid.NewString(), "", 404, "not_found", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ct := ""
			if tt.body != "" {
				ct = "application/json"
			}
			status, h, b := raw(t, tt.method, tt.url, tok, ct, tt.body)
			p := requireProblem(t, status, h, b, tt.status, tt.code)
			if tt.field != "" {
				require.Equal(t, tt.field, p.Errors[0].Field, string(b))
			}
			require.NotEmpty(t, h.Get("X-Request-Id"))
		})
	}
	t.Cleanup(func() {
		var n int64
		require.NoError(t, env.App.DB.Gorm.Model(&webhook.Endpoint{}).Count(&n).Error)
		require.EqualValues(t, 1, n, "nothing refused was stored")
		var ep webhook.Endpoint
		require.NoError(t, env.App.DB.Gorm.Take(&ep, "id = ?", created.JSON201.Id).Error)
		require.EqualValues(t, 1, ep.Version, "nothing refused was changed")
	})
}

// TestWebhookDeliveriesAPI: the deliveries of an endpoint, filtered and
// paged; redelivery of a finished one queues it again with the same event,
// and is refused while pending or on a disabled endpoint.
func TestWebhookDeliveriesAPI(t *testing.T) {
	t.Parallel()
	env := webhookEnv(t)
	ctx := context.Background()
	admin, _ := env.Admin(t)
	p, tok := env.PartnerUser(t, nil)
	partner := env.Client(t, tok)
	ep, err := partner.CreateWebhookEndpointWithResponse(ctx, nil, oapi.WebhookEndpointCreate{Url: "https://93.184.216.34/hooks"})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, ep.StatusCode(), string(ep.Body))
	id := ep.JSON201.Id

	// Synthetic events, as the event log would hand them over; no worker
	// runs here, so the deliveries stay pending.
	types := []string{"order.completed", "invoice.issued", "invoice.issued"}
	events := make([]webhook.Event, len(types))
	for i, typ := range types {
		events[i] = webhook.Event{ID: uuid.New(), Type: typ, ResourceType: "test", ResourceID: uuid.New(), PartnerID: &p,
			Payload: json.RawMessage(`{"n":1}`), CreatedAt: env.Clock.Now()}
	}
	other := uuid.New()
	events = append(events, webhook.Event{ID: uuid.New(), Type: "order.completed", PartnerID: &other, CreatedAt: env.Clock.Now()})
	require.NoError(t, env.App.DB.Gorm.Transaction(func(tx *gorm.DB) error {
		for _, ev := range events {
			if err := env.App.Webhooks.Enqueue(ctx, tx, ev); err != nil {
				return err
			}
		}
		return nil
	}))

	list := func(params *oapi.ListWebhookDeliveriesParams) *oapi.ListWebhookDeliveriesResponse {
		res, err := partner.ListWebhookDeliveriesWithResponse(ctx, id, params)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
		return res
	}
	all := list(nil).JSON200
	require.Len(t, all.Data, 3, "another partner's event is not here")
	require.False(t, all.HasMore)
	for _, d := range all.Data {
		require.Equal(t, oapi.WebhookDeliveryStatusPending, d.Status)
		require.Zero(t, d.Attempts)
	}
	issued := list(&oapi.ListWebhookDeliveriesParams{EventType: ptr("invoice.issued")}).JSON200
	require.Len(t, issued.Data, 2)
	first := list(&oapi.ListWebhookDeliveriesParams{Limit: ptr(2)}).JSON200
	require.True(t, first.HasMore)
	rest := list(&oapi.ListWebhookDeliveriesParams{Limit: ptr(2), Cursor: first.NextCursor}).JSON200
	require.Len(t, rest.Data, 1)
	require.False(t, rest.HasMore)
	st := oapi.WebhookDeliveryStatusFailed
	require.Empty(t, list(&oapi.ListWebhookDeliveriesParams{Status: &st}).JSON200.Data)

	d := all.Data[0]
	pending, err := partner.RedeliverWebhookDeliveryWithResponse(ctx, id, d.Id)
	require.NoError(t, err)
	require.Equal(t, http.StatusConflict, pending.StatusCode())
	require.Contains(t, string(pending.Body), "webhook_delivery_pending")

	// Once it has failed for good it may be sent again: same event.
	require.NoError(t, env.App.DB.Gorm.Exec("UPDATE webhook_deliveries SET status = 'failed', attempts = 15 WHERE id = ?", d.Id).Error)
	again, err := partner.RedeliverWebhookDeliveryWithResponse(ctx, id, d.Id)
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, again.StatusCode(), string(again.Body))
	require.Equal(t, oapi.WebhookDeliveryStatusPending, again.JSON202.Status)
	require.Equal(t, d.EventId, again.JSON202.EventId)
	require.NotEmpty(t, again.HTTPResponse.Header.Get("X-Request-Id"))

	require.NoError(t, env.App.DB.Gorm.Exec("UPDATE webhook_deliveries SET status = 'failed' WHERE id = ?", d.Id).Error)
	off, err := admin.UpdateWebhookEndpointWithResponse(ctx, id, nil, oapi.WebhookEndpointUpdate{Enabled: ptr(false)})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, off.StatusCode(), string(off.Body))
	disabled, err := partner.RedeliverWebhookDeliveryWithResponse(ctx, id, d.Id)
	require.NoError(t, err)
	require.Equal(t, http.StatusConflict, disabled.StatusCode())
	require.Contains(t, string(disabled.Body), "webhook_endpoint_disabled")
}
