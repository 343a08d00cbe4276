package sim

import (
	"fmt"
	"html"
	"net/http"
	"strings"
)

func (s *Server) handleOTT(w http.ResponseWriter, r *http.Request, p *principal, _ []string) {
	body, e := readJSONObject(r, false)
	if e == nil {
		e = checkKeys(body, "purpose", "login", "external_id", "user_id", "audit_data")
	}
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	purpose, _, _ := getString(body, "purpose")
	if purpose != "user_login" && purpose != "verify" {
		writeHTTPErr(w, badRequest("'purpose' must be one of [user_login, verify]"))
		return
	}
	login, _, _ := getString(body, "login")
	ext, _, _ := getString(body, "external_id")
	uid, _, _ := getString(body, "user_id")
	s.mu.Lock()
	defer s.mu.Unlock()
	var u *user
	switch {
	case uid != "":
		u = s.st.users[uid]
	case login != "":
		u = s.userByLogin(login)
	case ext != "":
		for _, x := range s.st.users {
			if x.DeletedAt == nil && x.ExternalID != nil && *x.ExternalID == ext {
				u = x
			}
		}
	default:
		writeHTTPErr(w, badRequest("One of 'login', 'user_id' or 'external_id' is required."))
		return
	}
	if u == nil || u.DeletedAt != nil {
		writeHTTPErr(w, badRequest("The user does not exist."))
		return
	}
	if !s.st.inSubtree(p.TenantID, u.TenantID) {
		writeHTTPErr(w, forbidden("The user is outside the client's tenant subtree."))
		return
	}
	tok := randToken(24)
	s.otts[tok] = &ott{userID: u.ID, expires: s.now().Add(ottTTL)}
	writeJSON(w, http.StatusOK, map[string]any{"ott": tok})
}

// consumeOTT returns the user for a valid OTT and invalidates it. Caller holds s.mu.
func (s *Server) consumeOTT(tok string) *user {
	o := s.otts[tok]
	if o == nil {
		return nil
	}
	delete(s.otts, tok)
	if !s.now().Before(o.expires) {
		return nil
	}
	u := s.st.users[o.userID]
	if u == nil || u.DeletedAt != nil || !u.Enabled || !s.st.enabledChain(u.TenantID) {
		return nil
	}
	return u
}

// newSession issues a cookie session for a user. Caller holds s.mu.
func (s *Server) newSession(w http.ResponseWriter, u *user) {
	tok := randToken(24)
	exp := s.now().Add(s.opts.TokenTTL)
	s.tokens[tok] = &session{p: principal{Kind: principalUser, TenantID: u.TenantID, UserID: u.ID}, expires: exp}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: tok, Path: "/", HttpOnly: true,
		MaxAge: int(s.opts.TokenTTL.Seconds())})
}

func (s *Server) handleOTTLogin(w http.ResponseWriter, r *http.Request, _ *principal, _ []string) {
	body, e := readJSONObject(r, false)
	if e == nil {
		e = checkKeys(body, "ott")
	}
	if e != nil {
		writeHTTPErr(w, e)
		return
	}
	tok, _, _ := getString(body, "ott")
	if tok == "" {
		writeHTTPErr(w, badRequest("'ott' is a required property"))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.consumeOTT(tok)
	if u == nil {
		writeHTTPErr(w, unauthorized("The one-time token is invalid, expired or already used."))
		return
	}
	s.newSession(w, u)
	writeJSON(w, http.StatusOK, s.userView(u, false))
}

const fragmentPage = `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Login</title></head><body>` +
	`<script>var h=window.location.hash.substring(1);if(h){window.location.replace(window.location.pathname+"?"+h);}` +
	`else{document.body.textContent="Missing one-time token.";}</script></body></html>`

func htmlPage(w http.ResponseWriter, status int, title, body string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, `<!DOCTYPE html><html><head><meta charset="utf-8"><title>%s</title></head><body>%s</body></html>`,
		html.EscapeString(title), body)
}

// handleExternalLogin serves the browser login page for an OTT. The legacy
// form passes ott and targetURI in the URL fragment, which the server never
// sees: the page then re-requests itself with the fragment as the query.
func (s *Server) handleExternalLogin(w http.ResponseWriter, r *http.Request, _ *principal, _ []string) {
	q := r.URL.Query()
	tok := q.Get("ott")
	if tok == "" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(fragmentPage))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.consumeOTT(tok)
	if u == nil {
		htmlPage(w, http.StatusUnauthorized, "Login failed",
			"<h1>Login failed</h1><p>The one-time token is invalid, expired or already used.</p>")
		return
	}
	s.newSession(w, u)
	target := q.Get("targetURI")
	link := ""
	if target != "" && (strings.HasPrefix(target, "http://") || strings.HasPrefix(target, "https://") || strings.HasPrefix(target, "/")) {
		link = fmt.Sprintf(`<p><a id="target" href="%s">Continue to %s</a></p>`, html.EscapeString(target), html.EscapeString(target))
	}
	htmlPage(w, http.StatusOK, "Logged in",
		fmt.Sprintf(`<h1 id="login">Logged in as %s</h1><p>User id: %s</p>%s`, html.EscapeString(u.Login), u.ID, link))
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request, _ *principal, _ []string) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		s.mu.Lock()
		delete(s.tokens, c.Value)
		s.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1})
	htmlPage(w, http.StatusOK, "Logged out", "<h1>Logged out</h1>")
}
