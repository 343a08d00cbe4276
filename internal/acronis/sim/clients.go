package sim

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// apiClient is an API client created through POST /api/2/clients (the seeded
// one of Options is not stored here). Its tokens act within its tenant.
type apiClient struct {
	ID, Secret, TenantID string
	Type, AuthMethod     string
	Data                 map[string]any
	RedirectURIs         []string
	OriginID             *string
	CreatedBy            string
	CreatedAt            time.Time
}

var clientPostKeys = []string{"type", "tenant_id", "data", "token_endpoint_auth_method", "redirect_uris", "origin_id"}

// handleCreateClient registers an API client for a tenant within the caller's
// scope (vendor clientPost; users may authenticate with Basic here).
func (s *Server) handleCreateClient(w http.ResponseWriter, r *http.Request, p *principal, _ []string) {
	body, e := readJSONObject(r, false)
	if e == nil {
		e = checkKeys(body, clientPostKeys...)
	}
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	typ, _, e := getString(body, "type")
	if e == nil && !slices.Contains([]string{"api_client", "managed_client"}, typ) {
		e = badRequest("'type' must be one of api_client, managed_client")
	}
	var method, tenantID string
	if e == nil {
		method, _, e = getString(body, "token_endpoint_auth_method")
	}
	if e == nil && !slices.Contains([]string{"client_secret_basic", "client_secret_post", "none"}, method) {
		e = badRequest("'token_endpoint_auth_method' must be one of client_secret_basic, client_secret_post, none")
	}
	if e == nil {
		tenantID, _, e = getString(body, "tenant_id")
	}
	if e == nil && tenantID == "" {
		e = badRequest("'tenant_id' is a required property")
	}
	var data map[string]any
	if e == nil {
		data, _, e = getObject(body, "data")
	}
	var uris []string
	if e == nil {
		uris, _, e = getStringList(body, "redirect_uris")
	}
	var origin *string
	if e == nil {
		origin, _, e = getNullableString(body, "origin_id")
	}
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, e := s.visibleTenant(p, tenantID, false)
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	if t.Personal {
		writeHTTPErr(w, forbidden("API clients cannot be created in a personal tenant."))
		return
	}
	if data == nil {
		data = map[string]any{}
	}
	if uris == nil {
		uris = []string{}
	}
	creator := p.UserID
	if p.Kind == principalClient {
		creator = p.ClientID
	}
	c := &apiClient{ID: s.newID(), Secret: randToken(16), TenantID: t.ID, Type: typ, AuthMethod: method, Data: data,
		RedirectURIs: uris, OriginID: origin, CreatedBy: creator, CreatedAt: s.now().UTC()}
	if s.st.clients == nil {
		s.st.clients = map[string]*apiClient{}
	}
	s.st.clients[c.ID] = c
	v := s.clientView(c)
	v["client_secret"] = c.Secret // returned only here
	v["registration_access_token"] = randToken(16)
	writeJSON(w, http.StatusCreated, v)
}

func (s *Server) clientView(c *apiClient) map[string]any {
	v := map[string]any{
		"client_id":                  c.ID,
		"tenant_id":                  c.TenantID,
		"client_secret_expires_at":   0,
		"type":                       c.Type,
		"data":                       c.Data,
		"token_endpoint_auth_method": c.AuthMethod,
		"created_at":                 formatTenantTime(c.CreatedAt),
		"created_by":                 c.CreatedBy,
		"status":                     "enabled",
		"redirect_uris":              slices.Clone(c.RedirectURIs),
	}
	if c.OriginID != nil {
		v["origin_id"] = *c.OriginID
	}
	return v
}

// clientTenant checks client credentials against the configured client and
// the created ones, and returns the client's tenant ("" = refused). A created
// client stops working with its tenant (deleted or disabled). Caller holds s.mu.
func (s *Server) clientTenant(id, secret string) string {
	if id == s.opts.ClientID {
		if secret == s.opts.ClientSecret {
			return s.spID
		}
		return ""
	}
	c := s.st.clients[id]
	if c == nil || c.Secret != secret || !s.st.enabledChain(c.TenantID) {
		return ""
	}
	return c.TenantID
}

// customerScope reads the jwt-bearer scope urn:acronis.com:tenant-id:<uuid>.
func customerScope(scope string) (string, bool) {
	for _, f := range strings.Fields(scope) {
		if id, ok := strings.CutPrefix(f, "urn:acronis.com:tenant-id:"); ok && id != "" {
			return id, true
		}
	}
	return "", false
}

// jwtBearer exchanges an access token (the assertion) for one scoped to a
// customer tenant below its principal's tenant. The new token lives no longer
// than the assertion. Caller holds s.mu.
func (s *Server) jwtBearer(w http.ResponseWriter, assertion, scope string) (principal, time.Time, bool) {
	sess := s.tokens[strings.TrimSpace(assertion)]
	if assertion == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "Missing assertion parameter.")
		return principal{}, time.Time{}, false
	}
	if sess == nil || !s.now().Before(sess.expires) {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "The assertion is not a valid access token or has expired.")
		return principal{}, time.Time{}, false
	}
	id, ok := customerScope(scope)
	if !ok {
		oauthError(w, http.StatusBadRequest, "invalid_scope", "The scope must be urn:acronis.com:tenant-id:<tenant uuid>.")
		return principal{}, time.Time{}, false
	}
	t := s.st.tenants[id]
	if !t.live() || t.Personal || !s.st.inSubtree(sess.p.TenantID, id) {
		oauthError(w, http.StatusForbidden, "access_denied", fmt.Sprintf("Tenant %q is outside the scope of the assertion.", id))
		return principal{}, time.Time{}, false
	}
	if t.Kind != "customer" {
		oauthError(w, http.StatusBadRequest, "invalid_scope", fmt.Sprintf("Tenant %q is not a customer tenant.", id))
		return principal{}, time.Time{}, false
	}
	p := sess.p
	p.TenantID, p.ViaBasic = t.ID, false
	return p, sess.expires, true
}
