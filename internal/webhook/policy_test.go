package webhook_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/egress"
	"github.com/acronis-platform/platform/internal/webhook"
)

// TestURLPolicyOnSave: what an endpoint may point at, per policy; a refused
// URL is 422 on url with a stable code and stores nothing.
func TestURLPolicyOnSave(t *testing.T) {
	t.Parallel()
	dev := newHarness(t, egress.Policy{})
	prod := newHarness(t, egress.Policy{Production: true})
	private := newHarness(t, egress.Policy{AllowPrivate: true})
	tests := []struct {
		name  string
		h     *harness
		url   string
		types []string
		code  string // "" allowed
		field string
	}{
		{"https to a public address", prod, "https://93.184.216.34/hooks", nil, "", ""},
		{"http to loopback outside production", dev, "http://127.0.0.1:8080/hooks", nil, "", ""},
		{"https to loopback outside production", dev, "https://localhost:8443/hooks", nil, "", ""},
		{"http to a public address", dev, "http://93.184.216.34/hooks", nil, "webhook_url_not_https", "url"},
		{"http to a name that does not resolve", dev, "http://hooks.invalid/", nil, "webhook_url_not_https", "url"},
		{"http in production", prod, "http://127.0.0.1:8080/hooks", nil, "webhook_url_not_https", "url"},
		{"ftp", dev, "ftp://93.184.216.34/", nil, "webhook_url_not_https", "url"},
		{"private 10/8", dev, "https://10.0.0.1/hooks", nil, "webhook_url_not_allowed", "url"},
		{"private 192.168/16", dev, "https://192.168.1.10/", nil, "webhook_url_not_allowed", "url"},
		{"cloud metadata", dev, "https://169.254.169.254/latest/meta-data", nil, "webhook_url_not_allowed", "url"},
		{"unique-local v6", dev, "https://[fd00::1]/", nil, "webhook_url_not_allowed", "url"},
		{"carrier-grade NAT", dev, "https://100.64.0.1/", nil, "webhook_url_not_allowed", "url"},
		{"loopback in production", prod, "https://127.0.0.1/", nil, "webhook_url_not_allowed", "url"},
		{"private with WEBHOOK_ALLOW_PRIVATE", private, "https://10.0.0.1/hooks", nil, "", ""},
		{"metadata with WEBHOOK_ALLOW_PRIVATE", private, "https://169.254.169.254/", nil, "", ""},
		{"http to private even with WEBHOOK_ALLOW_PRIVATE", private, "http://10.0.0.1/hooks", nil, "webhook_url_not_https", "url"},
		{"relative", dev, "/hooks", nil, "webhook_url_invalid", "url"},
		{"user info", dev, "https://a:b@93.184.216.34/", nil, "webhook_url_invalid", "url"},
		{"too long", dev, "https://93.184.216.34/" + strings.Repeat("a", 2048), nil, "webhook_url_invalid", "url"},
		{"unknown event type", dev, "https://93.184.216.34/", []string{"invoice.paid", "invoice.eaten"}, "webhook_event_type_unknown", "event_types[1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url := tt.url
			in := webhook.Input{URL: &url}
			if tt.types != nil {
				in.EventTypes = &tt.types
			}
			ep, sec, err := tt.h.svc.Create(context.Background(), admin, in)
			if tt.code == "" {
				require.NoError(t, err)
				require.True(t, strings.HasPrefix(sec, "whsec_"))
				require.Equal(t, tt.url, ep.URL)
				return
			}
			e := requireCode(t, err, tt.code)
			require.Equal(t, tt.field, e.Fields[0].Field)
			var n int64
			require.NoError(t, tt.h.db.Gorm.Model(&webhook.Endpoint{}).Where("url = ?", tt.url).Count(&n).Error)
			require.Zero(t, n, "nothing stored")
		})
	}
}

// TestURLPolicyOnConnect: what the delivery refuses when it connects or
// answers: redirects are not followed, an address that became forbidden
// is refused at the dial (the try fails for good), and at most 64 KiB of
// a reply is read.
func TestURLPolicyOnConnect(t *testing.T) {
	t.Parallel()
	h := newHarness(t, egress.Policy{})
	elsewhere := newReceiver(t, nil)
	redirecting := newReceiver(t, func(_ int, w http.ResponseWriter) {
		w.Header().Set("Location", elsewhere.URL)
		w.WriteHeader(http.StatusTemporaryRedirect)
	})
	endless := newReceiver(t, func(_ int, w http.ResponseWriter) {
		w.WriteHeader(http.StatusOK)
		chunk := []byte(strings.Repeat("x", 32<<10))
		for { // until the platform hangs up; unlimited reading would time out
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	verbose := newReceiver(t, func(_ int, w http.ResponseWriter) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(strings.Repeat("no ", 100<<10)))
	})
	moved := newReceiver(t, nil)

	redirect, _ := h.endpoint(t, admin, redirecting.URL)
	big, _ := h.endpoint(t, admin, endless.URL)
	loud, _ := h.endpoint(t, admin, verbose.URL)
	metadata, _ := h.endpoint(t, admin, moved.URL)
	// The name now resolves elsewhere, as far as the dial can tell.
	require.NoError(t, h.db.Gorm.Exec("UPDATE webhook_endpoints SET url = 'https://169.254.169.254/latest' WHERE id = ?", metadata.ID).Error)
	ev := event("invoice.voided", nil)
	h.enqueue(t, ev)
	h.start(t)

	d := h.waitStatus(t, big.ID, ev.ID, webhook.StatusSucceeded)
	require.Equal(t, 200, *d.LastResponseCode, "a 2xx with a reply of any length succeeds, reading 64 KiB of it")

	d = h.waitStatus(t, metadata.ID, ev.ID, webhook.StatusFailed)
	require.Equal(t, 1, d.Attempts, "a refused address is not tried again")
	require.Nil(t, d.LastResponseCode)
	require.Contains(t, *d.LastError, "not allowed")
	require.Empty(t, moved.requests())
	require.NotNil(t, h.endpointRow(t, metadata.ID).FailingSince)

	waitAttempts := func(id, eventID any) webhook.Delivery {
		var d webhook.Delivery
		require.Eventually(t, func() bool {
			return h.db.Gorm.Take(&d, "endpoint_id = ? AND event_id = ?", id, eventID).Error == nil && d.Attempts >= 1
		}, 60*time.Second, 20*time.Millisecond)
		return d
	}
	d = waitAttempts(redirect.ID, ev.ID)
	require.Equal(t, 307, *d.LastResponseCode)
	require.Equal(t, "redirect not followed: HTTP 307", *d.LastError)
	require.NotEqual(t, webhook.StatusSucceeded, d.Status)

	d = waitAttempts(loud.ID, ev.ID)
	require.Equal(t, 400, *d.LastResponseCode)
	require.True(t, strings.HasPrefix(*d.LastError, "HTTP 400: no no"), *d.LastError)
	require.LessOrEqual(t, len(*d.LastError), 320, "the reply is kept short")

	require.Empty(t, elsewhere.requests(), "the redirect was not followed")
}
