package acronis_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/acronis-platform/platform/internal/acronis"
)

// BenchmarkClientCall measures the client's own cost per call (token cache,
// encoding, decoding, error handling) against a server that does nothing.
func BenchmarkClientCall(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		if r.URL.Path == "/api/2/idp/token" {
			_, _ = w.Write([]byte(`{"access_token":"t","token_type":"bearer","expires_in":7200,"expires_on":9999999999,"id_token":"i"}`))
			return
		}
		_, _ = w.Write([]byte(`{"id":"0fcd4a69-8a40-4de8-b711-d9c83dc000f7","version":3,"name":"Foobar","kind":"customer","parent_id":"ede9f834-70b3-476c-83d9-736f9f8c7dae","enabled":true,"customer_id":null,"internal_tag":"tag","language":"en","has_children":false}`))
	}))
	defer srv.Close()
	c, err := acronis.New(acronis.Config{BaseURL: srv.URL, ClientID: "id", ClientSecret: "secret"})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.GetTenant(ctx, "0fcd4a69-8a40-4de8-b711-d9c83dc000f7"); err != nil {
			b.Fatal(err)
		}
	}
}
