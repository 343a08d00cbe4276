package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

func TestReceiverCountsAndVerifies(t *testing.T) {
	t.Parallel()
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("bench-secret-0123456789abcdef012"))
	other := "whsec_" + base64.StdEncoding.EncodeToString([]byte("another-secret-0123456789abcdef0"))
	rcv, err := newReceiver([]string{secret})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(rcv)
	t.Cleanup(srv.Close)

	post := func(t *testing.T, signWith string) {
		t.Helper()
		body := []byte(`{"type":"order.created"}`)
		wh, err := standardwebhooks.NewWebhook(signWith)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		sig, err := wh.Sign("msg_1", now, body)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/hook", bytes.NewReader(body))
		req.Header.Set("webhook-id", "msg_1")
		req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
		req.Header.Set("webhook-signature", sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("POST: status %d, want 204", resp.StatusCode)
		}
	}
	post(t, secret)
	post(t, secret)
	post(t, other)

	resp, err := http.Get(srv.URL + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got receiverStats
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if want := (receiverStats{Received: 3, Verified: 2, Invalid: 1}); got != want {
		t.Fatalf("stats %+v, want %+v", got, want)
	}
}

func TestReceiveRefusesBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
	}{
		{"not loopback", []string{"-addr", "0.0.0.0:0"}},
		{"a hostname", []string{"-addr", "example.com:80"}},
		{"no port", []string{"-addr", "127.0.0.1"}},
		{"missing secrets file", []string{"-addr", "127.0.0.1:0", "-secrets-file", "/nonexistent/secrets"}},
		{"extra argument", []string{"-addr", "127.0.0.1:0", "extra"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out, errOut bytes.Buffer
			if rc := runReceive(tt.args, &out, &errOut); rc != 2 {
				t.Fatalf("rc %d, want 2; stderr: %s", rc, errOut.String())
			}
			if out.Len() != 0 {
				t.Fatalf("printed %q, want nothing", out.String())
			}
		})
	}
}
