package sim_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/acronis"
	"github.com/acronis-platform/platform/internal/acronis/sim"
)

func TestSeedOfferingItems(t *testing.T) {
	t.Parallel()
	s := sim.New(sim.Options{ClientID: "cid", ClientSecret: "csecret", Seed: 1})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	post := func(body string) int {
		res, err := http.Post(srv.URL+"/_sim/seed", "application/json", bytes.NewBufferString(body))
		require.NoError(t, err)
		res.Body.Close()
		return res.StatusCode
	}
	c, err := acronis.New(acronis.Config{BaseURL: srv.URL, ClientID: "cid", ClientSecret: "csecret", BaseBackoff: time.Millisecond})
	require.NoError(t, err)
	names := func() map[string]bool {
		items, err := c.AvailableForChild(context.Background(), s.SPTenantID(), acronis.KindCustomer, "")
		require.NoError(t, err)
		m := map[string]bool{}
		for _, o := range items {
			m[o.Name] = true
		}
		return m
	}
	tests := []struct {
		name      string
		body      string
		status    int
		has, lack string
	}{
		{"only two items", `{"offering_items":["pw_base_storage","pw_base_workstations"]}`, http.StatusNoContent, "pw_base_storage", "pw_base_servers"},
		{"unknown item refused", `{"offering_items":["nope"]}`, http.StatusBadRequest, "pw_base_storage", "pw_base_servers"},
		{"unknown field refused", `{"items":[]}`, http.StatusBadRequest, "pw_base_storage", "pw_base_servers"},
		{"empty list restores the catalog", `{"offering_items":[]}`, http.StatusNoContent, "pw_base_servers", ""},
	}
	for _, tt := range tests { // in order: each case builds on the last
		require.Equal(t, tt.status, post(tt.body), tt.name)
		got := names()
		require.True(t, got[tt.has], "%s: %s offered", tt.name, tt.has)
		if tt.lack != "" {
			require.False(t, got[tt.lack], "%s: %s not offered", tt.name, tt.lack)
		}
	}
}
