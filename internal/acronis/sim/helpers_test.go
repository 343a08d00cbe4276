package sim_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/acronis/sim"
)

const (
	clientID     = "0b7a7b4c-6a2e-4c8a-9d1e-5f3a2b1c0d9e"
	clientSecret = "s3cr3t"
	adminLogin   = "spadmin"
	adminPass    = "Adm1nP@ss"
)

type env struct {
	t   *testing.T
	sim *sim.Server
	srv *httptest.Server
	api string
	tok string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, nil)
}

// newEnvWith is newEnv with adjusted options.
func newEnvWith(t *testing.T, adjust func(*sim.Options)) *env {
	t.Helper()
	opts := sim.Options{ClientID: clientID, ClientSecret: clientSecret, AdminLogin: adminLogin,
		AdminPassword: adminPass, Seed: 42}
	if adjust != nil {
		adjust(&opts)
	}
	s := sim.New(opts)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	s.SetBaseURL(srv.URL)
	e := &env{t: t, sim: s, srv: srv, api: srv.URL + "/api/2"}
	e.tok = e.clientToken()
	return e
}

type resp struct {
	status int
	header http.Header
	raw    []byte
}

func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.raw, &m), "body: %s", r.raw)
	return m
}

func (r resp) errCode(t *testing.T) float64 {
	t.Helper()
	e, ok := r.json(t)["error"].(map[string]any)
	require.True(t, ok, "no vendor error envelope: %s", r.raw)
	return e["code"].(float64)
}

// call performs a raw request. body: nil, string (sent as is) or any (JSON-encoded).
func (e *env) call(method, path string, body any, hdr ...string) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(e.t, err)
		rd = bytes.NewReader(raw)
	}
	u := path
	if !strings.HasPrefix(path, "http") {
		u = e.api + path
	}
	req, err := http.NewRequest(method, u, rd)
	require.NoError(e.t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := e.srv.Client().Do(req)
	require.NoError(e.t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(e.t, err)
	if len(raw) > 0 && strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		require.NotContains(e.t, string(raw), "\n", "%s %s: JSON body must be one line without a trailing newline", method, path)
		require.Equal(e.t, "application/json; charset=utf-8", res.Header.Get("Content-Type"))
	}
	if res.StatusCode == http.StatusNoContent {
		require.Empty(e.t, raw)
	}
	return resp{status: res.StatusCode, header: res.Header, raw: raw}
}

// as calls with the client token.
func (e *env) as(method, path string, body any) resp {
	e.t.Helper()
	return e.call(method, path, body, "Authorization", "Bearer "+e.tok)
}

func (e *env) form(vals url.Values, hdr ...string) resp {
	e.t.Helper()
	return e.call("POST", "/idp/token", vals.Encode(), append([]string{"Content-Type", "application/x-www-form-urlencoded"}, hdr...)...)
}

func (e *env) clientToken() string {
	e.t.Helper()
	req, err := http.NewRequest("POST", e.api+"/idp/token", strings.NewReader("grant_type=client_credentials"))
	require.NoError(e.t, err)
	req.SetBasicAuth(clientID, clientSecret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := e.srv.Client().Do(req)
	require.NoError(e.t, err)
	defer res.Body.Close()
	require.Equal(e.t, http.StatusOK, res.StatusCode)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(e.t, json.NewDecoder(res.Body).Decode(&tok))
	return tok.AccessToken
}

// mkTenant creates a tenant and returns its body.
func (e *env) mkTenant(name, kind, parent string) map[string]any {
	e.t.Helper()
	r := e.as("POST", "/tenants", map[string]any{"name": name, "kind": kind, "parent_id": parent})
	require.Equal(e.t, http.StatusCreated, r.status, "%s", r.raw)
	return r.json(e.t)
}

// mkUser creates a user and returns its body.
func (e *env) mkUser(login, tenantID string) map[string]any {
	e.t.Helper()
	r := e.as("POST", "/users", map[string]any{"tenant_id": tenantID, "login": login,
		"contact": map[string]any{"email": login + "@example.com"}})
	require.Equal(e.t, http.StatusOK, r.status, "%s", r.raw)
	return r.json(e.t)
}

func ver(m map[string]any) int64 { return int64(m["version"].(float64)) }
