package sim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/acronis/sim"
)

func TestWire(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sp := e.sim.SPTenantID()
	tests := []struct {
		name         string
		method, path string
		body         any
		ctype        string
		status       int
	}{
		{"unknown path", "GET", "/nope", nil, "", 404},
		{"unknown tenant path", "GET", "/tenants/" + sp + "/bogus", nil, "", 404},
		{"wrong method", "PATCH", "/tenants/" + sp, nil, "", 405},
		{"wrong method on collection", "DELETE", "/tenants", nil, "", 405},
		{"text body", "POST", "/tenants", `{"name":"X","kind":"customer","parent_id":"` + sp + `"}`, "text/plain", 415},
		{"no content type", "POST", "/tenants", `{"name":"X","kind":"customer","parent_id":"` + sp + `"}`, "-", 415},
		{"form body on users", "POST", "/users", "tenant_id=x", "application/x-www-form-urlencoded", 415},
		{"malformed json", "POST", "/tenants", `{"name":`, "application/json", 400},
		{"applications", "GET", "/applications", nil, "", 200},
		{"editions", "GET", "/editions/", nil, "", 200},
		{"tenant infra", "GET", "/tenants/" + sp + "/infra", nil, "", 200},
		{"bind", "POST", "/applications/6e6d758d-8e74-3ae3-ac84-50eb0dff12eb/bindings/tenants/" + sp, nil, "", 204},
		{"unbind", "DELETE", "/applications/6e6d758d-8e74-3ae3-ac84-50eb0dff12eb/bindings/tenants/" + sp + "/", nil, "", 204},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			hdr := []string{"Authorization", "Bearer " + e.tok}
			switch tc.ctype {
			case "":
			case "-":
				hdr = append(hdr, "Content-Type", "")
			default:
				hdr = append(hdr, "Content-Type", tc.ctype)
			}
			r := e.call(tc.method, tc.path, tc.body, hdr...) // call() checks one-line JSON and 204 bodies
			require.Equal(t, tc.status, r.status, "%s", r.raw)
			if tc.status >= 400 {
				require.EqualValues(t, tc.status, r.errCode(t))
				require.Equal(t, "PlatformAccountServer", r.json(t)["error"].(map[string]any)["domain"])
			}
			if tc.status == 405 {
				require.NotEmpty(t, r.header.Get("Allow"))
			}
		})
	}
	t.Run("applications ids", func(t *testing.T) {
		t.Parallel()
		raw := string(e.as("GET", "/applications", nil).raw)
		for _, id := range []string{"6e6d758d-8e74-3ae3-ac84-50eb0dff12eb", "7459244f-68f3-3bf4-9f53-5f63ecc1d91f",
			"dfd85a5f-a464-32ab-81fd-99bcc66a070f", "f9c5744e-bd1a-36b6-b0f0-ecd7483e1796"} {
			require.Contains(t, raw, id)
		}
	})
}

func TestFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		fault sim.Fault
		check func(t *testing.T, e *env)
	}{
		{"status", sim.Fault{Method: "GET", PathPrefix: "/api/2/tenants", Rate: 1, Status: 503}, func(t *testing.T, e *env) {
			r := e.as("GET", "/tenants/"+e.sim.SPTenantID(), nil)
			require.Equal(t, 503, r.status)
			require.NotZero(t, r.errCode(t))
			require.Equal(t, 200, e.as("GET", "/clients/"+clientID, nil).status, "other paths unaffected")
		}},
		{"429", sim.Fault{Rate: 1, Status: 429, PathPrefix: "/api/2/users"}, func(t *testing.T, e *env) {
			r := e.as("GET", "/users?login=x", nil)
			require.Equal(t, 429, r.status)
			require.NotEmpty(t, r.header.Get("Retry-After"))
		}},
		{"drop", sim.Fault{Rate: 1, Drop: true, PathPrefix: "/api/2/tenants"}, func(t *testing.T, e *env) {
			req, _ := http.NewRequest("GET", e.api+"/tenants/"+e.sim.SPTenantID(), nil)
			req.Header.Set("Authorization", "Bearer "+e.tok)
			_, err := e.srv.Client().Do(req)
			require.Error(t, err)
		}},
		{"timeout", sim.Fault{Rate: 1, Timeout: true, PathPrefix: "/api/2/tenants"}, func(t *testing.T, e *env) {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "GET", e.api+"/tenants/"+e.sim.SPTenantID(), nil)
			req.Header.Set("Authorization", "Bearer "+e.tok)
			start := time.Now()
			_, err := e.srv.Client().Do(req)
			require.ErrorIs(t, err, context.DeadlineExceeded)
			require.Less(t, time.Since(start), 5*time.Second)
		}},
		{"latency", sim.Fault{Rate: 1, Latency: 100 * time.Millisecond}, func(t *testing.T, e *env) {
			start := time.Now()
			require.Equal(t, 200, e.as("GET", "/clients/"+clientID, nil).status)
			require.GreaterOrEqual(t, time.Since(start), 100*time.Millisecond)
		}},
		{"after effect", sim.Fault{Method: "POST", PathPrefix: "/api/2/tenants", Rate: 1, Status: 500, AfterEffect: true}, func(t *testing.T, e *env) {
			r := e.as("POST", "/tenants", map[string]any{"name": "Ghost", "kind": "customer", "parent_id": e.sim.SPTenantID(), "internal_tag": "ghost"})
			require.Equal(t, 500, r.status)
			require.Equal(t, 1, e.sim.CountTenants("customer"))
			e.sim.ClearFaults()
			items := e.as("GET", "/tenants?internal_tag=ghost", nil).json(t)["items"].([]any)
			require.Len(t, items, 1, "the client can find what it created")
		}},
		{"rate zero never fires", sim.Fault{Rate: 0, Status: 500}, func(t *testing.T, e *env) {
			for range 20 {
				require.Equal(t, 200, e.as("GET", "/clients/"+clientID, nil).status)
			}
		}},
		{"control api is exempt", sim.Fault{Rate: 1, Status: 500}, func(t *testing.T, e *env) {
			r := e.call("GET", e.srv.URL+"/_sim/state", nil)
			require.Equal(t, 200, r.status)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.sim.SetFault(tc.fault)
			tc.check(t, e)
		})
	}
}

func TestControlAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sp := e.sim.SPTenantID()
	ctl := e.srv.URL + "/_sim"
	e.mkTenant("C1", "customer", sp)
	e.mkTenant("P1", "partner", sp)

	st := e.call("GET", ctl+"/state", nil).json(t)
	require.EqualValues(t, 1, st["tenants"].(map[string]any)["customer"])
	require.EqualValues(t, 2, st["tenants"].(map[string]any)["partner"])
	require.EqualValues(t, 1, st["users"])

	calls := e.sim.Calls()
	require.NotEmpty(t, calls)
	last := calls[len(calls)-1]
	require.Equal(t, sim.Call{Method: "POST", Path: "/api/2/tenants", Status: 201}, last)
	var cl struct{ Items []sim.Call }
	require.NoError(t, json.Unmarshal(e.call("GET", ctl+"/calls", nil).raw, &cl))
	require.Equal(t, calls, cl.Items)

	// Faults via JSON with a duration string.
	require.Equal(t, 204, e.call("POST", ctl+"/faults", map[string]any{"method": "GET", "path_prefix": "/api/2/clients", "rate": 1, "status": 502, "latency": "1ms"}).status)
	require.Equal(t, 502, e.as("GET", "/clients/"+clientID, nil).status)
	require.Equal(t, 204, e.call("DELETE", ctl+"/faults", nil).status)
	require.Equal(t, 200, e.as("GET", "/clients/"+clientID, nil).status)
	require.Equal(t, 400, e.call("POST", ctl+"/faults", map[string]any{"latency": "soon"}).status)

	// Clock.
	require.Equal(t, 200, e.call("POST", ctl+"/clock", map[string]any{"advance": "36h"}).status)
	require.Equal(t, 401, e.as("GET", "/clients/"+clientID, nil).status)
	e.tok = e.clientToken()

	// Reset: back to the seeded state, same SP id; the token still works.
	require.Equal(t, 204, e.call("POST", ctl+"/reset", nil).status)
	require.Equal(t, 0, e.sim.CountTenants("customer"))
	require.Equal(t, 1, e.sim.CountTenants("partner"))
	require.Equal(t, 1, e.sim.CountUsers())
	require.Empty(t, e.sim.Calls())
	require.Equal(t, sp, e.sim.SPTenantID())
	require.Equal(t, 200, e.as("GET", "/tenants/"+sp, nil).status)

	// Usage override.
	cid := e.mkTenant("U", "customer", sp)["id"].(string)
	require.Equal(t, 204, e.call("POST", ctl+"/usage", map[string]any{"tenant_id": cid, "name": "pw_base_vms", "value": 7}).status)
	item := map[string]any{"application_id": "6e6d758d-8e74-3ae3-ac84-50eb0dff12eb", "name": "pw_base_vms", "status": 1}
	require.Equal(t, 200, e.as("PUT", "/tenants/"+cid+"/offering_items", map[string]any{"offering_items": []any{item}}).status)
	us := e.as("GET", "/tenants/"+cid+"/usages", nil).json(t)["items"].([]any)
	require.Len(t, us, 1)
	require.EqualValues(t, 7, us[0].(map[string]any)["value"])
	require.True(t, strings.Contains(string(e.as("GET", "/tenants/usages?tenants="+cid, nil).raw), cid))
}

// A PerCall fault fails the same calls whatever order they come in: each
// call's dice depend on the seed, the call and its count, not on the calls
// made before it.
func TestPerCallFaults(t *testing.T) {
	t.Parallel()
	fault := sim.Fault{Method: "GET", PathPrefix: "/api/2/clients", Rate: 0.5, Status: 503, PerCall: true}
	outcomes := func(order []string) map[string][]int {
		e := newEnv(t)
		e.sim.SetFault(fault)
		out := map[string][]int{}
		for _, q := range order {
			out[q] = append(out[q], e.as("GET", "/clients/"+clientID+"?"+q, nil).status)
		}
		return out
	}
	var order []string
	for i := range 40 {
		order = append(order, fmt.Sprintf("n=%d", i%8))
	}
	forward := outcomes(order)
	slices.Reverse(order)
	require.Equal(t, forward, outcomes(order), "same calls, other order, same faults")
	failed := 0
	for _, ss := range forward {
		failed += strings.Count(fmt.Sprint(ss), "503")
	}
	require.Greater(t, failed, 5, "about half fail")
	require.Less(t, failed, 35, "about half fail")

	// Clearing the faults starts every call's count again.
	e := newEnv(t)
	e.sim.SetFault(fault)
	first := e.as("GET", "/clients/"+clientID+"?n=0", nil).status
	e.sim.ClearFaults()
	e.sim.SetFault(fault)
	require.Equal(t, first, e.as("GET", "/clients/"+clientID+"?n=0", nil).status)

	// Over the control API too.
	require.Equal(t, 204, e.call("POST", e.srv.URL+"/_sim/faults", map[string]any{"rate": 0.5, "status": 503, "per_call": true}).status)
	var list struct{ Items []map[string]any }
	require.NoError(t, json.Unmarshal(e.call("GET", e.srv.URL+"/_sim/faults", nil).raw, &list))
	require.Equal(t, true, list.Items[len(list.Items)-1]["per_call"])
}
