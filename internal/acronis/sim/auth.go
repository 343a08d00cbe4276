package sim

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
)

type principalKind int

const (
	principalClient principalKind = iota + 1
	principalUser
)

type principal struct {
	Kind     principalKind
	TenantID string
	UserID   string
	ClientID string
	ViaBasic bool
}

type session struct {
	p       principal
	expires time.Time
}

type ott struct {
	userID  string
	expires time.Time
}

const (
	sessionCookie  = "AccountServerSession"
	grantJWTBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"
)

func randToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// jwtLike builds an unsigned JWT-shaped opaque token, so that clients which
// peek into tokens find the usual claims.
func jwtLike(claims map[string]any) string {
	enc := base64.RawURLEncoding
	h, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": "sim"})
	c, _ := json.Marshal(claims)
	return enc.EncodeToString(h) + "." + enc.EncodeToString(c) + "." + enc.EncodeToString([]byte(randToken(32)))
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request, _ *principal, _ []string) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		writeHTTPErr(w, newErr(http.StatusUnsupportedMediaType, http.StatusUnsupportedMediaType, "Unsupported Media Type",
			"The token endpoint accepts application/x-www-form-urlencoded only."))
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "Malformed form body.")
		return
	}
	form := r.PostForm
	grant := form.Get("grant_type")
	s.mu.Lock()
	defer s.mu.Unlock()
	var p principal
	var limit time.Time
	switch grant {
	case "":
		oauthError(w, http.StatusBadRequest, "invalid_request", "Missing grant_type parameter.")
		return
	case "client_credentials":
		id, secret, basic := r.BasicAuth()
		if !basic {
			id, secret = form.Get("client_id"), form.Get("client_secret")
		}
		if id == "" {
			oauthError(w, http.StatusUnauthorized, "invalid_client", "Client authentication failed: no client credentials.")
			return
		}
		tid := s.clientTenant(id, secret)
		if tid == "" {
			oauthError(w, http.StatusUnauthorized, "invalid_client", "Client authentication failed.")
			return
		}
		p = principal{Kind: principalClient, TenantID: tid, ClientID: id}
	case "password":
		login, pw := form.Get("username"), form.Get("password")
		if login == "" || pw == "" {
			oauthError(w, http.StatusBadRequest, "invalid_request", "Missing username or password.")
			return
		}
		u := s.userByPassword(login, pw)
		if u == nil {
			oauthError(w, http.StatusUnauthorized, "invalid_grant", "Invalid username or password.")
			return
		}
		p = principal{Kind: principalUser, TenantID: u.TenantID, UserID: u.ID}
	case grantJWTBearer:
		var ok bool
		if p, limit, ok = s.jwtBearer(w, form.Get("assertion"), form.Get("scope")); !ok {
			return
		}
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "Unsupported grant_type "+grant+".")
		return
	}
	now := s.now()
	exp := now.Add(s.opts.TokenTTL)
	if !limit.IsZero() && limit.Before(exp) {
		exp = limit // a scoped token ends with its assertion
	}
	sub := p.ClientID
	if p.Kind == principalUser {
		sub = p.UserID
	}
	claims := map[string]any{"iss": s.baseURL, "sub": sub, "iat": now.Unix(), "exp": exp.Unix(), "jti": randToken(8),
		"sub_type": map[principalKind]string{principalClient: "client", principalUser: "user"}[p.Kind], "tenant_id": p.TenantID}
	if grant == grantJWTBearer {
		claims["scope"] = "urn:acronis.com:tenant-id:" + p.TenantID
	}
	tok := jwtLike(claims)
	s.tokens[tok] = &session{p: p, expires: exp}
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok,
		"token_type":   "bearer",
		"expires_in":   int64(exp.Sub(now) / time.Second),
		"expires_on":   exp.Unix(),
		"id_token":     jwtLike(claims),
	})
}

// userByPassword finds an active user by login and password. Caller holds s.mu.
func (s *Server) userByPassword(login, pw string) *user {
	u := s.userByLogin(login)
	if u == nil || u.Password == "" || u.Password != pw || !u.Enabled || !u.Activated {
		return nil
	}
	if !s.st.enabledChain(u.TenantID) {
		return nil
	}
	return u
}

func unauthorized(info string) *httpErr {
	return newErr(http.StatusUnauthorized, http.StatusUnauthorized, "Unauthorized", info)
}

// authenticate resolves the caller from Bearer, Basic or the session cookie.
func (s *Server) authenticate(r *http.Request) (*principal, *httpErr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := r.Header.Get("Authorization")
	scheme, cred, _ := strings.Cut(h, " ")
	cred = strings.TrimSpace(cred)
	var p principal
	switch {
	case strings.EqualFold(scheme, "bearer") && cred != "":
		sess := s.tokens[cred]
		if sess == nil {
			return nil, unauthorized("Invalid access token.")
		}
		if !s.now().Before(sess.expires) {
			return nil, unauthorized("Access token has expired.")
		}
		p = sess.p
	case strings.EqualFold(scheme, "basic"):
		login, pw, ok := r.BasicAuth()
		if !ok {
			return nil, unauthorized("Malformed Basic credentials.")
		}
		u := s.userByPassword(login, pw)
		if u == nil {
			return nil, unauthorized("Invalid login or password.")
		}
		p = principal{Kind: principalUser, TenantID: u.TenantID, UserID: u.ID, ViaBasic: true}
	case h == "":
		c, err := r.Cookie(sessionCookie)
		if err != nil || s.tokens[c.Value] == nil {
			return nil, unauthorized("Authorization required.")
		}
		sess := s.tokens[c.Value]
		if !s.now().Before(sess.expires) {
			return nil, unauthorized("Session has expired.")
		}
		p = sess.p
	default:
		return nil, unauthorized("Unsupported authorization scheme.")
	}
	if p.Kind == principalClient && p.ClientID != s.opts.ClientID {
		if c := s.st.clients[p.ClientID]; c == nil || !s.st.enabledChain(c.TenantID) {
			return nil, unauthorized("The API client is disabled or does not exist.")
		}
	}
	if p.Kind == principalUser {
		u := s.st.users[p.UserID]
		if u == nil || u.DeletedAt != nil || !u.Enabled || !s.st.enabledChain(u.TenantID) {
			return nil, unauthorized("The account is disabled or does not exist.")
		}
	}
	return &p, nil
}

func (s *Server) handleGetClient(w http.ResponseWriter, _ *http.Request, p *principal, args []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.st.clients[args[0]]; c != nil && s.st.inSubtree(p.TenantID, c.TenantID) {
		v := s.clientView(c)
		v["last_access_at"], v["last_access_from_ip"] = formatTenantTime(s.now()), "127.0.0.1"
		writeJSON(w, http.StatusOK, v)
		return
	}
	if args[0] != s.opts.ClientID {
		writeHTTPErr(w, notFound("Client", args[0]))
		return
	}
	created := formatTenantTime(s.st.tenants[s.spID].CreatedAt)
	writeJSON(w, http.StatusOK, map[string]any{
		"client_id":                  s.opts.ClientID,
		"tenant_id":                  s.spID,
		"client_secret_expires_at":   0,
		"type":                       "api_client",
		"data":                       map[string]any{"client_name": "Simulated API client"},
		"token_endpoint_auth_method": "client_secret_basic",
		"created_at":                 created,
		"created_by":                 s.adminID,
		"last_access_at":             formatTenantTime(s.now()),
		"last_access_from_ip":        "127.0.0.1",
		"status":                     "enabled",
		"redirect_uris":              []string{},
	})
}

func (s *Server) handleUsersMe(w http.ResponseWriter, _ *http.Request, p *principal, _ []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.Kind != principalUser {
		writeHTTPErr(w, forbidden("/users/me is available to users only."))
		return
	}
	u := s.st.users[p.UserID]
	v := s.userView(u, true)
	t := s.st.tenants[u.TenantID]
	v["terms_accepted"] = true
	v["tenant_kind"] = t.Kind
	v["tenant_pricing_model"] = t.PricingMode
	v["brand_id"] = brandUUID
	v["login_totp_time"] = nil
	writeJSON(w, http.StatusOK, v)
}

// externalLoginURL builds the browser login URL for an OTT.
func (s *Server) externalLoginURL(tok, target string) string {
	q := url.Values{"ott": {tok}, "targetURI": {target}}
	return s.baseURL + apiPrefix + "/idp/external-login?" + q.Encode()
}
